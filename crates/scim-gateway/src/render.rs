//! Writing SCIM responses: one resource with its `ETag` (and `Location` on
//! `201`), or a `ListResponse`; `meta.location` is added here because only
//! the gateway knows the public base URL.

use crate::directory::{Resource, SearchPage};
use crate::errors::SCIM_CONTENT_TYPE;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use serde_json::{Map, Value};

/// The URL of one resource.
pub fn location(base: &str, resource: &Resource) -> String {
    format!("{base}/{}/{}", resource.kind.endpoint(), resource.id)
}

/// The resource's JSON with `meta.location` set (when `meta` was returned at all).
pub fn document(base: &str, resource: &Resource) -> Value {
    let mut value: Value = serde_json::from_slice(&resource.json).unwrap_or_else(|_| Value::Object(Map::new()));
    if let Some(meta) = value.get_mut("meta").and_then(Value::as_object_mut) {
        meta.insert("location".to_owned(), Value::String(location(base, resource)));
    }
    value
}

/// One resource: `200` (or `201` with `Location`) with its `ETag`.
pub fn resource(status: StatusCode, base: &str, resource: &Resource) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    if !resource.version.is_empty() {
        res.insert_header((header::ETAG, resource.version.clone()));
    }
    if status == StatusCode::CREATED {
        res.insert_header((header::LOCATION, location(base, resource)));
    }
    res.body(document(base, resource).to_string())
}

/// `304 Not Modified` for a conditional GET.
pub fn not_modified(resource: &Resource) -> HttpResponse {
    let mut res = HttpResponse::NotModified();
    res.insert_header((header::ETAG, resource.version.clone()));
    res.finish()
}

/// A `ListResponse`: index paging carries `startIndex`, cursor paging the cursors (RFC 9865).
pub fn list(base: &str, page: &SearchPage, cursor_paging: bool) -> HttpResponse {
    let resources: Vec<Value> = page.resources.iter().map(|r| document(base, r)).collect();
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
    use scim::ResourceKind;

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
        let doc = document("https://scim.example.com/scim/v2", &user());
        assert_eq!(doc["meta"]["location"], "https://scim.example.com/scim/v2/Users/42");
        assert_eq!(doc["userName"], "bjensen");
    }

    #[test]
    fn a_projection_without_meta_gets_no_location() {
        let r = Resource { json: Bytes::from_static(br#"{"id":"42"}"#), ..user() };
        assert!(document("http://h/scim/v2", &r).get("meta").is_none());
    }
}
