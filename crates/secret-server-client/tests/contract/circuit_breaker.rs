//! The circuit breaker against a server that accepts connections and never answers (a hung
//! application pool, a maintenance window behind a load balancer): once the configured calls in a
//! row have timed out, calls fail at once and the server sees no new request; after the cooldown
//! one call probes it, and an answer closes the circuit.

use crate::recorder::{TestRecorder, with_recorder};
use secrecy::SecretString;
use secret_server_client::telemetry::RETRIES_TOTAL;
use secret_server_client::{CIRCUIT_OPEN, CircuitBreaker, ClientConfig, ClientError, RetryPolicy, SecretServerClient};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const HEALTHY: &str = include_str!("../fixtures/healthcheck.json");

/// A server that reads every request and, while it hangs, answers none (the connection stays open
/// until the client gives up on it); told to answer, it answers each with a healthy health check.
struct Hanging {
    base_url: String,
    /// The `server` label of the client's metrics.
    label: String,
    requests: Arc<AtomicUsize>,
    hangs: Arc<AtomicBool>,
}

impl Hanging {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (requests, hangs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(true)));
        let (seen, hanging) = (Arc::clone(&requests), Arc::clone(&hangs));
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serve(socket, Arc::clone(&seen), Arc::clone(&hanging)));
            }
        });
        Self { base_url: format!("http://{address}/SecretServer"), label: format!("server={address}"), requests, hangs }
    }

    /// The requests it has received (answered or not).
    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// From now on it answers.
    fn answers_again(&self) {
        self.hangs.store(false, Ordering::SeqCst);
    }
}

async fn serve(mut socket: TcpStream, requests: Arc<AtomicUsize>, hangs: Arc<AtomicBool>) {
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let head = loop {
            if let Some(at) = received.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        };
        let length = String::from_utf8_lossy(&received[..head])
            .to_ascii_lowercase()
            .lines()
            .find_map(|line| line.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
            .unwrap_or(0);
        while received.len() < head + length {
            match socket.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&chunk[..n]),
            }
        }
        received.drain(..head + length);
        requests.fetch_add(1, Ordering::SeqCst);
        if hangs.load(Ordering::SeqCst) {
            while matches!(socket.read(&mut chunk).await, Ok(n) if n > 0) {}
            return;
        }
        let answer = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{HEALTHY}",
            HEALTHY.len()
        );
        if socket.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// A client of `server` that gives each request `timeout` and never retries, with a breaker
/// opening after `failures` calls without an answer for `cooldown` (doubling up to 5 s).
fn client_of(
    server: &Hanging,
    failures: u32,
    cooldown: Duration,
    timeout: Duration,
    tweak: impl FnOnce(&mut ClientConfig),
) -> SecretServerClient {
    let url = url::Url::parse(&server.base_url).unwrap();
    let mut config = ClientConfig::new(url, "scim-api", SecretString::from("Api-Passw0rd!")).allowing_http();
    config.request_timeout = timeout;
    config.retry = RetryPolicy::none();
    config.circuit_breaker = Some(CircuitBreaker { failures, cooldown, max_cooldown: cooldown.max(HOUR) });
    tweak(&mut config);
    SecretServerClient::new(config).unwrap()
}

const HOUR: Duration = Duration::from_secs(3600);
const MS: Duration = Duration::from_millis(1);

fn is_circuit_open(result: &Result<impl std::fmt::Debug, ClientError>) -> bool {
    matches!(result, Err(ClientError::CircuitOpen { .. }))
}

#[test]
fn a_server_that_never_answers_is_refused_at_once_after_the_calls_in_a_row_time_out() {
    let recorder = TestRecorder::default();
    with_recorder(&recorder, || async {
        let server = Hanging::start().await;
        let client = client_of(&server, 3, HOUR, 200 * MS, |_| {});
        for _ in 0..3 {
            // The token request is the call's first request: it hangs like any other.
            let error = client.current_user().await.unwrap_err();
            assert!(matches!(error, ClientError::Timeout { .. }), "{error:?}");
        }
        assert_eq!(server.requests(), 3, "three token requests, none answered");
        assert!(client.circuit_open());
        assert_eq!(recorder.gauge(CIRCUIT_OPEN, &server.label), Some(1.0), "the gauge shows it open");

        for _ in 0..20 {
            let error = client.current_user().await.unwrap_err();
            let ClientError::CircuitOpen { retry_after, cause } = &error else { panic!("{error:?}") };
            assert!(!retry_after.is_zero() && *retry_after <= HOUR, "{retry_after:?}");
            assert!(cause.contains("did not answer within 200 ms"), "it says why: {cause}");
            assert!(error.never_sent() && error.is_transient());
        }
        assert_eq!(server.requests(), 3, "the refused calls sent nothing");
    });
}

#[tokio::test]
async fn after_the_cooldown_one_probe_goes_while_the_others_are_refused_and_an_answer_closes_the_circuit() {
    let server = Hanging::start().await;
    let client = client_of(&server, 2, 500 * MS, Duration::from_secs(1), |_| {});
    let (first, second) = tokio::join!(client.healthcheck(), client.healthcheck());
    assert!(matches!((&first, &second), (Err(ClientError::Timeout { .. }), Err(ClientError::Timeout { .. }))));
    assert!(is_circuit_open(&client.healthcheck().await));

    // The first call after the cooldown probes the server, which does not answer it either.
    let probe = tokio::spawn({
        let client = client.clone();
        async move {
            loop {
                match client.healthcheck().await {
                    Err(ClientError::CircuitOpen { .. }) => tokio::time::sleep(20 * MS).await,
                    other => return other,
                }
            }
        }
    });
    let probed =
        test_support::poll_until(Duration::from_secs(10), 10 * MS, || async { (server.requests() == 3).then_some(()) })
            .await;
    assert!(probed.is_some(), "a probe reached the server after the cooldown");
    assert!(is_circuit_open(&client.healthcheck().await), "another call is refused while the probe is out");
    let probe = probe.await.unwrap();
    assert!(matches!(probe, Err(ClientError::Timeout { .. })), "{probe:?}");
    assert!(client.circuit_open(), "the probe got no answer: open again");
    assert_eq!(server.requests(), 3, "one probe, nothing else");

    server.answers_again();
    let answered =
        test_support::poll_until(Duration::from_secs(10), 20 * MS, || async { client.healthcheck().await.ok() }).await;
    assert!(answered.is_some_and(|health| health.healthy), "the next probe is answered");
    assert!(!client.circuit_open(), "an answer closes the circuit");
    for _ in 0..3 {
        client.healthcheck().await.expect("calls go through again");
    }
}

#[tokio::test]
async fn calls_waiting_for_a_place_fail_at_once_when_the_circuit_opens() {
    let server = Hanging::start().await;
    let client = client_of(&server, 1, HOUR, 500 * MS, |c| {
        c.max_concurrent_requests = 2;
        c.adaptive_concurrency = None;
        c.max_queue_wait = HOUR;
    });
    let calls = (0..6).map(|_| {
        let client = client.clone();
        tokio::spawn(async move { client.healthcheck().await })
    });
    let results: Vec<_> = futures::future::join_all(calls).await.into_iter().map(Result::unwrap).collect();
    let timed_out = results.iter().filter(|r| matches!(r, Err(ClientError::Timeout { .. }))).count();
    let refused = results.iter().filter(|r| is_circuit_open(r)).count();
    assert_eq!((timed_out, refused), (2, 4), "the two in flight timed out, the four waiting were refused: {results:?}");
    assert_eq!(server.requests(), 2, "the waiting calls sent nothing");
}

#[test]
fn a_failed_call_does_not_sleep_before_a_retry_into_an_open_circuit() {
    let recorder = TestRecorder::default();
    with_recorder(&recorder, || async {
        let server = Hanging::start().await;
        let long_backoff = RetryPolicy { max_attempts: 4, base_delay: 600_000 * MS, max_delay: 600_000 * MS };
        let client = client_of(&server, 1, HOUR, 200 * MS, |c| c.retry = long_backoff);
        let result = tokio::time::timeout(Duration::from_secs(60), client.healthcheck()).await;
        let error = result.expect("no sleep before a retry").unwrap_err();
        assert!(matches!(error, ClientError::Timeout { .. }), "the call says its request was sent: {error:?}");
        assert!(!error.never_sent());
        assert_eq!(recorder.total(RETRIES_TOTAL), 0, "no retry was even scheduled");
        assert_eq!(server.requests(), 1);
    });
}
