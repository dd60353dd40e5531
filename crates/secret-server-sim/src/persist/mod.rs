//! Persistence in the data directory: a snapshot (`snapshot.json`) plus an
//! append-only journal (`journal.jsonl`) of the mutations made since.
//!
//! Start: load the snapshot, replay the journal records newer than it (a torn
//! last line is cut off), and the state is what it was when the process
//! stopped, cleanly or by `kill -9`. Compaction writes a new snapshot (to a
//! temporary file, fsynced, renamed into place) and restarts the journal with
//! the records written meanwhile; a crash at any step leaves either the old
//! snapshot with the whole journal or the new one with a journal whose older
//! records are skipped by sequence number.
//!
//! The directory is locked (`sim.lock`) so that two emulators cannot write to
//! it at once.

pub(crate) mod journal;

use crate::store::{Snapshot, SnapshotRef, Store};
use journal::Journal;
use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const SNAPSHOT: &str = "snapshot.json";
const JOURNAL: &str = "journal.jsonl";
const LOCK: &str = "sim.lock";

/// Why the data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PersistError {
    #[error("cannot use data directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("data directory {0} is in use by another emulator")]
    Locked(PathBuf),
    #[error("cannot read the snapshot {path}: {source}")]
    Snapshot { path: PathBuf, source: serde_json::Error },
    #[error("data directory {0} already holds state")]
    NotEmpty(PathBuf),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> PersistError + '_ {
    move |source| PersistError::Io { path: path.to_owned(), source }
}

/// An open, locked data directory.
#[derive(Debug)]
pub(crate) struct DataDir {
    dir: PathBuf,
    /// Held for the lifetime of the emulator; the OS releases it when the process dies.
    _lock: File,
    journal: Mutex<Journal>,
    /// The size of the snapshot in place, in bytes: the journal is compacted only once it has grown
    /// as large (see [`DataDir::due_for_compaction`]).
    snapshot_len: AtomicU64,
}

/// What opening a data directory found.
#[derive(Debug)]
pub(crate) struct Opened {
    pub data_dir: DataDir,
    /// The state found, or `None` when the directory held none (seed it).
    pub store: Option<Store>,
    /// How many journal records were replayed.
    pub replayed: usize,
    /// Whether a torn journal tail was cut off.
    pub truncated_tail: bool,
}

impl DataDir {
    /// Creates (if needed), locks and loads the data directory. Waits up to five seconds for a
    /// lock held by an emulator that is still stopping.
    ///
    /// # Errors
    /// The directory cannot be created or read, is locked by another emulator, or holds a snapshot
    /// that does not parse.
    pub(crate) fn open(dir: &Path) -> Result<Opened, PersistError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK);
        let lock =
            OpenOptions::new().create(true).truncate(false).write(true).open(&lock_path).map_err(io_err(&lock_path))?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match lock.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => return Err(PersistError::Locked(dir.to_owned())),
                Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
            }
        }
        let snapshot_path = dir.join(SNAPSHOT);
        let mut snapshot_len = 0;
        let snapshot = match std::fs::read(&snapshot_path) {
            Ok(bytes) => Some({
                snapshot_len = bytes.len() as u64;
                serde_json::from_slice::<Snapshot>(&bytes)
                    .map_err(|source| PersistError::Snapshot { path: snapshot_path.clone(), source })?
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&snapshot_path)(e)),
        };
        let snapshot_seq = snapshot.as_ref().map_or(0, |s| s.seq);
        let journal_path = dir.join(JOURNAL);
        let replay = journal::replay(&journal_path, snapshot_seq).map_err(io_err(&journal_path))?;
        let replayed = replay.records.len();
        let store = if snapshot.is_none() && replay.records.is_empty() {
            None
        } else {
            let mut store = snapshot.map(Snapshot::into_store).unwrap_or_default();
            for record in replay.records {
                for change in record.changes {
                    store.apply(change);
                }
            }
            Some(store)
        };
        let journal = Journal::open(&journal_path, replay.last_seq, replayed as u64).map_err(io_err(&journal_path))?;
        Ok(Opened {
            data_dir: DataDir {
                dir: dir.to_owned(),
                _lock: lock,
                journal: Mutex::new(journal),
                snapshot_len: AtomicU64::new(snapshot_len),
            },
            store,
            replayed,
            truncated_tail: replay.truncated_tail,
        })
    }

    /// Journals one mutation.
    ///
    /// # Errors
    /// The journal cannot be written.
    pub(crate) fn append(&self, changes: &[crate::store::Change]) -> io::Result<u64> {
        self.journal.lock().append(changes)
    }

    /// Records written since the last compaction.
    pub(crate) fn since_compaction(&self) -> u64 {
        self.journal.lock().since_compaction
    }

    /// Whether the journal should be compacted: at least `min_records` records since the last
    /// compaction, and a journal at least as large as the snapshot in place. A compaction writes
    /// the whole store while holding a read lock on it (every change waits meanwhile), so it is
    /// spaced in proportion to the store's size, as Redis spaces its AOF rewrites: its cost per
    /// record stays constant as the store grows, and a start replays at most a snapshot's worth.
    pub(crate) fn due_for_compaction(&self, min_records: u64) -> bool {
        let journal = self.journal.lock();
        journal.since_compaction >= min_records && journal.bytes() >= self.snapshot_len.load(Ordering::Relaxed)
    }

    /// Writes a snapshot of `store` and restarts the journal. The caller holds a read lock on the
    /// store for the duration of `write_snapshot`'s first step (see [`crate::db::Db::compact`]).
    ///
    /// # Errors
    /// The snapshot or the new journal cannot be written.
    pub(crate) fn write_snapshot(&self, store: &Store) -> io::Result<PendingSnapshot> {
        let seq = {
            let mut journal = self.journal.lock();
            journal.capture = Some(Vec::new());
            journal.seq
        };
        let tmp = self.dir.join("snapshot.json.tmp");
        let result = (|| {
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&tmp)?);
            serde_json::to_writer(&mut out, &SnapshotRef { store, seq }).map_err(io::Error::other)?;
            out.flush()?;
            out.into_inner().map_err(|e| e.into_error())
        })();
        match result {
            // The file is synced by `commit_snapshot`, after the store's lock is released.
            Ok(file) => Ok(PendingSnapshot { tmp, file }),
            Err(e) => {
                self.journal.lock().capture = None;
                Err(e)
            }
        }
    }

    /// Moves a written snapshot into place and restarts the journal with the records written
    /// since it was taken. Needs no lock on the store.
    ///
    /// # Errors
    /// The rename or the journal rewrite fails.
    pub(crate) fn commit_snapshot(&self, pending: PendingSnapshot) -> io::Result<()> {
        let result = (|| {
            pending.file.sync_all()?;
            let len = pending.file.metadata()?.len();
            std::fs::rename(&pending.tmp, self.dir.join(SNAPSHOT))?;
            // Make the rename durable before the old journal records disappear.
            File::open(&self.dir)?.sync_all()?;
            let mut journal = self.journal.lock();
            let captured = journal.capture.take().unwrap_or_default();
            let records = captured.iter().filter(|b| **b == b'\n').count() as u64;
            journal.rewrite(&self.dir.join(JOURNAL), &captured, records)?;
            self.snapshot_len.store(len, Ordering::Relaxed);
            Ok(())
        })();
        if result.is_err() {
            self.journal.lock().capture = None;
        }
        result
    }

    /// Whether `dir` holds emulator state already.
    pub(crate) fn holds_state(dir: &Path) -> bool {
        dir.join(SNAPSHOT).exists() || std::fs::metadata(dir.join(JOURNAL)).is_ok_and(|m| m.len() > 0)
    }
}

/// A snapshot written to its temporary file, not yet in place.
#[derive(Debug)]
pub(crate) struct PendingSnapshot {
    tmp: PathBuf,
    /// The snapshot written and flushed, not yet synced.
    file: File,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Change;

    fn domain(id: i64) -> Change {
        Change::PutDomain { id, name: format!("domain-{id}.example.com") }
    }

    #[test]
    fn a_journal_is_due_for_compaction_only_once_it_is_as_large_as_the_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::open(dir.path()).unwrap().data_dir;
        let mut store = Store::default();
        for id in 1..=200 {
            data.append(&[domain(id)]).unwrap();
            store.apply(domain(id));
        }
        assert!(data.due_for_compaction(5), "no snapshot yet: the journal is as large as one");
        let pending = data.write_snapshot(&store).unwrap();
        data.commit_snapshot(pending).unwrap();
        assert!(!data.due_for_compaction(0), "a new snapshot restarts the journal");

        // A store of 200 domains: 5 more records are far smaller than its snapshot.
        for id in 201..=205 {
            data.append(&[domain(id)]).unwrap();
        }
        assert!(!data.due_for_compaction(5), "a journal smaller than the snapshot waits");
        let mut id = 205;
        while data.journal.lock().bytes() < std::fs::metadata(dir.path().join(SNAPSHOT)).unwrap().len() {
            id += 1;
            data.append(&[domain(id)]).unwrap();
        }
        assert!(data.due_for_compaction(5), "a journal as large as the snapshot is due");
        assert!(!data.due_for_compaction(id as u64), "and never before its least number of records");
    }
}
