//! The store behind a lock, with its journal: [`Db::read`] for queries and
//! [`Db::mutate`] for changes (plan, journal, apply, render, all under the
//! write lock, so the journal order is the apply order).
//!
//! Compaction runs on its own thread holding only a read lock while the
//! snapshot is written, so searches go on; writes wait for it.

use crate::error::{SimError, SimResult};
use crate::persist::DataDir;
use crate::store::{Change, Store};
use parking_lot::{Mutex, RwLock};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The shared state.
#[derive(Debug, Clone)]
pub(crate) struct Db(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    store: RwLock<Store>,
    data_dir: Option<DataDir>,
    compact_after: u64,
    compacting: AtomicBool,
    /// One compaction at a time (a background one and the shutdown one may overlap).
    compaction: Mutex<()>,
}

impl Db {
    /// In memory only.
    pub(crate) fn in_memory(store: Store) -> Self {
        Self::new(store, None, u64::MAX)
    }

    /// Backed by a data directory; compacts after `compact_after` journaled mutations at the least
    /// (see [`DataDir::due_for_compaction`]).
    pub(crate) fn new(store: Store, data_dir: Option<DataDir>, compact_after: u64) -> Self {
        Db(Arc::new(Inner {
            store: RwLock::new(store),
            data_dir,
            compact_after: compact_after.max(1),
            compacting: AtomicBool::new(false),
            compaction: Mutex::new(()),
        }))
    }

    /// Runs a query.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.0.store.read())
    }

    /// Plans a mutation, journals and applies its changes, then renders the answer from the new
    /// state; a plan that fails changes nothing.
    ///
    /// # Errors
    /// The plan's error, or [`SimError::Internal`] when the journal cannot be written (the change is
    /// then not applied either).
    pub(crate) fn mutate<K, T>(
        &self,
        plan: impl FnOnce(&Store) -> SimResult<(Vec<Change>, K)>,
        render: impl FnOnce(&Store, K) -> SimResult<T>,
    ) -> SimResult<T> {
        let out = {
            let mut store = self.0.store.write();
            let (changes, key) = plan(&store)?;
            if !changes.is_empty() {
                if let Some(dir) = &self.0.data_dir {
                    dir.append(&changes).map_err(|e| SimError::Internal(format!("cannot write the journal: {e}")))?;
                }
                for change in changes {
                    store.apply(change);
                }
            }
            render(&store, key)?
        };
        self.maybe_compact();
        Ok(out)
    }

    /// Applies changes without a plan (seeding, the API account at start), journaling them.
    ///
    /// # Errors
    /// The journal cannot be written.
    pub(crate) fn apply_all(&self, changes: Vec<Change>) -> SimResult<()> {
        self.mutate(|_| Ok((changes, ())), |_, ()| Ok(()))
    }

    fn maybe_compact(&self) {
        let Some(dir) = &self.0.data_dir else { return };
        if !dir.due_for_compaction(self.0.compact_after) || self.0.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let db = self.clone();
        std::thread::spawn(move || {
            if let Err(e) = db.compact() {
                tracing::error!(error = %e, "journal compaction failed; the journal keeps growing");
            }
            db.0.compacting.store(false, Ordering::Release);
        });
    }

    /// Writes a snapshot now and restarts the journal (at clean shutdown, after seeding).
    ///
    /// # Errors
    /// The snapshot cannot be written.
    pub(crate) fn compact(&self) -> std::io::Result<()> {
        let Some(dir) = &self.0.data_dir else { return Ok(()) };
        let _one_at_a_time = self.0.compaction.lock();
        let started = std::time::Instant::now();
        let pending = {
            let store = self.0.store.read();
            dir.write_snapshot(&store)?
        };
        dir.commit_snapshot(pending)?;
        tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "snapshot written");
        Ok(())
    }

    /// Whether anything was journaled since the last snapshot.
    pub(crate) fn has_unsnapshotted_changes(&self) -> bool {
        self.0.data_dir.as_ref().is_some_and(|d| d.since_compaction() > 0)
    }
}
