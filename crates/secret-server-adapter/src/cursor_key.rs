//! The key that seals list cursors (RFC 9865, `scim::paging::CursorCodec`).
//!
//! A cursor must keep working after the adapter that issued it restarts, and on every replica
//! behind the gateway, so every adapter must use the same key and keep it. It is the configured
//! `cursor_secret` when there is one; otherwise a random key kept in the state store, in the
//! [`NAMESPACE`] namespace: the first adapter to start creates it, atomically
//! ([`StateStore::put_if_absent`]), so that replicas starting together end with the same key, and
//! every later start reads it back. Removing the entry (or changing `cursor_secret`) rotates the
//! key at the next start and invalidates outstanding cursors. The key of each connection's
//! `meta.version` tags is derived from it ([`crate::meta::VersionTags`]), for the same reasons: a
//! rotation changes every tag once.

use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use state_store::{StateStore, StoreError};

/// The state store namespace of the adapter's cursor key.
pub const NAMESPACE: &str = "cursor-key";
/// The entry holding the key, named by what it keys.
pub const ENTRY: &str = "hmac-sha256";
/// A generated key's length: the output size of SHA-256, as RFC 2104 recommends.
const GENERATED_KEY_LEN: usize = 32;

/// The cursor key: `configured` when set (the state store is not touched), else the one kept in
/// `state`, created there if it holds none.
///
/// # Errors
/// When the state store fails, or holds an empty key (which no adapter writes).
pub async fn resolve(configured: Option<&SecretString>, state: &dyn StateStore) -> Result<Vec<u8>, StoreError> {
    if let Some(secret) = configured {
        return Ok(secret.expose_secret().as_bytes().to_vec());
    }
    let mut fresh = vec![0u8; GENERATED_KEY_LEN];
    rand::rng().fill(&mut fresh[..]);
    let kept = state.put_if_absent(NAMESPACE, ENTRY, fresh.into()).await?;
    if kept.is_empty() {
        return Err(StoreError::Backend(format!("the cursor key in namespace {NAMESPACE:?} is empty")));
    }
    Ok(kept.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use state_store::LocalStore;

    #[tokio::test]
    async fn a_configured_secret_is_the_key_and_the_state_store_is_left_alone() {
        let state = LocalStore::in_memory().unwrap();
        let key = resolve(Some(&SecretString::from("configured")), &state).await.unwrap();
        assert_eq!(key, b"configured");
        assert_eq!(state.get(NAMESPACE, ENTRY).await.unwrap(), None);
    }

    #[tokio::test]
    async fn without_a_secret_a_random_key_is_created_once_and_then_read_back() {
        let state = LocalStore::in_memory().unwrap();
        let first = resolve(None, &state).await.unwrap();
        assert_eq!(first.len(), GENERATED_KEY_LEN);
        assert_eq!(state.get(NAMESPACE, ENTRY).await.unwrap().as_deref(), Some(&first[..]));
        assert_eq!(resolve(None, &state).await.unwrap(), first, "a restart reads the same key");
        let other = LocalStore::in_memory().unwrap();
        assert_ne!(resolve(None, &other).await.unwrap(), first, "another store, another key");
    }

    #[tokio::test]
    async fn adapters_starting_together_on_one_store_end_with_the_same_key() {
        let state = LocalStore::in_memory().unwrap();
        let (a, b) = tokio::join!(resolve(None, &state), resolve(None, &state));
        assert_eq!(a.unwrap(), b.unwrap());
    }

    #[tokio::test]
    async fn an_empty_stored_key_is_refused() {
        let state = LocalStore::in_memory().unwrap();
        state.put(NAMESPACE, ENTRY, Bytes::new()).await.unwrap();
        assert!(resolve(None, &state).await.is_err());
    }
}
