//! The audit store: one SQLite database in WAL mode holding an append-only, hash-chained table of
//! records.
//!
//! - **Append-only**: triggers refuse every `UPDATE` of a record, and every `DELETE` except of the
//!   oldest records while retention holds a permit (a row in `prune_permit`) inside its own
//!   transaction.
//! - **Chained**: each record stores `prev_hash` and `hash = SHA-256(prev_hash ‖ content)`.
//!   `chain_meta` holds two points: the `anchor` (seq and hash of the last record pruned by
//!   retention, or 0 and the genesis hash) and the `head` (seq and hash of the last record
//!   written). Retention removes only a prefix of the chain and moves the anchor to the last record
//!   it removed, so the first remaining record still links to the anchor and the chain stays
//!   verifiable; the head catches records removed from the end.
//! - **Once per event**: `event_id` is unique; a redelivered event is reported as a duplicate and
//!   not written again.
//! - **Durable before acknowledged**: `synchronous=FULL`, so that a committed batch survives a power
//!   loss before the consumer acknowledges it to the stream. With `NORMAL`, WAL mode may lose the
//!   last commits on power loss, and those events, already acknowledged, would never come back.
//!   Batching keeps the cost to one fsync per batch.
//!
//! The hashes make tampering *detectable*, not impossible: whoever can write the file can drop the
//! triggers. `verify` reports the head hash so that operators can keep it elsewhere too.

use crate::chain::RowContent;
use crate::filter::RecordFilter;
use crate::record::{Columns, NewRecord, Record, RecordKind};
use crate::time_format::{format_micros, now_micros};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params, params_from_iter};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

const SCHEMA_VERSION: i64 = 1;

/// Records removed per retention transaction: keeps each write lock short.
const PRUNE_CHUNK: i64 = 10_000;

/// Rows read per statement by exports: keeps read transactions short.
const EXPORT_CHUNK: usize = 1_000;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS records (
    seq             INTEGER PRIMARY KEY,
    event_id        TEXT    NOT NULL,
    occurred_at     INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    source          TEXT,
    connection_id   TEXT,
    connection_name TEXT,
    method          TEXT,
    route           TEXT,
    resource_type   TEXT,
    resource_id     TEXT,
    operation       TEXT,
    status          INTEGER,
    latency_micros  INTEGER,
    client_address  TEXT,
    trace_id        TEXT,
    outcome         TEXT,
    decode_error    TEXT,
    event_json      TEXT    NOT NULL,
    prev_hash       TEXT    NOT NULL,
    hash            TEXT    NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS records_event_id ON records(event_id);
CREATE INDEX IF NOT EXISTS records_occurred_at ON records(occurred_at);
CREATE INDEX IF NOT EXISTS records_recorded_at ON records(recorded_at);
-- Single-column indexes on purpose: SQLite appends the rowid (here `seq`) to every index entry,
-- so an equality match comes out already in `seq` order and keyset paging (`seq > cursor ORDER
-- BY seq LIMIT n`) reads only the page it returns.
CREATE INDEX IF NOT EXISTS records_connection_id ON records(connection_id);
CREATE INDEX IF NOT EXISTS records_connection_name ON records(connection_name);
CREATE INDEX IF NOT EXISTS records_resource_id ON records(resource_id);
CREATE INDEX IF NOT EXISTS records_trace_id ON records(trace_id);
CREATE INDEX IF NOT EXISTS records_kind ON records(kind);
CREATE INDEX IF NOT EXISTS records_operation ON records(operation);

CREATE TABLE IF NOT EXISTS chain_meta (
    name TEXT PRIMARY KEY,
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
INSERT OR IGNORE INTO chain_meta(name, seq, hash)
    VALUES ('anchor', 0, '0000000000000000000000000000000000000000000000000000000000000000'),
           ('head',   0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE IF NOT EXISTS prune_permit (up_to_seq INTEGER NOT NULL);

CREATE TRIGGER IF NOT EXISTS records_refuse_update BEFORE UPDATE ON records
BEGIN
    SELECT RAISE(ABORT, 'audit records are append-only');
END;

CREATE TRIGGER IF NOT EXISTS records_refuse_delete BEFORE DELETE ON records
WHEN NOT EXISTS (SELECT 1 FROM prune_permit WHERE OLD.seq <= up_to_seq)
BEGIN
    SELECT RAISE(ABORT, 'audit records are removed only by retention');
END;

CREATE TRIGGER IF NOT EXISTS chain_meta_forward_only BEFORE UPDATE ON chain_meta
WHEN NEW.seq < OLD.seq OR NEW.name <> OLD.name
BEGIN
    SELECT RAISE(ABORT, 'the chain anchor and head only move forward');
END;

CREATE TRIGGER IF NOT EXISTS chain_meta_refuse_delete BEFORE DELETE ON chain_meta
BEGIN
    SELECT RAISE(ABORT, 'the chain anchor and head cannot be deleted');
END;
"#;

const RECORD_COLUMNS: &str = "seq, event_id, occurred_at, recorded_at, kind, source, connection_id, connection_name, \
     method, route, resource_type, resource_id, operation, status, latency_micros, client_address, trace_id, outcome, \
     decode_error, event_json, prev_hash, hash";

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no audit database at {0}")]
    Missing(PathBuf),
    #[error("cannot create the audit directory {path}: {source}")]
    Directory { path: PathBuf, source: std::io::Error },
    #[error("audit database {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error("audit database schema version {found} is newer than this build understands ({SCHEMA_VERSION})")]
    SchemaTooNew { found: i64 },
    #[error("audit database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
}

/// A point of the chain: a sequence number and the hash of the record there.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChainPoint {
    pub seq: u64,
    pub hash: String,
}

/// What happened to one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Written at this sequence number.
    Recorded(u64),
    /// Its event id was already recorded (a redelivery); nothing was written.
    Duplicate,
}

/// The first record where the chain does not hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrokenRecord {
    pub seq: u64,
    pub reason: String,
}

/// The outcome of [`AuditStore::verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub records_checked: u64,
    /// `None` when the whole chain holds.
    pub first_broken: Option<BrokenRecord>,
    /// Where the chain starts (the last record removed by retention, or the genesis).
    pub anchor: ChainPoint,
    /// The last record written, as the store recorded it.
    pub head: ChainPoint,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.first_broken.is_none()
    }
}

/// The outcome of [`AuditStore::prune_recorded_before`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PruneReport {
    pub removed: u64,
    pub anchor: ChainPoint,
}

/// Size and age of the store, for metrics and readiness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreStats {
    pub records: u64,
    pub head: ChainPoint,
    /// µs since the epoch.
    pub oldest_recorded_at: Option<i64>,
}

/// The audit database. Writes go through one connection (SQLite has one writer); reads use a
/// small pool of their own connections, which WAL mode lets run beside the writer.
#[derive(Debug)]
pub struct AuditStore {
    path: PathBuf,
    writer: Mutex<Connection>,
    readers: Mutex<Vec<Connection>>,
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::InvalidParameterName(format!("journal_mode is {mode}, WAL is required")));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    // 64 MiB of page cache (the default is 2 MiB): the indexes of a million records stay hot,
    // which is most of the cost of an append.
    conn.pragma_update(None, "cache_size", -65_536)?;
    Ok(())
}

fn row_to_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Record, String)> {
    let seq: i64 = row.get(0)?;
    let kind: String = row.get(4)?;
    let event_json: String = row.get(19)?;
    let record = Record {
        seq: u64::try_from(seq).unwrap_or_default(),
        event_id: row.get(1)?,
        occurred_at: format_micros(row.get(2)?),
        recorded_at: format_micros(row.get(3)?),
        kind: kind.parse().unwrap_or(RecordKind::Undecodable),
        columns: columns_of(row)?,
        event: serde_json::from_str(&event_json).unwrap_or(serde_json::Value::String(event_json.clone())),
        prev_hash: row.get(20)?,
        hash: row.get(21)?,
    };
    Ok((record, event_json))
}

fn columns_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Columns> {
    Ok(Columns {
        source: row.get(5)?,
        connection_id: row.get(6)?,
        connection_name: row.get(7)?,
        method: row.get(8)?,
        route: row.get(9)?,
        resource_type: row.get(10)?,
        resource_id: row.get(11)?,
        operation: row.get(12)?,
        status: row.get(13)?,
        latency_micros: row.get(14)?,
        client_address: row.get(15)?,
        trace_id: row.get(16)?,
        outcome: row.get(17)?,
        decode_error: row.get(18)?,
    })
}

fn chain_point(conn: &Connection, name: &str) -> rusqlite::Result<ChainPoint> {
    conn.query_row("SELECT seq, hash FROM chain_meta WHERE name = ?1", [name], |row| {
        Ok(ChainPoint { seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(), hash: row.get(1)? })
    })
}

fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

impl AuditStore {
    /// The database path under a data directory: `<data_dir>/audit/audit.db`.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join("audit").join("audit.db")
    }

    /// Opens (creating if needed) the database at `path`.
    ///
    /// # Errors
    ///
    /// The directory or database cannot be created or opened, WAL mode is refused, or the schema
    /// is newer than this build.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Directory { path: dir.to_owned(), source })?;
        }
        let open_error = |source| StoreError::Open { path: path.to_owned(), source };
        let conn = Connection::open(path).map_err(open_error)?;
        configure(&conn).map_err(open_error)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0)).map_err(open_error)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew { found: version });
        }
        conn.execute_batch(SCHEMA).map_err(open_error)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(open_error)?;
        Ok(Self { path: path.to_owned(), writer: Mutex::new(conn), readers: Mutex::new(Vec::new()) })
    }

    /// Opens an existing database (for `verify`, `export` and `prune` from the command line,
    /// which must not create an empty database where the operator mistyped a path).
    ///
    /// # Errors
    ///
    /// [`StoreError::Missing`] when there is no file at `path`; otherwise as [`AuditStore::open`].
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        Self::open(path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with_reader<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().pop();
        let mut conn = match pooled {
            Some(conn) => conn,
            None => {
                let conn = Connection::open_with_flags(
                    &self.path,
                    OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
                )?;
                conn.busy_timeout(std::time::Duration::from_secs(10))?;
                conn.pragma_update(None, "cache_size", -16_384)?;
                // Readers never write: a bug in a query path cannot change the records.
                conn.pragma_update(None, "query_only", true)?;
                conn
            }
        };
        let result = f(&mut conn);
        let mut readers = self.readers.lock();
        if readers.len() < 8 {
            readers.push(conn);
        }
        result
    }

    /// Appends a batch in one transaction, skipping events already recorded.
    ///
    /// # Errors
    ///
    /// Any SQLite failure; then nothing of the batch is written.
    pub fn append(&self, records: &[NewRecord]) -> Result<Vec<Appended>, StoreError> {
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut head = chain_point(&tx, "head")?;
        let mut last_recorded: i64 = tx
            .query_row("SELECT recorded_at FROM records WHERE seq = ?1", [seq_i64(head.seq)], |row| row.get(0))
            .optional()?
            .unwrap_or(i64::MIN);
        let mut outcomes = Vec::with_capacity(records.len());
        let mut in_batch = HashSet::new();
        {
            let mut exists = tx.prepare_cached("SELECT 1 FROM records WHERE event_id = ?1")?;
            let mut insert = tx.prepare_cached(&format!(
                "INSERT INTO records ({RECORD_COLUMNS}) VALUES \
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22)"
            ))?;
            for record in records {
                if !in_batch.insert(record.event_id.as_str()) || exists.exists([&record.event_id])? {
                    outcomes.push(Appended::Duplicate);
                    continue;
                }
                // Recording time never goes backwards, even if the clock does: retention removes
                // the records recorded before a cutoff, and that must always be a prefix of the chain.
                let recorded_at = now_micros().max(last_recorded);
                last_recorded = recorded_at;
                let seq = head.seq + 1;
                let event_json = crate::canonical::to_canonical_string(&record.event);
                let c = &record.columns;
                let content = RowContent {
                    seq: seq_i64(seq),
                    event_id: &record.event_id,
                    occurred_at: record.occurred_at,
                    recorded_at,
                    kind: record.kind.as_str(),
                    columns: c,
                    event_json: &event_json,
                };
                let hash = content.hash(&head.hash);
                insert.execute(params![
                    seq_i64(seq),
                    record.event_id,
                    record.occurred_at,
                    recorded_at,
                    record.kind.as_str(),
                    c.source,
                    c.connection_id,
                    c.connection_name,
                    c.method,
                    c.route,
                    c.resource_type,
                    c.resource_id,
                    c.operation,
                    c.status,
                    c.latency_micros,
                    c.client_address,
                    c.trace_id,
                    c.outcome,
                    c.decode_error,
                    event_json,
                    head.hash,
                    hash,
                ])?;
                head = ChainPoint { seq, hash };
                outcomes.push(Appended::Recorded(seq));
            }
        }
        tx.execute(
            "UPDATE chain_meta SET seq = ?1, hash = ?2 WHERE name = 'head'",
            params![seq_i64(head.seq), head.hash],
        )?;
        tx.commit()?;
        Ok(outcomes)
    }

    /// One record by sequence number.
    ///
    /// # Errors
    ///
    /// Any SQLite failure.
    pub fn get(&self, seq: u64) -> Result<Option<Record>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!("SELECT {RECORD_COLUMNS} FROM records WHERE seq = ?1");
            Ok(conn.query_row(&sql, [seq_i64(seq)], row_to_record).optional()?.map(|(record, _)| record))
        })
    }

    /// Up to `limit` records matching `filter` with a sequence number above `after`, in sequence
    /// order (keyset paging: stable while records are appended).
    ///
    /// # Errors
    ///
    /// Any SQLite failure.
    pub fn query(&self, filter: &RecordFilter, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
        self.with_reader(|conn| query_on(conn, filter, after, limit))
    }

    /// Writes every record matching `filter` to `out` as JSON Lines, in sequence order; returns
    /// how many. Reads in chunks, each its own short read, so that a long export never holds back
    /// the writer's checkpoints; a write error (an HTTP client that went away) stops it.
    ///
    /// # Errors
    ///
    /// Any SQLite failure or write error.
    pub fn export(&self, filter: &RecordFilter, out: &mut dyn std::io::Write) -> Result<u64, StoreError> {
        let mut after = 0;
        let mut written = 0;
        loop {
            let chunk = self.query(filter, after, EXPORT_CHUNK)?;
            for record in &chunk {
                serde_json::to_writer(&mut *out, record).map_err(std::io::Error::from)?;
                out.write_all(b"\n")?;
                written += 1;
            }
            match chunk.last() {
                Some(last) if chunk.len() == EXPORT_CHUNK => after = last.seq,
                _ => break,
            }
        }
        out.flush()?;
        Ok(written)
    }

    /// Recomputes the whole chain from the anchor and reports the first record where it breaks:
    /// an edited record (its content no longer matches its hash), a missing one (a gap in the
    /// sequence, or records missing before the head), a reordered one (its `prev_hash` does not
    /// match its predecessor).
    ///
    /// # Errors
    ///
    /// Any SQLite failure (not a broken chain: that is the report).
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.with_reader(|conn| {
            // One read transaction: a consistent snapshot while the consumer keeps appending.
            let tx = conn.transaction()?;
            let anchor = chain_point(&tx, "anchor")?;
            let head = chain_point(&tx, "head")?;
            let mut report = VerifyReport { records_checked: 0, first_broken: None, anchor: anchor.clone(), head };
            let mut previous = anchor;
            {
                let mut statement = tx.prepare(&format!("SELECT {RECORD_COLUMNS} FROM records ORDER BY seq"))?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default();
                    report.records_checked += 1;
                    if let Some(broken) = check_row(row, seq, &previous)? {
                        report.first_broken = Some(broken);
                        return Ok(report);
                    }
                    previous = ChainPoint { seq, hash: row.get(21)? };
                }
            }
            if previous.seq < report.head.seq {
                report.first_broken = Some(BrokenRecord {
                    seq: previous.seq + 1,
                    reason: format!(
                        "records {}..={} are missing: the chain head is at {}",
                        previous.seq + 1,
                        report.head.seq,
                        report.head.seq
                    ),
                });
            } else if previous.seq > report.head.seq {
                report.first_broken = Some(BrokenRecord {
                    seq: report.head.seq + 1,
                    reason: format!("record {} lies beyond the chain head ({})", report.head.seq + 1, report.head.seq),
                });
            } else if previous.hash != report.head.hash {
                report.first_broken = Some(BrokenRecord {
                    seq: previous.seq,
                    reason: "the last record's hash does not match the chain head".to_owned(),
                });
            }
            Ok(report)
        })
    }

    /// Removes the records recorded before `cutoff` (µs since the epoch), oldest first, moving
    /// the chain anchor to the last record removed so that the chain stays verifiable.
    ///
    /// # Errors
    ///
    /// Any SQLite failure; the records removed by earlier chunks stay removed (each chunk is its
    /// own transaction and leaves a verifiable chain).
    pub fn prune_recorded_before(&self, cutoff: i64) -> Result<PruneReport, StoreError> {
        let mut removed = 0u64;
        loop {
            let mut conn = self.writer.lock();
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let anchor = chain_point(&tx, "anchor")?;
            // The first record to keep; everything before it goes (a prefix, by construction).
            let first_kept: Option<i64> =
                tx.query_row("SELECT MIN(seq) FROM records WHERE recorded_at >= ?1", [cutoff], |row| row.get(0))?;
            let last_seq: Option<i64> = tx.query_row("SELECT MAX(seq) FROM records", [], |row| row.get(0))?;
            let Some(last_seq) = last_seq else {
                return Ok(PruneReport { removed, anchor });
            };
            let up_to = first_kept.map_or(last_seq, |s| s - 1).min(seq_i64(anchor.seq) + PRUNE_CHUNK);
            if up_to <= seq_i64(anchor.seq) {
                return Ok(PruneReport { removed, anchor });
            }
            let hash: String = tx.query_row("SELECT hash FROM records WHERE seq = ?1", [up_to], |row| row.get(0))?;
            tx.execute("INSERT INTO prune_permit(up_to_seq) VALUES (?1)", [up_to])?;
            let count = tx.execute("DELETE FROM records WHERE seq <= ?1", [up_to])?;
            tx.execute("DELETE FROM prune_permit", [])?;
            tx.execute("UPDATE chain_meta SET seq = ?1, hash = ?2 WHERE name = 'anchor'", params![up_to, hash])?;
            tx.commit()?;
            removed += count as u64;
        }
    }

    /// Size and age of the store.
    ///
    /// # Errors
    ///
    /// Any SQLite failure.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        self.with_reader(|conn| {
            let head = chain_point(conn, "head")?;
            let (records, oldest): (i64, Option<i64>) =
                conn.query_row("SELECT COUNT(*), MIN(recorded_at) FROM records", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })?;
            Ok(StoreStats { records: u64::try_from(records).unwrap_or_default(), head, oldest_recorded_at: oldest })
        })
    }

    /// Checks that the database answers (for `/readyz`).
    ///
    /// # Errors
    ///
    /// Any SQLite failure.
    pub fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|conn| Ok(conn.query_row("SELECT 1 FROM chain_meta LIMIT 1", [], |_| Ok(()))?))
    }
}

fn query_on(conn: &Connection, filter: &RecordFilter, after: u64, limit: usize) -> Result<Vec<Record>, StoreError> {
    let (mut conditions, mut params) = filter.to_sql();
    params.push(rusqlite::types::Value::Integer(seq_i64(after)));
    conditions.push(format!("seq > ?{}", params.len()));
    params.push(rusqlite::types::Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
    let sql = format!(
        "SELECT {RECORD_COLUMNS} FROM records WHERE {} ORDER BY seq LIMIT ?{}",
        conditions.join(" AND "),
        params.len()
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let rows = statement.query_map(params_from_iter(params), row_to_record)?;
    Ok(rows.map(|row| row.map(|(record, _)| record)).collect::<Result<_, _>>()?)
}

/// Checks one row against its predecessor.
fn check_row(row: &rusqlite::Row<'_>, seq: u64, previous: &ChainPoint) -> rusqlite::Result<Option<BrokenRecord>> {
    let expected = previous.seq + 1;
    if seq != expected {
        let reason = if seq > expected {
            format!("record {expected} is missing (the next record is {seq})")
        } else {
            format!("record {seq} precedes the chain anchor ({})", previous.seq)
        };
        return Ok(Some(BrokenRecord { seq: expected.min(seq), reason }));
    }
    let prev_hash: String = row.get(20)?;
    if prev_hash != previous.hash {
        let what = if previous.seq == 0 {
            "the genesis hash".to_owned()
        } else {
            format!("the hash of record {}", previous.seq)
        };
        return Ok(Some(BrokenRecord {
            seq,
            reason: format!("prev_hash does not match {what}: records were removed, reordered or rewritten"),
        }));
    }
    let kind: String = row.get(4)?;
    let event_id: String = row.get(1)?;
    let event_json: String = row.get(19)?;
    let columns = columns_of(row)?;
    let content = RowContent {
        seq: seq_i64(seq),
        event_id: &event_id,
        occurred_at: row.get(2)?,
        recorded_at: row.get(3)?,
        kind: &kind,
        columns: &columns,
        event_json: &event_json,
    };
    let stored: String = row.get(21)?;
    if content.hash(&prev_hash) != stored {
        return Ok(Some(BrokenRecord {
            seq,
            reason: "the record's content does not match its hash: it was modified".to_owned(),
        }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::GENESIS_HASH;

    #[test]
    fn the_schema_seeds_the_chain_with_the_genesis_hash() {
        assert_eq!(SCHEMA.matches(GENESIS_HASH).count(), 2);
    }
}
