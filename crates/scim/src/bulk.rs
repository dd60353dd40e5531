//! The Bulk request model (RFC 7644 §3.7): parsing with limits, per-operation validation, ordering
//! by `bulkId` dependencies, cycle detection, `bulkId` substitution, and the response model. The
//! gateway executes the operations.
//!
//! - A body over `max_payload_bytes`, or with more than `max_operations` operations, is 413
//!   (RFC 7644 §3.7.4), before anything runs.
//! - A body that is not a BulkRequest (not an object, `schemas` without the BulkRequest URN, no
//!   `Operations`, a `bulkId` used twice) is 400 `invalidSyntax` as a whole.
//! - A malformed operation (unknown method, bad path, POST without `bulkId`, missing `data`) fails
//!   alone: its slot in [`BulkRequest::operations`] holds the error, to report with that operation.
//! - `"bulkId:<id>"` strings anywhere in `data` (including `members[].value`) but a password, and
//!   in the path's id, make an operation depend on the POST that declares `<id>`; [`BulkRequest::execution_order`]
//!   runs dependencies first (otherwise keeping request order) and refuses circular references
//!   with 409, which RFC 7644 §3.7.1 allows instead of resolving them.
//! - While executing, [`BulkIds`] records what each `bulkId` became; a reference to a `bulkId` no
//!   operation declares is 400 `invalidValue`, one to an operation that failed is 409.

use crate::error::ScimError;
use crate::json::{get_ci, type_name};
use crate::password;
use crate::resource::ResourceKind;
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::fmt;

/// Bulk limits (advertised in the ServiceProviderConfig).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkLimits {
    pub max_operations: usize,
    pub max_payload_bytes: usize,
}

impl BulkLimits {
    /// 1000 operations and 1 MiB, the Delinea connector's limits.
    pub const DEFAULT: BulkLimits = BulkLimits { max_operations: 1000, max_payload_bytes: 1_048_576 };
}

impl Default for BulkLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// An operation's HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    /// The method as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }

    /// Parses a method name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        [BulkMethod::Post, BulkMethod::Put, BulkMethod::Patch, BulkMethod::Delete]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for BulkMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One valid operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    /// The `version` member: an ETag for `If-Match`.
    pub version: Option<String>,
    /// The path as written (`/Users`, `/Groups/bulkId:qwerty`).
    pub path: String,
    pub kind: ResourceKind,
    /// The resource id in the path (absent for POST); may be a `bulkId:` reference.
    pub resource_id: Option<String>,
    pub data: Option<Value>,
}

/// An operation as the client sent it: valid, or the error to report for it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkEntry {
    /// The method, when it could be read (for the response's `method`).
    pub method: Option<BulkMethod>,
    /// The `bulkId`, when it could be read.
    pub bulk_id: Option<String>,
    pub operation: Result<BulkOperation, ScimError>,
}

/// A parsed Bulk request.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many errors; `None` runs every operation.
    pub fail_on_errors: Option<u64>,
    pub operations: Vec<BulkEntry>,
}

const BULK_ID_PREFIX: &str = "bulkId:";

impl BulkRequest {
    /// Parses a request body, enforcing `limits`.
    ///
    /// # Errors
    /// 413 over the limits; `invalidSyntax` for a body that is not a BulkRequest.
    pub fn parse(body: &[u8], limits: BulkLimits) -> Result<Self, ScimError> {
        if body.len() > limits.max_payload_bytes {
            return Err(ScimError::payload_too_large(format!(
                "the size of the bulk request exceeds the maxPayloadSize ({})",
                limits.max_payload_bytes
            )));
        }
        let v: Value = serde_json::from_slice(body).map_err(|e| {
            ScimError::invalid_syntax(format!("the body is not valid JSON (line {}, column {})", e.line(), e.column()))
        })?;
        let Some(obj) = v.as_object() else {
            return Err(ScimError::invalid_syntax(format!("a BulkRequest must be an object, not {}", type_name(&v))));
        };
        if let Some(schemas) = get_ci(obj, "schemas") {
            let ok = schemas.as_array().is_some_and(|l| {
                l.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(crate::urn::BULK_REQUEST)))
            });
            if !ok {
                return Err(ScimError::invalid_syntax(format!(
                    "'schemas' must contain \"{}\"",
                    crate::urn::BULK_REQUEST
                )));
            }
        }
        let fail_on_errors = match get_ci(obj, "failOnErrors") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => Some(
                n.as_u64().ok_or_else(|| ScimError::invalid_value("'failOnErrors' must be a non-negative integer"))?,
            ),
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "'failOnErrors' must be an integer, not {}",
                    type_name(other)
                )));
            }
        };
        let ops = match get_ci(obj, "Operations") {
            Some(Value::Array(ops)) => ops,
            Some(other) => {
                return Err(ScimError::invalid_syntax(format!(
                    "'Operations' must be an array, not {}",
                    type_name(other)
                )));
            }
            None => return Err(ScimError::invalid_syntax("a BulkRequest needs 'Operations'")),
        };
        if ops.len() > limits.max_operations {
            return Err(ScimError::payload_too_large(format!(
                "the number of operations exceeds the maxOperations ({})",
                limits.max_operations
            )));
        }
        let operations: Vec<BulkEntry> = ops.iter().map(parse_entry).collect();
        let mut seen = HashSet::new();
        for entry in &operations {
            if let Some(id) = &entry.bulk_id
                && !seen.insert(id.as_str())
            {
                return Err(ScimError::invalid_syntax(format!("bulkId '{id}' is used by more than one operation")));
            }
        }
        Ok(Self { fail_on_errors, operations })
    }

    /// The order to run the operations in: each after the POSTs whose `bulkId`s it references,
    /// otherwise in request order.
    ///
    /// # Errors
    /// 409 when references are circular.
    pub fn execution_order(&self) -> Result<Vec<usize>, ScimError> {
        let declared: HashMap<&str, usize> = self
            .operations
            .iter()
            .enumerate()
            .filter_map(|(i, e)| match &e.operation {
                Ok(op) if op.method == BulkMethod::Post => op.bulk_id.as_deref().map(|id| (id, i)),
                _ => None,
            })
            .collect();
        let n = self.operations.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut pending = vec![0usize; n];
        for (i, entry) in self.operations.iter().enumerate() {
            let Ok(op) = &entry.operation else { continue };
            let mut deps: Vec<usize> =
                op.references().iter().filter_map(|r| declared.get(r.as_str()).copied()).collect();
            deps.sort_unstable();
            deps.dedup();
            for d in deps {
                dependents[d].push(i);
                pending[i] += 1;
            }
        }
        let mut order = Vec::with_capacity(n);
        let mut ready: std::collections::BTreeSet<usize> = (0..n).filter(|i| pending[*i] == 0).collect();
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &d in &dependents[i] {
                pending[d] -= 1;
                if pending[d] == 0 {
                    ready.insert(d);
                }
            }
        }
        if order.len() < n {
            let stuck: Vec<String> = (0..n)
                .filter(|i| pending[*i] > 0)
                .map(|i| match &self.operations[i].bulk_id {
                    Some(id) => format!("bulkId '{id}'"),
                    None => format!("operation {}", i + 1),
                })
                .collect();
            return Err(ScimError::conflict(format!("circular bulkId references among {}", stuck.join(", "))));
        }
        Ok(order)
    }

    /// Whether to stop after `errors` failed operations (`failOnErrors`).
    pub fn should_stop(&self, errors: u64) -> bool {
        self.fail_on_errors.is_some_and(|limit| errors >= limit.max(1))
    }
}

fn parse_entry(op: &Value) -> BulkEntry {
    let obj = op.as_object();
    let method = obj.and_then(|o| get_ci(o, "method")).and_then(Value::as_str).and_then(BulkMethod::parse);
    let bulk_id = obj.and_then(|o| get_ci(o, "bulkId")).and_then(Value::as_str).map(str::to_owned);
    BulkEntry { method, bulk_id, operation: parse_operation(op) }
}

fn parse_operation(op: &Value) -> Result<BulkOperation, ScimError> {
    let Some(obj) = op.as_object() else {
        return Err(ScimError::invalid_syntax(format!("an operation must be an object, not {}", type_name(op))));
    };
    let method = match get_ci(obj, "method") {
        Some(Value::String(s)) => BulkMethod::parse(s)
            .ok_or_else(|| ScimError::invalid_syntax("'method' must be POST, PUT, PATCH or DELETE"))?,
        _ => return Err(ScimError::invalid_syntax("an operation needs a 'method'")),
    };
    let bulk_id = match get_ci(obj, "bulkId") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() && !s.contains(':') => Some(s.clone()),
        Some(_) => return Err(ScimError::invalid_syntax("'bulkId' must be a non-empty string without ':'")),
    };
    if method == BulkMethod::Post && bulk_id.is_none() {
        return Err(ScimError::invalid_syntax("a POST operation needs a 'bulkId'"));
    }
    let version = match get_ci(obj, "version") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            crate::etag::ETag::parse(s).map_err(|_| {
                ScimError::invalid_value("'version' must be an entity tag such as W/\"3694e05e9dff591\"")
            })?;
            Some(s.clone())
        }
        Some(_) => return Err(ScimError::invalid_syntax("'version' must be a string")),
    };
    let path = match get_ci(obj, "path") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(ScimError::invalid_syntax("an operation needs a 'path'")),
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (kind, resource_id) = match segments.as_slice() {
        [endpoint] => (ResourceKind::from_endpoint(endpoint), None),
        [endpoint, id] if !id.is_empty() => (ResourceKind::from_endpoint(endpoint), Some((*id).to_owned())),
        _ => (None, None),
    };
    let Some(kind) = kind.filter(|_| path.starts_with('/')) else {
        return Err(ScimError::invalid_value("'path' must be a resource endpoint such as /Users or /Groups/{id}"));
    };
    match (method, &resource_id) {
        (BulkMethod::Post, Some(_)) => {
            return Err(ScimError::invalid_value("a POST path names the endpoint only, e.g. /Users"));
        }
        (BulkMethod::Put | BulkMethod::Patch | BulkMethod::Delete, None) => {
            return Err(ScimError::invalid_value(format!("a {method} path names a resource, e.g. /Users/{{id}}")));
        }
        _ => {}
    }
    let data = match get_ci(obj, "data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(o)) => Some(Value::Object(o.clone())),
        Some(other) => {
            return Err(ScimError::invalid_syntax(format!("'data' must be an object, not {}", type_name(other))));
        }
    };
    if method != BulkMethod::Delete && data.is_none() {
        return Err(ScimError::invalid_syntax(format!("a {method} operation needs 'data'")));
    }
    Ok(BulkOperation { method, bulk_id, version, path, kind, resource_id, data })
}

fn collect_references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix(BULK_ID_PREFIX) {
                out.push(id.to_owned());
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_references(i, out)),
        Value::Object(o) => {
            o.iter().filter(|(k, _)| !holds_password(o, k)).for_each(|(_, i)| collect_references(i, out))
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// Whether member `key` of `object` is a password (see [`crate::password`]): a password that
/// begins with `bulkId:` is the client's text, never a reference, so it is neither substituted
/// nor quoted in an error.
fn holds_password(object: &Map<String, Value>, key: &str) -> bool {
    password::names_password(key) || (key.eq_ignore_ascii_case("value") && password::path_names_password(object))
}

impl BulkOperation {
    /// The `bulkId`s this operation references (in `data` and in its path).
    pub fn references(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(data) = &self.data {
            collect_references(data, &mut out);
        }
        if let Some(id) = self.resource_id.as_deref().and_then(|i| i.strip_prefix(BULK_ID_PREFIX)) {
            out.push(id.to_owned());
        }
        out
    }
}

/// What each `bulkId` became while the request runs.
#[derive(Debug, Clone, Default)]
pub struct BulkIds {
    created: HashMap<String, String>,
    failed: HashSet<String>,
    declared: HashSet<String>,
}

impl BulkIds {
    /// Tracks the ids of `request`.
    pub fn for_request(request: &BulkRequest) -> Self {
        let declared = request.operations.iter().filter_map(|e| e.bulk_id.clone()).collect();
        Self { created: HashMap::new(), failed: HashSet::new(), declared }
    }

    /// Records that the POST with `bulk_id` created resource `id`.
    pub fn created(&mut self, bulk_id: &str, id: impl Into<String>) {
        self.created.insert(bulk_id.to_owned(), id.into());
    }

    /// Records that the operation with `bulk_id` failed.
    pub fn failed(&mut self, bulk_id: &str) {
        self.failed.insert(bulk_id.to_owned());
    }

    fn resolve(&self, id: &str) -> Result<String, ScimError> {
        if let Some(real) = self.created.get(id) {
            return Ok(real.clone());
        }
        if self.failed.contains(id) || self.declared.contains(id) {
            return Err(ScimError::conflict(format!(
                "the operation with bulkId '{id}' failed, so 'bulkId:{id}' cannot be resolved"
            )));
        }
        Err(ScimError::invalid_value(format!("'bulkId:{id}' refers to no operation of this request")))
    }

    /// `value` with every `"bulkId:<id>"` string replaced by the created resource's id.
    ///
    /// # Errors
    /// `invalidValue` for an undeclared `bulkId`; 409 for one whose operation failed.
    pub fn resolve_value(&self, value: &Value) -> Result<Value, ScimError> {
        Ok(match value {
            Value::String(s) => match s.strip_prefix(BULK_ID_PREFIX) {
                Some(id) => Value::String(self.resolve(id)?),
                None => value.clone(),
            },
            Value::Array(items) => Value::Array(items.iter().map(|i| self.resolve_value(i)).collect::<Result<_, _>>()?),
            Value::Object(o) => {
                let mut out = Map::with_capacity(o.len());
                for (k, v) in o {
                    let v = if holds_password(o, k) { v.clone() } else { self.resolve_value(v)? };
                    out.insert(k.clone(), v);
                }
                Value::Object(out)
            }
            other => other.clone(),
        })
    }

    /// A path id with a `bulkId:` reference resolved.
    ///
    /// # Errors
    /// As [`BulkIds::resolve_value`].
    pub fn resolve_id(&self, id: &str) -> Result<String, ScimError> {
        match id.strip_prefix(BULK_ID_PREFIX) {
            Some(b) => self.resolve(b),
            None => Ok(id.to_owned()),
        }
    }
}

/// The result of one operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperationResponse {
    pub method: Option<BulkMethod>,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub location: Option<String>,
    pub status: u16,
    /// The error body for a failure (RFC 7644 §3.7.3); resources are not echoed.
    pub response: Option<Value>,
}

impl BulkOperationResponse {
    /// A failed operation.
    pub fn error(entry: &BulkEntry, error: &ScimError) -> Self {
        Self {
            method: entry.method,
            bulk_id: entry.bulk_id.clone(),
            version: None,
            location: None,
            status: error.status,
            response: serde_json::to_value(error.to_body()).ok(),
        }
    }

    fn to_value(&self) -> Value {
        let mut o = Map::new();
        if let Some(m) = self.method {
            o.insert("method".into(), json!(m.as_str()));
        }
        if let Some(b) = &self.bulk_id {
            o.insert("bulkId".into(), json!(b));
        }
        if let Some(v) = &self.version {
            o.insert("version".into(), json!(v));
        }
        if let Some(l) = &self.location {
            o.insert("location".into(), json!(l));
        }
        o.insert("status".into(), json!(self.status.to_string()));
        if let Some(r) = &self.response {
            o.insert("response".into(), r.clone());
        }
        Value::Object(o)
    }
}

/// The Bulk response body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BulkResponse {
    pub operations: Vec<BulkOperationResponse>,
}

impl BulkResponse {
    /// The JSON body (`status` as a string, as RFC 7644 §3.7.3 shows).
    pub fn to_value(&self) -> Value {
        json!({
            "schemas": [crate::urn::BULK_RESPONSE],
            "Operations": self.operations.iter().map(BulkOperationResponse::to_value).collect::<Vec<_>>(),
        })
    }
}
