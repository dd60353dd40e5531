//! Where connections live: the `connections` namespace of the state store
//! (Redis in production, so that every gateway replica and the adapter see
//! the same connections), behind a short-lived in-process cache because every
//! request reads its connection.

use crate::model::{Connection, ConnectionId};
use bytes::Bytes;
use parking_lot::Mutex;
use state_store::{StateStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const NAMESPACE: &str = "connections";

/// Reads and writes connections.
#[derive(Clone)]
pub struct ConnectionStore {
    state: Arc<dyn StateStore>,
    cache: Arc<Mutex<HashMap<ConnectionId, (Instant, Option<Connection>)>>>,
    cache_ttl: Duration,
}

impl std::fmt::Debug for ConnectionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionStore").field("cache_ttl", &self.cache_ttl).finish_non_exhaustive()
    }
}

impl ConnectionStore {
    /// A store over `state`. Changes made by another process are seen within
    /// `cache_ttl` (changes made through this store are seen at once).
    pub fn new(state: Arc<dyn StateStore>, cache_ttl: Duration) -> Self {
        Self { state, cache: Arc::default(), cache_ttl }
    }

    /// The state store underneath (for credential indexes kept beside the connections).
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.state
    }

    /// One connection, from the cache when fresh.
    ///
    /// # Errors
    /// When the state store fails, or holds a record that does not parse.
    pub async fn get(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        if let Some((at, cached)) = self.cache.lock().get(id)
            && at.elapsed() < self.cache_ttl
        {
            return Ok(cached.clone());
        }
        let found = match self.state.get(NAMESPACE, id.as_str()).await? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        self.cache.lock().insert(id.clone(), (Instant::now(), found.clone()));
        Ok(found)
    }

    /// Every connection, sorted by id.
    ///
    /// # Errors
    /// When the state store fails, or holds a record that does not parse.
    pub async fn list(&self) -> Result<Vec<Connection>, StoreError> {
        let mut all = self
            .state
            .load_all(NAMESPACE)
            .await?
            .into_iter()
            .map(|(_, bytes)| decode(&bytes))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    /// Creates or replaces a connection.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(connection).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put(NAMESPACE, connection.id.as_str(), Bytes::from(bytes)).await?;
        self.cache.lock().insert(connection.id.clone(), (Instant::now(), Some(connection.clone())));
        Ok(())
    }

    /// Deletes a connection; returns whether it existed.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn delete(&self, id: &ConnectionId) -> Result<bool, StoreError> {
        let existed = self.state.delete(NAMESPACE, id.as_str()).await?;
        self.cache.lock().insert(id.clone(), (Instant::now(), None));
        Ok(existed)
    }
}

fn decode(bytes: &[u8]) -> Result<Connection, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Backend(format!("unreadable connection record: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use state_store::LocalStore;

    fn connection(id: &str) -> Connection {
        serde_json::from_value(serde_json::json!({"id": id, "secretServer": "primary"})).unwrap()
    }

    #[tokio::test]
    async fn a_stored_connection_is_read_back_and_listed() {
        let store = ConnectionStore::new(Arc::new(LocalStore::in_memory().unwrap()), Duration::from_secs(1));
        store.put(&connection("okta")).await.unwrap();
        store.put(&connection("entra")).await.unwrap();
        let okta: ConnectionId = "okta".parse().unwrap();
        assert_eq!(store.get(&okta).await.unwrap().unwrap().secret_server, "primary");
        let ids: Vec<String> = store.list().await.unwrap().into_iter().map(|c| c.id.to_string()).collect();
        assert_eq!(ids, ["entra", "okta"]);
        assert!(store.delete(&okta).await.unwrap());
        assert_eq!(store.get(&okta).await.unwrap(), None);
    }

    #[tokio::test]
    async fn another_process_change_is_seen_after_the_cache_ttl() {
        let state: Arc<dyn StateStore> = Arc::new(LocalStore::in_memory().unwrap());
        let mine = ConnectionStore::new(state.clone(), Duration::from_millis(50));
        let theirs = ConnectionStore::new(state, Duration::from_millis(50));
        let id: ConnectionId = "okta".parse().unwrap();
        assert_eq!(mine.get(&id).await.unwrap(), None);
        theirs.put(&connection("okta")).await.unwrap();
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert!(mine.get(&id).await.unwrap().is_some());
    }
}
