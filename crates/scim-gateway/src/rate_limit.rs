//! Per-connection rate limits: a token bucket per connection, `429` with
//! `Retry-After` when it is empty. Every request takes one token, and a Bulk
//! request one per operation ([`RateLimiter::take_by`]: a Bulk's operations
//! wait for their tokens, up to the Bulk's deadline). Time is tokio's clock.
//!
//! The buckets are **per replica**: with N gateway replicas behind a load
//! balancer a connection may make up to N times its rate in total. This keeps
//! the hot path free of a Redis round trip; set each connection's limit to
//! its share (limit / replicas) when a global bound matters. A connection's
//! limit comes from the connection (`rateLimit`) or the gateway default.

use connections::{ConnectionId, RateLimit};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled_at: Instant,
    limit: RateLimit,
}

/// The decision for one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decision {
    Allowed { remaining: u32 },
    Limited { retry_after: u32 },
}

/// Token buckets by connection.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<ConnectionId, Bucket>>,
}

impl RateLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes one token from `connection`'s bucket under `limit`.
    pub fn check(&self, connection: &ConnectionId, limit: RateLimit) -> Decision {
        self.check_at(connection, limit, Instant::now())
    }

    /// Takes one token from `connection`'s bucket under `limit`, waiting for it while it comes
    /// before `deadline`.
    ///
    /// # Errors
    /// The seconds until the next token (the `Retry-After`) when it would come after `deadline`.
    pub async fn take_by(&self, connection: &ConnectionId, limit: RateLimit, deadline: Instant) -> Result<(), u32> {
        loop {
            let now = Instant::now();
            let wait = match self.take_at(connection, limit, now) {
                Ok(_) => return Ok(()),
                Err(wait) => wait,
            };
            if now + wait > deadline {
                return Err(retry_after(wait));
            }
            // Another request of the connection may take the token first: then wait again.
            tokio::time::sleep(wait).await;
        }
    }

    fn check_at(&self, connection: &ConnectionId, limit: RateLimit, now: Instant) -> Decision {
        match self.take_at(connection, limit, now) {
            Ok(remaining) => Decision::Allowed { remaining },
            Err(wait) => Decision::Limited { retry_after: retry_after(wait) },
        }
    }

    /// Takes a token: the tokens left, or how long until the next one.
    fn take_at(&self, connection: &ConnectionId, limit: RateLimit, now: Instant) -> Result<u32, Duration> {
        let mut buckets = self.buckets.lock();
        let bucket = buckets.entry(connection.clone()).or_insert(Bucket {
            tokens: f64::from(limit.burst),
            refilled_at: now,
            limit,
        });
        if bucket.limit != limit {
            // The connection's limit changed: start from a full bucket under the new limit.
            *bucket = Bucket { tokens: f64::from(limit.burst), refilled_at: now, limit };
        }
        let elapsed = now.saturating_duration_since(bucket.refilled_at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * limit.requests_per_second).min(f64::from(limit.burst));
        bucket.refilled_at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(bucket.tokens as u32)
        } else {
            let wait = (1.0 - bucket.tokens) / limit.requests_per_second.max(f64::MIN_POSITIVE);
            Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::MAX))
        }
    }
}

/// Whole seconds to wait for a token, at least one.
fn retry_after(wait: Duration) -> u32 {
    u32::try_from(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).unwrap_or(u32::MAX).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id() -> ConnectionId {
        "okta".parse().unwrap()
    }

    #[test]
    fn a_burst_is_allowed_and_then_the_bucket_is_empty() {
        let limiter = RateLimiter::new();
        let limit = RateLimit { requests_per_second: 1.0, burst: 3 };
        let now = Instant::now();
        for _ in 0..3 {
            assert!(matches!(limiter.check_at(&id(), limit, now), Decision::Allowed { .. }));
        }
        assert_eq!(limiter.check_at(&id(), limit, now), Decision::Limited { retry_after: 1 });
    }

    #[test]
    fn tokens_come_back_at_the_sustained_rate() {
        let limiter = RateLimiter::new();
        let limit = RateLimit { requests_per_second: 2.0, burst: 1 };
        let now = Instant::now();
        assert!(matches!(limiter.check_at(&id(), limit, now), Decision::Allowed { .. }));
        assert!(matches!(limiter.check_at(&id(), limit, now), Decision::Limited { .. }));
        let later = now + Duration::from_millis(500);
        assert!(matches!(limiter.check_at(&id(), limit, later), Decision::Allowed { .. }));
    }

    #[test]
    fn retry_after_covers_the_wait_for_the_next_token() {
        let limiter = RateLimiter::new();
        let limit = RateLimit { requests_per_second: 0.1, burst: 1 };
        let now = Instant::now();
        limiter.check_at(&id(), limit, now);
        assert_eq!(limiter.check_at(&id(), limit, now), Decision::Limited { retry_after: 10 });
    }

    #[tokio::test(start_paused = true)]
    async fn take_by_waits_for_a_token_that_comes_before_the_deadline_and_refuses_a_later_one() {
        let limiter = RateLimiter::new();
        let limit = RateLimit { requests_per_second: 10.0, burst: 1 };
        let started = Instant::now();
        let deadline = started + Duration::from_secs(5);
        assert_eq!(limiter.take_by(&id(), limit, deadline).await, Ok(()));
        assert_eq!(limiter.take_by(&id(), limit, deadline).await, Ok(()), "the next token comes in 100 ms");
        let waited = Instant::now() - started;
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_millis(101), "{waited:?}");

        let slow = RateLimit { requests_per_second: 0.01, burst: 1 };
        limiter.check(&id(), slow);
        assert_eq!(limiter.take_by(&id(), slow, deadline).await, Err(100), "a token 100 s away is past the deadline");
        assert_eq!(Instant::now() - started, waited, "refused without waiting");
    }

    #[test]
    fn connections_have_separate_buckets() {
        let limiter = RateLimiter::new();
        let limit = RateLimit { requests_per_second: 1.0, burst: 1 };
        let now = Instant::now();
        limiter.check_at(&id(), limit, now);
        assert!(matches!(limiter.check_at(&"entra".parse().unwrap(), limit, now), Decision::Allowed { .. }));
    }
}
