//! Retries under the emulator's injected faults: server errors, 429 with
//! `Retry-After`, latency beyond the timeout, HTML answers, a full outage,
//! connection failures, and the bound on requests in flight.
//!
//! Timings are only ever checked as lower bounds (a wait that must have
//! happened), never as upper bounds: a slow machine cannot make them fail.

use crate::helpers::{Harness, count_requests, new_user};
use futures::TryStreamExt;
use secret_server_client::{ClientError, RetryPolicy, SecretServerClient, UserQuery};
use std::time::{Duration, Instant};

/// The API account's id, fetched before faults are switched on (so that the
/// token is cached and the faults hit the call under test).
async fn warm_up(h: &Harness) -> i64 {
    h.client.current_user().await.unwrap().id
}

#[tokio::test]
async fn server_errors_on_a_get_are_retried_until_it_succeeds() {
    let h = Harness::demo().await;
    let me = warm_up(&h).await;
    h.sim.faults().update(|f| f.next_server_errors = 2).unwrap();
    assert_eq!(h.client.get_user(me).await.unwrap().id, me);
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 3);
    h.finish().await;
}

#[tokio::test]
async fn a_server_error_on_a_post_is_not_retried_blindly() {
    let h = Harness::empty().await;
    warm_up(&h).await;
    h.sim.faults().update(|f| f.next_server_errors = 1).unwrap();
    let err = h.client.create_user(&new_user("once.only")).await.unwrap_err();
    assert!(matches!(err, ClientError::Server { status: 500, .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(count_requests(&h.sim, "POST", "/api/v1/users"), 1);
    // The caller reconciles by searching, and may then create again.
    assert!(h.client.search_users(&UserQuery::text("once.only")).try_next().await.unwrap().is_none());
    h.client.create_user(&new_user("once.only")).await.unwrap();
    h.finish().await;
}

#[tokio::test]
async fn server_errors_while_fetching_the_token_are_retried() {
    let h = Harness::empty().await;
    h.sim.faults().update(|f| f.next_server_errors = 2).unwrap();
    assert_eq!(h.client.current_user().await.unwrap().user_name, h.sim.api_username());
    assert_eq!(count_requests(&h.sim, "POST", "/oauth2/token"), 3);
    h.finish().await;
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_then_succeeds() {
    let h = Harness::demo().await;
    let me = warm_up(&h).await;
    h.sim
        .faults()
        .update(|f| {
            f.next_too_many_requests = 1;
            f.retry_after_seconds = 1;
        })
        .unwrap();
    let started = Instant::now();
    assert_eq!(h.client.get_user(me).await.unwrap().id, me);
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was not honoured: {:?}", started.elapsed());
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 2);
    h.finish().await;
}

#[tokio::test]
async fn too_many_requests_on_a_post_is_retried_since_nothing_was_applied() {
    let h = Harness::empty().await;
    warm_up(&h).await;
    h.sim
        .faults()
        .update(|f| {
            f.next_too_many_requests = 1;
            f.retry_after_seconds = 0;
        })
        .unwrap();
    let created = h.client.create_user(&new_user("rate.limited")).await.unwrap();
    assert_eq!(count_requests(&h.sim, "POST", "/api/v1/users"), 2);
    let found: Vec<_> = h.client.search_users(&UserQuery::text("rate.limited")).try_collect().await.unwrap();
    assert_eq!(found.iter().map(|u| u.id).collect::<Vec<_>>(), [created.id]);
    h.finish().await;
}

#[tokio::test]
async fn a_retry_after_beyond_max_delay_fails_at_once_with_the_servers_delay() {
    let h = Harness::demo().await;
    let me = warm_up(&h).await;
    h.sim
        .faults()
        .update(|f| {
            f.too_many_requests_rate = 1.0;
            f.retry_after_seconds = 30;
        })
        .unwrap();
    let err = h.client.get_user(me).await.unwrap_err();
    assert_eq!(err, ClientError::RateLimited { retry_after: Some(Duration::from_secs(30)) });
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 1);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    assert!(err.is_transient());
    h.sim.faults().clear();
    h.finish().await;
}

#[tokio::test]
async fn latency_beyond_the_timeout_is_a_timeout_retried_for_reads_up_to_max_attempts() {
    let h = Harness::demo().await;
    let client = h.client_with(|c| {
        c.request_timeout = Duration::from_millis(200);
        c.retry.max_attempts = 3;
    });
    let me = client.current_user().await.unwrap().id;
    h.sim.faults().update(|f| f.latency_ms = 1_000).unwrap();
    let err = client.get_user(me).await.unwrap_err();
    assert_eq!(err, ClientError::Timeout { timeout: Duration::from_millis(200) });
    assert!(err.is_transient());
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 3);
    h.sim.faults().clear();
    h.finish().await;
}

#[tokio::test]
async fn a_timed_out_create_is_not_repeated_because_it_may_have_been_applied() {
    let h = Harness::empty().await;
    let client = h.client_with(|c| c.request_timeout = Duration::from_millis(200));
    client.current_user().await.unwrap();
    h.sim.faults().update(|f| f.latency_ms = 600).unwrap();
    let err = client.create_user(&new_user("slow.create")).await.unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert_eq!(count_requests(&h.sim, "POST", "/api/v1/users"), 1);
    h.sim.faults().clear();
    // The emulator finishes the request after its latency: the user exists,
    // which is why a timed-out POST must be reconciled, not repeated.
    let mut found = None;
    for _ in 0..50 {
        found = h.client.search_users(&UserQuery::text("slow.create")).try_next().await.unwrap();
        if found.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(found.is_some(), "the delayed create was applied by the server");
    h.finish().await;
}

#[tokio::test]
async fn html_answers_are_retried_for_reads_and_reported_after_max_attempts() {
    let h = Harness::demo().await;
    let me = warm_up(&h).await;
    h.sim.faults().update(|f| f.html_rate = 1.0).unwrap();
    let err = h.client.get_user(me).await.unwrap_err();
    assert_eq!(err, ClientError::HtmlResponse { status: 200 });
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 4);
    // A POST answered with HTML may have been applied: not retried.
    let err = h.client.create_user(&new_user("html.post")).await.unwrap_err();
    assert_eq!(err, ClientError::HtmlResponse { status: 200 });
    assert_eq!(count_requests(&h.sim, "POST", "/api/v1/users"), 1);
    h.sim.faults().clear();
    h.finish().await;
}

#[tokio::test]
async fn an_outage_gives_a_clear_transient_error_after_max_attempts_for_every_method() {
    let h = Harness::demo().await;
    let me = warm_up(&h).await;
    h.sim.faults().update(|f| f.outage = true).unwrap();
    let err = h.client.get_user(me).await.unwrap_err();
    assert!(matches!(err, ClientError::Server { status: 503, .. }), "{err:?}");
    assert!(err.is_transient());
    assert_eq!(err.to_string(), "Secret Server failed with 503: Service Unavailable");
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 4);
    // 503 means not processed: a POST is retried too.
    assert!(h.client.create_user(&new_user("during.outage")).await.unwrap_err().is_transient());
    assert_eq!(count_requests(&h.sim, "POST", "/api/v1/users"), 4);
    h.sim.faults().clear();
    assert_eq!(h.client.get_user(me).await.unwrap().id, me);
    h.finish().await;
}

#[tokio::test]
async fn a_steady_rate_of_server_errors_is_absorbed_by_retries() {
    let h = Harness::demo().await;
    let client = h.client_with(|c| c.retry.max_attempts = 10);
    let me = client.current_user().await.unwrap().id;
    h.sim.faults().update(|f| f.server_error_rate = 0.2).unwrap();
    // 40 reads; each fails only if 10 draws in a row fail (0.2^10 ≈ 1e-7).
    for _ in 0..40 {
        assert_eq!(client.get_user(me).await.unwrap().id, me);
    }
    let users: Vec<_> = client.search_users(&UserQuery::everyone()).try_collect().await.unwrap();
    assert_eq!(users.len(), 11);
    h.sim.faults().clear();
    h.finish().await;
}

#[tokio::test]
async fn a_refused_connection_is_a_transient_connect_error_after_max_attempts() {
    let h = Harness::empty().await;
    // A port that was just free: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut config = crate::helpers::client_config(&h.sim);
    config.base_url = url::Url::parse(&format!("http://{closed}/SecretServer")).unwrap();
    config.retry = RetryPolicy { max_attempts: 3, ..config.retry };
    let client = SecretServerClient::new(config).unwrap();
    let err = client.healthcheck().await.unwrap_err();
    assert!(matches!(err, ClientError::Connect { .. }), "{err:?}");
    assert!(err.is_transient());
    h.client.healthcheck().await.unwrap();
    h.finish().await;
}

#[tokio::test]
async fn requests_in_flight_are_bounded() {
    let h = Harness::demo().await;
    let client = h.client_with(|c| c.max_concurrent_requests = 2);
    let me = client.current_user().await.unwrap().id;
    h.sim.faults().update(|f| f.latency_ms = 300).unwrap();
    let started = Instant::now();
    let calls = (0..6).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get_user(me).await })
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap().unwrap();
    }
    // Six calls of at least 300 ms, two at a time: at least three rounds.
    assert!(started.elapsed() >= Duration::from_millis(900), "not bounded: {:?}", started.elapsed());
    h.sim.faults().clear();
    h.finish().await;
}

#[tokio::test]
async fn a_call_whose_fence_no_longer_holds_is_not_sent() {
    let h = Harness::demo().await;
    let me = warm_up(&h).await;
    let err = secret_server_client::fence::fenced(|| false, h.client.get_user(me)).await.unwrap_err();
    assert!(matches!(err, ClientError::Fenced), "{err:?}");
    assert_eq!(count_requests(&h.sim, "GET", &format!("/api/v1/users/{me}")), 0, "nothing reached the server");
    let user = secret_server_client::fence::fenced(|| true, h.client.get_user(me)).await.unwrap();
    assert_eq!(user.id, me);
    h.finish().await;
}

#[tokio::test]
async fn a_full_server_queue_shrinks_the_adaptive_limit() {
    let h = Harness::demo().await;
    let client = h.client_with(|c| {
        c.max_concurrent_requests = 32;
        c.adaptive_concurrency = Some(secret_server_client::AdaptiveConcurrency { min: 1, initial: 32 });
        c.retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    });
    let me = client.current_user().await.unwrap().id;
    assert_eq!(client.concurrency_limit(), 32);
    // One request at a time and no queue: every other request in flight is refused with 503.
    h.sim.capacity().set(secret_server_sim::CapacitySettings::new(1, 200, 0)).unwrap();
    let calls = (0..8).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.get_user(me).await })
    });
    let results = futures::future::join_all(calls).await;
    assert!(results.iter().any(|r| matches!(r, Ok(Err(ClientError::Server { status: 503, .. })))));
    assert!(client.concurrency_limit() < 32, "limit still {}", client.concurrency_limit());
    h.sim.capacity().set(secret_server_sim::CapacitySettings::default()).unwrap();
    h.finish().await;
}
