//! Verifying what a SCIM client presents (a static bearer token, an OAuth2
//! access token, HTTP Basic, or OAuth2 client credentials at the token
//! endpoint) and finding its connection.
//!
//! Verified credentials are cached in-process (bounded, keyed by a SHA-256 of
//! what was presented, never the credential itself) so that the hot path does
//! not wait on the state store or on Argon2. A cache hit is still checked
//! against the current connection record (the connection is enabled, the token
//! hash, OAuth client or Basic hash is still there), and that record comes
//! from the [`ConnectionStore`]'s own cache. So a rotation, revocation, disable
//! or delete takes effect at once on the replica that made it, and on every
//! other replica within the store's `cache_ttl`.

use crate::credentials::{
    ACCESS_TOKEN_PREFIX, constant_time_eq, hash_password, random_token, sha256_hex, verify_password,
};
use crate::model::{Connection, ConnectionId, OAuthClient};
use crate::store::{AccessGrant, ConnectionStore};
use parking_lot::Mutex;
use secrecy::{ExposeSecret, SecretString};
use state_store::StoreError;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

/// How a request was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    StaticToken,
    OAuthToken,
    Basic,
}

impl AuthMethod {
    /// A short name for logs and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::StaticToken => "bearer",
            AuthMethod::OAuthToken => "oauth2",
            AuthMethod::Basic => "basic",
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

/// Why a credential was refused. Every refusal looks the same to the client (401);
/// the variants are for logs.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown or revoked credential")]
    Invalid,
    #[error("the credential has expired")]
    Expired,
    #[error("the connection {0} is disabled")]
    Disabled(ConnectionId),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, Clone)]
struct CacheEntry {
    connection: ConnectionId,
    method: AuthMethod,
    credential_id: String,
    /// What must still be in the connection record for the entry to hold: the
    /// token hash, the OAuth client id, or the Basic password hash.
    fingerprint: String,
    cached_at: Instant,
    /// For OAuth2 access tokens and expiring static tokens.
    expires_at: Option<OffsetDateTime>,
}

/// Settings of the in-process cache of verified credentials.
#[derive(Debug, Clone, Copy)]
pub struct VerifierSettings {
    /// How long a verified credential is remembered (it is re-checked against the connection record on every use).
    pub cache_ttl: Duration,
    /// At most this many credentials are remembered.
    pub cache_capacity: usize,
}

impl Default for VerifierSettings {
    fn default() -> Self {
        Self { cache_ttl: Duration::from_secs(300), cache_capacity: 10_000 }
    }
}

/// Verifies credentials against the connections in a [`ConnectionStore`].
#[derive(Debug)]
pub struct CredentialVerifier {
    store: ConnectionStore,
    settings: VerifierSettings,
    cache: Mutex<HashMap<String, CacheEntry>>,
}

impl CredentialVerifier {
    pub fn new(store: ConnectionStore, settings: VerifierSettings) -> Self {
        Self { store, settings, cache: Mutex::new(HashMap::new()) }
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
        let hash = sha256_hex(token);
        let cache_key = format!("bearer:{hash}");
        if let Some(hit) = self.cached(&cache_key).await? {
            return Ok(hit);
        }
        if token.starts_with(ACCESS_TOKEN_PREFIX) {
            let grant = self.store.find_access_token(&hash).await?.ok_or(VerifyError::Invalid)?;
            let expires_at = OffsetDateTime::from_unix_timestamp(grant.expires_at).map_err(|_| VerifyError::Invalid)?;
            let entry = CacheEntry {
                connection: grant.connection,
                method: AuthMethod::OAuthToken,
                credential_id: grant.client_id.clone(),
                fingerprint: grant.client_id,
                cached_at: Instant::now(),
                expires_at: Some(expires_at),
            };
            return self.admit(cache_key, entry).await;
        }
        let indexed = self.store.find_token(&hash).await?.ok_or(VerifyError::Invalid)?;
        let entry = CacheEntry {
            connection: indexed.connection,
            method: AuthMethod::StaticToken,
            credential_id: indexed.token_id,
            fingerprint: hash,
            cached_at: Instant::now(),
            expires_at: None,
        };
        self.admit(cache_key, entry).await
    }

    /// Verifies an HTTP Basic username and password.
    ///
    /// # Errors
    /// [`VerifyError`] as for [`CredentialVerifier::verify_bearer`].
    pub async fn verify_basic(&self, username: &str, password: &str) -> Result<Authenticated, VerifyError> {
        let cache_key = format!("basic:{}", sha256_hex(&format!("{username}\u{0}{password}")));
        if let Some(hit) = self.cached(&cache_key).await? {
            return Ok(hit);
        }
        let connections = self.store.list().await?;
        let found = connections.into_iter().find_map(|c| {
            let basic = c.credentials.basic.as_ref()?;
            constant_time_eq(&basic.username, username).then(|| (c.id.clone(), basic.password_hash.clone()))
        });
        // Verify against a dummy hash when the user is unknown, so that timing does not tell which usernames exist.
        let phc = found.as_ref().map(|(_, phc)| phc.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
        let password = password.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&password, &phc)).await.unwrap_or(false);
        let (connection, phc) = match found {
            Some(found) if ok => found,
            _ => return Err(VerifyError::Invalid),
        };
        let entry = CacheEntry {
            connection,
            method: AuthMethod::Basic,
            credential_id: username.to_owned(),
            fingerprint: phc,
            cached_at: Instant::now(),
            expires_at: None,
        };
        self.admit(cache_key, entry).await
    }

    /// Verifies OAuth2 client credentials (at the token endpoint) and returns the connection and client.
    ///
    /// # Errors
    /// [`VerifyError`] when the client is unknown, the secret wrong, the connection disabled, or the store fails.
    pub async fn verify_client(&self, client_id: &str, secret: &str) -> Result<(Connection, OAuthClient), VerifyError> {
        let connections = self.store.list().await?;
        let found = connections.into_iter().find_map(|c| {
            let client =
                c.credentials.oauth_clients.iter().find(|k| constant_time_eq(&k.client_id, client_id))?.clone();
            Some((c, client))
        });
        let phc = found.as_ref().map(|(_, k)| k.secret_hash.clone()).unwrap_or_else(|| DUMMY_HASH.clone());
        let secret = secret.to_owned();
        let ok = tokio::task::spawn_blocking(move || verify_password(&secret, &phc)).await.unwrap_or(false);
        match found {
            Some((connection, client)) if ok => {
                if !connection.enabled {
                    return Err(VerifyError::Disabled(connection.id));
                }
                Ok((connection, client))
            }
            _ => Err(VerifyError::Invalid),
        }
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

    /// Forgets every cached verification (e.g. after a rotation through this replica).
    pub fn clear_cache(&self) {
        self.cache.lock().clear();
    }

    async fn cached(&self, key: &str) -> Result<Option<Authenticated>, VerifyError> {
        let entry = {
            let cache = self.cache.lock();
            match cache.get(key) {
                Some(e) if e.cached_at.elapsed() < self.settings.cache_ttl => e.clone(),
                _ => return Ok(None),
            }
        };
        match self.check(&entry).await {
            Ok(hit) => Ok(Some(hit)),
            Err(e) => {
                self.cache.lock().remove(key);
                Err(e)
            }
        }
    }

    async fn admit(&self, key: String, entry: CacheEntry) -> Result<Authenticated, VerifyError> {
        let verified = self.check(&entry).await?;
        let mut cache = self.cache.lock();
        if cache.len() >= self.settings.cache_capacity {
            let ttl = self.settings.cache_ttl;
            cache.retain(|_, e| e.cached_at.elapsed() < ttl);
            if cache.len() >= self.settings.cache_capacity {
                // Still full of live entries: start over rather than grow without bound.
                cache.clear();
            }
        }
        cache.insert(key, entry);
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
}
