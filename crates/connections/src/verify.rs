//! Verifying what a SCIM client presents (a static bearer token, an OAuth2
//! access token, HTTP Basic, or OAuth2 client credentials at the token
//! endpoint) and finding its connection.
//!
//! Cheap answers come first, so that a flood of wrong credentials costs
//! microseconds rather than password hashes:
//! - verified credentials are cached in-process in a bounded LRU (keyed by a
//!   SHA-256 of what was presented, never the credential itself), so that the
//!   hot path does not wait on the state store or on Argon2. A cache hit is
//!   still checked against the current connection record (the connection is
//!   enabled, the token hash, OAuth client or Basic hash is still there), and
//!   that record comes from the [`ConnectionStore`]'s own cache. So a
//!   rotation, revocation, disable or delete takes effect at once on the
//!   replica that made it, and on every other replica within the store's
//!   `cache_ttl`;
//! - recent failures are remembered too (bounded, keyed by the same digest,
//!   with a fingerprint of the hash they were checked against), so that the
//!   same wrong credential presented again is refused without a hash or a
//!   store lookup ([`VerifyError::Repeated`]), until the credential it was
//!   checked against changes;
//! - Basic user names and OAuth client ids are found in an in-process index of
//!   the connections, rebuilt at most once per store `cache_ttl`, not by
//!   reading every connection per attempt;
//! - at most `max_concurrent_hashes` Argon2 verifications run at once, on the
//!   blocking pool; beyond that an attempt is refused at once
//!   ([`VerifyError::Busy`]) rather than queued, since every Argon2 holds
//!   19 MiB of memory while it runs.
//!
//! Throttling by client address and identifier is the caller's (the gateway
//! knows the address); [`VerifyError::counts_as_attempt`] says which refusals
//! it should count.

use crate::credentials::{
    ACCESS_TOKEN_PREFIX, constant_time_eq, hash_password, random_token, sha256_hex, verify_password,
};
use crate::model::{Connection, ConnectionId, OAuthClient};
use crate::store::{AccessGrant, ConnectionStore};
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest as _, Sha256};
use state_store::StoreError;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    StaticToken,
    OAuthToken,
    Basic,
    /// A signed JWT from one of the connection's issuers.
    Jwt,
}

impl AuthMethod {
    /// A short name for logs and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::StaticToken => "bearer",
            AuthMethod::OAuthToken => "oauth2",
            AuthMethod::Basic => "basic",
            AuthMethod::Jwt => "jwt",
        }
    }
}

/// A verified caller.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub connection: Arc<Connection>,
    pub method: AuthMethod,
    /// The token id, OAuth client id or Basic username that was used (never a secret).
    pub credential_id: String,
}

/// Why a credential was refused. Every refusal of the credential itself looks the same to the
/// client (401); the variants are for logs, throttling and the audit trail.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown or revoked credential")]
    Invalid,
    /// The same wrong credential as a recent attempt, refused from memory (no hash, no lookup).
    #[error("the same wrong credential as a recent attempt")]
    Repeated,
    #[error("the credential has expired")]
    Expired,
    #[error("the connection {0} is disabled")]
    Disabled(ConnectionId),
    /// Every password verification slot is taken: retry after this many seconds.
    #[error("too many password verifications at once")]
    Busy { retry_after: u32 },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VerifyError {
    /// Whether this refusal is a fresh attempt that a throttle should count: a credential checked
    /// and found wrong, expired or disabled. A repeated wrong credential (answered from memory), a
    /// busy verifier or a failing store says nothing new about the caller.
    pub fn counts_as_attempt(&self) -> bool {
        matches!(self, VerifyError::Invalid | VerifyError::Expired | VerifyError::Disabled(_))
    }
}

/// A SHA-256 of what a client presented: the key of both caches.
type Presented = [u8; 32];

/// A short fingerprint of the stored hash a credential was checked against (0: none, the name was
/// unknown), so that a remembered failure lapses when that hash changes.
type Fingerprint = u64;

#[derive(Debug, Clone)]
struct CacheEntry {
    connection: ConnectionId,
    method: AuthMethod,
    credential_id: String,
    /// What must still be in the connection record for the entry to hold: the
    /// token hash, the OAuth client id, or the Basic password hash.
    fingerprint: String,
    /// For OAuth2 access tokens and expiring static tokens.
    expires_at: Option<OffsetDateTime>,
}

/// Settings of the verifier's caches and of its bound on password hashing.
#[derive(Debug, Clone, Copy)]
pub struct VerifierSettings {
    /// How long a verified credential is remembered (it is re-checked against the connection record on every use).
    pub cache_ttl: Duration,
    /// At most this many verified credentials are remembered (the least recently used go first).
    pub cache_capacity: u64,
    /// How long a wrong credential is remembered.
    pub failure_ttl: Duration,
    /// At most this many wrong credentials are remembered (the least recently used go first).
    pub failure_capacity: u64,
    /// Argon2 verifications running at once; 0: one per CPU.
    pub max_concurrent_hashes: usize,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(300),
            cache_capacity: 10_000,
            failure_ttl: Duration::from_secs(900),
            failure_capacity: 65_536,
            max_concurrent_hashes: 0,
        }
    }
}

impl VerifierSettings {
    /// The bound on concurrent Argon2 verifications, with 0 resolved to the number of CPUs.
    pub fn hash_concurrency(&self) -> usize {
        match self.max_concurrent_hashes {
            0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            n => n,
        }
    }
}

/// Where Basic user names and OAuth client ids point: the connection and the stored Argon2 hash.
#[derive(Debug, Default)]
struct CredentialIndex {
    basic: HashMap<String, (ConnectionId, String)>,
    clients: HashMap<String, (ConnectionId, String)>,
}

impl CredentialIndex {
    fn of(connections: Vec<Connection>) -> Self {
        let mut index = Self::default();
        // `list` is sorted by id: where two connections claim one name, the first keeps it, as before.
        for c in connections {
            if let Some(basic) = &c.credentials.basic {
                index
                    .basic
                    .entry(basic.username.clone())
                    .or_insert_with(|| (c.id.clone(), basic.password_hash.clone()));
            }
            for client in &c.credentials.oauth_clients {
                index
                    .clients
                    .entry(client.client_id.clone())
                    .or_insert_with(|| (c.id.clone(), client.secret_hash.clone()));
            }
        }
        index
    }
}

/// Verifies credentials against the connections in a [`ConnectionStore`].
pub struct CredentialVerifier {
    store: ConnectionStore,
    verified: Cache<Presented, CacheEntry>,
    /// Wrong Basic passwords and client secrets, with the fingerprint of the hash each was checked against.
    failures: Cache<Presented, Fingerprint>,
    /// Unknown bearer tokens, for the store's `cache_ttl` only: a token can be indexed a moment after
    /// a client first presents it (a connection from the configuration file, loaded by a replica
    /// that starts later), and must then be accepted as soon as any other change would be.
    unknown_tokens: Cache<Presented, ()>,
    /// The index, when it was built, and the store's change count then.
    index: Mutex<Option<(Instant, u64, Arc<CredentialIndex>)>>,
    /// One rebuild of the index at a time: the others wait for it rather than read the store too.
    rebuilding: tokio::sync::Mutex<()>,
    hashes: Arc<Semaphore>,
    /// Argon2 verifications run so far.
    hashed: AtomicU64,
}

impl std::fmt::Debug for CredentialVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CredentialVerifier")
            .field("verified", &self.verified.entry_count())
            .field("failures", &self.failures.entry_count())
            .field("hash_slots", &self.hashes.available_permits())
            .finish_non_exhaustive()
    }
}

impl CredentialVerifier {
    pub fn new(store: ConnectionStore, settings: VerifierSettings) -> Self {
        let verified = Cache::builder()
            .max_capacity(settings.cache_capacity)
            .time_to_live(settings.cache_ttl)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        let failures = Cache::builder()
            .max_capacity(settings.failure_capacity)
            .time_to_live(settings.failure_ttl)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        let unknown_tokens = Cache::builder()
            .max_capacity(settings.failure_capacity)
            .time_to_live(store.cache_ttl().max(Duration::from_millis(100)))
            .eviction_policy(EvictionPolicy::lru())
            .build();
        Self {
            store,
            verified,
            failures,
            unknown_tokens,
            index: Mutex::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
            hashes: Arc::new(Semaphore::new(settings.hash_concurrency())),
            hashed: AtomicU64::new(0),
        }
    }

    /// The store the verifier reads.
    pub fn store(&self) -> &ConnectionStore {
        &self.store
    }

    /// Verifies a bearer token: a static token or an OAuth2 access token.
    ///
    /// # Errors
    /// [`VerifyError`] when the token is unknown, revoked or expired, the
    /// connection is disabled, or the state store fails.
    pub async fn verify_bearer(&self, token: &str) -> Result<Authenticated, VerifyError> {
        // The token's own SHA-256 is both the cache key and the index key: tokens are long and random,
        // and cannot be mistaken for another kind's digest (those hash NUL-separated parts).
        let presented: Presented = Sha256::digest(token.as_bytes()).into();
        if let Some(hit) = self.cached(&presented).await? {
            return Ok(hit);
        }
        if self.unknown_tokens.contains_key(&presented) {
            return Err(VerifyError::Repeated);
        }
        let hash = hex::encode(presented);
        let entry = if token.starts_with(ACCESS_TOKEN_PREFIX) {
            let Some(grant) = self.store.find_access_token(&hash).await? else {
                return Err(self.unknown_token(presented));
            };
            let expires_at = OffsetDateTime::from_unix_timestamp(grant.expires_at).map_err(|_| VerifyError::Invalid)?;
            CacheEntry {
                connection: grant.connection,
                method: AuthMethod::OAuthToken,
                credential_id: grant.client_id.clone(),
                fingerprint: grant.client_id,
                expires_at: Some(expires_at),
            }
        } else {
            let Some(indexed) = self.store.find_token(&hash).await? else {
                return Err(self.unknown_token(presented));
            };
            CacheEntry {
                connection: indexed.connection,
                method: AuthMethod::StaticToken,
                credential_id: indexed.token_id,
                fingerprint: hash,
                expires_at: None,
            }
        };
        match self.admit(presented, entry).await {
            // A revoked token or a deleted connection never comes back; a disabled connection may.
            Err(VerifyError::Invalid) => Err(self.unknown_token(presented)),
            other => other,
        }
    }

    /// Verifies a bearer token from the cache of verified credentials alone: `None` when it is not
    /// there (the caller then throttles and verifies it with [`CredentialVerifier::verify_bearer`]).
    /// A hit costs one SHA-256 and the connection record from the store's cache.
    ///
    /// # Errors
    /// As [`CredentialVerifier::verify_bearer`], for a cached token that no longer holds.
    pub async fn verify_cached_bearer(&self, token: &str) -> Result<Option<Authenticated>, VerifyError> {
        let presented: Presented = Sha256::digest(token.as_bytes()).into();
        self.cached(&presented).await
    }

    /// Verifies an HTTP Basic username and password.
    ///
    /// # Errors
    /// [`VerifyError`] as for [`CredentialVerifier::verify_bearer`], and [`VerifyError::Busy`] when
    /// every password verification slot is taken.
    pub async fn verify_basic(&self, username: &str, password: &str) -> Result<Authenticated, VerifyError> {
        let presented = digest(&["basic", username, password]);
        if let Some(hit) = self.cached(&presented).await? {
            return Ok(hit);
        }
        let index = self.index().await?;
        let found = index.basic.get(username);
        let fingerprint = fingerprint(found.map(|(_, phc)| phc.as_str()));
        if self.failures.get(&presented) == Some(fingerprint) {
            return Err(VerifyError::Repeated);
        }
        let phc = found.map_or_else(|| DUMMY_HASH.clone(), |(_, phc)| phc.clone());
        if !self.password_matches(password, phc).await? {
            return Err(self.remember_failure(presented, fingerprint));
        }
        let Some((connection, phc)) = found.cloned() else { return Err(VerifyError::Invalid) };
        let entry = CacheEntry {
            connection,
            method: AuthMethod::Basic,
            credential_id: username.to_owned(),
            fingerprint: phc,
            expires_at: None,
        };
        self.admit(presented, entry).await
    }

    /// Verifies OAuth2 client credentials (at the token endpoint) and returns the connection and client.
    ///
    /// # Errors
    /// [`VerifyError`] when the client is unknown, the secret wrong, the connection disabled, every
    /// password verification slot is taken, or the store fails.
    pub async fn verify_client(&self, client_id: &str, secret: &str) -> Result<(Connection, OAuthClient), VerifyError> {
        let presented = digest(&["client", client_id, secret]);
        let index = self.index().await?;
        let found = index.clients.get(client_id);
        let fingerprint = fingerprint(found.map(|(_, phc)| phc.as_str()));
        if self.failures.get(&presented) == Some(fingerprint) {
            return Err(VerifyError::Repeated);
        }
        let phc = found.map_or_else(|| DUMMY_HASH.clone(), |(_, phc)| phc.clone());
        if !self.password_matches(secret, phc).await? {
            return Err(self.remember_failure(presented, fingerprint));
        }
        let Some((id, _)) = found else { return Err(VerifyError::Invalid) };
        // The index is a hint: the client must still be in the connection's current record.
        let connection = self.store.get_shared(id).await?.ok_or(VerifyError::Invalid)?;
        let client = connection
            .credentials
            .oauth_clients
            .iter()
            .find(|k| constant_time_eq(&k.client_id, client_id) && verify_same_hash(k, found))
            .cloned()
            .ok_or(VerifyError::Invalid)?;
        if !connection.enabled {
            return Err(VerifyError::Disabled(connection.id.clone()));
        }
        Ok(((*connection).clone(), client))
    }

    /// Issues a short-lived OAuth2 access token for `client` of `connection`,
    /// stored hashed with its TTL so that every replica accepts it.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn issue_access_token(
        &self,
        connection: &Connection,
        client: &OAuthClient,
    ) -> Result<(SecretString, u32), StoreError> {
        let ttl = client.token_ttl_seconds.max(1);
        let token = random_token(ACCESS_TOKEN_PREFIX);
        let expires_at = OffsetDateTime::now_utc().unix_timestamp() + i64::from(ttl);
        let grant = AccessGrant { connection: connection.id.clone(), client_id: client.client_id.clone(), expires_at };
        self.store
            .put_access_token(&sha256_hex(token.expose_secret()), &grant, Duration::from_secs(ttl.into()))
            .await?;
        Ok((token, ttl))
    }

    /// Forgets every cached verification, remembered failure and the credential index (e.g. after
    /// a change through this replica).
    pub fn clear_cache(&self) {
        self.verified.invalidate_all();
        self.failures.invalidate_all();
        self.unknown_tokens.invalidate_all();
        *self.index.lock() = None;
    }

    /// How many Argon2 verifications this verifier has run.
    pub fn password_checks(&self) -> u64 {
        self.hashed.load(Ordering::Relaxed)
    }

    /// How many verified credentials are cached now.
    pub fn cached_credentials(&self) -> u64 {
        self.verified.run_pending_tasks();
        self.verified.entry_count()
    }

    /// Runs one Argon2 verification on the blocking pool, if a slot is free.
    async fn password_matches(&self, password: &str, phc: String) -> Result<bool, VerifyError> {
        let Ok(slot) = self.hashes.clone().try_acquire_owned() else {
            metrics::counter!("connections_password_checks_refused_total").increment(1);
            return Err(VerifyError::Busy { retry_after: 1 });
        };
        self.hashed.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("connections_password_checks_total").increment(1);
        let password = password.to_owned();
        // The slot moves into the blocking task: it is held until the hash is done, even when the
        // request that asked has gone away.
        let matched = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            verify_password(&password, &phc)
        })
        .await
        .unwrap_or(false);
        Ok(matched)
    }

    fn unknown_token(&self, presented: Presented) -> VerifyError {
        self.unknown_tokens.insert(presented, ());
        VerifyError::Invalid
    }

    fn remember_failure(&self, presented: Presented, fingerprint: Fingerprint) -> VerifyError {
        self.failures.insert(presented, fingerprint);
        VerifyError::Invalid
    }

    /// The Basic and OAuth client index, rebuilt from the store when older than its `cache_ttl` or
    /// when a change was made through the store since (so that this process sees its own at once).
    async fn index(&self) -> Result<Arc<CredentialIndex>, StoreError> {
        let fresh = |slot: &Option<(Instant, u64, Arc<CredentialIndex>)>| {
            slot.as_ref()
                .filter(|(at, changes, _)| at.elapsed() < self.store.cache_ttl() && *changes == self.store.changes())
                .map(|(_, _, index)| index.clone())
        };
        if let Some(index) = fresh(&self.index.lock()) {
            return Ok(index);
        }
        let _rebuilding = self.rebuilding.lock().await;
        if let Some(index) = fresh(&self.index.lock()) {
            return Ok(index);
        }
        let changes = self.store.changes();
        let index = Arc::new(CredentialIndex::of(self.store.list().await?));
        *self.index.lock() = Some((Instant::now(), changes, index.clone()));
        Ok(index)
    }

    async fn cached(&self, key: &Presented) -> Result<Option<Authenticated>, VerifyError> {
        let Some(entry) = self.verified.get(key) else { return Ok(None) };
        match self.check(&entry).await {
            Ok(hit) => Ok(Some(hit)),
            Err(e) => {
                self.verified.invalidate(key);
                Err(e)
            }
        }
    }

    async fn admit(&self, key: Presented, entry: CacheEntry) -> Result<Authenticated, VerifyError> {
        let verified = self.check(&entry).await?;
        self.verified.insert(key, entry);
        Ok(verified)
    }

    /// Checks an entry against the current connection record.
    async fn check(&self, entry: &CacheEntry) -> Result<Authenticated, VerifyError> {
        let now = OffsetDateTime::now_utc();
        if entry.expires_at.is_some_and(|at| at <= now) {
            return Err(VerifyError::Expired);
        }
        let connection = self.store.get_shared(&entry.connection).await?.ok_or(VerifyError::Invalid)?;
        let creds = &connection.credentials;
        let still_there = match entry.method {
            AuthMethod::StaticToken => {
                match creds
                    .bearer_tokens
                    .iter()
                    .find(|t| constant_time_eq(&t.sha256.to_ascii_lowercase(), &entry.fingerprint))
                {
                    Some(token) if token.expires_at.is_some_and(|at| at <= now) => return Err(VerifyError::Expired),
                    Some(_) => true,
                    None => false,
                }
            }
            AuthMethod::OAuthToken => creds.oauth_clients.iter().any(|c| c.client_id == entry.fingerprint),
            // JWTs are verified by the gateway's `jwt` module and never cached here.
            AuthMethod::Jwt => false,
            AuthMethod::Basic => {
                creds.basic.as_ref().is_some_and(|b| constant_time_eq(&b.password_hash, &entry.fingerprint))
            }
        };
        if !still_there {
            return Err(VerifyError::Invalid);
        }
        if !connection.enabled {
            return Err(VerifyError::Disabled(connection.id.clone()));
        }
        Ok(Authenticated { connection, method: entry.method, credential_id: entry.credential_id.clone() })
    }
}

/// Whether the connection record's client still has the hash the index held (it was verified against it).
fn verify_same_hash(client: &OAuthClient, indexed: Option<&(ConnectionId, String)>) -> bool {
    indexed.is_some_and(|(_, phc)| constant_time_eq(&client.secret_hash, phc))
}

/// SHA-256 over `parts`, each followed by a NUL (which no header value or form field can hold).
fn digest(parts: &[&str]) -> Presented {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    hasher.finalize().into()
}

fn fingerprint(phc: Option<&str>) -> Fingerprint {
    phc.map_or(0, |phc| {
        let hash = Sha256::digest(phc.as_bytes());
        u64::from_be_bytes(hash[..8].try_into().unwrap_or_default()).max(1)
    })
}

/// A hash nobody's password matches, verified against when a username or client id is unknown.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    hash_password(&SecretString::from(random_token("dummy_").expose_secret().to_owned())).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::{basic_credential, issue_oauth_client, issue_token};
    use state_store::LocalStore;

    fn store() -> ConnectionStore {
        ConnectionStore::new(Arc::new(LocalStore::in_memory().unwrap()), Duration::from_secs(5))
    }

    fn connection(id: &str) -> Connection {
        serde_json::from_value(serde_json::json!({"id": id, "secretServer": "primary"})).unwrap()
    }

    #[tokio::test]
    async fn a_static_token_finds_its_connection_until_it_is_revoked() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let issued = issue_token(None, None);
        let mut okta = connection("okta");
        okta.credentials.bearer_tokens.push(issued.credential.clone());
        store.put(&okta).await.unwrap();

        let who = verifier.verify_bearer(issued.token.expose_secret()).await.unwrap();
        assert_eq!((who.connection.id.as_str(), who.method), ("okta", AuthMethod::StaticToken));
        assert_eq!(who.credential_id, issued.credential.id);
        assert!(matches!(verifier.verify_bearer("scimc_wrong").await, Err(VerifyError::Invalid)));

        okta.credentials.bearer_tokens.clear();
        store.put(&okta).await.unwrap();
        assert!(matches!(verifier.verify_bearer(issued.token.expose_secret()).await, Err(VerifyError::Invalid)));
    }

    #[tokio::test]
    async fn a_disabled_connection_is_refused_even_from_the_cache() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let issued = issue_token(None, None);
        let mut okta = connection("okta");
        okta.credentials.bearer_tokens.push(issued.credential.clone());
        store.put(&okta).await.unwrap();
        verifier.verify_bearer(issued.token.expose_secret()).await.unwrap();
        okta.enabled = false;
        store.put(&okta).await.unwrap();
        assert!(matches!(verifier.verify_bearer(issued.token.expose_secret()).await, Err(VerifyError::Disabled(_))));
    }

    #[tokio::test]
    async fn an_expired_static_token_is_refused() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let issued = issue_token(None, Some(OffsetDateTime::now_utc() - time::Duration::seconds(1)));
        let mut okta = connection("okta");
        okta.credentials.bearer_tokens.push(issued.credential.clone());
        store.put(&okta).await.unwrap();
        assert!(matches!(verifier.verify_bearer(issued.token.expose_secret()).await, Err(VerifyError::Expired)));
    }

    #[tokio::test]
    async fn client_credentials_get_an_access_token_that_authenticates_until_the_client_is_removed() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let issued = issue_oauth_client(60).unwrap();
        let mut okta = connection("okta");
        okta.credentials.oauth_clients.push(issued.client.clone());
        store.put(&okta).await.unwrap();

        assert!(matches!(verifier.verify_client(&issued.client.client_id, "nope").await, Err(VerifyError::Invalid)));
        let (conn, client) =
            verifier.verify_client(&issued.client.client_id, issued.client_secret.expose_secret()).await.unwrap();
        let (token, ttl) = verifier.issue_access_token(&conn, &client).await.unwrap();
        assert_eq!(ttl, 60);
        let who = verifier.verify_bearer(token.expose_secret()).await.unwrap();
        assert_eq!((who.connection.id.as_str(), who.method), ("okta", AuthMethod::OAuthToken));

        okta.credentials.oauth_clients.clear();
        store.put(&okta).await.unwrap();
        assert!(matches!(verifier.verify_bearer(token.expose_secret()).await, Err(VerifyError::Invalid)));
    }

    #[tokio::test]
    async fn basic_credentials_verify_and_a_new_password_replaces_the_old() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let mut okta = connection("okta");
        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("pw-1")).unwrap());
        store.put(&okta).await.unwrap();
        assert_eq!(verifier.verify_basic("okta-sync", "pw-1").await.unwrap().connection.id.as_str(), "okta");
        assert!(matches!(verifier.verify_basic("okta-sync", "pw-2").await, Err(VerifyError::Invalid)));
        assert!(matches!(verifier.verify_basic("nobody", "pw-1").await, Err(VerifyError::Invalid)));

        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("pw-2")).unwrap());
        store.put(&okta).await.unwrap();
        assert!(matches!(verifier.verify_basic("okta-sync", "pw-1").await, Err(VerifyError::Invalid)));
        assert!(verifier.verify_basic("okta-sync", "pw-2").await.is_ok());
    }

    #[tokio::test]
    async fn the_same_wrong_password_again_is_refused_from_memory_without_a_hash() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let mut okta = connection("okta");
        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("pw-1")).unwrap());
        store.put(&okta).await.unwrap();

        assert!(matches!(verifier.verify_basic("okta-sync", "guess").await, Err(VerifyError::Invalid)));
        assert_eq!(verifier.password_checks(), 1);
        for _ in 0..5 {
            assert!(matches!(verifier.verify_basic("okta-sync", "guess").await, Err(VerifyError::Repeated)));
        }
        assert!(matches!(verifier.verify_basic("nobody", "guess").await, Err(VerifyError::Invalid)));
        assert!(matches!(verifier.verify_basic("nobody", "guess").await, Err(VerifyError::Repeated)));
        assert_eq!(verifier.password_checks(), 2, "one hash per distinct wrong credential");

        // Once the password changes to what was a wrong guess, that guess is checked again, and holds.
        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("guess")).unwrap());
        store.put(&okta).await.unwrap();
        verifier.clear_cache();
        assert_eq!(verifier.verify_basic("okta-sync", "guess").await.unwrap().connection.id.as_str(), "okta");
    }

    #[tokio::test]
    async fn a_remembered_failure_lapses_when_another_replica_changes_the_password() {
        let state: Arc<dyn state_store::StateStore> = Arc::new(LocalStore::in_memory().unwrap());
        let mine = ConnectionStore::new(state.clone(), Duration::from_millis(50));
        let theirs = ConnectionStore::new(state, Duration::from_millis(50));
        let verifier = CredentialVerifier::new(mine, VerifierSettings::default());
        let mut okta = connection("okta");
        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("old")).unwrap());
        theirs.put(&okta).await.unwrap();
        assert!(matches!(verifier.verify_basic("okta-sync", "new").await, Err(VerifyError::Invalid)));

        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("new")).unwrap());
        theirs.put(&okta).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            match verifier.verify_basic("okta-sync", "new").await {
                Ok(who) => break assert_eq!(who.connection.id.as_str(), "okta"),
                Err(e) => assert!(tokio::time::Instant::now() < deadline, "the new password never held: {e}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    #[tokio::test]
    async fn an_unknown_bearer_token_is_remembered_for_the_store_cache_ttl_only() {
        let store = store();
        let verifier = CredentialVerifier::new(store.clone(), VerifierSettings::default());
        let issued = issue_token(None, None);
        let token = issued.token.expose_secret();
        assert!(matches!(verifier.verify_bearer(token).await, Err(VerifyError::Invalid)));
        assert!(matches!(verifier.verify_bearer(token).await, Err(VerifyError::Repeated)));
        // The token is indexed a moment later (a connection from a file that another replica loads).
        let mut okta = connection("okta");
        okta.credentials.bearer_tokens.push(issued.credential.clone());
        store.put(&okta).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while verifier.verify_bearer(token).await.is_err() {
            assert!(tokio::time::Instant::now() < deadline, "the newly indexed token was never accepted");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test]
    async fn beyond_the_bound_on_password_checks_an_attempt_is_refused_at_once_as_busy() {
        let store = store();
        let settings = VerifierSettings { max_concurrent_hashes: 2, ..VerifierSettings::default() };
        let verifier = CredentialVerifier::new(store.clone(), settings);
        let mut okta = connection("okta");
        okta.credentials.basic = Some(basic_credential("okta-sync", &SecretString::from("pw-1")).unwrap());
        store.put(&okta).await.unwrap();

        let taken = verifier.hashes.clone().acquire_many_owned(2).await.unwrap();
        assert!(matches!(verifier.verify_basic("okta-sync", "pw-1").await, Err(VerifyError::Busy { retry_after: 1 })));
        assert!(matches!(verifier.verify_client("client_x", "secret").await, Err(VerifyError::Busy { .. })));
        assert_eq!(verifier.password_checks(), 0);
        drop(taken);
        assert!(verifier.verify_basic("okta-sync", "pw-1").await.is_ok());
    }

    #[tokio::test]
    async fn a_full_cache_of_verified_credentials_drops_the_least_recently_used_not_everything() {
        let store = store();
        let settings = VerifierSettings { cache_capacity: 3, ..VerifierSettings::default() };
        let verifier = CredentialVerifier::new(store.clone(), settings);
        let mut okta = connection("okta");
        let issued: Vec<_> = (0..5).map(|_| issue_token(None, None)).collect();
        okta.credentials.bearer_tokens = issued.iter().map(|i| i.credential.clone()).collect();
        store.put(&okta).await.unwrap();
        for token in &issued {
            verifier.verify_bearer(token.token.expose_secret()).await.unwrap();
        }
        assert_eq!(verifier.cached_credentials(), 3, "the three most recent stay cached");
        let last = issued.last().unwrap().token.expose_secret();
        assert!(verifier.verify_cached_bearer(last).await.unwrap().is_some());
    }

    #[test]
    fn only_checked_credentials_count_as_attempts() {
        assert!(VerifyError::Invalid.counts_as_attempt());
        assert!(VerifyError::Expired.counts_as_attempt());
        assert!(!VerifyError::Repeated.counts_as_attempt());
        assert!(!VerifyError::Busy { retry_after: 1 }.counts_as_attempt());
    }
}
