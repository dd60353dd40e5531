//! Bulk: the RFC 7644 §3.7 examples parse, order and resolve as the RFC describes; limits and
//! malformed operations get the right errors.

mod common;

use common::fixture;
use scim::bulk::{BulkIds, BulkLimits, BulkMethod, BulkOperationResponse, BulkRequest, BulkResponse};
use scim::{ResourceKind, ScimType};
use serde_json::json;

fn parse(v: &serde_json::Value) -> Result<BulkRequest, scim::ScimError> {
    BulkRequest::parse(v.to_string().as_bytes(), BulkLimits::DEFAULT)
}

#[test]
fn rfc_bulk_request_parses_every_method() {
    let r = parse(&fixture("rfc7644_3_7_bulk_request.json")).unwrap();
    assert_eq!(r.fail_on_errors, Some(1));
    let ops: Vec<_> = r.operations.iter().map(|e| e.operation.as_ref().unwrap()).collect();
    assert_eq!(
        ops.iter().map(|o| o.method).collect::<Vec<_>>(),
        [BulkMethod::Post, BulkMethod::Put, BulkMethod::Patch, BulkMethod::Delete]
    );
    assert_eq!(ops[0].bulk_id.as_deref(), Some("qwerty"));
    assert_eq!(ops[1].resource_id.as_deref(), Some("b7c14771-226c-4d05-8860-134711653041"));
    assert_eq!(ops[2].version.as_deref(), Some("W/\"edac3253e2c0ef2\""));
    assert!(ops.iter().all(|o| o.kind == ResourceKind::User));
    assert_eq!(r.execution_order().unwrap(), [0, 1, 2, 3]);
    assert!(r.should_stop(1));
    assert!(!r.should_stop(0));
    // The PATCH data is a PatchOp the gateway hands to the PATCH engine.
    scim::PatchRequest::parse(ops[2].data.as_ref().unwrap()).unwrap();
}

#[test]
fn rfc_bulk_id_references_in_members_run_after_the_referenced_post() {
    let r = parse(&fixture("rfc7644_3_7_2_bulk_ids.json")).unwrap();
    assert_eq!(r.execution_order().unwrap(), [1, 0], "the user is created before the group that references it");
    let group = r.operations[0].operation.as_ref().unwrap();
    assert_eq!(group.references(), ["qwerty"]);
    let mut ids = BulkIds::for_request(&r);
    ids.created("qwerty", "92b725cd-9465-4e7d-8c16-01f8e146b87a");
    let data = ids.resolve_value(group.data.as_ref().unwrap()).unwrap();
    assert_eq!(data["members"][0]["value"], "92b725cd-9465-4e7d-8c16-01f8e146b87a");
}

#[test]
fn rfc_circular_bulk_ids_are_a_conflict() {
    let r = parse(&fixture("rfc7644_3_7_1_bulk_circular.json")).unwrap();
    let e = r.execution_order().unwrap_err();
    assert_eq!(e.status, 409);
    assert!(e.detail.contains("qwerty") && e.detail.contains("ytrewq"), "{}", e.detail);
    let self_ref = json!({"Operations": [{"method": "POST", "path": "/Groups", "bulkId": "a",
        "data": {"displayName": "A", "members": [{"value": "bulkId:a"}]}}]});
    assert_eq!(parse(&self_ref).unwrap().execution_order().unwrap_err().status, 409);
}

#[test]
fn path_references_and_failed_or_unknown_bulk_ids_resolve_to_errors() {
    let body = json!({"Operations": [
        {"method": "PATCH", "path": "/Groups/bulkId:g", "data": {"Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:u"}]}]}},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u"}}
    ]});
    let r = parse(&body).unwrap();
    assert_eq!(r.execution_order().unwrap(), [1, 2, 0]);
    let mut ids = BulkIds::for_request(&r);
    ids.created("g", "G1");
    ids.failed("u");
    assert_eq!(ids.resolve_id("bulkId:g").unwrap(), "G1");
    assert_eq!(ids.resolve_id("plain").unwrap(), "plain");
    let patch = r.operations[0].operation.as_ref().unwrap();
    assert_eq!(ids.resolve_value(patch.data.as_ref().unwrap()).unwrap_err().status, 409);
    let e = ids.resolve_id("bulkId:nobody").unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
}

#[test]
fn a_password_that_begins_with_bulk_id_is_the_clients_text_not_a_reference() {
    let body = json!({"Operations": [
        {"method": "POST", "path": "/Users", "bulkId": "u", "data": {"userName": "u", "password": "bulkId:g"}},
        {"method": "POST", "path": "/Groups", "bulkId": "g", "data": {"displayName": "G"}},
        {"method": "PATCH", "path": "/Users/7", "data": {"Operations": [
            {"op": "replace", "path": "password", "value": "bulkId:Zx9-secret"},
            {"op": "replace", "value": {"urn:ietf:params:scim:schemas:core:2.0:User:password": "bulkId:nobody"}}
        ]}}
    ]});
    let r = parse(&body).unwrap();
    assert_eq!(r.execution_order().unwrap(), [0, 1, 2], "no operation depends on another through a password");
    let mut ids = BulkIds::for_request(&r);
    ids.created("g", "G1");
    for entry in &r.operations {
        let op = entry.operation.as_ref().unwrap();
        assert_eq!(op.references(), Vec::<String>::new());
        let data = op.data.as_ref().unwrap();
        assert_eq!(&ids.resolve_value(data).unwrap(), data, "a password is sent as the client wrote it");
    }
}

#[test]
fn limits_are_413_before_anything_runs() {
    let limits = BulkLimits { max_operations: 2, max_payload_bytes: 200 };
    let big = vec![b' '; 201];
    assert_eq!(BulkRequest::parse(&big, limits).unwrap_err().status, 413);
    let three = json!({"Operations": [{"method": "DELETE", "path": "/Users/1"}, {"method": "DELETE", "path": "/Users/2"}, {"method": "DELETE", "path": "/Users/3"}]});
    let e = BulkRequest::parse(three.to_string().as_bytes(), limits).unwrap_err();
    assert_eq!(e.status, 413);
    assert!(e.detail.contains("maxOperations (2)"));
    assert_eq!(e.scim_type, None);
}

#[test]
fn malformed_requests_fail_whole_and_malformed_operations_fail_alone() {
    for body in [
        json!([]),
        json!({"schemas": ["urn:x"], "Operations": []}),
        json!({"schemas": [scim::urn::BULK_REQUEST]}),
        json!({"Operations": {}}),
        json!({"Operations": [{"method": "POST", "path": "/Users", "bulkId": "a", "data": {}}, {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {}}]}),
    ] {
        let e = parse(&body).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}");
    }
    assert_eq!(BulkRequest::parse(b"{", BulkLimits::DEFAULT).unwrap_err().scim_type, Some(ScimType::InvalidSyntax));
    assert_eq!(
        parse(&json!({"failOnErrors": -1, "Operations": []})).unwrap_err().scim_type,
        Some(ScimType::InvalidValue)
    );
    let body = json!({"Operations": [
        {"method": "GET", "path": "/Users/1"},
        {"method": "POST", "path": "/Users", "data": {"userName": "x"}},
        {"method": "POST", "path": "/Users/1", "bulkId": "b", "data": {}},
        {"method": "PUT", "path": "/Users", "data": {}},
        {"method": "PATCH", "path": "/Things/1", "data": {}},
        {"method": "PUT", "path": "/Users/1"},
        "not an object",
        {"method": "DELETE", "path": "/Users/1"},
        {"method": "DELETE", "path": "/Users/1", "version": "3694e05e9dff591"}
    ]});
    let r = parse(&body).unwrap();
    let errors: Vec<Option<ScimType>> =
        r.operations.iter().map(|e| e.operation.as_ref().err().and_then(|e| e.scim_type)).collect();
    assert_eq!(
        errors,
        [
            Some(ScimType::InvalidSyntax),
            Some(ScimType::InvalidSyntax),
            Some(ScimType::InvalidValue),
            Some(ScimType::InvalidValue),
            Some(ScimType::InvalidValue),
            Some(ScimType::InvalidSyntax),
            Some(ScimType::InvalidSyntax),
            None,
            Some(ScimType::InvalidValue)
        ]
    );
    assert_eq!(r.execution_order().unwrap(), (0..9).collect::<Vec<_>>());
    let response = BulkResponse {
        operations: vec![BulkOperationResponse::error(
            &r.operations[2],
            r.operations[2].operation.as_ref().unwrap_err(),
        )],
    };
    let v = response.to_value();
    assert_eq!(v["schemas"], json!([scim::urn::BULK_RESPONSE]));
    assert_eq!(v["Operations"][0]["status"], "400");
    assert_eq!(v["Operations"][0]["method"], "POST");
    assert_eq!(v["Operations"][0]["bulkId"], "b");
    assert_eq!(v["Operations"][0]["response"]["scimType"], "invalidValue");
}

#[test]
fn successful_operations_render_like_the_rfc_response() {
    let response = BulkResponse {
        operations: vec![BulkOperationResponse {
            method: Some(BulkMethod::Post),
            bulk_id: Some("qwerty".into()),
            version: Some("W/\"oY4m4wn58tkVjJxK\"".into()),
            location: Some("https://example.com/v2/Users/92b725cd-9465-4e7d-8c16-01f8e146b87a".into()),
            status: 201,
            response: None,
        }],
    };
    assert_eq!(
        response.to_value()["Operations"][0],
        json!({"method": "POST", "bulkId": "qwerty", "version": "W/\"oY4m4wn58tkVjJxK\"",
               "location": "https://example.com/v2/Users/92b725cd-9465-4e7d-8c16-01f8e146b87a", "status": "201"})
    );
}
