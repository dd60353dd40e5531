//! The circuit breaker: a Secret Server outage pauses writes with 503 at once, and it closes again by itself.

use crate::helpers::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn a_persistent_outage_opens_the_breaker_and_recovery_closes_it() {
    let mut options = Options::default();
    options.settings.breaker =
        scim_gateway::BreakerSettings { failure_threshold: 2, cool_down: Duration::from_secs(1), ..Default::default() };
    let app = spawn_app_with(options).await;
    app.sim.faults().update(|f| f.outage = true).unwrap();

    for i in 0..2 {
        let res = app.post("/Users", &user_body(&format!("outage.{i}"))).await;
        assert!(res.headers().contains_key("retry-after"));
        scim_error(res, 503).await;
    }
    // Open: the next write is refused without reaching Secret Server.
    app.sim.clear_request_log();
    let res = app.post("/Users", &user_body("outage.fast")).await;
    assert!(res.headers().contains_key("retry-after"));
    let body = scim_error(res, 503).await;
    assert!(body["detail"].as_str().unwrap().contains("circuit breaker"), "{body}");
    assert!(app.sim.request_log().is_empty(), "an open breaker sends nothing: {:?}", app.sim.request_log());
    // Reads are served from the read model meanwhile.
    assert_eq!(app.get("/Users?count=1").await.status(), 200);

    // Until the cool-down ends every write is refused at once, changing nothing; the first write after
    // it is the probe, which reaches the recovered Secret Server and closes the breaker. (The cool-down
    // itself is stepped through on a paused clock in the breaker's unit tests.)
    app.sim.faults().clear();
    let stack = &app;
    let probe =
        eventually("the first write after the cool-down goes through", Duration::from_secs(10), || async move {
            let res = stack.post("/Users", &user_body("outage.recovered")).await;
            if res.status() == 503 {
                let body = scim_error(res, 503).await;
                assert!(
                    body["detail"].as_str().unwrap().contains("circuit breaker"),
                    "only the breaker refuses: {body}"
                );
                return None;
            }
            Some(res)
        })
        .await;
    assert_eq!(probe.status(), 201, "the probe closes the breaker");
    assert_eq!(app.post("/Users", &user_body("outage.after")).await.status(), 201);
    app.shutdown().await;
}

/// Sends a write on a connection of its own and, when no answer comes within 300 ms (the write is
/// the probe, held up by Secret Server's latency), resets the connection under it: actix then drops
/// the handler, and the probe with it. `None` once it reset; otherwise the answer that came.
async fn write_then_reset(app: &TestApp) -> Option<String> {
    let addr = app.base.trim_start_matches("http://");
    let body = user_body("gone.probe").to_string();
    let request = format!(
        "POST /scim/v2/Users HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: {SCIM}\r\nContent-Length: {}\r\n\r\n{body}",
        app.token,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut answer)).await {
        Ok(read) => Some(String::from_utf8_lossy(&answer[..read.unwrap()]).into_owned()),
        Err(_) => {
            stream.set_zero_linger().unwrap();
            drop(stream);
            None
        }
    }
}

#[tokio::test]
async fn a_probe_whose_client_went_away_frees_its_slot_and_the_breaker_closes_on_the_next_write() {
    let mut options = Options::default();
    // A probe deadline far beyond the test: only the abandoned probe's own release can free the slot.
    options.settings.breaker = scim_gateway::BreakerSettings {
        failure_threshold: 2,
        cool_down: Duration::from_secs(1),
        probe_timeout: Duration::from_secs(3600),
    };
    let app = spawn_app_with(options).await;
    app.sim.faults().update(|f| f.outage = true).unwrap();
    for i in 0..2 {
        scim_error(app.post("/Users", &user_body(&format!("gone.{i}"))).await, 503).await;
    }

    // Secret Server is back but slow: the first write after the cool-down is the probe, and its
    // client goes away before the answer.
    app.sim
        .faults()
        .update(|f| {
            f.outage = false;
            f.latency_ms = 2_000;
        })
        .unwrap();
    let stack = &app;
    eventually(
        "a write after the cool-down is the probe, and its client resets",
        Duration::from_secs(10),
        || async move {
            match write_then_reset(stack).await {
                None => Some(()),
                Some(answer) => {
                    assert!(answer.starts_with("HTTP/1.1 503") && answer.contains("circuit breaker"), "{answer}");
                    None
                }
            }
        },
    )
    .await;

    app.sim.faults().clear();
    let after = eventually("the next write probes and closes the breaker", Duration::from_secs(10), || async move {
        let res = stack.post("/Users", &user_body("gone.after")).await;
        (res.status() != 503).then_some(res)
    })
    .await;
    assert_eq!(after.status(), 201, "the breaker did not wedge half-open");
    assert_eq!(app.post("/Users", &user_body("gone.after.2")).await.status(), 201);
    app.shutdown().await;
}
