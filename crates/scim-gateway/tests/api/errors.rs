//! Every error, ours or actix-web's, is a SCIM error body; never a 500 for a client mistake.

use crate::helpers::*;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn an_unknown_path_is_a_scim_404() {
    let app = spawn_app().await;
    scim_error(app.get("/Nothing/here/at/all").await, 404).await;
    scim_error(app.get("/Widgets").await, 404).await;
    let res = app.http.get(format!("{}/not-scim", app.base)).send().await.unwrap();
    scim_error(res, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_wrong_method_is_a_scim_405() {
    let app = spawn_app().await;
    scim_error(app.scim(Method::DELETE, "/ServiceProviderConfig").send().await.unwrap(), 405).await;
    scim_error(app.scim(Method::GET, "/Bulk").send().await.unwrap(), 405).await;
    scim_error(app.scim(Method::PUT, "/Users").send().await.unwrap(), 405).await;
    app.shutdown().await;
}

#[tokio::test]
async fn an_unsupported_media_type_is_a_scim_415() {
    let app = spawn_app().await;
    let res = app.scim(Method::POST, "/Users").header("content-type", "text/xml").body("<user/>").send().await.unwrap();
    scim_error(res, 415).await;
    app.shutdown().await;
}

#[tokio::test]
async fn plain_application_json_is_accepted() {
    let app = spawn_app().await;
    let res = app
        .scim(Method::POST, "/Users")
        .header("content-type", "application/json")
        .body(user_body("json.person").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    app.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_400_invalid_syntax() {
    let app = spawn_app().await;
    let res =
        app.scim(Method::POST, "/Users").header("content-type", SCIM).body("{\"userName\": ").send().await.unwrap();
    let body = scim_error(res, 400).await;
    assert_eq!(body["scimType"], "invalidSyntax");
    let res = app.scim(Method::POST, "/Users").header("content-type", SCIM).body("[1,2]").send().await.unwrap();
    scim_error(res, 400).await;
    app.shutdown().await;
}

#[tokio::test]
async fn an_invalid_filter_or_parameter_is_400_with_its_scim_type() {
    let app = spawn_app().await;
    let res = app.scim(Method::GET, "/Users").query(&[("filter", "userName eq")]).send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidFilter");
    let res = app.scim(Method::GET, "/Users").query(&[("filter", "shoeSize eq 4")]).send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidFilter");
    let res = app.scim(Method::GET, "/Users").query(&[("count", "many")]).send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidValue");
    let res = app.scim(Method::GET, "/Users").query(&[("sortOrder", "sideways")]).send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidValue");
    app.shutdown().await;
}

#[tokio::test]
async fn an_invalid_patch_is_400_and_changes_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("patch.errors").await;
    let id = user["id"].as_str().unwrap();
    let bad = json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "explode", "path": "displayName"}]});
    assert_eq!(scim_error(app.patch(&format!("/Users/{id}"), &bad).await, 400).await["scimType"], "invalidSyntax");
    let res = app.get(&format!("/Users/{id}")).await;
    let now: serde_json::Value = res.json().await.unwrap();
    assert_eq!(now["displayName"], user["displayName"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_trailing_or_doubled_slash_reaches_the_same_endpoint() {
    let app = spawn_app().await;
    assert_eq!(app.get("/Users/?count=1").await.status(), 200);
    assert_eq!(app.get("//Users?count=1").await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn me_answers_501_for_a_service_caller() {
    let app = spawn_app().await;
    scim_error(app.get("/Me").await, 501).await;
    app.shutdown().await;
}
