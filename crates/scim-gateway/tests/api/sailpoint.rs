//! The request sequences SailPoint's SCIM 2.0 / PAM connector sends (reference §4.3 and the
//! Delinea SailPoint notes): discovery, aggregation, container and container-permission
//! provisioning by `container.value eq` and `user.value eq` filters, rights Add/Remove/Set.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn list(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Value {
    let res = app.scim(Method::GET, path).query(query).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path} {query:?}: {}", res.status());
    res.json().await.unwrap()
}

fn rights_of(v: &Value) -> Vec<String> {
    let mut r: Vec<String> = v["rights"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_owned()).collect();
    r.sort();
    r
}

#[tokio::test]
async fn sailpoint_discovery_finds_every_document_it_requires() {
    let app = spawn_app().await;
    for path in [
        "/ServiceProviderConfig".to_owned(),
        "/ResourceTypes".to_owned(),
        "/Schemas".to_owned(),
        "/ResourceTypes/User".to_owned(),
        "/ResourceTypes/Group".to_owned(),
        format!("/Schemas/{}", scim::urn::USER),
        format!("/Schemas/{}", scim::urn::CONTAINER_PERMISSION),
    ] {
        assert_eq!(app.get(&path).await.status(), 200, "{path}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn sailpoint_aggregates_accounts_groups_and_deltas() {
    let app = spawn_app().await;
    let accounts = list(&app, "/Users", &[("startIndex", "1"), ("count", "100")]).await;
    assert!(accounts["totalResults"].as_u64().unwrap() >= 9);
    let admins = list(&app, "/Users", &[("filter", "userName sw \"a\""), ("attributes", "userName,groups")]).await;
    let alice = &admins["Resources"][0];
    assert_eq!(alice["userName"], "alice.martin");
    assert!(alice["groups"].as_array().unwrap().iter().any(|g| g["display"] == "IT Admins"), "{alice}");
    let groups = list(&app, "/Groups", &[("filter", "displayName sw \"IT\"")]).await;
    assert_eq!(groups["totalResults"], 1);
    // Delta aggregation: meta.lastModified with `and`.
    let delta =
        list(&app, "/Users", &[("filter", "meta.lastModified gt \"2000-01-01T00:00:00Z\" and userName pr")]).await;
    assert_eq!(delta["totalResults"], accounts["totalResults"]);
    // SailPoint's replace on the complex `name` merges sub-attributes.
    let user = app.create_user("sp.merge").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let res = app
        .patch(&path, &json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "name", "value": {"givenName": "Merged"}}]}))
        .await;
    assert_eq!(res.status(), 200);
    let now: Value = res.json().await.unwrap();
    assert_eq!(now["name"]["givenName"], "Merged");
    assert_eq!(now["name"]["familyName"], "User", "the other sub-attributes stay");
    app.shutdown().await;
}

#[tokio::test]
async fn sailpoint_provisions_containers_and_container_permissions_with_rights_add_remove_set() {
    let app = spawn_app().await;
    // Container provisioning: create a folder under \Databases, find it again.
    let databases = app.find_one("/Containers", "name eq \"Databases\"").await;
    let parent = databases["id"].as_str().unwrap().to_owned();
    let res = app
        .post(
            "/Containers",
            &json!({"schemas": [scim::urn::CONTAINER], "name": "SailPoint Managed", "parent": {"value": parent}}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let container: Value = res.json().await.unwrap();
    let folder = container["id"].as_str().unwrap().to_owned();
    let by_parent = list(&app, "/Containers", &[("filter", &format!("parent.value eq \"{parent}\""))]).await;
    assert!(by_parent["Resources"].as_array().unwrap().iter().any(|c| c["id"] == folder.as_str()));

    // Permission provisioning: look for an existing grant by container and user, then create it.
    let grantee = app.create_user("sp.grantee").await;
    let user = grantee["id"].as_str().unwrap().to_owned();
    let filter = format!("container.value eq \"{folder}\" and user.value eq \"{user}\"");
    assert_eq!(list(&app, "/ContainerPermissions", &[("filter", &filter)]).await["totalResults"], 0);
    let res = app
        .post(
            "/ContainerPermissions",
            &json!({"schemas": [scim::urn::CONTAINER_PERMISSION], "container": {"value": folder}, "user": {"value": user}, "rights": ["View"]}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let grant: Value = res.json().await.unwrap();
    let path = format!("/ContainerPermissions/{}", grant["id"].as_str().unwrap());
    assert_eq!(rights_of(&grant), ["View"]);
    let found = list(&app, "/ContainerPermissions", &[("filter", &filter)]).await;
    assert_eq!(found["totalResults"], 1);
    let by_user = list(&app, "/ContainerPermissions", &[("filter", &format!("user.value eq \"{user}\""))]).await;
    assert!(by_user["Resources"].as_array().unwrap().iter().any(|p| p["id"] == grant["id"]));
    let by_container = list(&app, "/ContainerPermissions", &[("filter", &format!("container eq \"{folder}\""))]).await;
    let by_container = by_container["Resources"].as_array().unwrap();
    assert!(by_container.iter().any(|p| p["id"] == grant["id"]), "a bare complex attribute means its value");
    assert!(by_container.iter().all(|p| p["container"]["value"] == folder.as_str()));

    let patch = |ops: Value| json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops});
    // Set.
    let res = app.patch(&path, &patch(json!([{"op": "replace", "path": "rights", "value": ["Edit"]}]))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(rights_of(&res.json().await.unwrap()), ["Edit"]);
    // Add.
    let res = app.patch(&path, &patch(json!([{"op": "add", "path": "rights", "value": ["Owner"]}]))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert!(rights_of(&res.json().await.unwrap()).contains(&"Owner".to_owned()));
    // Remove.
    let res = app.patch(&path, &patch(json!([{"op": "remove", "path": "rights[value eq \"Owner\"]"}]))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert!(!rights_of(&res.json().await.unwrap()).contains(&"Owner".to_owned()));
    // An unmapped right is a clear 400.
    let res = app.patch(&path, &patch(json!([{"op": "replace", "path": "rights", "value": ["Admin"]}]))).await;
    let body = scim_error(res, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("Admin"), "{body}");

    assert_eq!(app.delete(&path).await.status(), 204);
    assert_eq!(list(&app, "/ContainerPermissions", &[("filter", &filter)]).await["totalResults"], 0);
    app.shutdown().await;
}

#[tokio::test]
async fn sailpoint_reads_privileged_data_and_its_permissions_by_filter() {
    let app = spawn_app().await;
    let secret = app.find_one("/PrivilegedData", "name eq \"web01 root\"").await;
    let id = secret["id"].as_str().unwrap();
    let perms =
        list(&app, "/PrivilegedDataPermissions", &[("filter", &format!("privilegedData.value eq \"{id}\""))]).await;
    assert!(perms["totalResults"].as_u64().unwrap() >= 2, "{perms}");
    for p in perms["Resources"].as_array().unwrap() {
        assert_eq!(p["privilegedData"]["value"], id);
    }
    app.shutdown().await;
}
