//! A connection never sees or touches anything outside its scope.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_read_only_connection_can_read_but_not_write() {
    let mut options = Options::default();
    options.connection["scope"] = serde_json::to_value(connections::Scope::read_only()).unwrap();
    let app = spawn_app_with(options).await;
    assert_eq!(app.get("/Users?count=1").await.status(), 200);
    let body = scim_error(app.post("/Users", &user_body("not.allowed")).await, 403).await;
    assert!(body["detail"].as_str().unwrap().contains("may not create"));
    let alice = app.find_one("/Users", "userName eq \"alice.martin\"").await;
    let id = alice["id"].as_str().unwrap();
    scim_error(app.delete(&format!("/Users/{id}")).await, 403).await;
    app.shutdown().await;
}

#[tokio::test]
async fn privileged_data_is_read_only_by_default() {
    let app = spawn_app().await;
    let body = json!({"schemas": [scim::urn::PRIVILEGED_DATA], "name": "new secret"});
    scim_error(app.post("/PrivilegedData", &body).await, 403).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_type_outside_the_scope_is_404_everywhere() {
    let mut options = Options::default();
    options.connection["scope"] =
        json!({"resourceTypes": {"User": {"read": true, "create": true, "update": true, "delete": true}}});
    let app = spawn_app_with(options).await;
    scim_error(app.get("/Groups").await, 404).await;
    scim_error(app.get("/Groups/1").await, 404).await;
    let body = json!({"schemas": [scim::urn::SEARCH_REQUEST], "filter": "displayName pr or userName pr"});
    let list: Value = app.post("/.search", &body).await.json().await.unwrap();
    assert!(list["Resources"].as_array().unwrap().iter().all(|r| r["schemas"][0] == scim::urn::USER), "{list}");
    app.shutdown().await;
}

#[tokio::test]
async fn containers_outside_the_folder_subtree_are_404_and_left_out_of_lists() {
    let app = spawn_app().await;
    let all: Value =
        app.scim(Method::GET, "/Containers").query(&[("count", "1000")]).send().await.unwrap().json().await.unwrap();
    let all = all["Resources"].as_array().unwrap().clone();
    let it = all.iter().find(|c| c["name"] == "IT" && c.get("parent").is_none()).expect("the demo seed has \\IT");
    let it_id: i64 = it["id"].as_str().unwrap().parse().unwrap();
    let outside = all.iter().find(|c| c["name"] == "Databases").expect("the demo seed has \\Databases");
    let outside_id = outside["id"].as_str().unwrap();

    let scope = connections::Scope { container_subtrees: Some(vec![it_id]), ..connections::Scope::default() };
    let res = app
        .admin(Method::POST, "/connections")
        .json(&json!({"id": "it-only", "secretServer": "primary", "scope": scope}))
        .send()
        .await
        .unwrap();
    let created: Value = res.json().await.unwrap();
    let token = created["token"]["token"].as_str().unwrap().to_owned();
    let get = |path: String| app.http.get(format!("{}/scim/v2{path}", app.base)).bearer_auth(&token).send();

    let res = get(format!("/Containers/{outside_id}")).await.unwrap();
    scim_error(res, 404).await;
    let res = get(format!("/Containers/{it_id}")).await.unwrap();
    assert_eq!(res.status(), 200);
    let list: Value = get("/Containers?count=1000".to_owned()).await.unwrap().json().await.unwrap();
    let names: Vec<&str> = list["Resources"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert!(!names.is_empty());
    assert!(!names.contains(&"Databases"), "{names:?}");
    let perms: Value = get("/ContainerPermissions?count=1000".to_owned()).await.unwrap().json().await.unwrap();
    for p in perms["Resources"].as_array().unwrap() {
        assert_ne!(p["container"]["value"], outside_id, "{p}");
    }
    app.shutdown().await;
}
