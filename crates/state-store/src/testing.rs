//! For tests (feature `testing`): a [`StateStore`] over another that counts what callers ask of
//! it, so that a test can say how many times a whole namespace was loaded or an expiring entry
//! read (a cache, a single-flight rebuild, a throttle in front of a session lookup).

use crate::{StateStore, StoreError, Write};
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Counts loads of whole namespaces and reads of expiring entries, per namespace. Each load
/// yields once before it runs, so that concurrent callers overlap in it as they do on Redis.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn StateStore>,
    loads: Mutex<HashMap<String, usize>>,
    expiring_reads: Mutex<HashMap<String, usize>>,
}

impl CountingStore {
    /// Counts what is asked of `inner`.
    pub fn over(inner: Arc<dyn StateStore>) -> Self {
        Self { inner, loads: Mutex::default(), expiring_reads: Mutex::default() }
    }

    /// How many times `namespace` was loaded whole so far.
    pub fn loads(&self, namespace: &str) -> usize {
        self.loads.lock().get(namespace).copied().unwrap_or_default()
    }

    /// How many expiring entries of `namespace` were read so far.
    pub fn expiring_reads(&self, namespace: &str) -> usize {
        self.expiring_reads.lock().get(namespace).copied().unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl StateStore for CountingStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        self.inner.get(namespace, key).await
    }
    async fn put(&self, namespace: &str, key: &str, value: Bytes) -> Result<(), StoreError> {
        self.inner.put(namespace, key, value).await
    }
    async fn put_many(&self, namespace: &str, entries: Vec<(String, Bytes)>) -> Result<(), StoreError> {
        self.inner.put_many(namespace, entries).await
    }
    async fn put_if_absent(&self, namespace: &str, key: &str, value: Bytes) -> Result<Bytes, StoreError> {
        self.inner.put_if_absent(namespace, key, value).await
    }
    async fn write_batch(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.write_batch(writes).await
    }
    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        self.inner.delete(namespace, key).await
    }
    async fn load_all(&self, namespace: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        *self.loads.lock().entry(namespace.to_owned()).or_default() += 1;
        tokio::task::yield_now().await;
        self.inner.load_all(namespace).await
    }
    async fn put_expiring(&self, namespace: &str, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        self.inner.put_expiring(namespace, key, value, ttl).await
    }
    async fn get_expiring(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        *self.expiring_reads.lock().entry(namespace.to_owned()).or_default() += 1;
        self.inner.get_expiring(namespace, key).await
    }
    async fn delete_expiring(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        self.inner.delete_expiring(namespace, key).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}
