//! Users and groups of a directory domain (Active Directory): they show their domain and the
//! directory's identifier in the PAM LinkedObject extension (`source`, `nativeIdentifier`), and
//! can be found by them; their name, password and existence (a user's) and their members (a
//! synchronized group's) are the directory's, so changing them is `400` with the reason, before
//! any call that would change Secret Server.

use crate::helpers::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// A connection that may set any user's password, so that only the directory rule refuses.
async fn connection(app: &TestApp) -> String {
    let body = json!({"id": "hr", "secretServer": "primary", "policies": {"passwordChange": "any"}});
    let res = app.admin(Method::POST, "/connections").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    created["token"]["token"].as_str().unwrap().to_owned()
}

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = app.http.request(method, format!("{}/scim/v2{path}", app.base)).bearer_auth(token);
    if let Some(body) = body {
        req = req.header("content-type", SCIM).body(body.to_string());
    }
    req.send().await.unwrap()
}

fn replace(path: &str, value: Value) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]})
}

#[tokio::test]
async fn a_directory_user_cannot_be_renamed_re_passworded_or_deleted_and_nothing_is_sent() {
    let app = spawn_app().await;
    let token = connection(&app).await;
    let ivan = app.find_one("/Users", "userName eq \"ivan.jones\"").await;
    let path = format!("/Users/{}", ivan["id"].as_str().unwrap());
    app.sim.clear_request_log();

    let password = call(&app, &token, Method::PATCH, &path, Some(replace("password", json!("N3w-Passw0rd!")))).await;
    let error = scim_error(password, 400).await;
    assert!(error["detail"].as_str().unwrap().contains("managed by its directory"), "{error}");
    let rename = call(&app, &token, Method::PATCH, &path, Some(replace("userName", json!("ivan.renamed")))).await;
    assert_eq!(scim_error(rename, 400).await["scimType"], "mutability");
    scim_error(call(&app, &token, Method::DELETE, &path, None).await, 400).await;

    let writes: Vec<_> =
        app.sim.request_log().into_iter().filter(|(m, p)| m != "GET" && !p.contains("/oauth2/")).collect();
    assert_eq!(writes, Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    // Its other fields are the connector's to change as for any user.
    let res = call(&app, &token, Method::PATCH, &path, Some(replace("displayName", json!("Ivan J.")))).await;
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

const SOURCE: &str = "urn:ietf:params:scim:schemas:pam:1.0:LinkedObject:source";
const NATIVE_ID: &str = "urn:ietf:params:scim:schemas:pam:1.0:LinkedObject:nativeIdentifier";
const IVAN_GUID: &str = "8d1f5c2a-3b7e-4f90-a6c4-2e9b0d7f1a35";
const DOMAIN_ADMINS_GUID: &str = "c4e7a912-5d3b-4e8f-b160-7a2d9f4c0e86";

#[tokio::test]
async fn directory_users_and_groups_show_their_domain_and_directory_identifier_and_are_found_by_them() {
    let app = spawn_app().await;
    let ivan = app.find_one("/Users", &format!("{SOURCE} eq \"corp.example.com\"")).await;
    assert_eq!(ivan["userName"], "ivan.jones");
    let link = &ivan[scim::urn::LINKED_OBJECT];
    assert_eq!(link["source"], "corp.example.com", "{ivan}");
    assert_eq!(link["nativeIdentifier"], IVAN_GUID);
    assert!(ivan["schemas"].as_array().unwrap().iter().any(|s| s == scim::urn::LINKED_OBJECT), "{ivan}");
    let by_guid = app.find_one("/Users", &format!("{NATIVE_ID} eq \"{IVAN_GUID}\"")).await;
    assert_eq!(by_guid["id"], ivan["id"]);

    let admins = app.find_one("/Groups", &format!("{SOURCE} eq \"corp.example.com\"")).await;
    assert_eq!(admins["displayName"], "Domain Admins");
    assert_eq!(admins[scim::urn::LINKED_OBJECT]["nativeIdentifier"], DOMAIN_ADMINS_GUID);
    let by_guid = app.find_one("/Groups", &format!("{NATIVE_ID} eq \"{DOMAIN_ADMINS_GUID}\"")).await;
    assert_eq!(by_guid["id"], admins["id"]);

    let alice = app.find_one("/Users", "userName eq \"alice.martin\"").await;
    assert!(alice.get(scim::urn::LINKED_OBJECT).is_none(), "a local user has no directory: {alice}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_synchronized_group_s_members_cannot_be_edited_and_nothing_is_sent() {
    let app = spawn_app().await;
    let admins = app.find_one("/Groups", "displayName eq \"Domain Admins\"").await;
    let path = format!("/Groups/{}", admins["id"].as_str().unwrap());
    let alice = app.find_one("/Users", "userName eq \"alice.martin\"").await;
    let ivan = app.find_one("/Users", "userName eq \"ivan.jones\"").await;
    app.sim.clear_request_log();

    let add = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": alice["id"]}]}]});
    let error = scim_error(app.patch(&path, &add).await, 400).await;
    assert_eq!(error["scimType"], "mutability");
    let detail = error["detail"].as_str().unwrap();
    assert!(detail.contains("API_CannotAddRemoveUsersFromDirectoryManagedGroups"), "{error}");
    let remove = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "remove", "path": format!("members[value eq \"{}\"]", ivan["id"].as_str().unwrap())}]});
    scim_error(app.patch(&path, &remove).await, 400).await;
    let replace = json!({"schemas": [scim::urn::GROUP], "displayName": "Domain Admins", "members": []});
    scim_error(app.put(&path, &replace).await, 400).await;

    let writes: Vec<_> =
        app.sim.request_log().into_iter().filter(|(m, p)| m != "GET" && !p.contains("/oauth2/")).collect();
    assert_eq!(writes, Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    let members: Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(members["members"][0]["value"], ivan["id"], "the directory's member stays");
    app.shutdown().await;
}

/// A new user naming directory domain `source` in its LinkedObject extension, without a password.
fn directory_user(user_name: &str, source: &str, native_id: &str) -> Value {
    json!({
        "schemas": [scim::urn::USER, scim::urn::LINKED_OBJECT],
        "userName": user_name,
        "displayName": "Judy King",
        scim::urn::LINKED_OBJECT: {"source": source, "nativeIdentifier": native_id},
    })
}

#[tokio::test]
async fn a_user_created_naming_a_domain_is_that_domain_s_user_without_a_password() {
    let app = spawn_app().await;
    let guid = "0b6e3d7a-92c1-4f5e-8d4a-61f0c2b9e7d3";
    let res = app.post("/Users", &directory_user("judy.king", "corp.example.com", guid)).await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    assert_eq!(created[scim::urn::LINKED_OBJECT]["source"], "corp.example.com", "{created}");
    assert_eq!(created[scim::urn::LINKED_OBJECT]["nativeIdentifier"], guid);

    let ss = secret_server_client(&app);
    let user = ss.get_user(created["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
    assert_eq!(user.domain_id, 1, "Secret Server holds it in the domain");
    assert_eq!(user.ad_guid.as_deref(), Some(guid));
    assert!(user.password_last_changed.is_none(), "no password was sent");

    // A password for a directory user is refused before anything is sent.
    let mut with_password = directory_user("kim.lee", "corp.example.com", "1c2d");
    with_password["password"] = json!("N3w-Passw0rd!");
    app.sim.clear_request_log();
    assert_eq!(scim_error(app.post("/Users", &with_password).await, 400).await["scimType"], "mutability");
    let writes: Vec<_> =
        app.sim.request_log().into_iter().filter(|(m, p)| m != "GET" && !p.contains("/oauth2/")).collect();
    assert_eq!(writes, Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");

    // A source that names no domain is the client's own correlation key: a local user, as before.
    let res = app
        .post("/Users", &{
            let mut body = user_body("leo.moss");
            body["schemas"] = json!([scim::urn::USER, scim::urn::LINKED_OBJECT]);
            body[scim::urn::LINKED_OBJECT] = json!({"source": "IdentityIQ", "nativeIdentifier": "leo"});
            body
        })
        .await;
    assert_eq!(res.status(), 201);
    let local: Value = res.json().await.unwrap();
    assert_eq!(local[scim::urn::LINKED_OBJECT]["source"], "IdentityIQ");
    let user = ss.get_user(local["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
    assert_eq!(user.domain_id, -1);
    app.shutdown().await;
}

fn secret_server_client(app: &TestApp) -> secret_server_client::SecretServerClient {
    let mut config = secret_server_client::ClientConfig::new(
        url::Url::parse(&app.sim.base_url()).unwrap(),
        app.sim.api_username(),
        app.sim.api_password().clone(),
    )
    .allowing_http();
    config.retry = secret_server_client::RetryPolicy::none();
    secret_server_client::SecretServerClient::new(config).unwrap()
}
