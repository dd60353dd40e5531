//! Writing SCIM responses: one resource with its `ETag` (and `Location` on
//! `201`), or a `ListResponse`. `meta.location` and the `$ref` of references
//! (`members`, `groups`, `parent`, `container`, `user`...) are added here
//! because only the gateway knows the public base URL.

use crate::directory::{Resource, SearchPage};
use crate::errors::SCIM_CONTENT_TYPE;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use scim::{Attribute, ResourceKind, Schemas};
use serde_json::{Map, Value};

/// The URL of one resource.
pub fn location(base: &str, resource: &Resource) -> String {
    format!("{base}/{}/{}", resource.kind.endpoint(), resource.id)
}

/// The resource's JSON with `meta.location` set (when `meta` was returned at all) and the `$ref`
/// of every reference that has a `value` but no `$ref`.
pub fn document(schemas: &Schemas, base: &str, resource: &Resource) -> Value {
    let mut value: Value = serde_json::from_slice(&resource.json).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Some(doc) = value.as_object_mut() {
        fill_refs(schemas.core(resource.kind).attributes.iter(), base, doc);
        for ext in schemas.extensions(resource.kind) {
            if let Some(ext_doc) = doc.get_mut(&ext.id).and_then(Value::as_object_mut) {
                fill_refs(ext.attributes.iter(), base, ext_doc);
            }
        }
        if let Some(meta) = doc.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("location".to_owned(), Value::String(location(base, resource)));
        }
    }
    value
}

/// Sets `$ref` on the elements of complex attributes whose schema has a `$ref` naming resource types.
fn fill_refs<'a>(attributes: impl Iterator<Item = &'a Attribute>, base: &str, doc: &mut Map<String, Value>) {
    for attr in attributes {
        let Some(reference) = attr.sub_attribute("$ref") else { continue };
        let kinds: Vec<ResourceKind> = reference.reference_types.iter().filter_map(|t| ResourceKind::from_name(t)).collect();
        if kinds.is_empty() {
            continue;
        }
        let Some(value) = doc.get_mut(&attr.name) else { continue };
        let elements: Vec<&mut Value> = match value {
            Value::Array(items) => items.iter_mut().collect(),
            other => vec![other],
        };
        for element in elements {
            let Some(element) = element.as_object_mut() else { continue };
            if element.get("$ref").is_some_and(|r| !r.is_null()) {
                continue;
            }
            let Some(id) = element.get("value").and_then(Value::as_str) else { continue };
            let kind = match element.get("type").and_then(Value::as_str).and_then(ResourceKind::from_name) {
                Some(k) if kinds.contains(&k) => Some(k),
                _ if kinds.len() == 1 => Some(kinds[0]),
                // A user's `groups` are groups, whatever their `type` (direct, indirect) says.
                _ if attr.name == "groups" && kinds.contains(&ResourceKind::Group) => Some(ResourceKind::Group),
                _ => None,
            };
            if let Some(kind) = kind {
                let uri = format!("{base}/{}/{id}", kind.endpoint());
                element.insert("$ref".to_owned(), Value::String(uri));
            }
        }
    }
}

/// One resource: `200` (or `201` with `Location`) with its `ETag`.
pub fn resource(status: StatusCode, schemas: &Schemas, base: &str, resource: &Resource) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    if !resource.version.is_empty() {
        res.insert_header((header::ETAG, resource.version.clone()));
    }
    if status == StatusCode::CREATED {
        res.insert_header((header::LOCATION, location(base, resource)));
    }
    res.body(document(schemas, base, resource).to_string())
}

/// `304 Not Modified` for a conditional GET.
pub fn not_modified(resource: &Resource) -> HttpResponse {
    let mut res = HttpResponse::NotModified();
    res.insert_header((header::ETAG, resource.version.clone()));
    res.finish()
}

/// A `ListResponse`: index paging carries `startIndex`, cursor paging the cursors (RFC 9865).
pub fn list(schemas: &Schemas, base: &str, page: &SearchPage, cursor_paging: bool) -> HttpResponse {
    let resources: Vec<Value> = page.resources.iter().map(|r| document(schemas, base, r)).collect();
    let body = if cursor_paging {
        scim::ListResponse::cursor(
            page.total_results,
            resources,
            page.next_cursor.clone(),
            page.previous_cursor.clone(),
        )
    } else {
        scim::ListResponse::index(page.total_results, page.start_index.max(1), resources)
    };
    json(StatusCode::OK, &body.to_value())
}

/// Any SCIM JSON body.
pub fn json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn user() -> Resource {
        Resource {
            kind: ResourceKind::User,
            id: "42".into(),
            version: "W/\"7\"".into(),
            json: Bytes::from_static(br#"{"id":"42","userName":"bjensen","meta":{"resourceType":"User"}}"#),
        }
    }

    #[test]
    fn meta_location_is_the_public_url_of_the_resource() {
        let doc = document(&Schemas::standard(), "https://scim.example.com/scim/v2", &user());
        assert_eq!(doc["meta"]["location"], "https://scim.example.com/scim/v2/Users/42");
        assert_eq!(doc["userName"], "bjensen");
    }

    #[test]
    fn a_projection_without_meta_gets_no_location() {
        let r = Resource { json: Bytes::from_static(br#"{"id":"42"}"#), ..user() };
        assert!(document(&Schemas::standard(), "http://h/scim/v2", &r).get("meta").is_none());
    }

    #[test]
    fn references_get_their_ref_from_the_type_they_name() {
        let group = Resource {
            kind: ResourceKind::Group,
            id: "7".into(),
            version: String::new(),
            json: Bytes::from_static(br#"{"id":"7","members":[{"value":"42","type":"User"},{"value":"8","type":"Group"},{"value":"9","$ref":"kept"}]}"#),
        };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &group);
        assert_eq!(doc["members"][0]["$ref"], "http://h/scim/v2/Users/42");
        assert_eq!(doc["members"][1]["$ref"], "http://h/scim/v2/Groups/8");
        assert_eq!(doc["members"][2]["$ref"], "kept");
        let grant = Resource {
            kind: ResourceKind::ContainerPermission,
            id: "3".into(),
            version: String::new(),
            json: Bytes::from_static(br#"{"id":"3","container":{"value":"12"},"user":{"value":"42"}}"#),
        };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &grant);
        assert_eq!(doc["container"]["$ref"], "http://h/scim/v2/Containers/12");
        assert_eq!(doc["user"]["$ref"], "http://h/scim/v2/Users/42");
        let alice = Resource { json: Bytes::from_static(br#"{"id":"42","groups":[{"value":"7","type":"direct"}]}"#), ..user() };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &alice);
        assert_eq!(doc["groups"][0]["$ref"], "http://h/scim/v2/Groups/7");
    }
}
