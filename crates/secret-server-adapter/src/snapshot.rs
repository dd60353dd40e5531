//! A local snapshot of each instance's read model, so that a restarting adapter is ready in
//! seconds instead of reading everything from Secret Server again (minutes for a large vault at
//! tens of milliseconds per call).
//!
//! What is kept is only what was read from Secret Server (the [`Fetched`] form: users, groups
//! with their members, folders, permissions, secret metadata). The connector-held state
//! (attributes, meta, tombstones) is read from the shared state store at restore, as at a first
//! load, so that it is never older than the store: a snapshot cannot bring back an attribute
//! another replica changed or removed meanwhile, and a resync's safety (records confirmed gone
//! before they are dropped) is untouched. The Secret Server side may be older than the state store
//! (changes made after the snapshot): a tombstone in the store wins over the snapshot's `enabled`,
//! and a record whose version differs keeps its persisted meta (so that a stale snapshot bumps no
//! `lastModified`). Then every change published on the events stream since the snapshot (the
//! newest event's id is in its header) is read fresh from Secret Server, as a follower replica
//! does, before the instance is ready; and a resync starts at once, for what changed directly in
//! Secret Server.
//!
//! The file (`<dir>/<instance>.snapshot`) is one header line of JSON (format version, instance,
//! time written, length and SHA-256 of the body) and the body, JSON. It is written to a temporary
//! file, synced and renamed, so a crash while writing leaves the previous snapshot. A snapshot of
//! another format, another instance, a wrong length or checksum, or older than the configured age
//! is discarded (and deleted): the adapter then loads everything as if there were none.

use crate::read_model::fetch::Fetched;
use crate::read_model::state::State;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The format this build writes and reads; a snapshot of another format is discarded.
pub const FORMAT: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: u32,
    instance: String,
    /// Unix milliseconds.
    written_at: i64,
    body_len: u64,
    sha256: String,
    /// The newest event of the events stream before the read model was captured: a restore
    /// replays the changes published after it.
    events_after: Option<String>,
}

/// A snapshot read back.
#[derive(Debug)]
pub struct Snapshot {
    /// When it was written, Unix milliseconds.
    pub written_at: i64,
    /// The newest event before the capture (see [`write`]).
    pub events_after: Option<String>,
    pub fetched: Fetched,
}

/// Why a snapshot was not used.
#[derive(Debug, thiserror::Error)]
pub enum Discarded {
    #[error("there is no snapshot")]
    Missing,
    #[error("the snapshot cannot be read: {0}")]
    Unreadable(#[from] std::io::Error),
    #[error("the snapshot is not in format {FORMAT}: {0}")]
    Format(String),
    #[error("the snapshot's checksum does not match its content")]
    Checksum,
    #[error("the snapshot is of instance {0:?}")]
    OtherInstance(String),
    #[error("the snapshot is {0:?} old, beyond snapshot_max_age")]
    TooOld(Duration),
}

/// The snapshot file of `instance` in `dir`.
pub fn path(dir: &Path, instance: &str) -> PathBuf {
    let name: String = instance
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' })
        .collect();
    dir.join(format!("{name}.snapshot"))
}

/// What a snapshot keeps of `state`: the Secret Server side of every record.
pub fn capture(state: &State) -> Fetched {
    Fetched {
        users: state.users.values().map(|u| u.ss.clone()).collect(),
        groups: state.groups.values().map(|g| (g.ss.clone(), g.members.clone())).collect(),
        folders: state.folders.values().map(|f| f.ss.clone()).collect(),
        folder_perms: state.folder_perms.values().map(|p| p.ss).collect(),
        secrets: state.secrets.values().map(|s| s.ss.clone()).collect(),
        secret_perms: state.secret_perms.values().map(|p| p.ss).collect(),
        roles: state.roles.values().cloned().collect(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes `fetched` as the snapshot of `instance` in `dir` (created if needed), replacing the
/// previous one only once the new one is complete on disk. `events_after` is the id of the newest
/// event in the events stream taken before `fetched` was captured. Blocking: run it off the runtime.
///
/// # Errors
/// When the directory or the file cannot be written.
pub fn write(
    dir: &Path,
    instance: &str,
    fetched: &Fetched,
    events_after: Option<&str>,
    now_millis: i64,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let body = serde_json::to_vec(fetched).map_err(std::io::Error::other)?;
    let header = Header {
        format: FORMAT,
        instance: instance.to_owned(),
        written_at: now_millis,
        body_len: body.len() as u64,
        sha256: hex(&Sha256::digest(&body)),
        events_after: events_after.map(str::to_owned),
    };
    let target = path(dir, instance);
    let temporary = target.with_extension("snapshot.tmp");
    {
        let mut file = std::fs::File::create(&temporary)?;
        serde_json::to_writer(&mut file, &header).map_err(std::io::Error::other)?;
        file.write_all(b"\n")?;
        file.write_all(&body)?;
        file.sync_all()?;
    }
    std::fs::rename(&temporary, &target)?;
    // The rename itself is durable once the directory is synced (not possible everywhere).
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Reads the snapshot of `instance` from `dir`, checking its format, instance, length, checksum
/// and age (`max_age` at `now_millis`). Blocking: run it off the runtime.
///
/// # Errors
/// Why it cannot be used ([`Discarded::Missing`] when there is none).
pub fn read(dir: &Path, instance: &str, max_age: Duration, now_millis: i64) -> Result<Snapshot, Discarded> {
    let bytes = match std::fs::read(path(dir, instance)) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Discarded::Missing),
        Err(e) => return Err(e.into()),
    };
    let newline = bytes.iter().position(|b| *b == b'\n').ok_or_else(|| Discarded::Format("no header".into()))?;
    let header: Header =
        serde_json::from_slice(&bytes[..newline]).map_err(|e| Discarded::Format(format!("header: {e}")))?;
    if header.format != FORMAT {
        return Err(Discarded::Format(format!("format {}", header.format)));
    }
    if header.instance != instance {
        return Err(Discarded::OtherInstance(header.instance));
    }
    let age = Duration::from_millis(u64::try_from(now_millis.saturating_sub(header.written_at)).unwrap_or(0));
    if age > max_age {
        return Err(Discarded::TooOld(age));
    }
    let body = &bytes[newline + 1..];
    if body.len() as u64 != header.body_len || hex(&Sha256::digest(body)) != header.sha256 {
        return Err(Discarded::Checksum);
    }
    let fetched = serde_json::from_slice(body).map_err(|e| Discarded::Format(format!("body: {e}")))?;
    Ok(Snapshot { written_at: header.written_at, events_after: header.events_after, fetched })
}

/// Deletes the snapshot of `instance` (one that was discarded); a missing file is fine.
pub fn remove(dir: &Path, instance: &str) {
    if let Err(e) = std::fs::remove_file(path(dir, instance))
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(instance, error = %e, "cannot delete a discarded read-model snapshot");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::records::{GroupSs, RoleSs, UserSs};

    const HOUR: Duration = Duration::from_secs(3600);
    const NOW: i64 = 1_800_000_000_000;

    fn fetched() -> Fetched {
        Fetched {
            users: vec![UserSs {
                id: 7,
                user_name: "bjensen".into(),
                display_name: "Barbara Jensen".into(),
                email: Some("bjensen@example.com".into()),
                enabled: true,
                domain_id: -1,
                created: Some(NOW - 1000),
                roles: vec![2].into_boxed_slice(),
                domain_name: None,
                ad_guid: None,
            }],
            groups: vec![(GroupSs::local(3, "Helpdesk"), vec![7])],
            roles: vec![RoleSs { id: 2, name: "User".into(), enabled: true }],
            ..Fetched::default()
        }
    }

    #[test]
    fn a_snapshot_written_is_read_back_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "primary", &fetched(), Some("1-0"), NOW).unwrap();
        let snapshot = read(dir.path(), "primary", HOUR, NOW + 1000).unwrap();
        assert_eq!(snapshot.fetched, fetched());
        assert_eq!(snapshot.written_at, NOW);
        assert_eq!(snapshot.events_after.as_deref(), Some("1-0"));
    }

    #[test]
    fn a_missing_snapshot_says_so() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(read(dir.path(), "primary", HOUR, NOW), Err(Discarded::Missing)));
    }

    #[test]
    fn a_snapshot_older_than_the_maximum_age_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "primary", &fetched(), Some("1-0"), NOW).unwrap();
        let later = NOW + i64::try_from(HOUR.as_millis()).unwrap() + 1;
        assert!(matches!(read(dir.path(), "primary", HOUR, later), Err(Discarded::TooOld(_))));
    }

    #[test]
    fn a_snapshot_changed_on_disk_fails_its_checksum() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "primary", &fetched(), Some("1-0"), NOW).unwrap();
        let file = path(dir.path(), "primary");
        let text = std::fs::read_to_string(&file).unwrap().replace("bjensen", "mallory");
        std::fs::write(&file, text).unwrap();
        assert!(matches!(read(dir.path(), "primary", HOUR, NOW), Err(Discarded::Checksum)));
    }

    #[test]
    fn a_truncated_snapshot_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "primary", &fetched(), Some("1-0"), NOW).unwrap();
        let file = path(dir.path(), "primary");
        let bytes = std::fs::read(&file).unwrap();
        std::fs::write(&file, &bytes[..bytes.len() - 10]).unwrap();
        assert!(matches!(read(dir.path(), "primary", HOUR, NOW), Err(Discarded::Checksum)));
    }

    #[test]
    fn a_snapshot_of_another_format_is_discarded() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "primary", &fetched(), Some("1-0"), NOW).unwrap();
        let file = path(dir.path(), "primary");
        let text = std::fs::read_to_string(&file).unwrap().replacen("\"format\":1", "\"format\":99", 1);
        std::fs::write(&file, text).unwrap();
        assert!(matches!(read(dir.path(), "primary", HOUR, NOW), Err(Discarded::Format(_))));
    }

    #[test]
    fn instances_whose_names_differ_only_in_case_share_no_snapshot_unnoticed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "Primary", &fetched(), Some("1-0"), NOW).unwrap();
        assert!(matches!(read(dir.path(), "primary", HOUR, NOW), Err(Discarded::OtherInstance(_))));
    }
}
