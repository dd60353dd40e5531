//! Resource validation for create (`POST`) and replace (`PUT`): the client's JSON in, the
//! normalized document (or a [`ScimError`]) out.
//!
//! Normalization, attribute by attribute, driven by the schema:
//! - attribute and sub-attribute names are matched case-insensitively and written in schema case;
//! - `"True"`/`"False"` strings (any case) become booleans where the schema says boolean (Entra);
//! - a scalar given for a complex attribute with a `value` becomes `{"value": scalar}` (Entra sends
//!   the enterprise `manager` as a plain id), and a single value given for a multi-valued attribute
//!   becomes a one-element array;
//! - `null`, `""`, `[]` and `{}` are "unassigned" (RFC 7643 §2.5) and are left out;
//! - readOnly attributes (`id`, `meta`, `groups`...) are ignored, as RFC 7644 §3.5.1 says for PUT;
//!   on replace the current document's readOnly attributes are kept; so are the few sub-attributes
//!   a schema lists as ignored (a member's `display`: see [`crate::schema`]);
//! - types are checked (string, boolean, integer, decimal, dateTime, binary as base64, reference),
//!   strict canonical values are enforced and spelled canonically, and at most one `primary` is true;
//! - `required` attributes must have a value; a permission names exactly one of `user` and `group`.
//!
//! Unknown attributes are rejected with `invalidSyntax` rather than ignored here: dropping data a
//! client believes it stored must be a decision its caller makes and records, not a side effect of
//! validation. The gateway makes it per connection with [`crate::unknown`], which takes them out
//! (and names them) before the body reaches this module. A `schemas` member naming a schema
//! this resource type does not have is `invalidValue`; a missing `schemas` is tolerated (it carries
//! nothing the body does not), and the output's `schemas` is rebuilt from the attributes present.

use crate::equality::values_equal;
use crate::error::ScimError;
use crate::json::{get_ci, is_unassigned, type_name};
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::schema::{AttrRef, Attribute, AttributeType, Mutability, PathTarget, Schema, Schemas};
use crate::text::parse_datetime;
use base64::Engine;
use serde_json::{Map, Value};

/// Validates and normalizes a resource for creation.
///
/// # Errors
/// `invalidSyntax` for a body that is not an object or names an unknown attribute; `invalidValue`
/// for a value of the wrong type, a missing required attribute or an unknown schema URN.
pub fn validate_create(schemas: &Schemas, kind: ResourceKind, input: &Value) -> Result<Value, ScimError> {
    let doc = normalize_resource(schemas, kind, input)?;
    check_resource(schemas, kind, &doc)?;
    Ok(Value::Object(doc))
}

/// Validates and normalizes a full replacement (`PUT`) of `current`.
///
/// readOnly attributes come from `current` (`id`, `meta`, `groups`...); an immutable attribute
/// that `current` has must come back with the same value, and is kept when the body leaves it out.
///
/// # Errors
/// As [`validate_create`], plus `mutability` when an immutable attribute would change.
pub fn validate_replace(
    schemas: &Schemas,
    kind: ResourceKind,
    input: &Value,
    current: &Value,
) -> Result<Value, ScimError> {
    let mut doc = normalize_resource(schemas, kind, input)?;
    let empty = Map::new();
    let current = current.as_object().unwrap_or(&empty);
    for (ext, attr) in all_attributes(schemas, kind) {
        let now = lookup(current, ext, &attr.name);
        let Some(now) = now.filter(|v| !is_unassigned(v)) else { continue };
        match attr.mutability {
            Mutability::ReadOnly => put(&mut doc, ext, &attr.name, now.clone()),
            Mutability::Immutable => match lookup(&doc, ext, &attr.name) {
                None => put(&mut doc, ext, &attr.name, now.clone()),
                Some(new) if values_equal(attr, new, now) => {}
                Some(_) => {
                    return Err(ScimError::mutability(format!(
                        "'{}' is immutable and cannot change once set",
                        display_name(ext, attr)
                    )));
                }
            },
            Mutability::ReadWrite | Mutability::WriteOnly => {
                check_immutable_subs(attr, ext, lookup(&doc, ext, &attr.name), now)?;
            }
        }
    }
    rebuild_schemas(schemas, kind, &mut doc);
    check_resource(schemas, kind, &doc)?;
    Ok(Value::Object(order(schemas, kind, doc)))
}

/// Immutable sub-attributes of a single-valued complex attribute (`template.value`) keep their value.
fn check_immutable_subs(
    attr: &Attribute,
    ext: Option<&Schema>,
    new: Option<&Value>,
    now: &Value,
) -> Result<(), ScimError> {
    if attr.multi_valued || !attr.is_complex() {
        return Ok(());
    }
    let (Some(new), Some(now)) = (new.and_then(Value::as_object), now.as_object()) else { return Ok(()) };
    for sub in attr.sub_attributes.iter().filter(|s| s.mutability == Mutability::Immutable) {
        if let (Some(a), Some(b)) = (get_ci(now, &sub.name), get_ci(new, &sub.name))
            && !is_unassigned(a)
            && !values_equal(sub, a, b)
        {
            return Err(ScimError::mutability(format!(
                "'{}.{}' is immutable and cannot change once set",
                display_name(ext, attr),
                sub.name
            )));
        }
    }
    Ok(())
}

fn display_name(ext: Option<&Schema>, attr: &Attribute) -> String {
    match ext {
        Some(e) => format!("{}:{}", e.id, attr.name),
        None => attr.name.clone(),
    }
}

/// Every top-level attribute of `kind` with the extension that holds it.
pub(crate) fn all_attributes(
    schemas: &Schemas,
    kind: ResourceKind,
) -> impl Iterator<Item = (Option<&Schema>, &Attribute)> {
    schemas
        .common_attributes()
        .iter()
        .chain(schemas.core(kind).attributes.iter())
        .map(|a| (None, a))
        .chain(schemas.extensions(kind).flat_map(|e| e.attributes.iter().map(move |a| (Some(e), a))))
}

fn lookup<'v>(doc: &'v Map<String, Value>, ext: Option<&Schema>, name: &str) -> Option<&'v Value> {
    match ext {
        None => get_ci(doc, name),
        Some(e) => get_ci(doc, &e.id).and_then(Value::as_object).and_then(|o| get_ci(o, name)),
    }
}

fn put(doc: &mut Map<String, Value>, ext: Option<&Schema>, name: &str, value: Value) {
    match ext {
        None => {
            doc.insert(name.to_owned(), value);
        }
        Some(e) => {
            let slot = doc.entry(e.id.clone()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(o) = slot {
                o.insert(name.to_owned(), value);
            }
        }
    }
}

/// Normalizes a resource body: names in schema case, values typed, readOnly attributes dropped.
fn normalize_resource(schemas: &Schemas, kind: ResourceKind, input: &Value) -> Result<Map<String, Value>, ScimError> {
    let Some(obj) = input.as_object() else {
        return Err(ScimError::invalid_syntax(format!("a {kind} must be a JSON object, not {}", type_name(input))));
    };
    let mut doc = Map::new();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            check_declared_schemas(schemas, kind, value)?;
            continue;
        }
        if let Some(ext) = schemas.extension(kind, key) {
            let Some(inner) = value.as_object() else {
                if is_unassigned(value) {
                    continue;
                }
                return Err(ScimError::invalid_value(format!(
                    "'{}' must be an object, not {}",
                    ext.id,
                    type_name(value)
                )));
            };
            for (name, v) in inner {
                let attr = ext.attribute(name).ok_or_else(|| unknown_attribute(&format!("{}:{name}", ext.id), kind))?;
                insert_normalized(&mut doc, Some(ext), attr, v)?;
            }
            continue;
        }
        let path = AttrPath::parse(key).map_err(|_| unknown_attribute(key, kind))?;
        match schemas.resolve(kind, &path) {
            Some(PathTarget::Attribute(AttrRef { extension, attribute, sub_attribute: None })) => {
                insert_normalized(&mut doc, extension, attribute, value)?;
            }
            _ => return Err(unknown_attribute(key, kind)),
        }
    }
    rebuild_schemas(schemas, kind, &mut doc);
    Ok(order(schemas, kind, doc))
}

fn unknown_attribute(name: &str, kind: ResourceKind) -> ScimError {
    ScimError::invalid_syntax(format!("'{name}' is not an attribute of {kind}"))
}

fn insert_normalized(
    doc: &mut Map<String, Value>,
    ext: Option<&Schema>,
    attr: &Attribute,
    value: &Value,
) -> Result<(), ScimError> {
    if attr.mutability == Mutability::ReadOnly {
        return Ok(());
    }
    if lookup(doc, ext, &attr.name).is_some() {
        return Err(ScimError::invalid_syntax(format!("'{}' is given more than once", display_name(ext, attr))));
    }
    if let Some(v) = normalize_value(attr, value, &display_name(ext, attr))? {
        put(doc, ext, &attr.name, v);
    }
    Ok(())
}

fn check_declared_schemas(schemas: &Schemas, kind: ResourceKind, value: &Value) -> Result<(), ScimError> {
    let Some(list) = value.as_array() else {
        return Err(ScimError::invalid_value("'schemas' must be an array of schema URNs"));
    };
    for urn in list {
        let Some(urn) = urn.as_str() else {
            return Err(ScimError::invalid_value("'schemas' must be an array of schema URNs"));
        };
        if !urn.eq_ignore_ascii_case(kind.schema_urn()) && schemas.extension(kind, urn).is_none() {
            return Err(ScimError::invalid_value(format!("'{urn}' is not a schema of {kind}")));
        }
    }
    Ok(())
}

/// Sets `schemas` to the core URN followed by the extensions the document carries.
pub(crate) fn rebuild_schemas(schemas: &Schemas, kind: ResourceKind, doc: &mut Map<String, Value>) {
    let mut list = vec![Value::String(kind.schema_urn().to_owned())];
    for ext in schemas.extensions(kind) {
        match get_ci(doc, &ext.id) {
            Some(v) if !is_unassigned(v) => list.push(Value::String(ext.id.clone())),
            Some(_) => {
                if let Some(k) = crate::json::key_ci(doc, &ext.id) {
                    doc.shift_remove(&k);
                }
            }
            None => {}
        }
    }
    doc.insert("schemas".into(), Value::Array(list));
}

/// Puts members in a stable order: `schemas`, common attributes, core attributes in schema order,
/// extensions, then anything else (unknown members are preserved, never dropped here).
pub(crate) fn order(schemas: &Schemas, kind: ResourceKind, mut doc: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::with_capacity(doc.len());
    let names = std::iter::once("schemas")
        .chain(schemas.common_attributes().iter().map(|a| a.name.as_str()))
        .chain(schemas.core(kind).attributes.iter().map(|a| a.name.as_str()))
        .chain(schemas.extensions(kind).map(|e| e.id.as_str()));
    for name in names {
        if let Some(k) = crate::json::key_ci(&doc, name)
            && let Some(v) = doc.shift_remove(&k)
        {
            out.insert(name.to_owned(), v);
        }
    }
    out.extend(doc);
    out
}

/// Checks what a whole resource must satisfy: required attributes and the per-type rules.
///
/// # Errors
/// `invalidValue` naming the missing attribute or the broken rule.
pub(crate) fn check_resource(schemas: &Schemas, kind: ResourceKind, doc: &Map<String, Value>) -> Result<(), ScimError> {
    for (ext, attr) in all_attributes(schemas, kind) {
        if attr.required && attr.mutability != Mutability::ReadOnly {
            let present = lookup(doc, ext, &attr.name).is_some_and(|v| !is_unassigned(v));
            if !present {
                return Err(ScimError::invalid_value(format!("'{}' is required", display_name(ext, attr))));
            }
        }
    }
    if matches!(kind, ResourceKind::ContainerPermission | ResourceKind::PrivilegedDataPermission) {
        let has = |name: &str| get_ci(doc, name).is_some_and(|v| !is_unassigned(v));
        if has("user") == has("group") {
            return Err(ScimError::invalid_value(format!("a {kind} names exactly one of 'user' and 'group'")));
        }
    }
    Ok(())
}

/// Normalizes one attribute's value (see the module docs); `None` when the value is unassigned.
///
/// # Errors
/// `invalidValue` for a wrong type, a non-canonical value where canonical values are strict, a
/// second `primary`, or a missing required sub-attribute; `invalidSyntax` for an unknown sub-attribute.
pub(crate) fn normalize_value(attr: &Attribute, value: &Value, name: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(value) {
        return Ok(None);
    }
    if attr.multi_valued {
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = normalize_single(attr, item, name)? {
                out.push(v);
            }
        }
        if out.is_empty() {
            return Ok(None);
        }
        let primaries = out.iter().filter(|v| v.get("primary") == Some(&Value::Bool(true))).count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!("at most one '{name}' value may be primary")));
        }
        return Ok(Some(Value::Array(out)));
    }
    if let Value::Array(items) = value {
        return Err(ScimError::invalid_value(format!(
            "'{name}' is single-valued; got an array of {} values",
            items.len()
        )));
    }
    normalize_single(attr, value, name)
}

fn normalize_single(attr: &Attribute, value: &Value, name: &str) -> Result<Option<Value>, ScimError> {
    if is_unassigned(value) {
        return Ok(None);
    }
    if !attr.is_complex() {
        return normalize_scalar(attr, value, name).map(Some);
    }
    let obj = match value {
        Value::Object(o) => o.clone(),
        Value::String(_) | Value::Number(_) | Value::Bool(_) if attr.sub_attribute("value").is_some() => {
            let mut o = Map::new();
            o.insert("value".into(), value.clone());
            o
        }
        other => {
            return Err(ScimError::invalid_value(format!("'{name}' must be an object, not {}", type_name(other))));
        }
    };
    let mut out = Map::new();
    for (key, v) in &obj {
        let Some(sub) = attr.sub_attribute(key) else {
            if attr.ignores_sub_attribute(key) {
                continue;
            }
            return Err(ScimError::invalid_syntax(format!("'{key}' is not a sub-attribute of '{name}'")));
        };
        if sub.mutability == Mutability::ReadOnly {
            continue;
        }
        let sub_name = format!("{name}.{}", sub.name);
        if let Some(v) = normalize_value(sub, v, &sub_name)? {
            out.insert(sub.name.clone(), v);
        }
    }
    if obj.values().all(is_unassigned) {
        return Ok(None);
    }
    // An element that said something but lacks a required sub-attribute (a member with only a
    // `display`) is an error, not an empty element to drop.
    for sub in attr.sub_attributes.iter().filter(|s| s.required && s.mutability != Mutability::ReadOnly) {
        if !out.contains_key(&sub.name) {
            return Err(ScimError::invalid_value(format!("'{name}.{}' is required", sub.name)));
        }
    }
    Ok((!out.is_empty()).then_some(Value::Object(out)))
}

fn normalize_scalar(attr: &Attribute, value: &Value, name: &str) -> Result<Value, ScimError> {
    let wrong =
        |expected: &str| ScimError::invalid_value(format!("'{name}' must be {expected}, not {}", type_name(value)));
    let v = match attr.kind {
        AttributeType::String | AttributeType::Reference => match value {
            Value::String(_) => value.clone(),
            _ => return Err(wrong("a string")),
        },
        AttributeType::Boolean => match value {
            Value::Bool(_) => value.clone(),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Value::Bool(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Value::Bool(false),
            _ => return Err(wrong("true or false")),
        },
        AttributeType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => value.clone(),
            Value::Number(n) => match n.as_f64() {
                Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
                _ => return Err(wrong("an integer")),
            },
            _ => return Err(wrong("an integer")),
        },
        AttributeType::Decimal => match value {
            Value::Number(_) => value.clone(),
            _ => return Err(wrong("a number")),
        },
        AttributeType::DateTime => match value {
            Value::String(s) if parse_datetime(s).is_some() => value.clone(),
            Value::String(_) => {
                return Err(ScimError::invalid_value(format!(
                    "'{name}' must be a dateTime such as \"2011-05-13T04:42:34Z\""
                )));
            }
            _ => return Err(wrong("a dateTime string")),
        },
        AttributeType::Binary => match value {
            Value::String(s) if base64::engine::general_purpose::STANDARD.decode(s).is_ok() => value.clone(),
            Value::String(_) => return Err(ScimError::invalid_value(format!("'{name}' must be base64-encoded"))),
            _ => return Err(wrong("a base64 string")),
        },
        AttributeType::Complex => return Err(wrong("an object")),
    };
    if attr.strict_canonical_values
        && let Value::String(s) = &v
    {
        return match attr.canonical_values.iter().find(|c| c.eq_ignore_ascii_case(s)) {
            Some(c) => Ok(Value::String(c.clone())),
            None => {
                Err(ScimError::invalid_value(format!("'{name}' must be one of {}", attr.canonical_values.join(", "))))
            }
        };
    }
    Ok(v)
}
