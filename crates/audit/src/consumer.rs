//! The consumer: reads the events stream as its own consumer group, records each batch in one
//! transaction, and acknowledges only after the commit, so that a crash between the two means a
//! redelivery (recorded once, thanks to the unique event id), never a loss.
//!
//! Group commit: each transaction costs an fsync and SQLite's fixed work per commit, about the
//! cost of recording tens of events. When events come one by one, a consumer that reads whatever
//! is there as soon as one event is would pay that for nearly every event, so after a batch
//! smaller than the batch size it lingers (`batch_linger`) before reading again: the events that
//! arrive meanwhile are then read, recorded and acknowledged together. It lingers *after*
//! acknowledging rather than reading on before recording, because the stream hands a consumer
//! back whatever it holds unacknowledged at each read: nothing is held while it lingers.

use crate::record::NewRecord;
use crate::store::{Appended, AuditStore};
use crate::time_format::now_micros;
use job_queue::{Delivery, EventBus, EventId, EventSubscription};
use prost::Message;
use proto::audit::v1::AuditEvent;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The longest pause between attempts when the bus or the store fails.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What one step of the consumer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepOutcome {
    pub received: usize,
    pub recorded: usize,
    pub duplicates: usize,
    pub undecodable: usize,
}

/// The consumer of one subscription.
#[derive(Debug)]
pub struct Consumer {
    store: Arc<AuditStore>,
    subscription: Box<dyn EventSubscription>,
    batch_size: usize,
    poll_wait: Duration,
    batch_linger: Duration,
}

/// What the consumer's [`Consumer::run`] reports as it goes.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Set while the last step succeeded.
    pub alive: Arc<AtomicBool>,
    /// Deliveries recorded (or found duplicate) and acknowledged.
    pub acknowledged: Arc<AtomicU64>,
    /// Batches recorded, each in one transaction.
    pub batches: Arc<AtomicU64>,
}

/// Turns one delivery into a record and the span that records it, parented to the event's trace.
fn record_of(delivery: &Delivery, now: i64) -> (NewRecord, tracing::Span) {
    let record = match AuditEvent::decode(delivery.payload.clone()) {
        Ok(event) => NewRecord::from_event(event, &delivery.id.0, &delivery.trace_context, now),
        Err(error) => NewRecord::undecodable(
            &delivery.id.0,
            &delivery.payload,
            format!("not an AuditEvent: {error}"),
            &delivery.trace_context,
            now,
        ),
    };
    let span = tracing::info_span!(
        "audit_record",
        otel.name = "audit record",
        otel.kind = "consumer",
        audit.event_id = %record.event_id,
        audit.kind = %record.kind,
        audit.seq = tracing::field::Empty,
        audit.duplicate = tracing::field::Empty,
    );
    telemetry::set_parent_from(&span, &record.trace_context);
    (record, span)
}

impl Consumer {
    /// Joins consumer group `group` as `consumer`, to record up to `batch_size` events per
    /// transaction, waiting up to `poll_wait` for events at each read, and `batch_linger` before
    /// reading again after a batch smaller than `batch_size`.
    ///
    /// # Errors
    ///
    /// The bus's error when the group cannot be joined.
    pub async fn subscribe(
        store: Arc<AuditStore>,
        bus: &dyn EventBus,
        group: &str,
        consumer: &str,
        batch_size: usize,
        poll_wait: Duration,
        batch_linger: Duration,
    ) -> Result<Self, job_queue::QueueError> {
        let subscription = bus.subscribe(group, consumer).await?;
        Ok(Self { store, subscription, batch_size, poll_wait, batch_linger })
    }

    /// One step, for tests: takes up to a batch of events (waiting up to the poll wait), records
    /// them in one transaction, then acknowledges them.
    ///
    /// # Errors
    ///
    /// The bus or the store failed; nothing was acknowledged, so the events come back.
    pub async fn step(&mut self) -> anyhow::Result<StepOutcome> {
        let deliveries = self.fetch().await?;
        self.process(deliveries).await
    }

    async fn fetch(&mut self) -> anyhow::Result<Vec<Delivery>> {
        use anyhow::Context as _;
        self.subscription.next_batch(self.batch_size, self.poll_wait).await.context("reading the events stream")
    }

    /// Records and acknowledges a batch. Never cancelled half-way by shutdown: a batch taken
    /// from the stream is finished (recorded and acknowledged) before the consumer stops.
    async fn process(&mut self, deliveries: Vec<Delivery>) -> anyhow::Result<StepOutcome> {
        use anyhow::Context as _;
        if deliveries.is_empty() {
            return Ok(StepOutcome::default());
        }
        let started = Instant::now();
        let now = now_micros();
        let (records, spans): (Vec<NewRecord>, Vec<tracing::Span>) =
            deliveries.iter().map(|d| record_of(d, now)).unzip();
        let ids: Vec<EventId> = deliveries.into_iter().map(|d| d.id).collect();
        let mut outcome = StepOutcome { received: records.len(), ..StepOutcome::default() };
        outcome.undecodable = records.iter().filter(|r| r.columns.decode_error.is_some()).count();

        let store = self.store.clone();
        let (records, appended) = tokio::task::spawn_blocking(move || {
            let appended = store.append(&records);
            (records, appended)
        })
        .await
        .context("the recording task failed")?;
        let appended = appended.context("recording a batch of audit events")?;

        for ((record, span), result) in records.iter().zip(&spans).zip(&appended) {
            match result {
                Appended::Recorded(seq) => {
                    span.record("audit.seq", seq);
                    outcome.recorded += 1;
                    metrics::counter!("scim_audit_records_total", "kind" => record.kind.as_str()).increment(1);
                }
                Appended::Duplicate => {
                    span.record("audit.duplicate", true);
                    outcome.duplicates += 1;
                }
            }
        }
        drop(spans);
        metrics::counter!("scim_audit_duplicates_total").increment(outcome.duplicates as u64);
        metrics::counter!("scim_audit_undecodable_total").increment(outcome.undecodable as u64);
        metrics::histogram!("scim_audit_batch_duration_seconds").record(started.elapsed().as_secs_f64());
        if outcome.undecodable > 0 {
            tracing::warn!(count = outcome.undecodable, "recorded events that are not valid audit events");
        }

        // Only now, with the batch committed, may the stream forget these events.
        self.subscription.ack(&ids).await.context("acknowledging recorded events")?;
        Ok(outcome)
    }

    /// Runs until `shutdown`, retrying with backoff when the bus or the store fails (the events
    /// stay pending on the stream meanwhile), and reporting to `progress`.
    pub async fn run(mut self, shutdown: CancellationToken, progress: Progress) {
        let Progress { alive, acknowledged, batches } = progress;
        let mut backoff = Duration::from_millis(100);
        alive.store(true, Ordering::SeqCst);
        loop {
            let fetched = tokio::select! {
                _ = shutdown.cancelled() => break,
                fetched = self.fetch() => fetched,
            };
            let step = match fetched {
                Ok(deliveries) => self.process(deliveries).await,
                Err(error) => Err(error),
            };
            match step {
                Ok(outcome) => {
                    acknowledged.fetch_add(outcome.received as u64, Ordering::SeqCst);
                    alive.store(true, Ordering::SeqCst);
                    backoff = Duration::from_millis(100);
                    if outcome.received > 0 {
                        batches.fetch_add(1, Ordering::SeqCst);
                    }
                    // A batch that did not fill: let the next events gather before reading them.
                    if outcome.received > 0 && outcome.received < self.batch_size && !self.batch_linger.is_zero() {
                        tokio::select! {
                            _ = shutdown.cancelled() => break,
                            _ = tokio::time::sleep(self.batch_linger) => {}
                        }
                    }
                }
                Err(error) => {
                    alive.store(false, Ordering::SeqCst);
                    tracing::error!(error = format!("{error:#}"), retry_in = ?backoff, "audit consumer step failed");
                    tokio::select! {
                        _ = shutdown.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tracing::info!("audit consumer stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use job_queue::{InProcessEventBus, QueueConfig};
    use proto::audit::v1 as pb;

    fn admin_event(n: u32) -> pb::AuditEvent {
        pb::AuditEvent {
            event_id: format!("event-{n}"),
            kind: Some(pb::audit_event::Kind::Admin(pb::AdminAction {
                actor: "ops".into(),
                action: "connection.update".into(),
                connection_id: "c1".into(),
                detail: format!("change {n}"),
            })),
            ..Default::default()
        }
    }

    async fn wait_for(progress: &Progress, acknowledged: u64) {
        while progress.acknowledged.load(Ordering::SeqCst) < acknowledged {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    // Paused time: the clock moves only when every task waits (a recording in progress holds it),
    // so the events published 10 ms apart below all come within the linger, whatever the load.
    #[tokio::test(start_paused = true)]
    async fn events_published_one_by_one_while_the_consumer_lingers_are_recorded_in_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::ChainKey::from_text("consumer-tests-chain-key-0123456789abcdef").unwrap();
        let store = Arc::new(AuditStore::open(&AuditStore::path_in(dir.path()), Some(key)).unwrap());
        let bus = InProcessEventBus::new(&QueueConfig::default()).unwrap();
        let linger = Duration::from_millis(500);
        let consumer =
            Consumer::subscribe(store.clone(), &bus, "audit", "c", 50, Duration::from_secs(1), linger).await.unwrap();
        let progress = Progress::default();
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(consumer.run(shutdown.clone(), progress.clone()));

        audit_events::publish(&bus, &admin_event(1)).await.unwrap();
        wait_for(&progress, 1).await;
        assert_eq!(progress.batches.load(Ordering::SeqCst), 1, "the first event, alone, is recorded at once");
        for n in 2..=5 {
            // One by one: the consumer, were it not lingering, would take each as it comes.
            tokio::time::sleep(Duration::from_millis(10)).await;
            audit_events::publish(&bus, &admin_event(n)).await.unwrap();
        }
        wait_for(&progress, 5).await;

        assert_eq!(progress.batches.load(Ordering::SeqCst), 2, "the four events that came during the linger");
        assert_eq!(store.stats().unwrap().records, 5);
        shutdown.cancel();
        running.await.unwrap();
    }
}
