//! The circuit breaker: a Secret Server outage pauses writes with 503 at once, and it closes again by itself.

use crate::helpers::*;
use std::time::Duration;

#[tokio::test]
async fn a_persistent_outage_opens_the_breaker_and_recovery_closes_it() {
    let mut options = Options::default();
    options.settings.breaker =
        scim_gateway::BreakerSettings { failure_threshold: 2, cool_down: Duration::from_secs(1) };
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
