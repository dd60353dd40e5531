//! Create intents: what a job is about to create, recorded before the Secret Server call.
//!
//! Jobs are delivered at least once. If a worker dies after Secret Server created an object but
//! before the job's outcome was recorded, the redelivered job must find and adopt that object
//! rather than fail on a taken name or create a second one. Before every create the worker records
//! `job id → (resource type, unique name, parent)`; a job that finds its own intent looks the object
//! up by that name first. Intents expire after a week (the queue gives up on a job long before).
//!
//! An attempt records the intent unsettled just before its create call (after it saw the name free
//! in Secret Server), then settles it with what the call made: the new id, or nothing when the call
//! failed and a read shows no object of that name. A later attempt adopts only the object its job
//! created ([`Earlier`]): an object of that name that this job did not make is someone else's, and
//! the create is a `409 uniqueness`. The one window left is an attempt that stops between its call
//! and recording the answer: an object of that name found then is taken to be the call's. A call
//! that made the object is settled in the batch that records the job done (with the object's
//! attributes and meta, one round trip: see [`Intents::mark_done_after`]), or on its own when the
//! attempt fails after it; so that window ends there.
//!
//! Intents are not cleared when the job succeeds: a worker may die after Secret Server answered but
//! before the queue recorded the outcome, and the redelivery must still adopt.
//!
//! Done markers: once a job has applied its change, `job id → what it did` is recorded too, so that
//! a redelivery of a finished job answers what the first delivery did (a PATCH with `If-Match`
//! would otherwise fail against the version it produced itself).
//!
//! A member change that folded the changes queued behind it into its own Secret Server call (see
//! `worker::groups::burst`) records their done markers too, each with the answer its job gives: a
//! job that finds its marker answers from it, on its first attempt too, and then drops the answer
//! from its marker (a group's answer may list every member).
//!
//! Namespaces `intents:<instance>` and `done:<instance>` (expiring entries), key the job id.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use state_store::{StateStore, StoreError, Write};
use std::sync::Arc;
use std::time::Duration;

const INTENT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a job is about to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// The ResourceType name.
    pub kind: String,
    /// The name that identifies the object once made (userName, group or folder name...) or, for
    /// permissions, `"<target>/<principal>"`.
    pub key: String,
    /// The id Secret Server gave the object this job created, once its answer (or a read after a
    /// failed call) showed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Whether the create call's outcome is known: `created` says what it made (nothing when
    /// unset). An unsettled intent is one whose attempt stopped between its call and the answer
    /// (intents written before this field existed are unsettled, as they were then).
    #[serde(default)]
    pub settled: bool,
}

/// What the earlier attempts of a job did about the object it creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Earlier {
    /// Nothing: no attempt sent the create call, or every call failed without making anything.
    Nothing,
    /// An attempt created the object with this id.
    Created(i64),
    /// An attempt stopped after the name was seen free and before the call's answer was recorded:
    /// an object of that name found now was made by that call.
    Unknown,
}

impl Earlier {
    /// What `intent` (this job's, if any) says about the object of `kind` called `key`.
    pub fn of(intent: Option<&Intent>, kind: &str, key: &str) -> Self {
        match intent.filter(|i| i.kind == kind && i.key == key) {
            None => Earlier::Nothing,
            Some(Intent { created: Some(id), .. }) => Earlier::Created(*id),
            Some(Intent { settled: true, .. }) => Earlier::Nothing,
            Some(_) => Earlier::Unknown,
        }
    }

    /// Whether the object `id`, found under the job's name, is this job's own.
    pub fn made(self, id: i64) -> bool {
        match self {
            Earlier::Nothing => false,
            Earlier::Created(created) => created == id,
            Earlier::Unknown => true,
        }
    }
}

/// What a finished job did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Done {
    /// The ResourceType name.
    pub kind: String,
    pub id: i64,
    pub deleted: bool,
    /// The audit event's before and after.
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// The audit event's member changes (a group's); absent from markers written before they
    /// were recorded.
    #[serde(default, skip_serializing_if = "MemberIds::is_empty")]
    pub members: MemberIds,
    /// The job's result as it was when its change was applied (base64 of the result bytes), for a
    /// change applied together with others: rendered again later, it would show the later ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

impl Done {
    /// The same marker, keeping `answer` (the job's result bytes) as the answer.
    pub fn with_answer(mut self, answer: Option<&Bytes>) -> Self {
        use base64::Engine as _;
        self.answer = answer.map(|a| base64::engine::general_purpose::STANDARD.encode(a));
        self
    }

    /// The answer kept with the marker, if any (one that cannot be read is none: the job then
    /// answers with the resource as it is now).
    pub fn answer(&self) -> Option<Bytes> {
        use base64::Engine as _;
        let text = self.answer.as_deref()?;
        base64::engine::general_purpose::STANDARD.decode(text).ok().map(Bytes::from)
    }
}

/// The users a group change added and removed, by Secret Server id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberIds {
    pub added: Vec<i64>,
    pub removed: Vec<i64>,
}

impl MemberIds {
    /// No member changed.
    pub const NONE: MemberIds = MemberIds { added: Vec::new(), removed: Vec::new() };

    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

/// The intents and done markers of one instance.
#[derive(Debug, Clone)]
pub struct Intents {
    state: Arc<dyn StateStore>,
    namespace: String,
    done_namespace: String,
}

impl Intents {
    /// The intents of instance `instance`.
    pub fn new(state: Arc<dyn StateStore>, instance: &str) -> Self {
        Self { state, namespace: format!("intents:{instance}"), done_namespace: format!("done:{instance}") }
    }

    /// # Errors
    /// When the state store fails.
    pub async fn get(&self, job_id: &str) -> Result<Option<Intent>, StoreError> {
        let value = self.state.get_expiring(&self.namespace, job_id).await?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// # Errors
    /// When the state store fails.
    pub async fn record(&self, job_id: &str, intent: &Intent) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(intent).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put_expiring(&self.namespace, job_id, Bytes::from(bytes), INTENT_TTL).await
    }

    /// The write that records `intent`, for a batch (see [`Intents::mark_done_after`]).
    ///
    /// # Errors
    /// When the intent cannot be encoded.
    pub fn record_write(&self, job_id: &str, intent: &Intent) -> Result<Write, StoreError> {
        let bytes = serde_json::to_vec(intent).map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Write::PutExpiring {
            namespace: self.namespace.clone(),
            key: job_id.to_owned(),
            value: Bytes::from(bytes),
            ttl: INTENT_TTL,
        })
    }

    /// Applies `writes` (what a job deferred: its settled intent, a resource's attributes and
    /// meta) in one batch, all or none.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn flush(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.state.write_batch(writes).await
    }

    /// What job `job_id` did, if it finished.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn done(&self, job_id: &str) -> Result<Option<Done>, StoreError> {
        let value = self.state.get_expiring(&self.done_namespace, job_id).await?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Forgets what job `job_id` did (a marker an earlier attempt of another job left for it,
    /// which a later attempt did not confirm).
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn forget_done(&self, job_id: &str) -> Result<(), StoreError> {
        self.state.delete_expiring(&self.done_namespace, job_id).await.map(|_| ())
    }

    /// Records what job `job_id` did.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn mark_done(&self, job_id: &str, done: &Done) -> Result<(), StoreError> {
        self.mark_done_after(Vec::new(), job_id, done).await
    }

    /// Records what job `job_id` did together with `earlier` writes of that job, in one batch
    /// (one round trip to Redis), all or none: the marker is never stored without them.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn mark_done_after(&self, mut earlier: Vec<Write>, job_id: &str, done: &Done) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(done).map_err(|e| StoreError::Backend(e.to_string()))?;
        earlier.push(Write::PutExpiring {
            namespace: self.done_namespace.clone(),
            key: job_id.to_owned(),
            value: Bytes::from(bytes),
            ttl: INTENT_TTL,
        });
        self.state.write_batch(earlier).await
    }
}
