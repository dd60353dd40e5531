//! `/Roles`: Secret Server's roles as a read-only resource type, listed, filtered, paged and read
//! by id from the adapter's read model, in discovery, and never written.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

/// The `displayName`s of a list answer's resources, in order.
fn names(list: &Value) -> Vec<String> {
    list["Resources"].as_array().unwrap().iter().map(|r| r["displayName"].as_str().unwrap().to_owned()).collect()
}

async fn list(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let res = app.scim(Method::GET, "/Roles").query(query).send().await.unwrap();
    assert_eq!(res.status(), 200, "{query:?}");
    res.json().await.unwrap()
}

#[tokio::test]
async fn roles_lists_secret_server_s_roles_and_filters_and_pages_them() {
    let app = spawn_app().await;

    let all = list(&app, &[]).await;
    assert_eq!(all["totalResults"], 3, "{all}");
    let mut every = names(&all);
    every.sort();
    assert_eq!(every, ["Administrator", "Basic User", "User"], "the emulator's built-in roles");
    let first = &all["Resources"][0];
    assert_eq!(first["schemas"], json!([scim::urn::ROLE]));
    assert_eq!(first["enabled"], true);
    assert_eq!(first["meta"]["resourceType"], "Role");
    assert!(first["meta"]["location"].as_str().unwrap().contains("/scim/v2/Roles/"), "{first}");

    let user = list(&app, &[("filter", "displayName eq \"user\"")]).await;
    assert_eq!(names(&user), ["User"], "displayName is case-insensitive, as its schema says");
    let basic = list(&app, &[("filter", "displayName sw \"Basic\" and enabled eq true")]).await;
    assert_eq!(names(&basic), ["Basic User"]);
    let none = list(&app, &[("filter", "enabled eq false")]).await;
    assert_eq!(none["totalResults"], 0);

    let page = list(&app, &[("startIndex", "2"), ("count", "1"), ("sortBy", "displayName")]).await;
    assert_eq!(page["totalResults"], 3);
    assert_eq!(names(&page), ["Basic User"], "the second by name");
    let projected = list(&app, &[("attributes", "displayName"), ("filter", "displayName eq \"User\"")]).await;
    let only = projected["Resources"][0].as_object().unwrap();
    assert!(only.contains_key("displayName") && !only.contains_key("enabled"), "{projected}");

    let id = user["Resources"][0]["id"].as_str().unwrap();
    let res = app.get(&format!("/Roles/{id}")).await;
    assert_eq!(res.status(), 200);
    let one: Value = res.json().await.unwrap();
    assert_eq!(one["displayName"], "User");
    assert!(res_etag(&app, id).await.starts_with("W/"), "a role has a version");
    scim_error(app.get("/Roles/999999").await, 404).await;
    app.shutdown().await;
}

async fn res_etag(app: &TestApp, id: &str) -> String {
    let res = app.get(&format!("/Roles/{id}")).await;
    res.headers().get("etag").unwrap().to_str().unwrap().to_owned()
}

#[tokio::test]
async fn every_write_to_roles_is_405_and_reaches_nothing() {
    let app = spawn_app().await;
    let id = app.find_one("/Roles", "displayName eq \"User\"").await["id"].as_str().unwrap().to_owned();
    app.sim.clear_request_log();
    let body = json!({"schemas": [scim::urn::ROLE], "displayName": "Auditor"});
    let patch =
        json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "enabled", "value": false}]});
    for res in [
        app.post("/Roles", &body).await,
        app.put(&format!("/Roles/{id}"), &body).await,
        app.patch(&format!("/Roles/{id}"), &patch).await,
        app.delete(&format!("/Roles/{id}")).await,
    ] {
        assert_eq!(res.headers().get("allow").unwrap(), "GET");
        scim_error(res, 405).await;
    }
    let writes: Vec<_> = app.sim.request_log().into_iter().filter(|(method, _)| method != "GET").collect();
    assert!(writes.iter().all(|(_, path)| path.contains("/oauth2/")), "nothing was written: {writes:?}");
    let role: Value = app.get(&format!("/Roles/{id}")).await.json().await.unwrap();
    assert_eq!(role["enabled"], true);
    app.shutdown().await;
}

#[tokio::test]
async fn roles_are_in_discovery_as_a_read_only_type_and_out_of_it_for_a_connection_without_them() {
    let app = spawn_app().await;
    let types: Value = app.get("/ResourceTypes").await.json().await.unwrap();
    let role = types["Resources"].as_array().unwrap().iter().find(|t| t["id"] == "Role").expect("Role is listed");
    assert_eq!(role["endpoint"], "/Roles");
    assert_eq!(role["schema"], scim::urn::ROLE);
    let schema: Value = app.get(&format!("/Schemas/{}", scim::urn::ROLE)).await.json().await.unwrap();
    let attributes = schema["attributes"].as_array().unwrap();
    let named: Vec<&str> = attributes.iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(named, ["displayName", "enabled"]);
    assert!(attributes.iter().all(|a| a["mutability"] == "readOnly"), "{schema}");

    // A connection whose scope leaves Role out does not see the type at all.
    let scope = json!({"resourceTypes": {"User": {"read": true}}});
    let created: Value = app
        .admin(Method::POST, "/connections")
        .json(&json!({"id": "no-roles", "secretServer": "primary", "scope": scope}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"]["token"].as_str().unwrap();
    let res = app.http.get(format!("{}/scim/v2/Roles", app.base)).bearer_auth(token).send().await.unwrap();
    scim_error(res, 404).await;
    let types: Value = app
        .http
        .get(format!("{}/scim/v2/ResourceTypes", app.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(types["Resources"].as_array().unwrap().iter().all(|t| t["id"] != "Role"), "{types}");
    app.shutdown().await;
}
