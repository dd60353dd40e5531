//! Small helpers over `serde_json` documents: case-insensitive member access (RFC 7643 §2.1 makes
//! attribute names case-insensitive) and the "unassigned" test of RFC 7643 §2.5.

use serde_json::{Map, Value};

/// The member called `key`: the exact spelling first (the common case, a hash lookup), then any
/// spelling that matches case-insensitively.
pub(crate) fn get_ci<'v>(map: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

/// The first of `keys` that `map` spells more than once, compared case-insensitively (`Path` and
/// `path`): which of the two a reader takes would otherwise decide what the document means.
pub(crate) fn spelled_twice<'k>(map: &Map<String, Value>, keys: &[&'k str]) -> Option<&'k str> {
    keys.iter().copied().find(|key| map.keys().filter(|k| k.eq_ignore_ascii_case(key)).nth(1).is_some())
}

/// The exact spelling under which `map` holds `key`, compared case-insensitively.
pub(crate) fn key_ci(map: &Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// The member called `key` (case-insensitively), mutably.
pub(crate) fn get_ci_mut<'v>(map: &'v mut Map<String, Value>, key: &str) -> Option<&'v mut Value> {
    let actual = key_ci(map, key)?;
    map.get_mut(&actual)
}

/// Removes the member called `key` (case-insensitively) and returns its value.
pub(crate) fn remove_ci(map: &mut Map<String, Value>, key: &str) -> Option<Value> {
    let actual = key_ci(map, key)?;
    map.shift_remove(&actual)
}

/// RFC 7643 §2.5: unassigned attributes, `null`, an empty array (and, for us, an empty string or an
/// object with nothing assigned) are all "no value".
pub(crate) fn is_unassigned(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.iter().all(is_unassigned),
        Value::Object(o) => o.values().all(is_unassigned),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A short, safe description of a JSON value's type for error messages (never the value itself,
/// which may be personal data or a password).
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Sets member `name` (schema spelling), replacing any member spelled differently.
pub(crate) fn set_ci(map: &mut Map<String, Value>, name: &str, value: Value) {
    if let Some(existing) = key_ci(map, name)
        && existing != name
    {
        map.shift_remove(&existing);
    }
    map.insert(name.to_owned(), value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_prefers_the_exact_spelling_then_any_case() {
        let v = json!({"userName": "a", "USERNAME": "b", "Active": true});
        let m = v.as_object().unwrap();
        assert_eq!(get_ci(m, "userName"), Some(&json!("a")));
        assert_eq!(get_ci(m, "active"), Some(&json!(true)));
        assert_eq!(key_ci(m, "ACTIVE").as_deref(), Some("Active"));
    }

    #[test]
    fn null_empty_arrays_and_empty_objects_are_unassigned() {
        for v in [json!(null), json!([]), json!({}), json!(""), json!([null]), json!({"a": null})] {
            assert!(is_unassigned(&v), "{v}");
        }
        for v in [json!(false), json!(0), json!("x"), json!([1]), json!({"a": 1})] {
            assert!(!is_unassigned(&v), "{v}");
        }
    }
}
