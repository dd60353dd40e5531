//! Protocol messages: search requests, list responses and error bodies as RFC 7644 shows them.

mod common;

use common::fixture;
use scim::paging::PageRequest;
use scim::search::{QueryLimits, SearchRequest};
use scim::{ErrorBody, ListResponse, ScimError};

#[test]
fn rfc_search_request_parses_into_a_list_query() {
    let q = SearchRequest::parse(&fixture("rfc7644_3_4_3_search_request.json"))
        .unwrap()
        .into_query(&QueryLimits::default())
        .unwrap();
    assert_eq!(q.filter.unwrap().to_string(), "displayName sw \"smith\"");
    assert_eq!(q.projection.attributes.len(), 2);
    assert_eq!(q.page, PageRequest::Index { start_index: 1, count: 10 });
}

#[test]
fn rfc_list_response_round_trips_through_the_model() {
    let rfc = fixture("rfc7644_3_4_2_list_response.json");
    let parsed: ListResponse = serde_json::from_value(rfc.clone()).unwrap();
    assert_eq!(parsed.total_results, 2);
    let ours = ListResponse::index(2, 1, parsed.resources.clone()).to_value();
    assert_eq!(ours["Resources"], rfc["Resources"]);
    assert_eq!(ours["totalResults"], rfc["totalResults"]);
    assert_eq!(ours["schemas"], rfc["schemas"]);
}

#[test]
fn rfc_error_bodies_are_what_scim_error_renders() {
    let rfc = fixture("rfc7644_3_12_errors.json");
    let not_found = ScimError::not_found("Resource 2819c223-7f76-453a-919d-413861904646 not found");
    let read_only = ScimError::mutability("Attribute 'id' is readOnly");
    for (err, expected) in [not_found, read_only].iter().zip(rfc.as_array().unwrap()) {
        let body = serde_json::to_value(err.to_body()).unwrap();
        assert_eq!(&body, expected);
        let back: ErrorBody = serde_json::from_value(expected.clone()).unwrap();
        assert_eq!(back, err.to_body());
    }
}
