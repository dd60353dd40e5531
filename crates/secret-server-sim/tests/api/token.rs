//! `POST <base>/oauth2/token`, bearer tokens, expiry and refresh.

use crate::helpers::{TestSim, install_crypto, password_grant};
use reqwest::StatusCode;
use secret_server_sim::{SimConfig, spawn};
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn password_grant_returns_a_bearer_token_with_lifetime_and_refresh_token() {
    install_crypto();
    let sim = spawn(SimConfig::for_tests()).await.unwrap();
    let response = password_grant(&reqwest::Client::new(), &sim).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 1200);
    assert!(body["access_token"].as_str().unwrap().len() >= 40);
    assert!(body["refresh_token"].is_string());
    sim.shutdown().await;
}

#[tokio::test]
async fn the_token_then_users_flow_works_like_secret_server() {
    let t = TestSim::spawn().await;
    let body = t.ok("/users").await;
    assert_eq!(body["success"], true);
    assert_eq!(body["take"], 10, "take defaults to 10");
    assert!(body["records"].as_array().unwrap().iter().all(|u| u["enabled"] == true));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_a_400_with_a_message() {
    install_crypto();
    let sim = spawn(SimConfig::for_tests()).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/oauth2/token", sim.base_url());
    for form in [
        vec![("grant_type", "password"), ("username", sim.api_username()), ("password", "wrong")],
        vec![("grant_type", "password"), ("username", "nobody"), ("password", "Sim-Test-Passw0rd!")],
        vec![("grant_type", "password"), ("username", sim.api_username())],
        vec![("grant_type", "client_credentials")],
        vec![],
    ] {
        let response = http.post(&url).form(&form).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{form:?}");
        let body: Value = response.json().await.unwrap();
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn the_domain_field_is_accepted_on_the_password_grant() {
    install_crypto();
    let sim = spawn(SimConfig::for_tests()).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/oauth2/token", sim.base_url()))
        .form(&[
            ("grant_type", "password"),
            ("username", sim.api_username()),
            ("password", secret_server_sim::TEST_API_PASSWORD),
            ("domain", "local"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_without_a_valid_token_are_403_authentication_failed() {
    let t = TestSim::spawn().await;
    let no_token = t.http.get(t.url("/users")).send().await.unwrap();
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    let body: Value = no_token.json().await.unwrap();
    assert_eq!(body["message"], "Authentication failed.");
    let bad = t.http.get(t.url("/users")).bearer_auth("not-a-token").send().await.unwrap();
    assert_eq!(bad.status(), StatusCode::FORBIDDEN);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_healthcheck_needs_no_token() {
    let t = TestSim::spawn().await;
    let response = t.http.get(t.url("/healthcheck")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["healthy"], true);
    assert_eq!(body["databaseHealthy"], true);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_a_403_that_says_it_expired() {
    let t = TestSim::spawn().await;
    t.sim.faults().expire_tokens(false);
    let (status, body) = t.get("/users").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["message"].as_str().unwrap().contains("expired"), "{body}");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_token_expires_after_its_lifetime() {
    let t = TestSim::spawn_with(SimConfig { token_lifetime: Duration::from_secs(1), ..SimConfig::for_tests() }).await;
    assert_eq!(t.get("/users").await.0, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while t.get("/users").await.0 != StatusCode::FORBIDDEN {
        assert!(tokio::time::Instant::now() < deadline, "the token never expired");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn oauth_expiration_expires_only_the_callers_token() {
    let t = TestSim::spawn().await;
    let other: Value = password_grant(&t.http, &t.sim).await.json().await.unwrap();
    let (status, _) = t.post("/oauth-expiration", Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.get("/users").await.0, StatusCode::FORBIDDEN);
    let with_other =
        t.http.get(t.url("/users")).bearer_auth(other["access_token"].as_str().unwrap()).send().await.unwrap();
    assert_eq!(with_other.status(), StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_refresh_token_gives_a_new_access_token_once() {
    let t = TestSim::spawn().await;
    let first: Value = password_grant(&t.http, &t.sim).await.json().await.unwrap();
    let refresh = first["refresh_token"].as_str().unwrap();
    let url = format!("{}/oauth2/token", t.sim.base_url());
    let form = [("grant_type", "refresh_token"), ("refresh_token", refresh)];
    let second = t.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK);
    let second: Value = second.json().await.unwrap();
    assert_ne!(second["access_token"], first["access_token"]);
    let reused = t.http.post(&url).form(&form).send().await.unwrap();
    assert_eq!(reused.status(), StatusCode::BAD_REQUEST, "a refresh token works once");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn refresh_tokens_can_be_switched_off() {
    install_crypto();
    let sim = spawn(SimConfig { refresh_tokens: false, ..SimConfig::for_tests() }).await.unwrap();
    let body: Value = password_grant(&reqwest::Client::new(), &sim).await.json().await.unwrap();
    assert!(body.get("refresh_token").is_none(), "{body}");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_api_account_cannot_disable_itself() {
    let t = TestSim::spawn().await;
    // The account cannot disable itself...
    let me = t.ok("/users/current").await;
    let id = me["id"].as_i64().unwrap();
    let (status, body) =
        t.patch(&format!("/users/{id}"), serde_json::json!({"enabled": {"dirty": true, "value": false}})).await;
    crate::helpers::assert_error(status, &body, "API_CannotDisableSelf");
    t.sim.shutdown().await;
}
