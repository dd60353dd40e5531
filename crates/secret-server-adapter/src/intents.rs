//! Create intents: what a job is about to create, recorded before the Secret Server call.
//!
//! Jobs are delivered at least once. If a worker dies after Secret Server created an object but
//! before the job's outcome was recorded, the redelivered job must find and adopt that object
//! rather than fail on a taken name or create a second one. Before every create the worker records
//! `job id → (resource type, unique name, parent)`; a job that finds its own intent looks the object
//! up by that name first. Intents expire after a week (the queue gives up on a job long before).
//!
//! Intents are not cleared when the job succeeds: a worker may die after Secret Server answered but
//! before the queue recorded the outcome, and the redelivery must still adopt.
//!
//! Done markers: once a job has applied its change, `job id → what it did` is recorded too, so that
//! a redelivery of a finished job answers what the first delivery did (a PATCH with `If-Match`
//! would otherwise fail against the version it produced itself).
//!
//! Namespaces `intents:<instance>` and `done:<instance>` (expiring entries), key the job id.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use state_store::{StateStore, StoreError};
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

    /// What job `job_id` did, if it finished.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn done(&self, job_id: &str) -> Result<Option<Done>, StoreError> {
        let value = self.state.get_expiring(&self.done_namespace, job_id).await?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Records what job `job_id` did.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn mark_done(&self, job_id: &str, done: &Done) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(done).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put_expiring(&self.done_namespace, job_id, Bytes::from(bytes), INTENT_TTL).await
    }
}
