//! Attributes a request body carries that the schema does not define (issue 21): ignored by
//! default, the request applied with the rest and the names in the call's `ScimCall` audit event;
//! refused with `400` on a connection whose policy is `reject`.

use crate::helpers::{Options, SCIM, next_audit_events, scim_error, spawn_app, spawn_app_with, user_body};
use job_queue::EventSubscription;
use proto::audit::v1 as pb;
use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;

fn patch_op(operations: Value) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": operations})
}

/// The `ScimCall` of the first request with `method` on `route` (a route template) that reaches
/// the events stream, waiting up to ten seconds for it.
async fn scim_call(sub: &mut Box<dyn EventSubscription>, method: &str, route: &str) -> pb::ScimCall {
    for _ in 0..50 {
        for (_, event) in next_audit_events(sub, 100, Duration::from_millis(200)).await {
            if let Some(pb::audit_event::Kind::ScimCall(call)) = event.kind
                && call.method == method
                && call.route == route
            {
                return call;
            }
        }
    }
    panic!("no ScimCall for {method} {route} within ten seconds");
}

async fn group_with_no_members(app: &crate::helpers::TestApp, name: &str) -> String {
    let res = app.post("/Groups", &json!({"schemas": [scim::urn::GROUP], "displayName": name})).await;
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    group["id"].as_str().unwrap().to_owned()
}

async fn member_ids(app: &crate::helpers::TestApp, group: &str) -> Vec<String> {
    let body: Value = app.get(&format!("/Groups/{group}")).await.json().await.unwrap();
    body["members"].as_array().into_iter().flatten().map(|m| m["value"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_postman_member_add_adds_the_member_and_names_its_display_name_in_the_audit_event() {
    let app = spawn_app().await;
    let user = app.create_user("postman.member").await;
    let user_id = user["id"].as_str().unwrap();
    let group = group_with_no_members(&app, "Postman Group").await;
    let mut sub = app.events.subscribe("unknown-attributes-test", "t").await.unwrap();

    let add =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"displayName": "new User", "value": user_id}]}]));
    let res = app.patch(&format!("/Groups/{group}"), &add).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    assert_eq!(member_ids(&app, &group).await, vec![user_id.to_owned()]);
    let call = scim_call(&mut sub, "PATCH", "/scim/v2/Groups/{id}").await;
    assert_eq!((call.status, call.ignored_attributes), (200, vec!["members.displayName".to_owned()]));
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_attribute_on_post_is_ignored_named_in_the_audit_event_and_counted() {
    let app = spawn_app().await;
    // The first scrape installs the process's recorder (the binary installs it at start).
    let metrics = |app: &crate::helpers::TestApp| app.http.get(format!("{}/metrics", app.base)).send();
    assert_eq!(metrics(&app).await.unwrap().status(), 200);
    let mut sub = app.events.subscribe("unknown-attributes-test", "t").await.unwrap();
    let mut body = user_body("shoe.size");
    body["shoeSize"] = json!(44);
    body["name"]["nickname"] = json!("Shoes");
    let res = app.post("/Users", &body).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    assert!(created.get("shoeSize").is_none() && created["name"].get("nickname").is_none(), "{created}");
    assert_eq!(created["name"]["givenName"], "Test");

    let call = scim_call(&mut sub, "POST", "/scim/v2/Users").await;
    assert_eq!(call.status, 201);
    assert_eq!(call.ignored_attributes, vec!["name.nickname", "shoeSize"], "in the order of the body");
    let metrics = metrics(&app).await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(r#"scim_gateway_ignored_attributes_total{connection="test",resource_type="User"}"#),
        "{metrics}"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn put_patch_and_bulk_apply_what_the_schema_defines_and_ignore_the_rest() {
    let app = spawn_app().await;
    let user = app.create_user("tolerated.writes").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let mut sub = app.events.subscribe("unknown-attributes-test", "t").await.unwrap();

    let mut replacement = user_body("tolerated.writes");
    replacement["displayName"] = json!("Replaced");
    replacement["favouriteColour"] = json!("blue");
    let res = app.put(&format!("/Users/{id}"), &replacement).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let call = scim_call(&mut sub, "PUT", "/scim/v2/Users/{id}").await;
    assert_eq!(call.ignored_attributes, vec!["favouriteColour"]);

    let patch = patch_op(json!([{"op": "replace", "value": {"displayName": "Patched", "hatSize": 7}}]));
    let res = app.patch(&format!("/Users/{id}"), &patch).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let now: Value = res.json().await.unwrap();
    assert_eq!(now["displayName"], "Patched");
    assert_eq!(scim_call(&mut sub, "PATCH", "/scim/v2/Users/{id}").await.ignored_attributes, vec!["hatSize"]);

    let bulk = json!({
        "schemas": [scim::urn::BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": {"userName": "bulk.tolerated", "badge": 1}},
            {"method": "POST", "path": "/Groups", "bulkId": "g1",
             "data": {"displayName": "Bulk Tolerated", "members": [{"value": "bulkId:u1", "displayName": "B"}]}}
        ]
    });
    let res = app.post("/Bulk", &bulk).await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    let statuses: Vec<&str> =
        answer["Operations"].as_array().unwrap().iter().map(|o| o["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, vec!["201", "201"], "{answer}");
    let call = scim_call(&mut sub, "POST", "/scim/v2/Bulk").await;
    assert_eq!(call.ignored_attributes, vec!["badge", "members.displayName"]);
    let group = app.find_one("/Groups", "displayName eq \"Bulk Tolerated\"").await;
    assert_eq!(group["members"].as_array().map(Vec::len), Some(1), "{group}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_set_to_reject_refuses_unknown_attributes_with_400_and_changes_nothing() {
    let mut options = Options::default();
    options.connection["policies"] = json!({"unknownAttributes": "reject"});
    let app = spawn_app_with(options).await;

    let mut body = user_body("refused.shoes");
    body["shoeSize"] = json!(44);
    let error = scim_error(app.post("/Users", &body).await, 400).await;
    assert_eq!(error["scimType"], "invalidSyntax");
    assert_eq!(error["detail"], "'shoeSize' is not an attribute of User");
    let list: Value =
        test_support::json_of(app.scim(Method::GET, "/Users").query(&[("filter", "userName eq \"refused.shoes\"")]))
            .await;
    assert_eq!(list["totalResults"], 0);

    let user = app.create_user("refused.member").await;
    let group = group_with_no_members(&app, "Refusing Group").await;
    let add = patch_op(
        json!([{"op": "add", "path": "members", "value": [{"displayName": "new User", "value": user["id"]}]}]),
    );
    let error = scim_error(app.patch(&format!("/Groups/{group}"), &add).await, 400).await;
    assert_eq!(error["scimType"], "invalidSyntax");
    assert!(member_ids(&app, &group).await.is_empty());

    let mut replacement = user_body("refused.member");
    replacement["favouriteColour"] = json!("blue");
    let id = user["id"].as_str().unwrap();
    assert_eq!(
        scim_error(app.put(&format!("/Users/{id}"), &replacement).await, 400).await["scimType"],
        "invalidSyntax"
    );
    app.shutdown().await;
}

#[tokio::test]
async fn wrong_types_unknown_patch_paths_and_malformed_json_keep_their_errors() {
    let app = spawn_app().await;
    let body = scim_error(app.post("/Users", &json!({"userName": 42, "shoeSize": 44})).await, 400).await;
    assert_eq!(body["scimType"], "invalidValue");
    let user = app.create_user("kept.errors").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let unknown_path = patch_op(json!([{"op": "replace", "path": "shoeSize", "value": 44}]));
    assert_eq!(scim_error(app.patch(&path, &unknown_path).await, 400).await["scimType"], "invalidPath");
    let unknown_sub = patch_op(json!([{"op": "replace", "path": "name.nickname", "value": "n"}]));
    assert_eq!(scim_error(app.patch(&path, &unknown_sub).await, 400).await["scimType"], "invalidPath");
    let res =
        app.scim(Method::PATCH, &path).header("content-type", SCIM).body("{\"Operations\": [").send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidSyntax");
    app.shutdown().await;
}
