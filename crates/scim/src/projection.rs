//! `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9) with `returned` semantics.
//!
//! - `returned: never` (`password`) is never in a response, whatever is asked;
//! - `returned: always` (`id`, `schemas`) is always there, even when excluded;
//! - `returned: default` is there unless excluded, or unless `attributes` lists other attributes;
//! - `returned: request` is there only when `attributes` names it.
//!
//! When a client sends both lists, `attributes` selects and `excludedAttributes` then removes.
//!
//! Names are case-insensitive and may be URN-qualified; a bare extension URN names every attribute
//! of that extension; `name.givenName` keeps (or drops) one sub-attribute. Names that are not
//! attributes of the resource type are ignored, so that one `attributes` list can serve several
//! types (as `/.search` at the root needs). Members of a stored document that the schema does not
//! define are never returned.

use crate::error::ScimError;
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::schema::{Attribute, PathTarget, Returned, Schema, Schemas};
use serde_json::{Map, Value};

/// A parsed `attributes` / `excludedAttributes` pair.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    pub attributes: Vec<AttrPath>,
    pub excluded_attributes: Vec<AttrPath>,
}

fn parse_list(list: &[&str], param: &str) -> Result<Vec<AttrPath>, ScimError> {
    list.iter()
        .flat_map(|item| item.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| AttrPath::parse(s).map_err(|e| ScimError::invalid_value(format!("'{param}': {e}"))))
        .collect()
}

impl Projection {
    /// Parses the query parameters (comma-separated lists).
    ///
    /// # Errors
    /// `invalidValue` for an entry that is not an attribute path.
    pub fn parse(attributes: Option<&str>, excluded_attributes: Option<&str>) -> Result<Self, ScimError> {
        Ok(Self {
            attributes: parse_list(&attributes.into_iter().collect::<Vec<_>>(), "attributes")?,
            excluded_attributes: parse_list(
                &excluded_attributes.into_iter().collect::<Vec<_>>(),
                "excludedAttributes",
            )?,
        })
    }

    /// Builds a projection from lists (a `/.search` body's arrays); entries may also hold commas.
    ///
    /// # Errors
    /// `invalidValue` for an entry that is not an attribute path.
    pub fn from_lists<S: AsRef<str>>(attributes: &[S], excluded_attributes: &[S]) -> Result<Self, ScimError> {
        let a: Vec<&str> = attributes.iter().map(AsRef::as_ref).collect();
        let e: Vec<&str> = excluded_attributes.iter().map(AsRef::as_ref).collect();
        Ok(Self {
            attributes: parse_list(&a, "attributes")?,
            excluded_attributes: parse_list(&e, "excludedAttributes")?,
        })
    }

    /// Whether neither list is given (the default projection).
    pub fn is_default(&self) -> bool {
        self.attributes.is_empty() && self.excluded_attributes.is_empty()
    }

    /// Binds the projection to a resource type, resolving every name once.
    pub fn bind<'s>(&self, schemas: &'s Schemas, kind: ResourceKind) -> BoundProjection<'s> {
        let resolve = |paths: &[AttrPath]| {
            let mut sels = Vec::new();
            for p in paths {
                match schemas.resolve(kind, p) {
                    Some(PathTarget::Attribute(a)) => sels.push(Sel::Attr {
                        ext: a.extension.map(|e| e.id.to_ascii_lowercase()),
                        attr: a.attribute.name.to_ascii_lowercase(),
                        sub: a.sub_attribute.map(|s| s.name.to_ascii_lowercase()),
                    }),
                    Some(PathTarget::Extension(e)) => sels.push(Sel::Extension(e.id.to_ascii_lowercase())),
                    None => {}
                }
            }
            sels
        };
        BoundProjection {
            schemas,
            kind,
            include: (!self.attributes.is_empty()).then(|| resolve(&self.attributes)),
            exclude: resolve(&self.excluded_attributes),
        }
    }

    /// Projects one resource document.
    pub fn apply(&self, schemas: &Schemas, kind: ResourceKind, resource: &Value) -> Value {
        self.bind(schemas, kind).apply(resource)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Sel {
    /// Lowercased names, for case-insensitive matching without allocating per document.
    Attr {
        ext: Option<String>,
        attr: String,
        sub: Option<String>,
    },
    Extension(String),
}

/// A projection resolved against one resource type: apply it to many documents.
#[derive(Debug, Clone)]
pub struct BoundProjection<'s> {
    schemas: &'s Schemas,
    kind: ResourceKind,
    /// `Some` when `attributes` was given (even if none of its names resolved).
    include: Option<Vec<Sel>>,
    exclude: Vec<Sel>,
}

/// What to do with one attribute.
enum Keep<'a> {
    Drop,
    /// Keep it; for a complex value, drop sub-attributes by their `returned` (and these names).
    All {
        without: Vec<&'a str>,
    },
    /// Keep only these sub-attributes (plus `always` ones).
    Only(Vec<&'a str>),
}

fn same(a: &str, lower: &str) -> bool {
    a.eq_ignore_ascii_case(lower)
}

impl BoundProjection<'_> {
    /// Projects one resource document.
    pub fn apply(&self, resource: &Value) -> Value {
        let Some(obj) = resource.as_object() else {
            return resource.clone();
        };
        let mut out = Map::with_capacity(obj.len());
        for (key, value) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                out.insert(key.clone(), value.clone());
                continue;
            }
            if let Some(ext) = self.schemas.extension(self.kind, key) {
                if let Some(inner) = value.as_object() {
                    let projected = self.project_object(Some(ext), inner, |name| ext.attribute(name));
                    if !projected.is_empty() {
                        out.insert(key.clone(), Value::Object(projected));
                    }
                }
                continue;
            }
            if let Some(attr) = self.schemas.top_level(self.kind, key)
                && let Some(v) = self.project_attr(None, attr, value)
            {
                out.insert(key.clone(), v);
            }
        }
        Value::Object(out)
    }

    fn project_object<'a>(
        &self,
        ext: Option<&Schema>,
        obj: &Map<String, Value>,
        lookup: impl Fn(&str) -> Option<&'a Attribute>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in obj {
            if let Some(attr) = lookup(key)
                && let Some(v) = self.project_attr(ext, attr, value)
            {
                out.insert(key.clone(), v);
            }
        }
        out
    }

    fn matches_attr(sel: &Sel, ext: Option<&Schema>, attr: &Attribute) -> Option<Option<String>> {
        match sel {
            Sel::Attr { ext: se, attr: sa, sub } => {
                let ext_ok = match (se, ext) {
                    (None, None) => true,
                    (Some(s), Some(e)) => same(&e.id, s),
                    _ => false,
                };
                (ext_ok && same(&attr.name, sa)).then(|| sub.clone())
            }
            Sel::Extension(_) => None,
        }
    }

    fn extension_selected(sels: &[Sel], ext: Option<&Schema>) -> bool {
        ext.is_some_and(|e| sels.iter().any(|s| matches!(s, Sel::Extension(id) if same(&e.id, id))))
    }

    fn decide<'a>(&'a self, ext: Option<&Schema>, attr: &Attribute) -> Keep<'a> {
        match attr.returned {
            Returned::Never => return Keep::Drop,
            Returned::Always => return Keep::All { without: vec![] },
            Returned::Default | Returned::Request => {}
        }
        let kept = match &self.include {
            Some(include) => {
                let mut subs = Vec::new();
                let mut whole = Self::extension_selected(include, ext) && attr.returned == Returned::Default;
                for sel in include {
                    match (Self::matches_attr(sel, ext, attr), sel) {
                        (Some(None), _) => whole = true,
                        (Some(Some(_)), Sel::Attr { sub: Some(s), .. }) => subs.push(s.as_str()),
                        _ => {}
                    }
                }
                if whole {
                    Keep::All { without: vec![] }
                } else if !subs.is_empty() {
                    Keep::Only(subs)
                } else {
                    return Keep::Drop;
                }
            }
            None if attr.returned == Returned::Request => return Keep::Drop,
            None => Keep::All { without: vec![] },
        };
        // `excludedAttributes` applies on top of `attributes` when a client sends both.
        if Self::extension_selected(&self.exclude, ext) {
            return Keep::Drop;
        }
        let mut excluded_subs = Vec::new();
        for sel in &self.exclude {
            match (Self::matches_attr(sel, ext, attr), sel) {
                (Some(None), _) => return Keep::Drop,
                (Some(Some(_)), Sel::Attr { sub: Some(s), .. }) => excluded_subs.push(s.as_str()),
                _ => {}
            }
        }
        match kept {
            Keep::All { mut without } => {
                without.extend(excluded_subs);
                Keep::All { without }
            }
            Keep::Only(subs) => {
                let subs: Vec<&str> = subs.into_iter().filter(|s| !excluded_subs.contains(s)).collect();
                if subs.is_empty() { Keep::Drop } else { Keep::Only(subs) }
            }
            Keep::Drop => Keep::Drop,
        }
    }

    fn project_attr(&self, ext: Option<&Schema>, attr: &Attribute, value: &Value) -> Option<Value> {
        let keep = self.decide(ext, attr);
        if matches!(keep, Keep::Drop) {
            return None;
        }
        if !attr.is_complex() {
            return Some(value.clone());
        }
        let project_element = |element: &Value| -> Option<Value> {
            let Some(o) = element.as_object() else { return Some(element.clone()) };
            let mut out = Map::new();
            for (k, v) in o {
                let Some(sub) = attr.sub_attribute(k) else { continue };
                let wanted = match (&keep, sub.returned) {
                    (_, Returned::Never) => false,
                    (_, Returned::Always) => true,
                    (Keep::Only(names), _) => names.iter().any(|n| same(&sub.name, n)),
                    (Keep::All { without }, Returned::Default) => !without.iter().any(|n| same(&sub.name, n)),
                    (Keep::All { .. }, Returned::Request) | (Keep::Drop, _) => false,
                };
                if wanted {
                    out.insert(k.clone(), v.clone());
                }
            }
            (!out.is_empty()).then_some(Value::Object(out))
        };
        match value {
            Value::Array(items) => {
                let projected: Vec<Value> = items.iter().filter_map(project_element).collect();
                (!projected.is_empty()).then_some(Value::Array(projected))
            }
            other => project_element(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": [crate::urn::USER, crate::urn::ENTERPRISE_USER],
            "id": "1", "userName": "bjensen", "password": "secret", "displayName": "Babs",
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"},
            "secretServerInternal": 7,
            crate::urn::ENTERPRISE_USER: {"employeeNumber": "7", "department": "Tours"}
        })
    }

    fn project(attrs: Option<&str>, excluded: Option<&str>) -> Value {
        Projection::parse(attrs, excluded).unwrap().apply(&Schemas::standard(), ResourceKind::User, &user())
    }

    #[test]
    fn default_projection_drops_never_and_unknown_members() {
        let v = project(None, None);
        assert!(v.get("password").is_none());
        assert!(v.get("secretServerInternal").is_none());
        assert_eq!(v["userName"], "bjensen");
        assert_eq!(v[crate::urn::ENTERPRISE_USER]["department"], "Tours");
    }

    #[test]
    fn attributes_keep_only_the_named_ones_plus_always() {
        let v = project(Some("USERNAME,name.givenName,emails.value"), None);
        assert_eq!(
            v,
            json!({
                "schemas": [crate::urn::USER, crate::urn::ENTERPRISE_USER],
                "id": "1", "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "a@x"}, {"value": "b@x"}]
            })
        );
    }

    #[test]
    fn excluded_attributes_cannot_remove_always_attributes() {
        let v =
            project(None, Some("id,emails,name.familyName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"));
        assert_eq!(v["id"], "1");
        assert!(v.get("emails").is_none());
        assert_eq!(v["name"], json!({"givenName": "Barbara"}));
        assert!(v.get(crate::urn::ENTERPRISE_USER).is_none());
    }

    #[test]
    fn urn_qualified_names_select_extension_attributes() {
        let v = project(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"), None);
        assert_eq!(v[crate::urn::ENTERPRISE_USER], json!({"employeeNumber": "7"}));
        let v = project(Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"), None);
        assert_eq!(v[crate::urn::ENTERPRISE_USER]["department"], "Tours");
        let v = project(Some("urn:ietf:params:scim:schemas:core:2.0:User:displayName"), None);
        assert_eq!(v["displayName"], "Babs");
    }

    #[test]
    fn attributes_and_excluded_attributes_together_apply_both() {
        let v = project(Some("emails,name"), Some("emails.type,name"));
        assert_eq!(v["emails"], json!([{"value": "a@x"}, {"value": "b@x"}]));
        assert!(v.get("name").is_none());
    }

    #[test]
    fn asking_for_password_still_never_returns_it() {
        let v = project(Some("password"), None);
        assert!(v.get("password").is_none());
    }

    #[test]
    fn unknown_names_are_ignored_and_bad_names_rejected() {
        let v = project(Some("nonexistent"), None);
        assert_eq!(v, json!({"schemas": [crate::urn::USER, crate::urn::ENTERPRISE_USER], "id": "1"}));
        assert!(Projection::parse(Some("a b"), None).is_err());
    }
}
