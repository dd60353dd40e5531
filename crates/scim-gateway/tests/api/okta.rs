//! The request sequences Okta sends (reference §4.2), literally.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

async fn list(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let res = app.scim(Method::GET, "/Users").query(query).send().await.unwrap();
    assert_eq!(res.status(), 200, "{query:?}");
    res.json().await.unwrap()
}

fn okta_user(login: &str) -> Value {
    json!({
        "schemas": [scim::urn::USER],
        "userName": login,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": true, "value": login, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1okta",
        "groups": [],
        "password": "Str0ng!Passw0rd-okta",
        "active": true
    })
}

#[tokio::test]
async fn okta_test_connection_and_import_paging_get_integer_counts() {
    let app = spawn_app().await;
    let body = list(&app, &[("startIndex", "1"), ("count", "2")]).await;
    assert!(body["totalResults"].is_u64() && body["startIndex"].is_u64() && body["itemsPerPage"].is_u64(), "{body}");
    assert_eq!(body["itemsPerPage"], 2);

    let total = body["totalResults"].as_u64().unwrap();
    let mut seen = 0;
    let mut start = 1u64;
    while start <= total {
        let page = list(&app, &[("startIndex", &start.to_string()), ("count", "100")]).await;
        seen += page["Resources"].as_array().unwrap().len() as u64;
        start += 100;
    }
    assert_eq!(seen, total);
    app.shutdown().await;
}

#[tokio::test]
async fn okta_creates_reads_updates_with_put_deactivates_and_reactivates_a_user() {
    let app = spawn_app().await;
    let found =
        list(&app, &[("filter", "userName eq \"ada@example.com\""), ("startIndex", "1"), ("count", "100")]).await;
    assert_eq!(found["totalResults"], 0);
    let res = app.post("/Users", &okta_user("ada@example.com")).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["userName"], "ada@example.com", "userName comes back in the case it was sent");
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(!id.contains("bulkId"));

    scim_error(app.post("/Users", &okta_user("ada@example.com")).await, 409).await;
    let found =
        list(&app, &[("filter", "userName eq \"ADA@EXAMPLE.COM\""), ("startIndex", "1"), ("count", "100")]).await;
    assert_eq!(found["totalResults"], 1, "userName filters are case-insensitive");

    // Profile update: GET, then PUT of the full object.
    let mut current: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    current["name"]["givenName"] = json!("Augusta");
    let res = app.put(&format!("/Users/{id}"), &current).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["name"]["givenName"], "Augusta");

    let deactivate =
        json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let res = app.patch(&format!("/Users/{id}"), &deactivate).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["active"], false);
    let reactivate =
        json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "value": {"active": true}}]});
    let res = app.patch(&format!("/Users/{id}"), &reactivate).await;
    assert_eq!(res.json::<Value>().await.unwrap()["active"], true);

    scim_error(app.get("/Users/010101010101").await, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn okta_push_groups_creates_renames_and_changes_membership() {
    let app = spawn_app().await;
    let a = app.create_user("okta.a").await["id"].as_str().unwrap().to_owned();
    let b = app.create_user("okta.b").await["id"].as_str().unwrap().to_owned();
    let res =
        app.post("/Groups", &json!({"schemas": [scim::urn::GROUP], "displayName": "Okta Pushed", "members": []})).await;
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    let id = group["id"].as_str().unwrap().to_owned();
    let path = format!("/Groups/{id}");
    let patch = |ops: Value| json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops});

    // Add members (no type), with the rename Okta sends on every membership change, read-only id included.
    let res = app
        .patch(&path, &patch(json!([
            {"op": "replace", "value": {"id": id, "displayName": "Okta Pushed"}},
            {"op": "add", "path": "members", "value": [{"value": a, "display": "okta.a"}, {"value": b, "display": "okta.b"}]}
        ])))
        .await;
    assert!(res.status() == 200 || res.status() == 204, "{}", res.text().await.unwrap());
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["members"].as_array().unwrap().len(), 2);
    // The `display` Okta sends is accepted and dropped (RFC 7643 §8.7.1 has none); none comes back.
    assert!(
        now["members"].as_array().unwrap().iter().all(|m| m.get("display").is_none() && m["type"] == "User"),
        "{now}"
    );

    // Remove by filter plus rename.
    let res = app
        .patch(
            &path,
            &patch(json!([
                {"op": "replace", "value": {"id": id, "displayName": "Okta Pushed Renamed"}},
                {"op": "remove", "path": format!("members[value eq \"{a}\"]")}
            ])),
        )
        .await;
    assert!(res.status().is_success());
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(now["displayName"], "Okta Pushed Renamed");
    let members: Vec<&str> = now["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [b.as_str()]);

    // "Push now" on an empty group: replace members with [].
    let res = app.patch(&path, &patch(json!([{"op": "replace", "path": "members", "value": []}]))).await;
    assert!(res.status().is_success());
    let now: Value = app.get(&path).await.json().await.unwrap();
    assert!(now.get("members").is_none_or(|m| m.as_array().is_none_or(|a| a.is_empty())), "{now}");
    app.shutdown().await;
}
