//! The circuit breaker of one Secret Server: calls to a server that is not answering fail at once.
//!
//! A Secret Server that accepts connections and never answers (a hung application pool, a
//! maintenance window behind a load balancer) or that cannot be reached costs each call its whole
//! `request_timeout`, its retries and its wait for a place among the calls in flight: the callers
//! (the adapter's job workers, shared by every instance it serves) end up all waiting on it. The
//! breaker makes such a server cost microseconds per call instead:
//!
//! - **closed**: calls go through. It counts the calls in a row that ended without an answer
//!   (a timeout, a connection that could not be made, one that broke mid-request); any answer
//!   resets the count, a `4xx` or a `5xx` too (a server that answers `503` or `429` is up, and
//!   the concurrency limit deals with it: see `limit.rs`);
//! - **open**: after `failures` such calls in a row, every call fails at once with
//!   [`ClientError::CircuitOpen`] (nothing sent) carrying what is left of the cooldown, for
//!   `cooldown`;
//! - **half-open**: after the cooldown, one call (the probe) goes through while the others still
//!   fail at once; an answer closes the breaker, no answer opens it again for twice the previous
//!   cooldown, at most `max_cooldown`. A probe that ends without telling anything (dropped by its
//!   caller, not sent) frees its place for the next call.
//!
//! Calls waiting for their token or their place among the calls in flight when it opens fail at
//! once too, and a call does not sleep before a retry into an open breaker (see `client.rs`).
//!
//! [`Rules`] holds these rules alone, fed outcomes and the time (unit-tested, no clock);
//! [`Breaker`] applies them to the client's calls, with the gauge
//! `scim_secret_server_circuit_open{server}` and one log line per change of state.

use crate::config::CircuitBreaker;
use crate::error::ClientError;
use parking_lot::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Gauge of the circuit breaker, by `server` (host and port): 1 while calls are refused (open or
/// half-open), 0 while they go through.
pub const CIRCUIT_OPEN: &str = "scim_secret_server_circuit_open";

/// What a call's end says of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard {
    /// Secret Server answered (whatever it answered).
    Answer,
    /// No answer: a timeout, a connection that could not be made or broke.
    NoAnswer,
    /// Nothing: the call was not sent, or its end says nothing of the server.
    Nothing,
}

impl Heard {
    /// What `result` (a call's error, `None` for a success) says of the server.
    pub(crate) fn of(error: Option<&ClientError>) -> Self {
        let Some(error) = error else { return Heard::Answer };
        match error {
            ClientError::Timeout { .. } | ClientError::Connect { .. } | ClientError::Transport { .. } => {
                Heard::NoAnswer
            }
            ClientError::BadRequest { .. }
            | ClientError::NotFound { .. }
            | ClientError::AuthenticationFailed { .. }
            | ClientError::Forbidden { .. }
            | ClientError::RateLimited { .. }
            | ClientError::Server { .. }
            | ClientError::HtmlResponse { .. }
            | ClientError::Decode { .. }
            | ClientError::NotApplied { .. }
            | ClientError::PageFailed { .. }
            | ClientError::UnexpectedStatus { .. } => Heard::Answer,
            ClientError::Config(_)
            | ClientError::Busy { .. }
            | ClientError::Fenced
            | ClientError::CircuitOpen { .. } => Heard::Nothing,
        }
    }
}

/// Where the breaker stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Closed,
    /// Calls are refused until `until`.
    Open {
        until: Instant,
    },
    /// One call may probe; `probing` while it is out.
    HalfOpen {
        probing: bool,
    },
}

/// A call let through, to give back with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    /// The state's round when the call was let through: a call sent before the last change of
    /// state that ends without an answer is not counted again.
    epoch: u64,
    probe: bool,
}

impl Ticket {
    pub(crate) fn is_probe(self) -> bool {
        self.probe
    }
}

/// A change of state, to log and to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Closed → open: `failures` calls in a row got no answer.
    Opened { cooldown: Duration },
    /// Half-open → open: the probe got no answer.
    Reopened { cooldown: Duration },
    /// Open or half-open → closed: an answer.
    Closed,
}

/// The breaker's rules, without a clock: fed each call's outcome and the time, they say whether
/// the next call goes.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    failures: u32,
    base_cooldown: Duration,
    max_cooldown: Duration,
    state: State,
    /// Calls in a row without an answer, while closed.
    unanswered: u32,
    /// The cooldown of the last opening.
    cooldown: Duration,
    epoch: u64,
}

impl Rules {
    /// Opens after `failures` calls in a row without an answer (at least 1), for `cooldown`,
    /// doubled after each failed probe up to `max_cooldown` (at least `cooldown`).
    pub(crate) fn new(failures: u32, cooldown: Duration, max_cooldown: Duration) -> Self {
        Self {
            failures: failures.max(1),
            base_cooldown: cooldown,
            max_cooldown: max_cooldown.max(cooldown),
            state: State::Closed,
            unanswered: 0,
            cooldown,
            epoch: 0,
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    /// Lets a call through at `now`, or refuses it with the time it should wait.
    pub(crate) fn admit(&mut self, now: Instant) -> Result<Ticket, Duration> {
        match self.state {
            State::Closed => Ok(Ticket { epoch: self.epoch, probe: false }),
            State::Open { until } if now < until => Err(until - now),
            State::Open { .. } => {
                self.epoch += 1;
                self.state = State::HalfOpen { probing: true };
                Ok(Ticket { epoch: self.epoch, probe: true })
            }
            State::HalfOpen { probing: true } => Err(self.base_cooldown),
            State::HalfOpen { probing: false } => {
                self.state = State::HalfOpen { probing: true };
                Ok(Ticket { epoch: self.epoch, probe: true })
            }
        }
    }

    /// Whether a call let through with `ticket`, still unsent at `now` (it waited for its place),
    /// must now be refused (the breaker opened meanwhile), and with what wait.
    pub(crate) fn refuses(&self, ticket: Ticket, now: Instant) -> Option<Duration> {
        match self.state {
            State::Closed => None,
            State::HalfOpen { .. } if ticket.probe && ticket.epoch == self.epoch => None,
            _ => self.refusal(now).or(Some(Duration::ZERO)),
        }
    }

    /// Whether a new call would be refused at `now`, and with what wait (no change of state).
    pub(crate) fn refusal(&self, now: Instant) -> Option<Duration> {
        match self.state {
            State::Open { until } if now < until => Some(until - now),
            State::HalfOpen { probing: true } => Some(self.base_cooldown),
            _ => None,
        }
    }

    /// Takes the outcome of the call let through with `ticket`, ended at `now`.
    pub(crate) fn record(&mut self, ticket: Ticket, heard: Heard, now: Instant) -> Option<Change> {
        match heard {
            // Any answer shows the server up, even one to a call sent before the breaker opened.
            Heard::Answer if self.state == State::Closed => {
                self.unanswered = 0;
                None
            }
            Heard::Answer => {
                self.epoch += 1;
                self.state = State::Closed;
                self.unanswered = 0;
                self.cooldown = self.base_cooldown;
                Some(Change::Closed)
            }
            Heard::NoAnswer if ticket.epoch != self.epoch => None,
            Heard::NoAnswer => match self.state {
                State::Closed => {
                    self.unanswered += 1;
                    (self.unanswered >= self.failures).then(|| {
                        self.open(now, self.base_cooldown);
                        Change::Opened { cooldown: self.cooldown }
                    })
                }
                State::HalfOpen { .. } if ticket.probe => {
                    let longer = self.cooldown.saturating_mul(2).min(self.max_cooldown);
                    self.open(now, longer);
                    Some(Change::Reopened { cooldown: self.cooldown })
                }
                State::HalfOpen { .. } | State::Open { .. } => None,
            },
            Heard::Nothing => {
                if ticket.probe && ticket.epoch == self.epoch && self.state == (State::HalfOpen { probing: true }) {
                    self.state = State::HalfOpen { probing: false };
                }
                None
            }
        }
    }

    fn open(&mut self, now: Instant, cooldown: Duration) {
        self.epoch += 1;
        self.cooldown = cooldown;
        self.unanswered = 0;
        self.state = State::Open { until: now + cooldown };
    }
}

/// The breaker of one client (shared by its clones): [`Rules`] applied to its calls.
#[derive(Debug)]
pub(crate) struct Breaker {
    /// `None`: no breaker, every call goes.
    state: Option<Mutex<Shared>>,
    /// Woken when the breaker opens: calls waiting for their turn fail at once.
    opened: Notify,
    server: String,
}

#[derive(Debug)]
struct Shared {
    rules: Rules,
    /// What the call that opened the breaker ended with, for the refusals.
    cause: String,
}

/// A call let through: give it back with [`Pass::finish`] (the first outcome given counts).
/// Dropped unfinished (a cancelled call), it tells nothing, and a probe frees its place for the
/// next call.
#[derive(Debug)]
pub(crate) struct Pass<'a> {
    breaker: &'a Breaker,
    ticket: Mutex<Option<Ticket>>,
}

impl Breaker {
    /// The breaker of `settings` (`None`: none), labelled `server` in the metrics and logs.
    pub(crate) fn new(settings: Option<CircuitBreaker>, server: String) -> Self {
        if settings.is_some() {
            metrics::gauge!(CIRCUIT_OPEN, "server" => server.clone()).set(0.0);
        }
        let state = settings.map(|s| {
            Mutex::new(Shared { rules: Rules::new(s.failures, s.cooldown, s.max_cooldown), cause: String::new() })
        });
        Self { state, opened: Notify::new(), server }
    }

    /// Whether the breaker is not closed: calls are refused, but for one probe after the cooldown.
    pub(crate) fn is_open(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.lock().rules.state() != State::Closed)
    }

    /// Lets a call through, or refuses it.
    ///
    /// # Errors
    /// [`ClientError::CircuitOpen`] while the breaker is open.
    pub(crate) fn admit(&self) -> Result<Pass<'_>, ClientError> {
        let Some(state) = &self.state else { return Ok(Pass { breaker: self, ticket: Mutex::new(None) }) };
        let mut shared = state.lock();
        match shared.rules.admit(Instant::now()) {
            Ok(ticket) => {
                if ticket.is_probe() {
                    tracing::debug!(server = %self.server, "circuit half-open: one call probes Secret Server");
                }
                Ok(Pass { breaker: self, ticket: Mutex::new(Some(ticket)) })
            }
            Err(wait) => Err(refused(wait, &shared.cause)),
        }
    }

    /// Whether a call that was let through and waited for its turn must not be sent after all.
    ///
    /// # Errors
    /// [`ClientError::CircuitOpen`] when the breaker opened since `pass` was given.
    pub(crate) fn check(&self, pass: &Pass<'_>) -> Result<(), ClientError> {
        let (Some(state), Some(ticket)) = (&self.state, *pass.ticket.lock()) else { return Ok(()) };
        let shared = state.lock();
        match shared.rules.refuses(ticket, Instant::now()) {
            Some(wait) => Err(refused(wait, &shared.cause)),
            None => Ok(()),
        }
    }

    /// Completes, with the refusal, once the call of `pass` must not be sent (see
    /// [`Breaker::check`]); never without a breaker. Raced with a wait, it ends the wait.
    pub(crate) async fn refuses(&self, pass: &Pass<'_>) -> ClientError {
        if self.state.is_none() {
            return std::future::pending().await;
        }
        loop {
            let opened = self.opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            if let Err(refusal) = self.check(pass) {
                return refusal;
            }
            opened.await;
        }
    }

    /// Whether a new call would be refused now (no change of state).
    pub(crate) fn refusing(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.lock().rules.refusal(Instant::now()).is_some())
    }

    /// Completes once a new call would be refused; never without a breaker. Raced with the sleep
    /// before a retry, it ends the sleep.
    pub(crate) async fn opens(&self) {
        if self.state.is_none() {
            return std::future::pending().await;
        }
        loop {
            let opened = self.opened.notified();
            tokio::pin!(opened);
            opened.as_mut().enable();
            if self.refusing() {
                return;
            }
            opened.await;
        }
    }

    fn record(&self, ticket: Ticket, heard: Heard, error: Option<&ClientError>) {
        let Some(state) = &self.state else { return };
        let mut shared = state.lock();
        let Some(change) = shared.rules.record(ticket, heard, Instant::now()) else { return };
        let cause = error.map(ToString::to_string).unwrap_or_default();
        match change {
            Change::Opened { cooldown } => {
                tracing::warn!(
                    server = %self.server,
                    cooldown_ms = millis(cooldown),
                    error = %cause,
                    "Secret Server is not answering: circuit open, calls to it fail at once until a probe is answered"
                );
                shared.cause = cause;
            }
            Change::Reopened { cooldown } => {
                tracing::warn!(
                    server = %self.server,
                    cooldown_ms = millis(cooldown),
                    error = %cause,
                    "Secret Server still not answering the probe: circuit open again"
                );
                shared.cause = cause;
            }
            Change::Closed => {
                tracing::info!(server = %self.server, "Secret Server answered: circuit closed, calls go through");
                shared.cause.clear();
            }
        }
        drop(shared);
        let open = if change == Change::Closed { 0.0 } else { 1.0 };
        metrics::gauge!(CIRCUIT_OPEN, "server" => self.server.clone()).set(open);
        if open > 0.0 {
            self.opened.notify_waiters();
        }
    }
}

impl Pass<'_> {
    /// Gives the call's outcome (`None`: a success); later ones change nothing.
    pub(crate) fn finish(&self, error: Option<&ClientError>) {
        let ticket = self.ticket.lock().take();
        if let Some(ticket) = ticket {
            self.breaker.record(ticket, Heard::of(error), error);
        }
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.get_mut().take() {
            self.breaker.record(ticket, Heard::Nothing, None);
        }
    }
}

fn refused(retry_after: Duration, cause: &str) -> ClientError {
    ClientError::CircuitOpen { retry_after, cause: cause.to_owned() }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    fn timeout() -> ClientError {
        ClientError::Timeout { timeout: 30 * SECOND }
    }

    /// Rules opening after 3 calls without an answer, for 10 s, doubling up to 40 s.
    fn rules() -> Rules {
        Rules::new(3, 10 * SECOND, 40 * SECOND)
    }

    /// Lets `n` calls through at `now` and ends each without an answer; the last change.
    fn unanswered(rules: &mut Rules, n: u32, now: Instant) -> Option<Change> {
        let tickets: Vec<Ticket> = (0..n).map(|_| rules.admit(now).expect("let through")).collect();
        tickets.into_iter().filter_map(|t| rules.record(t, Heard::NoAnswer, now)).last()
    }

    #[test]
    fn what_a_call_ends_with_says_whether_secret_server_answered() {
        let server = |status| ClientError::Server { status, message: String::new(), retry_after: None };
        assert_eq!(Heard::of(None), Heard::Answer);
        for answered in [
            server(500),
            server(503),
            ClientError::RateLimited { retry_after: None },
            ClientError::NotFound { message: String::new() },
            ClientError::AuthenticationFailed { message: String::new() },
            ClientError::HtmlResponse { status: 200 },
        ] {
            assert_eq!(Heard::of(Some(&answered)), Heard::Answer, "{answered}");
        }
        for silent in [
            timeout(),
            ClientError::Connect { message: "refused".into() },
            ClientError::Transport { message: "reset".into() },
        ] {
            assert_eq!(Heard::of(Some(&silent)), Heard::NoAnswer, "{silent}");
        }
        for unsent in [
            ClientError::Busy { waited: SECOND },
            ClientError::Fenced,
            ClientError::CircuitOpen { retry_after: SECOND, cause: String::new() },
        ] {
            assert_eq!(Heard::of(Some(&unsent)), Heard::Nothing, "{unsent}");
        }
    }

    #[test]
    fn it_opens_after_the_configured_calls_in_a_row_get_no_answer() {
        let now = Instant::now();
        let mut rules = rules();
        assert_eq!(unanswered(&mut rules, 2, now), None);
        assert_eq!(rules.state(), State::Closed, "two are not enough");
        assert_eq!(unanswered(&mut rules, 1, now), Some(Change::Opened { cooldown: 10 * SECOND }));
        assert_eq!(rules.state(), State::Open { until: now + 10 * SECOND });
    }

    #[test]
    fn any_answer_resets_the_count_even_an_error_status() {
        let now = Instant::now();
        let mut rules = rules();
        unanswered(&mut rules, 2, now);
        let ticket = rules.admit(now).unwrap();
        let overloaded = ClientError::Server { status: 503, message: String::new(), retry_after: None };
        assert_eq!(rules.record(ticket, Heard::of(Some(&overloaded)), now), None);
        assert_eq!(unanswered(&mut rules, 2, now), None);
        assert_eq!(rules.state(), State::Closed, "the count began again after the 503");
    }

    #[test]
    fn while_open_every_call_is_refused_with_what_is_left_of_the_cooldown() {
        let opened = Instant::now();
        let mut rules = rules();
        unanswered(&mut rules, 3, opened);
        assert_eq!(rules.admit(opened), Err(10 * SECOND));
        assert_eq!(rules.admit(opened + 4 * SECOND), Err(6 * SECOND));
        assert_eq!(rules.refusal(opened + 4 * SECOND), Some(6 * SECOND));
    }

    #[test]
    fn after_the_cooldown_exactly_one_call_probes_and_the_others_are_still_refused() {
        let opened = Instant::now();
        let mut rules = rules();
        unanswered(&mut rules, 3, opened);
        let later = opened + 10 * SECOND;
        assert_eq!(rules.refusal(later), None, "a new call would probe");
        let probe = rules.admit(later).expect("the probe goes");
        assert!(probe.is_probe());
        assert_eq!(rules.state(), State::HalfOpen { probing: true });
        assert_eq!(rules.admit(later), Err(10 * SECOND), "the next waits for the probe");
        assert_eq!(rules.refuses(probe, later), None, "the probe itself is never refused");
    }

    #[test]
    fn an_answered_probe_closes_it_and_the_cooldown_starts_again_from_the_base() {
        let mut now = Instant::now();
        let mut rules = rules();
        unanswered(&mut rules, 3, now);
        now += 10 * SECOND;
        let probe = rules.admit(now).unwrap();
        assert_eq!(rules.record(probe, Heard::NoAnswer, now), Some(Change::Reopened { cooldown: 20 * SECOND }));
        now += 20 * SECOND;
        let probe = rules.admit(now).unwrap();
        assert_eq!(rules.record(probe, Heard::Answer, now), Some(Change::Closed));
        assert_eq!(rules.state(), State::Closed);
        assert!(!rules.admit(now).unwrap().is_probe(), "calls go through again");
        assert_eq!(unanswered(&mut rules, 3, now), Some(Change::Opened { cooldown: 10 * SECOND }));
    }

    #[test]
    fn a_probe_without_an_answer_reopens_it_for_twice_the_cooldown_up_to_the_maximum() {
        let mut now = Instant::now();
        let mut rules = rules();
        unanswered(&mut rules, 3, now);
        let mut cooldowns = Vec::new();
        for _ in 0..4 {
            let State::Open { until } = rules.state() else { panic!("open") };
            now = until;
            let probe = rules.admit(now).unwrap();
            match rules.record(probe, Heard::NoAnswer, now) {
                Some(Change::Reopened { cooldown }) => cooldowns.push(cooldown.as_secs()),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(cooldowns, [20, 40, 40, 40]);
        assert_eq!(rules.admit(now), Err(40 * SECOND));
    }

    #[test]
    fn a_probe_that_tells_nothing_frees_its_place_for_the_next_call() {
        let mut now = Instant::now();
        let mut rules = rules();
        unanswered(&mut rules, 3, now);
        now += 10 * SECOND;
        let probe = rules.admit(now).unwrap();
        assert_eq!(rules.record(probe, Heard::Nothing, now), None);
        assert_eq!(rules.state(), State::HalfOpen { probing: false });
        let next = rules.admit(now).expect("the next call probes");
        assert!(next.is_probe());
        assert_eq!(rules.record(next, Heard::NoAnswer, now), Some(Change::Reopened { cooldown: 20 * SECOND }));
    }

    #[test]
    fn a_call_sent_before_it_opened_is_not_counted_again_but_its_answer_closes_it() {
        let now = Instant::now();
        let mut rules = rules();
        let late = [rules.admit(now).unwrap(), rules.admit(now).unwrap()];
        unanswered(&mut rules, 3, now);
        assert_eq!(rules.record(late[0], Heard::NoAnswer, now), None);
        assert_eq!(rules.state(), State::Open { until: now + 10 * SECOND }, "the cooldown is not extended");
        assert_eq!(rules.record(late[1], Heard::Answer, now), Some(Change::Closed), "the server is up");
    }

    #[test]
    fn a_call_that_waited_for_its_turn_is_refused_once_it_has_opened() {
        let now = Instant::now();
        let mut rules = rules();
        let waiting = rules.admit(now).unwrap();
        assert_eq!(rules.refuses(waiting, now), None);
        unanswered(&mut rules, 3, now);
        assert_eq!(rules.refuses(waiting, now + SECOND), Some(9 * SECOND));
        let probe = rules.admit(now + 10 * SECOND).unwrap();
        assert_eq!(rules.refuses(waiting, now + 10 * SECOND), Some(10 * SECOND), "only the probe goes");
        rules.record(probe, Heard::Answer, now + 10 * SECOND);
        assert_eq!(rules.refuses(waiting, now + 10 * SECOND), None, "closed again: it goes");
    }

    fn breaker(failures: u32) -> Breaker {
        let settings = CircuitBreaker { failures, cooldown: 10 * SECOND, max_cooldown: 40 * SECOND };
        Breaker::new(Some(settings), "test:443".into())
    }

    #[tokio::test(start_paused = true)]
    async fn a_dropped_probe_frees_its_place_and_a_finished_one_decides() {
        let breaker = breaker(1);
        breaker.admit().unwrap().finish(Some(&timeout()));
        assert!(breaker.is_open());
        let refused = breaker.admit().unwrap_err();
        assert!(
            matches!(&refused, ClientError::CircuitOpen { retry_after, cause }
            if *retry_after == 10 * SECOND && cause.contains("did not answer")),
            "{refused:?}"
        );
        tokio::time::advance(10 * SECOND).await;
        let probe = breaker.admit().expect("the probe");
        assert!(breaker.admit().is_err(), "one probe at a time");
        drop(probe);
        let probe = breaker.admit().expect("the dropped probe's place is free");
        probe.finish(None);
        assert!(!breaker.is_open(), "an answer closes it");
        assert!(breaker.admit().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn calls_waiting_for_their_turn_and_sleeping_retries_are_woken_when_it_opens() {
        let breaker = std::sync::Arc::new(breaker(2));
        let waiter = {
            let breaker = breaker.clone();
            tokio::spawn(async move {
                let pass = breaker.admit().unwrap();
                let refused = breaker.refuses(&pass).await;
                drop(pass);
                refused
            })
        };
        let sleeper = {
            let breaker = breaker.clone();
            tokio::spawn(async move { breaker.opens().await })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished() && !sleeper.is_finished(), "nothing to wake them for yet");
        let first = breaker.admit().unwrap();
        let second = breaker.admit().unwrap();
        first.finish(Some(&timeout()));
        second.finish(Some(&ClientError::Connect { message: "refused".into() }));
        let refused = waiter.await.unwrap();
        assert!(matches!(refused, ClientError::CircuitOpen { .. }), "{refused:?}");
        sleeper.await.unwrap();
    }

    #[tokio::test]
    async fn without_a_breaker_every_call_goes_whatever_happens() {
        let breaker = Breaker::new(None, "test:443".into());
        for _ in 0..20 {
            breaker.admit().unwrap().finish(Some(&timeout()));
        }
        assert!(!breaker.is_open());
        assert!(breaker.admit().is_ok());
    }
}
