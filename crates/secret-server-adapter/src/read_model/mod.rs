//! The read model: one Secret Server instance's users, groups, memberships, folders, folder
//! permissions, secret metadata and secret permissions, in memory, with the indexes SCIM clients'
//! filters need.
//!
//! It is filled by a full load at start ([`fetch`] + [`apply`]), kept current by write-through from
//! the adapter's own workers and by a periodic resync (the same fetch and apply, which picks up
//! changes made directly in Secret Server), and read by the gRPC `Directory` service under a
//! read lock.

pub mod apply;
pub mod confirm;
pub mod fetch;
pub mod index;
pub mod progress;
pub mod query;
pub mod records;
pub mod state;

use parking_lot::{Mutex, RwLock};
use scim::ResourceKind;
use state::State;
use std::collections::HashMap;
use std::time::Instant;

/// One instance's read model.
#[derive(Debug, Default)]
pub struct ReadModel {
    state: RwLock<State>,
    /// When workers last wrote each record; a resync whose read began before leaves it alone.
    written: Mutex<HashMap<(ResourceKind, i64), Instant>>,
}

impl ReadModel {
    /// Runs `f` on the state under the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read())
    }

    /// Runs `f` on the state under the write lock, recording that the worker wrote `records`.
    pub fn write<R>(&self, records: &[(ResourceKind, i64)], f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.write();
        let out = f(&mut state);
        let now = Instant::now();
        let mut written = self.written.lock();
        for record in records {
            written.insert(*record, now);
        }
        out
    }

    /// Applies a fetch that began at `began`: records written since are protected.
    pub fn apply(
        &self,
        fetched: fetch::Fetched,
        stored: &mut apply::Stored,
        now_millis: i64,
        began: Instant,
    ) -> apply::Applied {
        let mut state = self.state.write();
        let written = self.written.lock().clone();
        let protected = |kind: ResourceKind, id: i64| written.get(&(kind, id)).is_some_and(|at| *at >= began);
        let applied = apply::apply(&mut state, fetched, stored, now_millis, &protected);
        state.compact();
        drop(state);
        // Writes older than this read are settled now.
        self.written.lock().retain(|_, at| *at >= began);
        applied
    }

    /// The ids a fetch would add, so that their stored attributes can be read first.
    pub fn new_ids(&self, fetched: &fetch::Fetched) -> Vec<(ResourceKind, i64)> {
        self.read(|s| apply::new_ids(s, fetched))
    }
}
