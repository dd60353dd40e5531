//! Circuit breakers: when Secret Server (or the adapter) keeps failing, answer
//! `503` with `Retry-After` at once instead of piling up jobs and waiting
//! connections.
//!
//! One breaker per Secret Server instance guards writes (jobs for that
//! instance), and one named `adapter` guards gRPC reads. Reads are served from
//! the adapter's read model, so an instance's outage does not stop them.
//!
//! Closed → (N consecutive `Unavailable` outcomes) → Open → (cool-down) →
//! HalfOpen: exactly one probe request goes through; its success closes the
//! breaker, its failure opens it again for another cool-down. Client mistakes
//! (4xx) count as successes: Secret Server answered.
//!
//! The breaker never wedges half-open. Every admitted request holds a
//! [`Permit`] and reports its outcome through it; a probe's permit dropped
//! without an outcome (actix drops the handler of a client that went away)
//! records an abandoned probe and frees the slot for the next request. And a
//! probe that neither reports nor is dropped (a handler stuck on a call) is
//! given up after `probe_timeout`, when the next request becomes the probe.
//!
//! Time is tokio's clock, so that tests pause it and step through a cool-down
//! instead of sleeping through it.

use crate::settings::BreakerSettings;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `probe`: the probe in flight (its number and the instant it is given up), if any.
    HalfOpen {
        probe: Option<Probe>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Probe {
    id: u64,
    deadline: Instant,
}

/// The breaker's answer to "may this request go through?".
#[derive(Debug)]
pub enum Admission<'a> {
    /// Go ahead, and report the outcome through the permit.
    Allowed(Permit<'a>),
    /// Refused; retry after this many seconds.
    Rejected { retry_after: u32 },
}

/// An admitted request's right to go through: report its outcome with [`Permit::succeeded`] or
/// [`Permit::failed`]. A probe's permit dropped without an outcome frees the probe's slot.
#[derive(Debug)]
#[must_use = "report the request's outcome through the permit"]
pub struct Permit<'a> {
    breaker: &'a CircuitBreaker,
    /// The probe this request is, in half-open state.
    probe: Option<u64>,
    reported: bool,
}

impl Permit<'_> {
    /// Whether this request is the half-open breaker's probe.
    pub fn is_probe(&self) -> bool {
        self.probe.is_some()
    }

    /// The request reached a working backend (any answer but `Unavailable`).
    pub fn succeeded(mut self) {
        self.reported = true;
        self.breaker.record_success();
    }

    /// The request found the backend unavailable.
    pub fn failed(mut self) {
        self.reported = true;
        self.breaker.record_failure();
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if let (false, Some(id)) = (self.reported, self.probe) {
            self.breaker.abandon(id);
        }
    }
}

/// One circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    settings: BreakerSettings,
    state: Mutex<State>,
    /// Numbers the probes, so that a probe given up late cannot free its successor's slot.
    probes: AtomicU64,
}

impl CircuitBreaker {
    pub fn new(name: impl Into<String>, settings: BreakerSettings) -> Self {
        Self {
            name: name.into(),
            settings,
            state: Mutex::new(State::Closed { failures: 0 }),
            probes: AtomicU64::new(0),
        }
    }

    /// Whether a request may go through now. In half-open state only one caller at a time is
    /// allowed (the probe), until it reports, its permit is dropped, or `probe_timeout` passes.
    pub fn admit(&self) -> Admission<'_> {
        let mut state = self.state.lock();
        let now = Instant::now();
        match *state {
            State::Closed { .. } => Admission::Allowed(self.permit(None)),
            State::Open { until } if now < until => Admission::Rejected { retry_after: ceil_secs(until - now) },
            State::Open { .. } => {
                tracing::info!(breaker = %self.name, "circuit breaker half-open: letting one probe through");
                let probe = self.next_probe(now);
                *state = State::HalfOpen { probe: Some(probe) };
                Admission::Allowed(self.permit(Some(probe.id)))
            }
            // A probe is in flight: its outcome decides soon, so the others try again in a second.
            State::HalfOpen { probe: Some(probe) } if now < probe.deadline => Admission::Rejected { retry_after: 1 },
            State::HalfOpen { probe } => {
                if probe.is_some() {
                    tracing::warn!(breaker = %self.name, timeout = ?self.settings.probe_timeout,
                        "circuit breaker probe timed out: letting another probe through");
                    metrics::counter!("scim_gateway_breaker_probes_abandoned_total", "breaker" => self.name.clone())
                        .increment(1);
                }
                let probe = self.next_probe(now);
                *state = State::HalfOpen { probe: Some(probe) };
                Admission::Allowed(self.permit(Some(probe.id)))
            }
        }
    }

    fn permit(&self, probe: Option<u64>) -> Permit<'_> {
        Permit { breaker: self, probe, reported: false }
    }

    fn next_probe(&self, now: Instant) -> Probe {
        let id = self.probes.fetch_add(1, Ordering::Relaxed) + 1;
        Probe { id, deadline: now + self.settings.probe_timeout }
    }

    /// A probe's permit was dropped without an outcome: free its slot, so that the next request probes.
    fn abandon(&self, id: u64) {
        let mut state = self.state.lock();
        if matches!(*state, State::HalfOpen { probe: Some(probe) } if probe.id == id) {
            *state = State::HalfOpen { probe: None };
            tracing::info!(breaker = %self.name, "circuit breaker probe abandoned: the next request probes");
            metrics::counter!("scim_gateway_breaker_probes_abandoned_total", "breaker" => self.name.clone())
                .increment(1);
        }
    }

    fn record_success(&self) {
        let mut state = self.state.lock();
        if !matches!(*state, State::Closed { failures: 0 }) {
            if !matches!(*state, State::Closed { .. }) {
                tracing::info!(breaker = %self.name, "circuit breaker closed");
                metrics::gauge!("scim_gateway_breaker_open", "breaker" => self.name.clone()).set(0.0);
            }
            *state = State::Closed { failures: 0 };
        }
    }

    fn record_failure(&self) {
        let mut state = self.state.lock();
        let open = match *state {
            State::Closed { failures } if failures + 1 >= self.settings.failure_threshold => true,
            State::Closed { failures } => {
                *state = State::Closed { failures: failures + 1 };
                false
            }
            State::HalfOpen { .. } => true,
            // Failures of requests admitted before the breaker opened change nothing.
            State::Open { .. } => false,
        };
        if open {
            *state = State::Open { until: Instant::now() + self.settings.cool_down };
            tracing::warn!(breaker = %self.name, cool_down = ?self.settings.cool_down, "circuit breaker opened");
            metrics::gauge!("scim_gateway_breaker_open", "breaker" => self.name.clone()).set(1.0);
        }
    }

    /// Whether the breaker is refusing requests now.
    pub fn is_open(&self) -> bool {
        matches!(*self.state.lock(), State::Open { until } if Instant::now() < until)
    }

    /// Seconds until the breaker will let a probe through (1 at least).
    pub fn retry_after(&self) -> u32 {
        match *self.state.lock() {
            State::Open { until } => ceil_secs(until.saturating_duration_since(Instant::now())),
            _ => 1,
        }
    }
}

fn ceil_secs(d: Duration) -> u32 {
    let secs = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    u32::try_from(secs.max(1)).unwrap_or(u32::MAX)
}

/// The breakers by name (`adapter`, and one per Secret Server instance), created on first use.
#[derive(Debug)]
pub struct Breakers {
    settings: BreakerSettings,
    by_name: Mutex<HashMap<String, Arc<CircuitBreaker>>>,
}

impl Breakers {
    pub fn new(settings: BreakerSettings) -> Self {
        Self { settings, by_name: Mutex::new(HashMap::new()) }
    }

    /// The breaker called `name`.
    pub fn get(&self, name: &str) -> Arc<CircuitBreaker> {
        self.by_name
            .lock()
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(CircuitBreaker::new(name, self.settings)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(threshold: u32, cool_down_ms: u64) -> CircuitBreaker {
        CircuitBreaker::new(
            "primary",
            BreakerSettings {
                failure_threshold: threshold,
                cool_down: Duration::from_millis(cool_down_ms),
                probe_timeout: Duration::from_secs(30),
            },
        )
    }

    fn allowed(b: &CircuitBreaker) -> Permit<'_> {
        match b.admit() {
            Admission::Allowed(permit) => permit,
            Admission::Rejected { retry_after } => panic!("refused, retry after {retry_after} s"),
        }
    }

    fn refused(b: &CircuitBreaker) -> u32 {
        match b.admit() {
            Admission::Allowed(permit) => panic!("allowed (probe: {})", permit.is_probe()),
            Admission::Rejected { retry_after } => retry_after,
        }
    }

    /// Opens `b` (threshold 1) and steps through its cool-down, so that the next request is the probe.
    async fn half_open(b: &CircuitBreaker) {
        allowed(b).failed();
        tokio::time::advance(b.settings.cool_down).await;
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_of_consecutive_failures() {
        let b = breaker(3, 60_000);
        allowed(&b).failed();
        allowed(&b).failed();
        let permit = allowed(&b);
        assert!(!permit.is_probe());
        permit.failed();
        assert!(refused(&b) >= 59);
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let b = breaker(2, 60_000);
        allowed(&b).failed();
        allowed(&b).succeeded();
        allowed(&b).failed();
        allowed(&b).succeeded();
    }

    #[test]
    fn a_request_dropped_while_the_breaker_is_closed_changes_nothing() {
        let b = breaker(1, 60_000);
        drop(allowed(&b));
        drop(allowed(&b));
        allowed(&b).succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker() {
        let b = breaker(1, 10_000);
        allowed(&b).failed();
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert_eq!(refused(&b), 1, "still cooling down");
        tokio::time::advance(Duration::from_millis(1)).await;
        let probe = allowed(&b);
        assert!(probe.is_probe());
        refused(&b);
        probe.succeeded();
        allowed(&b).succeeded();
        allowed(&b).succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_the_breaker_again() {
        let b = breaker(1, 10_000);
        half_open(&b).await;
        allowed(&b).failed();
        assert_eq!(refused(&b), 10, "a whole cool-down again");
        assert!(b.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_dropped_without_an_outcome_lets_the_next_request_probe() {
        let b = breaker(1, 10_000);
        half_open(&b).await;
        let probe = allowed(&b);
        refused(&b);
        // actix drops the handler of a client that went away, and its permit with it.
        drop(probe);
        let next = allowed(&b);
        assert!(next.is_probe(), "the next request is the probe");
        refused(&b);
        next.succeeded();
        allowed(&b).succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn a_probe_that_never_reports_is_given_up_after_its_deadline() {
        let b = breaker(1, 10_000);
        half_open(&b).await;
        let stuck = allowed(&b);
        tokio::time::advance(Duration::from_secs(29)).await;
        refused(&b);
        tokio::time::advance(Duration::from_secs(1)).await;
        let second = allowed(&b);
        assert!(second.is_probe(), "another probe once the first one's deadline passed");
        // The first probe, given up, cannot free its successor's slot by going away late.
        drop(stuck);
        refused(&b);
        second.succeeded();
        allowed(&b).succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_outcome_of_a_given_up_probe_still_counts() {
        let b = breaker(1, 10_000);
        half_open(&b).await;
        let stuck = allowed(&b);
        tokio::time::advance(Duration::from_secs(30)).await;
        let second = allowed(&b);
        stuck.succeeded();
        allowed(&b).succeeded();
        second.succeeded();
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_counts_down_the_cool_down_in_whole_seconds() {
        let b = breaker(1, 5_000);
        allowed(&b).failed();
        assert_eq!(b.retry_after(), 5);
        tokio::time::advance(Duration::from_millis(3_500)).await;
        assert_eq!(b.retry_after(), 2);
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert!(!b.is_open());
    }
}
