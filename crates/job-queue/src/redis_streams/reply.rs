//! Reading Redis replies by hand: stream replies are nested arrays whose shape
//! differs between RESP2 and RESP3, and a malformed one must become an error,
//! never a panic.

use crate::QueueError;
use redis::Value;

pub(crate) fn corrupt(what: &str) -> QueueError {
    QueueError::Corrupt(format!("unexpected reply shape for {what}"))
}

pub(crate) fn bytes(v: &Value) -> Option<&[u8]> {
    match v {
        Value::BulkString(b) => Some(b),
        Value::SimpleString(s) => Some(s.as_bytes()),
        Value::VerbatimString { text, .. } => Some(text.as_bytes()),
        _ => None,
    }
}

pub(crate) fn string(v: &Value) -> Option<String> {
    bytes(v).and_then(|b| String::from_utf8(b.to_vec()).ok())
}

pub(crate) fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        other => string(other).and_then(|s| s.parse().ok()),
    }
}

pub(crate) fn array(v: &Value) -> Option<&[Value]> {
    match v {
        Value::Array(items) | Value::Set(items) => Some(items),
        _ => None,
    }
}

/// Field/value pairs, from a flat array (RESP2) or a map (RESP3).
pub(crate) fn pairs(v: &Value) -> Option<Vec<(&Value, &Value)>> {
    match v {
        Value::Map(items) => Some(items.iter().map(|(k, v)| (k, v)).collect()),
        Value::Array(items) if items.len() % 2 == 0 => Some(items.chunks(2).map(|c| (&c[0], &c[1])).collect()),
        _ => None,
    }
}

/// One stream entry: its id and its fields (`None` when the entry was deleted).
pub(crate) type Entry = (String, Option<Vec<(String, Vec<u8>)>>);

pub(crate) fn entry(v: &Value) -> Option<Entry> {
    let parts = array(v)?;
    let id = string(parts.first()?)?;
    let fields = match parts.get(1) {
        None | Some(Value::Nil) => None,
        Some(body) => {
            Some(pairs(body)?.into_iter().map(|(k, v)| Some((string(k)?, bytes(v)?.to_vec()))).collect::<Option<_>>()?)
        }
    };
    Some((id, fields))
}

pub(crate) fn entries(v: &Value) -> Option<Vec<Entry>> {
    match v {
        Value::Nil => Some(Vec::new()),
        other => array(other)?.iter().map(entry).collect(),
    }
}

/// The entries of the one stream read by `XREADGROUP` (nil when the block timed out).
pub(crate) fn xread(v: &Value) -> Result<Vec<Entry>, QueueError> {
    let streams: Vec<&Value> = match v {
        Value::Nil => return Ok(Vec::new()),
        Value::Map(items) => items.iter().map(|(_, entries)| entries).collect(),
        Value::Array(items) => items
            .iter()
            .map(|stream| array(stream).and_then(|s| s.get(1)).ok_or_else(|| corrupt("XREADGROUP")))
            .collect::<Result<_, _>>()?,
        _ => return Err(corrupt("XREADGROUP")),
    };
    let mut out = Vec::new();
    for stream in streams {
        out.extend(entries(stream).ok_or_else(|| corrupt("XREADGROUP entries"))?);
    }
    Ok(out)
}

/// `XAUTOCLAIM`'s next cursor and claimed entries (the deleted ids of Redis 7 are ignored:
/// the server already dropped them from the pending list).
pub(crate) fn xautoclaim(v: &Value) -> Result<(String, Vec<Entry>), QueueError> {
    let parts = array(v).ok_or_else(|| corrupt("XAUTOCLAIM"))?;
    let cursor = parts.first().and_then(string).ok_or_else(|| corrupt("XAUTOCLAIM cursor"))?;
    let claimed = parts.get(1).and_then(entries).ok_or_else(|| corrupt("XAUTOCLAIM entries"))?;
    Ok((cursor, claimed))
}

pub(crate) fn field<'a>(fields: &'a [(String, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bulk(s: &str) -> Value {
        Value::BulkString(s.as_bytes().to_vec())
    }

    #[test]
    fn xread_reads_entries_of_a_resp2_reply() {
        let reply = Value::Array(vec![Value::Array(vec![
            bulk("s"),
            Value::Array(vec![Value::Array(vec![bulk("1-0"), Value::Array(vec![bulk("id"), bulk("j1")])])]),
        ])]);
        let entries = xread(&reply).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].0, "1-0");
        assert_eq!(field(entries[0].1.as_ref().unwrap(), "id"), Some(&b"j1"[..]));
    }

    #[test]
    fn xread_of_a_timed_out_block_is_empty() {
        assert!(xread(&Value::Nil).unwrap().is_empty());
    }

    #[test]
    fn a_malformed_reply_is_an_error_not_a_panic() {
        assert!(matches!(xread(&Value::Int(3)), Err(QueueError::Corrupt(_))));
        assert!(matches!(xread(&Value::Array(vec![Value::Int(3)])), Err(QueueError::Corrupt(_))));
        assert!(matches!(xautoclaim(&Value::Array(vec![])), Err(QueueError::Corrupt(_))));
    }

    #[test]
    fn a_deleted_entry_has_no_fields() {
        let claimed = Value::Array(vec![bulk("0-0"), Value::Array(vec![Value::Array(vec![bulk("5-1"), Value::Nil])])]);
        let (cursor, entries) = xautoclaim(&claimed).unwrap();
        assert_eq!(cursor, "0-0");
        assert_eq!(entries, vec![("5-1".to_owned(), None)]);
    }
}
