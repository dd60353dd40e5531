//! The in-process events stream.

use crate::{Delivery, Event, EventBus, EventId, EventSubscription, QueueConfig, QueueError, TraceContext, validate};
use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::time::Instant;

/// An events stream in this process's memory (see the [module docs](super) for its limits).
#[derive(Clone)]
pub struct InProcessEventBus {
    inner: Arc<Inner>,
}

impl fmt::Debug for InProcessEventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessEventBus").field("stream", &self.inner.config.events_stream).finish_non_exhaustive()
    }
}

struct Inner {
    config: QueueConfig,
    state: Mutex<State>,
    published: Notify,
}

#[derive(Default)]
struct State {
    next_seq: u64,
    events: VecDeque<Stored>,
    groups: HashMap<String, Group>,
}

struct Stored {
    seq: u64,
    id: EventId,
    at: Instant,
    payload: Bytes,
    trace_context: TraceContext,
}

#[derive(Default)]
struct Group {
    last_delivered: u64,
    pending: BTreeMap<u64, Pending>,
}

struct Pending {
    consumer: String,
    delivered_at: Instant,
}

impl InProcessEventBus {
    /// A new, empty events stream.
    ///
    /// # Errors
    /// [`QueueError::Config`] when the settings are invalid.
    pub fn new(config: &QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        Ok(Self {
            inner: Arc::new(Inner {
                config: config.clone(),
                state: Mutex::new(State::default()),
                published: Notify::new(),
            }),
        })
    }
}

impl State {
    /// Drops events past the retention that every group has acknowledged.
    fn trim(&mut self, now: Instant, retention: Duration) {
        let safe = self
            .groups
            .values()
            .map(|g| g.pending.keys().next().map_or(g.last_delivered, |first| (first - 1).min(g.last_delivered)))
            .min()
            .unwrap_or(u64::MAX);
        while let Some(front) = self.events.front() {
            if front.seq > safe || now.saturating_duration_since(front.at) < retention {
                break;
            }
            self.events.pop_front();
        }
    }

    fn delivery(&self, seq: u64) -> Option<Delivery> {
        let first = self.events.front()?.seq;
        let stored = self.events.get(usize::try_from(seq.checked_sub(first)?).ok()?)?;
        Some(Delivery {
            id: stored.id.clone(),
            payload: stored.payload.clone(),
            trace_context: stored.trace_context.clone(),
        })
    }
}

#[async_trait]
impl EventBus for InProcessEventBus {
    async fn publish(&self, event: Event) -> Result<EventId, QueueError> {
        validate::payload(event.payload.len(), self.inner.config.max_payload_bytes)?;
        let now = Instant::now();
        let id = {
            let mut st = self.inner.state.lock();
            st.next_seq += 1;
            let seq = st.next_seq;
            let ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
            let id = EventId(format!("{ms}-{seq}"));
            st.events.push_back(Stored {
                seq,
                id: id.clone(),
                at: now,
                payload: event.payload,
                trace_context: event.trace_context,
            });
            st.trim(now, self.inner.config.retention);
            id
        };
        self.inner.published.notify_waiters();
        Ok(id)
    }

    async fn last_id(&self) -> Result<Option<EventId>, QueueError> {
        Ok(self.inner.state.lock().events.back().map(|e| e.id.clone()))
    }

    async fn read_after(&self, after: &EventId, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let after = after.position();
        let st = self.inner.state.lock();
        Ok(st
            .events
            .iter()
            .filter(|e| e.id.position() > after)
            .take(max.max(1))
            .map(|e| Delivery { id: e.id.clone(), payload: e.payload.clone(), trace_context: e.trace_context.clone() })
            .collect())
    }

    async fn subscribe(&self, group: &str, consumer: &str) -> Result<Box<dyn EventSubscription>, QueueError> {
        validate::key("group", group)?;
        validate::key("consumer", consumer)?;
        self.inner.state.lock().groups.entry(group.to_owned()).or_default();
        Ok(Box::new(InProcessSubscription {
            inner: Arc::clone(&self.inner),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            history_checked: false,
            unacked: BTreeSet::new(),
        }))
    }
}

struct InProcessSubscription {
    inner: Arc<Inner>,
    group: String,
    consumer: String,
    /// Whether this consumer's deliveries from before this subscription were handed out.
    history_checked: bool,
    unacked: BTreeSet<u64>,
}

impl fmt::Debug for InProcessSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessSubscription")
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

fn seq_of(id: &EventId) -> Option<u64> {
    id.0.rsplit_once('-').and_then(|(_, seq)| seq.parse().ok())
}

impl InProcessSubscription {
    fn take(&mut self, max: usize) -> Vec<Delivery> {
        let now = Instant::now();
        let visibility = self.inner.config.visibility_timeout;
        let mut st = self.inner.state.lock();
        let st = &mut *st;
        let group = st.groups.entry(self.group.clone()).or_default();
        let mut seqs = Vec::new();
        if !self.history_checked || !self.unacked.is_empty() {
            self.history_checked = true;
            seqs.extend(
                group.pending.iter().filter(|(_, p)| p.consumer == self.consumer).map(|(seq, _)| *seq).take(max),
            );
        }
        if seqs.is_empty() {
            seqs.extend(
                group
                    .pending
                    .iter()
                    .filter(|(_, p)| p.consumer != self.consumer && now.duration_since(p.delivered_at) >= visibility)
                    .map(|(seq, _)| *seq)
                    .take(max),
            );
        }
        if seqs.is_empty() {
            let last = group.last_delivered;
            seqs.extend(st.events.iter().map(|e| e.seq).filter(|seq| *seq > last).take(max));
            if let Some(newest) = seqs.last() {
                group.last_delivered = *newest;
            }
        }
        for seq in &seqs {
            group.pending.insert(*seq, Pending { consumer: self.consumer.clone(), delivered_at: now });
            self.unacked.insert(*seq);
        }
        seqs.iter().filter_map(|seq| st.delivery(*seq)).collect()
    }
}

#[async_trait]
impl EventSubscription for InProcessSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let deadline = Instant::now() + wait;
        let max = max.max(1);
        loop {
            let inner = Arc::clone(&self.inner);
            let published = inner.published.notified();
            tokio::pin!(published);
            published.as_mut().enable();
            let batch = self.take(max);
            if !batch.is_empty() {
                return Ok(batch);
            }
            tokio::select! {
                _ = &mut published => {}
                _ = tokio::time::sleep_until(deadline) => return Ok(Vec::new()),
            }
        }
    }

    async fn ack(&mut self, ids: &[EventId]) -> Result<(), QueueError> {
        let mut st = self.inner.state.lock();
        if let Some(group) = st.groups.get_mut(&self.group) {
            for seq in ids.iter().filter_map(seq_of) {
                group.pending.remove(&seq);
                self.unacked.remove(&seq);
            }
        }
        Ok(())
    }
}
