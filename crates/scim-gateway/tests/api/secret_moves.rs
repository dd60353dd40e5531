//! Secrets moved in and out of containers: a PATCH adding a Container's `privilegedData` value
//! moves that secret into the folder in Secret Server; removing it moves the secret to the
//! connection's removed-secrets folder; a request that cannot be done entirely moves nothing.

use crate::helpers::*;
use bytes::Bytes;
use job_queue::EventId;
use prost::Message;
use proto::audit::v1 as pb;
use reqwest::{Method, Response};
use secret_server_client::{ClientConfig, RetryPolicy, SecretServerClient};
use secret_server_sim::store::secrets::FIELD_VALUE_MARK;
use serde_json::{Value, json};
use std::time::Duration;

/// A client of the emulator, to read Secret Server's own secret summaries.
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

/// The folder Secret Server says secret `id` is in.
async fn folder_of(ss: &SecretServerClient, id: &str) -> i64 {
    ss.secret_summary(id.parse().unwrap()).await.unwrap().folder_id
}

/// The moves the emulator was asked for.
fn moves(app: &TestApp) -> Vec<String> {
    app.sim
        .request_log()
        .into_iter()
        .filter(|(method, path)| method == "PATCH" && path.ends_with("/general"))
        .map(|(_, path)| path)
        .collect()
}

async fn create_container(app: &TestApp, token: &str, name: &str, parent: Option<&str>) -> String {
    let mut body = json!({"schemas": [scim::urn::CONTAINER], "name": name});
    if let Some(parent) = parent {
        body["parent"] = json!({"value": parent});
    }
    let res = send(app, token, Method::POST, "/Containers", &body).await;
    assert_eq!(res.status(), 201, "creating container {name}");
    res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
}

async fn send(app: &TestApp, token: &str, method: Method, path: &str, body: &Value) -> Response {
    app.http
        .request(method, format!("{}/scim/v2{path}", app.base))
        .bearer_auth(token)
        .header("content-type", SCIM)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

async fn patch(app: &TestApp, token: &str, container: &str, ops: Value) -> Response {
    let body = json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops});
    send(app, token, Method::PATCH, &format!("/Containers/{container}"), &body).await
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let res = app.http.get(format!("{}/scim/v2{path}", app.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200, "GET {path}");
    res.json().await.unwrap()
}

/// A connection with `scope` (JSON); returns its bearer token.
async fn connection(app: &TestApp, id: &str, scope: Value) -> String {
    let body = json!({"id": id, "secretServer": "primary", "scope": scope});
    let res = app.admin(Method::POST, "/connections").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201, "creating connection {id}");
    let created: Value = res.json().await.unwrap();
    created["token"]["token"].as_str().unwrap().to_owned()
}

/// The Container named `name`.
async fn container_named(app: &TestApp, token: &str, name: &str) -> String {
    let list = get(app, token, &format!("/Containers?filter=name%20eq%20%22{name}%22")).await;
    list["Resources"][0]["id"].as_str().unwrap_or_else(|| panic!("no container {name}: {list}")).to_owned()
}

/// Secrets (ids) in container `id` as the gateway shows it.
async fn listed(app: &TestApp, token: &str, id: &str) -> Vec<String> {
    let doc = get(app, token, &format!("/Containers/{id}")).await;
    doc["privilegedData"]
        .as_array()
        .map(|items| items.iter().map(|p| p["value"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// Every audit record on the events stream so far (encoded, as the audit service reads them), once
/// `done` holds of them: the gateway's `ScimCall`s and the adapter's `ResourceChange`s.
async fn audit_records_once(app: &TestApp, what: &str, done: impl Fn(&[pb::AuditEvent]) -> bool) -> Vec<Bytes> {
    let done = &done;
    eventually(what, Duration::from_secs(10), || async move {
        let deliveries = app.events.read_after(&EventId("0-0".to_owned()), 100_000).await.ok()?;
        let events: Vec<pb::AuditEvent> =
            deliveries.iter().filter_map(|d| pb::AuditEvent::decode(d.payload.as_ref()).ok()).collect();
        done(&events).then(|| deliveries.into_iter().map(|d| d.payload).collect())
    })
    .await
}

/// Whether `events` hold the `ResourceChange` of a PATCH of Container `id` (the move's job).
fn container_patched(events: &[pb::AuditEvent], id: &str) -> bool {
    events.iter().any(
        |e| matches!(&e.kind, Some(pb::audit_event::Kind::Change(c)) if c.resource_id == id && c.operation == "patch"),
    )
}

/// Whether `text` holds a value the emulator made up for a secret's field.
fn holds_a_field_value(text: &[u8]) -> bool {
    text.windows(FIELD_VALUE_MARK.len()).any(|w| w == FIELD_VALUE_MARK.as_bytes())
}

/// Some secret of the demo organisation, visible to `token`, with the container it is in.
async fn some_secret(app: &TestApp, token: &str, within: Option<&str>) -> (String, String) {
    let list = get(app, token, "/PrivilegedData?count=200").await;
    let found = list["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| within.is_none_or(|c| p["container"]["value"] == c))
        .unwrap_or_else(|| panic!("the demo organisation has a secret there: {list}"));
    (found["id"].as_str().unwrap().to_owned(), found["container"]["value"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_secret_added_to_a_containers_privileged_data_moves_into_that_folder_in_secret_server() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let token = app.token.clone();
    let (secret, was_in) = some_secret(&app, &token, None).await;
    let target = create_container(&app, &token, "Moved Here", None).await;

    let res =
        patch(&app, &token, &target, json!([{"op": "add", "path": "privilegedData", "value": [{"value": secret}]}]))
            .await;
    assert_eq!(res.status(), 200);
    let answer = res.bytes().await.unwrap();
    let answer_doc: Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer_doc["privilegedData"][0]["value"], secret.as_str(), "{answer_doc}");

    assert_eq!(folder_of(&ss, &secret).await.to_string(), target, "Secret Server's summary names the new folder");
    let data = get(&app, &token, &format!("/PrivilegedData/{secret}")).await;
    assert_eq!(data["container"]["value"], target.as_str(), "the PrivilegedData shows its new container");
    assert_eq!(data["container"]["display"], "Moved Here");
    assert!(!listed(&app, &token, &was_in).await.contains(&secret), "it left the container it was in");
    assert!(moves(&app).iter().all(|p| p.ends_with(&format!("/secrets/{secret}/general"))), "{:?}", moves(&app));

    // Secret Server answered the move with the secret's field values (made up by the emulator):
    // none of them reaches a SCIM answer or an audit record.
    let container = get(&app, &token, &format!("/Containers/{target}")).await;
    for (what, text) in [
        ("the PATCH's answer", answer.to_vec()),
        ("the PrivilegedData", data.to_string().into_bytes()),
        ("the Container", container.to_string().into_bytes()),
    ] {
        assert!(!holds_a_field_value(&text), "a secret's field value in {what}: {}", String::from_utf8_lossy(&text));
    }
    let records =
        audit_records_once(&app, "the move's audit record", |events| container_patched(events, &target)).await;
    assert!(records.len() >= 2, "the PATCH's call and its change at least: {}", records.len());
    assert!(!records.iter().any(|r| holds_a_field_value(r)), "a secret's field value in an audit record");
    app.shutdown().await;
}

#[tokio::test]
async fn a_secret_removed_from_a_container_moves_to_the_connections_removed_secrets_folder() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let admin = app.token.clone();
    let removed = create_container(&app, &admin, "Removed Secrets", None).await;
    let scope = json!({
        "resourceTypes": {"Container": {"read": true, "update": true}, "PrivilegedData": {"read": true}},
        "removedSecretsFolder": removed.parse::<i64>().unwrap(),
    });
    let token = connection(&app, "pam", scope).await;
    let (secret, container) = some_secret(&app, &token, None).await;

    let path = format!("privilegedData[value eq \"{secret}\"]");
    let res = patch(&app, &token, &container, json!([{"op": "remove", "path": path}])).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    assert_eq!(
        folder_of(&ss, &secret).await.to_string(),
        removed,
        "Secret Server has it in the removed-secrets folder"
    );
    assert!(!listed(&app, &token, &container).await.contains(&secret));
    assert!(listed(&app, &token, &removed).await.contains(&secret));
    app.shutdown().await;
}

#[tokio::test]
async fn replacing_the_list_moves_secrets_in_and_out_and_without_a_removed_secrets_folder_nothing_moves() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let token = app.token.clone();
    let target = create_container(&app, &token, "Replaced", None).await;
    let (first, first_was_in) = some_secret(&app, &token, None).await;
    patch(&app, &token, &target, json!([{"op": "add", "path": "privilegedData", "value": [{"value": first}]}])).await;
    assert_eq!(folder_of(&ss, &first).await.to_string(), target);
    let second = get(&app, &token, "/PrivilegedData?count=200").await["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .find(|id| *id != first)
        .unwrap();
    let second_was_in = folder_of(&ss, &second).await;
    app.sim.clear_request_log();

    // The default connection has no removed-secrets folder: taking `first` out is refused, and
    // `second` is not moved in either.
    let ops = json!([{"op": "replace", "path": "privilegedData", "value": [{"value": second}]}]);
    let body = scim_error(patch(&app, &token, &target, ops.clone()).await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("removed-secrets folder"), "{body}");
    assert!(moves(&app).is_empty(), "nothing moved: {:?}", moves(&app));
    assert_eq!(folder_of(&ss, &second).await, second_was_in);
    assert_eq!(folder_of(&ss, &first).await.to_string(), target);

    // With one, the same request moves both.
    let update = json!({"scope": {"resourceTypes": {"Container": {"read": true, "update": true},
        "PrivilegedData": {"read": true}}, "removedSecretsFolder": first_was_in.parse::<i64>().unwrap()}});
    let res = app.admin(Method::PATCH, "/connections/test").json(&update).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = patch(&app, &token, &target, ops).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(folder_of(&ss, &second).await.to_string(), target);
    assert_eq!(folder_of(&ss, &first).await.to_string(), first_was_in);
    assert_eq!(listed(&app, &token, &target).await, vec![second]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_secret_or_a_removed_secrets_folder_outside_the_connections_folders_is_refused_and_nothing_moves() {
    let app = spawn_app().await;
    let ss = secret_server(&app);
    let admin = app.token.clone();
    let it = container_named(&app, &admin, "IT").await;
    let databases = container_named(&app, &admin, "Databases").await;
    let production = container_named(&app, &admin, "Production").await;
    let inside = create_container(&app, &admin, "Inside IT", Some(&it)).await;
    let scope = json!({
        "resourceTypes": {"Container": {"read": true, "update": true}, "PrivilegedData": {"read": true}},
        "containerSubtrees": [it.parse::<i64>().unwrap()],
        "removedSecretsFolder": databases.parse::<i64>().unwrap(),
    });
    let token = connection(&app, "it-only", scope).await;
    let (outside, outside_in) = some_secret(&app, &admin, Some(&production)).await;
    app.sim.clear_request_log();

    // A secret in a folder the connection cannot see is not one it can name.
    let ops = json!([{"op": "add", "path": "privilegedData", "value": [{"value": outside}]}]);
    let body = scim_error(patch(&app, &token, &inside, ops).await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("no privileged data"), "{body}");
    assert_eq!(folder_of(&ss, &outside).await.to_string(), outside_in);

    // A removed-secrets folder outside its folders is refused, before anything moves.
    let (mine, mine_in) = some_secret(&app, &token, None).await;
    let path = format!("privilegedData[value eq \"{mine}\"]");
    let body = scim_error(patch(&app, &token, &mine_in, json!([{"op": "remove", "path": path}])).await, 400).await;
    assert!(body["detail"].as_str().unwrap().contains("not a container within its scope"), "{body}");
    assert_eq!(folder_of(&ss, &mine).await.to_string(), mine_in);
    assert!(moves(&app).is_empty(), "nothing moved: {:?}", moves(&app));
    app.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_may_not_read_privileged_data_sees_a_containers_privileged_data_read_only() {
    let app = spawn_app().await;
    let token =
        connection(&app, "folders-only", json!({"resourceTypes": {"Container": {"read": true, "update": true}}})).await;
    let schema = get(&app, &token, &format!("/Schemas/{}", scim::urn::CONTAINER)).await;
    let pd = schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "privilegedData").unwrap();
    assert_eq!(pd["mutability"], "readOnly", "{pd}");
    let schema = get(&app, &app.token, &format!("/Schemas/{}", scim::urn::CONTAINER)).await;
    let pd = schema["attributes"].as_array().unwrap().iter().find(|a| a["name"] == "privilegedData").unwrap();
    assert_eq!(pd["mutability"], "readWrite", "the default scope reads PrivilegedData: {pd}");

    let (secret, _) = some_secret(&app, &app.token, None).await;
    let target = create_container(&app, &app.token, "Not For Them", None).await;
    let ops = json!([{"op": "add", "path": "privilegedData", "value": [{"value": secret}]}]);
    scim_error(patch(&app, &token, &target, ops).await, 403).await;
    app.shutdown().await;
}
