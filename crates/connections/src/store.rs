//! Where connections live: the `connections` namespace of the state store
//! (Redis in production, so that every gateway replica and the adapter see
//! the same connections), behind a short-lived in-process cache because every
//! request reads its connection.
//!
//! Beside the connections the store keeps two credential indexes, so that a
//! request's credential finds its connection in one lookup:
//! - `connection-tokens`: SHA-256 of a static bearer token → its connection
//!   and token id, maintained by [`ConnectionStore::put`] and
//!   [`ConnectionStore::delete`] (so connections loaded from the config file
//!   are indexed too);
//! - `oauth-access-tokens`: SHA-256 of an OAuth2 access token → its grant,
//!   an expiring entry, so that every gateway replica accepts a token any
//!   replica issued, until it expires.
//!
//! Beside each connection the configuration file defines, `connections-file` keeps the file's
//! definition as last loaded, so that the next load can tell what the file changed from what the
//! admin API changed ([`ConnectionStore::put_from_file`], [`crate::from_file`]).
//!
//! An index entry is only a hint: the verifier always checks the credential
//! against the connection record itself, so a stale entry never grants access.
//!
//! `connections-retired` remembers the id of every deleted connection, with when it was deleted.
//! What a connection did outlives it under its id: the users and groups it created (which its
//! principal scope and password policy ask about), the `externalId`s and kept names it set, its
//! idempotency keys' answers. A new connection given a deleted one's id would inherit all of that,
//! so the admin API refuses such an id ([`ConnectionStore::retired`]).

use crate::model::{Connection, ConnectionId};
use bytes::Bytes;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use state_store::{StateStore, StoreError};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const NAMESPACE: &str = "connections";
/// The configuration file's definition of each connection it defines, as last loaded.
const FILE_DEFINITIONS: &str = "connections-file";
const TOKEN_INDEX: &str = "connection-tokens";
const ACCESS_TOKENS: &str = "oauth-access-tokens";
const RETIRED: &str = "connections-retired";

/// Where a static bearer token's hash points.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenIndexEntry {
    pub connection: ConnectionId,
    pub token_id: String,
}

/// What an OAuth2 access token grants: the connection and the client it was issued to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessGrant {
    pub connection: ConnectionId,
    pub client_id: String,
    /// Unix seconds at which the token stops being accepted.
    pub expires_at: i64,
}

/// A cached read: when it was made and what it found.
type CachedConnection = (Instant, Option<Arc<Connection>>);

/// Reads and writes connections.
#[derive(Clone)]
pub struct ConnectionStore {
    state: Arc<dyn StateStore>,
    cache: Arc<Mutex<HashMap<ConnectionId, CachedConnection>>>,
    cache_ttl: Duration,
    /// Counts the changes made through this store (and its clones), so that what is derived from
    /// the connections in this process (the verifier's credential index) sees them at once.
    changes: Arc<AtomicU64>,
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
        Self { state, cache: Arc::default(), cache_ttl, changes: Arc::default() }
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
        Ok(self.get_shared(id).await?.map(|c| (*c).clone()))
    }

    /// One connection, shared with the cache (no copy: every request reads its connection).
    ///
    /// # Errors
    /// When the state store fails, or holds a record that does not parse.
    pub async fn get_shared(&self, id: &ConnectionId) -> Result<Option<Arc<Connection>>, StoreError> {
        if let Some((at, cached)) = self.cache.lock().get(id)
            && at.elapsed() < self.cache_ttl
        {
            return Ok(cached.clone());
        }
        let found = match self.state.get(NAMESPACE, id.as_str()).await? {
            Some(bytes) => Some(Arc::new(decode(&bytes)?)),
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

    /// Creates or replaces a connection, and brings its bearer-token index
    /// entries up to date (tokens it no longer has are unindexed).
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn put(&self, connection: &Connection) -> Result<(), StoreError> {
        let previous = match self.state.get(NAMESPACE, connection.id.as_str()).await? {
            Some(bytes) => decode(&bytes).ok(),
            None => None,
        };
        let bytes = serde_json::to_vec(connection).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put(NAMESPACE, connection.id.as_str(), Bytes::from(bytes)).await?;
        self.cache.lock().insert(connection.id.clone(), (Instant::now(), Some(Arc::new(connection.clone()))));
        self.changes.fetch_add(1, Ordering::Relaxed);

        let entries: Vec<(String, Bytes)> = connection
            .credentials
            .bearer_tokens
            .iter()
            .map(|t| {
                let entry = TokenIndexEntry { connection: connection.id.clone(), token_id: t.id.clone() };
                (t.sha256.to_ascii_lowercase(), Bytes::from(serde_json::to_vec(&entry).unwrap_or_default()))
            })
            .collect();
        if let Some(previous) = previous {
            for old in &previous.credentials.bearer_tokens {
                let kept =
                    connection.credentials.bearer_tokens.iter().any(|t| t.sha256.eq_ignore_ascii_case(&old.sha256));
                if !kept {
                    self.state.delete(TOKEN_INDEX, &old.sha256.to_ascii_lowercase()).await?;
                }
            }
        }
        if !entries.is_empty() {
            self.state.put_many(TOKEN_INDEX, entries).await?;
        }
        Ok(())
    }

    /// Brings a connection the configuration file defines into the store: merged with the stored
    /// connection (see [`crate::from_file`]: the file's changes since it was last loaded win, runtime
    /// changes made through the admin API stay), and remembers the definition for the next load.
    /// Returns the connection as stored.
    ///
    /// # Errors
    /// When the state store fails, or holds a record that does not parse.
    pub async fn put_from_file(&self, file: &Connection) -> Result<Connection, StoreError> {
        let stored = match self.state.get(NAMESPACE, file.id.as_str()).await? {
            Some(bytes) => Some(decode(&bytes)?),
            None => None,
        };
        let previous = self.file_definition(&file.id).await?;
        let merged = crate::from_file::merge(stored.as_ref(), previous.as_ref(), file);
        self.put(&merged).await?;
        let definition = Connection { from_config: true, ..file.clone() };
        let bytes = serde_json::to_vec(&definition).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put(FILE_DEFINITIONS, file.id.as_str(), Bytes::from(bytes)).await?;
        Ok(merged)
    }

    /// The configuration file's definition of a connection, as last loaded (`None` for a connection
    /// the file does not define, or did not when definitions were not kept yet).
    ///
    /// # Errors
    /// When the state store fails, or holds a record that does not parse.
    pub async fn file_definition(&self, id: &ConnectionId) -> Result<Option<Connection>, StoreError> {
        match self.state.get(FILE_DEFINITIONS, id.as_str()).await? {
            Some(bytes) => Ok(Some(decode(&bytes)?)),
            None => Ok(None),
        }
    }

    /// Deletes a connection and its token index entries; returns whether it existed.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn delete(&self, id: &ConnectionId) -> Result<bool, StoreError> {
        if let Some(bytes) = self.state.get(NAMESPACE, id.as_str()).await?
            && let Ok(previous) = decode(&bytes)
        {
            for token in &previous.credentials.bearer_tokens {
                self.state.delete(TOKEN_INDEX, &token.sha256.to_ascii_lowercase()).await?;
            }
        }
        // Retired before it goes: a failure in between leaves the id retired, never free again.
        if self.state.get(NAMESPACE, id.as_str()).await?.is_some() {
            let at = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
            self.state.put(RETIRED, id.as_str(), Bytes::from(at)).await?;
        }
        let existed = self.state.delete(NAMESPACE, id.as_str()).await?;
        self.state.delete(FILE_DEFINITIONS, id.as_str()).await?;
        self.cache.lock().insert(id.clone(), (Instant::now(), None));
        self.changes.fetch_add(1, Ordering::Relaxed);
        Ok(existed)
    }

    /// Whether a connection of this id was deleted (see the module's introduction).
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn retired(&self, id: &ConnectionId) -> Result<bool, StoreError> {
        Ok(self.state.get(RETIRED, id.as_str()).await?.is_some())
    }

    /// The connection and token id a static bearer token's SHA-256 (hex) is indexed under.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn find_token(&self, sha256: &str) -> Result<Option<TokenIndexEntry>, StoreError> {
        Ok(self.state.get(TOKEN_INDEX, sha256).await?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Records an OAuth2 access token (by its SHA-256) for `ttl`.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn put_access_token(&self, sha256: &str, grant: &AccessGrant, ttl: Duration) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(grant).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.state.put_expiring(ACCESS_TOKENS, sha256, Bytes::from(bytes), ttl).await
    }

    /// The grant of an OAuth2 access token (by its SHA-256), while it has not expired.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn find_access_token(&self, sha256: &str) -> Result<Option<AccessGrant>, StoreError> {
        Ok(self.state.get_expiring(ACCESS_TOKENS, sha256).await?.and_then(|bytes| serde_json::from_slice(&bytes).ok()))
    }

    /// Forgets the cached copy of a connection, so that the next read goes to the state store.
    pub fn invalidate(&self, id: &ConnectionId) {
        self.cache.lock().remove(id);
    }

    /// How many changes were made through this store: what is derived from its connections is
    /// stale when this moved.
    pub fn changes(&self) -> u64 {
        self.changes.load(Ordering::Relaxed)
    }

    /// How long a change made by another process may take to be seen here.
    pub fn cache_ttl(&self) -> Duration {
        self.cache_ttl
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
    async fn bearer_tokens_are_indexed_by_hash_and_unindexed_when_removed_or_deleted() {
        let store = ConnectionStore::new(Arc::new(LocalStore::in_memory().unwrap()), Duration::from_secs(1));
        let mut okta = connection("okta");
        let first = crate::credentials::issue_token(None, None);
        let second = crate::credentials::issue_token(None, None);
        okta.credentials.bearer_tokens = vec![first.credential.clone(), second.credential.clone()];
        store.put(&okta).await.unwrap();
        let hit = store.find_token(&first.credential.sha256).await.unwrap().unwrap();
        assert_eq!((hit.connection.as_str(), hit.token_id.as_str()), ("okta", first.credential.id.as_str()));

        okta.credentials.bearer_tokens.remove(0);
        store.put(&okta).await.unwrap();
        assert_eq!(store.find_token(&first.credential.sha256).await.unwrap(), None);
        assert!(store.find_token(&second.credential.sha256).await.unwrap().is_some());

        store.delete(&okta.id).await.unwrap();
        assert_eq!(store.find_token(&second.credential.sha256).await.unwrap(), None);
    }

    #[tokio::test]
    async fn access_tokens_are_found_until_they_expire() {
        let store = ConnectionStore::new(Arc::new(LocalStore::in_memory().unwrap()), Duration::from_secs(1));
        let grant = AccessGrant { connection: "okta".parse().unwrap(), client_id: "client_1".into(), expires_at: 0 };
        store.put_access_token("abc", &grant, Duration::from_millis(1100)).await.unwrap();
        assert_eq!(store.find_access_token("abc").await.unwrap(), Some(grant));
        // The state store expires entries on its own clock (whole seconds): await it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.find_access_token("abc").await.unwrap().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "the access token did not expire");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn another_process_change_is_seen_after_the_cache_ttl() {
        let state: Arc<dyn StateStore> = Arc::new(LocalStore::in_memory().unwrap());
        let mine = ConnectionStore::new(state.clone(), Duration::from_millis(50));
        let theirs = ConnectionStore::new(state, Duration::from_millis(50));
        let id: ConnectionId = "okta".parse().unwrap();
        assert_eq!(mine.get(&id).await.unwrap(), None);
        theirs.put(&connection("okta")).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while mine.get(&id).await.unwrap().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "the other process's change was never seen");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
