//! Paths as IIS serves them: case-insensitive, trailing slashes, a configurable base path,
//! and Web API's answers for unknown paths.

use crate::helpers::{TestSim, install_crypto, password_grant};
use reqwest::StatusCode;
use secret_server_sim::{SimConfig, spawn};
use serde_json::Value;

#[tokio::test]
async fn paths_are_case_insensitive_and_tolerate_a_trailing_slash() {
    let t = TestSim::spawn().await;
    let base = t.sim.base_url();
    for url in [format!("{base}/api/v1/Users/"), format!("{}/API/V1/USERS?take=1", base.to_uppercase())] {
        let response = t.http.get(&url).bearer_auth(&t.token).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{url}");
    }
    let group = t.group_id("DBAs").await;
    let response =
        t.http.get(format!("{base}/api/v1/Groups/{group}/users/")).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_base_path_is_configurable_including_the_site_root() {
    install_crypto();
    for (base, expected) in [("/Vault/", "/Vault"), ("", "")] {
        let sim = spawn(SimConfig { base_path: base.to_owned(), ..SimConfig::for_tests() }).await.unwrap();
        assert_eq!(sim.base_url(), format!("http://{}{expected}", sim.addr()));
        let http = reqwest::Client::new();
        let token: Value = password_grant(&http, &sim).await.json().await.unwrap();
        let response = http
            .get(format!("{}/api/v1/users", sim.base_url()))
            .bearer_auth(token["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "base {base:?}");
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn an_unknown_path_is_a_404_with_a_message() {
    let t = TestSim::spawn().await;
    let (status, body) = t.get("/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["message"].as_str().unwrap().contains("No HTTP resource"));
    let response = t.http.get(format!("http://{}/elsewhere", t.sim.addr())).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_unsupported_method_is_405() {
    let t = TestSim::spawn().await;
    let (status, _) = t.send(reqwest::Method::PATCH, t.url("/folders/1"), Some(serde_json::json!({}))).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn every_protected_endpoint_refuses_a_missing_token() {
    let t = TestSim::spawn().await;
    let paths = [
        ("GET", "/users"),
        ("GET", "/users/1"),
        ("POST", "/users"),
        ("GET", "/users/current"),
        ("GET", "/users/1/groups"),
        ("GET", "/groups"),
        ("GET", "/groups/1/users"),
        ("DELETE", "/groups/1/users/1"),
        ("GET", "/folders"),
        ("GET", "/folders/1"),
        ("GET", "/folder-permissions"),
        ("POST", "/folder-permissions"),
        ("GET", "/secrets"),
        ("GET", "/secrets/1/summary"),
        ("GET", "/secrets/1"),
        ("GET", "/secret-permissions"),
        ("POST", "/oauth-expiration"),
    ];
    for (method, path) in paths {
        let response = t.http.request(method.parse().unwrap(), t.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path}");
    }
    let response = t.http.get(t.root("/_sim/faults")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the admin endpoints need a token too");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn run_serves_until_its_shutdown_future_completes() {
    install_crypto();
    // A free port: bind, read it, release it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = SimConfig { listen: ([127, 0, 0, 1], port).into(), ..SimConfig::for_tests() };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(secret_server_sim::run(config, async {
        let _ = stopped.await;
    }));
    let url = format!("http://127.0.0.1:{port}/SecretServer/api/v1/healthcheck");
    let http = reqwest::Client::new();
    let mut answered = false;
    for _ in 0..100 {
        if http.get(&url).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
            answered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(answered, "the emulator answered while running");
    stop.send(()).unwrap();
    server.await.unwrap().expect("run returns cleanly");
    assert!(http.get(&url).send().await.is_err(), "nothing listens after shutdown");
}
