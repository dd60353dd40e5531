//! What an administrator sees of an instance's resync (`GET /admin/v1/secret-servers/{name}/resync`
//! through the `Admin` gRPC service): whether one runs and in which phase, the records it read
//! per type, how the last one ended, and the removals held back with the report that names them.
//!
//! A held report is named by a digest of the records it would remove: a confirmation names that
//! id (and, optionally, the count), so it approves exactly the set the administrator saw and never
//! a different, later one. A confirmed report lets the next resync drop those records (each still
//! confirmed gone by a direct read), and nothing else beyond the bound.

use crate::read_model::fetch::Fetched;
use adapter_api::admin::{HeldRemovals, ResyncOutcome, ResyncState};
use parking_lot::Mutex;
use scim::ResourceKind;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashSet};
use time::OffsetDateTime;

/// How many held records the state shows by id.
const SAMPLE: usize = 20;

/// A resync that found more records missing than it may drop: the read model was kept.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct RemovalsHeld(pub String);

/// Removals held back, named by their report id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub report_id: String,
    /// In the order the resync found them.
    pub ids: Vec<(ResourceKind, i64)>,
    /// Records the read model held then.
    pub held_of: usize,
    pub found_at: OffsetDateTime,
    /// An administrator approved them.
    pub confirmed: bool,
}

/// Why a confirmation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfirmError {
    #[error("no removals are held back on this instance")]
    NothingHeld,
    #[error("the removals held back are report {held} ({count} records), not {named}: read the resync state again")]
    OtherReport { held: String, count: usize, named: String },
}

#[derive(Debug, Default)]
struct Tracked {
    running: bool,
    /// Resyncs asked for that have not begun (waiting for the one running to end): the state
    /// stays `running` until they have.
    requested: usize,
    phase: Option<&'static str>,
    read: BTreeMap<String, u64>,
    started: Option<OffsetDateTime>,
    finished: Option<OffsetDateTime>,
    outcome: Option<ResyncOutcome>,
    error: Option<String>,
    added: u64,
    changed: u64,
    removed: u64,
    held: Option<Held>,
}

/// One instance's resync state.
#[derive(Debug, Default)]
pub struct ResyncTracker {
    inner: Mutex<Tracked>,
}

/// The report id of a set of records: a digest of them, in order.
fn report_id(ids: &[(ResourceKind, i64)]) -> String {
    let mut digest = Sha256::new();
    for (kind, id) in ids {
        digest.update(kind.name().as_bytes());
        digest.update(b"/");
        digest.update(id.to_string().as_bytes());
        digest.update(b"\n");
    }
    digest.finalize()[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl ResyncTracker {
    /// Marks a resync as asked for: true when none ran (the caller starts one), false when one
    /// runs already (the caller answers it).
    pub fn request(&self) -> bool {
        let mut t = self.inner.lock();
        if t.running {
            return false;
        }
        t.running = true;
        t.requested += 1;
        t.phase = Some("waiting to start");
        t.read.clear();
        true
    }

    /// Whether a resync runs (or was asked for).
    pub fn is_running(&self) -> bool {
        self.inner.lock().running
    }

    /// A load or resync begins; `asked` when it is one [`ResyncTracker::request`] asked for.
    pub fn begin(&self, asked: bool) {
        let mut t = self.inner.lock();
        t.running = true;
        if asked {
            t.requested = t.requested.saturating_sub(1);
        }
        t.phase = Some("reading Secret Server");
        t.read.clear();
        t.started = Some(OffsetDateTime::now_utc());
        t.error = None;
    }

    pub fn phase(&self, phase: &'static str) {
        self.inner.lock().phase = Some(phase);
    }

    /// Records what a full read returned, per type.
    pub fn read(&self, fetched: &Fetched) {
        let mut t = self.inner.lock();
        let counts = [
            (ResourceKind::User, fetched.users.len()),
            (ResourceKind::Group, fetched.groups.len()),
            (ResourceKind::Container, fetched.folders.len()),
            (ResourceKind::ContainerPermission, fetched.folder_perms.len()),
            (ResourceKind::PrivilegedData, fetched.secrets.len()),
            (ResourceKind::PrivilegedDataPermission, fetched.secret_perms.len()),
        ];
        t.read = counts.iter().map(|(kind, n)| (kind.name().to_owned(), *n as u64)).collect();
        t.read.insert("Membership".to_owned(), fetched.groups.iter().map(|(_, m)| m.len() as u64).sum());
    }

    /// A load or resync ended: `(added, changed, removed)` when it succeeded.
    pub fn finish(&self, result: Result<(usize, usize, usize), &anyhow::Error>) {
        let mut t = self.inner.lock();
        // A periodic resync that ran while an asked-for one waited does not end the wait.
        t.running = t.requested > 0;
        t.phase = t.running.then_some("waiting to start");
        t.finished = Some(OffsetDateTime::now_utc());
        match result {
            Ok((added, changed, removed)) => {
                t.outcome = Some(ResyncOutcome::Succeeded);
                (t.added, t.changed, t.removed) = (added as u64, changed as u64, removed as u64);
            }
            Err(e) => {
                let held = e.downcast_ref::<RemovalsHeld>().is_some();
                t.outcome = Some(if held { ResyncOutcome::RemovalsHeld } else { ResyncOutcome::Failed });
                t.error = Some(format!("{e:#}"));
                (t.added, t.changed, t.removed) = (0, 0, 0);
            }
        }
    }

    /// Holds back `ids` (found missing among `held_of` records); returns the report and whether
    /// it is new (another set than the one held before).
    pub fn hold(&self, ids: Vec<(ResourceKind, i64)>, held_of: usize) -> (Held, bool) {
        let mut t = self.inner.lock();
        let id = report_id(&ids);
        if let Some(held) = t.held.as_ref().filter(|h| h.report_id == id) {
            return (held.clone(), false);
        }
        let held = Held { report_id: id, ids, held_of, found_at: OffsetDateTime::now_utc(), confirmed: false };
        t.held = Some(held.clone());
        (held, true)
    }

    /// The removals held back, if any.
    pub fn held(&self) -> Option<Held> {
        self.inner.lock().held.clone()
    }

    /// A resync agreed on what to drop: nothing is held any more.
    pub fn clear_held(&self) {
        self.inner.lock().held = None;
    }

    /// The records a confirmation approved, if the held report is confirmed.
    pub fn approved(&self) -> Option<HashSet<(ResourceKind, i64)>> {
        let t = self.inner.lock();
        t.held.as_ref().filter(|h| h.confirmed).map(|h| h.ids.iter().copied().collect())
    }

    /// Confirms the held report `report_id` (with `count` records, when given).
    ///
    /// # Errors
    /// When nothing is held, or the held report is another one.
    pub fn confirm(&self, report_id: &str, count: Option<u64>) -> Result<Held, ConfirmError> {
        let mut t = self.inner.lock();
        let held = t.held.as_mut().ok_or(ConfirmError::NothingHeld)?;
        if held.report_id != report_id || count.is_some_and(|c| c != held.ids.len() as u64) {
            return Err(ConfirmError::OtherReport {
                held: held.report_id.clone(),
                count: held.ids.len(),
                named: match count {
                    Some(c) => format!("{report_id} ({c} records)"),
                    None => report_id.to_owned(),
                },
            });
        }
        held.confirmed = true;
        Ok(held.clone())
    }

    /// The state as the admin API shows it.
    pub fn state(&self, instance: &str) -> ResyncState {
        let t = self.inner.lock();
        ResyncState {
            instance: instance.to_owned(),
            state: if t.running { "running" } else { "idle" }.to_owned(),
            phase: t.phase.map(str::to_owned),
            read: t.read.clone(),
            started_at: t.started,
            finished_at: t.finished,
            outcome: t.outcome,
            error: t.error.clone(),
            held_removals: t.held.as_ref().map(|h| HeldRemovals {
                report_id: h.report_id.clone(),
                count: h.ids.len() as u64,
                held: h.held_of as u64,
                sample: h.ids.iter().take(SAMPLE).map(|(kind, id)| format!("{}/{id}", kind.name())).collect(),
                found_at: Some(h.found_at),
                confirmed: h.confirmed,
            }),
            added: t.added,
            changed: t.changed,
            removed: t.removed,
            already_running: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(ids: &[i64]) -> Vec<(ResourceKind, i64)> {
        ids.iter().map(|id| (ResourceKind::User, *id)).collect()
    }

    #[test]
    fn a_confirmation_approves_only_the_report_it_names() {
        let tracker = ResyncTracker::default();
        assert_eq!(tracker.confirm("abc", None), Err(ConfirmError::NothingHeld));
        let (first, new) = tracker.hold(users(&[1, 2, 3]), 10);
        assert!(new);
        let (again, new) = tracker.hold(users(&[1, 2, 3]), 10);
        assert!(!new, "the same set is the same report");
        assert_eq!(again.report_id, first.report_id);
        let (later, _) = tracker.hold(users(&[1, 2, 3, 4]), 10);
        assert_ne!(later.report_id, first.report_id, "another set, another report");

        assert!(matches!(tracker.confirm(&first.report_id, None), Err(ConfirmError::OtherReport { .. })));
        assert!(tracker.approved().is_none());
        assert!(matches!(tracker.confirm(&later.report_id, Some(3)), Err(ConfirmError::OtherReport { .. })));
        assert!(tracker.confirm(&later.report_id, Some(4)).unwrap().confirmed);
        assert_eq!(tracker.approved().unwrap().len(), 4);
        let shown = tracker.state("primary").held_removals.unwrap();
        assert_eq!((shown.count, shown.held, shown.confirmed), (4, 10, true));
        assert_eq!(shown.sample[0], "User/1");
    }

    #[test]
    fn a_resync_shows_running_then_its_outcome() {
        let tracker = ResyncTracker::default();
        assert!(tracker.request());
        assert!(!tracker.request(), "one at a time");
        tracker.begin(true);
        tracker.finish(Ok((0, 0, 0)));
        assert_eq!(tracker.state("p").state, "idle", "the resync asked for has run");
        assert!(tracker.request());
        // A periodic resync runs first, while the one asked for waits.
        tracker.begin(false);
        tracker.finish(Ok((0, 0, 0)));
        assert_eq!(tracker.state("p").state, "running", "the one asked for still waits");
        tracker.begin(true);
        assert_eq!(tracker.state("p").state, "running");
        tracker.finish(Err(&anyhow::Error::new(RemovalsHeld("held".to_owned()))));
        let state = tracker.state("p");
        assert_eq!((state.state.as_str(), state.outcome), ("idle", Some(ResyncOutcome::RemovalsHeld)));
        tracker.begin(false);
        tracker.finish(Ok((1, 2, 3)));
        let state = tracker.state("p");
        assert_eq!(
            (state.outcome, state.added, state.removed, state.error),
            (Some(ResyncOutcome::Succeeded), 1, 3, None)
        );
    }
}
