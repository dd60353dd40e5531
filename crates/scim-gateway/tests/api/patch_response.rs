//! How a successful PATCH is answered (issue 20 goal 5): `200` with the resource by default; `204
//! No Content` with the `ETag` and no body on a connection whose `patchResponse` policy is
//! `noContent` (RFC 7644 §3.5.2), unless the request asks for a projection; errors as ever.

use crate::helpers::{Options, TestApp, scim_error, spawn_app, spawn_app_with};
use reqwest::Method;
use reqwest::header::ETAG;
use serde_json::{Value, json};

fn add_member(user: &Value) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP],
           "Operations": [{"op": "add", "path": "members", "value": [{"value": user["id"]}]}]})
}

async fn new_group(app: &TestApp, name: &str) -> String {
    let res = app.post("/Groups", &json!({"schemas": [scim::urn::GROUP], "displayName": name})).await;
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

/// The group's `ETag` and member ids, read back.
async fn read_back(app: &TestApp, group: &str) -> (String, Vec<String>) {
    let res = app.get(&format!("/Groups/{group}")).await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()[ETAG].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    let members = body["members"].as_array().into_iter().flatten();
    (etag, members.map(|m| m["value"].as_str().unwrap().to_owned()).collect())
}

fn no_content_options() -> Options {
    let mut options = Options::default();
    options.connection["policies"] = json!({"patchResponse": "noContent"});
    options
}

#[tokio::test]
async fn by_default_a_patch_is_answered_200_with_the_resource_after_the_change() {
    let app = spawn_app().await;
    let user = app.create_user("default.answer").await;
    let group = new_group(&app, "Default Answer").await;

    let res = app.patch(&format!("/Groups/{group}"), &add_member(&user)).await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()[ETAG].to_str().unwrap().to_owned();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["members"][0]["value"], user["id"], "{body}");
    assert_eq!(body["meta"]["version"], etag.as_str());
    assert_eq!(read_back(&app, &group).await.0, etag);
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_set_to_no_content_gets_204_with_the_etag_and_no_body_for_a_patch_of_any_resource() {
    let app = spawn_app_with(no_content_options()).await;
    let user = app.create_user("no.content").await;
    let group = new_group(&app, "No Content").await;

    let res = app.patch(&format!("/Groups/{group}"), &add_member(&user)).await;
    assert_eq!(res.status(), 204);
    let etag = res.headers()[ETAG].to_str().unwrap().to_owned();
    assert!(res.headers().get(reqwest::header::CONTENT_TYPE).is_none());
    assert!(res.bytes().await.unwrap().is_empty(), "no body");
    let (now, members) = read_back(&app, &group).await;
    assert_eq!((now, members), (etag, vec![user["id"].as_str().unwrap().to_owned()]), "the change was made");

    let id = user["id"].as_str().unwrap();
    let rename = json!({"schemas": [scim::urn::PATCH_OP],
                        "Operations": [{"op": "replace", "path": "displayName", "value": "No Content Renamed"}]});
    let res = app.patch(&format!("/Users/{id}"), &rename).await;
    assert_eq!(res.status(), 204);
    let etag = res.headers()[ETAG].to_str().unwrap().to_owned();
    let now = app.get(&format!("/Users/{id}")).await;
    assert_eq!(now.headers()[ETAG].to_str().unwrap(), etag);
    assert_eq!(now.json::<Value>().await.unwrap()["displayName"], "No Content Renamed");

    let res = app.put(&format!("/Users/{id}"), &crate::helpers::user_body("no.content")).await;
    assert_eq!(res.status(), 200, "only a PATCH is answered without the resource");
    app.shutdown().await;
}

#[tokio::test]
async fn a_patch_that_asks_for_a_projection_is_answered_200_with_it_whatever_the_policy() {
    let app = spawn_app_with(no_content_options()).await;
    let user = app.create_user("projected.answer").await;
    let group = new_group(&app, "Projected Answer").await;

    let res = app
        .scim(Method::PATCH, &format!("/Groups/{group}"))
        .query(&[("excludedAttributes", "members")])
        .json(&add_member(&user))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["displayName"], "Projected Answer");
    assert!(body.get("members").is_none(), "{body}");

    let res = app
        .scim(Method::PATCH, &format!("/Groups/{group}"))
        .query(&[("attributes", "members")])
        .json(&add_member(&app.create_user("projected.second").await))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["members"].as_array().map(Vec::len), Some(2), "{body}");
    assert!(body.get("displayName").is_none(), "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_failed_patch_gets_its_error_as_before_on_a_connection_set_to_no_content() {
    let app = spawn_app_with(no_content_options()).await;
    let user = app.create_user("failed.answer").await;
    let group = new_group(&app, "Failed Answer").await;

    let error = scim_error(app.patch("/Groups/999999", &add_member(&user)).await, 404).await;
    assert!(error["detail"].as_str().unwrap().contains("999999"), "{error}");
    let not_a_user = json!({"schemas": [scim::urn::PATCH_OP],
                            "Operations": [{"op": "add", "path": "members", "value": [{"value": "888888"}]}]});
    scim_error(app.patch(&format!("/Groups/{group}"), &not_a_user).await, 400).await;
    let stale = app
        .scim(Method::PATCH, &format!("/Groups/{group}"))
        .header("If-Match", "W/\"stale\"")
        .json(&add_member(&user))
        .send()
        .await
        .unwrap();
    scim_error(stale, 412).await;
    assert_eq!(read_back(&app, &group).await.1, Vec::<String>::new(), "nothing changed");
    app.shutdown().await;
}

#[tokio::test]
async fn the_policy_is_set_through_the_admin_api_and_a_replayed_204_is_answered_with_the_resource_once_it_is_unset() {
    let app = spawn_app().await;
    let user = app.create_user("replayed.answer").await;
    let group = new_group(&app, "Replayed Answer").await;
    let set = |policy: &'static str| {
        app.admin(Method::PATCH, "/connections/test").json(&json!({"policies": {"patchResponse": policy}})).send()
    };
    let res = set("noContent").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["policies"]["patchResponse"], "noContent");
    let patch = || {
        app.scim(Method::PATCH, &format!("/Groups/{group}"))
            .header("Idempotency-Key", "replayed-answer-1")
            .json(&add_member(&user))
            .send()
    };
    let first = patch().await.unwrap();
    assert_eq!(first.status(), 204);
    let etag = first.headers()[ETAG].to_str().unwrap().to_owned();

    assert_eq!(set("resource").await.unwrap().status(), 200);
    let replayed = patch().await.unwrap();
    assert_eq!(replayed.status(), 200);
    assert_eq!(replayed.headers()[ETAG].to_str().unwrap(), etag);
    let body: Value = replayed.json().await.unwrap();
    assert_eq!(body["members"][0]["value"], user["id"], "{body}");
    app.shutdown().await;
}
