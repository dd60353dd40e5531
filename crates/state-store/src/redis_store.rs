//! The Redis backend: one hash per namespace, plain keys with a TTL for
//! expiring entries, through a reconnecting connection of `redis-connect` (the
//! same settings as the job queue: URL or Sentinel, TLS, ACL user).

use crate::{StateStore, StoreError, Write};
use async_trait::async_trait;
use bytes::Bytes;
use redis::AsyncCommands;
use redis_connect::{Connection, Redis, RedisSettings};
use std::time::Duration;

/// State in Redis.
#[derive(Clone)]
pub struct RedisStore {
    conn: Connection,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl RedisStore {
    /// Connects to the Redis of `settings`; every key starts with `prefix`.
    ///
    /// # Errors
    /// [`StoreError::Config`] for an invalid setting (named), [`StoreError::Unavailable`] when
    /// Redis does not answer.
    pub async fn connect(settings: &RedisSettings, prefix: &str) -> Result<Self, StoreError> {
        let redis = Redis::new(settings).map_err(|e| StoreError::Config(e.to_string()))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(5)))
            .set_response_timeout(Some(Duration::from_secs(10)));
        let conn = redis.connect(config).await.map_err(unavailable)?;
        Ok(Self { conn, prefix: prefix.to_owned() })
    }

    fn hash_key(&self, namespace: &str) -> String {
        format!("{}:state:{namespace}", self.prefix)
    }

    fn expiring_key(&self, namespace: &str, key: &str) -> String {
        format!("{}:state-exp:{namespace}:{key}", self.prefix)
    }
}

#[async_trait]
impl StateStore for RedisStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> = conn.hget(self.hash_key(namespace), key).await.map_err(unavailable)?;
        Ok(value.map(Bytes::from))
    }

    async fn put(&self, namespace: &str, key: &str, value: Bytes) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.hset::<_, _, _, ()>(self.hash_key(namespace), key, value.as_ref()).await.map_err(unavailable)
    }

    async fn put_many(&self, namespace: &str, entries: Vec<(String, Bytes)>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let hash = self.hash_key(namespace);
        // Chunks keep each command's size bounded for very large loads.
        for chunk in entries.chunks(1000) {
            let items: Vec<(&str, &[u8])> = chunk.iter().map(|(k, v)| (k.as_str(), v.as_ref())).collect();
            conn.hset_multiple::<_, _, _, ()>(&hash, &items).await.map_err(unavailable)?;
        }
        Ok(())
    }

    async fn put_if_absent(&self, namespace: &str, key: &str, value: Bytes) -> Result<Bytes, StoreError> {
        // One script, so that the write and the read are one atomic step on Redis.
        static SCRIPT: std::sync::LazyLock<redis::Script> = std::sync::LazyLock::new(|| {
            redis::Script::new(
                "redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) return redis.call('HGET', KEYS[1], ARGV[1])",
            )
        });
        let mut conn = self.conn.clone();
        let kept: Vec<u8> = SCRIPT
            .key(self.hash_key(namespace))
            .arg(key)
            .arg(value.as_ref())
            .invoke_async(&mut conn)
            .await
            .map_err(unavailable)?;
        Ok(Bytes::from(kept))
    }

    async fn write_batch(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        // MULTI/EXEC in one round trip: Redis applies the writes only when the whole transaction
        // arrived, so a connection lost on the way applies none.
        let mut pipe = redis::pipe();
        pipe.atomic();
        for write in &writes {
            match write {
                Write::Put { namespace, key, value } => {
                    pipe.hset(self.hash_key(namespace), key, value.as_ref()).ignore();
                }
                Write::PutExpiring { namespace, key, value, ttl } => {
                    let millis = ttl.as_millis().max(1) as u64;
                    pipe.cmd("SET")
                        .arg(self.expiring_key(namespace, key))
                        .arg(value.as_ref())
                        .arg("PX")
                        .arg(millis)
                        .ignore();
                }
            }
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(unavailable)
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: u64 = conn.hdel(self.hash_key(namespace), key).await.map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn load_all(&self, namespace: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        let mut conn = self.conn.clone();
        // HSCAN rather than HGETALL: a namespace may hold hundreds of thousands of
        // entries and HGETALL would block Redis while it builds one huge reply.
        let hash = self.hash_key(namespace);
        let mut cursor: u64 = 0;
        let mut out = Vec::new();
        loop {
            let (next, batch): (u64, Vec<(String, Vec<u8>)>) = redis::cmd("HSCAN")
                .arg(&hash)
                .arg(cursor)
                .arg("COUNT")
                .arg(5000)
                .query_async(&mut conn)
                .await
                .map_err(unavailable)?;
            out.extend(batch.into_iter().map(|(k, v)| (k, Bytes::from(v))));
            if next == 0 {
                return Ok(out);
            }
            cursor = next;
        }
    }

    async fn put_expiring(&self, namespace: &str, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let millis = ttl.as_millis().max(1) as u64;
        redis::cmd("SET")
            .arg(self.expiring_key(namespace, key))
            .arg(value.as_ref())
            .arg("PX")
            .arg(millis)
            .query_async::<()>(&mut conn)
            .await
            .map_err(unavailable)
    }

    async fn get_expiring(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> = conn.get(self.expiring_key(namespace, key)).await.map_err(unavailable)?;
        Ok(value.map(Bytes::from))
    }

    async fn delete_expiring(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        let removed: u64 = conn.del(self.expiring_key(namespace, key)).await.map_err(unavailable)?;
        Ok(removed > 0)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        redis::cmd("PING").query_async::<String>(&mut conn).await.map(|_| ()).map_err(unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    fn redis_url() -> String {
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
    }

    /// Tests that need Redis fail (never skip) when it is missing: CI starts one.
    async fn connect(prefix: &str) -> RedisStore {
        let url = redis_url();
        RedisStore::connect(&RedisSettings::url(url.clone()), prefix)
            .await
            .unwrap_or_else(|e| panic!("these tests need Redis at {url} (set REDIS_URL): {e}"))
    }

    async fn redis_store() -> RedisStore {
        connect(&format!("test-state-{}", uuid::Uuid::new_v4())).await
    }

    #[tokio::test]
    async fn redis_store_passes_the_conformance_suite() {
        let store = redis_store().await;
        conformance::values_round_trip_per_namespace(&store).await;
        conformance::put_replaces_and_delete_reports_existence(&store).await;
        conformance::load_all_returns_every_entry_of_one_namespace(&store).await;
        conformance::put_if_absent_keeps_the_first_value(&store).await;
        conformance::a_batch_applies_every_write(&store).await;
        conformance::expiring_entries_disappear_after_their_ttl(&store).await;
    }

    #[tokio::test]
    async fn the_store_works_over_tls_with_a_client_certificate_as_the_queue_does() {
        use redis_connect::testing::{RedisProcess, TestPki};
        let pki = TestPki::new();
        let server = RedisProcess::with_tls(&pki, true);
        let mut settings = RedisSettings::url(format!("rediss://localhost:{}", server.port));
        settings.tls.ca_file = Some(pki.ca.clone());
        settings.tls.cert_file = Some(pki.client_cert.clone());
        settings.tls.key_file = Some(pki.client_key.clone());
        let store = RedisStore::connect(&settings, "tls").await.expect("the store connects over TLS");
        conformance::values_round_trip_per_namespace(&store).await;
        conformance::put_if_absent_keeps_the_first_value(&store).await;
    }

    #[tokio::test]
    async fn an_invalid_redis_setting_is_a_configuration_error_naming_it() {
        let mut settings = RedisSettings::url("redis://127.0.0.1:6379");
        settings.tls.ca_file = Some("ca.pem".into());
        let err = RedisStore::connect(&settings, "x").await.unwrap_err();
        assert!(matches!(&err, StoreError::Config(m) if m.contains("redis_tls_ca_file")), "{err}");
    }

    #[tokio::test]
    async fn two_redis_connections_agree_on_a_value_put_if_absent() {
        let a = redis_store().await;
        let b = connect(&a.prefix).await;
        conformance::racing_put_if_absent_calls_agree_on_one_value(&a, &b).await;
    }
}
