//! The `Admin` gRPC service: what the gateway's admin API asks of the adapter, which alone holds
//! the Secret Server credentials and the read model. Start and follow a resync, confirm the
//! removals one held back, run the preflight ([`crate::doctor`](mod@crate::doctor)) or its quick form,
//! and check a Secret Server account asking to sign in to the web console ([`crate::console_account`]).
//!
//! It sits behind the same interceptor as the `Directory` service ([`crate::grpc_auth`]): no call
//! reaches it without the shared secret (or a verified client certificate). Every call names its
//! instance (unknown: `NOT_FOUND`), so that with several replicas a call can be routed to the one
//! that owns the instance. The administrator's identity travels in the calls that change
//! something, for the log; the gateway records the audit event.

use crate::core::Core;
use crate::instance::Instance;
use crate::resync::ConfirmError;
use proto::admin::v1 as pb;
use service_error::{ErrorKind, ServiceError};
use std::sync::Arc;
use tonic::{Request, Response, Status};

/// The `Admin` service.
#[derive(Debug, Clone)]
pub struct AdminService {
    core: Arc<Core>,
}

impl AdminService {
    pub fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    fn instance(&self, name: &str) -> Result<&Arc<Instance>, Status> {
        self.core
            .instance(name)
            .ok_or_else(|| Status::from(ServiceError::not_found(format!("no Secret Server instance named {name:?}"))))
    }
}

#[tonic::async_trait]
impl pb::admin_server::Admin for AdminService {
    async fn start_resync(
        &self,
        request: Request<pb::StartResyncRequest>,
    ) -> Result<Response<pb::ResyncState>, Status> {
        let request = request.into_inner();
        let instance = self.instance(&request.instance)?;
        let state = instance.start_resync();
        tracing::info!(instance = %instance.name, actor = %request.actor, already_running = state.already_running,
            "resync asked for by an administrator");
        Ok(Response::new(state.into()))
    }

    async fn get_resync(&self, request: Request<pb::GetResyncRequest>) -> Result<Response<pb::ResyncState>, Status> {
        let instance = self.instance(&request.get_ref().instance)?;
        Ok(Response::new(instance.resync.state(&instance.name).into()))
    }

    async fn confirm_removals(
        &self,
        request: Request<pb::ConfirmRemovalsRequest>,
    ) -> Result<Response<pb::ResyncState>, Status> {
        let request = request.into_inner();
        let instance = self.instance(&request.instance)?;
        let held = instance.resync.confirm(&request.report_id, request.count).map_err(|e| {
            let kind = match e {
                ConfirmError::NothingHeld | ConfirmError::OtherReport { .. } => ErrorKind::FailedPrecondition,
            };
            Status::from(ServiceError::new(kind, e.to_string()))
        })?;
        tracing::warn!(instance = %instance.name, actor = %request.actor, report = %held.report_id,
            removals = held.ids.len(), "an administrator confirmed the removals a resync held back");
        Ok(Response::new(instance.start_resync().into()))
    }

    async fn doctor(&self, request: Request<pb::DoctorRequest>) -> Result<Response<pb::DoctorReport>, Status> {
        let request = request.into_inner();
        let instance = self.instance(&request.instance)?;
        let began = std::time::Instant::now();
        let report = if request.quick {
            crate::doctor::quick_test(&instance.name, &instance.client).await
        } else {
            crate::doctor::doctor_with(&instance.name, &instance.client).await
        };
        Ok(Response::new(report.to_api(began.elapsed()).into()))
    }

    async fn list_console_sign_ins(
        &self,
        _request: Request<pb::ListConsoleSignInsRequest>,
    ) -> Result<Response<pb::ConsoleSignIns>, Status> {
        let mut instances: Vec<String> =
            self.core.instances.values().filter(|i| i.console().is_some()).map(|i| i.name.clone()).collect();
        instances.sort();
        Ok(Response::new(pb::ConsoleSignIns { instances }))
    }

    async fn verify_console_account(
        &self,
        request: Request<pb::VerifyConsoleAccountRequest>,
    ) -> Result<Response<pb::ConsoleAccountVerdict>, Status> {
        let request = request.into_inner();
        let instance = self.instance(&request.instance)?;
        let Some((group, config)) = instance.console() else {
            return Err(Status::from(ServiceError::new(
                ErrorKind::FailedPrecondition,
                format!("Secret Server instance {:?} has no console group: its accounts cannot sign in", instance.name),
            )));
        };
        let account = crate::console_account::ConsoleAccount::from(request);
        let (user, domain) = (account.username.clone(), account.domain.clone().unwrap_or_default());
        // The API account and the users listed as protected never sign in to the console, and
        // Secret Server is not asked: wrong passwords tried against them would count towards
        // Secret Server's lockout of the account the connector itself runs as.
        let verdict = match instance.protection.user_by_name(&user) {
            Some(why) => crate::console_account::ConsoleAccountVerdict::Refused {
                reason: format!("{why} never signs in to the console (Secret Server was not asked)"),
            },
            None => crate::console_account::verify(config, group, account).await,
        };
        // The instance and the account only: never the password or a token.
        match &verdict {
            crate::console_account::ConsoleAccountVerdict::Allowed { .. } => {
                tracing::info!(instance = %instance.name, user = %user, domain = %domain, "console account admitted");
            }
            crate::console_account::ConsoleAccountVerdict::Refused { reason } => {
                tracing::info!(instance = %instance.name, user = %user, domain = %domain, reason = %reason,
                    "console account refused");
            }
            crate::console_account::ConsoleAccountVerdict::Unreachable { reason } => {
                tracing::warn!(instance = %instance.name, user = %user, reason = %reason,
                    "console account not checked: Secret Server unreachable");
            }
        }
        Ok(Response::new(verdict.into()))
    }
}
