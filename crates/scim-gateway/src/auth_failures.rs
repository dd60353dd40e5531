//! Failed authentications in the audit trail, as rate-limited summaries.
//!
//! A refused call is not a `ScimCall` of its own: a flood would turn into as
//! many audit events, fill the gateway's audit backlog, and then (under the
//! default `refuse` policy) shut out every legitimate caller. Instead each
//! refusal is counted under its surface, client address, credential
//! identifier and reason, and every `interval` one `AuthFailureSummary` event
//! per such key says how many there were between the first and the last. The
//! keys counted per interval are bounded; beyond the bound, refusals are
//! counted under one overflow key (address and identifier `*`).

use crate::audit::AuditSink;
use audit_events::AuthFailureCount;
use parking_lot::Mutex;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Where the refused call came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Surface {
    /// `/scim/v2`
    Scim,
    /// `/oauth2/token`
    OAuth2,
    /// `/admin/v1`
    Admin,
    /// `/console/sign-in`
    Console,
}

impl Surface {
    pub fn as_str(self) -> &'static str {
        match self {
            Surface::Scim => "scim",
            Surface::OAuth2 => "oauth2",
            Surface::Admin => "admin",
            Surface::Console => "console",
        }
    }
}

/// Why a call was refused before it was authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// No credentials, or none the surface accepts.
    Missing,
    /// The credential was checked and is wrong, revoked, expired or disabled.
    Invalid,
    /// The same wrong credential as a recent attempt, refused from memory.
    Repeated,
    /// Too many recent failures from the address or for the identifier (`429`).
    Throttled,
    /// Every password verification slot was taken (`503`).
    Busy,
    /// The credentials could not be checked (the state store failed, `503`).
    Unavailable,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missing => "missing",
            Reason::Invalid => "invalid",
            Reason::Repeated => "repeated",
            Reason::Throttled => "throttled",
            Reason::Busy => "busy",
            Reason::Unavailable => "unavailable",
        }
    }

    /// The status the call is answered with.
    pub fn status(self) -> u16 {
        match self {
            Reason::Missing | Reason::Invalid | Reason::Repeated => 401,
            Reason::Throttled => 429,
            Reason::Busy | Reason::Unavailable => 503,
        }
    }
}

/// Settings of the summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummarySettings {
    /// How often the counts are written to the audit trail.
    pub interval: Duration,
    /// Distinct keys counted per interval; the rest share one overflow key.
    pub max_keys: usize,
}

impl Default for SummarySettings {
    fn default() -> Self {
        Self { interval: Duration::from_secs(60), max_keys: 1_000 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    surface: Surface,
    address: String,
    identifier: String,
    reason: Reason,
}

#[derive(Debug, Clone, Copy)]
struct Tally {
    count: u64,
    first: SystemTime,
    last: SystemTime,
}

/// The counts of the current interval; [`AuthFailures::flush`] writes them out.
#[derive(Debug)]
pub struct AuthFailures {
    settings: SummarySettings,
    sink: AuditSink,
    counts: Mutex<HashMap<Key, Tally>>,
}

/// Identifiers in a summary are cut to this many characters: a key must stay small whatever was sent.
const MAX_IDENTIFIER: usize = 128;

impl AuthFailures {
    pub fn new(settings: SummarySettings, sink: AuditSink) -> Self {
        Self { settings, sink, counts: Mutex::new(HashMap::new()) }
    }

    /// Counts one refused call.
    pub fn record(&self, surface: Surface, address: Option<IpAddr>, identifier: &str, reason: Reason) {
        metrics::counter!(
            "scim_gateway_auth_failures_total",
            "surface" => surface.as_str(),
            "reason" => reason.as_str()
        )
        .increment(1);
        let now = SystemTime::now();
        let mut key = Key {
            surface,
            address: address.map(|a| a.to_string()).unwrap_or_default(),
            identifier: printable(identifier),
            reason,
        };
        let mut counts = self.counts.lock();
        if !counts.contains_key(&key) && counts.len() >= self.settings.max_keys {
            key.address = "*".to_owned();
            key.identifier = "*".to_owned();
        }
        let tally = counts.entry(key).or_insert(Tally { count: 0, first: now, last: now });
        tally.count += 1;
        tally.last = now;
    }

    /// Writes one summary event per key counted since the last flush, and starts counting afresh.
    pub fn flush(&self) {
        let counts = std::mem::take(&mut *self.counts.lock());
        for (key, tally) in counts {
            self.sink.emit(audit_events::auth_failure_summary(AuthFailureCount {
                surface: key.surface.as_str().to_owned(),
                client_address: key.address,
                credential_id: key.identifier,
                reason: key.reason.as_str().to_owned(),
                status: key.reason.status(),
                count: tally.count,
                first_seen: tally.first,
                last_seen: tally.last,
            }));
        }
    }

    /// Flushes every `interval` until the task is aborted.
    pub fn spawn_flusher(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let failures = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(failures.settings.interval);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                failures.flush();
            }
        })
    }
}

/// `identifier` cut to its first characters, control characters replaced.
fn printable(identifier: &str) -> String {
    identifier.chars().take(MAX_IDENTIFIER).map(|c| if c.is_control() { '\u{fffd}' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::AuditSettings;
    use job_queue::{EventBus, InProcessEventBus, QueueConfig};
    use proto::audit::v1 as pb;

    fn summaries_of(events: &[job_queue::Delivery]) -> Vec<pb::AuthFailureSummary> {
        events
            .iter()
            .filter_map(|d| match <pb::AuditEvent as prost::Message>::decode(d.payload.as_ref()).ok()?.kind {
                Some(pb::audit_event::Kind::AuthFailures(s)) => Some(s),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn refusals_are_counted_per_key_and_written_as_one_summary_each_per_flush() {
        let bus: Arc<dyn EventBus> = Arc::new(InProcessEventBus::new(&QueueConfig::default()).unwrap());
        let mut sub = bus.subscribe("summaries-test", "t").await.unwrap();
        let (sink, task) = crate::audit::start(bus.clone(), AuditSettings::default()).unwrap();
        let failures = AuthFailures::new(SummarySettings { interval: Duration::from_secs(60), max_keys: 2 }, sink);
        let here: Option<IpAddr> = Some("192.0.2.7".parse().unwrap());
        for _ in 0..40 {
            failures.record(Surface::Scim, here, "okta-sync", Reason::Repeated);
        }
        failures.record(Surface::Admin, here, "sha256:0123456789ab", Reason::Invalid);
        // A third key in an interval that holds two: counted under the overflow key.
        failures.record(Surface::OAuth2, None, "client\u{7}\nname", Reason::Throttled);
        failures.flush();
        failures.flush();
        drop(failures);
        task.finish(Duration::from_secs(5)).await;

        let mut got = summaries_of(&sub.next_batch(100, Duration::from_secs(1)).await.unwrap());
        got.sort_by(|a, b| (a.count, &a.surface).cmp(&(b.count, &b.surface)));
        let keys: Vec<_> = got
            .iter()
            .map(|s| {
                (s.surface.as_str(), s.client_address.as_str(), s.credential_id.as_str(), s.reason.as_str(), s.count)
            })
            .collect();
        assert_eq!(
            keys,
            [
                ("admin", "192.0.2.7", "sha256:0123456789ab", "invalid", 1),
                ("oauth2", "*", "*", "throttled", 1),
                ("scim", "192.0.2.7", "okta-sync", "repeated", 40),
            ],
            "one summary per key, and an empty interval writes nothing"
        );
        assert_eq!(got[1].status, 429);
        assert!(got[2].first_seen.unwrap().seconds <= got[2].last_seen.unwrap().seconds);
    }

    #[test]
    fn identifiers_are_cut_short_and_stripped_of_control_characters() {
        assert_eq!(printable("a\u{0}b\nc"), "a\u{fffd}b\u{fffd}c");
        assert_eq!(printable(&"x".repeat(1_000)).chars().count(), MAX_IDENTIFIER);
    }
}
