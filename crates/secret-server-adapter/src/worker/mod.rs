//! The provisioning worker: the queue's [`JobHandler`]. It decodes a job (the `adapter-api` job
//! contract), resolves its caller, applies the change to Secret Server through the client, writes
//! it through to the read model and the attribute store, emits the audit event and hands back the
//! job's result.
//!
//! Outcomes: a change applied → `Succeeded`; the client's mistake or a rule of Secret Server →
//! `Failed` with the error the SCIM client should see; Secret Server (or Redis) unavailable →
//! `Retry`, until the queue dead-letters the job.
//!
//! Every operation is idempotent, because jobs are delivered at least once: creates record an
//! intent first and adopt what they made; member and permission changes look at the current state
//! first; deletes remember which job made them.

mod containers;
mod groups;
mod guard;
mod permissions;
pub mod precondition;
mod roles;
mod unseen;
mod users;

use crate::core::{Caller, Core};
use crate::instance::Instance;
use crate::intents::{Earlier, Intent, MemberIds};
use crate::mapping::RenderOptions;
use crate::metrics;
use adapter_api::job::encode_failure;
use adapter_api::{Operation, Resource, Written};
use async_trait::async_trait;
use audit_events::{ChangeRecord, MemberChanges};
use bytes::Bytes;
use connections::scope::{self, Action};
use job_queue::{Disposition, Job, JobHandler, JobLease};
use scim::{ResourceKind, Schemas, ScimError};
use secret_server_client::{ClientError, SecretServerClient};
use serde_json::Value;
use service_error::{ErrorKind, ServiceError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Why a job did not apply.
#[derive(Debug)]
pub(crate) enum JobError {
    /// The SCIM client's mistake or a Secret Server rule: report it, do not retry.
    Permanent(ServiceError),
    /// Secret Server or a store is unavailable: retry later.
    Transient { error: String, after: Option<Duration> },
}

impl From<ServiceError> for JobError {
    fn from(e: ServiceError) -> Self {
        if e.kind.is_transient() {
            let after = e.retry_after.map(|s| Duration::from_secs(u64::from(s)));
            JobError::Transient { error: e.to_string(), after }
        } else {
            JobError::Permanent(e)
        }
    }
}

impl From<ScimError> for JobError {
    fn from(e: ScimError) -> Self {
        JobError::from(ServiceError::from(e))
    }
}

impl From<ClientError> for JobError {
    fn from(e: ClientError) -> Self {
        let transient = e.is_transient();
        let after = e.retry_after();
        let text = e.to_string();
        let service = crate::client_error::service_error(e);
        // A refused API account is not the client's fault and may be fixed: retry it too.
        if transient || service.kind.is_transient() {
            JobError::Transient { error: text, after }
        } else {
            JobError::Permanent(service)
        }
    }
}

impl From<crate::instance::ReadError> for JobError {
    fn from(e: crate::instance::ReadError) -> Self {
        match e {
            crate::instance::ReadError::Client(e) => e.into(),
            crate::instance::ReadError::Store(e) => e.into(),
        }
    }
}

impl From<state_store::StoreError> for JobError {
    fn from(e: state_store::StoreError) -> Self {
        JobError::Transient { error: format!("state store: {e}"), after: None }
    }
}

pub(crate) type JobResult<T> = Result<T, JobError>;

/// A `400 invalidValue`.
pub(crate) fn invalid_value(detail: impl Into<String>) -> JobError {
    JobError::Permanent(ServiceError::invalid_argument(detail).with_scim_type(scim::ScimType::InvalidValue))
}

/// A `409 uniqueness`.
pub(crate) fn taken(detail: impl Into<String>) -> JobError {
    JobError::Permanent(ServiceError::new(ErrorKind::AlreadyExists, detail).with_scim_type(scim::ScimType::Uniqueness))
}

/// A `404` for `kind` `id`.
pub(crate) fn not_found(kind: ResourceKind, id: &str) -> JobError {
    JobError::Permanent(ServiceError::from(scope::not_visible(kind, id)))
}

/// One job in progress.
pub(crate) struct Ctx<'a> {
    pub core: &'a Core,
    pub caller: &'a Caller,
    pub req: &'a adapter_api::Job,
    pub job_id: &'a str,
    /// This attempt's hold on the job, checked before each Secret Server call.
    pub lease: &'a JobLease,
    /// Whether this is the job's first attempt (see [`first_attempt`]).
    pub first_attempt: bool,
    /// State-store writes deferred to the batch that records the job done (see [`Ctx::defer`]).
    pub deferred: std::sync::Mutex<Vec<state_store::Write>>,
    /// The job's result, when it was rendered as the change was applied: a change that carried
    /// the changes queued behind it along (see `groups::burst`) answers with the resource as its own
    /// change left it, before theirs.
    pub answer: OnceLock<Bytes>,
    /// The members this attempt added to and removed from an existing group in Secret Server, so
    /// that an attempt that fails after changing some says which (see [`Ctx::changed_members`]).
    pub partial: std::sync::Mutex<MemberIds>,
}

impl Ctx<'_> {
    /// Notes members this attempt added to and removed from the job's group in Secret Server.
    /// Should the attempt fail after, its audit event lists them (and the other replicas apply
    /// them): a later attempt finds them done and its own event would not show them.
    pub(crate) fn changed_members(&self, added: &[i64], removed: &[i64]) {
        let mut partial = self.partial.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        partial.added.extend_from_slice(added);
        partial.removed.extend_from_slice(removed);
    }

    /// Forgets what [`Ctx::changed_members`] noted.
    pub(crate) fn forget_changed_members(&self) {
        drop(self.take_changed_members());
    }

    fn take_changed_members(&self) -> MemberIds {
        std::mem::take(&mut *self.partial.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// What [`Ctx::changed_members`] noted, for a failed attempt's event. None for a create (its
    /// group is deleted again, or a later attempt adds every member again and says so), nor for
    /// an attempt that lost its lease (its event could come after a newer attempt's, and replicas
    /// apply member changes in the order of the events).
    fn take_partial(&self) -> MemberIds {
        let mut partial = self.take_changed_members();
        if self.req.operation() == Operation::Create || !self.lease.is_held() {
            return MemberIds::NONE;
        }
        for ids in [&mut partial.added, &mut partial.removed] {
            ids.sort_unstable();
            ids.dedup();
        }
        partial
    }

    /// Defers `writes` to one batch with the job's done marker, all or none, once the job applied
    /// its change (on its own, before the outcome is recorded, when the job fails): one round trip
    /// to Redis instead of one per write. For writes that only a later attempt of this job or
    /// another replica reads, which both come after the batch: a settled intent (until it is
    /// written the intent stays unsettled, which a later attempt handles as the window between a
    /// call and its answer), a resource's attributes and meta (the read model of this process
    /// holds them already; other replicas read them after the job's audit event, published after
    /// the batch).
    pub(crate) fn defer(&self, writes: impl IntoIterator<Item = state_store::Write>) {
        self.deferred.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(writes);
    }

    fn take_deferred(&self) -> Vec<state_store::Write> {
        std::mem::take(&mut *self.deferred.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

/// Whether `job` is on its first attempt: then no earlier attempt can have left an intent or a
/// done marker under its id, and the attempt skips reading them (two state-store round trips on
/// every create), but for a group's member change, whose marker the change ahead of it may have
/// left ([`may_be_carried`]). The queue counts every attempt it starts, those whose worker was lost, released
/// or failed included, and hands attempt 1 out once (a repeated take of the same delivery goes to
/// the same worker, which never saw the first); intents are keyed by the job id, which no other
/// submission shares.
fn first_attempt(job: &Job) -> bool {
    job.attempt <= 1
}

/// Whether a job may have been applied by another job before it ran: a member change of a group
/// is carried along by the change ahead of it in the queue (see `groups::burst`), which leaves its done
/// marker. Such a job reads its marker on its first attempt too (one state-store read).
fn may_be_carried(req: &adapter_api::Job) -> bool {
    req.kind() == ResourceKind::Group && req.operation() == Operation::Patch && req.if_match().is_none()
}

/// The error of an attempt that stopped because it lost its lease.
const LEASE_LOST: &str = "this attempt lost the job's lease; another attempt runs the job";

impl Ctx<'_> {
    /// The caller's Secret Server instance.
    pub(crate) fn instance(&self) -> &Instance {
        &self.caller.instance
    }

    /// The client of the caller's instance, for one call: refused once this attempt has lost its
    /// lease, so that a stale attempt makes no further call to Secret Server while the attempt
    /// that replaced it runs (two attempts for one resource never interleave their calls).
    pub(crate) fn client(&self) -> JobResult<&SecretServerClient> {
        self.check_lease()?;
        Ok(&self.caller.instance.client)
    }

    /// `Transient` once this attempt has lost its lease: its outcome would be discarded, and
    /// another attempt may be running the job.
    pub(crate) fn check_lease(&self) -> JobResult<()> {
        if self.lease.is_held() {
            return Ok(());
        }
        metrics::lease_lost();
        tracing::warn!(job_id = %self.job_id, "the job's lease is lost: this attempt stops before its next Secret Server call");
        Err(JobError::Transient { error: LEASE_LOST.to_owned(), after: None })
    }

    /// The SCIM schemas.
    pub(crate) fn schemas(&self) -> &Schemas {
        &self.core.schemas
    }

    /// The target id of a replace, patch or delete; `404` when it is not one we issued (another
    /// spelling of an id included: see `adapter_api::id`).
    pub(crate) fn target_id(&self) -> JobResult<i64> {
        adapter_api::id::parse(self.req.resource_id()).ok_or_else(|| not_found(self.req.kind(), self.req.resource_id()))
    }

    /// The resource as the caller sees it now (all default attributes).
    pub(crate) fn render(&self, kind: ResourceKind, id: i64, options: RenderOptions) -> Option<Value> {
        self.instance().model.read(|state| self.caller.view(state).render(kind, id, options))
    }

    /// Whether the caller can see resource `id` of `kind`.
    pub(crate) fn visible(&self, kind: ResourceKind, id: i64) -> bool {
        self.instance().model.read(|state| self.caller.view(state).visible(kind, id))
    }

    /// The current version of a record (after the caller checked it is visible).
    pub(crate) fn version(&self, kind: ResourceKind, id: i64) -> Option<u64> {
        self.instance().model.read(|state| state.meta(kind, id).map(|m| m.version))
    }

    /// What a refusal the read model gives is worth (a name taken, a grant that exists, a user
    /// inactive): with several replicas, a user deleted or enabled, or a group renamed, through
    /// another replica a moment ago must not refuse this job. Waits until this replica's read
    /// model has followed the changes the others applied up to now (at most `read_fence_wait`,
    /// or less when Redis does not answer). One Redis read, on the way to a refusal only.
    pub(crate) async fn follow_others(&self) -> Others {
        match &self.core.freshness {
            None => Others::Alone,
            // Its follower keeps changes of this instance it cannot apply yet: nothing to wait for.
            Some(freshness) if freshness.behind_on(&self.caller.instance.name) => Others::Unknown,
            Some(freshness) => {
                let caught_up = freshness.catch_up(self.core.events.as_ref()).await;
                // A change the follower could not apply during the wait counts as handled, and is
                // kept aside: the model is no better for the wait then.
                if caught_up && !freshness.behind_on(&self.caller.instance.name) {
                    Others::Followed
                } else {
                    Others::Unknown
                }
            }
        }
    }

    /// What the read model `held` on the way to a refusal, as [`Ctx::follow_others`] says to take
    /// it: as it is with one replica, read again once the follower has caught up, and `None` when
    /// the model cannot be vouched for (Secret Server's answer then decides, as for a record the
    /// model has not seen).
    pub(crate) async fn recheck<T>(&self, held: Option<T>, read_again: impl FnOnce() -> Option<T>) -> Option<T> {
        match self.follow_others().await {
            Others::Alone => held,
            Others::Followed => read_again(),
            Others::Unknown => None,
        }
    }

    /// Checks `If-Match` against the record's current version, as the caller was shown it.
    pub(crate) fn check_if_match(&self, kind: ResourceKind, id: i64) -> JobResult<()> {
        let version = self.version(kind, id).ok_or_else(|| not_found(kind, &id.to_string()))?;
        // Compared with the tag the caller was shown (see `meta::VersionTags`).
        let shown = self.caller.version_tags.tag(self.caller.connection.id.as_str(), version);
        precondition::check_if_match(self.req.if_match(), shown).map_err(JobError::from)
    }
}

/// What a refusal the read model gives is worth ([`Ctx::follow_others`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Others {
    /// One replica: its read model is written by its own jobs and resyncs only; the refusal stands.
    Alone,
    /// The follower has caught up with the other replicas' changes: read the model again.
    Followed,
    /// The follower cannot vouch for the model (it keeps changes of this instance aside, or did not
    /// catch up in time): Secret Server's own answer decides, not the model.
    Unknown,
}

/// The intent key of a delete, so that a redelivered delete finds its work done.
fn delete_key(id: i64) -> String {
    format!("delete:{id}")
}

impl Ctx<'_> {
    /// Records that this job is about to delete `id`.
    pub(crate) async fn record_delete(&self, kind: ResourceKind, id: i64) -> JobResult<()> {
        let intent = Intent { kind: kind.name().to_owned(), key: delete_key(id), created: None, settled: false };
        self.instance().intents.record(self.job_id, &intent).await?;
        Ok(())
    }

    /// Whether an earlier delivery of this job set out to delete `id` (which is now gone).
    pub(crate) async fn deleted_before(&self, kind: ResourceKind, id: i64) -> JobResult<bool> {
        if self.first_attempt {
            return Ok(false);
        }
        let intent = self.instance().intents.get(self.job_id).await?;
        Ok(intent.is_some_and(|i| i.kind == kind.name() && i.key == delete_key(id)))
    }

    /// A delete found done: the result of an earlier delivery of this job.
    pub(crate) fn already_deleted(&self, kind: ResourceKind, id: i64) -> Applied {
        Applied { kind, id, deleted: true, before: Value::Null, after: Value::Null, members: MemberIds::NONE }
    }
}

impl Ctx<'_> {
    /// What earlier attempts of this job did about the object of `kind` called `key`.
    pub(crate) async fn earlier_create(&self, kind: ResourceKind, key: &str) -> JobResult<Earlier> {
        if self.first_attempt {
            return Ok(Earlier::Nothing);
        }
        let intent = self.instance().intents.get(self.job_id).await?;
        Ok(Earlier::of(intent.as_ref(), kind.name(), key))
    }

    /// Sends the create call `call` for the object of `kind` called `key`, whose name was just seen
    /// free in Secret Server: the intent is recorded unsettled before the call and settled after
    /// it. When the call fails, `find` reads Secret Server: an object found after a failure that
    /// may have been applied (an outage, a timeout) is this call's and is returned; one found after
    /// a refusal was made by someone else meanwhile, a `409 uniqueness` (`taken_detail`).
    pub(crate) async fn create_once<T, C, F, Found>(
        &self,
        kind: ResourceKind,
        key: &str,
        taken_detail: &str,
        id_of: fn(&T) -> i64,
        call: C,
        find: F,
    ) -> JobResult<T>
    where
        C: std::future::Future<Output = Result<T, ClientError>>,
        F: FnOnce() -> Found,
        Found: std::future::Future<Output = JobResult<Option<T>>>,
    {
        let intents = &self.instance().intents;
        let intent = |created: Option<i64>, settled: bool| Intent {
            kind: kind.name().to_owned(),
            key: key.to_owned(),
            created,
            settled,
        };
        intents.record(self.job_id, &intent(None, false)).await?;
        self.check_lease()?;
        let error = match call.await {
            Ok(made) if id_of(&made) > 0 => {
                self.defer([intents.record_write(self.job_id, &intent(Some(id_of(&made)), true))?]);
                return Ok(made);
            }
            // A `2xx` without the new object's id (a body without it decodes to 0): something was
            // made, and what is read next.
            Ok(_) => ClientError::Decode { message: format!("the answer to creating {key:?} holds no id") },
            Err(e) => e,
        };
        // Whether Secret Server may have acted on the call before failing (the client does not
        // repeat a create that may have been applied): an outage, a timeout, a status without a
        // class, or a `2xx` whose body could not be read. A call that was never sent (no place
        // among the calls in flight, a lost lease, refused by the client's open circuit breaker)
        // applied nothing.
        let never_sent = error.never_sent();
        let maybe_applied = !never_sent
            && (error.is_transient()
                || matches!(error, ClientError::UnexpectedStatus { .. } | ClientError::Decode { .. }));
        match find().await? {
            Some(found) if maybe_applied => {
                intents.record(self.job_id, &intent(Some(id_of(&found)), true)).await?;
                Ok(found)
            }
            Some(_) => {
                intents.record(self.job_id, &intent(None, true)).await?;
                Err(taken(taken_detail))
            }
            None => {
                intents.record(self.job_id, &intent(None, true)).await?;
                Err(error.into())
            }
        }
    }
}

/// After a failed delete: done when a read by id shows the object gone, else the delete's error.
/// What "gone" looks like is read from Secret Server's state, not taken from the delete's error
/// code (its codes for a missing object are not documented; see docs/secret-server-assumptions.md).
pub(crate) async fn gone_anyway<T>(
    error: ClientError,
    read: impl std::future::Future<Output = Result<T, ClientError>>,
) -> JobResult<()> {
    match read.await {
        Err(e) if e.is_not_found() => Ok(()),
        Ok(_) => Err(error.into()),
        Err(e) => Err(e.into()),
    }
}

/// What a job changed, for its result and its audit event.
#[derive(Debug)]
pub(crate) struct Applied {
    pub kind: ResourceKind,
    pub id: i64,
    pub deleted: bool,
    pub before: Value,
    pub after: Value,
    /// For a group: the members the change added and removed.
    pub members: MemberIds,
}

/// The queue's handler.
#[derive(Debug, Clone)]
pub struct Worker {
    core: Arc<Core>,
}

impl Worker {
    pub(crate) fn new(core: Arc<Core>) -> Self {
        Self { core }
    }

    async fn run(&self, job: &Job, req: adapter_api::Job) -> Disposition {
        let started = Instant::now();
        let operation = format!("{}.{}", req.kind().name(), req.operation().name());
        let (disposition, outcome) = self.run_inner(job, &req).await;
        metrics::job_duration(&operation, outcome, started.elapsed());
        disposition
    }

    async fn run_inner(&self, job: &Job, req: &adapter_api::Job) -> (Disposition, &'static str) {
        let caller = match self.core.caller(req.connection_id()).await {
            Ok(c) => c,
            Err(e) if e.kind.is_transient() => return retry(e.to_string(), Some(Duration::from_secs(2))),
            Err(e) => return (failed(&e), "failed"),
        };
        let access = match req.operation() {
            Operation::Create => Action::Create,
            Operation::Replace | Operation::Patch => Action::Update,
            Operation::Delete => Action::Delete,
        };
        if let Err(e) = caller.check(req.kind(), access) {
            return (failed(&e), "failed");
        }
        // A first load under way is waited for; one that failed (the instance unreachable, or not
        // answering) is not: the job goes back at once, and the worker to the other instances.
        // It comes back after a while (the load is tried again meanwhile) rather than spend its
        // attempts in seconds.
        if !caller.instance.is_loaded()
            && !caller.instance.wait_first_load(self.core.settings.job_wait_for_load).await
            && let Err(e) = caller.require_loaded()
        {
            let failed = matches!(caller.instance.first_load(), crate::instance::FirstLoad::Failed(_));
            return retry(e.detail, Some(Duration::from_secs(if failed { 30 } else { 5 })));
        }
        // With several replicas, the change this job follows may have been applied by another
        // one: the jobs of a resource run one after the other, but this replica's read model
        // learns the previous one's change from the events stream. The job's base (the document
        // a PATCH applies to, the attributes other connections keep, the version `If-Match`
        // names) comes from the read model: it waits until the model holds the resource as the
        // shared store records it, for as long as the follower is catching up (at most
        // `read_fence_wait`). Then it goes on from the model as it is, as a read does: a follower
        // that stays behind (or a change made in Secret Server that only another replica's resync
        // has seen) must not stop the resource's writes.
        if let Some(freshness) = &self.core.freshness
            && let Some(id) = adapter_api::id::parse(req.resource_id())
        {
            // A follower that keeps changes of this instance it cannot apply yet has nothing to bring.
            let behind = freshness.behind_on(&caller.instance.name);
            let follower = async move { !behind && freshness.catch_up(self.core.events.as_ref()).await };
            match caller.instance.caught_up_with(req.kind(), id, follower).await {
                Ok(true) => {}
                // Nothing the follower brings closes the gap (the change's event never came, or
                // the follower keeps this instance's changes for later): the job reads its
                // resource whole itself, as the follower would have, before building on it.
                Ok(false) => {
                    tracing::info!(
                        kind = req.kind().name(),
                        id,
                        "the read model has not followed another replica's change of the resource; reading it afresh"
                    );
                    if let Err(e) = crate::replication::refresh(&caller.instance, req.kind(), id).await {
                        return retry(format!("cannot read the resource afresh: {e:#}"), None);
                    }
                }
                Err(e) => return retry(format!("state store: {e}"), None),
            }
        }
        let ctx = Ctx {
            core: &self.core,
            caller: &caller,
            req,
            job_id: &job.id.0,
            lease: &job.lease,
            first_attempt: first_attempt(job),
            deferred: std::sync::Mutex::new(Vec::new()),
            answer: OnceLock::new(),
            partial: std::sync::Mutex::new(MemberIds::NONE),
        };
        let done = match ctx.first_attempt && !may_be_carried(req) {
            true => None,
            false => match caller.instance.intents.done(ctx.job_id).await {
                Ok(done) => done,
                Err(e) => return retry(format!("state store: {e}"), None),
            },
        };
        let answered_before = done.is_some();
        let result = match done {
            // Delivered again after it finished, or applied by the change ahead of it: answer what
            // was done then.
            Some(done) => Ok({
                if let Some(answer) = done.answer() {
                    let _ = ctx.answer.set(answer);
                }
                Applied {
                    kind: req.kind(),
                    id: done.id,
                    deleted: done.deleted,
                    before: done.before,
                    after: done.after,
                    members: done.members,
                }
            }),
            // The lease is checked again inside the client once a call's turn comes (a call may
            // wait for a place among those in flight to Secret Server).
            None => {
                let lease = job.lease.clone();
                secret_server_client::fence::fenced(move || lease.is_held(), self.dispatch(&ctx)).await
            }
        };

        let record = |before: Value, after: Value, members: &MemberIds, error: Option<ServiceError>, id: String| {
            let ids = |ids: &[i64]| ids.iter().map(i64::to_string).collect();
            ChangeRecord {
                connection_id: caller.connection.id.to_string(),
                instance: caller.instance.name.clone(),
                kind: req.kind(),
                resource_id: id,
                operation: req.operation(),
                job_id: job.id.0.clone(),
                request_id: req.request_id().to_owned(),
                before,
                after,
                members: MemberChanges { added: ids(&members.added), removed: ids(&members.removed) },
                error,
            }
        };
        if result.is_err() {
            let deferred = ctx.take_deferred();
            if !deferred.is_empty()
                && let Err(e) = caller.instance.intents.flush(deferred).await
            {
                // A later attempt finds the intent unsettled and the stored attributes and meta
                // older: it adopts the object of its name and writes them again.
                tracing::warn!(error = %e, "cannot record what the failed attempt wrote");
            }
        }
        match result {
            Ok(applied) => {
                // Never with the answer: a carried job's answer is kept only until it has answered.
                let done = crate::intents::Done {
                    kind: applied.kind.name().to_owned(),
                    id: applied.id,
                    deleted: applied.deleted,
                    before: applied.before.clone(),
                    after: applied.after.clone(),
                    members: applied.members.clone(),
                    answer: None,
                };
                if !answered_before
                    && let Err(e) =
                        caller.instance.intents.mark_done_after(ctx.take_deferred(), ctx.job_id, &done).await
                {
                    return retry(format!("state store: {e}"), None);
                }
                let change = record(
                    applied.before.clone(),
                    applied.after.clone(),
                    &applied.members,
                    None,
                    applied.id.to_string(),
                );
                if let Err(e) = publish_change(&*self.core.events, &change).await {
                    // The change is made; running the job again finds it made and publishes again.
                    return retry(format!("cannot publish the audit event: {e}"), None);
                }
                let answer = success(&ctx, &applied);
                // A carried job's answer (the whole group, for a request that wants its members)
                // leaves the state store once given: a redelivery answers as any redelivery does.
                if answered_before
                    && ctx.answer.get().is_some()
                    && let Err(e) = caller.instance.intents.mark_done(ctx.job_id, &done).await
                {
                    tracing::warn!(error = %e, "cannot drop the answer kept with the job's done marker; it expires with it");
                }
                (Disposition::Succeeded(answer), "succeeded")
            }
            Err(JobError::Permanent(e)) => {
                // Members it changed before it was refused are changed: its event says so.
                let change = record(
                    Value::Null,
                    Value::Null,
                    &ctx.take_partial(),
                    Some(e.clone()),
                    req.resource_id().to_owned(),
                );
                if let Err(publish_error) = publish_change(&*self.core.events, &change).await {
                    // Retried like any other: the failure is found again and its event published then.
                    return retry(format!("cannot publish the audit event of a failed job: {publish_error}"), None);
                }
                (failed(&e), "failed")
            }
            Err(JobError::Transient { error, after }) => {
                // Members it changed before it failed are changed, and the next attempt finds them
                // done: this attempt's own event, with its own id, says so.
                let partial = ctx.take_partial();
                if !partial.is_empty() {
                    let failed = ServiceError::new(
                        ErrorKind::Unavailable,
                        format!("this attempt failed after changing the members listed: {error}"),
                    );
                    let change = record(Value::Null, Value::Null, &partial, Some(failed), req.resource_id().to_owned());
                    let mut event = change.to_event();
                    event.event_id = format!("{}:attempt-{}", event.event_id, job.attempt);
                    if let Err(e) = publish_event(&*self.core.events, &event, &change.job_id).await {
                        tracing::error!(error = %e, "cannot publish the audit event of an attempt that changed members");
                    }
                }
                retry(error, after)
            }
        }
    }
}

impl Worker {
    async fn dispatch(&self, ctx: &Ctx<'_>) -> JobResult<Applied> {
        match ctx.req.kind() {
            ResourceKind::User => users::apply(ctx).await,
            ResourceKind::Group => groups::apply(ctx).await,
            ResourceKind::Container => containers::apply(ctx).await,
            ResourceKind::ContainerPermission => permissions::apply_folder(ctx).await,
            ResourceKind::PrivilegedDataPermission => permissions::apply_secret(ctx).await,
            ResourceKind::PrivilegedData => Err(JobError::Permanent(ServiceError::new(
                ErrorKind::Unimplemented,
                "PrivilegedData is read-only: secrets are created and changed in Secret Server",
            ))),
            // The gateway answers `405` before a job exists; a job from elsewhere gets the same word.
            ResourceKind::Role => Err(JobError::Permanent(ServiceError::new(
                ErrorKind::Unimplemented,
                "Role is read-only: roles are defined in Secret Server",
            ))),
        }
    }
}

/// Publishes a change's audit event. One the stream refuses for good (too large, say) goes to the
/// events' dead letters, counted in `scim_adapter_audit_dead_letters_total` and logged, and the job
/// goes on: retrying could not help.
///
/// # Errors
/// The stream is unavailable (the job is retried), or refused the event and its dead letters too.
async fn publish_change(events: &dyn job_queue::EventBus, change: &ChangeRecord) -> Result<(), job_queue::QueueError> {
    publish_event(events, &change.to_event(), &change.job_id).await
}

/// [`publish_change`] for an event already built.
async fn publish_event(
    events: &dyn job_queue::EventBus,
    event: &proto::audit::v1::AuditEvent,
    job_id: &str,
) -> Result<(), job_queue::QueueError> {
    match audit_events::publish(events, event).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_transient() => Err(e),
        Err(refused) => {
            ::metrics::counter!("scim_adapter_audit_dead_letters_total").increment(1);
            tracing::error!(event_id = %event.event_id, job_id = %job_id, error = %refused,
                "the events stream refused a change's audit event for good; kept in its dead letters");
            events.dead_letter(audit_events::to_bus_event(event), &refused.to_string()).await
        }
    }
}

fn retry(error: String, after: Option<Duration>) -> (Disposition, &'static str) {
    tracing::warn!(%error, "job will be retried");
    (Disposition::Retry { error, after }, "retry")
}

/// A failed job's result, with the error the SCIM client should see.
fn failed(error: &ServiceError) -> Disposition {
    tracing::info!(error = %error, "job failed");
    Disposition::Failed(encode_failure(error))
}

/// A succeeded job's result: the resource as the caller sees it now (or as the job's change left
/// it, when that was kept: [`Ctx::answer`]).
fn success(ctx: &Ctx<'_>, applied: &Applied) -> Bytes {
    if applied.deleted {
        return Written::Deleted.encode();
    }
    if let Some(answer) = ctx.answer.get() {
        return answer.clone();
    }
    resource_answer(ctx, ctx.req.answers_without_members(), ctx.req.answers_version_only(), applied.kind, applied.id)
}

/// The result of a job of the caller of `ctx` that changed resource `id` of `kind`: the resource
/// as the caller sees it now, without a group's members when the job's request asked so, or only
/// its version when the request's answer carries no resource.
pub(crate) fn resource_answer(
    ctx: &Ctx<'_>,
    without_members: bool,
    version_only: bool,
    kind: ResourceKind,
    id: i64,
) -> Bytes {
    let resource = ctx.instance().model.read(|state| {
        let view = ctx.caller.view(state);
        if version_only {
            // The answer carries no resource (`204`, a Bulk operation): nothing is rendered, but
            // the caller must still see what it changed, as when it is rendered.
            return view.visible(kind, id).then(|| Resource {
                kind,
                id: id.to_string(),
                version: view.version(kind, id).unwrap_or_default(),
                json: Bytes::new(),
            });
        }
        // A group's members are left out when the request's projection excluded them: rendering
        // them is what a member change of a large group would otherwise cost.
        let options = RenderOptions { members: !without_members };
        let json = view.render_json(kind, id, options)?;
        Some(Resource {
            kind,
            id: id.to_string(),
            version: view.version(kind, id).unwrap_or_default(),
            json: Bytes::from(json),
        })
    });
    match resource {
        Some(resource) => Written::Resource(resource).encode(),
        // Applied, but not visible to the caller: the gateway cannot answer with the resource.
        None => encode_failure(&ServiceError::internal("the job succeeded without a resource")),
    }
}

#[async_trait]
impl JobHandler for Worker {
    async fn handle(&self, job: Job) -> Disposition {
        let req = match adapter_api::Job::open(&job.payload, &job.secrets, &self.core.settings.job_keys) {
            Ok(req) => req,
            Err(e) => {
                if e.kind == ErrorKind::Internal {
                    // The job is sound but this adapter cannot open its password: a configuration
                    // mistake (a key missing here) that the operator must see.
                    tracing::error!(job_id = %job.id, error = %e, "cannot open the job's sealed password");
                }
                return failed(&e);
            }
        };
        let span = tracing::info_span!(
            "provisioning.job",
            job_id = %job.id,
            resource_type = req.kind().name(),
            operation = req.operation().name(),
            resource_id = %req.resource_id(),
            attempt = job.attempt,
        );
        // The trace context travels with the queue's job, beside the payload.
        telemetry::set_parent_from(&span, &job.trace_context);
        self.run(&job, req).instrument(span).await
    }
}
