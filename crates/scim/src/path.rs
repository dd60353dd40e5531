//! Attribute paths (RFC 7644 §3.10): `[URN ":"] ATTRNAME ["." subAttr]`, as written by clients.
//!
//! This is the syntax only; [`crate::Schemas::resolve`] gives a path its meaning for a resource type.

use std::fmt;

/// An attribute path as written: an optional schema URN, an attribute name and an optional
/// sub-attribute name (`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value`).
///
/// Names keep the client's spelling; comparisons against the schema are case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AttrPath {
    pub urn: Option<String>,
    pub name: String,
    pub sub: Option<String>,
}

/// Why a string is not an attribute path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PathSyntaxError(pub String);

impl AttrPath {
    /// A path to a top-level attribute of the core schema.
    pub fn new(name: impl Into<String>) -> Self {
        Self { urn: None, name: name.into(), sub: None }
    }

    /// A path to a sub-attribute of a top-level attribute of the core schema.
    pub fn with_sub(name: impl Into<String>, sub: impl Into<String>) -> Self {
        Self { urn: None, name: name.into(), sub: Some(sub.into()) }
    }

    /// Parses `[URN ":"] ATTRNAME ["." subAttr]`.
    ///
    /// A URN is recognised by its `urn:` prefix; the attribute name is what follows its last colon
    /// (attribute names cannot contain one), so `urn:...:enterprise:2.0:User:manager.value` splits into
    /// the enterprise URN, `manager` and `value`. A path that is only a schema URN parses with the
    /// URN's last segment as its name; the schema-aware resolution recognises it as the whole extension.
    ///
    /// # Errors
    /// A [`PathSyntaxError`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, PathSyntaxError> {
        if text.is_empty() {
            return Err(PathSyntaxError("empty attribute path".into()));
        }
        let (urn, rest) = if text.len() > 4 && text.is_char_boundary(4) && text[..4].eq_ignore_ascii_case("urn:") {
            let Some(colon) = text.rfind(':') else {
                return Err(PathSyntaxError(format!("'{text}' is not an attribute path")));
            };
            if colon <= 4 {
                return Err(PathSyntaxError(format!("'{text}' has an incomplete schema URN")));
            }
            let urn = &text[..colon];
            if let Some(bad) = urn.chars().find(|c| !is_urn_char(*c)) {
                return Err(PathSyntaxError(format!("character '{bad}' is not allowed in the schema URN of '{text}'")));
            }
            (Some(urn.to_owned()), &text[colon + 1..])
        } else {
            (None, text)
        };
        let (name, sub) = match rest.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        check_name(name, text)?;
        if let Some(sub) = sub {
            check_name(sub, text)?;
        }
        Ok(Self { urn, name: name.to_owned(), sub: sub.map(str::to_owned) })
    }

    /// The same path without its sub-attribute.
    pub fn parent(&self) -> AttrPath {
        AttrPath { urn: self.urn.clone(), name: self.name.clone(), sub: None }
    }
}

/// Whether `c` may appear in a schema URN inside a path.
pub(crate) fn is_urn_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '-' | '_')
}

/// RFC 7644 ATTRNAME: `ALPHA *(nameChar)` with `nameChar = "-" / "_" / DIGIT / ALPHA`, plus `$ref`
/// (RFC 7643 §2.1 allows the `$` prefix for the reserved `$ref` sub-attribute).
fn check_name(name: &str, whole: &str) -> Result<(), PathSyntaxError> {
    let body = name.strip_prefix('$').unwrap_or(name);
    let mut chars = body.chars();
    match chars.next() {
        Some(c) if c.is_ascii_alphabetic() => {}
        Some(c) => {
            return Err(PathSyntaxError(format!("attribute name in '{whole}' starts with '{c}', not a letter")));
        }
        None => return Err(PathSyntaxError(format!("'{whole}' has an empty attribute name"))),
    }
    if let Some(bad) = chars.find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_')) {
        return Err(PathSyntaxError(format!("character '{bad}' is not allowed in attribute path '{whole}'")));
    }
    Ok(())
}

impl fmt::Display for AttrPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(urn) = &self.urn {
            write!(f, "{urn}:")?;
        }
        f.write_str(&self.name)?;
        if let Some(sub) = &self.sub {
            write!(f, ".{sub}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urn_qualified_sub_attribute_splits_at_the_last_colon() {
        let p = AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value").unwrap();
        assert_eq!(p.urn.as_deref(), Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(p.name, "manager");
        assert_eq!(p.sub.as_deref(), Some("value"));
    }

    #[test]
    fn dollar_ref_is_a_valid_sub_attribute() {
        let p = AttrPath::parse("members.$ref").unwrap();
        assert_eq!(p, AttrPath::with_sub("members", "$ref"));
        assert_eq!(p.to_string(), "members.$ref");
    }

    #[test]
    fn malformed_paths_are_rejected_with_a_reason() {
        for bad in ["", "1abc", "name..x", "name.given.name", "na me", "urn:x", "emails[", ".value", "a.$"] {
            assert!(AttrPath::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
