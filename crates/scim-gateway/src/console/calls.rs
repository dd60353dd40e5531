//! The SCIM calls this gateway answered, for the console: the live page (the Delinea connector's
//! "Messages"), each connection's recent calls, and the overview's chart of the last hour.
//!
//! Kept in memory, per replica, bounded ([`CAPACITY`] calls, none older than an hour): the durable
//! record of every call is the audit trail, which the audit page reads across replicas; this feed
//! is what arrives here, as it arrives, without a round trip through the events stream.

use actix_web::http::Method;
use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::Arc;
use time::OffsetDateTime;
use tokio::sync::broadcast;

/// The most calls kept.
pub const CAPACITY: usize = 10_000;

/// How far back the feed keeps calls.
pub const WINDOW: time::Duration = time::Duration::hours(1);

/// The most distinct connection ids and routes [`CallFeed::name`] keeps (then it starts over).
const NAMES: usize = 1024;

/// One SCIM call, as the console shows it (no payload, no credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRecord {
    pub at: OffsetDateTime,
    /// The connection's id, shared by its calls (see [`CallFeed::name`]).
    pub connection: Arc<str>,
    pub method: Method,
    /// The route's template, shared by its calls (see [`CallFeed::name`]).
    pub route: Arc<str>,
    pub resource_id: String,
    pub status: u16,
    pub latency_micros: u64,
    pub trace_id: String,
}

/// Calls per connection in equal slices of the last hour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// The slices' length.
    pub slice: time::Duration,
    /// Per connection: calls and failed calls (status 500 and above, or 4xx other than 404/409/412)
    /// in each slice, oldest first.
    pub connections: BTreeMap<String, Vec<(u32, u32)>>,
}

/// The feed of recent calls.
#[derive(Debug)]
pub struct CallFeed {
    recent: Mutex<VecDeque<Arc<CallRecord>>>,
    live: broadcast::Sender<Arc<CallRecord>>,
    /// The connection ids and routes of the calls, one copy of each.
    names: Mutex<HashSet<Arc<str>>>,
}

impl Default for CallFeed {
    fn default() -> Self {
        Self::new()
    }
}

impl CallFeed {
    pub fn new() -> Self {
        Self {
            recent: Mutex::new(VecDeque::with_capacity(1024)),
            live: broadcast::channel(256).0,
            names: Mutex::new(HashSet::new()),
        }
    }

    /// `text` as a shared string, the same one for every call that names it: every call records
    /// its connection and its route, and the feed holds up to [`CAPACITY`] of them, so a copy of
    /// each per call was two allocations made and two freed per call. Connections and routes are
    /// few; past [`NAMES`] of them, the set starts over.
    pub fn name(&self, text: &str) -> Arc<str> {
        let mut names = self.names.lock();
        if let Some(name) = names.get(text) {
            return name.clone();
        }
        if names.len() >= NAMES {
            names.clear();
        }
        let name: Arc<str> = Arc::from(text);
        names.insert(name.clone());
        name
    }

    /// Adds a call (dropping the oldest beyond [`CAPACITY`] or the [`WINDOW`]).
    pub fn record(&self, call: CallRecord) {
        let call = Arc::new(call);
        {
            let mut recent = self.recent.lock();
            let horizon = call.at - WINDOW;
            while recent.front().is_some_and(|c| c.at < horizon) || recent.len() >= CAPACITY {
                recent.pop_front();
            }
            recent.push_back(call.clone());
        }
        // No subscriber is fine: nobody is watching.
        let _ = self.live.send(call);
    }

    /// The latest `count` calls, newest first, of `connection` when given.
    pub fn latest(&self, count: usize, connection: Option<&str>) -> Vec<Arc<CallRecord>> {
        self.recent
            .lock()
            .iter()
            .rev()
            .filter(|c| connection.is_none_or(|id| &*c.connection == id))
            .take(count)
            .cloned()
            .collect()
    }

    /// Calls as they arrive.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<CallRecord>> {
        self.live.subscribe()
    }

    /// Calls and failures per connection over the last hour, in `slices` slices ending `now`.
    pub fn activity(&self, now: OffsetDateTime, slices: u32) -> Activity {
        let slices = slices.max(1);
        let slice = WINDOW / slices;
        let start = now - WINDOW;
        let mut connections: BTreeMap<String, Vec<(u32, u32)>> = BTreeMap::new();
        for call in self.recent.lock().iter().filter(|c| c.at >= start && c.at <= now) {
            let index = (((call.at - start) / slice) as usize).min(slices as usize - 1);
            let counts =
                connections.entry(call.connection.to_string()).or_insert_with(|| vec![(0, 0); slices as usize]);
            counts[index].0 += 1;
            if is_failure(call.status) {
                counts[index].1 += 1;
            }
        }
        Activity { slice, connections }
    }
}

/// Whether a status is a failure worth an administrator's look: every 5xx, and the 4xx that say
/// the client or its credentials are wrong (not a 404 of a lookup, a 409 of a duplicate create or
/// a 412 of a stale version, which SCIM clients meet in normal work).
pub fn is_failure(status: u16) -> bool {
    status >= 500 || (status >= 400 && !matches!(status, 404 | 409 | 412))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(connection: &str, at: OffsetDateTime, status: u16) -> CallRecord {
        CallRecord {
            at,
            connection: connection.into(),
            method: Method::GET,
            route: "/scim/v2/Users".into(),
            resource_id: String::new(),
            status,
            latency_micros: 1000,
            trace_id: String::new(),
        }
    }

    #[test]
    fn the_feed_keeps_the_last_hour_and_counts_calls_and_failures_per_connection() {
        let feed = CallFeed::new();
        let now = OffsetDateTime::now_utc();
        feed.record(call("okta", now - time::Duration::minutes(90), 200));
        feed.record(call("okta", now - time::Duration::minutes(50), 200));
        feed.record(call("okta", now - time::Duration::minutes(1), 500));
        feed.record(call("entra", now - time::Duration::minutes(1), 404));
        assert_eq!(feed.latest(10, None).len(), 3, "the call of 90 minutes ago is gone");
        assert_eq!(feed.latest(10, Some("entra")).len(), 1);
        let activity = feed.activity(now, 12);
        assert_eq!(activity.connections["okta"].iter().map(|c| c.0).sum::<u32>(), 2);
        assert_eq!(activity.connections["okta"][11], (1, 1), "the 500 is a failure, in the last slice");
        assert_eq!(activity.connections["entra"][11], (1, 0), "a 404 is not");
    }

    #[test]
    fn a_name_is_one_shared_string_for_every_call_that_names_it() {
        let feed = CallFeed::new();
        let (one, two) = (feed.name("okta"), feed.name("okta"));
        assert!(Arc::ptr_eq(&one, &two));
        assert_eq!(&*feed.name("entra"), "entra");
        for n in 0..NAMES + 1 {
            assert_eq!(&*feed.name(&format!("c{n}")), format!("c{n}"));
        }
        assert!(feed.names.lock().len() <= NAMES, "the set is bounded");
    }
}
