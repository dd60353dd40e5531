//! When to retry a failed call, and how long to wait first.
//!
//! Connection failures, `429` and `503` are retried for every method: the
//! server did not act on the request. Other `5xx`, timeouts, broken
//! connections and HTML answers are retried only for idempotent calls, since a
//! `POST` that may have been applied must not be repeated blindly (the caller
//! reconciles by searching). Permanent errors are never retried.

use crate::config::RetryPolicy;
use crate::error::ClientError;
use rand::Rng;
use std::time::{Duration, SystemTime};

/// Whether repeating a call can change more than its first success did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    /// `GET`, `PUT`, `DELETE`, and a `PATCH` that sets absolute values.
    Idempotent,
    /// A `POST` that creates something.
    NotIdempotent,
}

/// True when `error` may be retried for a call of this idempotency.
pub(crate) fn is_retryable(error: &ClientError, idempotency: Idempotency) -> bool {
    match error {
        ClientError::Connect { .. } | ClientError::RateLimited { .. } => true,
        ClientError::Server { status: 503, .. } => true,
        ClientError::Server { .. }
        | ClientError::Timeout { .. }
        | ClientError::Transport { .. }
        | ClientError::HtmlResponse { .. } => idempotency == Idempotency::Idempotent,
        _ => false,
    }
}

impl RetryPolicy {
    /// The sleep before the next attempt after `attempt` attempts failed
    /// (1-based), or `None` when the call must give up: attempts exhausted,
    /// or the server asked for a longer wait than `max_delay`.
    pub(crate) fn delay_before_next(&self, attempt: u32, retry_after: Option<Duration>) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let mut rng = rand::rng();
        match retry_after {
            Some(wait) if wait > self.max_delay => None,
            // Jitter on top of the server's delay, so that the callers it
            // turned away do not all come back in the same instant.
            Some(wait) => Some(wait + jitter(&mut rng, self.base_delay)),
            None => Some(jitter(&mut rng, self.backoff_cap(attempt))),
        }
    }

    /// The upper bound of the full-jitter sleep after `attempt` failures:
    /// `min(max_delay, base_delay * 2^(attempt-1))`.
    pub(crate) fn backoff_cap(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(31);
        self.base_delay.saturating_mul(1u32 << exponent).min(self.max_delay)
    }
}

fn jitter(rng: &mut impl Rng, cap: Duration) -> Duration {
    let cap_nanos = u64::try_from(cap.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=cap_nanos))
}

/// `Retry-After` as delta-seconds or an HTTP date; a date in the past is zero.
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy { max_attempts: 5, base_delay: Duration::from_millis(100), max_delay: Duration::from_secs(1) }
    }

    fn server(status: u16) -> ClientError {
        ClientError::Server { status, message: String::new(), retry_after: None }
    }

    #[test]
    fn backoff_cap_doubles_from_the_base_and_stops_at_the_maximum() {
        let p = policy();
        let caps: Vec<u128> = (1..=6).map(|a| p.backoff_cap(a).as_millis()).collect();
        assert_eq!(caps, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_secs(1));
    }

    #[test]
    fn full_jitter_stays_within_the_cap() {
        let p = policy();
        for attempt in 1..5 {
            for _ in 0..200 {
                let d = p.delay_before_next(attempt, None).unwrap();
                assert!(d <= p.backoff_cap(attempt), "attempt {attempt}: {d:?}");
            }
        }
    }

    #[test]
    fn jitter_actually_varies() {
        let p = policy();
        let samples: std::collections::HashSet<Duration> =
            (0..50).map(|_| p.delay_before_next(3, None).unwrap()).collect();
        assert!(samples.len() > 10, "only {} distinct delays", samples.len());
    }

    #[test]
    fn no_delay_after_the_last_attempt() {
        let p = policy();
        assert!(p.delay_before_next(4, None).is_some());
        assert!(p.delay_before_next(5, None).is_none());
        assert!(RetryPolicy::none().delay_before_next(1, None).is_none());
    }

    #[test]
    fn retry_after_is_honoured_with_at_most_base_delay_of_jitter() {
        let p = policy();
        for _ in 0..100 {
            let d = p.delay_before_next(1, Some(Duration::from_millis(700))).unwrap();
            assert!(d >= Duration::from_millis(700) && d <= Duration::from_millis(800), "{d:?}");
        }
    }

    #[test]
    fn retry_after_beyond_max_delay_gives_up_at_once() {
        assert_eq!(policy().delay_before_next(1, Some(Duration::from_secs(30))), None);
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now), Some(Duration::from_secs(10)));
        assert_eq!(parse_retry_after("Sunday, 06-Nov-94 08:49:39 GMT", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }

    #[test]
    fn connect_errors_429_and_503_are_retried_for_every_method() {
        for e in [
            ClientError::Connect { message: String::new() },
            ClientError::RateLimited { retry_after: None },
            server(503),
        ] {
            assert!(is_retryable(&e, Idempotency::NotIdempotent), "{e}");
            assert!(is_retryable(&e, Idempotency::Idempotent), "{e}");
        }
    }

    #[test]
    fn a_post_that_may_have_been_applied_is_not_retried() {
        for e in [
            server(500),
            server(502),
            ClientError::Timeout { timeout: Duration::from_secs(1) },
            ClientError::Transport { message: String::new() },
            ClientError::HtmlResponse { status: 200 },
        ] {
            assert!(!is_retryable(&e, Idempotency::NotIdempotent), "{e}");
            assert!(is_retryable(&e, Idempotency::Idempotent), "{e}");
        }
    }

    #[test]
    fn permanent_errors_are_never_retried() {
        for e in [
            ClientError::BadRequest { error_code: None, message: String::new(), model_state: None },
            ClientError::NotFound { message: String::new() },
            ClientError::AuthenticationFailed { message: String::new() },
            ClientError::Forbidden { message: String::new() },
            ClientError::Decode { message: String::new() },
        ] {
            assert!(!is_retryable(&e, Idempotency::Idempotent), "{e}");
        }
    }
}
