//! Per-connection rate limits.

use crate::helpers::*;

#[tokio::test]
async fn a_connection_over_its_rate_gets_429_with_retry_after() {
    let mut options = Options::default();
    options.connection["rateLimit"] = serde_json::json!({"requestsPerSecond": 0.2, "burst": 2});
    let app = spawn_app_with(options).await;
    assert_eq!(app.get("/ServiceProviderConfig").await.status(), 200);
    assert_eq!(app.get("/ServiceProviderConfig").await.status(), 200);
    let res = app.get("/ServiceProviderConfig").await;
    let retry: u32 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
    assert_eq!(res.headers()["x-rate-limit-limit"], "2");
    assert_eq!(res.headers()["x-rate-limit-remaining"], "0");
    assert_eq!(res.headers()["x-rate-limit-retry-after-seconds"], retry.to_string().as_str());
    scim_error(res, 429).await;
    app.shutdown().await;
}

#[tokio::test]
async fn the_gateway_default_applies_to_connections_without_their_own_limit() {
    let mut options = Options::default();
    options.settings.default_rate_limit = Some(connections::RateLimit { requests_per_second: 0.2, burst: 1 });
    let app = spawn_app_with(options).await;
    assert_eq!(app.get("/ServiceProviderConfig").await.status(), 200);
    scim_error(app.get("/ServiceProviderConfig").await, 429).await;
    app.shutdown().await;
}

#[tokio::test]
async fn connections_are_limited_by_default_and_one_may_set_none() {
    let defaults = scim_gateway::GatewaySettings::default();
    assert_eq!(
        defaults.default_rate_limit,
        Some(connections::RateLimit { requests_per_second: 50.0, burst: 100 }),
        "a connection without a limit of its own is not unlimited"
    );

    let mut options = Options::default();
    options.settings.default_rate_limit = Some(connections::RateLimit { requests_per_second: 0.01, burst: 1 });
    options.connection["rateLimit"] = serde_json::json!("none");
    let app = spawn_app_with(options).await;
    for _ in 0..5 {
        assert_eq!(app.get("/ServiceProviderConfig").await.status(), 200, "\"none\" is no limit, not the default");
    }
    app.shutdown().await;
}

fn bulk_of_creates(prefix: &str, count: usize) -> serde_json::Value {
    let operations: Vec<serde_json::Value> = (0..count)
        .map(|n| {
            let name = format!("{prefix}.{n}");
            serde_json::json!({"method": "POST", "path": "/Users", "bulkId": name, "data": user_body(&name)})
        })
        .collect();
    serde_json::json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": operations})
}

async fn statuses_of_bulk(app: &TestApp, body: &serde_json::Value) -> Vec<String> {
    let res = app.post("/Bulk", body).await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["Operations"].as_array().unwrap().iter().map(|op| op["status"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_bulk_takes_one_rate_limit_token_per_operation() {
    let mut options = Options::default();
    // Three tokens, and the next one in about 17 minutes: far past the Bulk's deadline.
    options.connection["rateLimit"] = serde_json::json!({"requestsPerSecond": 0.001, "burst": 3});
    let app = spawn_app_with(options).await;

    let statuses = statuses_of_bulk(&app, &bulk_of_creates("bulk.token", 5)).await;
    assert_eq!(statuses, ["201", "201", "201", "429", "429"], "the request's token and one per further operation");
    let res = app.scim(reqwest::Method::GET, "/Users").query(&[("filter", "userName sw \"bulk.token\"")]).send();
    let body = res.await.unwrap();
    scim_error(body, 429).await;
    app.shutdown().await;
}

#[tokio::test]
async fn bulk_operations_not_started_by_the_deadline_fail_with_503_in_their_own_result() {
    let mut options = Options::default();
    options.settings.bulk_deadline = std::time::Duration::from_millis(300);
    let app = spawn_app_with(options).await;
    // Every Secret Server call takes far longer than the Bulk may: the first operation outlives it.
    app.sim.faults().update(|f| f.latency_ms = 2000).unwrap();

    let statuses = statuses_of_bulk(&app, &bulk_of_creates("bulk.deadline", 3)).await;
    assert_eq!(statuses, ["504", "503", "503"]);
    app.sim.faults().clear();
    app.shutdown().await;
}
