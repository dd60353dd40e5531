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
pub struct Record {
    pub seq: u64,
    pub changes: Vec<Change>,
}

/// The open journal.
#[derive(Debug)]
pub struct Journal {
    file: File,
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
pub struct Replay {
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
    pub fn open(path: &Path, seq: u64, since_compaction: u64) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Self { file, seq, since_compaction, capture: None })
    }

    /// Appends one record with the next sequence number.
    ///
    /// # Errors
    /// The line cannot be written; the caller must not apply the changes.
    pub fn append(&mut self, changes: &[Change]) -> io::Result<u64> {
        #[derive(Serialize)]
        struct RecordRef<'a> {
            seq: u64,
            changes: &'a [Change],
        }
        let seq = self.seq + 1;
        let mut line = serde_json::to_vec(&RecordRef { seq, changes }).map_err(io::Error::other)?;
        line.push(b'\n');
        self.file.write_all(&line)?;
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
    pub fn rewrite(&mut self, path: &Path, contents: &[u8], records: u64) -> io::Result<()> {
        let tmp = path.with_extension("jsonl.tmp");
        {
            let mut f = File::create(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)?;
        self.file = OpenOptions::new().append(true).open(path)?;
        self.since_compaction = records;
        Ok(())
    }
}

/// Reads the journal at `path`, keeping the records above `after_seq`. A line that does not parse
/// ends the journal: it and anything after it are cut off (a crash can tear only the last write).
///
/// # Errors
/// The file exists but cannot be read or truncated.
pub fn replay(path: &Path, after_seq: u64) -> io::Result<Replay> {
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
