//! Issue 21: what real clients send, through the gateway, checked in Secret Server's own REST API
//! and in the audit API. Microsoft's provisioning Postman collection adds a group member with a
//! `displayName` the schema does not define; clients send attributes of their own; the README's
//! `bjensen` has a `name` and no `displayName`.

use crate::helpers::{Scim, audit_records, eventually, secret_server_get};
use connector::testing::{StackOptions, TestStack, spawn_stack_with};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

/// Sends `request`, asserts the status it must get, and answers the JSON body.
async fn expect(request: reqwest::RequestBuilder, status: u16, what: &str) -> Value {
    let response = request.send().await.expect("the gateway answers");
    let got = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(got, status, "{what}: {body}");
    body
}

/// Secret Server's record at `path`, which must exist.
async fn ss_record(stack: &TestStack, path: &str) -> Value {
    let (status, body) = secret_server_get(stack, path).await;
    assert_eq!(status, 200, "Secret Server GET {path}: {body}");
    body
}

/// The audit record of the one SCIM call with `method` on `route` (its template) that returned `status`.
async fn call_record(stack: &TestStack, method: &str, route: &str, status: u16) -> Value {
    let what = format!("the audit record of {method} {route} ({status})");
    eventually(&what, || async {
        audit_records(stack, &format!("kind=scim_call&method={method}&status={status}"))
            .await
            .into_iter()
            .find(|r| r["route"] == route)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_postman_member_add_makes_the_membership_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let user = expect(
        scim.post("/Users", &json!({"userName": "postman.user", "displayName": "new User"})),
        201,
        "POST /Users",
    )
    .await;
    let group = expect(scim.post("/Groups", &json!({"displayName": "Postman Group"})), 201, "POST /Groups").await;
    let (user_id, group_id) = (user["id"].as_str().unwrap(), group["id"].as_str().unwrap());

    // Microsoft's provisioning Postman collection, "Add a member to a group".
    let add = json!([{"op": "add", "path": "members", "value": [{"displayName": "new User", "value": user_id}]}]);
    expect(scim.patch(&format!("/Groups/{group_id}"), &add), 200, "the Postman member add").await;

    let members = ss_record(&stack, &format!("/groups/{group_id}/users?take=1000")).await;
    let ids: Vec<String> =
        members["records"].as_array().unwrap().iter().map(|m| m["userId"].as_i64().unwrap().to_string()).collect();
    assert_eq!(ids, vec![user_id.to_owned()], "the member is in Secret Server");
    let record = call_record(&stack, "PATCH", "/scim/v2/Groups/{id}", 200).await;
    assert_eq!(record["event"]["scimCall"]["ignoredAttributes"], json!(["members.displayName"]));
    stack.shutdown().await;
}

/// A connection made through the admin API that refuses attributes the schema does not define;
/// answers its bearer token.
async fn rejecting_connection(stack: &TestStack) -> SecretString {
    let dev: connections::ConnectionId = "dev".parse().unwrap();
    let instance = stack.connections.get(&dev).await.unwrap().expect("the development connection").secret_server;
    let response = reqwest::Client::new()
        .post(format!("{}/admin/v1/connections", stack.gateway_url()))
        .bearer_auth(stack.admin_token.expose_secret())
        .json(&json!({"id": "strict", "secretServer": instance, "policies": {"unknownAttributes": "reject"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "the admin API creates the connection");
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["connection"]["policies"]["unknownAttributes"], "reject");
    SecretString::from(created["token"]["token"].as_str().expect("an initial token").to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_unknown_attribute_is_ignored_and_audited_by_default_and_refused_where_the_connection_rejects_it() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    let body = |user_name: &str| json!({"userName": user_name, "displayName": "Shoes", "shoeSize": "EU forty-four"});

    let created = expect(scim.post("/Users", &body("shoe.size")), 201, "POST /Users with shoeSize").await;
    assert!(created.get("shoeSize").is_none(), "{created}");
    let found = ss_record(&stack, "/users?filter.searchText=shoe.size").await;
    assert_eq!(found["records"].as_array().map(Vec::len), Some(1), "Secret Server has the user: {found}");
    let record = call_record(&stack, "POST", "/scim/v2/Users", 201).await;
    assert_eq!(record["connectionId"], "dev");
    assert_eq!(record["event"]["scimCall"]["ignoredAttributes"], json!(["shoeSize"]));
    assert!(!record.to_string().contains("forty-four"), "names only, never values: {record}");

    let strict = Scim::with_token(&stack, rejecting_connection(&stack).await);
    let refused =
        expect(strict.post("/Users", &body("refused.shoes")), 400, "POST /Users on a rejecting connection").await;
    assert_eq!(refused["scimType"], "invalidSyntax");
    let found = ss_record(&stack, "/users?filter.searchText=refused.shoes").await;
    assert_eq!(found["records"], json!([]), "nothing is created: {found}");
    let record = call_record(&stack, "POST", "/scim/v2/Users", 400).await;
    assert_eq!(
        (&record["connectionId"], &record["event"]["scimCall"]["ignoredAttributes"]),
        (&json!("strict"), &json!([]))
    );
    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_readme_bjensen_is_barbara_jensen_in_secret_server() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);
    // The README's quick start, as it is written.
    let readme = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
    });
    let created = expect(scim.post("/Users", &readme), 201, "the README's POST /Users").await;
    let id = created["id"].as_str().unwrap();
    assert_eq!(created.get("displayName"), None, "no invented displayName: {created}");

    let ss = ss_record(&stack, &format!("/users/{id}")).await;
    assert_eq!(ss["displayName"], "Barbara Jensen");
    let read = expect(scim.get(&format!("/Users/{id}")), 200, "GET /Users/{id}").await;
    assert_eq!((read.get("displayName"), &read["name"]["givenName"]), (None, &json!("Barbara")));
    stack.shutdown().await;
}
