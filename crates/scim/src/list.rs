//! The `ListResponse` message (RFC 7644 §3.4.2, with the RFC 9865 cursor attributes).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A page of query results. `totalResults`, `startIndex` and `itemsPerPage` are integers on the
/// wire (Okta rejects strings); `startIndex` is present for index paging, the cursors for cursor paging.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListResponse {
    pub schemas: Vec<String>,
    #[serde(rename = "totalResults")]
    pub total_results: u64,
    #[serde(rename = "startIndex", skip_serializing_if = "Option::is_none", default)]
    pub start_index: Option<u64>,
    #[serde(rename = "itemsPerPage", default)]
    pub items_per_page: u64,
    #[serde(rename = "nextCursor", skip_serializing_if = "Option::is_none", default)]
    pub next_cursor: Option<String>,
    #[serde(rename = "previousCursor", skip_serializing_if = "Option::is_none", default)]
    pub previous_cursor: Option<String>,
    #[serde(rename = "Resources", default)]
    pub resources: Vec<Value>,
}

impl ListResponse {
    /// An index-paged response: `resources` is the page that starts at 1-based `start_index`.
    pub fn index(total_results: u64, start_index: u64, resources: Vec<Value>) -> Self {
        Self {
            schemas: vec![crate::urn::LIST_RESPONSE.to_owned()],
            total_results,
            start_index: Some(start_index),
            items_per_page: resources.len() as u64,
            next_cursor: None,
            previous_cursor: None,
            resources,
        }
    }

    /// A cursor-paged response (RFC 9865): `next_cursor` is absent on the last page.
    pub fn cursor(
        total_results: u64,
        resources: Vec<Value>,
        next_cursor: Option<String>,
        previous_cursor: Option<String>,
    ) -> Self {
        Self {
            schemas: vec![crate::urn::LIST_RESPONSE.to_owned()],
            total_results,
            start_index: None,
            items_per_page: resources.len() as u64,
            next_cursor,
            previous_cursor,
            resources,
        }
    }

    /// The JSON body.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn index_page_has_integer_counts_and_rfc_member_names() {
        let page = ListResponse::index(100, 11, vec![json!({"id": "a"}), json!({"id": "b"})]);
        assert_eq!(
            page.to_value(),
            json!({
                "schemas": [crate::urn::LIST_RESPONSE],
                "totalResults": 100,
                "startIndex": 11,
                "itemsPerPage": 2,
                "Resources": [{"id": "a"}, {"id": "b"}]
            })
        );
    }

    #[test]
    fn last_cursor_page_has_no_next_cursor() {
        let page = ListResponse::cursor(3, vec![json!({"id": "c"})], None, Some("prev".into()));
        let v = page.to_value();
        assert!(v.get("nextCursor").is_none());
        assert_eq!(v["previousCursor"], "prev");
        assert!(v.get("startIndex").is_none());
    }
}
