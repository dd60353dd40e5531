//! Discovery advertises exactly what works.

use crate::helpers::*;
use serde_json::{Value, json};

#[tokio::test]
async fn the_service_provider_config_advertises_the_configured_features_and_limits() {
    let app = spawn_app().await;
    let res = app.get("/ServiceProviderConfig").await;
    assert_eq!(res.status(), 200);
    let spc: Value = res.json().await.unwrap();
    assert_eq!(spc["patch"]["supported"], true);
    assert_eq!(spc["bulk"], json!({"supported": true, "maxOperations": 1000, "maxPayloadSize": 1048576}));
    assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 1000}));
    assert_eq!(spc["changePassword"]["supported"], false);
    assert_eq!(spc["sort"]["supported"], true);
    assert_eq!(spc["etag"]["supported"], true);
    assert_eq!(spc["pagination"]["cursor"], true);
    assert_eq!(spc["pagination"]["index"], true);
    let schemes: Vec<&str> =
        spc["authenticationSchemes"].as_array().unwrap().iter().map(|s| s["type"].as_str().unwrap()).collect();
    assert_eq!(schemes, ["oauthbearertoken", "oauth2", "httpbasic"]);
    assert_eq!(spc["meta"]["location"], format!("{}/scim/v2/ServiceProviderConfig", app.base));
    app.shutdown().await;
}

#[tokio::test]
async fn resource_types_and_schemas_are_listed_and_found_by_id() {
    let app = spawn_app().await;
    let list: Value = app.get("/ResourceTypes").await.json().await.unwrap();
    assert_eq!(list["totalResults"], 7, "six types and the read-only Role");
    let user: Value = app.get("/ResourceTypes/User").await.json().await.unwrap();
    assert_eq!(user["endpoint"], "/Users");
    let schemas: Value = app.get("/Schemas").await.json().await.unwrap();
    assert_eq!(schemas["totalResults"], 9);
    let res = app.get(&format!("/Schemas/{}", scim::urn::GROUP)).await;
    assert_eq!(res.status(), 200);
    let group: Value = res.json().await.unwrap();
    assert_eq!(group["id"], scim::urn::GROUP);
    scim_error(app.get("/Schemas/urn:nothing").await, 404).await;
    scim_error(app.get("/ResourceTypes/Widget").await, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_sees_only_the_resource_types_in_its_scope() {
    let mut options = Options::default();
    options.connection["scope"] =
        json!({"resourceTypes": {"User": {"read": true}, "Group": {"read": true, "update": true}}});
    let app = spawn_app_with(options).await;
    let list: Value = app.get("/ResourceTypes").await.json().await.unwrap();
    let names: Vec<&str> = list["Resources"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["User", "Group"]);
    scim_error(app.get("/ResourceTypes/Container").await, 404).await;
    scim_error(app.get(&format!("/Schemas/{}", scim::urn::CONTAINER)).await, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn basic_is_not_advertised_when_it_is_turned_off() {
    let mut options = Options::default();
    options.settings.allow_basic = false;
    let app = spawn_app_with(options).await;
    let spc: Value = app.get("/ServiceProviderConfig").await.json().await.unwrap();
    assert!(!spc.to_string().contains("httpbasic"));
    app.shutdown().await;
}
