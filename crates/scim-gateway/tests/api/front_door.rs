//! The front door (issue 14, items 1 and 10), through the real stack: failed authentication is
//! throttled per client address and per credential identifier before any password hash, password
//! hashes run a bounded number at once, refusals reach the audit trail as summaries rather than one
//! record each, the client's address comes from `X-Forwarded-For` only behind a trusted proxy, a
//! refused caller's request id is not believed, admin answers are never cached, and `/metrics` can
//! live on a listener of its own.

use crate::helpers::*;
use job_queue::EventSubscription;
use proto::audit::v1 as pb;
use reqwest::{Method, StatusCode};
use scim_gateway::FailureAllowance;
use serde_json::Value;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

const BASIC_USER: &str = "okta-sync";
const BASIC_PASSWORD: &str = "the right basic password";

/// A client whose connections leave from `address` (any of 127/8 reaches the gateway's 127.0.0.1).
fn client_from(address: [u8; 4]) -> reqwest::Client {
    reqwest::Client::builder().local_address(IpAddr::from(address)).build().unwrap()
}

/// A stack whose throttle allows `per_address` and `per_identifier` failures, earned back slowly.
async fn spawn_throttled(per_address: u32, per_identifier: u32) -> TestApp {
    let mut options = Options::default();
    options.settings.auth_throttle.per_address = FailureAllowance { burst: per_address, per_second: 0.001 };
    options.settings.auth_throttle.per_identifier = FailureAllowance { burst: per_identifier, per_second: 0.001 };
    let app = spawn_app_with(options).await;
    set_basic(&app).await;
    app
}

async fn set_basic(app: &TestApp) {
    let res = app
        .admin(Method::PUT, "/connections/test/basic")
        .json(&serde_json::json!({"username": BASIC_USER, "password": BASIC_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
}

/// `GET /Users?count=1` with HTTP Basic, from `client`.
async fn basic(app: &TestApp, client: &reqwest::Client, user: &str, password: &str) -> reqwest::Response {
    client.get(format!("{}/scim/v2/Users?count=1", app.base)).basic_auth(user, Some(password)).send().await.unwrap()
}

/// The audit events published from now on, read until `done` says they are all there.
async fn events_until(
    sub: &mut Box<dyn EventSubscription>,
    what: &str,
    done: impl Fn(&[pb::AuditEvent]) -> bool,
) -> Vec<pb::AuditEvent> {
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done(&events) {
        assert!(tokio::time::Instant::now() < deadline, "not within 10 s: {what}; got {events:#?}");
        events.extend(next_audit_events(sub, 500, Duration::from_millis(100)).await.into_iter().map(|(_, e)| e));
    }
    events
}

fn summaries(events: &[pb::AuditEvent]) -> Vec<&pb::AuthFailureSummary> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::audit_event::Kind::AuthFailures(s)) => Some(s),
            _ => None,
        })
        .collect()
}

fn calls(events: &[pb::AuditEvent]) -> Vec<&pb::ScimCall> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            Some(pb::audit_event::Kind::ScimCall(c)) => Some(c),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_address_out_of_failures_is_refused_with_429_before_any_hash_until_it_earns_one_back() {
    let app = spawn_throttled(3, 100).await;
    let here = client_from([127, 0, 0, 1]);
    // A bearer token verified before keeps working from the throttled address: it needs no hash.
    assert_eq!(app.get("/Users?count=1").await.status(), 200);

    for i in 0..3 {
        scim_error(basic(&app, &here, BASIC_USER, &format!("guess number {i}")).await, 401).await;
    }
    let res = basic(&app, &here, BASIC_USER, "guess number 3").await;
    let retry_after: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after >= 1, "{retry_after}");
    let body = scim_error(res, 429).await;
    assert!(body["detail"].as_str().unwrap().contains("failed authentications"), "{body}");
    // Even the right password: it would take a hash to know it is right.
    scim_error(basic(&app, &here, BASIC_USER, BASIC_PASSWORD).await, 429).await;

    assert_eq!(basic(&app, &client_from([127, 0, 0, 2]), BASIC_USER, BASIC_PASSWORD).await.status(), 200);
    assert_eq!(app.get("/Users?count=1").await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn an_identifier_out_of_failures_is_refused_from_every_address() {
    let app = spawn_throttled(100, 2).await;
    for (i, from) in [[127, 0, 0, 4], [127, 0, 0, 5]].into_iter().enumerate() {
        scim_error(basic(&app, &client_from(from), BASIC_USER, &format!("guess {i}")).await, 401).await;
    }
    let elsewhere = client_from([127, 0, 0, 6]);
    scim_error(basic(&app, &elsewhere, BASIC_USER, BASIC_PASSWORD).await, 429).await;
    scim_error(basic(&app, &elsewhere, "another-user", "a guess").await, 401).await;
    app.shutdown().await;
}

#[tokio::test]
async fn the_same_wrong_credential_again_is_401_from_memory_and_spends_no_failure() {
    let app = spawn_throttled(2, 100).await;
    let here = client_from([127, 0, 0, 1]);
    for _ in 0..10 {
        scim_error(basic(&app, &here, BASIC_USER, "the same old guess").await, 401).await;
    }
    // One failure spent on ten tries: one more distinct guess is still verified, the next is not.
    scim_error(basic(&app, &here, BASIC_USER, "a new guess").await, 401).await;
    scim_error(basic(&app, &here, BASIC_USER, "another new guess").await, 429).await;
    app.shutdown().await;
}

#[tokio::test]
async fn an_address_sending_refused_calls_at_full_speed_is_throttled_whatever_it_presents() {
    let mut options = Options::default();
    options.settings.auth_throttle.refusals_per_address = FailureAllowance { burst: 5, per_second: 0.001 };
    let app = spawn_app_with(options).await;
    assert_eq!(app.get("/Users?count=1").await.status(), 200);
    for i in 0..5 {
        let res = if i % 2 == 0 {
            app.anonymous(Method::GET, "/Users").send().await.unwrap()
        } else {
            app.anonymous(Method::GET, "/Users").bearer_auth("scimc_the-same-wrong-token").send().await.unwrap()
        };
        scim_error(res, 401).await;
    }
    let res = app.anonymous(Method::GET, "/Users").send().await.unwrap();
    assert!(res.headers().contains_key("retry-after"));
    scim_error(res, 429).await;
    let res = app.anonymous(Method::GET, "/Users").bearer_auth("scimc_the-same-wrong-token").send().await.unwrap();
    scim_error(res, 429).await;
    let res = app.http.get(format!("{}/admin/v1/connections", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 429, "the admin API shares the address's allowance");
    // A token this replica verified passes; another address is not concerned.
    assert_eq!(app.get("/Users?count=1").await.status(), 200);
    let elsewhere = client_from([127, 0, 0, 7]).get(format!("{}/scim/v2/Users", app.base)).send().await.unwrap();
    assert_eq!(elsewhere.status(), 401);
    app.shutdown().await;
}

#[tokio::test]
async fn password_checks_beyond_the_bound_answer_503_with_retry_after() {
    let mut options = Options::default();
    options.settings.credential_cache.max_concurrent_hashes = 1;
    let app = spawn_app_with(options).await;
    set_basic(&app).await;
    let guesses = (0..24).map(|i| {
        let app = &app;
        async move { basic(app, &app.http, BASIC_USER, &format!("concurrent guess {i}")).await }
    });
    let answers = futures::future::join_all(guesses).await;
    let mut busy = 0;
    for res in answers {
        match res.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(res.headers().contains_key("retry-after"));
                busy += 1;
            }
            other => panic!("a guess is refused with 401 or 503, not {other}"),
        }
    }
    assert!(busy > 0, "24 guesses at once with one hash at a time: some are turned away");
    app.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_refused_calls_is_a_few_summaries_in_the_audit_trail_not_a_record_each() {
    let mut options = Options::default();
    options.settings.auth_failure_summaries.interval = Duration::from_millis(100);
    let app = spawn_app_with(options).await;
    let mut sub = app.events.subscribe("front-door-test", "t").await.unwrap();
    for _ in 0..50 {
        let res = app.http.get(format!("{}/scim/v2/Users", app.base)).bearer_auth("scimc_wrong").send().await;
        assert_eq!(res.unwrap().status(), 401);
    }
    for _ in 0..5 {
        assert_eq!(app.anonymous(Method::GET, "/Users").send().await.unwrap().status(), 401);
    }

    let refused = |events: &[pb::AuditEvent]| summaries(events).iter().map(|s| s.count).sum::<u64>();
    let events = events_until(&mut sub, "55 refused calls in summaries", |events| refused(events) >= 55).await;
    assert_eq!(refused(&events), 55);
    let summaries = summaries(&events);
    assert!(summaries.len() <= 10, "a few summaries, not one per call: {summaries:#?}");
    for s in &summaries {
        assert_eq!((s.surface.as_str(), s.client_address.as_str(), s.status), ("scim", "127.0.0.1", 401), "{s:?}");
        assert!(s.first_seen.is_some() && s.last_seen.is_some());
    }
    let token = summaries.iter().filter(|s| s.credential_id.starts_with("sha256:")).map(|s| s.count).sum::<u64>();
    let missing = summaries.iter().filter(|s| s.reason == "missing").map(|s| s.count).sum::<u64>();
    assert_eq!((token, missing), (50, 5));
    assert!(calls(&events).iter().all(|c| c.status != 401), "no refused call is a ScimCall of its own");
    app.shutdown().await;
}

#[tokio::test]
async fn x_forwarded_for_names_the_client_only_behind_a_trusted_proxy() {
    let mut options = Options::default();
    options.settings.trusted_proxies = "127.0.0.1".parse().unwrap();
    options.settings.auth_throttle.per_address = FailureAllowance { burst: 1, per_second: 0.001 };
    let app = spawn_app_with(options).await;
    set_basic(&app).await;
    let mut sub = app.events.subscribe("front-door-test", "t").await.unwrap();
    let via_proxy = client_from([127, 0, 0, 1]);
    let direct = client_from([127, 0, 0, 2]);
    let users = format!("{}/scim/v2/Users?count=1", app.base);
    for (client, forwarded) in [(&via_proxy, "198.51.100.1, 203.0.113.9"), (&direct, "203.0.113.10")] {
        let res = client.get(&users).bearer_auth(&app.token).header("x-forwarded-for", forwarded).send().await;
        assert_eq!(res.unwrap().status(), 200);
    }
    let events = events_until(&mut sub, "two SCIM calls", |events| calls(events).len() >= 2).await;
    let addresses: Vec<&str> = calls(&events).iter().map(|c| c.client_address.as_str()).collect();
    assert_eq!(addresses, ["203.0.113.9", "127.0.0.2"], "the proxy's hop is believed, a direct client's is not");

    // Throttled by the forwarded address, not the proxy's: one client out of failures leaves the others be.
    let guess = |client: &reqwest::Client, forwarded: &str, password: &str| {
        client
            .get(&users)
            .basic_auth(BASIC_USER, Some(password.to_owned()))
            .header("x-forwarded-for", forwarded.to_owned())
            .send()
    };
    assert_eq!(guess(&via_proxy, "203.0.113.50", "guess 1").await.unwrap().status(), 401);
    assert_eq!(guess(&via_proxy, "203.0.113.50", "guess 2").await.unwrap().status(), 429);
    assert_eq!(guess(&via_proxy, "203.0.113.51", "guess 3").await.unwrap().status(), 401);
    app.shutdown().await;
}

#[tokio::test]
async fn a_refused_caller_s_request_id_is_not_believed_and_an_authenticated_caller_s_is() {
    let app = spawn_app().await;
    let mut sub = app.events.subscribe("front-door-test", "t").await.unwrap();
    let refused = app
        .anonymous(Method::GET, "/Users")
        .bearer_auth("scimc_wrong")
        .header("x-request-id", "forged-request-id")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let answered = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(answered, "forged-request-id", "a fresh request id for a refused call");

    let res = app.scim(Method::GET, "/Users?count=1").header("x-request-id", "client-request-id").send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-request-id"], "client-request-id");
    let events = events_until(&mut sub, "the authenticated call", |events| !calls(events).is_empty()).await;
    assert_eq!(calls(&events)[0].request_id, "client-request-id");
    for event in &events {
        let bytes = prost::Message::encode_to_vec(event);
        assert!(
            !String::from_utf8_lossy(&bytes).contains("forged"),
            "the forged id reached the audit trail: {event:?}"
        );
    }
    app.shutdown().await;
}

#[tokio::test]
async fn every_admin_answer_is_no_store() {
    let app = spawn_app().await;
    let mut answers = vec![
        app.admin(Method::POST, "/connections")
            .json(&serde_json::json!({"id": "okta", "secretServer": "primary"}))
            .send()
            .await
            .unwrap(),
    ];
    let created: Value = app.admin(Method::GET, "/connections/okta").send().await.unwrap().json().await.unwrap();
    assert_eq!(created["id"], "okta");
    for (method, path) in [
        (Method::POST, "/connections/okta/tokens"),
        (Method::POST, "/connections/okta/oauth-clients"),
        (Method::GET, "/connections"),
        (Method::GET, "/connections/okta"),
        (Method::GET, "/connections/nobody"),
        (Method::PUT, "/connections"),
    ] {
        answers.push(app.admin(method, path).header("content-type", "application/json").send().await.unwrap());
    }
    answers.push(app.http.get(format!("{}/admin/v1/connections", app.base)).send().await.unwrap());
    answers.push(app.http.get(format!("{}/admin/v1/connections", app.base)).bearer_auth("wrong").send().await.unwrap());
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [201, 201, 201, 200, 200, 404, 405, 401, 401]);
    for res in answers {
        assert_eq!(res.headers().get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{res:?}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_failures_are_throttled_and_every_answer_is_no_store() {
    let app = spawn_throttled(100, 2).await;
    let res = app.admin(Method::POST, "/connections/test/oauth-clients").json(&serde_json::json!({})).send().await;
    let client_id = res.unwrap().json::<Value>().await.unwrap()["clientId"].as_str().unwrap().to_owned();
    let token = |secret: &str| {
        app.http
            .post(format!("{}/oauth2/token", app.base))
            .form(&[("grant_type", "client_credentials"), ("client_id", &client_id), ("client_secret", secret)])
            .send()
    };
    for secret in ["guess 1", "guess 2", "guess 3"] {
        let res = token(secret).await.unwrap();
        assert_eq!(res.headers()["cache-control"], "no-store");
        if secret == "guess 3" {
            assert_eq!(res.status(), 429);
            assert!(res.headers().contains_key("retry-after"));
        } else {
            assert_eq!(res.status(), 401);
        }
    }
    app.shutdown().await;
}

/// Sends the head of a token request declaring a body of `declared` bytes, and none of the body,
/// and returns the head of the answer: a gateway that waited for the body would not answer.
async fn token_request_without_its_body(app: &TestApp, declared: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = app.base.trim_start_matches("http://");
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {declared}\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let mut chunk = [0u8; 4096];
        let read = stream.read(&mut chunk).await.unwrap();
        assert!(read > 0, "the gateway closed the connection without an answer");
        answer.extend_from_slice(&chunk[..read]);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_throttled_address_is_refused_at_the_token_endpoint_before_the_body_is_read() {
    let mut options = Options::default();
    options.settings.auth_throttle.refusals_per_address = FailureAllowance { burst: 2, per_second: 0.001 };
    let app = spawn_app_with(options).await;
    for _ in 0..2 {
        scim_error(app.anonymous(Method::GET, "/Users").send().await.unwrap(), 401).await;
    }
    let answer = token_request_without_its_body(&app, 2 * 1024 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("retry-after:"), "{answer}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_token_request_larger_than_8_kib_is_413_invalid_request() {
    let app = spawn_app().await;
    let padding = "x".repeat(100 * 1024);
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.base))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "a-client"),
            ("client_secret", "a-secret"),
            ("padding", &padding),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");

    let answer = token_request_without_its_body(&app, 100 * 1024).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "refused by its declared length, unread: {answer}");
    app.shutdown().await;
}

#[tokio::test]
async fn with_a_metrics_listener_the_main_one_keeps_only_healthz_and_a_bare_readyz() {
    let mut options = Options::default();
    options.settings.metrics_listen = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    let app = spawn_app_with(options).await;
    let get = |url: String| app.http.get(url).send();

    assert_eq!(get(format!("{}/healthz", app.base)).await.unwrap().status(), 200);
    let ready = get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap(), serde_json::json!({"ready": true}), "no details");
    assert_eq!(get(format!("{}/metrics", app.base)).await.unwrap().status(), 404);

    let metrics = format!("http://{}", app.gateway.as_ref().unwrap().metrics_addr().expect("a metrics listener"));
    let details: Value = get(format!("{metrics}/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(details["checks"]["adapter"]["ok"], true, "{details}");
    let text = get(format!("{metrics}/metrics")).await.unwrap();
    assert_eq!(text.status(), 200);
    assert_eq!(get(format!("{metrics}/scim/v2/Users")).await.unwrap().status(), 404, "nothing else there");
    app.shutdown().await;
}
