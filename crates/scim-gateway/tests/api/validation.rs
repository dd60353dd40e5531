//! Everything a request asks is checked before anything is applied: a request that will be refused
//! (for its query, its headers or its body) leaves no change behind.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn user_count(app: &TestApp, user_name: &str) -> u64 {
    let filter = format!("userName eq \"{user_name}\"");
    let res = app.scim(Method::GET, "/Users").query(&[("filter", filter.as_str())]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["totalResults"].as_u64().unwrap()
}

#[tokio::test]
async fn a_create_with_an_invalid_attributes_parameter_is_400_and_creates_nothing() {
    let app = spawn_app().await;
    let res = app
        .scim(Method::POST, "/Users?attributes=a!b")
        .header("content-type", SCIM)
        .body(user_body("refused.create").to_string())
        .send()
        .await
        .unwrap();
    let body = scim_error(res, 400).await;
    assert_eq!(body["scimType"], "invalidValue");
    assert_eq!(user_count(&app, "refused.create").await, 0, "the refused create left a user behind");

    // The client's corrected retry creates the user (and is not a 409 for a user made by the refusal).
    let res = app.post("/Users?attributes=userName", &user_body("refused.create")).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    app.shutdown().await;
}

#[tokio::test]
async fn a_patch_or_delete_with_an_invalid_projection_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("refused.change").await;
    let id = user["id"].as_str().unwrap();
    let patch = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Changed"}]});

    let res = app.patch(&format!("/Users/{id}?excludedAttributes=emails[type"), &patch).await;
    scim_error(res, 400).await;
    let res = app.delete(&format!("/Users/{id}?attributes=a!b")).await;
    scim_error(res, 400).await;

    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["displayName"], user["displayName"], "the refused PATCH changed the user");
    assert_eq!(now["meta"]["version"], user["meta"]["version"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_malformed_if_match_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("refused.ifmatch").await;
    let id = user["id"].as_str().unwrap();
    let patch = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Changed"}]});
    for malformed in ["W/unquoted", "\"open", "W/\"a\" W/\"b\""] {
        let res = app
            .scim(Method::PATCH, &format!("/Users/{id}"))
            .header("content-type", SCIM)
            .header("if-match", malformed)
            .body(patch.to_string())
            .send()
            .await
            .unwrap();
        let body = scim_error(res, 400).await;
        assert_eq!(body["scimType"], "invalidValue", "{malformed}");
    }
    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["meta"]["version"], user["meta"]["version"]);
    app.shutdown().await;
}

#[tokio::test]
async fn an_idempotency_key_too_long_to_keep_is_400_not_ignored() {
    let app = spawn_app().await;
    let res = app
        .scim(Method::POST, "/Users")
        .header("content-type", SCIM)
        .header("idempotency-key", "k".repeat(257))
        .body(user_body("refused.key").to_string())
        .send()
        .await
        .unwrap();
    let body = scim_error(res, 400).await;
    assert_eq!(body["scimType"], "invalidValue");
    assert_eq!(user_count(&app, "refused.key").await, 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_put_spelling_id_or_schemas_in_another_case_is_checked_as_they_are_and_refused_before_any_job() {
    let app = spawn_app().await;
    let user = app.create_user("put.spelling").await;
    let id = user["id"].as_str().unwrap();
    assert_ne!(id, "999");
    let put = |key: &'static str, body: Value| {
        app.scim(Method::PUT, &format!("/Users/{id}"))
            .header("content-type", SCIM)
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
    };

    let mut another_id = user_body("put.spelling");
    another_id["ID"] = json!("999");
    let body = scim_error(put("another-id", another_id).await.unwrap(), 400).await;
    assert_eq!(body["scimType"], "mutability", "{body}");

    let mut schemas_not_a_list = user_body("put.spelling");
    schemas_not_a_list.as_object_mut().unwrap().shift_remove("schemas");
    schemas_not_a_list["Schemas"] = json!("x");
    let body = scim_error(put("schemas-not-a-list", schemas_not_a_list).await.unwrap(), 400).await;
    assert_eq!(body["scimType"], "invalidSyntax", "{body}");

    for key in ["another-id", "schemas-not-a-list"] {
        let job = app.deps.queue.find(&format!("test/{key}")).await.unwrap();
        assert!(job.is_none(), "the refused PUT ({key}) was submitted as a job");
    }
    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["meta"]["version"], user["meta"]["version"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_put_whose_id_is_not_a_string_is_refused_as_an_invalid_value_before_any_job() {
    let app = spawn_app().await;
    let user = app.create_user("put.number.id").await;
    let id = user["id"].as_str().unwrap();
    let cases = [
        ("number", "id", json!(999)),
        ("number-of-the-same-digits", "id", json!(id.parse::<i64>().unwrap_or(0))),
        ("another-case", "Id", json!(999)),
        ("boolean", "id", json!(true)),
        ("list", "id", json!([id])),
        ("object", "id", json!({"value": id})),
    ];
    for (key, name, value) in &cases {
        let mut body = user_body("put.number.id");
        body[*name] = value.clone();
        let res = app
            .scim(Method::PUT, &format!("/Users/{id}"))
            .header("content-type", SCIM)
            .header("idempotency-key", *key)
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let error = scim_error(res, 400).await;
        assert_eq!(error["scimType"], "invalidValue", "{key}: {error}");
        assert!(app.deps.queue.find(&format!("test/{key}")).await.unwrap().is_none(), "{key} became a job");
    }
    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["meta"]["version"], user["meta"]["version"], "nothing changed");

    let mut unassigned = user_body("put.number.id");
    unassigned["id"] = Value::Null;
    assert_eq!(app.put(&format!("/Users/{id}"), &unassigned).await.status(), 200, "a null id is no id (RFC 7643 §2.5)");
    app.shutdown().await;
}
