//! Throttling failed authentication, before any password hash is computed.
//!
//! Every failed verification (a credential checked and found wrong, expired or
//! disabled) takes one token from two buckets: its client address's and its
//! credential identifier's (a Basic user name, an OAuth client id, a digest of
//! a bearer or admin token). While either bucket is empty, attempts from that
//! address or naming that identifier are refused with `429` and `Retry-After`
//! without being verified: a guesser gets a few tries in a burst, then one
//! per refill interval. The address bucket stops one client trying many names;
//! the identifier bucket stops many clients trying one name.
//!
//! The identifier's bucket would also let anyone who knows an identifier (a Basic user name, an
//! OAuth client id: neither is secret) lock its client out, from one address, by failing with it
//! once every few seconds. So an address from which a platform's identifier (SCIM and the token
//! endpoint; not the console's or the admin API's) was verified successfully is
//! trusted with it for a day after its last success: the identifier's bucket does not hold that
//! address back (its own buckets still do), until [`UNTRUSTED_AFTER`] verifications of the
//! identifier fail from that address (one is not enough: a platform's egress addresses are shared
//! by its tenants). A platform keeps calling from the addresses it succeeded from; a guesser
//! elsewhere still meets the identifier's bucket.
//!
//! Only verifications count there: a request without credentials or the same
//! wrong credential again (refused from the verifier's memory) costs no hash.
//! But such refusals still cost a request's worth of CPU, and a client that
//! keeps sending them at full speed takes that CPU from everyone else; so
//! every refusal also takes a token from a third, larger bucket of its
//! address's, and an address out of refusals is throttled too.
//!
//! A throttled answer is held for up to `hold` (the `Retry-After` it carries
//! is at least that long anyway): a client flooding on a few connections then
//! gets a few answers a second, and the CPU goes to the others. Holding costs
//! a timer, not a thread.
//!
//! An IPv6 address is throttled by its /64, the block one host usually holds.
//! Buckets are kept in bounded caches (least recently used go first): a
//! bucket idle long enough to be full again is the same as none.
//!
//! Time is tokio's clock, so that tests step through a refill on a paused clock.

use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use std::net::IpAddr;
use std::time::Duration;
use tokio::time::Instant;

/// How many failures a key may have in a burst, and how fast it earns another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FailureAllowance {
    pub burst: u32,
    pub per_second: f64,
}

impl FailureAllowance {
    /// How long an emptied bucket takes to fill again (after which it is forgotten).
    fn refill_time(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.burst) / self.per_second.max(f64::MIN_POSITIVE))
            .min(Duration::from_secs(86_400))
    }
}

/// The throttle's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleSettings {
    /// Failed verifications per client address (IPv6: per /64). Default: 30, then one a second.
    pub per_address: FailureAllowance,
    /// Failed verifications per credential identifier. Default: 20, then one every 5 seconds.
    pub per_identifier: FailureAllowance,
    /// Refused calls of any kind per client address (no credentials, a repeated wrong one, a
    /// throttled one). Default: 100, then 20 a second.
    pub refusals_per_address: FailureAllowance,
    /// How long a throttled answer is held at most before it is sent (default 1 s).
    pub hold: Duration,
    /// Addresses and identifiers tracked at most (each).
    pub capacity: u64,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        Self {
            per_address: FailureAllowance { burst: 30, per_second: 1.0 },
            per_identifier: FailureAllowance { burst: 20, per_second: 0.2 },
            refusals_per_address: FailureAllowance { burst: 100, per_second: 20.0 },
            hold: Duration::from_secs(1),
            capacity: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket's tokens at `now`.
    fn level(&self, allowance: FailureAllowance, now: Instant) -> f64 {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * allowance.per_second;
        (self.tokens + earned).min(f64::from(allowance.burst))
    }
}

/// Buckets of one kind of key.
struct Buckets<K> {
    allowance: FailureAllowance,
    buckets: Cache<K, Bucket>,
}

impl<K: std::hash::Hash + Eq + Send + Sync + 'static> Buckets<K> {
    fn new(allowance: FailureAllowance, capacity: u64) -> Self {
        let buckets = Cache::builder()
            .max_capacity(capacity)
            .time_to_idle(allowance.refill_time().max(Duration::from_secs(1)))
            .eviction_policy(EvictionPolicy::lru())
            .build();
        Self { allowance, buckets }
    }

    /// `Some(seconds)` to wait when `key`'s bucket is empty.
    fn wait(&self, key: &K, now: Instant) -> Option<u32> {
        let level = self.buckets.get(key)?.level(self.allowance, now);
        (level < 1.0).then(|| {
            let seconds = (1.0 - level) / self.allowance.per_second.max(f64::MIN_POSITIVE);
            (seconds.ceil() as u32).max(1)
        })
    }

    fn take(&self, key: K, now: Instant) {
        let allowance = self.allowance;
        self.buckets.entry(key).and_compute_with(|current| {
            let level = current.map_or(f64::from(allowance.burst), |b| b.into_value().level(allowance, now));
            moka::ops::compute::Op::Put(Bucket { tokens: (level - 1.0).max(0.0), at: now })
        });
    }
}

/// The throttle of failed authentication (one per gateway replica).
pub struct AuthThrottle {
    addresses: Buckets<IpAddr>,
    identifiers: Buckets<String>,
    refusals: Buckets<IpAddr>,
    /// (identifier, address block) pairs that verified successfully lately (see the module's
    /// introduction).
    /// The value: when the pair last verified successfully, and the failures since.
    trusted: Cache<(String, IpAddr), (Instant, u8)>,
    hold: Duration,
}

/// How long an address stays trusted with an identifier after its last successful verification.
const TRUSTED_FOR: Duration = Duration::from_secs(86_400);

/// Failed verifications of an identifier from an address trusted with it that end the trust.
pub const UNTRUSTED_AFTER: u8 = 3;

impl std::fmt::Debug for AuthThrottle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthThrottle")
            .field("addresses", &self.addresses.buckets.entry_count())
            .field("identifiers", &self.identifiers.buckets.entry_count())
            .field("refusals", &self.refusals.buckets.entry_count())
            .field("hold", &self.hold)
            .finish()
    }
}

/// Identifiers longer than this are throttled by their first bytes (a key is never unbounded).
const MAX_IDENTIFIER: usize = 256;

impl AuthThrottle {
    pub fn new(settings: ThrottleSettings) -> Self {
        Self {
            addresses: Buckets::new(settings.per_address, settings.capacity),
            identifiers: Buckets::new(settings.per_identifier, settings.capacity),
            refusals: Buckets::new(settings.refusals_per_address, settings.capacity),
            trusted: Cache::builder()
                .max_capacity(settings.capacity)
                .time_to_live(TRUSTED_FOR)
                .eviction_policy(EvictionPolicy::lru())
                .build(),
            hold: settings.hold,
        }
    }

    /// `Err(retry_after)` when the address has used up its refusals or its failures, or the
    /// identifier its failures.
    ///
    /// # Errors
    /// The seconds until the next attempt would be verified.
    pub fn check(&self, address: Option<IpAddr>, identifier: &str) -> Result<(), u32> {
        let now = Instant::now();
        let identifier = key(identifier);
        let trusted = address.is_some_and(|a| {
            self.trusted
                .get(&(identifier.clone(), block(a)))
                .is_some_and(|(since, _)| now.saturating_duration_since(since) < TRUSTED_FOR)
        });
        let by_identifier = if trusted { None } else { self.identifiers.wait(&identifier, now) };
        match self.address_wait(address, now).max(by_identifier) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    /// `Err(retry_after)` when the address has used up its refusals or its failures (for a call
    /// that presents no credential).
    ///
    /// # Errors
    /// The seconds until the address is answered again.
    pub fn check_address(&self, address: Option<IpAddr>) -> Result<(), u32> {
        match self.address_wait(address, Instant::now()) {
            Some(wait) => Err(wait),
            None => Ok(()),
        }
    }

    fn address_wait(&self, address: Option<IpAddr>, now: Instant) -> Option<u32> {
        let block = block(address?);
        self.addresses.wait(&block, now).max(self.refusals.wait(&block, now))
    }

    /// Counts one refused call of any kind against the address.
    pub fn record_refusal(&self, address: Option<IpAddr>) {
        if let Some(address) = address {
            self.refusals.take(block(address), Instant::now());
        }
    }

    /// Holds a throttled answer: for `retry_after` seconds, at most `hold`.
    pub async fn hold(&self, retry_after: u32) {
        tokio::time::sleep(self.hold.min(Duration::from_secs(retry_after.into()))).await;
    }

    /// Trusts the address with the identifier it was just verified with (see the module's
    /// introduction).
    pub fn record_success(&self, address: Option<IpAddr>, identifier: &str) {
        if let Some(address) = address {
            // The day of trust counts from the last success; the entry is written again only
            // when that moves it on by a minute or more, or clears failures (not at every call).
            let (pair, now) = ((key(identifier), block(address)), Instant::now());
            let fresh = self.trusted.get(&pair).is_some_and(|(since, failures)| {
                failures == 0 && now.saturating_duration_since(since) < Duration::from_secs(60)
            });
            if !fresh {
                self.trusted.insert(pair, (now, 0));
            }
        }
    }

    /// Counts one failed verification against the address and the identifier.
    pub fn record_failure(&self, address: Option<IpAddr>, identifier: &str) {
        let now = Instant::now();
        if let Some(address) = address {
            self.addresses.take(block(address), now);
            self.trusted.entry((key(identifier), block(address))).and_compute_with(|trusted| {
                match trusted.map(moka::Entry::into_value) {
                    // The last success's time is kept: a failure does not extend the trust.
                    Some((since, failures)) if failures + 1 < UNTRUSTED_AFTER => {
                        moka::ops::compute::Op::Put((since, failures + 1))
                    }
                    Some(_) => moka::ops::compute::Op::Remove,
                    None => moka::ops::compute::Op::Nop,
                }
            });
        }
        self.identifiers.take(key(identifier), now);
    }
}

/// The address a bucket is kept for: IPv4 as it is, IPv6 by its /64.
fn block(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !((1u128 << 64) - 1)).into()),
        },
    }
}

fn key(identifier: &str) -> String {
    let mut end = identifier.len().min(MAX_IDENTIFIER);
    while !identifier.is_char_boundary(end) {
        end -= 1;
    }
    identifier[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn throttle(address_burst: u32, identifier_burst: u32) -> AuthThrottle {
        AuthThrottle::new(ThrottleSettings {
            per_address: FailureAllowance { burst: address_burst, per_second: 1.0 },
            per_identifier: FailureAllowance { burst: identifier_burst, per_second: 0.5 },
            capacity: 1_000,
            ..ThrottleSettings::default()
        })
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn a_guesser_cannot_lock_a_client_out_of_the_addresses_it_succeeded_from() {
        let t = throttle(1_000, 3);
        t.record_success(ip("198.51.100.4"), "okta-client");
        for _ in 0..3 {
            t.record_failure(ip("192.0.2.66"), "okta-client");
        }
        assert_eq!(t.check(ip("192.0.2.66"), "okta-client"), Err(2), "the guesser is held back");
        assert_eq!(t.check(ip("203.0.113.9"), "okta-client"), Err(2), "so is any address not trusted with it");
        assert_eq!(t.check(ip("198.51.100.4"), "okta-client"), Ok(()), "the client's own address is not");
        // A day after the last success the address is one like any other (the clock is tokio's).
        tokio::time::advance(TRUSTED_FOR).await;
        for _ in 0..3 {
            t.record_failure(ip("192.0.2.66"), "okta-client");
        }
        assert!(t.check(ip("198.51.100.4"), "okta-client").is_err());
        t.record_success(ip("198.51.100.4"), "okta-client");
        assert_eq!(t.check(ip("198.51.100.4"), "okta-client"), Ok(()), "a new success trusts it again");
        // A few failures from that address with that identifier end the trust (one does not: the
        // address may be shared): a guesser behind it meets the identifier's bucket again.
        t.record_failure(ip("198.51.100.4"), "okta-client");
        assert_eq!(t.check(ip("198.51.100.4"), "okta-client"), Ok(()));
        for _ in 1..UNTRUSTED_AFTER {
            t.record_failure(ip("198.51.100.4"), "okta-client");
        }
        assert!(t.check(ip("198.51.100.4"), "okta-client").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_is_refused_once_its_burst_of_failures_is_spent_until_it_earns_another() {
        let t = throttle(3, 100);
        for i in 0..3 {
            assert_eq!(t.check(ip("192.0.2.7"), &format!("user{i}")), Ok(()));
            t.record_failure(ip("192.0.2.7"), &format!("user{i}"));
        }
        assert_eq!(t.check(ip("192.0.2.7"), "user9"), Err(1));
        assert_eq!(t.check(ip("192.0.2.8"), "user9"), Ok(()), "another address is not concerned");
        tokio::time::advance(Duration::from_millis(999)).await;
        assert_eq!(t.check(ip("192.0.2.7"), "user9"), Err(1));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(t.check(ip("192.0.2.7"), "user9"), Ok(()), "one failure earned back after a second");
    }

    #[tokio::test(start_paused = true)]
    async fn an_identifier_is_refused_from_every_address_once_its_burst_is_spent() {
        let t = throttle(100, 2);
        t.record_failure(ip("192.0.2.1"), "okta-sync");
        t.record_failure(ip("192.0.2.2"), "okta-sync");
        assert_eq!(t.check(ip("192.0.2.3"), "okta-sync"), Err(2), "0.5 failures a second: two seconds");
        assert_eq!(t.check(ip("192.0.2.3"), "entra-sync"), Ok(()));
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(t.check(ip("192.0.2.3"), "okta-sync"), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn an_ipv6_host_is_throttled_by_its_slash_64() {
        let t = throttle(1, 100);
        t.record_failure(ip("2001:db8:1:2::1"), "a");
        assert!(t.check(ip("2001:db8:1:2:ffff::9"), "b").is_err(), "same /64");
        assert_eq!(t.check(ip("2001:db8:1:3::1"), "b"), Ok(()), "another /64");
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_out_of_refusals_of_any_kind_is_throttled_whatever_it_presents() {
        let t = AuthThrottle::new(ThrottleSettings {
            refusals_per_address: FailureAllowance { burst: 2, per_second: 0.5 },
            ..ThrottleSettings::default()
        });
        t.record_refusal(ip("192.0.2.7"));
        assert_eq!(t.check_address(ip("192.0.2.7")), Ok(()));
        t.record_refusal(ip("192.0.2.7"));
        assert_eq!(t.check_address(ip("192.0.2.7")), Err(2));
        assert_eq!(t.check(ip("192.0.2.7"), "okta-sync"), Err(2));
        assert_eq!(t.check_address(ip("192.0.2.8")), Ok(()));
        assert_eq!(t.check_address(None), Ok(()), "no address, no address bucket");
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_answer_is_held_for_its_retry_after_at_most_the_hold() {
        let t =
            AuthThrottle::new(ThrottleSettings { hold: Duration::from_millis(1_500), ..ThrottleSettings::default() });
        let started = Instant::now();
        t.hold(1).await;
        assert_eq!(started.elapsed(), Duration::from_secs(1));
        t.hold(60).await;
        assert_eq!(started.elapsed(), Duration::from_millis(2_500));
    }

    #[tokio::test(start_paused = true)]
    async fn a_bucket_never_holds_more_than_its_burst() {
        let t = throttle(2, 100);
        tokio::time::advance(Duration::from_secs(3600)).await;
        t.record_failure(ip("192.0.2.7"), "a");
        t.record_failure(ip("192.0.2.7"), "b");
        assert!(t.check(ip("192.0.2.7"), "c").is_err());
    }
}
