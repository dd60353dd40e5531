//! `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3): ordering by attribute type and `caseExact`.
//!
//! A multi-valued attribute sorts by its `primary` value, or else its first; a complex attribute by
//! its `value` sub-attribute. Resources without a value come last in ascending order and first in
//! descending order, as the RFC says ("ordered last if ascending and first if descending").

use crate::error::ScimError;
use crate::json::{get_ci, is_unassigned};
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::schema::{AttributeType, PathTarget, Schemas};
use crate::text::{fold, parse_datetime};
use serde_json::Value;
use std::cmp::Ordering;
use time::OffsetDateTime;

/// The sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortOrder {
    #[default]
    Ascending,
    Descending,
}

impl SortOrder {
    /// Parses `sortOrder` (case-insensitive `ascending`/`descending`).
    ///
    /// # Errors
    /// `invalidValue` for anything else.
    pub fn parse(s: &str) -> Result<Self, ScimError> {
        if s.eq_ignore_ascii_case("ascending") {
            Ok(SortOrder::Ascending)
        } else if s.eq_ignore_ascii_case("descending") {
            Ok(SortOrder::Descending)
        } else {
            Err(ScimError::invalid_value("'sortOrder' must be 'ascending' or 'descending'"))
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SortOrder::Ascending => "ascending",
            SortOrder::Descending => "descending",
        }
    }
}

/// A parsed `sortBy` + `sortOrder`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortSpec {
    pub by: AttrPath,
    pub order: SortOrder,
}

impl SortSpec {
    /// Parses the two parameters.
    ///
    /// # Errors
    /// `invalidValue` for a `sortBy` that is not an attribute path or an unknown `sortOrder`.
    pub fn parse(sort_by: &str, sort_order: Option<&str>) -> Result<Self, ScimError> {
        let by = AttrPath::parse(sort_by.trim()).map_err(|e| ScimError::invalid_value(format!("'sortBy': {e}")))?;
        let order = sort_order.map(SortOrder::parse).transpose()?.unwrap_or_default();
        Ok(Self { by, order })
    }

    /// Binds the sort to a resource type.
    ///
    /// # Errors
    /// `invalidValue` when `sortBy` names no attribute of `kind`, or a complex attribute without `value`.
    pub fn bind(&self, schemas: &Schemas, kind: ResourceKind) -> Result<BoundSort, ScimError> {
        let Some(PathTarget::Attribute(a)) = schemas.resolve(kind, &self.by) else {
            return Err(ScimError::invalid_value(format!("'sortBy': '{}' is not an attribute of {kind}", self.by)));
        };
        let (sub, leaf) = match a.sub_attribute {
            Some(s) => (Some(s.name.clone()), s),
            None if a.attribute.is_complex() => {
                let v = a.attribute.sub_attribute("value").ok_or_else(|| {
                    ScimError::invalid_value(format!("'sortBy': name a sub-attribute of '{}'", self.by))
                })?;
                (Some(v.name.clone()), v)
            }
            None => (None, a.attribute),
        };
        Ok(BoundSort {
            ext: a.extension.map(|e| e.id.clone()),
            attr: a.attribute.name.clone(),
            sub,
            kind: leaf.kind,
            case_exact: leaf.case_exact,
            order: self.order,
        })
    }
}

/// A value to order by; `Missing` sorts after every value.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    Bool(bool),
    Number(f64),
    /// Folded to lowercase unless the attribute is `caseExact`.
    Text(String),
    DateTime(OffsetDateTime),
    Missing,
}

impl SortKey {
    fn rank(&self) -> u8 {
        match self {
            SortKey::Bool(_) => 0,
            SortKey::Number(_) => 1,
            SortKey::DateTime(_) => 2,
            SortKey::Text(_) => 3,
            SortKey::Missing => 4,
        }
    }

    /// The natural (ascending) order, `Missing` last.
    pub fn cmp_natural(&self, other: &SortKey) -> Ordering {
        match (self, other) {
            (SortKey::Bool(a), SortKey::Bool(b)) => a.cmp(b),
            (SortKey::Number(a), SortKey::Number(b)) => a.total_cmp(b),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::DateTime(a), SortKey::DateTime(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

/// A sort bound to a resource type.
#[derive(Debug, Clone)]
pub struct BoundSort {
    ext: Option<String>,
    attr: String,
    sub: Option<String>,
    kind: AttributeType,
    case_exact: bool,
    order: SortOrder,
}

impl BoundSort {
    /// The sort order.
    pub fn order(&self) -> SortOrder {
        self.order
    }

    /// The key `resource` sorts by.
    pub fn key(&self, resource: &Value) -> SortKey {
        let Some(obj) = resource.as_object() else { return SortKey::Missing };
        let container = match &self.ext {
            Some(urn) => match get_ci(obj, urn).and_then(Value::as_object) {
                Some(c) => c,
                None => return SortKey::Missing,
            },
            None => obj,
        };
        let Some(v) = get_ci(container, &self.attr) else { return SortKey::Missing };
        let chosen = match v {
            Value::Array(items) => {
                let items: Vec<&Value> = items.iter().filter(|i| !is_unassigned(i)).collect();
                let primary =
                    items.iter().find(|i| i.as_object().and_then(|o| get_ci(o, "primary")) == Some(&Value::Bool(true)));
                match primary.or(items.first()) {
                    Some(v) => *v,
                    None => return SortKey::Missing,
                }
            }
            other => other,
        };
        let leaf = match &self.sub {
            Some(sub) => match chosen.as_object().and_then(|o| get_ci(o, sub)) {
                Some(v) => v,
                None => return SortKey::Missing,
            },
            None => chosen,
        };
        self.key_of(leaf)
    }

    fn key_of(&self, v: &Value) -> SortKey {
        match (self.kind, v) {
            (_, Value::Null) => SortKey::Missing,
            (AttributeType::Boolean, Value::Bool(b)) => SortKey::Bool(*b),
            (AttributeType::Integer | AttributeType::Decimal, Value::Number(n)) => {
                n.as_f64().map_or(SortKey::Missing, SortKey::Number)
            }
            (AttributeType::DateTime, Value::String(s)) => match parse_datetime(s) {
                Some(t) => SortKey::DateTime(t),
                None => SortKey::Text(s.clone()),
            },
            (_, Value::String(s)) if s.is_empty() => SortKey::Missing,
            (_, Value::String(s)) => SortKey::Text(if self.case_exact { s.clone() } else { fold(s) }),
            (_, other) => SortKey::Text(other.to_string()),
        }
    }

    /// Orders two keys by this sort's direction (missing values last ascending, first descending).
    pub fn compare_keys(&self, a: &SortKey, b: &SortKey) -> Ordering {
        let natural = a.cmp_natural(b);
        match self.order {
            SortOrder::Ascending => natural,
            SortOrder::Descending => natural.reverse(),
        }
    }

    /// Orders two resources.
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        self.compare_keys(&self.key(a), &self.key(b))
    }

    /// Sorts resources in place; stable, so equal keys keep their (e.g. id) order.
    pub fn sort(&self, resources: &mut [Value]) {
        let mut keyed: Vec<(SortKey, usize)> = resources.iter().enumerate().map(|(i, r)| (self.key(r), i)).collect();
        keyed.sort_by(|(a, i), (b, j)| self.compare_keys(a, b).then(i.cmp(j)));
        let order: Vec<usize> = keyed.into_iter().map(|(_, i)| i).collect();
        let mut taken: Vec<Option<Value>> = resources.iter_mut().map(|r| Some(std::mem::take(r))).collect();
        for (slot, i) in resources.iter_mut().zip(order) {
            if let Some(v) = taken.get_mut(i).and_then(Option::take) {
                *slot = v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ids(sort_by: &str, order: Option<&str>, mut docs: Vec<Value>) -> Vec<String> {
        let s = SortSpec::parse(sort_by, order).unwrap().bind(&Schemas::standard(), ResourceKind::User).unwrap();
        s.sort(&mut docs);
        docs.iter().map(|d| d["id"].as_str().unwrap().to_owned()).collect()
    }

    fn docs() -> Vec<Value> {
        vec![
            json!({"id": "1", "userName": "bob", "meta": {"lastModified": "2020-01-02T00:00:00Z"}, "emails": [{"value": "z@x"}, {"value": "a@x", "primary": true}]}),
            json!({"id": "2", "userName": "Alice", "meta": {"lastModified": "2020-01-01T23:00:00-02:00"}, "emails": [{"value": "m@x"}]}),
            json!({"id": "3", "meta": {"lastModified": "2020-01-01T00:00:00Z"}}),
            json!({"id": "4", "userName": "carol", "externalId": "B"}),
        ]
    }

    #[test]
    fn case_insensitive_strings_sort_with_missing_last_ascending_and_first_descending() {
        assert_eq!(ids("userName", None, docs()), ["2", "1", "4", "3"]);
        assert_eq!(ids("userName", Some("DESCENDING"), docs()), ["3", "4", "1", "2"]);
    }

    #[test]
    fn date_times_sort_as_instants() {
        assert_eq!(ids("meta.lastModified", Some("ascending"), docs()), ["3", "1", "2", "4"]);
    }

    #[test]
    fn multi_valued_attributes_sort_by_their_primary_value() {
        assert_eq!(ids("emails", None, docs()), ["1", "2", "3", "4"]);
        assert_eq!(ids("emails.value", None, docs()), ["1", "2", "3", "4"]);
    }

    #[test]
    fn bad_sort_parameters_are_invalid_value() {
        assert!(SortSpec::parse("userName", Some("up")).is_err());
        let e = SortSpec::parse("nope", None).unwrap().bind(&Schemas::standard(), ResourceKind::User).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::ScimType::InvalidValue));
        assert!(SortSpec::parse("meta", None).unwrap().bind(&Schemas::standard(), ResourceKind::User).is_err());
    }
}
