//! Tombstones: the users deleted through SCIM.
//!
//! Secret Server never deletes a user (DELETE deactivates it, for its audit trail) and never frees a
//! user name. The adapter remembers which deactivated users were deleted *through SCIM*, so that
//! they answer `404` (or `active: false`, per connection policy) and so that creating a user with
//! the same `userName` again revives that Secret Server user instead of failing. A user re-enabled
//! directly in Secret Server loses its tombstone at the next resync.
//!
//! Namespace `tombstones:<instance>`, key the user id, value `{"userName", "jobId", "at"}`.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use state_store::{StateStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;

/// One deleted user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tombstone {
    pub user_name: String,
    /// The job that deleted it: a redelivery of that job finds its work done.
    pub job_id: String,
    /// Unix milliseconds.
    pub at: i64,
}

/// The tombstones of one instance.
#[derive(Debug, Clone)]
pub struct Tombstones {
    state: Arc<dyn StateStore>,
    namespace: String,
}

impl Tombstones {
    /// The tombstones of instance `instance`.
    pub fn new(state: Arc<dyn StateStore>, instance: &str) -> Self {
        Self { state, namespace: format!("tombstones:{instance}") }
    }

    /// # Errors
    /// When the state store fails.
    pub async fn load_all(&self) -> Result<HashMap<i64, Tombstone>, StoreError> {
        let entries = self.state.load_all(&self.namespace).await?;
        Ok(entries
            .into_iter()
            .filter_map(|(k, v)| Some((adapter_api::id::parse(&k)?, serde_json::from_slice::<Tombstone>(&v).ok()?)))
            .collect())
    }

    /// # Errors
    /// When the state store fails.
    pub async fn get(&self, user_id: i64) -> Result<Option<Tombstone>, StoreError> {
        let value = self.state.get(&self.namespace, &user_id.to_string()).await?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// # Errors
    /// When the state store fails.
    pub async fn put(&self, user_id: i64, tombstone: &Tombstone) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(tombstone).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put(&self.namespace, &user_id.to_string(), Bytes::from(bytes)).await
    }

    /// # Errors
    /// When the state store fails.
    pub async fn remove(&self, user_id: i64) -> Result<(), StoreError> {
        self.state.delete(&self.namespace, &user_id.to_string()).await.map(|_| ())
    }
}
