//! Answers made from the document's schemas, to check that the client decodes everything Secret
//! Server may send: every property with a value, every nullable property `null`, or nothing at all
//! (the document's answer models have no `required` list).

use serde_json::{Map, Value, json};

/// How a sample is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// Every property, with a value of its type.
    Values,
    /// Every property; those the document marks `nullable` are `null`, the others have a value.
    NullWhereNullable,
    /// `{}`: no property at all.
    Empty,
}

/// How deep a recursive schema (a folder's `childFolders`) is followed.
const MAX_DEPTH: usize = 4;

/// A value of the date-time format, as Secret Server writes one.
pub const SAMPLE_DATE_TIME: &str = "2026-02-03T04:05:06Z";

/// An instance of the OpenAPI schema `schema` (references resolved in `document`).
pub fn sample(document: &Value, schema: &Value, fill: Fill) -> Value {
    if fill == Fill::Empty {
        return match resolved(document, schema).get("type").and_then(Value::as_str) {
            Some("array") => json!([]),
            _ => json!({}),
        };
    }
    value(document, schema, fill, "value", 0)
}

fn resolved<'a>(document: &'a Value, schema: &'a Value) -> &'a Value {
    let mut current = schema;
    // References may chain; the document's do not loop, and the bound keeps a broken one finite.
    for _ in 0..8 {
        match current.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')) {
            Some(pointer) => current = document.pointer(pointer).unwrap_or(&Value::Null),
            None => break,
        }
    }
    current
}

fn value(document: &Value, schema: &Value, fill: Fill, name: &str, depth: usize) -> Value {
    if fill == Fill::NullWhereNullable && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return Value::Null;
    }
    let schema = resolved(document, schema);
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|v| v.first()) {
        return first.clone();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => match schema.get("format").and_then(Value::as_str) {
            Some("date-time") => json!(SAMPLE_DATE_TIME),
            _ => json!(format!("{name}-sample")),
        },
        Some("integer") => {
            let min = schema.get("minimum").and_then(Value::as_i64).unwrap_or(i64::MIN);
            json!(7_i64.max(min))
        }
        Some("number") => json!(7.5),
        Some("boolean") => json!(true),
        Some("array") => {
            if depth >= MAX_DEPTH {
                json!([])
            } else {
                json!([value(document, &schema["items"], fill, name, depth + 1)])
            }
        }
        _ => match schema.get("properties").and_then(Value::as_object) {
            Some(properties) if depth < MAX_DEPTH => {
                let map: Map<String, Value> = properties
                    .iter()
                    .map(|(prop, s)| (prop.clone(), value(document, s, fill, prop, depth + 1)))
                    .collect();
                Value::Object(map)
            }
            _ => json!({}),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Spec;

    #[test]
    fn nullable_properties_are_null_and_the_others_filled() {
        let spec = Spec::published();
        let schema = json!({ "$ref": "#/components/schemas/FolderPermissionSummary" });
        let nulls = sample(spec.document(), &schema, Fill::NullWhereNullable);
        assert!(nulls["secretAccessRoleId"].is_null() && nulls["userId"].is_null());
        assert_eq!(nulls["folderId"], 7);
        let values = sample(spec.document(), &schema, Fill::Values);
        assert_eq!(values["secretAccessRoleId"], 7);
        let converted = crate::spec::Spec::published();
        let converted_schema = json!({ "$ref": "#/components/schemas/FolderPermissionSummary" });
        assert!(converted.validate(&converted_schema, &nulls).is_empty());
        assert!(converted.validate(&converted_schema, &values).is_empty());
    }

    #[test]
    fn every_answer_schema_of_the_document_has_valid_samples() {
        let spec = Spec::published();
        for op in spec.operations() {
            for status in op.statuses() {
                let (Some(raw), Some(converted)) = (op.raw_response_schema(status), op.response_schema(status)) else {
                    continue;
                };
                for fill in [Fill::Values, Fill::NullWhereNullable] {
                    let instance = sample(spec.document(), raw, fill);
                    let problems = spec.validate(converted, &instance);
                    assert!(problems.is_empty(), "{} {status} {fill:?}: {problems:?}", op.name());
                }
            }
        }
    }
}
