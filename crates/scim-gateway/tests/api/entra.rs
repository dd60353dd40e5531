//! The request sequences Microsoft Entra ID provisioning sends (reference §4.1), literally.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

async fn list(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Value {
    let res = app.scim(Method::GET, path).query(query).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path} {query:?}");
    res.json().await.unwrap()
}

async fn patch_ok(app: &TestApp, path: &str, ops: Value) -> Value {
    let res = app.patch(path, &json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops})).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status == 200 || status == 204, "{path}: {status} {text}");
    let now = app.get(path).await;
    assert_eq!(now.status(), 200);
    now.json().await.unwrap()
}

#[tokio::test]
async fn entra_test_connection_queries_a_random_guid_and_gets_an_empty_list() {
    let app = spawn_app().await;
    let guid = uuid::Uuid::new_v4().to_string();
    let body = list(&app, "/Users", &[("filter", &format!("userName eq \"{guid}\""))]).await;
    assert_eq!(body["totalResults"], 0);
    assert_eq!(body["Resources"].as_array().map_or(0, Vec::len), 0);
    let body = list(&app, "/Users", &[("filter", "externalId eq jyoung")]).await;
    assert_eq!(body["totalResults"], 0, "the unquoted form of Microsoft's documentation works");
    app.shutdown().await;
}

#[tokio::test]
async fn entra_provisions_a_user_then_updates_and_soft_deletes_it() {
    let app = spawn_app().await;
    // Existence check by the matching attribute, then create.
    let body = list(&app, "/Users", &[("filter", "userName eq \"jyoung@example.com\"")]).await;
    assert_eq!(body["totalResults"], 0);
    let create = json!({
        "schemas": [scim::urn::USER, ENTERPRISE],
        "externalId": "jyoung",
        "userName": "jyoung@example.com",
        "active": true,
        "displayName": "Jane Young",
        "emails": [{"primary": true, "type": "work", "value": "jyoung@example.com"}],
        "name": {"formatted": "Jane Young", "familyName": "Young", "givenName": "Jane"},
        "password": "Str0ng!Passw0rd-entra",
        ENTERPRISE: {"employeeNumber": "701984", "department": "Sales"}
    });
    let res = app.post("/Users", &create).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let user: Value = res.json().await.unwrap();
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    let found = list(&app, "/Users", &[("filter", "externalId eq \"jyoung\"")]).await;
    assert_eq!(found["totalResults"], 1);

    // Attribute updates, with Entra's capitalised ops.
    let now = patch_ok(
        &app,
        &path,
        json!([
            {"op": "Replace", "path": "displayName", "value": "Jane Q. Young"},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "jane.young@example.com"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": "Marketing"}
        ]),
    )
    .await;
    assert_eq!(now["displayName"], "Jane Q. Young");
    assert_eq!(now[ENTERPRISE]["department"], "Marketing");

    // aadOptscim062020: one path-less replace with dotted and URN-prefixed keys.
    let now = patch_ok(
        &app,
        &path,
        json!([
            {"op": "replace", "value": {"name.givenName": "Janet", format!("{ENTERPRISE}:employeeNumber"): "701985"}}
        ]),
    )
    .await;
    assert_eq!(now["name"]["givenName"], "Janet");
    assert_eq!(now[ENTERPRISE]["employeeNumber"], "701985");

    // Soft delete: Replace active with the string "False"; the user is still returned, inactive.
    let now = patch_ok(&app, &path, json!([{"op": "Replace", "path": "active", "value": "False"}])).await;
    assert_eq!(now["active"], false);
    let found = list(&app, "/Users", &[("filter", "userName eq \"jyoung@example.com\"")]).await;
    assert_eq!(found["totalResults"], 1);
    // Re-activation, with the flag's boolean form.
    let now = patch_ok(&app, &path, json!([{"op": "replace", "path": "active", "value": true}])).await;
    assert_eq!(now["active"], true);

    // Hard delete, 30 days later.
    assert_eq!(app.delete(&path).await.status(), 204);
    scim_error(app.get(&path).await, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn entra_provisions_a_group_and_every_membership_form() {
    let app = spawn_app().await;
    let a = app.create_user("entra.a").await["id"].as_str().unwrap().to_owned();
    let b = app.create_user("entra.b").await["id"].as_str().unwrap().to_owned();
    let c = app.create_user("entra.c").await["id"].as_str().unwrap().to_owned();

    let found =
        list(&app, "/Groups", &[("filter", "displayName eq \"Entra Sales\""), ("excludedAttributes", "members")]).await;
    assert_eq!(found["totalResults"], 0);
    let res = app
        .post("/Groups", &json!({"schemas": [scim::urn::GROUP], "externalId": "g-ext-1", "displayName": "Entra Sales", "members": []}))
        .await;
    assert_eq!(res.status(), 201);
    let group: Value = res.json().await.unwrap();
    let path = format!("/Groups/{}", group["id"].as_str().unwrap());

    let got = list(&app, &path, &[("excludedAttributes", "members")]).await;
    assert!(got.get("members").is_none(), "{got}");

    // Add: several members in one PATCH, with Entra's null $ref.
    let now = patch_ok(
        &app,
        &path,
        json!([
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": a}, {"$ref": null, "value": b}]},
            {"op": "Add", "path": "members", "value": [{"$ref": null, "value": c}]}
        ]),
    )
    .await;
    let mut members: Vec<String> =
        now["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().to_owned()).collect();
    members.sort();
    let mut expected = vec![a.clone(), b.clone(), c.clone()];
    expected.sort();
    assert_eq!(members, expected);

    // Remove without the flag: a value array removes only those members.
    let now = patch_ok(&app, &path, json!([{"op": "Remove", "path": "members", "value": [{"value": a}]}])).await;
    let members: Vec<&str> = now["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members.len(), 2);
    assert!(!members.contains(&a.as_str()));

    // Remove with the flag: a filtered path.
    let now = patch_ok(&app, &path, json!([{"op": "remove", "path": format!("members[value eq \"{b}\"]")}])).await;
    let members: Vec<&str> = now["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap()).collect();
    assert_eq!(members, [c.as_str()]);

    // Rename.
    let now =
        patch_ok(&app, &path, json!([{"op": "Replace", "path": "displayName", "value": "Entra Sales EMEA"}])).await;
    assert_eq!(now["displayName"], "Entra Sales EMEA");
    assert_eq!(app.delete(&path).await.status(), 204);
    app.shutdown().await;
}
