//! The append-only journal: one JSON line per mutating request,
//! `{"seq":N,"changes":[...]}`, written with a single `write` before the
//! change is applied in memory. The page cache keeps a written line through a
//! `kill -9` of the process; a line torn by a crash mid-write is the last one,
//! and replay drops it and truncates the file there.

use crate::store::Change;
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    pub seq: u64,
    pub changes: Vec<Change>,
}

/// The open journal.
#[derive(Debug)]
pub(crate) struct Journal {
    file: File,
    /// The length of the journal after the last complete record, so that a failed write
    /// (a full disk) can be cut back and leave no torn line before later records.
    len: u64,
    /// The sequence number of the last record written (or replayed).
    pub seq: u64,
    /// Records written since the last compaction.
    pub since_compaction: u64,
    /// While a compaction writes the snapshot, the lines written meanwhile are kept here so that
    /// the new journal can start with them.
    pub capture: Option<Vec<u8>>,
}

/// What replay found.
#[derive(Debug, Default)]
pub(crate) struct Replay {
    /// Records with `seq` above the snapshot's, in order.
    pub records: Vec<Record>,
    /// The highest sequence number seen (snapshot's included).
    pub last_seq: u64,
    /// Whether a torn or unreadable tail was cut off.
    pub truncated_tail: bool,
}

impl Journal {
    /// Opens (creating) the journal at `path` for appending, after `replay` has read it.
    ///
    /// # Errors
    /// The file cannot be opened.
    pub(crate) fn open(path: &Path, seq: u64, since_compaction: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let len = file.metadata()?.len();
        Ok(Self { file, len, seq, since_compaction, capture: None })
    }

    /// The journal's length in bytes (its complete records).
    pub(crate) fn bytes(&self) -> u64 {
        self.len
    }

    /// Appends one record with the next sequence number.
    ///
    /// # Errors
    /// The line cannot be written; the caller must not apply the changes.
    pub(crate) fn append(&mut self, changes: &[Change]) -> io::Result<u64> {
        #[derive(Serialize)]
        struct RecordRef<'a> {
            seq: u64,
            changes: &'a [Change],
        }
        let seq = self.seq + 1;
        let mut line = serde_json::to_vec(&RecordRef { seq, changes }).map_err(io::Error::other)?;
        line.push(b'\n');
        if let Err(e) = self.file.write_all(&line) {
            // Best effort: if even this fails, replay drops the torn tail at the next start.
            let _ = self.file.set_len(self.len);
            return Err(e);
        }
        self.len += line.len() as u64;
        self.seq = seq;
        self.since_compaction += 1;
        if let Some(capture) = &mut self.capture {
            capture.extend_from_slice(&line);
        }
        Ok(seq)
    }

    /// Replaces the journal file with `contents` (the records written during a compaction).
    ///
    /// # Errors
    /// The new file cannot be written or renamed into place.
    pub(crate) fn rewrite(&mut self, path: &Path, contents: &[u8], records: u64) -> io::Result<()> {
        let tmp = path.with_extension("jsonl.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        self.file = OpenOptions::new().append(true).open(path)?;
        self.len = contents.len() as u64;
        self.since_compaction = records;
        Ok(())
    }
}

/// Reads the journal at `path`, keeping the records above `after_seq`. A line that does not parse
/// ends the journal: it and anything after it are cut off (a crash can tear only the last write).
///
/// # Errors
/// The file exists but cannot be read or truncated.
pub(crate) fn replay(path: &Path, after_seq: u64) -> io::Result<Replay> {
    let mut out = Replay { last_seq: after_seq, ..Replay::default() };
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    let mut reader = BufReader::new(file);
    let mut good_len: u64 = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader.read_until(b'\n', &mut line)?;
        if n == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            out.truncated_tail = true;
            break;
        }
        match serde_json::from_slice::<Record>(&line) {
            Ok(record) => {
                good_len += n as u64;
                if record.seq > after_seq {
                    out.last_seq = out.last_seq.max(record.seq);
                    out.records.push(record);
                }
            }
            Err(_) => {
                out.truncated_tail = true;
                break;
            }
        }
    }
    if out.truncated_tail {
        let mut file = reader.into_inner();
        file.set_len(good_len)?;
        file.seek(SeekFrom::End(0))?;
        file.sync_all()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(id: i64) -> Change {
        Change::DeleteGroup { id }
    }

    #[test]
    fn records_are_replayed_after_the_snapshot_sequence_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path, 0, 0).unwrap();
        for id in 1..=3 {
            journal.append(&[group(id)]).unwrap();
        }
        let replay = replay(&path, 1).unwrap();
        assert_eq!(replay.records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(replay.last_seq, 3);
        assert!(!replay.truncated_tail);
    }

    #[test]
    fn a_torn_tail_is_cut_off_and_appending_continues_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal.jsonl");
        let mut journal = Journal::open(&path, 0, 0).unwrap();
        journal.append(&[group(1)]).unwrap();
        let good = std::fs::metadata(&path).unwrap().len();
        drop(journal);
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(br#"{"seq":2,"chan"#).unwrap();

        let first = replay(&path, 0).unwrap();
        assert!(first.truncated_tail);
        assert_eq!(first.records.len(), 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);

        let mut journal = Journal::open(&path, first.last_seq, 1).unwrap();
        journal.append(&[group(2)]).unwrap();
        let second = replay(&path, 0).unwrap();
        assert_eq!(second.records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
        assert!(!second.truncated_tail);
    }

    #[test]
    fn a_missing_journal_replays_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let replay = replay(&dir.path().join("absent.jsonl"), 7).unwrap();
        assert!(replay.records.is_empty());
        assert_eq!(replay.last_seq, 7);
    }
}
