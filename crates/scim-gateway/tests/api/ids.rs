//! Ids are exact: an id in a URL or in a reference is the exact string the connector issued.
//! Another spelling of it (`+12`, `012`, `12 `) is `404` in a URL and `400 invalidValue` in a body,
//! never the same resource.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

/// Other spellings of `id`, as a client could put them in a URL path.
fn aliases(id: &str) -> Vec<String> {
    vec![format!("+{id}"), format!("0{id}"), format!("{id}%20"), format!("%20{id}"), format!("{id}%0A")]
}

#[tokio::test]
async fn another_spelling_of_an_id_in_a_url_is_404_for_reads_and_writes() {
    let app = spawn_app().await;
    let user = app.create_user("exact.id").await;
    let id = user["id"].as_str().unwrap();
    let patch = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Through an alias"}]});
    for alias in aliases(id) {
        scim_error(app.get(&format!("/Users/{alias}")).await, 404).await;
        scim_error(app.patch(&format!("/Users/{alias}"), &patch).await, 404).await;
        let mut replacement = user_body("exact.id");
        replacement.as_object_mut().unwrap().remove("password");
        scim_error(app.put(&format!("/Users/{alias}"), &replacement).await, 404).await;
        scim_error(app.delete(&format!("/Users/{alias}")).await, 404).await;
    }
    let now: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(now["displayName"], user["displayName"], "a write through an alias changed the user");
    assert_eq!(now["active"], true, "a DELETE through an alias deactivated the user");
    app.shutdown().await;
}

#[tokio::test]
async fn another_spelling_of_a_member_id_in_a_body_is_400_invalid_value() {
    let app = spawn_app().await;
    let user = app.create_user("exact.member").await;
    let id = user["id"].as_str().unwrap().to_owned();
    let res = app
        .post("/Groups", &json!({"schemas": [scim::urn::GROUP], "displayName": "Exact Members", "members": []}))
        .await;
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    let gid = group["id"].as_str().unwrap();

    for alias in [format!("+{id}"), format!("0{id}"), format!("{id} "), format!(" {id}")] {
        let add = json!({"schemas": [scim::urn::PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": alias}]}]});
        let body = scim_error(app.patch(&format!("/Groups/{gid}"), &add).await, 400).await;
        assert_eq!(body["scimType"], "invalidValue", "{alias:?}: {body}");
        let create = json!({"schemas": [scim::urn::GROUP], "displayName": format!("Alias {alias}"),
            "members": [{"value": alias}]});
        let body = scim_error(app.post("/Groups", &create).await, 400).await;
        assert_eq!(body["scimType"], "invalidValue", "{alias:?}: {body}");
    }
    let now: Value = app.get(&format!("/Groups/{gid}?attributes=members")).await.json().await.unwrap();
    assert!(now["members"].as_array().is_none_or(Vec::is_empty), "{now}");

    // The exact id is a member; removing it by another spelling removes nothing.
    let add = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]});
    assert_eq!(app.patch(&format!("/Groups/{gid}"), &add).await.status(), 200);
    let remove = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"0{id}\"]")}]});
    let res = app.patch(&format!("/Groups/{gid}"), &remove).await;
    assert!(res.status().is_client_error(), "{}", res.status());
    let now: Value = app.get(&format!("/Groups/{gid}?attributes=members")).await.json().await.unwrap();
    assert_eq!(now["members"][0]["value"], id.as_str(), "{now}");
    app.shutdown().await;
}

#[tokio::test]
async fn another_spelling_of_a_container_reference_is_400_invalid_value() {
    let app = spawn_app().await;
    let parent = app
        .post("/Containers", &json!({"schemas": [scim::urn::CONTAINER], "name": "Exact Parent"}))
        .await
        .json::<Value>()
        .await
        .unwrap();
    let pid = parent["id"].as_str().unwrap();
    let child =
        json!({"schemas": [scim::urn::CONTAINER], "name": "Exact Child", "parent": {"value": format!("0{pid}")}});
    let body = scim_error(app.post("/Containers", &child).await, 400).await;
    assert_eq!(body["scimType"], "invalidValue", "{body}");

    let user = app.create_user("exact.grantee").await;
    let grant = json!({"schemas": [scim::urn::CONTAINER_PERMISSION],
        "container": {"value": format!("{pid} ")}, "user": {"value": user["id"]}, "rights": ["View"]});
    let body = scim_error(app.post("/ContainerPermissions", &grant).await, 400).await;
    assert_eq!(body["scimType"], "invalidValue", "{body}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_filter_on_another_spelling_of_an_id_finds_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("exact.filter").await;
    let id = user["id"].as_str().unwrap();
    for filter in [format!("id eq \"0{id}\""), format!("id eq \"+{id}\""), format!("id eq \"{id} \"")] {
        let res = app.scim(Method::GET, "/Users").query(&[("filter", filter.as_str())]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["totalResults"], 0, "{filter}: {body}");
    }
    app.shutdown().await;
}
