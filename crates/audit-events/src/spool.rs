//! A local spool of audit events: where an event goes when the events stream cannot take it in
//! time, so that an answered call is on record (on disk, fsync'd) before its answer leaves, and
//! from where it is published, in order, once the stream is back (after a restart too).
//!
//! The spool is one append-only file, `events.spool`, of records `[length u32 LE][crc32 u32 LE]
//! [encoded AuditEvent]`, and a cursor file, `events.spool.offset`, that says how far the records
//! were published. Appends are written and fsync'd before [`Spool::append`] returns. Once every
//! record is published the file is truncated to nothing. A record cut short by a crash (the
//! last one, written but not acknowledged) is dropped when the spool is opened: its call was never
//! answered. The spool holds at most `max_bytes` of unpublished records; beyond that
//! [`Spool::append`] refuses with [`SpoolError::Full`] and the caller decides (the gateway refuses
//! calls or counts the loss, as `gateway.audit_when_behind` says).
//!
//! The directory is locked (an advisory lock on the spool file) so that two processes never share
//! one spool. Without a directory the spool lives in memory: the same order and bounds, but not
//! durable (for a library user or a test that runs no data directory).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The spool's file in its directory.
pub const SPOOL_FILE: &str = "events.spool";
/// How far the spool's records were published.
const OFFSET_FILE: &str = "events.spool.offset";
/// Bytes before each record: its length and its CRC-32.
const HEADER: u64 = 8;

/// Why a record could not be spooled.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// The spool holds `max_bytes` of unpublished records already.
    #[error("the audit spool is full ({used} of {max} bytes hold unpublished events)")]
    Full { used: u64, max: u64 },
    #[error("audit spool {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the spool.
    #[error("the audit spool in {0} is in use by another process: give each gateway its own data directory")]
    Locked(PathBuf),
}

/// One unpublished record, and where the next one starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spooled {
    pub payload: Vec<u8>,
    /// The position to hand to [`Spool::advance`] once this record is published.
    pub next: u64,
}

/// The spool (see the [module docs](self)).
#[derive(Debug)]
pub struct Spool {
    max_bytes: u64,
    state: Mutex<State>,
}

#[derive(Debug)]
enum State {
    File(FileSpool),
    Memory { records: VecDeque<Vec<u8>>, bytes: u64, published: u64 },
}

#[derive(Debug)]
struct FileSpool {
    dir: PathBuf,
    file: File,
    offset_file: File,
    /// The end of the last whole record.
    len: u64,
    /// The start of the first unpublished record.
    offset: u64,
}

impl Spool {
    /// Opens (creating if needed) the spool in `dir`, locked for this process.
    ///
    /// # Errors
    /// The directory or its files cannot be created, read or locked.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, SpoolError> {
        let io = |source| SpoolError::Io { path: dir.to_owned(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file =
            OpenOptions::new().read(true).append(true).create(true).open(dir.join(SPOOL_FILE)).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Err(SpoolError::Locked(dir.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let mut offset_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.join(OFFSET_FILE))
            .map_err(io)?;
        let mut bytes = Vec::new();
        offset_file.read_to_end(&mut bytes).map_err(io)?;
        let mut offset = bytes.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
        let written = file.seek(SeekFrom::End(0)).map_err(io)?;
        if offset > written {
            // Truncated after a full drain, and the cursor not yet reset when the process stopped.
            offset = 0;
        }
        // Find the end of the last whole record: a crash may have cut the last append short.
        let mut len = offset;
        while let Some(next) = record_at(&file, len, written).map_err(io)? {
            len = next.next;
        }
        if len < written {
            tracing::warn!(
                dropped_bytes = written - len,
                "the audit spool ends with a record cut short (written, never acknowledged); dropping it"
            );
            file.set_len(len).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let spool = FileSpool { dir: dir.to_owned(), file, offset_file, len, offset };
        Ok(Self { max_bytes, state: Mutex::new(State::File(spool)) })
    }

    /// A spool in memory: ordered and bounded like the file, lost with the process.
    pub fn in_memory(max_bytes: u64) -> Self {
        Self { max_bytes, state: Mutex::new(State::Memory { records: VecDeque::new(), bytes: 0, published: 0 }) }
    }

    /// Whether the spool lives on disk.
    pub fn is_durable(&self) -> bool {
        matches!(*self.lock(), State::File(_))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Bytes of unpublished records.
    pub fn pending_bytes(&self) -> u64 {
        match &*self.lock() {
            State::File(f) => f.len - f.offset,
            State::Memory { bytes, .. } => *bytes,
        }
    }

    /// Whether every spooled record was published.
    pub fn is_empty(&self) -> bool {
        self.pending_bytes() == 0
    }

    /// The most bytes of unpublished records the spool holds.
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// Appends `payloads` in order, on disk and fsync'd before returning (all or none).
    ///
    /// # Errors
    /// [`SpoolError::Full`] when they do not fit (nothing is written); an I/O error.
    pub fn append(&self, payloads: &[Vec<u8>]) -> Result<(), SpoolError> {
        let adding: u64 = payloads.iter().map(|p| HEADER + p.len() as u64).sum();
        let mut state = self.lock();
        let used = match &*state {
            State::File(f) => f.len - f.offset,
            State::Memory { bytes, .. } => *bytes,
        };
        if used + adding > self.max_bytes {
            return Err(SpoolError::Full { used, max: self.max_bytes });
        }
        match &mut *state {
            State::File(f) => {
                let mut buffer = Vec::with_capacity(usize::try_from(adding).unwrap_or(0));
                for payload in payloads {
                    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
                    buffer.extend_from_slice(&length.to_le_bytes());
                    buffer.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
                    buffer.extend_from_slice(payload);
                }
                let io = |source| SpoolError::Io { path: f.dir.join(SPOOL_FILE), source };
                let written = f.file.write_all(&buffer).and_then(|()| f.file.sync_data());
                if let Err(e) = written {
                    // Cut back to the last whole record, so that the next append follows it.
                    let _ = f.file.set_len(f.len);
                    return Err(io(e));
                }
                f.len += adding;
            }
            State::Memory { records, bytes, .. } => {
                records.extend(payloads.iter().cloned());
                *bytes += adding;
            }
        }
        Ok(())
    }

    /// Up to `max` unpublished records, oldest first (they stay until [`Spool::advance`]).
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn peek(&self, max: usize) -> Result<Vec<Spooled>, SpoolError> {
        let state = self.lock();
        let mut out = Vec::new();
        match &*state {
            State::File(f) => {
                let io = |source| SpoolError::Io { path: f.dir.join(SPOOL_FILE), source };
                let mut at = f.offset;
                while out.len() < max {
                    let Some(record) = record_at(&f.file, at, f.len).map_err(io)? else { break };
                    at = record.next;
                    out.push(record);
                }
            }
            State::Memory { records, published, .. } => {
                for (next, payload) in (*published + 1..).zip(records.iter().take(max)) {
                    out.push(Spooled { payload: payload.clone(), next });
                }
            }
        }
        Ok(out)
    }

    /// Marks the records before `next` (from [`Spooled::next`]) published; the file is truncated
    /// once every record is.
    ///
    /// # Errors
    /// The cursor or the truncation cannot be written.
    pub fn advance(&self, next: u64) -> Result<(), SpoolError> {
        let mut state = self.lock();
        match &mut *state {
            State::File(f) => {
                let io = |source| SpoolError::Io { path: f.dir.join(OFFSET_FILE), source };
                f.offset = next.min(f.len);
                if f.offset == f.len {
                    f.file.set_len(0).and_then(|()| f.file.sync_data()).map_err(io)?;
                    f.len = 0;
                    f.offset = 0;
                }
                f.offset_file
                    .write_all_at(&f.offset.to_le_bytes(), 0)
                    .and_then(|()| f.offset_file.sync_data())
                    .map_err(io)?;
            }
            State::Memory { records, bytes, published } => {
                while *published < next {
                    let Some(payload) = records.pop_front() else { break };
                    *bytes -= HEADER + payload.len() as u64;
                    *published += 1;
                }
            }
        }
        Ok(())
    }
}

/// The whole record at `at` (before `end`), or `None` at the end or at a record cut short.
fn record_at(file: &File, at: u64, end: u64) -> std::io::Result<Option<Spooled>> {
    if at + HEADER > end {
        return Ok(None);
    }
    let mut header = [0u8; HEADER as usize];
    file.read_exact_at(&mut header, at)?;
    let length = u64::from(u32::from_le_bytes([header[0], header[1], header[2], header[3]]));
    let crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if at + HEADER + length > end {
        return Ok(None);
    }
    let mut payload = vec![0u8; usize::try_from(length).unwrap_or(0)];
    file.read_exact_at(&mut payload, at + HEADER)?;
    if crc32fast::hash(&payload) != crc {
        return Ok(None);
    }
    Ok(Some(Spooled { payload, next: at + HEADER + length }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payloads(range: std::ops::Range<u8>) -> Vec<Vec<u8>> {
        range.map(|n| vec![n; 10]).collect()
    }

    #[test]
    fn records_spooled_before_a_restart_are_read_back_in_order_after_it() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), 1 << 20).unwrap();
            spool.append(&payloads(0..3)).unwrap();
            spool.append(&payloads(3..5)).unwrap();
        }
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let read: Vec<_> = spool.peek(10).unwrap().into_iter().map(|r| r.payload).collect();
        assert_eq!(read, payloads(0..5));
    }

    #[test]
    fn published_records_are_not_read_again_after_a_restart_and_a_drained_spool_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), 1 << 20).unwrap();
            spool.append(&payloads(0..4)).unwrap();
            let first_two = spool.peek(2).unwrap();
            spool.advance(first_two[1].next).unwrap();
        }
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        let rest = spool.peek(10).unwrap();
        assert_eq!(rest.iter().map(|r| r.payload.clone()).collect::<Vec<_>>(), payloads(2..4));
        spool.advance(rest[1].next).unwrap();
        assert!(spool.is_empty());
        assert_eq!(std::fs::metadata(dir.path().join(SPOOL_FILE)).unwrap().len(), 0, "truncated once drained");
    }

    #[test]
    fn a_record_cut_short_by_a_crash_is_dropped_and_the_whole_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        {
            let spool = Spool::open(dir.path(), 1 << 20).unwrap();
            spool.append(&payloads(0..2)).unwrap();
        }
        let mut file = OpenOptions::new().append(true).open(dir.path().join(SPOOL_FILE)).unwrap();
        file.write_all(&[40, 0, 0, 0, 1, 2, 3, 4, 5]).unwrap();
        drop(file);
        let spool = Spool::open(dir.path(), 1 << 20).unwrap();
        assert_eq!(spool.peek(10).unwrap().len(), 2);
        spool.append(&payloads(2..3)).unwrap();
        assert_eq!(spool.peek(10).unwrap().into_iter().map(|r| r.payload).collect::<Vec<_>>(), payloads(0..3));
    }

    #[test]
    fn a_full_spool_refuses_what_does_not_fit_and_takes_it_once_drained() {
        let dir = tempfile::tempdir().unwrap();
        for spool in [Spool::open(dir.path(), 40).unwrap(), Spool::in_memory(40)] {
            spool.append(&payloads(0..2)).unwrap();
            assert!(matches!(spool.append(&payloads(2..3)), Err(SpoolError::Full { used: 36, max: 40 })));
            let next = spool.peek(1).unwrap()[0].next;
            spool.advance(next).unwrap();
            spool.append(&payloads(2..3)).unwrap();
            assert_eq!(spool.peek(10).unwrap().len(), 2);
        }
    }

    #[test]
    fn a_second_process_cannot_open_a_spool_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Spool::open(dir.path(), 1 << 20).unwrap();
        assert!(matches!(Spool::open(dir.path(), 1 << 20), Err(SpoolError::Locked(_))));
    }
}
