//! The local backend: SQLite in WAL mode, one table, guarded by a mutex and
//! run on the blocking pool so that the async runtime never waits on disk.

use crate::{StateStore, StoreError, Write};
use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// State in a local SQLite file (or in memory).
#[derive(Clone)]
pub struct LocalStore {
    db: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for LocalStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalStore").finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

impl LocalStore {
    /// Opens (creating if needed) the SQLite file at `path`.
    ///
    /// # Errors
    /// When the file or its directory cannot be created or opened.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let conn = Connection::open(path).map_err(backend)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
        // NORMAL in WAL mode survives a process crash; only an OS crash may
        // lose the last transactions, which is acceptable for dev state.
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(backend)?;
        Self::init(conn)
    }

    /// A store that lives only as long as the process (tests).
    ///
    /// # Errors
    /// When SQLite cannot allocate the database.
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(backend)?)
    }

    fn init(conn: Connection) -> Result<Self, StoreError> {
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS state (
                 namespace TEXT NOT NULL,
                 key TEXT NOT NULL,
                 value BLOB NOT NULL,
                 expires_at INTEGER,
                 PRIMARY KEY (namespace, key)
             ) WITHOUT ROWID;
             -- Expired entries are swept on every expiring write: the index keeps that sweep from
             -- scanning the whole table (which holds every resource's metadata in dev).
             CREATE INDEX IF NOT EXISTS state_expires_at ON state (expires_at) WHERE expires_at IS NOT NULL;",
        )
        .map_err(backend)?;
        Ok(Self { db: Arc::new(Mutex::new(conn)) })
    }

    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || f(&mut db.lock())).await.map_err(backend)?.map_err(backend)
    }
}

/// Expiring entries share the table under a namespace of their own.
fn expiring_ns(namespace: &str) -> String {
    format!("expiring:{namespace}")
}

#[async_trait]
impl StateStore for LocalStore {
    async fn get(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        self.with(move |db| {
            db.query_row("SELECT value FROM state WHERE namespace = ?1 AND key = ?2", params![ns, key], |row| {
                row.get::<_, Vec<u8>>(0)
            })
            .optional()
        })
        .await
        .map(|v| v.map(Bytes::from))
    }

    async fn put(&self, namespace: &str, key: &str, value: Bytes) -> Result<(), StoreError> {
        self.put_many(namespace, vec![(key.to_owned(), value)]).await
    }

    async fn put_many(&self, namespace: &str, entries: Vec<(String, Bytes)>) -> Result<(), StoreError> {
        let ns = namespace.to_owned();
        self.with(move |db| {
            let tx = db.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO state (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, NULL)
                     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = NULL",
                )?;
                for (key, value) in &entries {
                    stmt.execute(params![ns, key, value.as_ref()])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn put_if_absent(&self, namespace: &str, key: &str, value: Bytes) -> Result<Bytes, StoreError> {
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        self.with(move |db| {
            // One transaction, so that another process on the same file cannot slip in between.
            let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO state (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, NULL)
                 ON CONFLICT (namespace, key) DO NOTHING",
                params![ns, key, value.as_ref()],
            )?;
            let kept =
                tx.query_row("SELECT value FROM state WHERE namespace = ?1 AND key = ?2", params![ns, key], |row| {
                    row.get::<_, Vec<u8>>(0)
                })?;
            tx.commit()?;
            Ok(Bytes::from(kept))
        })
        .await
    }

    async fn delete(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        let (ns, key) = (namespace.to_owned(), key.to_owned());
        self.with(move |db| db.execute("DELETE FROM state WHERE namespace = ?1 AND key = ?2", params![ns, key]))
            .await
            .map(|n| n > 0)
    }

    async fn load_all(&self, namespace: &str) -> Result<Vec<(String, Bytes)>, StoreError> {
        let ns = namespace.to_owned();
        self.with(move |db| {
            let mut stmt = db.prepare_cached("SELECT key, value FROM state WHERE namespace = ?1")?;
            let rows = stmt
                .query_map(params![ns], |row| Ok((row.get::<_, String>(0)?, Bytes::from(row.get::<_, Vec<u8>>(1)?))))?;
            rows.collect()
        })
        .await
    }

    async fn write_batch(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.with(move |db| {
            let tx = db.transaction()?;
            let now = now_millis();
            if writes.iter().any(|w| matches!(w, Write::PutExpiring { .. })) {
                tx.execute("DELETE FROM state WHERE expires_at IS NOT NULL AND expires_at <= ?1", params![now])?;
            }
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO state (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                )?;
                for write in &writes {
                    match write {
                        Write::Put { namespace, key, value } => {
                            stmt.execute(params![namespace, key, value.as_ref(), None::<i64>])?;
                        }
                        Write::PutExpiring { namespace, key, value, ttl } => {
                            let expires_at = now + ttl.as_millis() as i64;
                            stmt.execute(params![expiring_ns(namespace), key, value.as_ref(), expires_at])?;
                        }
                    }
                }
            }
            tx.commit()
        })
        .await
    }

    async fn put_expiring(&self, namespace: &str, key: &str, value: Bytes, ttl: Duration) -> Result<(), StoreError> {
        let (ns, key) = (expiring_ns(namespace), key.to_owned());
        let expires_at = now_millis() + ttl.as_millis() as i64;
        self.with(move |db| {
            // Expired entries are swept on write, so the table never grows without bound.
            db.execute("DELETE FROM state WHERE expires_at IS NOT NULL AND expires_at <= ?1", params![now_millis()])?;
            db.execute(
                "INSERT INTO state (namespace, key, value, expires_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                params![ns, key, value.as_ref(), expires_at],
            )
            .map(|_| ())
        })
        .await
    }

    async fn get_expiring(&self, namespace: &str, key: &str) -> Result<Option<Bytes>, StoreError> {
        let (ns, key) = (expiring_ns(namespace), key.to_owned());
        self.with(move |db| {
            db.query_row(
                "SELECT value FROM state WHERE namespace = ?1 AND key = ?2 AND expires_at > ?3",
                params![ns, key, now_millis()],
                |row| row.get::<_, Vec<u8>>(0),
            )
            .optional()
        })
        .await
        .map(|v| v.map(Bytes::from))
    }

    async fn delete_expiring(&self, namespace: &str, key: &str) -> Result<bool, StoreError> {
        self.delete(&expiring_ns(namespace), key).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with(|db| db.query_row("SELECT 1", [], |_| Ok(()))).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance;

    #[tokio::test]
    async fn local_store_passes_the_conformance_suite() {
        let store = LocalStore::in_memory().unwrap();
        conformance::values_round_trip_per_namespace(&store).await;
        conformance::put_replaces_and_delete_reports_existence(&store).await;
        conformance::load_all_returns_every_entry_of_one_namespace(&store).await;
        conformance::put_if_absent_keeps_the_first_value(&store).await;
        conformance::a_batch_applies_every_write(&store).await;
        conformance::racing_put_if_absent_calls_agree_on_one_value(&store, &store).await;
        conformance::expiring_entries_disappear_after_their_ttl(&store).await;
    }

    #[tokio::test]
    async fn two_local_stores_on_one_file_agree_on_a_value_put_if_absent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let (a, b) = (LocalStore::open(&path).unwrap(), LocalStore::open(&path).unwrap());
        conformance::racing_put_if_absent_calls_agree_on_one_value(&a, &b).await;
    }

    #[tokio::test]
    async fn local_store_keeps_its_state_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        LocalStore::open(&path).unwrap().put("users", "7", Bytes::from_static(b"kept")).await.unwrap();
        let reopened = LocalStore::open(&path).unwrap();
        assert_eq!(reopened.get("users", "7").await.unwrap().as_deref(), Some(&b"kept"[..]));
    }
}
