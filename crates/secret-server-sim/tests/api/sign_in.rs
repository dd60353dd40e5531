//! The other ways in: a pre-issued API token, and the emulated Delinea Platform's client-credentials
//! token with its vault broker; and the health check in either casing.

use crate::helpers::install_crypto;
use reqwest::StatusCode;
use secrecy::SecretString;
use secret_server_sim::{HealthCheckCasing, PlatformConfig, SimConfig, spawn};
use serde_json::Value;

const API_TOKEN: &str = "pre-issued-api-token-0123456789";
const CLIENT_SECRET: &str = "platform-client-secret";

async fn get(http: &reqwest::Client, url: &str, token: &str) -> (StatusCode, Value) {
    let response = http.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_pre_issued_api_token_signs_the_api_account_in_and_others_do_not() {
    install_crypto();
    let sim =
        spawn(SimConfig { api_token: Some(SecretString::from(API_TOKEN)), ..SimConfig::for_tests() }).await.unwrap();
    let http = reqwest::Client::new();
    let url = format!("{}/api/v1/users/current", sim.base_url());
    let (status, me) = get(&http, &url, API_TOKEN).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["userName"], sim.api_username());
    let (status, _) = get(&http, &url, "pre-issued-api-token-0123456780").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Expiring every token leaves a pre-issued one working: it has no lifetime.
    sim.faults().expire_tokens(true);
    assert_eq!(get(&http, &url, API_TOKEN).await.0, StatusCode::OK);
    sim.shutdown().await;
}

fn platform() -> SimConfig {
    SimConfig {
        platform: Some(PlatformConfig {
            client_id: "scim-connector".to_owned(),
            client_secret: SecretString::from(CLIENT_SECRET),
        }),
        ..SimConfig::for_tests()
    }
}

async fn platform_token(http: &reqwest::Client, root: &str, secret: &str, scope: &str) -> (StatusCode, Value) {
    let response = http
        .post(format!("{root}/platform/identity/api/oauth2/token/xpmplatform"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "scim-connector"),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_platform_issues_a_token_for_client_credentials_and_names_the_vault() {
    install_crypto();
    let sim = spawn(platform()).await.unwrap();
    let http = reqwest::Client::new();
    let root = format!("http://{}", sim.addr());
    let health: Value = http.get(format!("{root}/platform/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["Healthy"], true);

    let (status, body) = platform_token(&http, &root, "wrong", "xpmheadless").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_client")));
    let (status, body) = platform_token(&http, &root, CLIENT_SECRET, "other").await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_scope")));
    let (status, grant) = platform_token(&http, &root, CLIENT_SECRET, "xpmheadless").await;
    assert_eq!(status, StatusCode::OK, "{grant}");
    assert!(grant.get("refresh_token").is_none(), "client credentials get no refresh token");
    let token = grant["access_token"].as_str().unwrap();

    let (status, vaults) = get(&http, &format!("{root}/platform/vaultbroker/api/vaults"), token).await;
    assert_eq!(status, StatusCode::OK, "{vaults}");
    let vault = &vaults["vaults"][0];
    assert_eq!((vault["isDefault"].clone(), vault["isActive"].clone()), (Value::Bool(true), Value::Bool(true)));
    let url = vault["connection"]["url"].as_str().unwrap();
    assert_eq!(url, sim.base_url());
    let (status, me) = get(&http, &format!("{url}/api/v1/users/current"), token).await;
    assert_eq!((status, me["userName"].as_str()), (StatusCode::OK, Some(sim.api_username())));
    sim.shutdown().await;
}

#[tokio::test]
async fn without_a_platform_secret_no_platform_is_served() {
    install_crypto();
    let sim = spawn(SimConfig::for_tests()).await.unwrap();
    let http = reqwest::Client::new();
    let (status, _) = platform_token(&http, &format!("http://{}", sim.addr()), CLIENT_SECRET, "xpmheadless").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[tokio::test]
async fn the_health_check_is_served_in_the_configured_casing() {
    install_crypto();
    for (casing, key) in [(HealthCheckCasing::Camel, "healthy"), (HealthCheckCasing::Pascal, "Healthy")] {
        let sim = spawn(SimConfig { health_check_casing: casing, ..SimConfig::for_tests() }).await.unwrap();
        let body: Value =
            reqwest::get(format!("{}/api/v1/healthcheck", sim.base_url())).await.unwrap().json().await.unwrap();
        assert_eq!(body[key], true, "{casing:?}: {body}");
        sim.shutdown().await;
    }
}
