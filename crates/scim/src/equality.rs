//! Schema-aware equality of attribute values: `caseExact`, dateTime instants, unordered
//! multi-valued sets, and complex values compared on their writable sub-attributes.
//!
//! PATCH uses it to skip duplicate values (RFC 7644 §3.5.2.1) and to tell a no-op write to an
//! immutable attribute from a change; replace validation uses it for the same immutability check.

use crate::json::{get_ci, is_unassigned};
use crate::schema::{Attribute, AttributeType, Mutability};
use crate::text::{fold, parse_datetime};
use serde_json::Value;

/// Whether `a` and `b` are the same value of `attr` (both may be multi-valued arrays).
pub(crate) fn values_equal(attr: &Attribute, a: &Value, b: &Value) -> bool {
    if is_unassigned(a) || is_unassigned(b) {
        return is_unassigned(a) && is_unassigned(b);
    }
    match (attr.multi_valued, a, b) {
        (true, Value::Array(xs), Value::Array(ys)) => {
            let xs: Vec<&Value> = xs.iter().filter(|v| !is_unassigned(v)).collect();
            let ys: Vec<&Value> = ys.iter().filter(|v| !is_unassigned(v)).collect();
            xs.len() == ys.len()
                && xs.iter().all(|x| ys.iter().any(|y| element_equal(attr, x, y)))
                && ys.iter().all(|y| xs.iter().any(|x| element_equal(attr, x, y)))
        }
        _ => element_equal(attr, a, b),
    }
}

/// Whether two single values (or elements of a multi-valued attribute) of `attr` are equal.
pub(crate) fn element_equal(attr: &Attribute, a: &Value, b: &Value) -> bool {
    if attr.is_complex() {
        let (Some(x), Some(y)) = (a.as_object(), b.as_object()) else {
            return a == b;
        };
        // Read-only sub-attributes (a permission's `container.display`) are the server's to fill in; two values
        // that differ only there are the same value.
        return attr.sub_attributes.iter().filter(|s| s.mutability != Mutability::ReadOnly).all(|sub| {
            let sx = get_ci(x, &sub.name).unwrap_or(&Value::Null);
            let sy = get_ci(y, &sub.name).unwrap_or(&Value::Null);
            values_equal(sub, sx, sy)
        });
    }
    scalar_equal(attr, a, b)
}

fn scalar_equal(attr: &Attribute, a: &Value, b: &Value) -> bool {
    match (attr.kind, a, b) {
        (AttributeType::String, Value::String(x), Value::String(y)) if !attr.case_exact => fold(x) == fold(y),
        (AttributeType::Reference, Value::String(x), Value::String(y)) if !attr.case_exact => fold(x) == fold(y),
        (AttributeType::DateTime, Value::String(x), Value::String(y)) => match (parse_datetime(x), parse_datetime(y)) {
            (Some(p), Some(q)) => p == q,
            _ => x == y,
        },
        (AttributeType::Integer | AttributeType::Decimal, Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64()) {
                (Some(p), Some(q)) => p == q,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ResourceKind, Schemas};
    use serde_json::json;

    #[test]
    fn case_insensitive_strings_and_unordered_sets_compare_equal() {
        let s = Schemas::standard();
        let emails = s.attribute(ResourceKind::User, "emails").unwrap().attribute;
        let a = json!([{"value": "A@x.com", "type": "work"}, {"value": "b@x.com"}]);
        let b = json!([{"value": "b@x.com"}, {"value": "a@X.com", "type": "Work"}]);
        assert!(values_equal(emails, &a, &b));
        let c = json!([{"value": "b@x.com"}]);
        assert!(!values_equal(emails, &a, &c));
    }

    #[test]
    fn read_only_sub_attributes_do_not_make_values_differ() {
        let s = Schemas::standard();
        let container = s.attribute(ResourceKind::ContainerPermission, "container").unwrap().attribute;
        assert!(values_equal(container, &json!({"value": "12", "display": "Root"}), &json!({"value": "12"})));
        assert!(!values_equal(container, &json!({"value": "12"}), &json!({"value": "13"})));
    }

    #[test]
    fn case_exact_ids_differ_by_case() {
        let s = Schemas::standard();
        let id = s.attribute(ResourceKind::User, "externalId").unwrap().attribute;
        assert!(!values_equal(id, &json!("abc"), &json!("ABC")));
    }
}
