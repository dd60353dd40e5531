//! Where a document carries a password, read one way by every part of the connector that must
//! keep it apart (sealing a job, a dead letter, `bulkId` substitution): a member whose name's last
//! segment (after a URN's `:` or a dotted path's `.`) is `password`, in any case, or the `value`
//! of a PATCH operation whose `path` names one. An operation that spells `path` twice (`Path` and
//! `path`) counts as naming a password when either does; [`crate::PatchRequest::parse`] refuses
//! such an operation anyway, so the reading that finds a password can never differ from the one
//! that applies the change.

use serde_json::{Map, Value};

/// Whether a member name or a PATCH path names a password.
pub fn names_password(name: &str) -> bool {
    name.trim().rsplit([':', '.']).next().is_some_and(|last| last.eq_ignore_ascii_case("password"))
}

/// Whether `op`, a PATCH operation, carries a password as its `value`: any member spelled `path`
/// in any case names one.
pub fn path_names_password(op: &Map<String, Value>) -> bool {
    op.iter()
        .filter(|(key, _)| key.eq_ignore_ascii_case("path"))
        .any(|(_, path)| path.as_str().is_some_and(names_password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_password_is_named_by_its_last_segment_in_any_case() {
        for name in
            ["password", "PassWord", " password ", "urn:ietf:params:scim:schemas:core:2.0:User:password", "x.Password"]
        {
            assert!(names_password(name), "{name}");
        }
        for name in ["passwords", "oldPassword", "password.hint", "userName", ""] {
            assert!(!names_password(name), "{name}");
        }
    }

    #[test]
    fn an_operation_names_a_password_when_any_spelling_of_path_does() {
        let op = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert!(path_names_password(&op(json!({"op": "replace", "path": "password", "value": "x"}))));
        assert!(path_names_password(&op(json!({"op": "replace", "Path": "displayName", "path": "password"}))));
        assert!(path_names_password(&op(json!({"op": "replace", "path": "displayName", "PATH": "password"}))));
        assert!(!path_names_password(&op(json!({"op": "replace", "path": "displayName", "value": "x"}))));
        assert!(!path_names_password(&op(json!({"op": "replace", "path": 7}))));
    }
}
