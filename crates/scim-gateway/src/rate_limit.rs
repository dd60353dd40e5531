//! Per-connection rate limits: a token bucket per connection, `429` with
//! `Retry-After` when it is empty.
//!
//! The buckets are **per replica**: with N gateway replicas behind a load
//! balancer a connection may make up to N times its rate in total. This keeps
//! the hot path free of a Redis round trip; set each connection's limit to
//! its share (limit / replicas) when a global bound matters. A connection's
//! limit comes from the connection (`rateLimit`) or the gateway default.

use connections::{ConnectionId, RateLimit};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::Instant;

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

    fn check_at(&self, connection: &ConnectionId, limit: RateLimit, now: Instant) -> Decision {
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
            Decision::Allowed { remaining: bucket.tokens as u32 }
        } else {
            let wait = (1.0 - bucket.tokens) / limit.requests_per_second.max(f64::MIN_POSITIVE);
            Decision::Limited { retry_after: (wait.ceil() as u32).max(1) }
        }
    }
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

    #[test]
    fn connections_have_separate_buckets() {
        let limiter = RateLimiter::new();
        let limit = RateLimit { requests_per_second: 1.0, burst: 1 };
        let now = Instant::now();
        limiter.check_at(&id(), limit, now);
        assert!(matches!(limiter.check_at(&"entra".parse().unwrap(), limit, now), Decision::Allowed { .. }));
    }
}
