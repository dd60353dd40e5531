//! The bound on requests in flight to one Secret Server, adaptive by default.
//!
//! A Secret Server serves a limited number of API calls at once (IIS hands a few to the
//! application, queues the next, and answers `503` once its queue is full). Too many calls in
//! flight only lengthen that queue, then get `503`s and timeouts; too few leave it idle. The
//! limit therefore follows what the server shows, as TCP Vegas and Netflix's concurrency-limits
//! do:
//!
//! - every window of about one limit's worth of answers, the queue the calls met is estimated
//!   from their latency: `in flight × (1 − min latency ÷ latency)` (a call that waited behind `q`
//!   others took longer in that proportion); above `beta` the limit shrinks by the excess, below
//!   `alpha` it grows by one (by a quarter at first, until the first sign of a queue, half of
//!   `alpha`: a slow start);
//!   it grows only while the calls actually fill it;
//! - a `503`, a `429` or a timeout shrinks it at once to three quarters, once per round of calls
//!   (the answers of calls sent before the last decrease do not count again);
//! - a `Retry-After` on such an answer also holds every new call back until then;
//! - it stays within `[min, max]`.
//!
//! [`Rules`] holds these rules alone, fed outcomes and latencies (unit-tested, no clock);
//! [`Limiter`] applies them to the client's calls: a call waits for a permit (bounded by
//! `max_wait`, cancellation-safe: a dropped wait takes nothing) and gives it back with its
//! outcome.

use crate::error::ClientError;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;

/// Gauge of the current limit on requests in flight, by `server` (host and port).
pub const CONCURRENCY_LIMIT: &str = "scim_secret_server_concurrency_limit";
/// Gauge of the requests in flight now, by `server`.
pub const IN_FLIGHT: &str = "scim_secret_server_requests_in_flight";

/// How one call ended, as the limit sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Secret Server answered (success or a permanent error) after this long.
    Answered(Duration),
    /// `503`, `429` or a timeout: too much in flight.
    Overloaded,
    /// Says nothing about the server's load (a connection refused, a broken connection).
    Ignored,
}

/// Windows after which the minimum latency is measured again (the server's unloaded latency
/// may have changed since).
const PROBE_WINDOWS: u32 = 1000;

/// The rules of the adaptive limit, without a clock: fed each call's outcome, they say the limit.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    min: usize,
    max: usize,
    limit: usize,
    /// The smallest window average latency seen (the unloaded latency).
    min_latency: Option<Duration>,
    slow_start: bool,
    /// Bumped at each decrease on overload: answers to calls sent before it are not counted again.
    epoch: u64,
    windows: u32,
    window: Window,
}

#[derive(Debug, Clone, Default)]
struct Window {
    samples: usize,
    latency: Duration,
    in_flight: usize,
    max_in_flight: usize,
}

impl Rules {
    /// Starts at `initial`, within `[min, max]` (`max` at least 1, `min` between 1 and `max`).
    pub(crate) fn new(min: usize, initial: usize, max: usize) -> Self {
        let max = max.max(1);
        let min = min.clamp(1, max);
        Self {
            min,
            max,
            limit: initial.clamp(min, max),
            min_latency: None,
            slow_start: true,
            epoch: 0,
            windows: 0,
            window: Window::default(),
        }
    }

    /// The current limit.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// The round a call sent now belongs to (give it back to [`Rules::record`]).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Takes one call's outcome: sent in round `epoch` with `in_flight` calls out (itself
    /// included). Returns the limit after it.
    pub(crate) fn record(&mut self, epoch: u64, in_flight: usize, outcome: Outcome) -> usize {
        match outcome {
            Outcome::Ignored => {}
            Outcome::Overloaded => {
                if epoch == self.epoch {
                    self.limit = (self.limit * 3 / 4).max(self.min);
                    self.epoch += 1;
                    self.slow_start = false;
                    self.window = Window::default();
                }
            }
            Outcome::Answered(latency) => {
                let w = &mut self.window;
                w.samples += 1;
                w.latency += latency;
                w.in_flight += in_flight;
                w.max_in_flight = w.max_in_flight.max(in_flight);
                if w.samples >= self.limit {
                    self.close_window();
                }
            }
        }
        self.limit
    }

    fn close_window(&mut self) {
        let w = std::mem::take(&mut self.window);
        let samples = u32::try_from(w.samples).unwrap_or(u32::MAX).max(1);
        let latency = w.latency / samples;
        self.windows += 1;
        if self.windows.is_multiple_of(PROBE_WINDOWS) {
            self.min_latency = None;
        }
        let min_latency = *self.min_latency.get_or_insert(latency);
        let min_latency = min_latency.min(latency);
        self.min_latency = Some(min_latency);
        if latency.is_zero() {
            return;
        }
        #[allow(clippy::cast_precision_loss)]
        let in_flight = w.in_flight as f64 / f64::from(samples);
        let queue = in_flight * (1.0 - min_latency.as_secs_f64() / latency.as_secs_f64());
        #[allow(clippy::cast_precision_loss)]
        let size = (self.limit as f64).log10();
        // Vegas's thresholds grow with the limit (a larger server tolerates a longer queue),
        // as Netflix's concurrency-limits sets them (3 and 6 × log10 of the limit).
        let alpha = (3.0 * size).max(1.5);
        let beta = (6.0 * size).max(3.0);
        if queue > beta {
            self.slow_start = false;
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let excess = (queue - (alpha + beta) / 2.0).ceil().max(1.0) as usize;
            // At most a tenth per window: one slow window (a pause on the caller's side) is not
            // a queue at the server, and a real queue stays over the next windows.
            let step = excess.min((self.limit / 10).max(1));
            self.limit = self.limit.saturating_sub(step).max(self.min);
        } else if queue >= alpha {
            self.slow_start = false;
        } else if self.slow_start && queue >= alpha / 2.0 {
            // The first sign of a queue ends the slow start, without its step: a window's calls
            // were sent under earlier, lower limits, so the queue it shows lags the limit, and a
            // half-again step taken now overshoots the server's queue into `503`s.
            self.slow_start = false;
        } else if w.max_in_flight >= self.limit {
            // A quarter, not a half: a window's calls were partly sent under the previous limit, so a
            // step can pass a small server's whole queue before any window shows it (from 6 to 9 at
            // a server holding 8 calls, 4 served and 4 queued).
            let step = if self.slow_start { (self.limit / 4).max(1) } else { 1 };
            self.limit = (self.limit + step).min(self.max);
        }
    }
}

/// The bound on requests in flight of one client: adaptive ([`Rules`]) or fixed.
pub(crate) struct Limiter {
    /// Permits free now; the limit is this plus the calls in flight, less the debt.
    permits: Semaphore,
    state: Mutex<State>,
    in_flight: AtomicUsize,
    /// The longest a call waits for a permit (and for a `Retry-After` pause).
    max_wait: Duration,
    /// The longest `Retry-After` pause honoured (a longer one fails the call anyway).
    max_pause: Duration,
    server: String,
}

struct State {
    /// `None`: a fixed limit.
    rules: Option<Rules>,
    limit: usize,
    /// Permits to withhold as calls end, after a decrease that found them all in flight.
    debt: usize,
    paused_until: Option<Instant>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state.lock();
        f.debug_struct("Limiter").field("limit", &state.limit).field("adaptive", &state.rules.is_some()).finish()
    }
}

/// A call's permit: give it back with [`Permit::finish`]; dropped unfinished (a cancelled call),
/// it frees its place without a sample.
pub(crate) struct Permit<'a> {
    limiter: &'a Limiter,
    permit: Option<SemaphorePermit<'a>>,
    epoch: u64,
    in_flight: usize,
    started: Instant,
}

impl Limiter {
    /// An adaptive limit (`rules`) or a fixed one of `max` (`rules` `None`), labelled `server` in
    /// the metrics.
    pub(crate) fn new(
        rules: Option<Rules>,
        max: usize,
        max_wait: Duration,
        max_pause: Duration,
        server: String,
    ) -> Self {
        let limit = rules.as_ref().map_or(max, Rules::limit);
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!(CONCURRENCY_LIMIT, "server" => server.clone()).set(limit as f64);
        Self {
            permits: Semaphore::new(limit),
            state: Mutex::new(State { rules, limit, debt: 0, paused_until: None }),
            in_flight: AtomicUsize::new(0),
            max_wait,
            max_pause,
            server,
        }
    }

    /// The current limit.
    pub(crate) fn limit(&self) -> usize {
        self.state.lock().limit
    }

    /// Waits for a place among the calls in flight (after any `Retry-After` pause).
    ///
    /// # Errors
    /// [`ClientError::Busy`] when none frees up within `max_wait`.
    pub(crate) async fn acquire(&self) -> Result<Permit<'_>, ClientError> {
        let deadline = Instant::now() + self.max_wait;
        let paused_until = self.state.lock().paused_until;
        if let Some(until) = paused_until.filter(|u| *u > Instant::now()) {
            tokio::time::sleep_until(until.min(deadline)).await;
        }
        let busy = || ClientError::Busy { waited: self.max_wait };
        let permit = match tokio::time::timeout_at(deadline, self.permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            Ok(Err(_)) | Err(_) => return Err(busy()),
        };
        let in_flight = self.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!(IN_FLIGHT, "server" => self.server.clone()).set(in_flight as f64);
        let epoch = self.state.lock().rules.as_ref().map_or(0, Rules::epoch);
        Ok(Permit { limiter: self, permit: Some(permit), epoch, in_flight, started: Instant::now() })
    }

    /// Moves the limit to `to`: frees permits, or withholds them (now, or as calls end).
    fn resize(&self, state: &mut State, to: usize) {
        if to > state.limit {
            let more = to - state.limit;
            let paid = more.min(state.debt);
            state.debt -= paid;
            self.permits.add_permits(more - paid);
        } else {
            for _ in to..state.limit {
                match self.permits.try_acquire() {
                    Ok(permit) => permit.forget(),
                    Err(_) => state.debt += 1,
                }
            }
        }
        if to != state.limit {
            state.limit = to;
            #[allow(clippy::cast_precision_loss)]
            metrics::gauge!(CONCURRENCY_LIMIT, "server" => self.server.clone()).set(to as f64);
        }
    }
}

impl Permit<'_> {
    /// How long since the permit was granted.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Gives the permit back with the call's outcome, and the `Retry-After` the server asked for.
    pub(crate) fn finish(self, outcome: Outcome, retry_after: Option<Duration>) {
        let limiter = self.limiter;
        let mut state = limiter.state.lock();
        if let Some(rules) = state.rules.as_mut() {
            let to = rules.record(self.epoch, self.in_flight, outcome);
            limiter.resize(&mut state, to);
        }
        if let Some(wait) = retry_after.filter(|w| !w.is_zero()) {
            let until = Instant::now() + wait.min(limiter.max_pause);
            state.paused_until = Some(state.paused_until.map_or(until, |u| u.max(until)));
        }
        drop(state);
        // `self` drops here and frees its place.
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let in_flight = self.limiter.in_flight.fetch_sub(1, Ordering::AcqRel) - 1;
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!(IN_FLIGHT, "server" => self.limiter.server.clone()).set(in_flight as f64);
        if let Some(permit) = self.permit.take() {
            let mut state = self.limiter.state.lock();
            if state.debt > 0 {
                state.debt -= 1;
                permit.forget();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds `rules` one window of answers, each with `in_flight` out and `latency`.
    fn window(rules: &mut Rules, in_flight: usize, latency: Duration) -> usize {
        let n = rules.limit();
        for _ in 0..n {
            rules.record(rules.epoch(), in_flight, Outcome::Answered(latency));
        }
        rules.limit()
    }

    /// A server of `capacity` at `service` each: `in_flight` calls take `service × in_flight ÷
    /// capacity` once they exceed it.
    fn served(capacity: usize, service: Duration, in_flight: usize) -> Duration {
        if in_flight <= capacity {
            service
        } else {
            service * u32::try_from(in_flight).unwrap() / u32::try_from(capacity).unwrap()
        }
    }

    #[test]
    fn it_starts_at_the_initial_limit_within_the_bounds() {
        assert_eq!(Rules::new(1, 8, 16).limit(), 8);
        assert_eq!(Rules::new(4, 1, 16).limit(), 4);
        assert_eq!(Rules::new(0, 100, 16).limit(), 16);
        assert_eq!(Rules::new(8, 8, 4).limit(), 4, "a floor above the maximum is lowered to it");
    }

    #[test]
    fn while_latency_stays_at_its_minimum_and_the_calls_fill_the_limit_it_grows() {
        let mut rules = Rules::new(1, 4, 64);
        assert_eq!(window(&mut rules, 4, 20 * MS), 5, "slow start: by a quarter, at least one");
        assert_eq!(window(&mut rules, 5, 20 * MS), 6);
        let mut limit = 6;
        for _ in 0..4 {
            limit = window(&mut rules, limit, 20 * MS);
        }
        assert_eq!(limit, 12, "6, 7, 8, 10, 12");
    }

    #[test]
    fn the_slow_start_ends_at_the_first_sign_of_a_queue_without_its_step() {
        let mut rules = Rules::new(1, 18, 256);
        // The unloaded latency, from calls that do not fill the limit (so it does not grow).
        window(&mut rules, 10, 20 * MS);
        // 18 in flight at 22.5 ms for a 20 ms minimum: about 2 queued, under alpha (3.8) but
        // over half of it.
        assert_eq!(window(&mut rules, 18, Duration::from_micros(22_500)), 18);
        assert_eq!(window(&mut rules, 18, 20 * MS), 19, "then by one, not by half");
    }

    #[test]
    fn the_slow_start_does_not_pass_a_small_server_s_queue_before_a_window_shows_it() {
        // A server of 4 places that queues 4 more and refuses the ninth call; each window's first
        // half was sent under the previous limit (the lag that hides the queue from the window).
        let (capacity, places) = (4, 8);
        let mut rules = Rules::new(1, 4, 256);
        let mut previous = rules.limit();
        let mut highest = previous;
        for _ in 0..50 {
            let limit = rules.limit();
            for sample in 0..limit {
                let in_flight = if sample < limit / 2 { previous } else { limit };
                rules.record(rules.epoch(), in_flight, Outcome::Answered(served(capacity, 20 * MS, in_flight)));
            }
            previous = limit;
            highest = highest.max(rules.limit());
        }
        assert!(highest <= places, "the limit reached {highest}, past the server's {places} places");
        assert!(rules.limit() > capacity, "and it still uses the whole server: {}", rules.limit());
    }

    #[test]
    fn it_does_not_grow_while_the_calls_do_not_fill_it() {
        let mut rules = Rules::new(1, 8, 64);
        assert_eq!(window(&mut rules, 3, 20 * MS), 8);
        assert_eq!(window(&mut rules, 3, 20 * MS), 8);
    }

    #[test]
    fn latency_growing_with_a_queue_shrinks_it_a_tenth_per_window() {
        let mut rules = Rules::new(1, 40, 64);
        // The unloaded latency, from calls that do not fill the limit (so it does not grow).
        window(&mut rules, 10, 20 * MS);
        // 40 in flight took 40 ms where 20 ms is the minimum: about 20 queued.
        assert_eq!(window(&mut rules, 40, 40 * MS), 36);
        assert_eq!(window(&mut rules, 36, 40 * MS), 33);
    }

    #[test]
    fn a_small_queue_holds_it_steady() {
        let mut rules = Rules::new(1, 16, 64);
        window(&mut rules, 8, 20 * MS);
        // 16 in flight at 27 ms for a 20 ms minimum: about 4 queued, between alpha and beta.
        assert_eq!(window(&mut rules, 16, 27 * MS), 16);
        assert_eq!(window(&mut rules, 16, 27 * MS), 16);
    }

    #[test]
    fn an_overload_answer_shrinks_it_to_three_quarters_once_per_round() {
        let mut rules = Rules::new(1, 32, 64);
        let round = rules.epoch();
        assert_eq!(rules.record(round, 32, Outcome::Overloaded), 24);
        // Other calls of the same round answered 503 too: already counted.
        assert_eq!(rules.record(round, 32, Outcome::Overloaded), 24);
        assert_eq!(rules.record(rules.epoch(), 24, Outcome::Overloaded), 18, "a call sent after the decrease counts");
    }

    #[test]
    fn it_never_leaves_its_bounds() {
        let mut rules = Rules::new(3, 4, 10);
        for _ in 0..10 {
            rules.record(rules.epoch(), 4, Outcome::Overloaded);
        }
        assert_eq!(rules.limit(), 3);
        for _ in 0..50 {
            let limit = rules.limit();
            window(&mut rules, limit, 20 * MS);
        }
        assert_eq!(rules.limit(), 10);
    }

    #[test]
    fn ignored_outcomes_change_nothing() {
        let mut rules = Rules::new(1, 8, 64);
        for _ in 0..100 {
            rules.record(rules.epoch(), 8, Outcome::Ignored);
        }
        assert_eq!(rules.limit(), 8);
    }

    #[test]
    fn against_a_modelled_server_it_settles_just_above_the_capacity() {
        for capacity in [4, 16, 64] {
            let mut rules = Rules::new(1, 4, 256);
            for _ in 0..300 {
                let in_flight = rules.limit();
                window(&mut rules, in_flight, served(capacity, 20 * MS, in_flight));
            }
            let limit = rules.limit();
            assert!(limit >= capacity && limit <= capacity + capacity / 4 + 6, "capacity {capacity}: limit {limit}");
        }
    }

    #[tokio::test]
    async fn a_decrease_with_every_permit_out_is_paid_back_as_calls_end() {
        let limiter =
            Limiter::new(Some(Rules::new(1, 4, 8)), 8, Duration::from_secs(1), Duration::from_secs(1), "t".into());
        let mut held = Vec::new();
        for _ in 0..4 {
            held.push(limiter.acquire().await.unwrap());
        }
        {
            let mut state = limiter.state.lock();
            limiter.resize(&mut state, 2);
            assert_eq!(state.debt, 2, "every place is taken: two are withheld as calls end");
        }
        held.clear();
        assert_eq!(limiter.permits.available_permits(), 2, "two places withheld as the calls ended");
        assert_eq!(limiter.limit(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn no_place_within_the_bound_is_busy_and_a_dropped_wait_takes_nothing() {
        let limiter = Limiter::new(None, 1, Duration::from_secs(1), Duration::from_secs(1), "t".into());
        let held = limiter.acquire().await.unwrap();
        assert!(matches!(limiter.acquire().await, Err(ClientError::Busy { .. })));
        drop(held);
        let again = limiter.acquire().await;
        assert!(again.is_ok(), "the place came back");
    }
}
