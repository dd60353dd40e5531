//! `TestSim`: a spawned emulator, an HTTP client and a token of the API account.

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use secret_server_sim::{RunningSim, SimConfig, spawn};
use serde_json::Value;

pub(crate) struct TestSim {
    pub sim: RunningSim,
    pub http: reqwest::Client,
    pub token: String,
}

pub(crate) fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The API account's password grant against `sim`.
pub(crate) async fn password_grant(http: &reqwest::Client, sim: &RunningSim) -> reqwest::Response {
    test_support::emulator::password_grant(
        http,
        &sim.base_url(),
        sim.api_username(),
        sim.api_password().expose_secret(),
    )
    .await
}

impl TestSim {
    pub(crate) async fn spawn() -> Self {
        Self::spawn_with(SimConfig::for_tests()).await
    }

    pub(crate) async fn spawn_with(config: SimConfig) -> Self {
        install_crypto();
        let sim = spawn(config).await.expect("the emulator starts");
        let http = reqwest::Client::new();
        let token = test_support::emulator::token(&http, &sim).await;
        Self { sim, http, token }
    }

    /// `<base>/api/v1<path>`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.sim.base_url())
    }

    /// The server root (for `/_sim/...`).
    pub(crate) fn root(&self, path: &str) -> String {
        format!("http://{}{path}", self.sim.addr())
    }

    pub(crate) async fn send(&self, method: Method, url: String, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status();
        let text = response.text().await.unwrap();
        let value =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        (status, value)
    }

    pub(crate) async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::GET, self.url(path), None).await
    }

    pub(crate) async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, self.url(path), Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, self.url(path), Some(body)).await
    }

    pub(crate) async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PATCH, self.url(path), Some(body)).await
    }

    pub(crate) async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(Method::DELETE, self.url(path), None).await
    }

    /// GET that must succeed.
    pub(crate) async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    /// The id of the user with this name (searching inactive ones too).
    pub(crate) async fn user_id(&self, user_name: &str) -> i64 {
        let body = self.ok(&format!("/users?filter.searchText={user_name}&filter.includeInactive=true&take=100")).await;
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["userName"] == user_name)
            .unwrap_or_else(|| panic!("user {user_name} exists"))["id"]
            .as_i64()
            .unwrap()
    }

    pub(crate) async fn group_id(&self, name: &str) -> i64 {
        let body = self.ok(&format!("/groups?filter.searchText={name}&filter.includeInactive=true&take=100")).await;
        body["records"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap_or_else(|| panic!("group {name}"))
            ["id"]
            .as_i64()
            .unwrap()
    }

    pub(crate) async fn folder_id(&self, path: &str) -> i64 {
        let encoded = path.replace('\\', "%5C").replace(' ', "%20");
        self.ok(&format!("/folders/0?folderPath={encoded}")).await["id"].as_i64().unwrap()
    }

    pub(crate) async fn secret_id(&self, name: &str) -> i64 {
        let body = self
            .ok(&format!("/secrets?filter.searchText={}&filter.includeInactive=true", name.replace(' ', "%20")))
            .await;
        body["records"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()["id"].as_i64().unwrap()
    }

    /// Creates a local user with a valid password; returns its id.
    pub(crate) async fn create_user(&self, user_name: &str) -> i64 {
        let (status, body) = self
            .post(
                "/users",
                serde_json::json!({
                    "userName": user_name, "password": "Valid-Passw0rd!", "displayName": user_name,
                    "emailAddress": format!("{user_name}@example.com"), "enabled": true
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "create user {user_name}: {body}");
        body["id"].as_i64().unwrap()
    }

    pub(crate) async fn create_group(&self, name: &str) -> i64 {
        let (status, body) = self.post("/groups", serde_json::json!({ "name": name, "enabled": true })).await;
        assert_eq!(status, StatusCode::OK, "create group {name}: {body}");
        body["id"].as_i64().unwrap()
    }

    pub(crate) async fn create_folder(&self, name: &str, parent: i64, inherit: bool) -> i64 {
        let (status, body) = self
            .post(
                "/folders",
                serde_json::json!({
                    "folderName": name, "parentFolderId": parent, "folderTypeId": 1,
                    "inheritPermissions": inherit, "inheritSecretPolicy": false
                }),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "create folder {name}: {body}");
        body["id"].as_i64().unwrap()
    }
}

/// Asserts a Secret Server `400` with this `errorCode`.
#[track_caller]
pub(crate) fn assert_error(status: StatusCode, body: &Value, code: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "a message: {body}");
}

/// Asserts a model-state `400` naming `field`.
#[track_caller]
pub(crate) fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["message"], "The request is invalid.", "{body}");
    assert!(body["modelState"][field].as_array().is_some_and(|m| !m.is_empty()), "modelState.{field}: {body}");
}
