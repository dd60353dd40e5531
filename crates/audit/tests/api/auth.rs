use crate::helpers::{TOKEN, record_n, spawn_app};

#[tokio::test]
async fn every_audit_route_refuses_a_request_without_a_valid_token() {
    let app = spawn_app().await;
    record_n(&app, 1).await;
    for path in ["/audit/v1/records", "/audit/v1/records/1", "/audit/v1/export", "/audit/v1/verify"] {
        let url = format!("{}{path}", app.base);
        let missing = app.client.get(&url).send().await.unwrap();
        assert_eq!(missing.status(), 401, "{path} without a token");
        assert_eq!(missing.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = missing.json().await.unwrap();
        assert_eq!(body["error"], "unauthenticated");
        assert!(body["detail"].as_str().unwrap().contains("token"));

        let wrong = app.client.get(&url).bearer_auth(format!("{TOKEN}x")).send().await.unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        let basic = app.client.get(&url).basic_auth("admin", Some(TOKEN)).send().await.unwrap();
        assert_eq!(basic.status(), 401, "{path} with Basic credentials");
    }
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_need_no_token() {
    let app = spawn_app().await;
    record_n(&app, 1).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let metrics = app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("scim_audit_records_total"), "{metrics}");
    let readiness: serde_json::Value =
        app.client.get(format!("{}/readyz", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(readiness["checks"]["store"]["ok"], true);
    assert_eq!(readiness["checks"]["consumer"]["ok"], true);
    app.stop().await;
}

#[tokio::test]
async fn no_configured_token_means_no_access() {
    let app = crate::helpers::spawn_app_with(crate::helpers::memory_bus(), |s| s.admin_token_sha256.clear()).await;
    assert_eq!(app.get("/audit/v1/records").await.status(), 401);
    app.stop().await;
}
