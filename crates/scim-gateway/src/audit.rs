//! Audit events of the gateway: a `ScimCall` for every SCIM request and an
//! `AdminAction` for every admin change, published on the events stream in
//! the background so that the hot path never waits on it.
//!
//! Events go into a bounded channel with `try_send`; a background task takes
//! them in batches (up to `batch_size`, or whatever arrived within
//! `flush_interval`) and publishes each batch concurrently. A publish that
//! fails is retried with backoff, the failed events first, so that an outage of
//! the events stream loses nothing while the channel has room; new events wait
//! in the channel meanwhile. When the channel is full, the
//! [`AuditBacklogPolicy`] decides: `Refuse` (the default) makes the SCIM
//! middleware answer `503` until it drains, so nothing is served unaudited;
//! `Drop` keeps serving and drops the new events, counted in
//! `scim_gateway_audit_dropped_total`. At shutdown, what is still unpublished
//! gets a few more attempts, then is dropped, counted and logged.

use crate::settings::{AuditBacklogPolicy, AuditSettings};
use job_queue::EventBus;
use proto::audit::v1 as pb;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Attempts left for unpublished events once the gateway is shutting down.
const ATTEMPTS_AT_SHUTDOWN: u32 = 5;

/// Hands audit events to the background publisher.
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<pb::AuditEvent>,
    policy: AuditBacklogPolicy,
}

/// The background task; [`AuditTask::finish`] publishes what is left.
#[derive(Debug)]
pub struct AuditTask {
    handle: JoinHandle<()>,
}

/// Starts the publisher on the current runtime.
pub fn start(events: Arc<dyn EventBus>, settings: AuditSettings) -> (AuditSink, AuditTask) {
    let (tx, rx) = mpsc::channel(settings.buffer.max(1));
    let handle = tokio::spawn(publish_loop(events, rx, settings));
    (AuditSink { tx, policy: settings.when_behind }, AuditTask { handle })
}

impl AuditSink {
    /// Queues an event; never waits.
    pub fn emit(&self, event: pb::AuditEvent) {
        if self.tx.try_send(event).is_err() {
            metrics::counter!("scim_gateway_audit_dropped_total").increment(1);
        }
    }

    /// Whether SCIM calls must be refused now: the policy is `Refuse` and the buffer is full.
    pub fn refuses_calls(&self) -> bool {
        self.policy == AuditBacklogPolicy::Refuse && self.tx.capacity() == 0
    }

    /// Queues a `ScimCall` with the current trace.
    pub fn scim_call(&self, call: pb::ScimCall) {
        self.emit(audit_events::scim_call(call));
    }

    /// Queues an `AdminAction` with the current trace.
    pub fn admin_action(&self, actor: &str, action: &str, connection_id: &str, detail: String) {
        self.emit(audit_events::admin_action(actor, action, connection_id, detail));
    }
}

impl AuditTask {
    /// Waits until every queued event was published (call after every sink is dropped).
    pub async fn finish(self) {
        let _ = self.handle.await;
    }
}

async fn publish_loop(events: Arc<dyn EventBus>, mut rx: mpsc::Receiver<pb::AuditEvent>, settings: AuditSettings) {
    let mut batch = Vec::with_capacity(settings.batch_size);
    let mut failures = 0u32;
    loop {
        if batch.is_empty() {
            let Some(first) = rx.recv().await else { return };
            batch.push(first);
            let deadline = tokio::time::Instant::now() + settings.flush_interval;
            while batch.len() < settings.batch_size {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some(event)) => batch.push(event),
                    Ok(None) | Err(_) => break,
                }
            }
        }
        let error = publish(&events, &mut batch).await;
        let Some(error) = error else {
            failures = 0;
            continue;
        };
        failures += 1;
        metrics::counter!("scim_gateway_audit_publish_failures_total").increment(1);
        if failures == 1 || failures.is_multiple_of(10) {
            tracing::warn!(unpublished = batch.len(), failures, %error, "audit events could not be published; retrying");
        }
        if rx.is_closed() && failures >= ATTEMPTS_AT_SHUTDOWN {
            let lost = batch.len() + rx.len();
            metrics::counter!("scim_gateway_audit_dropped_total").increment(lost as u64);
            tracing::error!(lost, %error, "shutting down with audit events that could not be published");
            return;
        }
        tokio::time::sleep(retry_delay(failures)).await;
    }
}

/// Publishes `batch` concurrently, keeping in it (in order) the events that failed; the first error.
async fn publish(events: &Arc<dyn EventBus>, batch: &mut Vec<pb::AuditEvent>) -> Option<job_queue::QueueError> {
    let results = futures::future::join_all(
        batch.iter().map(|event| async { events.publish(audit_events::to_bus_event(event)).await }),
    )
    .await;
    let mut first_error = None;
    let mut outcomes = results.into_iter();
    batch.retain(|_| match outcomes.next() {
        Some(Err(e)) => {
            first_error.get_or_insert(e);
            true
        }
        _ => false,
    });
    first_error
}

/// 100 ms, doubling up to 5 s.
fn retry_delay(failures: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << failures.min(6).saturating_sub(1))).min(Duration::from_secs(5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_queue::{InProcessEventBus, QueueConfig};
    use prost::Message;
    use std::time::Duration;

    /// An events stream that can be taken down: publishes fail while `down` is set.
    #[derive(Debug)]
    struct Outage {
        inner: InProcessEventBus,
        down: std::sync::atomic::AtomicBool,
    }

    impl Outage {
        fn set_down(&self, down: bool) {
            self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        }
    }

    #[async_trait::async_trait]
    impl EventBus for Outage {
        async fn publish(&self, event: job_queue::Event) -> Result<job_queue::EventId, job_queue::QueueError> {
            if self.down.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(job_queue::QueueError::Unavailable("the events stream is down".into()));
            }
            self.inner.publish(event).await
        }
        async fn subscribe(
            &self,
            group: &str,
            consumer: &str,
        ) -> Result<Box<dyn job_queue::EventSubscription>, job_queue::QueueError> {
            self.inner.subscribe(group, consumer).await
        }
    }

    fn outage() -> Arc<Outage> {
        Arc::new(Outage {
            inner: InProcessEventBus::new(&QueueConfig::default()).unwrap(),
            down: std::sync::atomic::AtomicBool::new(true),
        })
    }

    fn call(n: u32) -> pb::ScimCall {
        pb::ScimCall { connection_id: "okta".into(), status: 200, latency_micros: u64::from(n), ..Default::default() }
    }

    /// The distinct events delivered (acknowledged as they come), waiting up to five seconds for `want`.
    async fn received(sub: &mut Box<dyn job_queue::EventSubscription>, want: usize) -> usize {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let batch = sub.next_batch(want, Duration::from_millis(100)).await.unwrap();
            let ids: Vec<_> = batch.iter().map(|d| d.id.clone()).collect();
            sub.ack(&ids).await.unwrap();
            seen.extend(batch.into_iter().map(|d| d.payload));
            if seen.len() >= want {
                break;
            }
        }
        seen.len()
    }

    #[tokio::test]
    async fn events_emitted_while_the_events_stream_is_down_are_published_when_it_returns() {
        let bus = outage();
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let (sink, task) = start(bus.clone(), AuditSettings { flush_interval: Duration::ZERO, ..Default::default() });
        for n in 0..3 {
            sink.scim_call(call(n));
        }
        assert!(!sink.refuses_calls(), "three events are far from a full buffer");
        bus.set_down(false);
        assert_eq!(received(&mut sub, 3).await, 3, "nothing lost to the outage");
        drop(sink);
        task.finish().await;
    }

    #[tokio::test]
    async fn a_full_buffer_refuses_calls_under_the_refuse_policy_until_it_drains() {
        let bus = outage();
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let settings = AuditSettings { buffer: 4, batch_size: 2, flush_interval: Duration::ZERO, ..Default::default() };
        let (sink, task) = start(bus.clone(), settings);
        // The publisher holds at most one batch while it retries; the rest fills the buffer.
        let mut accepted = 0;
        while !sink.refuses_calls() {
            assert!(accepted < 6, "a buffer of 4 and a batch of 2 hold 6 events at most");
            sink.scim_call(call(accepted));
            accepted += 1;
        }
        bus.set_down(false);
        let accepted = accepted as usize;
        assert_eq!(received(&mut sub, accepted).await, accepted, "every event accepted before the buffer filled");
        assert!(!sink.refuses_calls());
        drop(sink);
        task.finish().await;
    }

    #[tokio::test]
    async fn the_drop_policy_never_refuses_calls() {
        let bus = outage();
        let settings = AuditSettings {
            buffer: 1,
            batch_size: 1,
            flush_interval: Duration::ZERO,
            when_behind: AuditBacklogPolicy::Drop,
        };
        let (sink, task) = start(bus.clone(), settings);
        for n in 0..5 {
            sink.scim_call(call(n));
        }
        assert!(!sink.refuses_calls());
        bus.set_down(false);
        drop(sink);
        task.finish().await;
    }

    #[tokio::test]
    async fn emitted_events_reach_the_events_stream_in_the_background() {
        let bus: Arc<dyn EventBus> = Arc::new(InProcessEventBus::new(&QueueConfig::default()).unwrap());
        let mut sub = bus.subscribe("audit-test", "c1").await.unwrap();
        let (sink, task) =
            start(bus.clone(), AuditSettings { flush_interval: Duration::from_millis(10), ..Default::default() });
        sink.admin_action("admin:ab12", "create-connection", "okta", "created".into());
        sink.scim_call(pb::ScimCall { connection_id: "okta".into(), status: 200, ..Default::default() });
        drop(sink);
        task.finish().await;
        let got = sub.next_batch(10, Duration::from_secs(1)).await.unwrap();
        assert_eq!(got.len(), 2);
        let first = pb::AuditEvent::decode(got[0].payload.as_ref()).unwrap();
        assert_eq!(first.source, "admin");
        assert!(matches!(first.kind, Some(pb::audit_event::Kind::Admin(ref a)) if a.action == "create-connection"));
    }
}
