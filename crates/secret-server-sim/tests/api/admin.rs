//! The emulator's admin endpoints: faults, token expiry, the request log, state counts.

use crate::helpers::{TestSim, assert_invalid, password_grant};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

impl TestSim {
    async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.send(method, self.root(path), body).await
    }
}

#[tokio::test]
async fn faults_are_read_replaced_patched_and_cleared_over_http() {
    let t = TestSim::spawn().await;
    let (status, body) = t.admin(Method::GET, "/_sim/faults", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["outage"], false);
    assert_eq!(body["serverErrorRate"], 0.0);

    let (status, body) =
        t.admin(Method::PUT, "/_sim/faults", Some(json!({"latencyMs": 5, "retryAfterSeconds": 3}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["latencyMs"], 5);
    let (_, body) = t.admin(Method::PATCH, "/_sim/faults", Some(json!({"htmlRate": 0.0, "outage": false}))).await;
    assert_eq!(body["latencyMs"], 5, "PATCH keeps what it does not name");
    let (_, body) = t.admin(Method::PUT, "/_sim/faults", Some(json!({"retryAfterSeconds": 2}))).await;
    assert_eq!(body["latencyMs"], 0, "PUT replaces: what it does not name is off");
    let (_, body) = t.admin(Method::DELETE, "/_sim/faults", None).await;
    assert_eq!(body["retryAfterSeconds"], 1);

    let (status, body) = t.admin(Method::PUT, "/_sim/faults", Some(json!({"serverErrorRate": 2.0}))).await;
    assert_invalid(status, &body, "serverErrorRate");
    let (status, _) = t.admin(Method::PUT, "/_sim/faults", Some(json!({"colour": "red"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown switches are refused");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_outage_answers_503_everywhere_but_the_admin_endpoints() {
    let t = TestSim::spawn().await;
    t.admin(Method::PUT, "/_sim/faults", Some(json!({"outage": true}))).await;
    let response = t.http.get(t.url("/users")).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.text().await.unwrap().contains("<html"));
    assert_eq!(password_grant(&t.http, &t.sim).await.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(t.http.get(t.url("/healthcheck")).send().await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = t.admin(Method::PUT, "/_sim/faults", Some(json!({}))).await;
    assert_eq!(status, StatusCode::OK, "the admin endpoint still answers");
    assert_eq!(t.get("/users").await.0, StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn injected_server_errors_carry_secret_servers_500_body() {
    let t = TestSim::spawn().await;
    t.sim.faults().update(|f| f.next_server_errors = 2).unwrap();
    for _ in 0..2 {
        let (status, body) = t.get("/users").await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(body["message"], "An error has occurred.");
        assert!(body["exceptionMessage"].is_string());
    }
    assert_eq!(t.get("/users").await.0, StatusCode::OK, "the third request passes");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn injected_429s_carry_retry_after() {
    let t = TestSim::spawn().await;
    t.admin(Method::PUT, "/_sim/faults", Some(json!({"tooManyRequestsRate": 1.0, "retryAfterSeconds": 7}))).await;
    let response = t.http.get(t.url("/users")).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    t.sim.faults().clear();
    t.sim.faults().update(|f| f.next_too_many_requests = 1).unwrap();
    assert_eq!(t.get("/users").await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(t.get("/users").await.0, StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn html_rate_answers_200_with_an_html_body() {
    let t = TestSim::spawn().await;
    t.sim.faults().update(|f| f.html_rate = 1.0).unwrap();
    let response = t.http.get(t.url("/users")).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(response.text().await.unwrap().starts_with("<!DOCTYPE html><html"));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn latency_is_added_to_every_request() {
    let t = TestSim::spawn().await;
    t.sim.faults().update(|f| f.latency_ms = 300).unwrap();
    let started = Instant::now();
    assert_eq!(t.get("/users").await.0, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300), "the request waited at least the injected latency");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_middling_error_rate_fails_some_requests_and_passes_others() {
    let t = TestSim::spawn().await;
    t.sim.faults().update(|f| f.server_error_rate = 0.5).unwrap();
    let mut statuses = std::collections::HashSet::new();
    for _ in 0..200 {
        statuses.insert(t.get("/healthcheck").await.0);
        if statuses.len() == 2 {
            break;
        }
    }
    assert_eq!(statuses, [StatusCode::OK, StatusCode::INTERNAL_SERVER_ERROR].into_iter().collect());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn token_expiry_over_http_expires_access_tokens_and_optionally_refresh_tokens() {
    let t = TestSim::spawn().await;
    let grant: Value = password_grant(&t.http, &t.sim).await.json().await.unwrap();
    let (status, _) = t.admin(Method::POST, "/_sim/tokens/expire", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.get("/users").await.0, StatusCode::FORBIDDEN);
    let refresh_form = [("grant_type", "refresh_token"), ("refresh_token", grant["refresh_token"].as_str().unwrap())];
    let refreshed = t.http.post(format!("{}/oauth2/token", t.sim.base_url())).form(&refresh_form).send().await.unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK, "refresh tokens survive a plain expiry");
    let fresh: Value = refreshed.json().await.unwrap();

    let admin_token = fresh["access_token"].as_str().unwrap();
    let other: Value = password_grant(&t.http, &t.sim).await.json().await.unwrap();
    let response = t
        .http
        .post(t.root("/_sim/tokens/expire"))
        .bearer_auth(admin_token)
        .json(&json!({"refreshTokens": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let form = [("grant_type", "refresh_token"), ("refresh_token", other["refresh_token"].as_str().unwrap())];
    let refused = t.http.post(format!("{}/oauth2/token", t.sim.base_url())).form(&form).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_request_log_records_every_request_as_sent() {
    let t = TestSim::spawn().await;
    t.sim.clear_request_log();
    t.get("/Users?take=3").await;
    t.sim.faults().update(|f| f.next_server_errors = 1).unwrap();
    t.get("/groups").await;
    let log = t.sim.request_log();
    assert_eq!(
        log,
        vec![
            ("GET".to_owned(), "/SecretServer/api/v1/Users?take=3".to_owned()),
            ("GET".to_owned(), "/SecretServer/api/v1/groups".to_owned()),
        ],
        "faulted requests are logged too, with the path as sent"
    );
    let (status, body) = t.admin(Method::GET, "/_sim/requests", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body[0], json!({"method": "GET", "path": "/SecretServer/api/v1/Users?take=3"}));
    let (status, _) = t.admin(Method::DELETE, "/_sim/requests", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(t.sim.request_log().is_empty(), "cleared (the DELETE itself was logged before it ran)");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_state_endpoint_reports_counts() {
    let t = TestSim::spawn().await;
    let (status, body) = t.admin(Method::GET, "/_sim/state", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["counts"]["users"], 11);
    assert_eq!(body["counts"]["groups"], 7, "six, and the Everyone group");
    assert_eq!(body["counts"]["folders"], 19, "eight, \\Personal Folders, and ten personal folders");
    assert_eq!(body["counts"]["secrets"], 12);
    assert_eq!(t.sim.counts().users, 11);
    t.sim.shutdown().await;
}

impl TestSim {
    /// Polls `GET /_sim/capacity` until `done` holds for its counters.
    async fn await_capacity(&self, done: impl Fn(&Value) -> bool) -> Value {
        loop {
            let (status, body) = self.admin(Method::GET, "/_sim/capacity", None).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            if done(&body["counters"]) {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[tokio::test]
async fn with_capacity_n_only_n_are_served_at_once_the_next_wait_and_beyond_the_queue_iis_answers_503() {
    let t = TestSim::spawn().await;
    let (status, body) =
        t.admin(Method::PUT, "/_sim/capacity", Some(json!({"inFlight": 2, "latencyMs": 1000, "queueLength": 2}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let request = t.http.get(t.url("/users")).bearer_auth(&t.token);
            tokio::spawn(async move { request.send().await.unwrap().status() })
        })
        .collect();
    let counters = t.await_capacity(|c| c["inFlight"] == 2 && c["waiting"] == 2).await;
    assert_eq!(counters["counters"]["refused"], 0);

    let refused = t.http.get(t.url("/users")).bearer_auth(&t.token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE, "the queue of two is full");
    assert_eq!(refused.headers()["server"], "Microsoft-HTTPAPI/2.0");
    assert!(refused.headers().get("retry-after").is_none(), "HTTP.sys sends no Retry-After");
    assert!(refused.text().await.unwrap().contains("HTTP Error 503. The service is unavailable."));
    let (status, _) = t.admin(Method::GET, "/_sim/faults", None).await;
    assert_eq!(status, StatusCode::OK, "the admin endpoints are never held");

    for call in calls {
        assert_eq!(call.await.unwrap(), StatusCode::OK, "the waiting requests are served in turn");
    }
    let body = t.await_capacity(|c| c["served"] == 4).await;
    let counters = &body["counters"];
    assert_eq!((counters["queued"].as_u64(), counters["refused"].as_u64()), (Some(2), Some(1)));
    assert_eq!(counters["maxInFlight"], 2, "never more than the capacity at once");

    let (_, body) = t.admin(Method::DELETE, "/_sim/capacity", None).await;
    assert_eq!(body["inFlight"], 0, "switched off");
    let (status, body) = t.admin(Method::PUT, "/_sim/capacity", Some(json!({"latencyMs": 700_000}))).await;
    assert_invalid(status, &body, "latencyMs");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_capacity_model_is_off_unless_set() {
    let t = TestSim::spawn().await;
    assert_eq!(t.get("/users").await.0, StatusCode::OK);
    let (_, body) = t.admin(Method::GET, "/_sim/capacity", None).await;
    assert_eq!(body["inFlight"], 0);
    assert_eq!(body["counters"]["served"], 0, "nothing is counted while it is off");
    t.sim.shutdown().await;
}
