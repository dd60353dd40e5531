//! What every handler shares: settings, the schema registry, the adapter
//! client, the job submitter, the breakers, the credential verifier, the rate
//! limiter, the throttle of failed authentications and the audit sink. Built once in `startup` and handed to each
//! worker as `web::Data<AppState>`.

use crate::audit::AuditSink;
use crate::auth_failures::AuthFailures;
use crate::circuit_breaker::{Breakers, CircuitBreaker};
use crate::directory::Directory;
use crate::jobs::Jobs;
use crate::rate_limit::RateLimiter;
use crate::settings::GatewaySettings;
use crate::throttle::AuthThrottle;
use connections::{ConnectionStore, CredentialVerifier};
use state_store::StateStore;
use std::sync::Arc;

/// The name of the breaker that guards gRPC reads.
pub const ADAPTER_BREAKER: &str = "adapter";

/// Shared state of the gateway.
#[derive(Debug)]
pub struct AppState {
    pub settings: GatewaySettings,
    pub schemas: scim::Schemas,
    pub directory: Directory,
    /// The adapter's `Admin` service (resync, held removals, preflight).
    pub adapter_admin: adapter_api::AdminClient,
    pub jobs: Jobs,
    pub breakers: Breakers,
    pub verifier: CredentialVerifier,
    /// Bearer JWTs of the connections' issuers.
    pub jwt: crate::jwt::JwtVerifier,
    pub connections: ConnectionStore,
    pub state: Arc<dyn StateStore>,
    pub rate_limiter: RateLimiter,
    pub audit: AuditSink,
    /// Failed authentications per client address and identifier.
    pub throttle: AuthThrottle,
    /// The summaries of failed authentications on their way to the audit trail.
    pub auth_failures: Arc<AuthFailures>,
    /// The SCIM calls this replica answered lately, for the console.
    pub calls: crate::console::CallFeed,
    /// The console's reader of the audit service.
    pub audit_reader: crate::console::audit_reader::AuditReader,
    /// The instances offering console sign-in, as the adapter said a moment ago.
    pub console_sign_ins: crate::console::SignInInstances,
    /// The bound on the console's sign-in password hashes (as many as the verifier's).
    pub console_password_checks: crate::console::users::PasswordChecks,
}

impl AppState {
    /// The breaker guarding writes to a Secret Server instance.
    pub fn instance_breaker(&self, instance: &str) -> Arc<CircuitBreaker> {
        self.breakers.get(&format!("instance:{instance}"))
    }
}
