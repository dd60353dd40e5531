//! Namespaced key-value state that must survive a restart: the adapter's
//! attribute store, resource metadata and cursor key, the gateway's
//! connections and OAuth2 tokens.
//!
//! A namespace is a flat map from key to bytes (`users:primary` →
//! `{"42": ...}`). Two backends implement [`StateStore`]:
//! - [`RedisStore`]: one Redis hash per namespace (`<prefix>:state:<namespace>`),
//!   so that loading a namespace is one `HGETALL`-style scan and several
//!   processes (gateway replicas, the adapter) share it; expiring entries are
//!   plain keys with a TTL, because hash fields cannot expire on Redis 6.2.
//! - [`LocalStore`]: SQLite in the data directory for `scim-connector dev`
//!   (or in memory for tests). It is process-local: only one process may use
//!   a given file.

mod local;
mod redis_store;
#[cfg(feature = "testing")]
pub mod testing;

pub use local::LocalStore;
pub use redis_store::RedisStore;

use async_trait::async_trait;
use bytes::Bytes;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Errors of the state backend.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state store unavailable: {0}")]
    Unavailable(String),
    /// A setting that cannot work (a Redis URL, a certificate file), named.
    #[error("state store configuration: {0}")]
    Config(String),
    #[error("state store failure: {0}")]
    Backend(String),
}

/// One write of a [`StateStore::write_batch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    /// As [`StateStore::put`].
    Put { namespace: String, key: String, value: Bytes },
    /// As [`StateStore::put_expiring`].
    PutExpiring { namespace: String, key: String, value: Bytes, ttl: Duration },
}

/// Namespaced key-value state.
#[async_trait]
pub trait StateStore: Send + Sync + fmt::Debug + 'static {
    /// # Errors
    /// When the backend fails.
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// Stores `value` under `key`, replacing any previous value.
    ///
    /// # Errors
    /// When the backend fails.
    async fn put(&self, namespace: &str, key: &str, value: Bytes) -> Result<(), StoreError>;

    /// Stores many entries at once (one round trip where the backend allows it).
    ///
    /// # Errors
    /// When the backend fails.
    async fn put_many(&self, namespace: &str, entries: Vec<(String, Bytes)>) -> Result<(), StoreError>;

    /// Stores `value` under `key` unless the key holds a value already, atomically, and returns
    /// the value the key holds afterwards: `value` when this call stored it, else the one stored
    /// first. Several processes racing to create the same entry (a key shared by replicas) all end
    /// with the same value.
    ///
    /// # Errors
    /// When the backend fails.
    async fn put_if_absent(&self, namespace: &str, key: &str, value: Bytes) -> Result<Bytes, StoreError>;

    /// Applies `writes`, all or none, in one round trip where the backend allows it (a Redis
    /// transaction, an SQLite transaction). The default applies them one by one, in order.
    ///
    /// # Errors
    /// When the backend fails; then none of the writes is applied (by the default, a prefix may be).
    async fn write_batch(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        for write in writes {
            match write {
                Write::Put { namespace, key, value } => self.put(&namespace, &key, value).await?,
                Write::PutExpiring { namespace, key, value, ttl } => {
                    self.put_expiring(&namespace, &key, value, ttl).await?;
                }
            }
        }
        Ok(())
    }

    /// Removes `key`; returns whether it existed.
    ///
    /// # Errors
    /// When the backend fails.
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError>;

    /// Every entry of the namespace, in no particular order.
    ///
    /// # Errors
    /// When the backend fails.
    async fn load_all(&self, namespace: &str) -> Result<Vec<(String, Bytes)>, StoreError>;

    /// Stores an entry that disappears after `ttl` (OAuth2 access tokens, rate windows).
    ///
    /// # Errors
    /// When the backend fails.
    async fn put_expiring(&self, namespace: &str, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError>;

    /// Reads an entry written by [`StateStore::put_expiring`]; `None` once it expired.
    ///
    /// # Errors
    /// When the backend fails.
    async fn get_expiring(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError>;

    /// Removes an expiring entry before its time.
    ///
    /// # Errors
    /// When the backend fails.
    async fn delete_expiring(&self, namespace: &str, key: &str) -> Result<bool, StoreError>;

    /// Checks that the backend answers (for `/readyz`).
    ///
    /// # Errors
    /// When the backend does not answer.
    async fn ping(&self) -> Result<(), StoreError>;
}

/// Opens the store the settings ask for: Redis when it is configured, else a
/// local SQLite file (or memory when `path` is `None`).
///
/// # Errors
/// An invalid Redis setting, Redis cannot be reached, or the file cannot be opened.
pub async fn open(
    redis: Option<&redis_connect::RedisSettings>,
    prefix: &str,
    local_path: Option<&std::path::Path>,
) -> Result<Arc<dyn StateStore>, StoreError> {
    match redis {
        Some(settings) => Ok(Arc::new(RedisStore::connect(settings, prefix).await?)),
        None => Ok(Arc::new(match local_path {
            Some(path) => LocalStore::open(path)?,
            None => LocalStore::in_memory()?,
        })),
    }
}

#[cfg(test)]
pub(crate) mod conformance {
    //! The behaviour both backends must share.
    use super::*;

    pub(crate) async fn values_round_trip_per_namespace(store: &dyn StateStore) {
        store.put("users", "1", Bytes::from_static(b"alice")).await.unwrap();
        store.put("groups", "1", Bytes::from_static(b"admins")).await.unwrap();
        assert_eq!(store.get("users", "1").await.unwrap().as_deref(), Some(&b"alice"[..]));
        assert_eq!(store.get("groups", "1").await.unwrap().as_deref(), Some(&b"admins"[..]));
        assert_eq!(store.get("users", "2").await.unwrap(), None);
    }

    pub(crate) async fn put_replaces_and_delete_reports_existence(store: &dyn StateStore) {
        store.put("users", "1", Bytes::from_static(b"a")).await.unwrap();
        store.put("users", "1", Bytes::from_static(b"b")).await.unwrap();
        assert_eq!(store.get("users", "1").await.unwrap().as_deref(), Some(&b"b"[..]));
        assert!(store.delete("users", "1").await.unwrap());
        assert!(!store.delete("users", "1").await.unwrap());
        assert_eq!(store.get("users", "1").await.unwrap(), None);
    }

    pub(crate) async fn load_all_returns_every_entry_of_one_namespace(store: &dyn StateStore) {
        let entries: Vec<(String, Bytes)> = (0..2500).map(|i| (i.to_string(), Bytes::from(format!("v{i}")))).collect();
        store.put_many("bulk", entries).await.unwrap();
        store.put("other", "x", Bytes::from_static(b"y")).await.unwrap();
        let mut all = store.load_all("bulk").await.unwrap();
        all.sort_by_key(|(k, _)| k.parse::<u32>().unwrap());
        assert_eq!(all.len(), 2500);
        assert_eq!(all[1234], ("1234".to_owned(), Bytes::from("v1234")));
    }

    pub(crate) async fn put_if_absent_keeps_the_first_value(store: &dyn StateStore) {
        let first = store.put_if_absent("keys", "k", Bytes::from_static(b"first")).await.unwrap();
        assert_eq!(first.as_ref(), b"first");
        let second = store.put_if_absent("keys", "k", Bytes::from_static(b"second")).await.unwrap();
        assert_eq!(second.as_ref(), b"first", "the value stored first is kept and returned");
        assert_eq!(store.get("keys", "k").await.unwrap().as_deref(), Some(&b"first"[..]));
        assert_eq!(store.get("other-keys", "k").await.unwrap(), None, "per namespace");
    }

    pub(crate) async fn racing_put_if_absent_calls_agree_on_one_value(a: &dyn StateStore, b: &dyn StateStore) {
        let (x, y, z) = tokio::join!(
            a.put_if_absent("race", "k", Bytes::from_static(b"x")),
            b.put_if_absent("race", "k", Bytes::from_static(b"y")),
            a.put_if_absent("race", "k", Bytes::from_static(b"z")),
        );
        let (x, y, z) = (x.unwrap(), y.unwrap(), z.unwrap());
        assert!(x == y && y == z, "{x:?} {y:?} {z:?}");
        assert!([&b"x"[..], b"y", b"z"].contains(&x.as_ref()));
        assert_eq!(a.get("race", "k").await.unwrap(), Some(x));
    }

    pub(crate) async fn a_batch_applies_every_write(store: &dyn StateStore) {
        let hour = Duration::from_secs(3600);
        store.put("batch", "1", Bytes::from_static(b"old")).await.unwrap();
        store
            .write_batch(vec![
                Write::Put { namespace: "batch".into(), key: "1".into(), value: Bytes::from_static(b"new") },
                Write::Put { namespace: "batch-2".into(), key: "2".into(), value: Bytes::from_static(b"two") },
                Write::PutExpiring {
                    namespace: "batch".into(),
                    key: "1".into(),
                    value: Bytes::from_static(b"expiring"),
                    ttl: hour,
                },
            ])
            .await
            .unwrap();
        assert_eq!(store.get("batch", "1").await.unwrap().as_deref(), Some(&b"new"[..]));
        assert_eq!(store.get("batch-2", "2").await.unwrap().as_deref(), Some(&b"two"[..]));
        assert_eq!(store.get_expiring("batch", "1").await.unwrap().as_deref(), Some(&b"expiring"[..]));
        store.write_batch(Vec::new()).await.unwrap();
    }

    pub(crate) async fn expiring_entries_disappear_after_their_ttl(store: &dyn StateStore) {
        store.put_expiring("tokens", "t", Bytes::from_static(b"conn"), Duration::from_millis(1200)).await.unwrap();
        assert_eq!(store.get_expiring("tokens", "t").await.unwrap().as_deref(), Some(&b"conn"[..]));
        // Expiry runs on the backend's clock (Redis, SQLite's whole seconds): await it.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while store.get_expiring("tokens", "t").await.unwrap().is_some() {
            assert!(tokio::time::Instant::now() < deadline, "the entry did not expire");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        store.put_expiring("tokens", "u", Bytes::from_static(b"conn"), Duration::from_secs(60)).await.unwrap();
        assert!(store.delete_expiring("tokens", "u").await.unwrap());
        assert_eq!(store.get_expiring("tokens", "u").await.unwrap(), None);
    }
}
