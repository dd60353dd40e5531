//! SCIM errors (RFC 7644 §3.12): an HTTP status, an optional `scimType`, and a
//! human-readable detail, serialized as the `urn:ietf:params:scim:api:messages:2.0:Error` body.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The schema URN of an error response body.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The `scimType` values defined by RFC 7644 §3.12 (Table 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
    /// RFC 9865: the `cursor` value is not one this server issued for this query.
    InvalidCursor,
    /// RFC 9865: the `cursor` was valid once but has outlived the cursor timeout.
    ExpiredCursor,
    /// RFC 9865: the `count` value is not acceptable for cursor paging.
    InvalidCount,
}

impl ScimType {
    /// Every `scimType` value: RFC 7644 Table 9, then the RFC 9865 additions.
    pub const ALL: [ScimType; 13] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
        ScimType::InvalidCursor,
        ScimType::ExpiredCursor,
        ScimType::InvalidCount,
    ];

    /// The wire spelling, e.g. `"invalidFilter"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
            ScimType::InvalidCursor => "invalidCursor",
            ScimType::ExpiredCursor => "expiredCursor",
            ScimType::InvalidCount => "invalidCount",
        }
    }

    /// Parses the wire spelling; `None` for anything RFC 7644 or RFC 9865 does not define.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "invalidFilter" => ScimType::InvalidFilter,
            "tooMany" => ScimType::TooMany,
            "uniqueness" => ScimType::Uniqueness,
            "mutability" => ScimType::Mutability,
            "invalidSyntax" => ScimType::InvalidSyntax,
            "invalidPath" => ScimType::InvalidPath,
            "noTarget" => ScimType::NoTarget,
            "invalidValue" => ScimType::InvalidValue,
            "invalidVers" => ScimType::InvalidVers,
            "sensitive" => ScimType::Sensitive,
            "invalidCursor" => ScimType::InvalidCursor,
            "expiredCursor" => ScimType::ExpiredCursor,
            "invalidCount" => ScimType::InvalidCount,
            _ => return None,
        })
    }

    /// The HTTP status RFC 7644 (and RFC 9865) pairs with this `scimType`.
    pub fn status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::InvalidVers => 412,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl fmt::Display for ScimType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM protocol error: what the client did wrong (or what went wrong on
/// our side), ready to be rendered as an RFC 7644 error body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.map(|t| t.as_str()).unwrap_or("-"))]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl ScimError {
    /// An error with the `scimType`'s own status.
    pub fn new(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self { status: scim_type.status(), scim_type: Some(scim_type), detail: detail.into() }
    }

    /// An error with a status and no `scimType`.
    pub fn status(status: u16, detail: impl Into<String>) -> Self {
        Self { status, scim_type: None, detail: detail.into() }
    }

    /// `invalidFilter` (400): the filter syntax is invalid or the attribute/operator combination is not supported.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidFilter, detail)
    }
    /// `invalidSyntax` (400): the body is not the message the endpoint expects.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidSyntax, detail)
    }
    /// `invalidValue` (400): a value is missing or not compatible with the attribute or operation.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidValue, detail)
    }
    /// `invalidPath` (400): a PATCH `path` is malformed or names nothing.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidPath, detail)
    }
    /// `noTarget` (400): a PATCH path yields nothing to operate on.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(ScimType::NoTarget, detail)
    }
    /// `mutability` (400): the change conflicts with an attribute's mutability (or removes a required one).
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Mutability, detail)
    }
    /// `uniqueness` (409): a unique value is already taken.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(ScimType::Uniqueness, detail)
    }
    /// `tooMany` (400): the query would return more results than the server will.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::new(ScimType::TooMany, detail)
    }
    /// 404 without a `scimType`.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::status(404, detail)
    }
    /// `invalidVers` (412): the `If-Match` version is not the current one.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidVers, detail)
    }
    /// RFC 9865 `invalidCursor` (400).
    pub fn invalid_cursor(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidCursor, detail)
    }
    /// RFC 9865 `expiredCursor` (400).
    pub fn expired_cursor(detail: impl Into<String>) -> Self {
        Self::new(ScimType::ExpiredCursor, detail)
    }
    /// RFC 9865 `invalidCount` (400).
    pub fn invalid_count(detail: impl Into<String>) -> Self {
        Self::new(ScimType::InvalidCount, detail)
    }
    /// 413: a Bulk request over `maxOperations` or `maxPayloadSize` (RFC 7644 §3.7.4); no `scimType`.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::status(413, detail)
    }
    /// 409 without a `scimType`, e.g. circular `bulkId` references (RFC 7644 §3.7.1).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::status(409, detail)
    }
    /// 501: a feature this server does not implement.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::status(501, detail)
    }

    /// The RFC 7644 §3.12 JSON body.
    pub fn to_body(&self) -> ErrorBody {
        ErrorBody {
            schemas: vec![ERROR_SCHEMA.to_owned()],
            status: self.status.to_string(),
            scim_type: self.scim_type,
            detail: Some(self.detail.clone()),
        }
    }
}

/// The wire form of an error (RFC 7644 §3.12). `status` is a string, as the RFC's examples show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub schemas: Vec<String>,
    pub status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none", default)]
    pub scim_type: Option<ScimType>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub detail: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_the_rfc_shape_with_status_as_a_string() {
        let body = serde_json::to_value(ScimError::invalid_filter("unexpected ')' at 12").to_body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "schemas": [ERROR_SCHEMA],
                "status": "400",
                "scimType": "invalidFilter",
                "detail": "unexpected ')' at 12"
            })
        );
    }

    #[test]
    fn every_scim_type_round_trips_through_its_wire_spelling() {
        for t in ScimType::ALL {
            assert_eq!(ScimType::parse(t.as_str()), Some(t));
            let json = serde_json::to_value(t).unwrap();
            assert_eq!(json, serde_json::Value::String(t.as_str().to_owned()));
        }
    }

    #[test]
    fn every_scim_type_maps_to_the_status_the_rfcs_pair_it_with() {
        for t in ScimType::ALL {
            let expected = match t {
                ScimType::Uniqueness => 409,
                ScimType::InvalidVers => 412,
                ScimType::Sensitive => 403,
                _ => 400,
            };
            assert_eq!(t.status(), expected, "{t}");
            assert_eq!(ScimError::new(t, "x").status, expected);
        }
    }
}
