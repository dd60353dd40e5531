//! A User's `roles` are Secret Server's roles, assigned and unassigned there: through its
//! role-membership API, only within the connection's scope, never the administrator role, and an
//! unknown role refused before anything is written.

use crate::helpers::*;
use futures::TryStreamExt;
use reqwest::{Method, Response};
use secret_server_client::{ClientConfig, RetryPolicy, SecretServerClient};
use serde_json::{Value, json};

/// A client of the emulator, to read Secret Server's own role-membership API.
fn secret_server(app: &TestApp) -> SecretServerClient {
    let mut config = ClientConfig::new(
        url::Url::parse(&app.sim.base_url()).unwrap(),
        app.sim.api_username(),
        app.sim.api_password().clone(),
    )
    .allowing_http();
    config.retry = RetryPolicy::none();
    SecretServerClient::new(config).unwrap()
}

/// The roles Secret Server says user `id` holds directly, by name.
async fn direct_roles(ss: &SecretServerClient, id: &str) -> Vec<String> {
    let held: Vec<_> = ss.user_roles_assigned(id.parse().unwrap()).try_collect().await.unwrap();
    held.into_iter().filter(|r| r.is_direct_assignment).map(|r| r.role_name).collect()
}

/// A connection whose scope lets it update users and assign `roles`; returns its bearer token.
async fn connection(app: &TestApp, id: &str, roles: Value) -> String {
    let scope = json!({"resourceTypes": {"User": {"read": true, "create": true, "update": true}}, "roles": roles});
    let body = json!({"id": id, "secretServer": "primary", "scope": scope});
    let res = app.admin(Method::POST, "/connections").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "creating connection {id}");
    let created: Value = res.json().await.unwrap();
    created["token"]["token"].as_str().unwrap().to_owned()
}

async fn patch(app: &TestApp, token: &str, id: &str, ops: Value) -> Response {
    let body = json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops});
    app.http
        .patch(format!("{}/scim/v2/Users/{id}", app.base))
        .bearer_auth(token)
        .header("content-type", SCIM)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

fn writes(app: &TestApp) -> Vec<(String, String)> {
    app.sim.request_log().into_iter().filter(|(method, path)| method != "GET" && !path.contains("/oauth2/")).collect()
}

#[tokio::test]
async fn a_role_added_by_patch_is_assigned_in_secret_server_and_removing_it_unassigns_it_there() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let token = connection(&app, "iga", json!(["User"])).await;
    let id = app.create_user("role.holder").await["id"].as_str().unwrap().to_owned();

    let res = patch(&app, &token, &id, json!([{"op": "add", "path": "roles", "value": [{"value": "User"}]}])).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["roles"], json!([{"value": "User", "display": "User"}]));
    assert_eq!(direct_roles(&ss, &id).await, vec!["User"], "Secret Server holds the assignment");
    let read: Value = app.get(&format!("/Users/{id}")).await.json().await.unwrap();
    assert_eq!(read["roles"][0]["value"], "User", "the read model follows the change");

    let res = patch(&app, &token, &id, json!([{"op": "remove", "path": "roles[value eq \"User\"]"}])).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert!(body.get("roles").is_none(), "{body}");
    assert_eq!(direct_roles(&ss, &id).await, Vec::<String>::new(), "Secret Server no longer holds it");
    app.shutdown().await;
}

#[tokio::test]
async fn an_unknown_role_is_an_invalid_value_and_nothing_is_written() {
    let app = spawn_app().await;
    let token = connection(&app, "iga", json!(["User", "Auditor"])).await;
    let id = app.create_user("role.asker").await["id"].as_str().unwrap().to_owned();
    app.sim.clear_request_log();

    let ops = json!([{"op": "add", "path": "roles", "value": [{"value": "Auditor"}]},
                     {"op": "replace", "path": "displayName", "value": "Renamed"}]);
    let error = scim_error(patch(&app, &token, &id, ops).await, 400).await;
    assert_eq!(error["scimType"], "invalidValue");
    assert!(error["detail"].as_str().unwrap().contains("Auditor"), "{error}");
    assert_eq!(writes(&app), Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    app.shutdown().await;
}

#[tokio::test]
async fn roles_outside_the_connection_s_scope_and_the_administrator_role_are_refused_before_any_write() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let id = app.create_user("role.seeker").await["id"].as_str().unwrap().to_owned();
    let add = |role: &str| json!([{"op": "add", "path": "roles", "value": [{"value": role}]}]);
    app.sim.clear_request_log();

    // The default connection's scope names no role: roles are read-only for it.
    let error = scim_error(patch(&app, &app.token, &id, add("User")).await, 403).await;
    assert!(error["detail"].as_str().unwrap().contains("roles are read-only"), "{error}");
    // Even a scope naming it cannot hand out the role whose holders are protected principals.
    let token = connection(&app, "overreach", json!(["User", "Administrator"])).await;
    let error = scim_error(patch(&app, &token, &id, add("Administrator")).await, 403).await;
    assert!(error["detail"].as_str().unwrap().contains("protected principals"), "{error}");

    assert_eq!(writes(&app), Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    assert_eq!(direct_roles(&ss, &id).await, Vec::<String>::new());
    app.shutdown().await;
}

#[tokio::test]
async fn a_user_created_with_roles_holds_them_in_secret_server_and_entitlements_are_not_kept() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let token = connection(&app, "iga", json!(["User"])).await;
    let mut body = user_body("role.newcomer");
    body["roles"] = json!([{"value": "User"}]);
    body["entitlements"] = json!([{"value": "not-a-secret-server-thing"}]);
    let res = app
        .http
        .post(format!("{}/scim/v2/Users", app.base))
        .bearer_auth(&token)
        .header("content-type", SCIM)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["roles"], json!([{"value": "User", "display": "User"}]));
    assert!(created.get("entitlements").is_none(), "entitlements are never echoed as applied: {created}");
    assert_eq!(direct_roles(&ss, id).await, vec!["User"]);
    app.shutdown().await;
}

/// The mutability `/Schemas` gives a User's `roles` for the connection holding `token`.
async fn roles_mutability(app: &TestApp, token: &str) -> Value {
    let url = format!("{}/scim/v2/Schemas/{}", app.base, scim::urn::USER);
    let schema: Value = app.http.get(url).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    let roles = schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "roles").unwrap().clone();
    roles["mutability"].clone()
}

#[tokio::test]
async fn roles_are_advertised_writable_only_to_a_connection_whose_scope_names_roles() {
    let app = spawn_app().await;
    assert_eq!(roles_mutability(&app, &app.token).await, "readOnly");
    let token = connection(&app, "iga", json!(["User"])).await;
    assert_eq!(roles_mutability(&app, &token).await, "readWrite");
    app.shutdown().await;
}

/// The roles Secret Server says group `id` holds, by name.
async fn group_roles(ss: &SecretServerClient, id: &str) -> Vec<String> {
    let held: Vec<_> = ss.group_roles(id.parse().unwrap()).try_collect().await.unwrap();
    held.into_iter().map(|r| r.name).collect()
}

/// A connection whose scope lets it update groups and assign `roles`; returns its bearer token.
async fn group_connection(app: &TestApp, id: &str, roles: Value) -> String {
    let scope = json!({"resourceTypes": {"Group": {"read": true, "create": true, "update": true}}, "roles": roles});
    let body = json!({"id": id, "secretServer": "primary", "scope": scope});
    let res = app.admin(Method::POST, "/connections").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "creating connection {id}");
    let created: Value = res.json().await.unwrap();
    created["token"]["token"].as_str().unwrap().to_owned()
}

async fn patch_group(app: &TestApp, token: &str, id: &str, ops: Value) -> Response {
    let body = json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops});
    app.http
        .patch(format!("{}/scim/v2/Groups/{id}", app.base))
        .bearer_auth(token)
        .header("content-type", SCIM)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn create_group(app: &TestApp, name: &str) -> String {
    let res = app.post("/Groups", &json!({"schemas": [scim::urn::GROUP], "displayName": name})).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    created["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_role_added_to_a_group_by_patch_is_assigned_in_secret_server_and_removing_it_unassigns_it_there() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let token = group_connection(&app, "iga", json!(["User", "Basic User"])).await;
    let id = create_group(&app, "Role Holders").await;

    let add = json!([{"op": "add", "path": "roles", "value": [{"value": "User"}, {"value": "basic user"}]}]);
    let res = patch_group(&app, &token, &id, add).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["roles"],
        json!([{"value": "Basic User", "display": "Basic User"}, {"value": "User", "display": "User"}])
    );
    let mut held = group_roles(&ss, &id).await;
    held.sort();
    assert_eq!(held, ["Basic User", "User"], "Secret Server's own group-role API holds the assignments");
    let read: Value = app.get(&format!("/Groups/{id}")).await.json().await.unwrap();
    assert_eq!(read["roles"].as_array().unwrap().len(), 2, "the read model follows the change: {read}");
    let found = app.find_one("/Groups", &format!("id eq \"{id}\" and roles.value eq \"User\"")).await;
    assert_eq!(found["id"], id.as_str());

    let res = patch_group(&app, &token, &id, json!([{"op": "remove", "path": "roles[value eq \"User\"]"}])).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["roles"], json!([{"value": "Basic User", "display": "Basic User"}]));
    assert_eq!(group_roles(&ss, &id).await, ["Basic User"], "Secret Server no longer holds the removed one");
    app.shutdown().await;
}

#[tokio::test]
async fn a_group_s_roles_follow_the_user_s_rules_unknown_out_of_scope_and_administrator_refused_before_any_write() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let id = create_group(&app, "Role Seekers").await;
    let add = |role: &str| json!([{"op": "add", "path": "roles", "value": [{"value": role}]}]);
    let token = group_connection(&app, "overreach", json!(["User", "Administrator", "Auditor"])).await;
    app.sim.clear_request_log();

    let error = scim_error(patch_group(&app, &token, &id, add("Auditor")).await, 400).await;
    assert_eq!(error["scimType"], "invalidValue");
    let error = scim_error(patch_group(&app, &token, &id, add("Administrator")).await, 403).await;
    assert!(error["detail"].as_str().unwrap().contains("protected principals"), "{error}");
    // The default connection's scope names no role: a Group's roles are read-only for it.
    let error = scim_error(patch_group(&app, &app.token, &id, add("User")).await, 403).await;
    assert!(error["detail"].as_str().unwrap().contains("roles are read-only"), "{error}");

    assert_eq!(writes(&app), Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    assert_eq!(group_roles(&ss, &id).await, Vec::<String>::new());
    let url = format!("{}/scim/v2/Schemas/{}", app.base, scim::urn::GROUP);
    let schema: Value = app.http.get(url).bearer_auth(&app.token).send().await.unwrap().json().await.unwrap();
    let roles = schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "roles").unwrap().clone();
    assert_eq!(roles["mutability"], "readOnly", "advertised read-only to the connection that cannot assign");
    app.shutdown().await;
}
