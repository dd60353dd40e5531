//! Which records a query or an export selects, and how the query string says so.

use crate::record::{RESOURCE_TYPE_NAMES, RecordKind};
use crate::time_format::parse_rfc3339_micros;
use rusqlite::types::Value as SqlValue;

/// A status filter: an HTTP status, a status class, or a change's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusFilter {
    /// `201`
    Code(u16),
    /// `4xx`: 400..=499
    Class(u8),
    /// `succeeded` or `failed` (a change's outcome)
    Outcome(String),
}

impl std::str::FromStr for StatusFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        if let Ok(code) = lower.parse::<u16>()
            && (100..=599).contains(&code)
        {
            return Ok(StatusFilter::Code(code));
        }
        if let [digit @ b'1'..=b'5', b'x', b'x'] = lower.as_bytes() {
            return Ok(StatusFilter::Class(digit - b'0'));
        }
        if lower == "succeeded" || lower == "failed" {
            return Ok(StatusFilter::Outcome(lower));
        }
        Err(format!("invalid status {s:?}: expected an HTTP status (201), a class (4xx), succeeded or failed"))
    }
}

/// The selection of a query or an export; every field narrows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Occurred at or after (µs since the epoch).
    pub from: Option<i64>,
    /// Occurred before (µs since the epoch).
    pub to: Option<i64>,
    /// A connection's id (every kind of record carries it).
    pub connection: Option<String>,
    /// A connection's display name (SCIM calls carry it).
    pub connection_name: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub operation: Option<String>,
    pub method: Option<String>,
    pub status: Option<StatusFilter>,
    /// 32 lowercase hex digits.
    pub trace_id: Option<String>,
    pub kind: Option<RecordKind>,
    /// The client's address (SCIM calls and summaries of failed authentications carry it).
    pub client_address: Option<String>,
}

/// The parameters a filter leaves to its caller (name, value).
pub type OtherParams<'a> = Vec<(&'a str, &'a str)>;

/// A query parameter the API does not understand, or a value it cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

impl RecordFilter {
    /// Reads a filter from query parameters; `extra` names the other parameters the caller
    /// accepts (such as `limit` and `cursor`), which are returned rather than rejected.
    ///
    /// # Errors
    ///
    /// An unknown parameter (a typo must not silently widen an audit query), a repeated one, or a
    /// malformed value.
    pub fn from_query_pairs<'a>(
        pairs: &'a [(String, String)],
        extra: &[&str],
    ) -> Result<(Self, OtherParams<'a>), FilterError> {
        let mut filter = RecordFilter::default();
        let mut rest = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (name, value) in pairs {
            if !seen.insert(name.as_str()) {
                return Err(FilterError(format!("query parameter {name:?} is given more than once")));
            }
            let value = value.trim();
            let text = || -> Result<Option<String>, FilterError> {
                if value.is_empty() {
                    Err(FilterError(format!("query parameter {name:?} is empty")))
                } else {
                    Ok(Some(value.to_owned()))
                }
            };
            match name.as_str() {
                "from" => {
                    filter.from = Some(parse_rfc3339_micros(value).map_err(|e| FilterError(format!("from: {e}")))?)
                }
                "to" => filter.to = Some(parse_rfc3339_micros(value).map_err(|e| FilterError(format!("to: {e}")))?),
                "connection" | "connection_id" | "connectionId" => filter.connection = text()?,
                "connection_name" | "connectionName" => filter.connection_name = text()?,
                "resource_type" | "resourceType" => {
                    let name = RESOURCE_TYPE_NAMES.iter().find(|n| n.eq_ignore_ascii_case(value)).ok_or_else(|| {
                        FilterError(format!(
                            "unknown resource_type {value:?}: expected one of {}",
                            RESOURCE_TYPE_NAMES.join(", ")
                        ))
                    })?;
                    filter.resource_type = Some((*name).to_owned());
                }
                "resource_id" | "resourceId" => filter.resource_id = text()?,
                "operation" => filter.operation = text()?,
                "method" => filter.method = text()?.map(|m| m.to_ascii_uppercase()),
                "status" => filter.status = Some(value.parse().map_err(FilterError)?),
                "trace_id" | "traceId" => {
                    if value.len() != 32 || !value.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(FilterError(format!("trace_id {value:?} is not 32 hex digits")));
                    }
                    filter.trace_id = Some(value.to_ascii_lowercase());
                }
                "kind" => filter.kind = Some(value.parse().map_err(FilterError)?),
                "client_address" | "clientAddress" => filter.client_address = text()?,
                other if extra.contains(&other) => rest.push((name.as_str(), value)),
                other => {
                    let mut known = vec![
                        "from",
                        "to",
                        "connection",
                        "resource_type",
                        "resource_id",
                        "operation",
                        "method",
                        "status",
                        "trace_id",
                        "kind",
                        "client_address",
                    ];
                    known.extend_from_slice(extra);
                    return Err(FilterError(format!(
                        "unknown query parameter {other:?}: expected one of {}",
                        known.join(", ")
                    )));
                }
            }
        }
        if let (Some(from), Some(to)) = (filter.from, filter.to)
            && from > to
        {
            return Err(FilterError("from is after to".to_owned()));
        }
        Ok((filter, rest))
    }

    /// The SQL conditions (joined with AND) and their parameters.
    pub(crate) fn to_sql(&self) -> (Vec<String>, Vec<SqlValue>) {
        let mut conditions = Vec::new();
        let mut params = Vec::new();
        let mut push = |condition: &str, value: SqlValue| {
            params.push(value);
            conditions.push(condition.replace('?', &format!("?{}", params.len())));
        };
        if let Some(from) = self.from {
            push("occurred_at >= ?", SqlValue::Integer(from));
        }
        if let Some(to) = self.to {
            push("occurred_at < ?", SqlValue::Integer(to));
        }
        if let Some(connection) = &self.connection {
            push("connection_id = ?", SqlValue::Text(connection.clone()));
        }
        if let Some(name) = &self.connection_name {
            push("connection_name = ?", SqlValue::Text(name.clone()));
        }
        if let Some(resource_type) = &self.resource_type {
            push("resource_type = ?", SqlValue::Text(resource_type.clone()));
        }
        if let Some(resource_id) = &self.resource_id {
            push("resource_id = ?", SqlValue::Text(resource_id.clone()));
        }
        if let Some(operation) = &self.operation {
            push("operation = ?", SqlValue::Text(operation.clone()));
        }
        if let Some(method) = &self.method {
            push("method = ?", SqlValue::Text(method.clone()));
        }
        match &self.status {
            Some(StatusFilter::Code(code)) => push("status = ?", SqlValue::Integer(i64::from(*code))),
            Some(StatusFilter::Class(class)) => {
                push("status BETWEEN ? AND ? + 99", SqlValue::Integer(i64::from(*class) * 100));
            }
            Some(StatusFilter::Outcome(outcome)) => push("outcome = ?", SqlValue::Text(outcome.clone())),
            None => {}
        }
        if let Some(trace_id) = &self.trace_id {
            push("trace_id = ?", SqlValue::Text(trace_id.clone()));
        }
        if let Some(kind) = self.kind {
            push("kind = ?", SqlValue::Text(kind.as_str().to_owned()));
        }
        if let Some(address) = &self.client_address {
            push("client_address = ?", SqlValue::Text(address.clone()));
        }
        (conditions, params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn every_filter_parameter_is_read() {
        let query = pairs(&[
            ("from", "2024-01-01T00:00:00Z"),
            ("to", "2024-02-01T00:00:00Z"),
            ("connection", "c-okta"),
            ("connection_name", "okta"),
            ("resource_type", "user"),
            ("resource_id", "42"),
            ("operation", "create"),
            ("method", "post"),
            ("status", "4xx"),
            ("trace_id", "4BF92F3577B34DA6A3CE929D0E0E4736"),
            ("kind", "change"),
            ("client_address", "192.0.2.7"),
            ("limit", "5"),
        ]);
        let (filter, rest) = RecordFilter::from_query_pairs(&query, &["limit", "cursor"]).unwrap();
        assert_eq!(filter.resource_type.as_deref(), Some("User"));
        assert_eq!(filter.method.as_deref(), Some("POST"));
        assert_eq!(filter.status, Some(StatusFilter::Class(4)));
        assert_eq!(filter.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert_eq!(filter.kind, Some(RecordKind::Change));
        assert_eq!(rest, vec![("limit", "5")]);
        let (conditions, params) = filter.to_sql();
        assert_eq!(conditions.len(), 12);
        assert_eq!(params.len(), 12);
        assert!(conditions.contains(&"connection_id = ?3".to_owned()), "{conditions:?}");
        assert!(conditions.contains(&"connection_name = ?4".to_owned()), "{conditions:?}");
    }

    #[test]
    fn unknown_repeated_and_malformed_parameters_are_refused() {
        for (query, needle) in [
            (pairs(&[("conection", "x")]), "unknown query parameter"),
            (pairs(&[("kind", "change"), ("kind", "admin")]), "more than once"),
            (pairs(&[("from", "yesterday")]), "RFC 3339"),
            (pairs(&[("status", "7xx")]), "invalid status"),
            (pairs(&[("trace_id", "abc")]), "32 hex"),
            (pairs(&[("resource_type", "Printer")]), "unknown resource_type"),
            (pairs(&[("from", "2024-02-01T00:00:00Z"), ("to", "2024-01-01T00:00:00Z")]), "after"),
            (pairs(&[("operation", " ")]), "empty"),
        ] {
            let error = RecordFilter::from_query_pairs(&query, &[]).unwrap_err();
            assert!(error.0.contains(needle), "{query:?}: {error}");
        }
    }

    #[test]
    fn status_accepts_codes_classes_and_outcomes() {
        assert_eq!("201".parse(), Ok(StatusFilter::Code(201)));
        assert_eq!("5XX".parse(), Ok(StatusFilter::Class(5)));
        assert_eq!("Failed".parse(), Ok(StatusFilter::Outcome("failed".into())));
        assert!("99".parse::<StatusFilter>().is_err());
    }
}
