//! PATCH (RFC 7644 §3.5.2): the `PatchOp` request, and its schema-driven application to a resource.
//!
//! Parsing tolerates the forms real clients send, each meaning what its RFC equivalent means:
//! - `op` in any case (`Add`, `Replace`, `Remove` from Entra); the `Operations` key in any case;
//! - a missing `schemas` member (it carries nothing the body does not); a `schemas` that is present
//!   must name the PatchOp URN;
//! - `"path": ""` or `"path": null` as no path.
//!
//! Application (see [`PatchRequest::apply`]) follows RFC 7644 and accepts, with the same effect as
//! their RFC equivalents: `"True"`/`"False"` strings for booleans (Entra); `remove` on `members` with
//! a `value` array removing only those members (Entra); a path-less `replace`/`add` whose keys are
//! dotted (`name.givenName`) or URN-prefixed attribute paths (Entra); `add` on a filtered path
//! creating the element the filter describes when none matches (Entra, `emails[type eq "work"].value`);
//! path-less `replace {"active": false}` and `replace members []` (Okta); read-only attributes such as
//! `id` inside a path-less value, which are ignored as PUT ignores them (Okta's group rename); a
//! `schemas` member inside a path-less value or inside a whole extension object (`add`/`replace` on
//! `urn:...:enterprise:2.0:User` with `{"schemas": [...], "employeeNumber": ...}`, as scim2-tester
//! sends it), which names a schema and is not an attribute, so it is ignored;
//! `replace` of a single complex attribute merging its sub-attributes (SailPoint; that is RFC
//! behaviour). Group membership comes out as a [`MembersChange`], never as a rewritten list.

mod apply;
mod members;
mod path;

pub use apply::PatchOutcome;
pub use members::{Member, MemberLookup, MembersChange, NoMemberLookup};
pub use path::PatchPath;

use crate::error::ScimError;
use crate::json::{get_ci, spelled_twice, type_name};
use serde_json::Value;
use std::fmt;

/// A PATCH operation's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PatchOp {
    Add,
    Remove,
    Replace,
}

impl PatchOp {
    /// The RFC spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PatchOp::Add => "add",
            PatchOp::Remove => "remove",
            PatchOp::Replace => "replace",
        }
    }
}

impl fmt::Display for PatchOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    pub op: PatchOp,
    pub path: Option<PatchPath>,
    /// The `value` member; `Some(Value::Null)` when the client sent an explicit `null`.
    pub value: Option<Value>,
}

/// A parsed `PatchOp` request body.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchRequest {
    pub operations: Vec<PatchOperation>,
}

impl PatchRequest {
    /// Parses a request body from bytes.
    ///
    /// # Errors
    /// `invalidSyntax` for malformed JSON, otherwise as [`PatchRequest::parse`].
    pub fn from_slice(body: &[u8]) -> Result<Self, ScimError> {
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ScimError::invalid_syntax(format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()))
        })?;
        Self::parse(&v)
    }

    /// Parses a request body.
    ///
    /// # Errors
    /// `invalidSyntax` for a body that is not a PatchOp (wrong `schemas`, no `Operations`, an
    /// unknown `op`); `invalidPath` for a malformed path; `invalidValue` for an `add` or `replace`
    /// without a value; `noTarget` for a `remove` without a path (RFC 7644 §3.5.2.2).
    /// `invalidSyntax` too for a member spelled twice (`Operations` and `operations`, `Path` and
    /// `path`): attribute names are case-insensitive (RFC 7643 §2.1), so such a body says two
    /// things at once, and the part of the connector that keeps passwords apart must read the
    /// same one as the part that applies the change.
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax(format!(
                "a PATCH body must be a JSON object, not {}",
                type_name(body)
            )));
        };
        if let Some(key) = spelled_twice(obj, &["schemas", "Operations"]) {
            return Err(ScimError::invalid_syntax(format!("'{key}' is given more than once (in different cases)")));
        }
        if let Some(schemas) = get_ci(obj, "schemas") {
            let names_patch_op = schemas.as_array().is_some_and(|l| {
                l.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(crate::urn::PATCH_OP)))
            });
            if !names_patch_op {
                return Err(ScimError::invalid_syntax(format!("'schemas' must contain \"{}\"", crate::urn::PATCH_OP)));
            }
        }
        let ops = match get_ci(obj, "Operations") {
            Some(Value::Array(ops)) if !ops.is_empty() => ops,
            Some(Value::Array(_)) => return Err(ScimError::invalid_syntax("'Operations' is empty")),
            Some(other) => {
                return Err(ScimError::invalid_syntax(format!(
                    "'Operations' must be an array, not {}",
                    type_name(other)
                )));
            }
            None => return Err(ScimError::invalid_syntax("a PATCH body needs 'Operations'")),
        };
        let operations = ops.iter().enumerate().map(|(i, op)| parse_operation(i, op)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { operations })
    }
}

fn parse_operation(index: usize, op: &Value) -> Result<PatchOperation, ScimError> {
    let at = |detail: String| format!("operation {}: {detail}", index + 1);
    let Some(obj) = op.as_object() else {
        return Err(ScimError::invalid_syntax(at(format!("must be an object, not {}", type_name(op)))));
    };
    if let Some(key) = spelled_twice(obj, &["op", "path", "value"]) {
        return Err(ScimError::invalid_syntax(at(format!("'{key}' is given more than once (in different cases)"))));
    }
    let kind = match get_ci(obj, "op") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("add") => PatchOp::Add,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("remove") => PatchOp::Remove,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("replace") => PatchOp::Replace,
        Some(Value::String(s)) => {
            let shown: String = s.chars().take(32).collect();
            return Err(ScimError::invalid_syntax(at(format!("'{shown}' is not add, remove or replace"))));
        }
        Some(other) => {
            return Err(ScimError::invalid_syntax(at(format!("'op' must be a string, not {}", type_name(other)))));
        }
        None => return Err(ScimError::invalid_syntax(at("'op' is missing".into()))),
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(PatchPath::parse(s.trim()).map_err(|e| ScimError::invalid_path(at(e.detail)))?),
        Some(other) => {
            return Err(ScimError::invalid_path(at(format!("'path' must be a string, not {}", type_name(other)))));
        }
    };
    let value = get_ci(obj, "value").cloned();
    match kind {
        PatchOp::Add | PatchOp::Replace if value.is_none() => {
            Err(ScimError::invalid_value(at(format!("'{kind}' needs a 'value'"))))
        }
        PatchOp::Remove if path.is_none() => Err(ScimError::no_target(at("'remove' needs a 'path'".into()))),
        _ => Ok(PatchOperation { op: kind, path, value }),
    }
}
