//! The audit store: one SQLite database in WAL mode holding an append-only, hash-chained table of
//! records.
//!
//! - **Append-only**: triggers refuse every `UPDATE` of a record, and every `DELETE` except of the
//!   oldest records while retention holds a permit (a row in `prune_permit`) inside its own
//!   transaction.
//! - **Chained, with a key**: each record stores `prev_hash` and
//!   `hash = HMAC-SHA256(key, prev_hash ‖ content)`, the key kept out of the database
//!   ([`crate::ChainKey`]). `chain_meta` holds three points: the `anchor` (seq and hash of the last
//!   record pruned by retention, or 0 and the genesis hash), the `head` (seq and hash of the last
//!   record written) and `keyed_from` (the first record hashed with the key). Retention removes
//!   only a prefix of the chain and moves the anchor to the last record it removed, so the first
//!   remaining record still links to the anchor and the chain stays verifiable; the head catches
//!   records removed from the end.
//! - **Databases from before the key** (schema version 1): opening one records, once, that the
//!   chain is keyed from the next record on (`keyed_from` = head + 1). The records before it keep
//!   their unkeyed SHA-256 hashes, and `verify` checks them as such and reports how many; the
//!   first keyed record chains to the last of them, so every exported head after it binds them.
//! - **Once per event**: `event_id` is unique; a redelivered event is reported as a duplicate and
//!   not written again.
//! - **Durable before acknowledged**: `synchronous=FULL`, so that a committed batch survives a power
//!   loss before the consumer acknowledges it to the stream. With `NORMAL`, WAL mode may lose the
//!   last commits on power loss, and those events, already acknowledged, would never come back.
//!   Batching keeps the cost to one fsync per batch.
//!
//! The hashes make tampering *detectable*, not impossible: whoever can write the file can drop the
//! triggers, and, without the key, cannot compute a chain that verifies. Whoever also holds the
//! key is caught by the heads exported outside the database ([`crate::heads`]), which `verify`
//! checks too.

use crate::chain::{ChainKey, RowContent};
use crate::filter::RecordFilter;
use crate::heads::ExportedHead;
use crate::record::{Columns, NewRecord, Record, RecordKind};
use crate::time_format::{format_micros, now_micros, parse_rfc3339_micros};
use parking_lot::Mutex;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params, params_from_iter};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// 2: the chain is keyed (`keyed_from` in `chain_meta`).
const SCHEMA_VERSION: i64 = 2;

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
    /// Writing and verifying need the chain's key; this store was opened without it.
    #[error("the audit chain key is required to write or verify the audit log")]
    NoKey,
    #[error("exported audit heads {path}, line {line}: {reason}")]
    Heads { path: PathBuf, line: usize, reason: String },
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
    /// The first record hashed with the key (1 for a database created keyed).
    pub keyed_from: u64,
    /// Records checked with the unkeyed SHA-256 of the chain's first version (written before
    /// the chain was keyed): anyone who can write the database could have recomputed those, unless
    /// an exported head after them was checked.
    pub unkeyed_records: u64,
    /// Exported heads compared with the records at their sequence numbers (heads older than the
    /// anchor, pruned since, cannot be).
    pub heads_checked: u64,
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
    /// The chain's key: appending and verifying need it; queries, exports and retention do not.
    key: Option<ChainKey>,
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

    /// Opens (creating if needed) the database at `path`, with the chain's key when it will
    /// append or verify. A database of schema version 1 is keyed from its next record on.
    ///
    /// # Errors
    ///
    /// The directory or database cannot be created or opened, WAL mode is refused, or the schema
    /// is newer than this build.
    pub fn open(path: &Path, key: Option<ChainKey>) -> Result<Self, StoreError> {
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
        if version < SCHEMA_VERSION {
            // Once, when the database is created or comes from before the key: the chain is keyed
            // from the next record on. Never again: a missing marker later is tampering.
            let head = chain_point(&conn, "head").map_err(open_error)?;
            conn.execute(
                "INSERT OR IGNORE INTO chain_meta(name, seq, hash) VALUES ('keyed_from', ?1, ?2)",
                params![seq_i64(head.seq + 1), head.hash],
            )
            .map_err(open_error)?;
            if head.seq > 0 {
                tracing::warn!(
                    unkeyed_records = head.seq,
                    keyed_from = head.seq + 1,
                    "the audit chain is keyed from now on: the records written before keep their unkeyed SHA-256 \
                     hashes, which verify checks and reports as such"
                );
            }
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION).map_err(open_error)?;
        Ok(Self { path: path.to_owned(), writer: Mutex::new(conn), readers: Mutex::new(Vec::new()), key })
    }

    /// Opens an existing database (for `verify`, `export` and `prune` from the command line,
    /// which must not create an empty database where the operator mistyped a path).
    ///
    /// # Errors
    ///
    /// [`StoreError::Missing`] when there is no file at `path`; otherwise as [`AuditStore::open`].
    pub fn open_existing(path: &Path, key: Option<ChainKey>) -> Result<Self, StoreError> {
        if !path.is_file() {
            return Err(StoreError::Missing(path.to_owned()));
        }
        Self::open(path, key)
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
        let key = self.key.as_ref().ok_or(StoreError::NoKey)?;
        let mut conn = self.writer.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Every statement of an append is prepared once per connection (`prepare_cached`), not
        // once per batch.
        let mut head =
            tx.prepare_cached("SELECT seq, hash FROM chain_meta WHERE name = 'head'")?.query_row([], |row| {
                Ok(ChainPoint { seq: u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default(), hash: row.get(1)? })
            })?;
        let mut last_recorded: i64 = tx
            .prepare_cached("SELECT recorded_at FROM records WHERE seq = ?1")?
            .query_row([seq_i64(head.seq)], |row| row.get(0))
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
                let hash = content.keyed_hash(&head.hash, key);
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
        tx.prepare_cached("UPDATE chain_meta SET seq = ?1, hash = ?2 WHERE name = 'head'")?
            .execute(params![seq_i64(head.seq), head.hash])?;
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

    /// Recomputes the whole chain from the anchor, with the key from `keyed_from` on, and
    /// reports the first record where it breaks: an edited record (its content no longer matches
    /// its hash), a missing one (a gap in the sequence, or records missing before the head), a
    /// reordered one (its `prev_hash` does not match its predecessor), a chain recomputed without
    /// the key. Then, when the chain holds, compares each of the `heads` exported earlier with the
    /// record at its sequence number: a database rewritten since, even with the key, differs. A
    /// head whose record has been pruned since is held to `pruning`: the anchor only moves past a
    /// record once the retention allows it, so records removed earlier (by hand, with the anchor
    /// moved after them) break the chain there.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoKey`] when the store was opened without the key; any SQLite failure (not a
    /// broken chain: that is the report).
    pub fn verify(&self, heads: &[ExportedHead], pruning: Pruning) -> Result<VerifyReport, StoreError> {
        let key = self.key.as_ref().ok_or(StoreError::NoKey)?;
        self.with_reader(|conn| {
            // One read transaction: a consistent snapshot while the consumer keeps appending.
            let tx = conn.transaction()?;
            let anchor = chain_point(&tx, "anchor")?;
            let head = chain_point(&tx, "head")?;
            let keyed_from = tx
                .query_row("SELECT seq FROM chain_meta WHERE name = 'keyed_from'", [], |row| row.get::<_, i64>(0))
                .optional()?;
            let mut report = VerifyReport {
                records_checked: 0,
                first_broken: None,
                anchor: anchor.clone(),
                head,
                keyed_from: keyed_from.and_then(|s| u64::try_from(s).ok()).unwrap_or(u64::MAX),
                unkeyed_records: 0,
                heads_checked: 0,
            };
            if keyed_from.is_none() {
                report.first_broken = Some(BrokenRecord {
                    seq: anchor.seq + 1,
                    reason: "the chain's keyed_from marker is missing: the database was altered".to_owned(),
                });
                return Ok(report);
            }
            let mut previous = anchor;
            {
                let mut statement = tx.prepare(&format!("SELECT {RECORD_COLUMNS} FROM records ORDER BY seq"))?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    let seq = u64::try_from(row.get::<_, i64>(0)?).unwrap_or_default();
                    report.records_checked += 1;
                    let keyed = seq >= report.keyed_from;
                    if !keyed {
                        report.unkeyed_records += 1;
                    }
                    if let Some(broken) = check_row(row, seq, &previous, keyed.then_some(key))? {
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
            } else {
                report.first_broken =
                    check_heads(&tx, heads, &report.anchor, &report.head, pruning, &mut report.heads_checked)?;
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

/// What retention allowed to be pruned, for [`AuditStore::verify`]: records are removed only
/// once older than `retention` (never, without one), and a head is exported within
/// `head_interval` of its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruning {
    pub retention: Option<Duration>,
    pub head_interval: Duration,
}

impl Pruning {
    /// Why the record of a head exported at `exported_at` (µs) could not have been pruned yet at
    /// `now` (µs), if it could not.
    fn premature(&self, exported_at: i64, now: i64) -> Option<String> {
        let Some(retention) = self.retention else {
            return Some("no retention is set (or it was removed since)".to_owned());
        };
        // Its record was recorded after `exported_at - head_interval`, and retention removes a
        // record only once it is older than `retention`; a minute more for clocks.
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        let earliest =
            exported_at.saturating_sub(micros(self.head_interval) + 60_000_000).saturating_add(micros(retention));
        (now < earliest).then(|| format!("the retention ({} s) did not allow it yet", retention.as_secs()))
    }
}

/// Compares each exported head with the record at its sequence number (or the anchor, for the
/// last record pruned). A head older than the anchor can no longer be compared: its record was
/// pruned, which `pruning` must have allowed.
fn check_heads(
    conn: &Connection,
    heads: &[ExportedHead],
    anchor: &ChainPoint,
    head: &ChainPoint,
    pruning: Pruning,
    checked: &mut u64,
) -> rusqlite::Result<Option<BrokenRecord>> {
    let mut hash_at = conn.prepare("SELECT hash FROM records WHERE seq = ?1")?;
    let now = now_micros();
    for exported in heads {
        if exported.seq < anchor.seq {
            let exported_at = parse_rfc3339_micros(&exported.at).unwrap_or(i64::MAX);
            if let Some(why) = pruning.premature(exported_at, now) {
                *checked += 1;
                return Ok(Some(BrokenRecord {
                    seq: exported.seq,
                    reason: format!(
                        "record {}, the head exported at {}, was removed although {why}: records were deleted \
                         and the chain anchor moved past them",
                        exported.seq, exported.at
                    ),
                }));
            }
            continue;
        }
        *checked += 1;
        if exported.seq > head.seq {
            return Ok(Some(BrokenRecord {
                seq: head.seq + 1,
                reason: format!(
                    "the head exported at {} is record {}, beyond the last record ({}): records were removed",
                    exported.at, exported.seq, head.seq
                ),
            }));
        }
        let stored: Option<String> = if exported.seq == anchor.seq {
            Some(anchor.hash.clone())
        } else {
            hash_at.query_row([seq_i64(exported.seq)], |row| row.get(0)).optional()?
        };
        if stored.as_deref() != Some(exported.hash.as_str()) {
            return Ok(Some(BrokenRecord {
                seq: exported.seq,
                reason: format!(
                    "record {} does not match the head exported at {}: the database was rewritten since",
                    exported.seq, exported.at
                ),
            }));
        }
    }
    Ok(None)
}

/// Checks one row against its predecessor, with the key for keyed records (`None`: a record
/// written before the chain was keyed).
fn check_row(
    row: &rusqlite::Row<'_>,
    seq: u64,
    previous: &ChainPoint,
    key: Option<&ChainKey>,
) -> rusqlite::Result<Option<BrokenRecord>> {
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
    let expected = match key {
        Some(key) => content.keyed_hash(&prev_hash, key),
        None => content.hash(&prev_hash),
    };
    if expected != stored {
        let reason = if key.is_some() {
            "the record's content does not match its keyed hash: it was modified, or the chain was recomputed \
             without the key"
        } else {
            "the record's content does not match its hash: it was modified"
        };
        return Ok(Some(BrokenRecord { seq, reason: reason.to_owned() }));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    //! Tampering as an intruder with write access to the file would do it: triggers dropped,
    //! hashes recomputed (with or without the key), the chain's points moved to match.
    use super::*;

    /// No retention: nothing may have been pruned.
    const KEEP_ALL: Pruning = Pruning { retention: None, head_interval: Duration::from_secs(60) };

    #[test]
    fn a_pruned_head_is_premature_unless_the_retention_allowed_its_record_to_go() {
        let day = Duration::from_secs(86_400);
        let pruning = Pruning { retention: Some(day), head_interval: Duration::from_secs(60) };
        let now = now_micros();
        let micros = |d: Duration| i64::try_from(d.as_micros()).unwrap();
        assert!(pruning.premature(now - micros(Duration::from_secs(3600)), now).is_some(), "an hour old");
        assert!(pruning.premature(now - micros(2 * day), now).is_none(), "two days old");
        assert!(KEEP_ALL.premature(now - micros(2 * day), now).unwrap().contains("no retention"));
    }
    use crate::chain::GENESIS_HASH;
    use crate::heads::ExportedHead;
    use crate::record::RecordKind;

    #[test]
    fn the_schema_seeds_the_chain_with_the_genesis_hash() {
        assert_eq!(SCHEMA.matches(GENESIS_HASH).count(), 2);
    }

    fn record(i: u64) -> NewRecord {
        NewRecord {
            event_id: format!("e{i}"),
            occurred_at: 1_700_000_000_000_000 + i64::try_from(i).unwrap(),
            kind: RecordKind::ScimCall,
            columns: Columns { status: Some(200), resource_id: Some(format!("u{i}")), ..Columns::default() },
            trace_context: Default::default(),
            event: serde_json::json!({"n": i}),
        }
    }

    fn store_with(key: &ChainKey, records: u64) -> (tempfile::TempDir, AuditStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = AuditStore::open(&dir.path().join("audit.db"), Some(key.clone())).unwrap();
        store.append(&(1..=records).map(record).collect::<Vec<_>>()).unwrap();
        (dir, store)
    }

    fn head_of(store: &AuditStore) -> ExportedHead {
        let head = store.stats().unwrap().head;
        ExportedHead { seq: head.seq, hash: head.hash, at: "2026-01-01T00:00:00Z".to_owned() }
    }

    /// Rewrites record `edit`'s status and recomputes every hash from it to the head, with `key`
    /// or, without one, with the unkeyed SHA-256 of the chain's first version.
    fn rewrite(store: &AuditStore, edit: u64, key: Option<&ChainKey>) {
        let conn = Connection::open(store.path()).unwrap();
        conn.execute_batch("DROP TRIGGER records_refuse_update; DROP TRIGGER chain_meta_forward_only;").unwrap();
        conn.execute("UPDATE records SET status = 500 WHERE seq = ?1", [seq_i64(edit)]).unwrap();
        let mut previous: String = if edit == 1 {
            GENESIS_HASH.to_owned()
        } else {
            conn.query_row("SELECT hash FROM records WHERE seq = ?1", [seq_i64(edit - 1)], |r| r.get(0)).unwrap()
        };
        let rows: Vec<(i64, String, i64, i64, String, Columns, String)> = conn
            .prepare(&format!("SELECT {RECORD_COLUMNS} FROM records WHERE seq >= ?1 ORDER BY seq"))
            .unwrap()
            .query_map([seq_i64(edit)], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, columns_of(row)?, row.get(19)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for (seq, event_id, occurred_at, recorded_at, kind, columns, event_json) in rows {
            let content = RowContent {
                seq,
                event_id: &event_id,
                occurred_at,
                recorded_at,
                kind: &kind,
                columns: &columns,
                event_json: &event_json,
            };
            let hash = match key {
                Some(key) => content.keyed_hash(&previous, key),
                None => content.hash(&previous),
            };
            conn.execute("UPDATE records SET prev_hash = ?1, hash = ?2 WHERE seq = ?3", params![previous, hash, seq])
                .unwrap();
            previous = hash;
        }
        conn.execute("UPDATE chain_meta SET hash = ?1 WHERE name = 'head'", [previous]).unwrap();
    }

    #[test]
    fn a_chain_written_with_the_key_verifies_and_matches_its_exported_head() {
        let (key, _) = ChainKey::generate();
        let (_dir, store) = store_with(&key, 10);
        let report = store.verify(&[head_of(&store)], KEEP_ALL).unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(
            (report.records_checked, report.keyed_from, report.unkeyed_records, report.heads_checked),
            (10, 1, 0, 1)
        );
    }

    #[test]
    fn verify_detects_a_database_rewritten_with_a_recomputed_unkeyed_chain() {
        let (key, _) = ChainKey::generate();
        let (_dir, store) = store_with(&key, 10);
        rewrite(&store, 4, None);
        let broken = store.verify(&[], KEEP_ALL).unwrap().first_broken.expect("the rewrite is found");
        assert_eq!(broken.seq, 4);
        assert!(broken.reason.contains("without the key"), "{}", broken.reason);
    }

    #[test]
    fn a_rewrite_that_also_claims_the_chain_was_never_keyed_is_caught_by_an_exported_head() {
        let (key, _) = ChainKey::generate();
        let (_dir, store) = store_with(&key, 10);
        let exported = head_of(&store);
        rewrite(&store, 1, None);
        let conn = Connection::open(store.path()).unwrap();
        conn.execute("UPDATE chain_meta SET seq = 11 WHERE name = 'keyed_from'", []).unwrap();
        let report = store.verify(&[], KEEP_ALL).unwrap();
        assert!(
            report.is_intact() && report.unkeyed_records == 10,
            "alone, the chain looks like an old one: {report:?}"
        );
        let broken = store.verify(&[exported], KEEP_ALL).unwrap().first_broken.expect("the exported head tells");
        assert_eq!(broken.seq, 10);
        assert!(broken.reason.contains("rewritten"), "{}", broken.reason);
    }

    #[test]
    fn verify_detects_a_database_rewritten_with_the_key_that_no_longer_matches_an_exported_head() {
        let (key, _) = ChainKey::generate();
        let (_dir, store) = store_with(&key, 10);
        let exported = head_of(&store);
        rewrite(&store, 6, Some(&key));
        assert!(store.verify(&[], KEEP_ALL).unwrap().is_intact(), "whoever holds the key can recompute the chain");
        let broken = store.verify(&[exported], KEEP_ALL).unwrap().first_broken.expect("but not the exported head");
        assert_eq!(broken.seq, 10);
        assert!(broken.reason.contains("does not match the head exported"), "{}", broken.reason);
    }

    #[test]
    fn a_head_exported_beyond_the_last_record_reveals_records_removed_from_the_end() {
        let (key, _) = ChainKey::generate();
        let (_dir, store) = store_with(&key, 10);
        let exported = ExportedHead { seq: 12, hash: "f".repeat(64), at: "2026-01-01T00:00:00Z".to_owned() };
        let broken = store.verify(&[exported], KEEP_ALL).unwrap().first_broken.expect("the head is beyond the records");
        assert_eq!(broken.seq, 11);
    }

    #[test]
    fn a_database_from_before_the_key_is_keyed_from_its_next_record_and_verifies_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.db");
        let (key, _) = ChainKey::generate();
        {
            // A version 1 database: three records chained with the unkeyed SHA-256.
            let store = AuditStore::open(&path, Some(key.clone())).unwrap();
            store.append(&(1..=3).map(record).collect::<Vec<_>>()).unwrap();
            rewrite(&store, 1, None);
            let conn = Connection::open(&path).unwrap();
            conn.execute("DELETE FROM chain_meta WHERE name = 'keyed_from'", []).unwrap_err();
            conn.execute_batch(
                "DROP TRIGGER chain_meta_refuse_delete; DELETE FROM chain_meta WHERE name = 'keyed_from';",
            )
            .unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
        }
        let store = AuditStore::open(&path, Some(key)).unwrap();
        store.append(&(4..=5).map(record).collect::<Vec<_>>()).unwrap();
        let report = store.verify(&[head_of(&store)], KEEP_ALL).unwrap();
        assert!(report.is_intact(), "{report:?}");
        assert_eq!((report.keyed_from, report.unkeyed_records, report.records_checked), (4, 3, 5));
    }

    #[test]
    fn a_missing_keyed_from_marker_is_tampering() {
        let (key, _) = ChainKey::generate();
        let (_dir, store) = store_with(&key, 2);
        let conn = Connection::open(store.path()).unwrap();
        conn.execute_batch("DROP TRIGGER chain_meta_refuse_delete; DELETE FROM chain_meta WHERE name = 'keyed_from';")
            .unwrap();
        let broken = store.verify(&[], KEEP_ALL).unwrap().first_broken.expect("the marker is missing");
        assert!(broken.reason.contains("keyed_from"), "{}", broken.reason);
    }

    #[test]
    fn writing_and_verifying_need_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let store = AuditStore::open(&dir.path().join("audit.db"), None).unwrap();
        assert!(matches!(store.append(&[record(1)]), Err(StoreError::NoKey)));
        assert!(matches!(store.verify(&[], KEEP_ALL), Err(StoreError::NoKey)));
    }
}
