//! Audit events of the gateway: a `ScimCall` for every SCIM request (and one for every operation
//! of a Bulk request), an `AdminAction` for every admin change, and the summaries of failed
//! authentications. A call's event is on record before its answer leaves.
//!
//! [`AuditSink::record`] appends the event to the events stream itself, from the calling task,
//! while the spool is empty: a read's event then costs no hop to another task and back (two
//! wake-ups of other threads per call, measured in docs/benchmarks.md, "Gateway"). When the
//! stream is unavailable or slower than `append_timeout`, or the spool holds anything, the event
//! goes to one appender task instead, which takes the events of concurrent calls together (up to
//! `batch_size`) and writes them to the spool on disk ([`audit_events::spool`], fsync'd, one sync
//! per batch). Either way the call's answer leaves only then. A call dropped while its event is
//! being appended (its client went away) hands the event to the appender, so it still goes on
//! record (perhaps twice: the audit service keeps one record per event id). A drainer task publishes the spool, in order, once the stream is back, including a
//! spool left by a crash, at the next start. While the spool holds anything, new events go to it
//! too, so that the stream keeps their order.
//!
//! An event the stream refuses for good (too large, say) goes to the dead letters (a spool of its
//! own, `dead-letters/` beside the spool), counted in `scim_gateway_audit_dead_letters_total` and
//! logged: it is never retried. When the spool is full, the [`AuditBacklogPolicy`] decides:
//! `Refuse` (the default) makes the SCIM middleware answer `503` until the spool drains, so that
//! nothing is served unaudited; `Drop` keeps serving and logs, drops and counts
//! (`scim_gateway_audit_dropped_total`) the events that do not fit. Calls already running when the
//! spool fills cannot be refused any more: their events are logged (the call's fields, never a
//! body) and counted as dropped. At shutdown the drainer gets until the grace period ends; what is
//! left stays in the spool for the next start.

use crate::settings::{AuditBacklogPolicy, AuditSettings};
use audit_events::spool::{Spool, SpoolError};
use job_queue::{EventBus, QueueError};
use prost::Message;
use proto::audit::v1 as pb;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// The most bytes the dead letters hold (each one is also logged and counted).
const DEAD_LETTERS_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Where an event went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Appended to the events stream.
    Appended,
    /// Written to the spool on disk, to be published when the stream is back.
    Spooled,
    /// Refused by the stream for good: in the dead letters.
    DeadLettered,
    /// Neither appended nor spooled (the spool is full, or could not be written): logged and counted.
    Lost,
}

/// Hands audit events to the appender.
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Pending>,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Pending {
    event: pb::AuditEvent,
    /// Told where the event went; `None` when nobody waits.
    done: Option<oneshot::Sender<Recorded>>,
    /// The caller's own append to the stream failed or timed out: straight to the spool.
    spool_only: bool,
}

impl Pending {
    fn answer(self, recorded: Recorded) {
        if let Some(done) = self.done {
            let _ = done.send(recorded);
        }
    }
}

#[derive(Debug)]
struct Shared {
    events: Arc<dyn EventBus>,
    spool: Arc<Spool>,
    dead_letters: Arc<Spool>,
    settings: AuditSettings,
    /// An append found the spool full; cleared when the drainer frees room.
    full: AtomicBool,
    /// Something was spooled.
    spooled: Notify,
}

/// The appender and the drainer; [`AuditTask::finish`] stops them.
#[derive(Debug)]
pub struct AuditTask {
    appender: JoinHandle<()>,
    drainer: JoinHandle<()>,
    stop: watch::Sender<bool>,
    shared: Arc<Shared>,
}

/// Opens the spool and starts the appender and the drainer on the current runtime.
///
/// # Errors
/// The spool cannot be opened (its directory cannot be written, or another process holds it).
pub fn start(events: Arc<dyn EventBus>, settings: AuditSettings) -> Result<(AuditSink, AuditTask), SpoolError> {
    let (spool, dead_letters) = match &settings.spool_dir {
        Some(dir) => (
            Spool::open(dir, settings.spool_max_bytes)?,
            Spool::open(&dir.join("dead-letters"), DEAD_LETTERS_MAX_BYTES)?,
        ),
        None => (Spool::in_memory(settings.spool_max_bytes), Spool::in_memory(DEAD_LETTERS_MAX_BYTES)),
    };
    if !spool.is_empty() {
        tracing::info!(bytes = spool.pending_bytes(), "audit events spooled before this start; publishing them");
    }
    metrics::gauge!("scim_gateway_audit_spool_bytes").set(spool.pending_bytes() as f64);
    let (tx, rx) = mpsc::channel(settings.buffer.max(1));
    let shared = Arc::new(Shared {
        events,
        spool: Arc::new(spool),
        dead_letters: Arc::new(dead_letters),
        settings,
        full: AtomicBool::new(false),
        spooled: Notify::new(),
    });
    let (stop, stopped) = watch::channel(false);
    let appender = tokio::spawn(append_loop(shared.clone(), rx));
    let drainer = tokio::spawn(drain_loop(shared.clone(), stopped));
    Ok((AuditSink { tx, shared: shared.clone() }, AuditTask { appender, drainer, stop, shared }))
}

impl AuditSink {
    /// Puts `event` on record (the events stream or the spool) and says where it went.
    pub async fn record(&self, event: pb::AuditEvent) -> Recorded {
        let mut spool_only = false;
        let event = if self.shared.spool.is_empty() {
            let mut unfinished = Unfinished { sink: self, event: Some(event) };
            let Some(event) = unfinished.event.as_ref() else { return Recorded::Lost };
            let publish = self.shared.events.publish(audit_events::to_bus_event(event));
            let result = tokio::time::timeout(self.shared.settings.append_timeout, publish).await;
            let event = unfinished.event.take().unwrap_or_default();
            match result {
                Ok(Ok(_)) => return Recorded::Appended,
                Ok(Err(e)) if !e.is_transient() => return self.shared.dead_letter(event.encode_to_vec(), &e).await,
                Ok(Err(_)) => {}
                Err(_) => {
                    metrics::counter!("scim_gateway_audit_append_timeouts_total").increment(1);
                }
            }
            // Perhaps on the stream after all: the audit service keeps one record per event id.
            spool_only = true;
            event
        } else {
            event
        };
        let (done, answer) = oneshot::channel();
        if self.tx.send(Pending { event, done: Some(done), spool_only }).await.is_err() {
            return Recorded::Lost;
        }
        answer.await.unwrap_or(Recorded::Lost)
    }

    /// Queues an event without waiting for it (the summaries of failed authentications, which
    /// answer no call); dropped and counted when the appender is that far behind.
    pub fn emit(&self, event: pb::AuditEvent) {
        if self.tx.try_send(Pending { event, done: None, spool_only: false }).is_err() {
            metrics::counter!("scim_gateway_audit_dropped_total").increment(1);
        }
    }

    /// Whether SCIM calls must be refused now: the policy is `Refuse` and the spool is full (an
    /// event found it so, and it has not drained since).
    pub fn refuses_calls(&self) -> bool {
        self.shared.settings.when_behind == AuditBacklogPolicy::Refuse
            && self.shared.full.load(Ordering::Relaxed)
            && !self.shared.spool.is_empty()
    }

    /// Puts a `ScimCall` with the current trace on record.
    pub async fn scim_call(&self, call: pb::ScimCall) -> Recorded {
        self.record(audit_events::scim_call(call)).await
    }

    /// Puts an `AdminAction` with the current trace on record.
    pub async fn admin_action(&self, actor: &str, action: &str, connection_id: &str, detail: String) -> Recorded {
        self.record(audit_events::admin_action(actor, action, connection_id, detail)).await
    }
}

/// An event its caller is appending: handed to the appender when the call is dropped first.
struct Unfinished<'a> {
    sink: &'a AuditSink,
    event: Option<pb::AuditEvent>,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if let Some(event) = self.event.take() {
            self.sink.emit(event);
        }
    }
}

impl AuditTask {
    /// Once every sink is dropped: appends what is queued, then lets the drainer publish the spool
    /// until `within` has passed; what is left stays in the spool for the next start.
    pub async fn finish(self, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        if tokio::time::timeout_at(deadline, self.appender).await.is_err() {
            tracing::warn!("audit events were still being appended at shutdown");
        }
        while !self.shared.spool.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = self.stop.send(true);
        let _ = self.drainer.await;
        let left = self.shared.spool.pending_bytes();
        if left > 0 && self.shared.spool.is_durable() {
            tracing::warn!(bytes = left, "audit events stay in the spool; they are published at the next start");
        } else if left > 0 {
            tracing::error!(bytes = left, "shutting down with unpublished audit events in a spool in memory: lost");
        }
    }
}

async fn append_loop(shared: Arc<Shared>, mut rx: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(shared.settings.batch_size.max(1));
    while rx.recv_many(&mut batch, shared.settings.batch_size.max(1)).await > 0 {
        shared.append(std::mem::take(&mut batch)).await;
    }
}

impl Shared {
    /// Appends a batch to the stream, or else to the spool, and answers each event's caller.
    async fn append(&self, batch: Vec<Pending>) {
        let (mut batch, mut to_spool): (Vec<_>, Vec<_>) = batch.into_iter().partition(|p| !p.spool_only);
        if self.spool.is_empty() {
            let publishes = futures::future::join_all(
                batch.iter().map(|p| self.events.publish(audit_events::to_bus_event(&p.event))),
            );
            match tokio::time::timeout(self.settings.append_timeout, publishes).await {
                Ok(results) => {
                    for (pending, result) in batch.into_iter().zip(results) {
                        match result {
                            Ok(_) => pending.answer(Recorded::Appended),
                            Err(e) if e.is_transient() => to_spool.push(pending),
                            Err(e) => {
                                let recorded = self.dead_letter(pending.event.encode_to_vec(), &e).await;
                                pending.answer(recorded);
                            }
                        }
                    }
                }
                Err(_) => {
                    metrics::counter!("scim_gateway_audit_append_timeouts_total").increment(1);
                    // Some may have reached the stream: the audit service keeps one record per event id.
                    to_spool.append(&mut batch);
                }
            }
        } else {
            to_spool.append(&mut batch);
        }
        if to_spool.is_empty() {
            return;
        }
        let payloads: Vec<Vec<u8>> = to_spool.iter().map(|p| p.event.encode_to_vec()).collect();
        let spool = self.spool.clone();
        let written = tokio::task::spawn_blocking(move || spool.append(&payloads)).await;
        match written {
            Ok(Ok(())) => {
                metrics::counter!("scim_gateway_audit_spooled_total").increment(to_spool.len() as u64);
                metrics::gauge!("scim_gateway_audit_spool_bytes").set(self.spool.pending_bytes() as f64);
                self.spooled.notify_one();
                for pending in to_spool {
                    pending.answer(Recorded::Spooled);
                }
            }
            Ok(Err(e)) => self.lose(to_spool, &e.to_string()),
            Err(e) => self.lose(to_spool, &e.to_string()),
        }
    }

    /// Logs, counts and drops events that could be neither appended nor spooled.
    fn lose(&self, lost: Vec<Pending>, error: &str) {
        if !self.full.swap(true, Ordering::Relaxed) {
            tracing::error!(%error, policy = ?self.settings.when_behind,
                "the audit spool cannot take more events: SCIM calls are refused (policy refuse) or served \
                 unaudited (policy drop) until it drains");
        }
        metrics::counter!("scim_gateway_audit_dropped_total").increment(lost.len() as u64);
        for pending in lost {
            if let Some(pb::audit_event::Kind::ScimCall(call)) = &pending.event.kind {
                tracing::error!(event_id = %pending.event.event_id, request_id = %call.request_id,
                    connection = %call.connection_id, method = %call.method, route = %call.route,
                    resource_id = %call.resource_id, status = call.status, "answered SCIM call not on record");
            } else {
                tracing::error!(event_id = %pending.event.event_id, source = %pending.event.source,
                    "audit event not on record");
            }
            pending.answer(Recorded::Lost);
        }
    }

    /// Puts an event the stream refused for good in the dead letters.
    async fn dead_letter(&self, payload: Vec<u8>, error: &QueueError) -> Recorded {
        metrics::counter!("scim_gateway_audit_dead_letters_total").increment(1);
        let event_id = pb::AuditEvent::decode(payload.as_slice()).map(|e| e.event_id).unwrap_or_default();
        tracing::error!(%event_id, %error, "the events stream refused an audit event for good; kept in the dead letters");
        let dead_letters = self.dead_letters.clone();
        match tokio::task::spawn_blocking(move || dead_letters.append(&[payload])).await {
            Ok(Ok(())) => Recorded::DeadLettered,
            Ok(Err(e)) => {
                tracing::error!(%event_id, error = %e, "the audit dead letters cannot take the event; dropped");
                metrics::counter!("scim_gateway_audit_dropped_total").increment(1);
                Recorded::Lost
            }
            Err(e) => {
                tracing::error!(%event_id, error = %e, "writing the audit dead letters failed; dropped");
                metrics::counter!("scim_gateway_audit_dropped_total").increment(1);
                Recorded::Lost
            }
        }
    }

    /// Publishes the spool's records in order, up to `batch_size`, and marks them published.
    ///
    /// # Errors
    /// The stream is unavailable (the records from the first one not published stay).
    async fn drain_once(&self) -> Result<(), String> {
        let spool = self.spool.clone();
        let max = self.settings.batch_size.max(1);
        let records = tokio::task::spawn_blocking(move || spool.peek(max))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        let mut published_to = None;
        let mut outcome = Ok(());
        for record in records {
            let event = match pb::AuditEvent::decode(record.payload.as_slice()) {
                Ok(event) => event,
                Err(e) => {
                    let error = QueueError::Corrupt(format!("a spooled audit event does not decode: {e}"));
                    self.dead_letter(record.payload, &error).await;
                    published_to = Some(record.next);
                    continue;
                }
            };
            let publish = self.events.publish(audit_events::to_bus_event(&event));
            match tokio::time::timeout(self.settings.append_timeout.max(Duration::from_secs(2)), publish).await {
                Ok(Ok(_)) => published_to = Some(record.next),
                Ok(Err(e)) if !e.is_transient() => {
                    self.dead_letter(record.payload, &e).await;
                    published_to = Some(record.next);
                }
                Ok(Err(e)) => {
                    outcome = Err(e.to_string());
                    break;
                }
                Err(_) => {
                    outcome = Err("publishing timed out".to_owned());
                    break;
                }
            }
        }
        if let Some(next) = published_to {
            let spool = self.spool.clone();
            tokio::task::spawn_blocking(move || spool.advance(next))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
            self.full.store(false, Ordering::Relaxed);
            metrics::gauge!("scim_gateway_audit_spool_bytes").set(self.spool.pending_bytes() as f64);
        }
        outcome
    }
}

async fn drain_loop(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut failures = 0u32;
    loop {
        if *stop.borrow() {
            return;
        }
        if shared.spool.is_empty() {
            tokio::select! {
                _ = shared.spooled.notified() => {}
                _ = stop.changed() => return,
            }
            continue;
        }
        match shared.drain_once().await {
            Ok(()) => failures = 0,
            Err(error) => {
                failures += 1;
                metrics::counter!("scim_gateway_audit_publish_failures_total").increment(1);
                if failures == 1 || failures.is_multiple_of(10) {
                    tracing::warn!(spooled_bytes = shared.spool.pending_bytes(), failures, %error,
                        "spooled audit events could not be published; retrying");
                }
                tokio::select! {
                    _ = tokio::time::sleep(retry_delay(failures)) => {}
                    _ = stop.changed() => return,
                }
            }
        }
    }
}

/// 100 ms, doubling up to 5 s.
fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(6).saturating_sub(1))).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_queue::{InProcessEventBus, QueueConfig};
    use std::sync::atomic::AtomicU32;

    /// An events stream that can be taken down (publishes fail while `down` is set) and that
    /// refuses for good the events of connection `too-large`, counting the attempts.
    #[derive(Debug)]
    struct Outage {
        inner: InProcessEventBus,
        down: AtomicBool,
        /// Publishes never finish while set.
        stalled: AtomicBool,
        refused_attempts: AtomicU32,
    }

    impl Outage {
        fn set_down(&self, down: bool) {
            self.down.store(down, Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl EventBus for Outage {
        async fn publish(&self, event: job_queue::Event) -> Result<job_queue::EventId, QueueError> {
            if self.stalled.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if self.down.load(Ordering::SeqCst) {
                return Err(QueueError::Unavailable("the events stream is down".into()));
            }
            let decoded = pb::AuditEvent::decode(event.payload.as_ref()).unwrap();
            if matches!(&decoded.kind, Some(pb::audit_event::Kind::ScimCall(c)) if c.connection_id == "too-large") {
                self.refused_attempts.fetch_add(1, Ordering::SeqCst);
                return Err(QueueError::Invalid("payload too large".into()));
            }
            self.inner.publish(event).await
        }
        async fn subscribe(
            &self,
            group: &str,
            consumer: &str,
        ) -> Result<Box<dyn job_queue::EventSubscription>, QueueError> {
            self.inner.subscribe(group, consumer).await
        }
    }

    fn outage(down: bool) -> Arc<Outage> {
        Arc::new(Outage {
            inner: InProcessEventBus::new(&QueueConfig::default()).unwrap(),
            down: AtomicBool::new(down),
            stalled: AtomicBool::new(false),
            refused_attempts: AtomicU32::new(0),
        })
    }

    fn call(n: u32) -> pb::ScimCall {
        pb::ScimCall { connection_id: "okta".into(), status: 200, latency_micros: u64::from(n), ..Default::default() }
    }

    /// The distinct events delivered (acknowledged as they come), waiting up to five seconds for `want`.
    async fn received(sub: &mut Box<dyn job_queue::EventSubscription>, want: usize) -> Vec<pb::AuditEvent> {
        let mut seen: Vec<pb::AuditEvent> = Vec::new();
        for _ in 0..50 {
            let batch = sub.next_batch(want, Duration::from_millis(100)).await.unwrap();
            let ids: Vec<_> = batch.iter().map(|d| d.id.clone()).collect();
            sub.ack(&ids).await.unwrap();
            for delivery in batch {
                let event = pb::AuditEvent::decode(delivery.payload.as_ref()).unwrap();
                if !seen.iter().any(|e| e.event_id == event.event_id) {
                    seen.push(event);
                }
            }
            if seen.len() >= want {
                break;
            }
        }
        seen
    }

    fn latencies(events: &[pb::AuditEvent]) -> Vec<u64> {
        events
            .iter()
            .filter_map(|e| match &e.kind {
                Some(pb::audit_event::Kind::ScimCall(c)) => Some(c.latency_micros),
                _ => None,
            })
            .collect()
    }

    #[tokio::test]
    async fn events_recorded_while_the_events_stream_is_down_are_spooled_then_published_in_order() {
        let bus = outage(true);
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let (sink, task) = start(bus.clone(), AuditSettings::default()).unwrap();
        for n in 0..3 {
            assert_eq!(sink.scim_call(call(n)).await, Recorded::Spooled);
        }
        bus.set_down(false);
        assert_eq!(latencies(&received(&mut sub, 3).await), vec![0, 1, 2], "nothing lost, in order");
        drop(sink);
        task.finish(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn an_event_whose_call_is_dropped_while_it_is_appended_still_goes_on_record() {
        let bus = outage(false);
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let settings = AuditSettings { append_timeout: Duration::from_millis(50), ..AuditSettings::default() };
        let (sink, task) = start(bus.clone(), settings).unwrap();
        bus.stalled.store(true, Ordering::SeqCst);
        let dropped = tokio::time::timeout(Duration::from_millis(10), sink.scim_call(call(1))).await;
        assert!(dropped.is_err(), "the call went away while its event was being appended");
        assert!(eventually(|| !sink.shared.spool.is_empty()).await, "the appender spooled it once the stream stalled");
        bus.stalled.store(false, Ordering::SeqCst);
        assert_eq!(latencies(&received(&mut sub, 1).await), vec![1]);
        drop(sink);
        task.finish(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn a_spool_left_on_disk_is_published_at_the_next_start() {
        let dir = tempfile::tempdir().unwrap();
        let settings = AuditSettings { spool_dir: Some(dir.path().to_owned()), ..AuditSettings::default() };
        let bus = outage(true);
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let (sink, task) = start(bus.clone(), settings.clone()).unwrap();
        for n in 0..3 {
            assert_eq!(sink.scim_call(call(n)).await, Recorded::Spooled);
        }
        drop(sink);
        task.finish(Duration::from_millis(50)).await;

        bus.set_down(false);
        let (sink, task) = start(bus.clone(), settings).unwrap();
        assert_eq!(latencies(&received(&mut sub, 3).await), vec![0, 1, 2]);
        drop(sink);
        task.finish(Duration::from_secs(5)).await;
    }

    #[tokio::test]
    async fn a_full_spool_refuses_calls_under_the_refuse_policy_until_it_drains() {
        let bus = outage(true);
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let one = audit_events::scim_call(call(0)).encoded_len() as u64 + 8;
        // Room for two events (their sizes differ by a few bytes), not three.
        let settings = AuditSettings { spool_max_bytes: one * 2 + 8, ..AuditSettings::default() };
        let (sink, task) = start(bus.clone(), settings).unwrap();
        assert_eq!(sink.scim_call(call(0)).await, Recorded::Spooled);
        assert_eq!(sink.scim_call(call(1)).await, Recorded::Spooled);
        assert!(!sink.refuses_calls(), "the spool is full, not yet overflowing");
        assert_eq!(sink.scim_call(call(2)).await, Recorded::Lost);
        assert!(sink.refuses_calls());
        bus.set_down(false);
        assert_eq!(received(&mut sub, 2).await.len(), 2, "every event spooled before it filled");
        assert!(eventually(|| !sink.refuses_calls()).await, "calls are served again once it drains");
        drop(sink);
        task.finish(Duration::from_secs(5)).await;
    }

    async fn eventually(mut check: impl FnMut() -> bool) -> bool {
        for _ in 0..250 {
            if check() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn the_drop_policy_never_refuses_calls() {
        let bus = outage(true);
        let settings =
            AuditSettings { spool_max_bytes: 1, when_behind: AuditBacklogPolicy::Drop, ..AuditSettings::default() };
        let (sink, task) = start(bus.clone(), settings).unwrap();
        for n in 0..5 {
            assert_eq!(sink.scim_call(call(n)).await, Recorded::Lost);
        }
        assert!(!sink.refuses_calls());
        drop(sink);
        task.finish(Duration::from_millis(10)).await;
    }

    #[tokio::test]
    async fn an_event_the_stream_refuses_for_good_goes_to_the_dead_letters_and_is_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let bus = outage(false);
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let settings = AuditSettings { spool_dir: Some(dir.path().to_owned()), ..AuditSettings::default() };
        let (sink, task) = start(bus.clone(), settings).unwrap();
        let refused = pb::ScimCall { connection_id: "too-large".into(), ..call(7) };
        assert_eq!(sink.scim_call(refused).await, Recorded::DeadLettered);
        assert_eq!(sink.scim_call(call(8)).await, Recorded::Appended, "the next event is not held up");
        assert_eq!(latencies(&received(&mut sub, 1).await), vec![8]);
        drop(sink);
        task.finish(Duration::from_secs(5)).await;
        assert_eq!(bus.refused_attempts.load(Ordering::SeqCst), 1, "tried once, never again");
        let dead = Spool::open(&dir.path().join("dead-letters"), DEAD_LETTERS_MAX_BYTES).unwrap().peek(10).unwrap();
        assert_eq!(dead.len(), 1);
        let event = pb::AuditEvent::decode(dead[0].payload.as_slice()).unwrap();
        assert_eq!(latencies(&[event]), vec![7]);
    }

    #[tokio::test]
    async fn recorded_events_are_on_the_events_stream_when_record_returns() {
        let bus: Arc<dyn EventBus> = Arc::new(InProcessEventBus::new(&QueueConfig::default()).unwrap());
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let (sink, task) = start(bus.clone(), AuditSettings::default()).unwrap();
        let recorded = sink.admin_action("admin:ab12", "create-connection", "okta", "created".into()).await;
        assert_eq!(recorded, Recorded::Appended);
        let got = sub.next_batch(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 1);
        let first = pb::AuditEvent::decode(got[0].payload.as_ref()).unwrap();
        assert_eq!(first.source, "admin");
        assert!(matches!(first.kind, Some(pb::audit_event::Kind::Admin(ref a)) if a.action == "create-connection"));
        drop(sink);
        task.finish(Duration::from_secs(1)).await;
    }
}
