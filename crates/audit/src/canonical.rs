//! Canonical JSON: object keys sorted, no insignificant whitespace, so that the same content always
//! serializes to the same bytes (the hash chain depends on it). `serde_json` in this workspace keeps
//! insertion order, which is not canonical; hence this writer.

use serde_json::Value;

/// Writes `value` with object keys sorted recursively.
pub(crate) fn to_canonical_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::String(s) => write_string(s, out),
        // Null, booleans and numbers have one serialization already.
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, out: &mut String) {
    // serde_json's string escaping is deterministic; reuse it.
    out.push_str(&Value::String(s.to_owned()).to_string());
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
