//! The hash chain: each record's `hash` is HMAC-SHA256, with a key kept out of the database
//! ([`ChainKey`]), over the previous record's hash and the record's own canonical content, so that
//! editing, deleting or reordering any record breaks the chain at that record, and whoever can
//! write the database but lacks the key cannot compute a chain that verifies. Records written
//! before the chain was keyed (databases of schema version 1) keep their unkeyed SHA-256 hashes;
//! the first keyed record chains to the last of them, so the keyed chain binds them too.

#[cfg(test)]
use crate::canonical::to_canonical_string;
use crate::record::Columns;
use hmac::{Hmac, Mac};
#[cfg(test)]
use serde_json::json;
use sha2::digest::Update;
use sha2::{Digest, Sha256};
use std::fmt;
use zeroize::Zeroizing;

/// The `prev_hash` of the first record ever written.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The key of the chain's HMAC: at least [`ChainKey::MIN_LEN`] bytes, kept out of the database
/// (a variable, or a key file on another volume). Its `Debug` shows nothing of it.
#[derive(Clone)]
pub struct ChainKey(Zeroizing<Vec<u8>>);

/// A key too short to be a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the audit chain key is {0} bytes; it must be at least {min} (e.g. 64 hex digits)", min = ChainKey::MIN_LEN)]
pub struct KeyTooShort(pub usize);

impl ChainKey {
    /// The shortest key accepted.
    pub const MIN_LEN: usize = 32;

    /// The key made of the bytes of `text` (surrounding whitespace removed).
    ///
    /// # Errors
    /// Fewer than [`ChainKey::MIN_LEN`] bytes.
    pub fn from_text(text: &str) -> Result<Self, KeyTooShort> {
        let text = text.trim();
        if text.len() < Self::MIN_LEN {
            return Err(KeyTooShort(text.len()));
        }
        Ok(Self(Zeroizing::new(text.as_bytes().to_vec())))
    }

    /// A new random key and its text (64 hex digits), as [`ChainKey::from_text`] reads it back.
    pub fn generate() -> (Self, Zeroizing<String>) {
        let text = Zeroizing::new(hex::encode(rand::random::<[u8; 32]>()));
        (Self(Zeroizing::new(text.as_bytes().to_vec())), text)
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes a key of any length")
    }
}

impl fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChainKey([REDACTED])")
    }
}

impl PartialEq for ChainKey {
    fn eq(&self, other: &Self) -> bool {
        use subtle::ConstantTimeEq;
        self.0.len() == other.0.len() && bool::from(self.0.ct_eq(&other.0))
    }
}

impl Eq for ChainKey {}

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

/// Feeds bytes written to it into a hash or a MAC.
struct HashWriter<'a, H: Update>(&'a mut H);

impl<H: Update> std::io::Write for HashWriter<'_, H> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl RowContent<'_> {
    /// Writes the canonical JSON of this content: an object with keys in byte order, no
    /// whitespace. Stable across releases: changing it would break every existing chain. Written
    /// field by field (rather than through a `serde_json::Value` and [`to_canonical_string`])
    /// because verify hashes every record; a test checks that both give the same bytes.
    fn write_canonical(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let c = self.columns;
        let fields: [(&str, &dyn erased::Field); 21] = [
            ("client_address", &c.client_address),
            ("connection_id", &c.connection_id),
            ("connection_name", &c.connection_name),
            ("decode_error", &c.decode_error),
            ("event_id", &self.event_id),
            ("event_json", &self.event_json),
            ("kind", &self.kind),
            ("latency_micros", &c.latency_micros),
            ("method", &c.method),
            ("occurred_at", &self.occurred_at),
            ("operation", &c.operation),
            ("outcome", &c.outcome),
            ("recorded_at", &self.recorded_at),
            ("resource_id", &c.resource_id),
            ("resource_type", &c.resource_type),
            ("route", &c.route),
            ("seq", &self.seq),
            ("source", &c.source),
            ("status", &c.status),
            ("trace_id", &c.trace_id),
            ("v", &1i64),
        ];
        out.write_all(b"{")?;
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            serde_json::to_writer(&mut *out, key)?;
            out.write_all(b":")?;
            value.write_json(out)?;
        }
        out.write_all(b"}")
    }

    /// `hex(SHA-256(prev_hash ‖ "\n" ‖ canonical content))`: the unkeyed hash of the records
    /// written before the chain was keyed.
    pub(crate) fn hash(&self, prev_hash: &str) -> String {
        let mut hasher = Sha256::new();
        Digest::update(&mut hasher, prev_hash.as_bytes());
        Digest::update(&mut hasher, b"\n");
        // Writing into a hash cannot fail.
        let _ = self.write_canonical(&mut HashWriter(&mut hasher));
        hex::encode(hasher.finalize())
    }

    /// `hex(HMAC-SHA256(key, prev_hash ‖ "\n" ‖ canonical content))`: the hash of every record
    /// written since the chain is keyed.
    pub(crate) fn keyed_hash(&self, prev_hash: &str, key: &ChainKey) -> String {
        let mut mac = key.mac();
        Mac::update(&mut mac, prev_hash.as_bytes());
        Mac::update(&mut mac, b"\n");
        let _ = self.write_canonical(&mut HashWriter(&mut mac));
        hex::encode(mac.finalize().into_bytes())
    }

    /// The canonical content through the general canonical-JSON writer (for the test that the
    /// fast path gives the same bytes).
    #[cfg(test)]
    fn canonical_via_value(&self) -> String {
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
}

/// The few value types a record column has, serialized as JSON.
mod erased {
    pub(super) trait Field {
        fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
    }

    impl<T: serde::Serialize> Field for T {
        fn write_json(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
            serde_json::to_writer(out, self).map_err(std::io::Error::from)
        }
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
    fn the_fast_canonical_writer_matches_the_general_one() {
        let columns = Columns {
            source: Some("gateway".into()),
            connection_id: Some("c\"1".into()),
            status: Some(201),
            latency_micros: Some(-5),
            trace_id: None,
            decode_error: Some("é\n".into()),
            ..Columns::default()
        };
        let content = content(&columns);
        let mut fast = Vec::new();
        content.write_canonical(&mut fast).unwrap();
        assert_eq!(String::from_utf8(fast).unwrap(), content.canonical_via_value());
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

    #[test]
    fn the_keyed_hash_depends_on_the_key_and_differs_from_the_unkeyed_one() {
        let columns = Columns { status: Some(201), ..Columns::default() };
        let (key, _) = ChainKey::generate();
        let (other, _) = ChainKey::generate();
        let keyed = content(&columns).keyed_hash(GENESIS_HASH, &key);
        assert_eq!(keyed.len(), 64);
        assert_eq!(keyed, content(&columns).keyed_hash(GENESIS_HASH, &key), "deterministic");
        assert_ne!(keyed, content(&columns).keyed_hash(GENESIS_HASH, &other));
        assert_ne!(keyed, content(&columns).hash(GENESIS_HASH));
    }

    #[test]
    fn a_short_key_is_refused_and_a_key_never_shows() {
        assert_eq!(ChainKey::from_text("  too short  ").unwrap_err(), KeyTooShort(9));
        let (key, text) = ChainKey::generate();
        assert_eq!(ChainKey::from_text(&text).unwrap(), key);
        assert!(!format!("{key:?}").contains(&text[..8]));
    }
}
