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
    /// How recent the reading is that each record was last written from: when a job wrote it, or
    /// when the reading began that the follower or a list's refresh wrote it from. A resync, the
    /// follower or a list whose reading began before leaves it alone.
    written: Mutex<HashMap<(ResourceKind, i64), Instant>>,
}

impl ReadModel {
    /// Runs `f` on the state under the read lock.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.read())
    }

    /// Runs `f` on the state under the write lock, recording that the worker wrote `records`.
    pub fn write<R>(&self, records: &[(ResourceKind, i64)], f: impl FnOnce(&mut State) -> R) -> R {
        self.write_as_of(records, Instant::now(), f)
    }

    /// Like [`ReadModel::write`], but `records` count as written from a reading as recent as `at`
    /// (what was read for a job without changing it).
    pub fn write_as_of<R>(&self, records: &[(ResourceKind, i64)], at: Instant, f: impl FnOnce(&mut State) -> R) -> R {
        let mut state = self.state.write();
        let out = f(&mut state);
        self.record_written(records, at);
        out
    }

    /// Like [`ReadModel::write`], unless `record` was written from a reading at or after `since`: a
    /// write carrying a reading that began at `since` does not overwrite a newer one (and counts
    /// as that reading, not as a write of now). `None` when it did not write.
    pub fn write_unless_newer<R>(
        &self,
        records: &[(ResourceKind, i64)],
        record: (ResourceKind, i64),
        since: Instant,
        f: impl FnOnce(&mut State) -> R,
    ) -> Option<R> {
        let mut state = self.state.write();
        if self.written.lock().get(&record).is_some_and(|at| *at >= since) {
            return None;
        }
        let out = f(&mut state);
        self.record_written(records, since);
        Some(out)
    }

    /// Like [`ReadModel::write`] for a list read whole (a folder's permissions) in a reading that
    /// began at `since`: `f` is told which of `records` were written from a reading at or after
    /// `since` (a job's change, or the follower's newer reading), to leave them as they are; the
    /// others count as written from this reading.
    pub fn write_list<R>(
        &self,
        records: &[(ResourceKind, i64)],
        since: Instant,
        f: impl FnOnce(&mut State, &dyn Fn(ResourceKind, i64) -> bool) -> R,
    ) -> R {
        let mut state = self.state.write();
        let newer: std::collections::HashSet<(ResourceKind, i64)> = {
            let written = self.written.lock();
            records.iter().filter(|r| written.get(r).is_some_and(|at| *at >= since)).copied().collect()
        };
        let out = f(&mut state, &|kind, id| newer.contains(&(kind, id)));
        let rest: Vec<_> = records.iter().filter(|r| !newer.contains(r)).copied().collect();
        self.record_written(&rest, since);
        out
    }

    /// Records that `records` were written from a reading as recent as `at` (under the state's
    /// write lock).
    fn record_written(&self, records: &[(ResourceKind, i64)], at: Instant) {
        let mut written = self.written.lock();
        for record in records {
            let entry = written.entry(*record).or_insert(at);
            *entry = (*entry).max(at);
        }
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

    /// The records `state` holds that a fetch which began at `began` did not return, leaving out
    /// those written since (the read may predate their creation: they are not missing, only new).
    pub fn missing(&self, fetched: &fetch::Fetched, began: Instant) -> Vec<(ResourceKind, i64)> {
        let missing = self.read(|s| confirm::missing_ids(s, fetched));
        let written = self.written.lock();
        missing.into_iter().filter(|record| written.get(record).is_none_or(|at| *at < began)).collect()
    }

    /// The ids a fetch would add, so that their stored attributes can be read first.
    pub fn new_ids(&self, fetched: &fetch::Fetched) -> Vec<(ResourceKind, i64)> {
        self.read(|s| apply::new_ids(s, fetched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use records::UserSs;

    fn user(id: i64) -> UserSs {
        UserSs::local(id, &format!("u{id}"))
    }

    fn read_of(ids: &[i64]) -> fetch::Fetched {
        fetch::Fetched { users: ids.iter().copied().map(user).collect(), ..fetch::Fetched::default() }
    }

    #[test]
    fn a_write_carrying_an_older_reading_leaves_a_record_written_since_alone() {
        let model = ReadModel::default();
        let key = (ResourceKind::User, 1);
        let read_at = Instant::now();
        model.write(&[key], |s| {
            s.put_user(records::UserRec { ss: user(1), attrs: None, deleted: false, meta: records::Meta::default() });
        });
        let older = model.write_unless_newer(&[key], key, read_at, |s| drop(s.remove_user(1)));
        assert_eq!(older, None, "the job's newer write stays");
        assert!(model.read(|s| s.users.contains_key(&1)));
        let newer = model.write_unless_newer(&[key], key, Instant::now(), |s| drop(s.remove_user(1)));
        assert_eq!(newer, Some(()));
        assert!(model.read(|s| !s.users.contains_key(&1)));
    }

    #[test]
    fn a_list_read_before_a_record_was_written_leaves_that_record_as_it_is() {
        let model = ReadModel::default();
        let (kept, other) = ((ResourceKind::ContainerPermission, 1), (ResourceKind::ContainerPermission, 2));
        let read_began = Instant::now();
        model.write(&[kept], |_| ());

        let mut left_alone = Vec::new();
        model.write_list(&[kept, other], read_began, |_, newer| {
            left_alone = [kept, other].into_iter().filter(|(kind, id)| newer(*kind, *id)).collect();
        });

        assert_eq!(left_alone, vec![kept], "only the record written after the list's read began");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let again = Instant::now();
        model.write_list(&[kept, other], again, |_, newer| {
            assert!(!newer(kept.0, kept.1) && !newer(other.0, other.1), "a later reading overrides both");
        });
    }

    #[test]
    fn a_record_written_late_from_an_old_reading_does_not_hold_back_a_newer_list() {
        let model = ReadModel::default();
        let grant = (ResourceKind::ContainerPermission, 1);
        let followers_reading = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let jobs_reading = Instant::now();
        // The follower writes the grant after the job's list read began, from its older reading.
        model.write_unless_newer(&[grant], grant, followers_reading, |_| ()).unwrap();

        model.write_list(&[grant], jobs_reading, |_, newer| {
            assert!(!newer(grant.0, grant.1), "the job's list, the newer reading, decides (a revoked grant goes)");
        });
    }

    #[test]
    fn a_principal_learnt_from_a_reading_that_began_after_a_resync_is_not_missing_from_it() {
        let model = ReadModel::default();
        let resync_began = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let learnt_from = Instant::now();
        model.write_as_of(&[(ResourceKind::User, 7)], learnt_from, |s| {
            s.put_user(records::UserRec { ss: user(7), attrs: None, deleted: false, meta: records::Meta::default() });
        });

        assert_eq!(model.missing(&read_of(&[]), resync_began), vec![], "the resync's read may predate it");
        assert_eq!(model.missing(&read_of(&[]), Instant::now()), vec![(ResourceKind::User, 7)], "a later one may not");
    }

    #[test]
    fn a_record_written_after_a_read_began_is_not_missing_from_that_read() {
        let model = ReadModel::default();
        model.apply(read_of(&[1, 2]), &mut apply::Stored::default(), 5_000, Instant::now());
        let began = Instant::now();
        model.write(&[(ResourceKind::User, 3)], |s| {
            apply::apply(s, read_of(&[1, 2, 3]), &mut apply::Stored::default(), 6_000, &|_, _| false);
        });

        let missing = model.missing(&read_of(&[1]), began);

        assert_eq!(missing, vec![(ResourceKind::User, 2)], "user 3 was created while the read ran");
    }
}
