//! The Secret Server emulator's token request (`POST /oauth2/token`, the password grant of its
//! API account), for tests that look at Secret Server's own state through its REST API.

use secrecy::ExposeSecret;
use secret_server_sim::RunningSim;
use serde_json::Value;

/// The password grant of `username` at the emulator under `base_url` (`http://host:port/SecretServer`).
///
/// # Panics
/// When the request cannot be sent.
pub async fn password_grant(
    http: &reqwest::Client,
    base_url: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base_url}/oauth2/token"))
        .form(&[("grant_type", "password"), ("username", username), ("password", password)])
        .send()
        .await
        .expect("the token request is sent")
}

/// The grant (`access_token`, `refresh_token`, ...) of the API account of the emulator under `base_url`.
///
/// # Panics
/// When the emulator refuses it.
pub async fn grant_at(http: &reqwest::Client, base_url: &str, username: &str, password: &str) -> Value {
    let response = password_grant(http, base_url, username, password).await;
    assert!(response.status().is_success(), "the emulator refused the API account: {}", response.status());
    response.json().await.expect("a token response")
}

/// The grant of `sim`'s API account.
///
/// # Panics
/// When the emulator refuses it.
pub async fn grant(http: &reqwest::Client, sim: &RunningSim) -> Value {
    grant_at(http, &sim.base_url(), sim.api_username(), sim.api_password().expose_secret()).await
}

/// An access token of `sim`'s API account.
///
/// # Panics
/// When the emulator refuses it.
pub async fn token(http: &reqwest::Client, sim: &RunningSim) -> String {
    access_token(&grant(http, sim).await)
}

/// The `access_token` of a grant.
///
/// # Panics
/// When the grant has none.
pub fn access_token(grant: &Value) -> String {
    grant["access_token"].as_str().expect("the emulator issues an access token").to_owned()
}
