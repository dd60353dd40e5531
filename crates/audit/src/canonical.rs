//! Canonical JSON: object keys sorted, no insignificant whitespace, so that the same content always
//! serializes to the same bytes (the hash chain depends on it). `serde_json` in this workspace keeps
//! insertion order, which is not canonical; hence this writer.

use serde_json::Value;

/// Writes `value` with object keys sorted recursively.
pub(crate) fn to_canonical_string(value: &Value) -> String {
    let mut out = Vec::with_capacity(512);
    write_value(value, &mut out);
    // serde_json writes UTF-8 only, and the punctuation added here is ASCII.
    String::from_utf8(out).unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(key, out);
                out.push(b':');
                write_value(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out);
            }
            out.push(b']');
        }
        // Strings (serde_json's escaping is deterministic), null, booleans and numbers have one
        // serialization already: serde_json's, written straight into the output (this runs for
        // every string of every audit record, so no copy of the string and no buffer of its own).
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar<T: serde::Serialize + ?Sized>(scalar: &T, out: &mut Vec<u8>) {
    // Writing to a Vec cannot fail, and a string, a number, a boolean or null always serializes.
    let _ = serde_json::to_writer(out, scalar);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_are_sorted_at_every_depth() {
        let value = json!({"b": 1, "a": {"z": [ {"y": true, "x": null} ], "c": "é\"\n"}});
        assert_eq!(to_canonical_string(&value), r#"{"a":{"c":"é\"\n","z":[{"x":null,"y":true}]},"b":1}"#);
    }

    #[test]
    fn scalars_are_written_as_serde_json_writes_them() {
        let value = json!(["tab\there", "\u{1}", "€ and 😀", 1.5, -3, u64::MAX, true, null, ""]);
        assert_eq!(to_canonical_string(&value), value.to_string());
    }

    #[test]
    fn insertion_order_does_not_change_the_bytes() {
        let mut one = serde_json::Map::new();
        one.insert("k2".into(), json!(2));
        one.insert("k1".into(), json!(1));
        let mut two = serde_json::Map::new();
        two.insert("k1".into(), json!(1));
        two.insert("k2".into(), json!(2));
        assert_eq!(to_canonical_string(&Value::Object(one)), to_canonical_string(&Value::Object(two)));
    }
}
