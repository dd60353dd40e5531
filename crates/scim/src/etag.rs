//! Weak ETags from a resource version (RFC 7644 §3.14) and the `If-Match` / `If-None-Match`
//! preconditions (RFC 9110 §13.1).
//!
//! SCIM versions are weak (`W/"..."`): two representations with the same version are equivalent,
//! not byte-identical (projection changes the bytes). Preconditions therefore compare weakly — the
//! opaque tags must be equal, the `W/` prefix is ignored — which is what SCIM clients expect when
//! they echo `meta.version` in `If-Match`.

use crate::error::ScimError;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;

/// An entity tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ETag {
    pub weak: bool,
    /// The opaque tag, without quotes.
    pub tag: String,
}

impl ETag {
    /// The weak ETag of a version: `W/"<version>"`.
    pub fn weak(version: impl Into<String>) -> Self {
        Self { weak: true, tag: version.into() }
    }

    /// Parses one entity tag (`W/"x"` or `"x"`).
    ///
    /// # Errors
    /// `invalidValue` when the text is not an entity tag.
    pub fn parse(text: &str) -> Result<Self, ScimError> {
        let text = text.trim();
        let (weak, rest) = match text.strip_prefix("W/").or_else(|| text.strip_prefix("w/")) {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let tag = rest
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .filter(|t| {
                !t.contains('"') && t.chars().all(|c| c == '!' || ('\u{23}'..='\u{7e}').contains(&c) || !c.is_ascii())
            })
            .ok_or_else(|| ScimError::invalid_value("an entity tag must look like W/\"<version>\" or \"<version>\""))?;
        Ok(Self { weak, tag: tag.to_owned() })
    }

    /// Weak comparison: the opaque tags are equal.
    pub fn weak_eq(&self, other: &ETag) -> bool {
        self.tag == other.tag
    }
}

impl fmt::Display for ETag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.weak {
            f.write_str("W/")?;
        }
        write!(f, "\"{}\"", self.tag)
    }
}

/// A parsed `If-Match` or `If-None-Match` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Precondition {
    /// `*`: any current representation.
    Any,
    /// A list of entity tags.
    Tags(Vec<ETag>),
}

impl Precondition {
    /// Parses a header value: `*` or a comma-separated list of entity tags.
    ///
    /// # Errors
    /// `invalidValue` for a malformed list.
    pub fn parse(header: &str) -> Result<Self, ScimError> {
        let header = header.trim();
        if header == "*" {
            return Ok(Precondition::Any);
        }
        let mut tags = Vec::new();
        let mut rest = header;
        // Entity tags may contain commas inside their quotes, so split by scanning, not by ','.
        while !rest.trim_start().is_empty() {
            let r = rest.trim_start();
            let prefix = if r.starts_with("W/") || r.starts_with("w/") { 2 } else { 0 };
            let body = r.get(prefix..).unwrap_or("");
            if !body.starts_with('"') {
                return Err(ScimError::invalid_value("a precondition header must be '*' or a list of entity tags"));
            }
            let close = body[1..]
                .find('"')
                .map(|i| i + 1)
                .ok_or_else(|| ScimError::invalid_value("an entity tag in the precondition header is not closed"))?;
            tags.push(ETag::parse(&r[..prefix + close + 1])?);
            rest = r[prefix + close + 1..].trim_start();
            if let Some(after) = rest.strip_prefix(',') {
                rest = after;
            } else if !rest.is_empty() {
                return Err(ScimError::invalid_value("entity tags in a precondition header are separated by commas"));
            }
        }
        if tags.is_empty() {
            return Err(ScimError::invalid_value("the precondition header is empty"));
        }
        Ok(Precondition::Tags(tags))
    }

    /// Whether the header names the current representation (`current` is `None` when the resource
    /// does not exist).
    pub fn matches(&self, current: Option<&ETag>) -> bool {
        match (self, current) {
            (_, None) => false,
            (Precondition::Any, Some(_)) => true,
            (Precondition::Tags(tags), Some(c)) => tags.iter().any(|t| t.weak_eq(c)),
        }
    }
}

/// Checks `If-Match`: the request may proceed only if the current version is listed.
///
/// # Errors
/// 412 `invalidVers` (RFC 7644 §3.14) when it is not; `invalidValue` for a malformed header.
pub fn check_if_match(header: Option<&str>, current: Option<&ETag>) -> Result<(), ScimError> {
    let Some(header) = header else { return Ok(()) };
    if Precondition::parse(header)?.matches(current) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed("the resource has changed since that version (If-Match failed)"))
    }
}

/// Evaluates `If-None-Match`: `true` when the header lists the current version (a `GET` then
/// answers 304 Not Modified, a `PUT`/`POST` fails with 412).
///
/// # Errors
/// `invalidValue` for a malformed header.
pub fn if_none_match_hits(header: Option<&str>, current: Option<&ETag>) -> Result<bool, ScimError> {
    match header {
        None => Ok(false),
        Some(h) => Ok(Precondition::parse(h)?.matches(current)),
    }
}

/// A version string for a document: a hash of its canonical JSON (keys sorted), so that the same
/// content always gets the same version whatever the key order.
pub fn version_of(resource: &Value) -> String {
    fn canonical(v: &Value, out: &mut String) {
        match v {
            Value::Object(o) => {
                let mut keys: Vec<&String> = o.keys().collect();
                keys.sort();
                out.push('{');
                for (i, k) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(k.clone()).to_string());
                    out.push(':');
                    if let Some(x) = o.get(k) {
                        canonical(x, out);
                    }
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(x, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = String::new();
    canonical(resource, &mut text);
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn weak_etags_print_and_parse() {
        let e = ETag::weak("3694e05e9dff591");
        assert_eq!(e.to_string(), "W/\"3694e05e9dff591\"");
        assert_eq!(ETag::parse("W/\"3694e05e9dff591\"").unwrap(), e);
        assert!(!ETag::parse("\"x\"").unwrap().weak);
        for bad in ["x", "W/x", "\"x", "W/\"a\"b\""] {
            assert!(ETag::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn if_match_lists_and_star_compare_weakly() {
        let current = ETag::weak("v2");
        assert!(check_if_match(Some("W/\"v1\", W/\"v2\""), Some(&current)).is_ok());
        assert!(check_if_match(Some("\"v2\""), Some(&current)).is_ok());
        assert!(check_if_match(Some("*"), Some(&current)).is_ok());
        assert!(check_if_match(None, Some(&current)).is_ok());
        let e = check_if_match(Some("W/\"v1\""), Some(&current)).unwrap_err();
        assert_eq!((e.status, e.scim_type), (412, Some(crate::ScimType::InvalidVers)));
        assert!(check_if_match(Some("*"), None).is_err());
        assert_eq!(check_if_match(Some("v1"), Some(&current)).unwrap_err().status, 400);
        assert_eq!(
            Precondition::parse("W/\"a,b\",\"c\"").unwrap(),
            Precondition::Tags(vec![ETag::weak("a,b"), ETag { weak: false, tag: "c".into() }])
        );
    }

    #[test]
    fn if_none_match_hits_only_the_current_version() {
        let current = ETag::weak("v2");
        assert!(if_none_match_hits(Some("W/\"v2\""), Some(&current)).unwrap());
        assert!(!if_none_match_hits(Some("W/\"v1\""), Some(&current)).unwrap());
        assert!(!if_none_match_hits(Some("*"), None).unwrap());
    }

    #[test]
    fn versions_ignore_key_order_and_follow_content() {
        let a = version_of(&json!({"a": 1, "b": [1, {"x": "y", "z": null}]}));
        let b = version_of(&json!({"b": [1, {"z": null, "x": "y"}], "a": 1}));
        assert_eq!(a, b);
        assert_ne!(a, version_of(&json!({"a": 2, "b": [1, {"x": "y", "z": null}]})));
        assert_eq!(a.len(), 16);
    }
}
