//! Delinea's published OpenAPI document read as a contract: which operations exist, which
//! parameters and bodies they take, which statuses and bodies they answer.
//!
//! OpenAPI 3.0 schemas are not JSON Schema: `nullable` and the integer `format`s mean nothing to a
//! JSON Schema validator. Each schema is converted once, when the document is read: `nullable: true`
//! adds `null` to the allowed types (or enum values), `format: int32` becomes the bounds of a 32-bit
//! integer, and an object schema that lists its properties gets `additionalProperties: false`. That
//! last rule is stricter than the document: a property the document does not name is a property
//! Secret Server does not read (in a request) or does not send (in an answer), so the client would be
//! sending something that is ignored, or the emulator inventing a field.

use parking_lot::Mutex;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

/// The first path segment of every operation under a Secret Server base URL: the document's server is
/// `/SecretServer/api` and its paths start with `/v1` or `/v2`.
const API_SEGMENT: &str = "api";

/// One way a request or an answer departs from the document.
pub type Problem = String;

/// The document, its operations and its schemas converted to JSON Schema.
pub struct Spec {
    document: Value,
    /// `{"schemas": {...}}` converted, so that `#/components/schemas/X` resolves in every validator.
    components: Value,
    operations: Vec<Operation>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec").field("operations", &self.operations.len()).finish_non_exhaustive()
    }
}

/// One operation of the document.
#[derive(Debug, Clone)]
pub struct Operation {
    /// Upper case (`GET`).
    pub method: String,
    /// As the document writes it (`/v1/users/{id}`).
    pub path: String,
    pub operation_id: String,
    segments: Vec<Segment>,
    parameters: Vec<Parameter>,
    /// `(required, converted schema)` of the JSON body, when the operation takes one.
    body: Option<(bool, Value)>,
    /// Status → converted schema of the JSON answer (`None`: declared without a body).
    responses: HashMap<u16, Option<Value>>,
    /// Status → the schema as the document writes it (for [`crate::sample`]).
    raw_responses: HashMap<u16, Option<Value>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Parameter(String),
}

#[derive(Debug, Clone)]
struct Parameter {
    name: String,
    location: String,
    required: bool,
    /// Converted.
    schema: Value,
}

impl Operation {
    /// `GET /v1/users/{id}`.
    pub fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The converted schema of the JSON answer to `status`, if the document declares one.
    pub fn response_schema(&self, status: u16) -> Option<&Value> {
        self.responses.get(&status).and_then(Option::as_ref)
    }

    /// The schema of the JSON answer to `status` as the document writes it (OpenAPI, unconverted).
    pub fn raw_response_schema(&self, status: u16) -> Option<&Value> {
        self.raw_responses.get(&status).and_then(Option::as_ref)
    }

    /// The statuses the document declares, in order.
    pub fn statuses(&self) -> Vec<u16> {
        let mut statuses: Vec<u16> = self.responses.keys().copied().collect();
        statuses.sort_unstable();
        statuses
    }

    /// Whether the operation declares the query parameter `name` (exact spelling).
    pub fn declares_query(&self, name: &str) -> bool {
        self.parameters.iter().any(|p| p.location == "query" && p.name == name)
    }

    fn literal_segments(&self) -> usize {
        self.segments.iter().filter(|s| matches!(s, Segment::Literal(_))).count()
    }

    /// The concrete values of the path's parameters when `segments` match the template.
    fn matches<'a>(&self, segments: &[&'a str]) -> Option<Vec<(&str, &'a str)>> {
        if segments.len() != self.segments.len() {
            return None;
        }
        let mut values = Vec::new();
        for (template, actual) in self.segments.iter().zip(segments) {
            match template {
                // IIS paths are case-insensitive; the spelling is not what is checked here.
                Segment::Literal(literal) if literal.eq_ignore_ascii_case(actual) => {}
                Segment::Literal(_) => return None,
                Segment::Parameter(name) => values.push((name.as_str(), *actual)),
            }
        }
        Some(values)
    }
}

impl Spec {
    /// The document the connector is checked against ([`secret_server_api::PUBLISHED_OPENAPI`]).
    ///
    /// # Panics
    /// When the bundled document does not parse: it is data of this repository, checked by its tests.
    pub fn published() -> Self {
        Self::from_document(
            serde_json::from_str(secret_server_api::PUBLISHED_OPENAPI).expect("the bundled OpenAPI parses"),
        )
    }

    /// Reads an OpenAPI 3.0 document.
    ///
    /// # Panics
    /// When the document lacks `paths` or `components.schemas`.
    pub fn from_document(document: Value) -> Self {
        let schemas = document["components"]["schemas"].as_object().expect("components.schemas");
        let converted: Map<String, Value> = schemas.iter().map(|(n, s)| (n.clone(), convert(s))).collect();
        let components = json!({ "schemas": converted });
        let mut operations = Vec::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            let Some(item) = item.as_object() else { continue };
            for (method, op) in item {
                if !matches!(method.as_str(), "get" | "put" | "post" | "delete" | "patch") {
                    continue;
                }
                operations.push(read_operation(&document, path, method, op));
            }
        }
        Self { document, components, operations, validators: Mutex::new(HashMap::new()) }
    }

    /// Every operation, in the document's order.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }

    /// The document as read.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The raw (unconverted) schema named `name` of `components.schemas`.
    pub fn raw_schema(&self, name: &str) -> Option<&Value> {
        self.document["components"]["schemas"].get(name)
    }

    /// The operation that answers `method` on `path`, a path under the Secret Server base URL
    /// (`/api/v1/users/42`, query string left out). A literal segment wins over a parameter
    /// (`/v1/users/current` over `/v1/users/{id}`).
    ///
    /// # Errors
    /// A problem saying that the document has no such operation.
    pub fn find(&self, method: &str, path: &str) -> Result<&Operation, Problem> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let Some((first, rest)) = segments.split_first().filter(|(f, _)| f.eq_ignore_ascii_case(API_SEGMENT)) else {
            return Err(format!("{method} {path} is not under the API path /{API_SEGMENT}"));
        };
        let _ = first;
        self.operations
            .iter()
            .filter(|op| op.method.eq_ignore_ascii_case(method) && op.matches(rest).is_some())
            .max_by_key(|op| op.literal_segments())
            .ok_or_else(|| {
                let same_path: Vec<String> = self
                    .operations
                    .iter()
                    .filter(|op| op.matches(rest).is_some())
                    .map(|op| op.method.clone())
                    .collect();
                if same_path.is_empty() {
                    format!("{method} {path}: the published API has no such path")
                } else {
                    format!("{method} {path}: the published API answers only {} there", same_path.join(", "))
                }
            })
    }

    /// What is wrong with a request, by the document: the operation exists, every query parameter
    /// is declared and of its type, required parameters are there, and the body fits the request
    /// schema. Empty when the request is as the document says.
    pub fn check_request(&self, method: &str, path: &str, query: &str, body: Option<&[u8]>) -> Vec<Problem> {
        let op = match self.find(method, path) {
            Ok(op) => op,
            Err(problem) => return vec![problem],
        };
        let name = op.name();
        let mut problems = Vec::new();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
        for (param, value) in op.matches(&segments).unwrap_or_default() {
            if let Some(p) = op.parameters.iter().find(|p| p.location == "path" && p.name == param) {
                problems.extend(self.check_value(&name, &format!("path parameter {param}"), &p.schema, &[value]));
            }
        }
        let pairs: Vec<(String, String)> = match serde_urlencoded::from_str(query) {
            Ok(pairs) => pairs,
            Err(e) => return vec![format!("{name}: the query string does not parse: {e}")],
        };
        let mut by_name: Vec<(String, Vec<String>)> = Vec::new();
        for (key, value) in pairs {
            match by_name.iter_mut().find(|(k, _)| *k == key) {
                Some((_, values)) => values.push(value),
                None => by_name.push((key, vec![value])),
            }
        }
        for (key, values) in &by_name {
            match op.parameters.iter().find(|p| p.location == "query" && p.name == *key) {
                None => problems.push(format!(
                    "{name}: query parameter {key} is not declared (declared: {})",
                    op.parameters
                        .iter()
                        .filter(|p| p.location == "query")
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )),
                Some(p) => {
                    let values: Vec<&str> = values.iter().map(String::as_str).collect();
                    problems.extend(self.check_value(&name, &format!("query parameter {key}"), &p.schema, &values));
                }
            }
        }
        for p in op.parameters.iter().filter(|p| p.required && p.location == "query") {
            if !by_name.iter().any(|(k, _)| *k == p.name) {
                problems.push(format!("{name}: the required query parameter {} is missing", p.name));
            }
        }
        let body = body.filter(|b| !b.iter().all(u8::is_ascii_whitespace));
        match (&op.body, body) {
            (None, Some(_)) => problems.push(format!("{name}: sends a body, and the operation takes none")),
            (Some((true, _)), None) => problems.push(format!("{name}: the required body is missing")),
            (Some((_, schema)), Some(bytes)) => match serde_json::from_slice::<Value>(bytes) {
                Ok(value) => {
                    problems.extend(self.validate(schema, &value).into_iter().map(|p| format!("{name} body: {p}")))
                }
                Err(e) => problems.push(format!("{name}: the body is not JSON: {e}")),
            },
            _ => {}
        }
        problems
    }

    /// What is wrong with an answer to `method` on `path`: its status is declared and its body fits
    /// the schema declared for that status.
    pub fn check_response(&self, method: &str, path: &str, status: u16, body: &[u8]) -> Vec<Problem> {
        let op = match self.find(method, path) {
            Ok(op) => op,
            Err(problem) => return vec![problem],
        };
        let name = op.name();
        let Some(declared) = op.responses.get(&status) else {
            return vec![format!("{name}: status {status} is not declared (declared: {:?})", op.statuses())];
        };
        let Some(schema) = declared else { return Vec::new() };
        match serde_json::from_slice::<Value>(body) {
            Ok(value) => {
                self.validate(schema, &value).into_iter().map(|p| format!("{name} answer {status}: {p}")).collect()
            }
            Err(e) => vec![format!("{name}: the {status} answer is not JSON: {e}")],
        }
    }

    /// Validates `instance` against a converted schema; one problem per failure (with its location).
    pub fn validate(&self, schema: &Value, instance: &Value) -> Vec<Problem> {
        let validator = self.validator(schema);
        validator
            .iter_errors(instance)
            .map(|e| {
                let at = e.instance_path().to_string();
                if at.is_empty() { e.to_string() } else { format!("at {at}: {e}") }
            })
            .collect()
    }

    fn validator(&self, schema: &Value) -> Arc<jsonschema::Validator> {
        let key = schema.to_string();
        if let Some(v) = self.validators.lock().get(&key) {
            return Arc::clone(v);
        }
        let mut root = match schema.as_object() {
            Some(map) => map.clone(),
            None => Map::new(),
        };
        root.insert("$schema".to_owned(), json!("https://json-schema.org/draft/2020-12/schema"));
        root.insert("components".to_owned(), self.components.clone());
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&Value::Object(root))
            .unwrap_or_else(|e| panic!("the converted schema {key} does not compile: {e}"));
        let validator = Arc::new(validator);
        self.validators.lock().insert(key, Arc::clone(&validator));
        validator
    }

    /// Checks the string values of one parameter against its schema (converted to its type first).
    fn check_value(&self, op: &str, what: &str, schema: &Value, values: &[&str]) -> Vec<Problem> {
        let typed = match schema.get("type").and_then(Value::as_str) {
            Some("array") => {
                let items = &schema["items"];
                match values.iter().map(|v| typed(items, v)).collect::<Result<Vec<_>, _>>() {
                    Ok(list) => Value::Array(list),
                    Err(problem) => return vec![format!("{op}: {what}: {problem}")],
                }
            }
            _ => {
                if values.len() > 1 {
                    return vec![format!("{op}: {what} is given {} times, and takes one value", values.len())];
                }
                match typed(schema, values.first().copied().unwrap_or_default()) {
                    Ok(value) => value,
                    Err(problem) => return vec![format!("{op}: {what}: {problem}")],
                }
            }
        };
        self.validate(schema, &typed).into_iter().map(|p| format!("{op}: {what}: {p}")).collect()
    }
}

/// A query or path value read as the parameter's type says.
fn typed(schema: &Value, raw: &str) -> Result<Value, Problem> {
    let ty = match schema.get("type") {
        Some(Value::String(t)) => t.as_str(),
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).find(|t| *t != "null").unwrap_or("string"),
        _ => "string",
    };
    match ty {
        "integer" => raw.trim().parse::<i64>().map(Value::from).map_err(|_| format!("{raw:?} is not an integer")),
        "number" => raw.trim().parse::<f64>().map(Value::from).map_err(|_| format!("{raw:?} is not a number")),
        // Web API binds booleans case-insensitively; the value must still be one of the two words.
        "boolean" => match raw.trim().to_ascii_lowercase().as_str() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{raw:?} is not a boolean")),
        },
        _ => Ok(Value::String(raw.to_owned())),
    }
}

fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
        Some(pointer) => document.pointer(pointer).unwrap_or(value),
        None => value,
    }
}

fn read_operation(document: &Value, path: &str, method: &str, op: &Value) -> Operation {
    let segments = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => Segment::Parameter(name.to_owned()),
            None => Segment::Literal(s.to_owned()),
        })
        .collect();
    let parameters = op["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| resolve(document, p))
        .map(|p| Parameter {
            name: p["name"].as_str().unwrap_or_default().to_owned(),
            location: p["in"].as_str().unwrap_or_default().to_owned(),
            required: p["required"].as_bool().unwrap_or(false),
            schema: convert(&p["schema"]),
        })
        .collect();
    let body = op.get("requestBody").map(|b| resolve(document, b)).and_then(|b| {
        let schema = b["content"]["application/json"].get("schema")?;
        Some((b["required"].as_bool().unwrap_or(false), convert(schema)))
    });
    let raw_responses: HashMap<u16, Option<Value>> = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(status, r)| {
            let status: u16 = status.parse().ok()?;
            let r = resolve(document, r);
            Some((status, r["content"]["application/json"].get("schema").cloned()))
        })
        .collect();
    let responses = raw_responses.iter().map(|(status, schema)| (*status, schema.as_ref().map(convert))).collect();
    Operation {
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        operation_id: op["operationId"].as_str().unwrap_or_default().to_owned(),
        segments,
        parameters,
        body,
        responses,
        raw_responses,
    }
}

/// One OpenAPI 3.0 schema as JSON Schema 2020-12 (see the module's documentation).
fn convert(schema: &Value) -> Value {
    let Some(obj) = schema.as_object() else { return schema.clone() };
    let mut out = Map::new();
    for (key, value) in obj {
        match key.as_str() {
            "properties" => {
                let props = value.as_object().map(|m| m.iter().map(|(n, p)| (n.clone(), convert(p))).collect());
                out.insert(key.clone(), Value::Object(props.unwrap_or_default()));
            }
            "items" | "additionalProperties" | "not" if value.is_object() => {
                out.insert(key.clone(), convert(value));
            }
            "allOf" | "anyOf" | "oneOf" => {
                out.insert(key.clone(), Value::Array(value.as_array().into_iter().flatten().map(convert).collect()));
            }
            "nullable" | "format" | "example" | "deprecated" | "xml" | "discriminator" | "externalDocs" => {}
            k if k.starts_with("x-") => {}
            _ => {
                out.insert(key.clone(), value.clone());
            }
        }
    }
    match obj.get("format").and_then(Value::as_str) {
        Some("int32") => {
            let min = obj.get("minimum").and_then(Value::as_i64).unwrap_or(i64::MIN).max(i64::from(i32::MIN));
            let max = obj.get("maximum").and_then(Value::as_i64).unwrap_or(i64::MAX).min(i64::from(i32::MAX));
            out.insert("minimum".to_owned(), min.into());
            out.insert("maximum".to_owned(), max.into());
        }
        Some(format @ ("date-time" | "date" | "uuid" | "uri" | "email")) => {
            out.insert("format".to_owned(), format.into());
        }
        // int64, double, float: JSON numbers already; nothing to check beyond the type.
        _ => {}
    }
    if obj.get("nullable").and_then(Value::as_bool) == Some(true) {
        if let Some(Value::String(ty)) = out.get("type").cloned() {
            out.insert("type".to_owned(), json!([ty, "null"]));
        }
        if let Some(Value::Array(values)) = out.get_mut("enum") {
            values.push(Value::Null);
        }
        if let Some(reference) = out.remove("$ref") {
            out.insert("anyOf".to_owned(), json!([{ "$ref": reference }, { "type": "null" }]));
        }
    }
    if out.contains_key("properties") && !out.contains_key("additionalProperties") {
        out.insert("additionalProperties".to_owned(), Value::Bool(false));
    }
    out.into()
}

/// A readable list of problems, one per line, for test failures.
pub fn report(problems: &[Problem]) -> String {
    let mut out = String::new();
    for p in problems {
        let _ = writeln!(out, "  - {p}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_document_has_its_fifty_two_operations() {
        let spec = Spec::published();
        assert_eq!(spec.operations().len(), 52);
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let spec = Spec::published();
        assert_eq!(spec.find("GET", "/api/v1/users/current").unwrap().operation_id, "UsersService_GetCurrentUser");
        assert_eq!(spec.find("GET", "/api/v1/users/42").unwrap().operation_id, "UsersService_Get");
    }

    #[test]
    fn the_v1_secret_search_is_not_in_the_published_api() {
        let spec = Spec::published();
        let problem = spec.find("GET", "/api/v1/secrets").unwrap_err();
        assert!(problem.contains("only POST") || problem.contains("no such path"), "{problem}");
        assert!(spec.find("GET", "/api/v2/secrets").is_ok());
    }

    #[test]
    fn nullable_fields_accept_null_and_others_do_not() {
        let spec = Spec::published();
        let schema = json!({ "$ref": "#/components/schemas/FolderPermissionSummary" });
        assert!(spec.validate(&schema, &json!({ "secretAccessRoleId": null, "userId": null })).is_empty());
        assert!(!spec.validate(&schema, &json!({ "folderId": null })).is_empty());
    }

    #[test]
    fn undeclared_properties_and_out_of_range_integers_are_problems() {
        let spec = Spec::published();
        let schema = json!({ "$ref": "#/components/schemas/GroupUserCreateArgs" });
        assert!(!spec.validate(&schema, &json!({ "userId": 1, "userName": "x" })).is_empty());
        assert!(!spec.validate(&schema, &json!({ "userId": 3_000_000_000_i64 })).is_empty());
        assert!(spec.validate(&schema, &json!({ "userId": 3 })).is_empty());
    }

    #[test]
    fn a_query_parameter_the_operation_does_not_declare_is_a_problem() {
        let spec = Spec::published();
        let problems = spec.check_request("GET", "/api/v1/users", "filter.searchText=a&filter.colour=red", None);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("filter.colour"));
        assert!(spec.check_request("GET", "/api/v1/users", "skip=0&take=x", None)[0].contains("not an integer"));
    }
}
