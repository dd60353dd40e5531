//! The hash chain: each record's `hash` is SHA-256 over the previous record's hash and the
//! record's own canonical content, so that editing, deleting or reordering any record breaks the
//! chain at that record.

use crate::canonical::to_canonical_string;
use crate::record::Columns;
use serde_json::json;
use sha2::{Digest, Sha256};

/// The `prev_hash` of the first record ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Every stored column of a record except the two hashes: exactly what the hash covers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowContent<'a> {
    pub seq: i64,
    pub event_id: &'a str,
    pub occurred_at: i64,
    pub recorded_at: i64,
    pub kind: &'a str,
    pub columns: &'a Columns,
    /// The stored event JSON text, hashed verbatim.
    pub event_json: &'a str,
}

impl RowContent<'_> {
    /// The canonical bytes of this content (stable across releases: changing them would break
    /// every existing chain).
    fn canonical(&self) -> String {
        let c = self.columns;
        to_canonical_string(&json!({
            "v": 1,
            "seq": self.seq,
            "event_id": self.event_id,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "kind": self.kind,
            "source": c.source,
            "connection_id": c.connection_id,
            "connection_name": c.connection_name,
            "method": c.method,
            "route": c.route,
            "resource_type": c.resource_type,
            "resource_id": c.resource_id,
            "operation": c.operation,
            "status": c.status,
            "latency_micros": c.latency_micros,
            "client_address": c.client_address,
            "trace_id": c.trace_id,
            "outcome": c.outcome,
            "decode_error": c.decode_error,
            "event_json": self.event_json,
        }))
    }

    /// `hex(SHA-256(prev_hash ‖ "\n" ‖ canonical content))`.
    pub fn hash(&self, prev_hash: &str) -> String {
        let mut hasher = Sha256::new();
        hasher.update(prev_hash.as_bytes());
        hasher.update(b"\n");
        hasher.update(self.canonical().as_bytes());
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(columns: &Columns) -> RowContent<'_> {
        RowContent {
            seq: 1,
            event_id: "e1",
            occurred_at: 10,
            recorded_at: 11,
            kind: "scim_call",
            columns,
            event_json: r#"{"a":1}"#,
        }
    }

    #[test]
    fn the_hash_depends_on_the_previous_hash_and_on_every_column() {
        let columns = Columns { status: Some(201), ..Columns::default() };
        let base = content(&columns).hash(GENESIS_HASH);
        assert_eq!(base.len(), 64);
        assert_eq!(base, content(&columns).hash(GENESIS_HASH), "deterministic");
        assert_ne!(base, content(&columns).hash(&"1".repeat(64)));
        let edited = Columns { status: Some(200), ..Columns::default() };
        assert_ne!(base, content(&edited).hash(GENESIS_HASH));
        let mut moved = content(&columns);
        moved.seq = 2;
        assert_ne!(base, moved.hash(GENESIS_HASH));
    }
}
