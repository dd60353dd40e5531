//! The chain's head, exported: at an interval the running service appends the head (sequence
//! number and keyed hash) to an append-only file and writes it as a log line, so that a copy of
//! it lives outside the database. Whoever rewrites the database afterwards, even with the key,
//! no longer matches what was exported; `verify` compares every exported head with the record
//! at its sequence number.
//!
//! The file holds JSON Lines, `{"seq":..,"hash":"..","at":"<RFC 3339>"}`, one per change of the
//! head. Keep it where the database's writers cannot rewrite it (another volume, a log shipper
//! that forwards the `audit chain head` log lines).

use crate::store::{AuditStore, ChainPoint, StoreError};
use crate::time_format::{format_micros, now_micros};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// One exported head.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ExportedHead {
    pub seq: u64,
    pub hash: String,
    /// When it was exported (RFC 3339).
    pub at: String,
}

/// Appends `head` to the file at `path` (created with its directory), and flushes it to disk.
///
/// # Errors
/// The file cannot be created or written.
pub fn append(path: &Path, head: &ChainPoint) -> std::io::Result<ExportedHead> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let exported = ExportedHead { seq: head.seq, hash: head.hash.clone(), at: format_micros(now_micros()) };
    let mut line = serde_json::to_vec(&exported).map_err(std::io::Error::from)?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(&line)?;
    file.sync_data()?;
    Ok(exported)
}

/// Every head exported to the file at `path`, in the file's order; none when there is no file.
///
/// # Errors
/// [`StoreError::Heads`] for a file that cannot be read or a line that is not an exported head.
pub fn read(path: &Path) -> Result<Vec<ExportedHead>, StoreError> {
    let unreadable = |line: usize, reason: String| StoreError::Heads { path: path.to_owned(), line, reason };
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(unreadable(0, e.to_string())),
    };
    let mut heads = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| unreadable(i + 1, e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        heads.push(serde_json::from_str(&line).map_err(|e| unreadable(i + 1, e.to_string()))?);
    }
    Ok(heads)
}

/// Exports the head every `interval` while it changes, and once more at `shutdown`.
pub(crate) async fn run(store: Arc<AuditStore>, path: PathBuf, interval: Duration, shutdown: CancellationToken) {
    let last = {
        let path = path.clone();
        tokio::task::spawn_blocking(move || read(&path)).await
    };
    let mut last = match last {
        Ok(Ok(heads)) => heads.last().map(|h| ChainPoint { seq: h.seq, hash: h.hash.clone() }),
        Ok(Err(error)) => {
            tracing::error!(error = %error, "the exported audit heads cannot be read; exporting anew");
            None
        }
        Err(error) => {
            tracing::error!(error = %error, "reading the exported audit heads failed");
            None
        }
    };
    loop {
        let stopping = tokio::select! {
            _ = shutdown.cancelled() => true,
            _ = tokio::time::sleep(interval) => false,
        };
        let (store, path_for_task, previous) = (store.clone(), path.clone(), last.clone());
        let exported = tokio::task::spawn_blocking(move || -> Result<Option<ExportedHead>, String> {
            let head = store.stats().map_err(|e| e.to_string())?.head;
            if head.seq == 0 || previous.as_ref() == Some(&head) {
                return Ok(None);
            }
            append(&path_for_task, &head).map(Some).map_err(|e| e.to_string())
        })
        .await;
        match exported {
            Ok(Ok(Some(head))) => {
                tracing::info!(seq = head.seq, hash = %head.hash, file = %path.display(), "audit chain head");
                last = Some(ChainPoint { seq: head.seq, hash: head.hash });
            }
            Ok(Ok(None)) => {}
            Ok(Err(error)) => {
                tracing::error!(error = %error, file = %path.display(), "cannot export the audit chain head")
            }
            Err(error) => tracing::error!(error = %error, "exporting the audit chain head failed"),
        }
        if stopping {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_append_as_json_lines_and_read_back_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/heads.jsonl");
        assert!(read(&path).unwrap().is_empty(), "no file yet: no heads");
        append(&path, &ChainPoint { seq: 3, hash: "a".repeat(64) }).unwrap();
        append(&path, &ChainPoint { seq: 7, hash: "b".repeat(64) }).unwrap();
        let heads = read(&path).unwrap();
        assert_eq!(heads.iter().map(|h| h.seq).collect::<Vec<_>>(), [3, 7]);
        assert_eq!(heads[1].hash, "b".repeat(64));
    }

    #[test]
    fn a_line_that_is_not_a_head_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("heads.jsonl");
        append(&path, &ChainPoint { seq: 1, hash: "a".repeat(64) }).unwrap();
        std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"not json\n").unwrap();
        assert!(matches!(read(&path), Err(StoreError::Heads { line: 2, .. })));
    }
}
