//! A typed client of the Secret Server REST API v1, for the surface the
//! connector needs: users, groups and their members, folders, folder and
//! secret permissions, secret *metadata*, and who holds which role (read
//! only: it has no call that changes a role assignment). The adapter's provisioning
//! workers and read-model loader call Secret Server only through it, and its
//! contract tests run it against the emulator (`secret-server-sim`).
//!
//! What it takes care of, so that callers do not:
//! - the token: password grant (with the optional AD domain), cached, renewed
//!   before expiry (with the refresh token when offered), renewed once after
//!   a `403`; concurrent callers share one token request;
//! - paging: every search is a [`futures::Stream`] over all pages;
//! - errors: [`ClientError`] classes (bad request, not found, refused
//!   credentials, rate limited, server error, timeout, connection failure,
//!   HTML instead of JSON) that say what Secret Server answered; it knows
//!   nothing of SCIM, and the adapter maps them to the connector's one error
//!   table at its edge;
//! - reliability: a per-request timeout, a bound on requests in flight that
//!   adapts to what the server shows (latency, `503`, `429`, timeouts; see
//!   `limit.rs`), and retries with exponential backoff and full jitter that
//!   honour `Retry-After` and never repeat a `POST` that may have been applied, and a circuit
//!   breaker that fails calls at once while the server is not answering (see `breaker.rs`);
//! - telemetry: a span per call named by route template, W3C trace context
//!   in the outgoing headers, and `scim_secret_server_*` metrics.
//!
//! By construction it has no call that returns a secret's field values:
//! requests are addressed through a closed set of route templates with
//! integer ids (see `route.rs`), and the secrets routes are the metadata
//! ones only. `tests/no_secret_values.rs` and the contract suite prove it.

mod breaker;
mod classify;
mod client;
mod config;
mod endpoints;
mod error;
pub mod fence;
mod limit;
mod paging;
pub mod platform;
mod query;
mod retry;
mod route;
pub mod telemetry;
mod token;

pub use breaker::CIRCUIT_OPEN;
pub use client::SecretServerClient;
pub use config::{AdaptiveConcurrency, CircuitBreaker, ClientConfig, RetryPolicy, SignIn};
pub use error::ClientError;
pub use limit::{CONCURRENCY_LIMIT, IN_FLIGHT};
pub use query::{
    FolderPermissionQuery, FolderQuery, GroupQuery, RoleQuery, SecretPermissionQuery, SecretQuery, UserQuery,
};
