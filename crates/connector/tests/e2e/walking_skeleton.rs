//! The walking skeleton of issue 2: one user through every hop, on the in-process queue and on Redis.

use crate::helpers::{Scim, audit_records, eventually, secret_server_get};
use connector::testing::{StackOptions, spawn_stack_with};
use serde_json::{Value, json};

async fn a_created_user_travels_every_hop(redis: bool) {
    let stack = spawn_stack_with(StackOptions { redis, ..StackOptions::default() }).await;
    let scim = Scim::new(&stack);

    let created = scim
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "bjensen",
                "name": {"givenName": "Barbara", "familyName": "Jensen"},
                "emails": [{"value": "bjensen@example.com", "type": "work", "primary": true}]
            }),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert!(created.headers()["content-type"].to_str().unwrap().starts_with("application/scim+json"));
    let location = created.headers()["location"].to_str().unwrap().to_owned();
    let etag = created.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with("W/\""), "a weak ETag: {etag}");
    let user: Value = created.json().await.unwrap();
    let id = user["id"].as_str().expect("an id").to_owned();
    assert!(location.ends_with(&format!("/scim/v2/Users/{id}")), "{location}");
    assert_eq!(user["name"]["familyName"], "Jensen");

    // Read back through gRPC from the adapter's read model.
    let read = scim.get(&format!("/Users/{id}")).send().await.unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(read.headers()["etag"].to_str().unwrap(), etag);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["userName"], "bjensen");
    assert_eq!(read["emails"][0]["value"], "bjensen@example.com");

    // The id is Secret Server's own, and Secret Server holds the user.
    let (status, ss_user) = secret_server_get(&stack, &format!("/users/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(ss_user["userName"], "bjensen");
    assert_eq!(ss_user["emailAddress"], "bjensen@example.com");
    assert_eq!(ss_user["enabled"], true);

    // The audit service recorded the change and the call, with one trace id.
    let change = eventually("the audit record of the create", || async {
        audit_records(&stack, &format!("kind=change&resource_type=User&resource_id={id}")).await.into_iter().next()
    })
    .await;
    assert_eq!(change["operation"], "create");
    assert_eq!(change["connectionId"], "dev");
    assert_eq!(change["outcome"], "succeeded");
    let trace_id = change["traceId"].as_str().unwrap().to_owned();
    let call = eventually("the audit record of the SCIM call", || async {
        audit_records(&stack, "kind=scim_call&method=POST").await.into_iter().next()
    })
    .await;
    assert_eq!(call["status"], 201);
    assert_eq!(call["route"], "/scim/v2/Users");
    assert_eq!(call["traceId"], trace_id.as_str(), "the call and the change share the trace");

    stack.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_created_user_travels_every_hop_on_the_in_process_queue() {
    a_created_user_travels_every_hop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_created_user_travels_every_hop_through_redis() {
    a_created_user_travels_every_hop(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn client_mistakes_get_scim_errors_not_server_errors() {
    let stack = spawn_stack_with(StackOptions::default()).await;
    let scim = Scim::new(&stack);

    let no_token = reqwest::Client::new().get(scim.url("/Users")).send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error");
    assert_eq!(body["status"], "401");

    let wrong_token =
        reqwest::Client::new().get(scim.url("/Users")).bearer_auth("scimc_not-a-token").send().await.unwrap();
    assert_eq!(wrong_token.status(), 401);

    let bad_json = scim
        .http
        .post(scim.url("/Users"))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&stack.token))
        .header("content-type", "application/scim+json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_json.status(), 400);
    let body: Value = bad_json.json().await.unwrap();
    assert_eq!(body["scimType"], "invalidSyntax");

    let unknown = scim.get("/Users/999999").send().await.unwrap();
    assert_eq!(unknown.status(), 404);

    let wrong_type = scim
        .http
        .post(scim.url("/Users"))
        .bearer_auth(secrecy::ExposeSecret::expose_secret(&stack.token))
        .header("content-type", "text/plain")
        .body("userName=x")
        .send()
        .await
        .unwrap();
    assert!(wrong_type.status().is_client_error(), "{}", wrong_type.status());
    assert_eq!(wrong_type.status(), 415);

    stack.shutdown().await;
}
