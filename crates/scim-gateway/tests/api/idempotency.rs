//! An `Idempotency-Key` belongs to its request (connection, method, path, body): the same request
//! with the key replays the first answer, another request with it is `422` and changes nothing,
//! and the same request while the first still runs is `409`.

use crate::helpers::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};
use std::time::Duration;

async fn with_key(app: &TestApp, method: Method, path: &str, key: &str, body: Option<&Value>) -> Response {
    let mut request = app.scim(method, path).header("idempotency-key", key);
    if let Some(body) = body {
        request = request.header("content-type", SCIM).body(body.to_string());
    }
    request.send().await.unwrap()
}

fn rename(name: &str) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": name}]})
}

#[tokio::test]
async fn a_key_used_for_one_request_is_422_for_another_and_that_request_changes_nothing() {
    let app = spawn_app().await;
    let twelve = app.create_user("idem.twelve").await;
    let thirteen = app.create_user("idem.thirteen").await;
    let (a, b) = (twelve["id"].as_str().unwrap(), thirteen["id"].as_str().unwrap());

    let res = with_key(&app, Method::PATCH, &format!("/Users/{a}"), "K", Some(&rename("Renamed"))).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());

    let res = with_key(&app, Method::DELETE, &format!("/Users/{b}"), "K", None).await;
    let body = scim_error(res, 422).await;
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("PATCH /Users/{a}")) && detail.contains(&format!("DELETE /Users/{b}")),
        "{detail}"
    );
    let still: Value = app.get(&format!("/Users/{b}")).await.json().await.unwrap();
    assert_eq!(still["active"], true, "the DELETE with a used key deactivated the user");

    // The same path and method with another body is another request too.
    let res = with_key(&app, Method::PATCH, &format!("/Users/{a}"), "K", Some(&rename("Other"))).await;
    let body = scim_error(res, 422).await;
    assert!(body["detail"].as_str().unwrap().contains("different body"), "{body}");
    let now: Value = app.get(&format!("/Users/{a}")).await.json().await.unwrap();
    assert_eq!(now["displayName"], "Renamed");
    app.shutdown().await;
}

#[tokio::test]
async fn the_same_request_with_the_same_key_replays_the_first_answer() {
    let app = spawn_app().await;
    let body = user_body("idem.replay");
    let first = with_key(&app, Method::POST, "/Users", "create-1", Some(&body)).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();

    let again = with_key(&app, Method::POST, "/Users", "create-1", Some(&body)).await;
    assert_eq!(again.status(), 201, "a replay, not a second create (which would be 409)");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["meta"]["version"], first["meta"]["version"]);

    // A failure is replayed too: the first answer, whatever happened since.
    let taken = with_key(&app, Method::POST, "/Users", "create-2", Some(&body)).await;
    scim_error(taken, 409).await;
    let res = app.delete(&format!("/Users/{}", first["id"].as_str().unwrap())).await;
    assert_eq!(res.status(), 204);
    let replayed = with_key(&app, Method::POST, "/Users", "create-2", Some(&body)).await;
    let body = scim_error(replayed, 409).await;
    assert_eq!(body["scimType"], "uniqueness");
    app.shutdown().await;
}

#[tokio::test]
async fn the_same_key_while_the_first_request_runs_is_409_then_its_answer_is_replayed() {
    let app = spawn_app().await;
    let user = app.create_user("idem.running").await;
    let path = format!("/Users/{}", user["id"].as_str().unwrap());
    // Secret Server answers slowly: the first request's job stays running for a while.
    app.sim.faults().update(|f| f.latency_ms = 3000).unwrap();
    let first = tokio::spawn({
        let request = app
            .scim(Method::PATCH, &path)
            .header("idempotency-key", "slow")
            .header("content-type", SCIM)
            .body(rename("Slowly").to_string());
        async move { request.send().await.unwrap() }
    });
    let queue = app.deps.queue.clone();
    eventually("the first request's job is submitted", Duration::from_secs(10), || {
        let queue = queue.clone();
        async move { queue.find("test/slow").await.unwrap().filter(|job| !job.status.is_final()) }
    })
    .await;

    let res = with_key(&app, Method::PATCH, &path, "slow", Some(&rename("Slowly"))).await;
    let body = scim_error(res, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("still being applied"), "{body}");

    app.sim.faults().clear();
    let first = first.await.unwrap();
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let replayed = with_key(&app, Method::PATCH, &path, "slow", Some(&rename("Slowly"))).await;
    assert_eq!(replayed.status(), 200);
    let replayed: Value = replayed.json().await.unwrap();
    assert_eq!(replayed["meta"]["version"], first["meta"]["version"]);
    app.shutdown().await;
}

fn bulk_of_creates(names: &[&str]) -> Value {
    let operations: Vec<Value> = names
        .iter()
        .map(|name| json!({"method": "POST", "path": "/Users", "bulkId": name, "data": user_body(name)}))
        .collect();
    json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": operations})
}

async fn bulk(app: &TestApp, body: &Value, key: Option<&str>) -> Value {
    let mut request = app.scim(Method::POST, "/Bulk").header("content-type", SCIM).body(body.to_string());
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let res = request.send().await.unwrap();
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

fn statuses(response: &Value) -> Vec<String> {
    response["Operations"].as_array().unwrap().iter().map(|op| op["status"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_bulk_without_a_key_is_always_new() {
    let app = spawn_app().await;
    let request = bulk_of_creates(&["idem.bulk.a"]);
    assert_eq!(statuses(&bulk(&app, &request, None).await), ["201"]);
    // No key is made up from the body: the same Bulk again is a second create, refused as one.
    assert_eq!(statuses(&bulk(&app, &request, None).await), ["409"]);
    app.shutdown().await;
}

#[tokio::test]
async fn a_bulk_key_replays_its_request_and_refuses_another_before_running_anything() {
    let app = spawn_app().await;
    let request = bulk_of_creates(&["idem.bulk.b", "idem.bulk.c"]);
    let first = bulk(&app, &request, Some("bulk-1")).await;
    assert_eq!(statuses(&first), ["201", "201"]);
    let again = bulk(&app, &request, Some("bulk-1")).await;
    assert_eq!(statuses(&again), ["201", "201"], "the first answers, replayed");
    assert_eq!(again["Operations"][0]["location"], first["Operations"][0]["location"]);

    let other = bulk_of_creates(&["idem.bulk.new", "idem.bulk.b"]);
    let res = app
        .scim(Method::POST, "/Bulk")
        .header("content-type", SCIM)
        .header("idempotency-key", "bulk-1")
        .body(other.to_string())
        .send()
        .await
        .unwrap();
    let body = scim_error(res, 422).await;
    assert!(body["detail"].as_str().unwrap().contains("POST /Bulk"), "{body}");
    let filter = "userName eq \"idem.bulk.new\"";
    let res = app.scim(Method::GET, "/Users").query(&[("filter", filter)]).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["totalResults"], 0, "the refused Bulk ran an operation");
    app.shutdown().await;
}
