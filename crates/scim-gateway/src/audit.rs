//! Audit events of the gateway: a `ScimCall` for every SCIM request and an
//! `AdminAction` for every admin change, published on the events stream in
//! the background so that the hot path never waits on it.
//!
//! Events go into a bounded channel with `try_send`; a background task takes
//! them in batches (up to `batch_size`, or whatever arrived within
//! `flush_interval`) and publishes each batch concurrently. When the channel
//! is full (the events stream is down for a long time) new events are
//! dropped and counted in `scim_gateway_audit_dropped_total` rather than
//! slowing requests down; the log says so once per batch.

use crate::settings::AuditSettings;
use job_queue::EventBus;
use proto::audit::v1 as pb;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Hands audit events to the background publisher.
#[derive(Debug, Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<pb::AuditEvent>,
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
    (AuditSink { tx }, AuditTask { handle })
}

impl AuditSink {
    /// Queues an event; never waits.
    pub fn emit(&self, event: pb::AuditEvent) {
        if self.tx.try_send(event).is_err() {
            metrics::counter!("scim_gateway_audit_dropped_total").increment(1);
        }
    }

    /// Queues a `ScimCall` with the current trace.
    pub fn scim_call(&self, call: pb::ScimCall) {
        self.emit(::audit::events::scim_call(call));
    }

    /// Queues an `AdminAction` with the current trace.
    pub fn admin_action(&self, actor: &str, action: &str, connection_id: &str, detail: String) {
        self.emit(::audit::events::admin_action(actor, action, connection_id, detail));
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
    loop {
        let Some(first) = rx.recv().await else { return };
        batch.push(first);
        let deadline = tokio::time::Instant::now() + settings.flush_interval;
        while batch.len() < settings.batch_size {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(event)) => batch.push(event),
                Ok(None) | Err(_) => break,
            }
        }
        let publishes = batch.drain(..).map(|event| {
            let events = events.clone();
            async move { events.publish(::audit::events::to_bus_event(&event)).await }
        });
        let results = futures::future::join_all(publishes).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed > 0 {
            metrics::counter!("scim_gateway_audit_dropped_total").increment(failed as u64);
            if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
                tracing::warn!(failed, error = %e, "audit events could not be published");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_queue::{InProcessEventBus, QueueConfig};
    use prost::Message;
    use std::time::Duration;

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
