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
