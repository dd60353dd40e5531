//! Retry delays: exponential with jitter, so that jobs failing together do not retry together.

use std::time::Duration;

/// The delay before retry number `attempt` (the attempt that just failed, from 1):
/// `base * 2^(attempt-1)` capped at `max`, then "equal jitter" (half fixed, half
/// random) so the delay never drops below half the nominal one; and never
/// shorter than what the handler asked for.
pub(crate) fn retry_delay(attempt: u32, base: Duration, max: Duration, requested: Option<Duration>) -> Duration {
    let exponent = attempt.saturating_sub(1).min(30);
    let nominal = base.saturating_mul(1u32 << exponent).min(max);
    let half = nominal / 2;
    let jitter = if half.is_zero() { Duration::ZERO } else { half.mul_f64(rand::random::<f64>()) };
    let delay = half + jitter;
    match requested {
        Some(after) => delay.max(after),
        None => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    #[test]
    fn delay_doubles_per_attempt_within_its_jitter_band() {
        for attempt in 1..=5 {
            let nominal = BASE * (1 << (attempt - 1));
            for _ in 0..50 {
                let d = retry_delay(attempt, BASE, MAX, None);
                assert!(
                    d >= nominal / 2 && d <= nominal,
                    "attempt {attempt}: {d:?} not in [{:?}, {nominal:?}]",
                    nominal / 2
                );
            }
        }
    }

    #[test]
    fn delay_never_exceeds_the_maximum_even_after_many_attempts() {
        for attempt in [10, 31, 32, 1000, u32::MAX] {
            assert!(retry_delay(attempt, BASE, MAX, None) <= MAX);
        }
    }

    #[test]
    fn handler_requested_delay_is_a_floor() {
        let asked = Duration::from_secs(30);
        assert_eq!(retry_delay(1, BASE, MAX, Some(asked)), asked);
    }
}
