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
//! Time is tokio's clock, so that tests pause it and step through a cool-down
//! instead of sleeping through it.

use crate::settings::BreakerSettings;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

/// The breaker's answer to "may this request go through?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Refused; retry after this many seconds.
    Rejected {
        retry_after: u32,
    },
}

/// One circuit breaker.
#[derive(Debug)]
pub struct CircuitBreaker {
    name: String,
    settings: BreakerSettings,
    state: Mutex<State>,
}

impl CircuitBreaker {
    pub fn new(name: impl Into<String>, settings: BreakerSettings) -> Self {
        Self { name: name.into(), settings, state: Mutex::new(State::Closed { failures: 0 }) }
    }

    /// Whether a request may go through now. In half-open state only the first caller is allowed (the probe).
    pub fn admit(&self) -> Admission {
        let mut state = self.state.lock();
        match *state {
            State::Closed { .. } => Admission::Allowed,
            State::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *state = State::HalfOpen { probing: true };
                    tracing::info!(breaker = %self.name, "circuit breaker half-open: letting one probe through");
                    Admission::Allowed
                } else {
                    Admission::Rejected { retry_after: ceil_secs(until - now) }
                }
            }
            State::HalfOpen { probing: true } => Admission::Rejected { retry_after: 1 },
            State::HalfOpen { probing: false } => {
                *state = State::HalfOpen { probing: true };
                Admission::Allowed
            }
        }
    }

    /// Records that an admitted request reached a working backend.
    pub fn record_success(&self) {
        let mut state = self.state.lock();
        if !matches!(*state, State::Closed { failures: 0 }) {
            if !matches!(*state, State::Closed { .. }) {
                tracing::info!(breaker = %self.name, "circuit breaker closed");
                metrics::gauge!("scim_gateway_breaker_open", "breaker" => self.name.clone()).set(0.0);
            }
            *state = State::Closed { failures: 0 };
        }
    }

    /// Records an `Unavailable` outcome.
    pub fn record_failure(&self) {
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
            BreakerSettings { failure_threshold: threshold, cool_down: Duration::from_millis(cool_down_ms) },
        )
    }

    #[test]
    fn the_breaker_opens_after_the_threshold_of_consecutive_failures() {
        let b = breaker(3, 60_000);
        b.record_failure();
        b.record_failure();
        assert_eq!(b.admit(), Admission::Allowed);
        b.record_failure();
        assert!(matches!(b.admit(), Admission::Rejected { retry_after } if retry_after >= 59));
    }

    #[test]
    fn a_success_resets_the_count_of_failures() {
        let b = breaker(2, 60_000);
        b.record_failure();
        b.record_success();
        b.record_failure();
        assert_eq!(b.admit(), Admission::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn after_the_cool_down_one_probe_goes_through_and_its_success_closes_the_breaker() {
        let b = breaker(1, 10_000);
        b.record_failure();
        tokio::time::advance(Duration::from_millis(9_999)).await;
        assert_eq!(b.admit(), Admission::Rejected { retry_after: 1 }, "still cooling down");
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(b.admit(), Admission::Allowed);
        assert!(matches!(b.admit(), Admission::Rejected { .. }), "only one probe at a time");
        b.record_success();
        assert_eq!(b.admit(), Admission::Allowed);
        assert_eq!(b.admit(), Admission::Allowed);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_probe_opens_the_breaker_again() {
        let b = breaker(1, 10_000);
        b.record_failure();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.admit(), Admission::Allowed);
        b.record_failure();
        assert_eq!(b.admit(), Admission::Rejected { retry_after: 10 }, "a whole cool-down again");
        assert!(b.is_open());
    }

    #[tokio::test(start_paused = true)]
    async fn retry_after_counts_down_the_cool_down_in_whole_seconds() {
        let b = breaker(1, 5_000);
        b.record_failure();
        assert_eq!(b.retry_after(), 5);
        tokio::time::advance(Duration::from_millis(3_500)).await;
        assert_eq!(b.retry_after(), 2);
        tokio::time::advance(Duration::from_millis(1_500)).await;
        assert!(!b.is_open());
    }
}
