//! The adapter's `Admin` gRPC service: its domain model (a resync's state and the removals it
//! held back, a preflight report), converted to and from the generated types here, and
//! [`AdminClient`], its client. The gateway's admin API serves these types as JSON.
//!
//! The client presents the same credentials as [`crate::DirectoryClient`] (the shared secret, or
//! the gateway's certificate): the adapter's interceptor lets no admin call through without them.
//! Admin calls are rare; each makes its channel on the runtime it runs on, and a preflight may
//! take a while, so the client's timeout is its own.

use crate::client::{AdapterAuth, Credentials};
use proto::admin::v1 as pb;
use proto::admin::v1::admin_client::AdminClient as GrpcClient;
use serde::{Deserialize, Serialize};
use service_error::ServiceError;
use std::collections::BTreeMap;
use std::time::Duration;
use time::OffsetDateTime;
use tonic::transport::Endpoint;

/// How a resync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResyncOutcome {
    Succeeded,
    Failed,
    /// The read model was kept: the read missed more records than a resync may drop.
    RemovalsHeld,
}

/// Removals a resync held back, waiting for the next resync to agree or an administrator to
/// confirm them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeldRemovals {
    /// Names exactly this set of records: a confirmation must name it.
    pub report_id: String,
    pub count: u64,
    /// Records the read model held when they were found missing.
    pub held: u64,
    /// Some of them, as `<ResourceType>/<id>`.
    pub sample: Vec<String>,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub found_at: Option<OffsetDateTime>,
    /// An administrator confirmed them; the resync that applies them runs or is next.
    pub confirmed: bool,
}

/// An instance's resync, as `GET /admin/v1/secret-servers/{name}/resync` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResyncState {
    pub instance: String,
    /// `running` or `idle`.
    pub state: String,
    /// What the running resync is doing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Records read from Secret Server by the last (or running) resync, per type.
    pub read: BTreeMap<String, u64>,
    #[serde(with = "time::serde::rfc3339::option", default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option", default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<OffsetDateTime>,
    /// How the last finished resync ended (absent before the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<ResyncOutcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_removals: Option<HeldRemovals>,
    pub added: u64,
    pub changed: u64,
    pub removed: u64,
    /// A start found this one running and answered it instead of starting another.
    #[serde(default)]
    pub already_running: bool,
}

impl ResyncState {
    /// Whether a resync is running.
    pub fn is_running(&self) -> bool {
        self.state == "running"
    }
}

/// How one preflight check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckOutcome {
    Pass,
    Warn,
    Fail,
}

/// One preflight check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorCheck {
    pub name: String,
    pub outcome: CheckOutcome,
    pub detail: String,
}

/// Whether a SCIM feature will work, and what to grant when it will not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorFeature {
    pub feature: String,
    pub required: bool,
    pub works: bool,
    pub grant: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

/// A preflight of one Secret Server instance, run in the adapter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DoctorReport {
    pub instance: String,
    pub url: String,
    /// No check failed and every required feature works.
    pub passed: bool,
    pub checks: Vec<DoctorCheck>,
    pub features: Vec<DoctorFeature>,
    /// The role permissions to grant for every feature to work.
    pub missing_permissions: Vec<String>,
    pub elapsed_ms: u64,
}

impl DoctorReport {
    /// A report from its checks and features (`passed` and `missing_permissions` follow from them).
    pub fn new(
        instance: String,
        url: String,
        checks: Vec<DoctorCheck>,
        features: Vec<DoctorFeature>,
        elapsed_ms: u64,
    ) -> Self {
        let passed = !checks.iter().any(|c| c.outcome == CheckOutcome::Fail)
            && !features.is_empty()
            && features.iter().all(|f| !f.required || f.works);
        let mut missing: Vec<String> = features.iter().flat_map(|f| f.grant.iter().cloned()).collect();
        missing.sort_unstable();
        missing.dedup();
        Self { instance, url, passed, checks, features, missing_permissions: missing, elapsed_ms }
    }
}

fn millis(at: Option<OffsetDateTime>) -> i64 {
    at.map_or(0, |at| i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

fn from_millis(ms: i64) -> Option<OffsetDateTime> {
    (ms > 0).then(|| OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()).flatten()
}

fn non_empty(text: String) -> Option<String> {
    Some(text).filter(|t| !t.is_empty())
}

impl From<ResyncState> for pb::ResyncState {
    fn from(s: ResyncState) -> Self {
        let running = s.is_running();
        Self {
            instance: s.instance,
            running,
            phase: s.phase.unwrap_or_default(),
            read: s.read.into_iter().map(|(resource_type, count)| pb::RecordCount { resource_type, count }).collect(),
            started_at_ms: millis(s.started_at),
            finished_at_ms: millis(s.finished_at),
            outcome: match s.outcome {
                None => pb::ResyncOutcome::Unspecified,
                Some(ResyncOutcome::Succeeded) => pb::ResyncOutcome::Succeeded,
                Some(ResyncOutcome::Failed) => pb::ResyncOutcome::Failed,
                Some(ResyncOutcome::RemovalsHeld) => pb::ResyncOutcome::RemovalsHeld,
            } as i32,
            error: s.error.unwrap_or_default(),
            held: s.held_removals.map(|h| pb::HeldRemovals {
                report_id: h.report_id,
                count: h.count,
                held: h.held,
                sample: h.sample,
                found_at_ms: millis(h.found_at),
                confirmed: h.confirmed,
            }),
            added: s.added,
            changed: s.changed,
            removed: s.removed,
            already_running: s.already_running,
        }
    }
}

impl TryFrom<pb::ResyncState> for ResyncState {
    type Error = ServiceError;

    fn try_from(s: pb::ResyncState) -> Result<Self, Self::Error> {
        let outcome = match pb::ResyncOutcome::try_from(s.outcome) {
            Ok(pb::ResyncOutcome::Unspecified) => None,
            Ok(pb::ResyncOutcome::Succeeded) => Some(ResyncOutcome::Succeeded),
            Ok(pb::ResyncOutcome::Failed) => Some(ResyncOutcome::Failed),
            Ok(pb::ResyncOutcome::RemovalsHeld) => Some(ResyncOutcome::RemovalsHeld),
            Err(_) => return Err(ServiceError::internal(format!("unknown resync outcome {}", s.outcome))),
        };
        Ok(Self {
            instance: s.instance,
            state: if s.running { "running" } else { "idle" }.to_owned(),
            phase: non_empty(s.phase),
            read: s.read.into_iter().map(|c| (c.resource_type, c.count)).collect(),
            started_at: from_millis(s.started_at_ms),
            finished_at: from_millis(s.finished_at_ms),
            outcome,
            error: non_empty(s.error),
            held_removals: s.held.map(|h| HeldRemovals {
                report_id: h.report_id,
                count: h.count,
                held: h.held,
                sample: h.sample,
                found_at: from_millis(h.found_at_ms),
                confirmed: h.confirmed,
            }),
            added: s.added,
            changed: s.changed,
            removed: s.removed,
            already_running: s.already_running,
        })
    }
}

impl From<DoctorReport> for pb::DoctorReport {
    fn from(r: DoctorReport) -> Self {
        Self {
            instance: r.instance,
            url: r.url,
            checks: r
                .checks
                .into_iter()
                .map(|c| pb::DoctorCheck {
                    name: c.name,
                    outcome: match c.outcome {
                        CheckOutcome::Pass => pb::CheckOutcome::Pass,
                        CheckOutcome::Warn => pb::CheckOutcome::Warn,
                        CheckOutcome::Fail => pb::CheckOutcome::Fail,
                    } as i32,
                    detail: c.detail,
                })
                .collect(),
            features: r
                .features
                .into_iter()
                .map(|f| pb::DoctorFeature { feature: f.feature, required: f.required, grant: f.grant, note: f.note })
                .collect(),
            elapsed_ms: r.elapsed_ms,
        }
    }
}

impl TryFrom<pb::DoctorReport> for DoctorReport {
    type Error = ServiceError;

    fn try_from(r: pb::DoctorReport) -> Result<Self, Self::Error> {
        let checks = r
            .checks
            .into_iter()
            .map(|c| {
                let outcome = match pb::CheckOutcome::try_from(c.outcome) {
                    Ok(pb::CheckOutcome::Pass) => CheckOutcome::Pass,
                    Ok(pb::CheckOutcome::Warn) => CheckOutcome::Warn,
                    Ok(pb::CheckOutcome::Fail) => CheckOutcome::Fail,
                    _ => return Err(ServiceError::internal(format!("check {:?} has no outcome", c.name))),
                };
                Ok(DoctorCheck { name: c.name, outcome, detail: c.detail })
            })
            .collect::<Result<_, _>>()?;
        let features = r
            .features
            .into_iter()
            .map(|f| DoctorFeature {
                works: f.grant.is_empty(),
                feature: f.feature,
                required: f.required,
                grant: f.grant,
                note: f.note,
            })
            .collect();
        Ok(Self::new(r.instance, r.url, checks, features, r.elapsed_ms))
    }
}

/// A Secret Server account asking to sign in to the console. No `Debug` that shows the password.
#[derive(Clone)]
pub struct ConsoleAccount {
    pub username: String,
    pub password: secrecy::SecretString,
    /// Its Active Directory domain; `None` for a local account.
    pub domain: Option<String>,
}

impl std::fmt::Debug for ConsoleAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleAccount")
            .field("username", &self.username)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

impl ConsoleAccount {
    /// The account as the request carries it (the password exposed only into the message).
    fn into_request(self, instance: &str) -> pb::VerifyConsoleAccountRequest {
        pb::VerifyConsoleAccountRequest {
            instance: instance.to_owned(),
            username: self.username,
            password: secrecy::ExposeSecret::expose_secret(&self.password).to_owned(),
            domain: self.domain.unwrap_or_default(),
        }
    }
}

impl From<pb::VerifyConsoleAccountRequest> for ConsoleAccount {
    fn from(r: pb::VerifyConsoleAccountRequest) -> Self {
        let domain = Some(r.domain.trim().to_owned()).filter(|d| !d.is_empty());
        Self { username: r.username.trim().to_owned(), password: secrecy::SecretString::from(r.password), domain }
    }
}

/// What the adapter found of a Secret Server account asking to sign in to the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum ConsoleAccountVerdict {
    /// A member of the instance's console group.
    Allowed { user_name: String, display_name: String },
    /// The credentials were refused, or the account is no member: `reason` says which (for the
    /// audit log; the console shows one message for every refusal).
    Refused { reason: String },
    /// Secret Server could not be reached, or failed.
    Unreachable { reason: String },
}

impl From<ConsoleAccountVerdict> for pb::ConsoleAccountVerdict {
    fn from(v: ConsoleAccountVerdict) -> Self {
        let (outcome, user_name, display_name, reason) = match v {
            ConsoleAccountVerdict::Allowed { user_name, display_name } => {
                (pb::ConsoleAccountOutcome::Allowed, user_name, display_name, String::new())
            }
            ConsoleAccountVerdict::Refused { reason } => {
                (pb::ConsoleAccountOutcome::Refused, String::new(), String::new(), reason)
            }
            ConsoleAccountVerdict::Unreachable { reason } => {
                (pb::ConsoleAccountOutcome::Unreachable, String::new(), String::new(), reason)
            }
        };
        Self { outcome: outcome.into(), user_name, display_name, reason }
    }
}

impl TryFrom<pb::ConsoleAccountVerdict> for ConsoleAccountVerdict {
    type Error = ServiceError;

    fn try_from(v: pb::ConsoleAccountVerdict) -> Result<Self, Self::Error> {
        match pb::ConsoleAccountOutcome::try_from(v.outcome) {
            Ok(pb::ConsoleAccountOutcome::Allowed) => {
                Ok(Self::Allowed { user_name: v.user_name, display_name: v.display_name })
            }
            Ok(pb::ConsoleAccountOutcome::Refused) => Ok(Self::Refused { reason: v.reason }),
            Ok(pb::ConsoleAccountOutcome::Unreachable) => Ok(Self::Unreachable { reason: v.reason }),
            _ => Err(ServiceError::internal(format!("unknown console account outcome {}", v.outcome))),
        }
    }
}

/// A client of the adapter's `Admin` service.
#[derive(Debug, Clone)]
pub struct AdminClient {
    endpoint: Endpoint,
    credentials: Credentials,
    tls: Option<transport_tls::GrpcClientTls>,
}

impl AdminClient {
    /// A client of the adapter at `url`; `timeout` bounds every call (a preflight makes a dozen
    /// calls to Secret Server).
    ///
    /// # Errors
    /// As [`crate::DirectoryClient::new`].
    pub fn new(
        url: &str,
        connect_timeout: Duration,
        timeout: Duration,
        auth: AdapterAuth,
    ) -> Result<Self, ServiceError> {
        let (endpoint, credentials, tls) = crate::client::endpoint(url, connect_timeout, timeout, auth)?;
        Ok(Self { endpoint, credentials, tls })
    }

    fn client(
        &self,
    ) -> GrpcClient<tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Credentials>> {
        let channel = match &self.tls {
            Some(tls) => self.endpoint.connect_with_connector_lazy(tls.connector()),
            None => self.endpoint.connect_lazy(),
        };
        GrpcClient::with_interceptor(channel, self.credentials.clone())
    }

    /// Starts a resync of `instance` (or answers the one running).
    ///
    /// # Errors
    /// `NotFound` for an instance the adapter does not serve; `Unavailable` when it cannot be reached.
    pub async fn start_resync(&self, instance: &str, actor: &str) -> Result<ResyncState, ServiceError> {
        let request = pb::StartResyncRequest { instance: instance.to_owned(), actor: actor.to_owned() };
        ResyncState::try_from(self.client().start_resync(request).await?.into_inner())
    }

    /// The resync state of `instance`.
    ///
    /// # Errors
    /// As [`AdminClient::start_resync`].
    pub async fn resync(&self, instance: &str) -> Result<ResyncState, ServiceError> {
        let request = pb::GetResyncRequest { instance: instance.to_owned() };
        ResyncState::try_from(self.client().get_resync(request).await?.into_inner())
    }

    /// Confirms the removals of the held report `report_id` (and `count`, when given).
    ///
    /// # Errors
    /// `FailedPrecondition` when that report is not the one held; as [`AdminClient::start_resync`].
    pub async fn confirm_removals(
        &self,
        instance: &str,
        report_id: &str,
        count: Option<u64>,
        actor: &str,
    ) -> Result<ResyncState, ServiceError> {
        let request = pb::ConfirmRemovalsRequest {
            instance: instance.to_owned(),
            report_id: report_id.to_owned(),
            count,
            actor: actor.to_owned(),
        };
        ResyncState::try_from(self.client().confirm_removals(request).await?.into_inner())
    }

    /// The preflight of `instance`; `quick` for reachability, TLS, sign-in and one read only.
    ///
    /// # Errors
    /// As [`AdminClient::start_resync`].
    pub async fn doctor(&self, instance: &str, quick: bool) -> Result<DoctorReport, ServiceError> {
        let request = pb::DoctorRequest { instance: instance.to_owned(), quick };
        DoctorReport::try_from(self.client().doctor(request).await?.into_inner())
    }

    /// The instances whose accounts may sign in to the console.
    ///
    /// # Errors
    /// `Unavailable` when the adapter cannot be reached.
    pub async fn console_sign_ins(&self) -> Result<Vec<String>, ServiceError> {
        Ok(self.client().list_console_sign_ins(pb::ListConsoleSignInsRequest {}).await?.into_inner().instances)
    }

    /// Checks `account` for console sign-in with `instance`.
    ///
    /// # Errors
    /// `FailedPrecondition` when the instance has no console group; as [`AdminClient::start_resync`].
    pub async fn verify_console_account(
        &self,
        instance: &str,
        account: ConsoleAccount,
    ) -> Result<ConsoleAccountVerdict, ServiceError> {
        let request = account.into_request(instance);
        ConsoleAccountVerdict::try_from(self.client().verify_console_account(request).await?.into_inner())
    }
}
