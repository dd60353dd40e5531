//! Bulk: bulkId references (also in members), dependency order, failOnErrors.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn bulk_resolves_bulk_id_references_in_members_whatever_the_order() {
    let app = spawn_app().await;
    let body = json!({
        "schemas": [scim::urn::BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"schemas": [scim::urn::GROUP], "displayName": "Bulk Group", "members": [{"value": "bulkId:u1"}]}},
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body("bulk.member")}
        ]
    });
    let res = app.post("/Bulk", &body).await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["schemas"][0], scim::urn::BULK_RESPONSE);
    let ops = out["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 2);
    assert!(ops.iter().all(|o| o["status"] == "201"), "{out}");
    let user_location = ops.iter().find(|o| o["bulkId"] == "u1").unwrap()["location"].as_str().unwrap().to_owned();
    let user_id = user_location.rsplit('/').next().unwrap().to_owned();
    let group = app.find_one("/Groups", "displayName eq \"Bulk Group\"").await;
    let members: Vec<&str> =
        group["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [user_id.as_str()]);
    assert!(ops[0]["version"].as_str().is_some());
    app.shutdown().await;
}

#[tokio::test]
async fn bulk_reports_each_failure_and_stops_after_fail_on_errors() {
    let app = spawn_app().await;
    app.create_user("bulk.taken").await;
    let body = json!({
        "schemas": [scim::urn::BULK_REQUEST],
        "failOnErrors": 1,
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "a", "data": user_body("bulk.taken")},
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("bulk.never")}
        ]
    });
    let out: Value = app.post("/Bulk", &body).await.json().await.unwrap();
    let ops = out["Operations"].as_array().unwrap();
    assert_eq!(ops.len(), 1, "stopped after the first error: {out}");
    assert_eq!(ops[0]["status"], "409");
    assert_eq!(ops[0]["response"]["scimType"], "uniqueness");
    let found: Value = test_support::json_of(
        app.scim(reqwest::Method::GET, "/Users").query(&[("filter", "userName eq \"bulk.never\"")]),
    )
    .await;
    assert_eq!(found["totalResults"], 0);
    app.shutdown().await;
}

#[tokio::test]
async fn bulk_patch_and_delete_run_with_their_own_statuses() {
    let app = spawn_app().await;
    let user = app.create_user("bulk.target").await;
    let id = user["id"].as_str().unwrap();
    let body = json!({
        "schemas": [scim::urn::BULK_REQUEST],
        "Operations": [
            {"method": "PATCH", "path": format!("/Users/{id}"),
             "data": {"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Bulk Patched"}]}},
            {"method": "DELETE", "path": "/Users/999999999"},
            {"method": "DELETE", "path": "/Widgets/1"}
        ]
    });
    let out: Value = app.post("/Bulk", &body).await.json().await.unwrap();
    let statuses: Vec<&str> =
        out["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses[0], "200", "{out}");
    assert_eq!(statuses[1], "404", "{out}");
    assert!(statuses[2].starts_with('4'), "{out}");
    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["displayName"], "Bulk Patched");
    app.shutdown().await;
}

#[tokio::test]
async fn circular_bulk_id_references_are_409() {
    let app = spawn_app().await;
    let body = json!({
        "schemas": [scim::urn::BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Groups", "bulkId": "a", "data": {"displayName": "A", "members": [{"value": "bulkId:b"}]}},
            {"method": "POST", "path": "/Groups", "bulkId": "b", "data": {"displayName": "B", "members": [{"value": "bulkId:a"}]}}
        ]
    });
    scim_error(app.post("/Bulk", &body).await, 409).await;
    app.shutdown().await;
}
