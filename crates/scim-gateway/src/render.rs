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
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The URL of one resource.
pub fn location(base: &str, resource: &Resource) -> String {
    format!("{base}/{}/{}", resource.kind.endpoint(), resource.id)
}

/// The resource's JSON with `meta.location` set (when `meta` was returned at all) and the `$ref`
/// of every reference that has a `value` but no `$ref`.
pub fn document(schemas: &Schemas, base: &str, resource: &Resource) -> Value {
    serde_json::from_slice(&document_bytes(schemas, base, resource)).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// [`document`], written straight to bytes: only `meta` and the attributes that carry references
/// are parsed and rewritten; every other member is copied as the adapter wrote it (this is the hot
/// path of every read).
pub fn document_bytes(schemas: &Schemas, base: &str, resource: &Resource) -> Vec<u8> {
    let Ok(Members(members)) = serde_json::from_slice::<Members<'_>>(&resource.json) else {
        return resource.json.to_vec();
    };
    let mut out = Vec::with_capacity(resource.json.len() + 128);
    out.push(b'{');
    for (i, (key, raw)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        // Keys are attribute names and URNs; serializing a str cannot fail.
        let _ = serde_json::to_writer(&mut out, key.as_ref());
        out.push(b':');
        let rewritten = if key == "meta" {
            serde_json::from_str::<Value>(raw.get()).ok().map(|mut meta| {
                if let Some(m) = meta.as_object_mut() {
                    m.insert("location".to_owned(), Value::String(location(base, resource)));
                }
                meta
            })
        } else {
            reference_attribute(schemas, resource.kind, key).and_then(|attr| {
                let mut value: Value = serde_json::from_str(raw.get()).ok()?;
                fill_ref(attr, base, &mut value);
                Some(value)
            })
        };
        match rewritten {
            Some(value) => {
                let _ = serde_json::to_writer(&mut out, &value);
            }
            None => out.extend_from_slice(raw.get().as_bytes()),
        }
    }
    out.push(b'}');
    out
}

/// The top-level members of a JSON object, in order, each left unparsed.
struct Members<'a>(Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = map.next_entry::<std::borrow::Cow<'de, str>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// The attribute called `key` (core, or an extension object) when it may hold references.
fn reference_attribute<'s>(schemas: &'s Schemas, kind: ResourceKind, key: &str) -> Option<RefTarget<'s>> {
    if let Some(attr) = schemas.core(kind).attribute(key) {
        return attr.sub_attribute("$ref").is_some().then_some(RefTarget::Attribute(attr));
    }
    let ext = schemas.extension(kind, key)?;
    ext.attributes.iter().any(|a| a.sub_attribute("$ref").is_some()).then_some(RefTarget::Extension(ext))
}

#[derive(Clone, Copy)]
enum RefTarget<'s> {
    Attribute(&'s Attribute),
    Extension(&'s scim::Schema),
}

fn fill_ref(target: RefTarget<'_>, base: &str, value: &mut Value) {
    match target {
        RefTarget::Attribute(attr) => {
            let mut holder = Map::new();
            holder.insert(attr.name.clone(), std::mem::take(value));
            fill_refs(std::iter::once(attr), base, &mut holder);
            *value = holder.remove(&attr.name).unwrap_or(Value::Null);
        }
        RefTarget::Extension(ext) => {
            if let Some(obj) = value.as_object_mut() {
                fill_refs(ext.attributes.iter(), base, obj);
            }
        }
    }
}

/// Sets `$ref` on the elements of complex attributes whose schema has a `$ref` naming resource types.
fn fill_refs<'a>(attributes: impl Iterator<Item = &'a Attribute>, base: &str, doc: &mut Map<String, Value>) {
    for attr in attributes {
        let Some(reference) = attr.sub_attribute("$ref") else { continue };
        let kinds: Vec<ResourceKind> =
            reference.reference_types.iter().filter_map(|t| ResourceKind::from_name(t)).collect();
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
    res.body(document_bytes(schemas, base, resource))
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
    fn a_list_splices_the_documents_into_a_valid_list_response() {
        let page = SearchPage {
            total_results: 7,
            start_index: 3,
            resources: vec![user(), user()],
            next_cursor: None,
            previous_cursor: None,
        };
        let res = list(&Schemas::standard(), "http://h/scim/v2", &page, false);
        let body = actix_web::body::to_bytes(res.into_body());
        let body = futures::executor::block_on(body).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["totalResults"], 7);
        assert_eq!(v["startIndex"], 3);
        assert_eq!(v["itemsPerPage"], 2);
        assert_eq!(v["Resources"][1]["meta"]["location"], "http://h/scim/v2/Users/42");
        let empty = SearchPage { resources: vec![], ..page };
        let res = list(&Schemas::standard(), "http://h/scim/v2", &empty, false);
        let body = futures::executor::block_on(actix_web::body::to_bytes(res.into_body())).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Resources"], serde_json::json!([]));
        assert_eq!(v["itemsPerPage"], 0);
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
        let alice =
            Resource { json: Bytes::from_static(br#"{"id":"42","groups":[{"value":"7","type":"direct"}]}"#), ..user() };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &alice);
        assert_eq!(doc["groups"][0]["$ref"], "http://h/scim/v2/Groups/7");
    }
}
