//! ETag, If-None-Match and If-Match.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn if_none_match_with_the_current_version_is_304() {
    let app = spawn_app().await;
    let user = app.create_user("etag.person").await;
    let id = user["id"].as_str().unwrap();
    let version = user["meta"]["version"].as_str().unwrap();
    let res = app.scim(Method::GET, &format!("/Users/{id}")).header("if-none-match", version).send().await.unwrap();
    assert_eq!(res.status(), 304);
    assert_eq!(res.headers()["etag"], version);
    let res =
        app.scim(Method::GET, &format!("/Users/{id}")).header("if-none-match", "W/\"stale\"").send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn if_match_with_a_stale_version_is_412_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("ifmatch.person").await;
    let id = user["id"].as_str().unwrap();
    let first = user["meta"]["version"].as_str().unwrap().to_owned();
    let patch = |name: &str| json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": name}]});

    let res = app
        .scim(Method::PATCH, &format!("/Users/{id}"))
        .header("content-type", SCIM)
        .header("if-match", &first)
        .body(patch("Second").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let second = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(second, first);

    let res = app
        .scim(Method::PATCH, &format!("/Users/{id}"))
        .header("content-type", SCIM)
        .header("if-match", &first)
        .body(patch("Third").to_string())
        .send()
        .await
        .unwrap();
    let body = scim_error(res, 412).await;
    assert_eq!(body["scimType"], "invalidVers");
    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["displayName"], "Second");

    let res = app.scim(Method::DELETE, &format!("/Users/{id}")).header("if-match", &first).send().await.unwrap();
    scim_error(res, 412).await;
    let res = app.scim(Method::DELETE, &format!("/Users/{id}")).header("if-match", &second).send().await.unwrap();
    assert_eq!(res.status(), 204);
    app.shutdown().await;
}
