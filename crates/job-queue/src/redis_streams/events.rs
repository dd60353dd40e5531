//! The events stream on Redis: `XADD` to publish, one consumer group per
//! subscriber service (fan-out), `XAUTOCLAIM` for the events of a consumer
//! that vanished.

use super::conn::{self, retrying};
use super::keys::Keys;
use super::{reply, scripts};
use crate::{Delivery, Event, EventBus, EventId, EventSubscription, QueueConfig, QueueError, TraceContext, validate};
use async_trait::async_trait;
use bytes::Bytes;
use parking_lot::Mutex;
use redis::Value;
use redis_connect::Connection;
use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The events stream on Redis (see the [module docs](super) for the layout).
#[derive(Clone)]
pub struct RedisEventBus {
    inner: Arc<Inner>,
}

impl fmt::Debug for RedisEventBus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisEventBus").field("stream", &self.inner.stream).finish_non_exhaustive()
    }
}

struct Inner {
    config: QueueConfig,
    redis: redis_connect::Redis,
    conn: Connection,
    stream: String,
    next_trim: Mutex<Instant>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl RedisEventBus {
    /// Connects and checks that the server answers.
    ///
    /// # Errors
    /// [`QueueError::Config`] for invalid settings or URL, [`QueueError::Unavailable`]
    /// when Redis cannot be reached.
    pub async fn connect(config: &QueueConfig) -> Result<Self, QueueError> {
        config.validate()?;
        let redis = conn::redis(config)?;
        let conn = conn::manager(&redis, config.op_timeout.max(Duration::from_secs(1))).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                stream: Keys::new(config).events,
                config: config.clone(),
                redis,
                conn,
                next_trim: Mutex::new(Instant::now()),
            }),
        })
    }
}

impl Inner {
    /// Trims at most every few seconds, from whichever publisher comes first.
    async fn maybe_trim(&self) {
        {
            let mut next = self.next_trim.lock();
            let now = Instant::now();
            if now < *next {
                return;
            }
            *next = now + self.config.maintenance_interval.max(Duration::from_secs(10));
        }
        let mut c = self.conn.clone();
        let mut call = scripts::TRIM.prepare_invoke();
        call.arg(&self.stream).arg(ms(self.config.retention));
        if let Err(e) = call.invoke_async::<u64>(&mut c).await {
            tracing::warn!(error = %e, "trimming the events stream failed");
        }
    }

    async fn create_group(&self, group: &str) -> Result<(), QueueError> {
        let created: Result<(), redis::RedisError> = retrying("XGROUP CREATE", self.config.op_timeout, || {
            let mut c = self.conn.clone();
            let (stream, group) = (self.stream.clone(), group.to_owned());
            async move {
                match redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&stream)
                    .arg(&group)
                    .arg("0")
                    .arg("MKSTREAM")
                    .query_async::<()>(&mut c)
                    .await
                {
                    Err(e) if e.code() == Some("BUSYGROUP") || e.to_string().contains("BUSYGROUP") => Ok(Ok(())),
                    Err(e) if !conn::is_transient(&e) => Ok(Err(e)),
                    other => other.map(Ok),
                }
            }
        })
        .await?;
        created.map_err(|e| conn::unavailable("XGROUP CREATE", &e))
    }
}

#[async_trait]
impl EventBus for RedisEventBus {
    async fn publish(&self, event: Event) -> Result<EventId, QueueError> {
        let inner = &self.inner;
        validate::payload(event.payload.len(), inner.config.max_payload_bytes)?;
        let trace = serde_json::to_vec(&event.trace_context)
            .map_err(|e| QueueError::Corrupt(format!("trace context cannot be encoded: {e}")))?;
        // A repeated XADD after a lost reply publishes the event twice:
        // delivery is at least once, and consumers deduplicate by payload id.
        let id: String = retrying("publish", inner.config.op_timeout, || {
            let mut c = inner.conn.clone();
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&inner.stream).arg("*").arg("p").arg(event.payload.as_ref()).arg("tc").arg(&trace);
            async move { cmd.query_async(&mut c).await }
        })
        .await?;
        inner.maybe_trim().await;
        Ok(EventId(id))
    }

    async fn dead_letter(&self, event: Event, reason: &str) -> Result<(), QueueError> {
        let inner = &self.inner;
        let trace = serde_json::to_vec(&event.trace_context)
            .map_err(|e| QueueError::Corrupt(format!("trace context cannot be encoded: {e}")))?;
        let dead = format!("{}:dead", inner.stream);
        retrying("dead-letter an event", inner.config.op_timeout, || {
            let mut c = inner.conn.clone();
            let mut cmd = redis::cmd("XADD");
            cmd.arg(&dead).arg("MAXLEN").arg("~").arg(100_000).arg("*");
            cmd.arg("p").arg(event.payload.as_ref()).arg("tc").arg(&trace).arg("reason").arg(reason);
            async move { cmd.query_async::<String>(&mut c).await }
        })
        .await
        .map(|_| ())
    }

    async fn last_id(&self) -> Result<Option<EventId>, QueueError> {
        let mut c = self.inner.conn.clone();
        let reply: Value = redis::cmd("XREVRANGE")
            .arg(&self.inner.stream)
            .arg("+")
            .arg("-")
            .arg("COUNT")
            .arg(1)
            .query_async(&mut c)
            .await
            .map_err(|e| conn::unavailable("XREVRANGE", &e))?;
        let entries = reply::entries(&reply).ok_or_else(|| reply::corrupt("XREVRANGE"))?;
        Ok(entries.into_iter().next().map(|(id, _)| EventId(id)))
    }

    async fn read_after(&self, after: &EventId, max: usize) -> Result<Vec<Delivery>, QueueError> {
        let mut c = self.inner.conn.clone();
        let reply: Value = redis::cmd("XRANGE")
            .arg(&self.inner.stream)
            .arg(format!("({}", after.0))
            .arg("+")
            .arg("COUNT")
            .arg(max.max(1))
            .query_async(&mut c)
            .await
            .map_err(|e| conn::unavailable("XRANGE", &e))?;
        deliveries(reply::entries(&reply).ok_or_else(|| reply::corrupt("XRANGE"))?)
    }

    async fn subscribe(&self, group: &str, consumer: &str) -> Result<Box<dyn EventSubscription>, QueueError> {
        validate::key("group", group)?;
        validate::key("consumer", consumer)?;
        self.inner.create_group(group).await?;
        Ok(Box::new(RedisSubscription {
            inner: Arc::clone(&self.inner),
            group: group.to_owned(),
            consumer: consumer.to_owned(),
            reader: None,
            history_checked: false,
            unacked: BTreeSet::new(),
            next_reclaim: Instant::now(),
        }))
    }
}

struct RedisSubscription {
    inner: Arc<Inner>,
    group: String,
    consumer: String,
    /// Its own connection: a blocking read would hold up everyone sharing one.
    reader: Option<Connection>,
    history_checked: bool,
    unacked: BTreeSet<EventId>,
    next_reclaim: Instant,
}

impl fmt::Debug for RedisSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSubscription")
            .field("group", &self.group)
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

fn deliveries(entries: Vec<reply::Entry>) -> Result<Vec<Delivery>, QueueError> {
    entries
        .into_iter()
        // An entry without fields was deleted by hand; there is nothing to deliver.
        .filter_map(|(id, fields)| fields.map(|f| (id, f)))
        .map(|(id, fields)| {
            let trace: TraceContext = serde_json::from_slice(reply::field(&fields, "tc").unwrap_or(b"{}"))
                .map_err(|e| QueueError::Corrupt(format!("trace context of event {id}: {e}")))?;
            Ok(Delivery {
                payload: Bytes::copy_from_slice(reply::field(&fields, "p").unwrap_or_default()),
                trace_context: trace,
                id: EventId(id),
            })
        })
        .collect()
}

impl RedisSubscription {
    async fn read(&mut self, count: usize, from: &str, block: Option<Duration>) -> Result<Vec<Delivery>, QueueError> {
        let timeout = block.unwrap_or_default() + self.inner.config.op_timeout;
        let mut conn = match self.reader.take() {
            Some(c) => c,
            None => conn::manager(&self.inner.redis, timeout).await?,
        };
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP").arg(&self.group).arg(&self.consumer).arg("COUNT").arg(count);
        if let Some(block) = block {
            cmd.arg("BLOCK").arg(ms(block).max(1));
        }
        cmd.arg("STREAMS").arg(&self.inner.stream).arg(from);
        match tokio::time::timeout(timeout, cmd.query_async::<Value>(&mut conn)).await {
            Ok(Ok(reply)) => {
                self.reader = Some(conn);
                deliveries(reply::xread(&reply)?)
            }
            Ok(Err(e)) if conn::is_nogroup(&e) => {
                self.reader = Some(conn);
                self.inner.create_group(&self.group).await?;
                Ok(Vec::new())
            }
            Ok(Err(e)) => {
                self.reader = Some(conn);
                Err(conn::unavailable("XREADGROUP", &e))
            }
            // The connection may still hold the blocked read: drop it, open a new one next time.
            Err(_) => Err(QueueError::Unavailable("redis XREADGROUP timed out".to_owned())),
        }
    }

    async fn reclaim(&mut self, count: usize) -> Result<Vec<Delivery>, QueueError> {
        let mut c = self.inner.conn.clone();
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(&self.inner.stream)
            .arg(&self.group)
            .arg(&self.consumer)
            .arg(ms(self.inner.config.visibility_timeout))
            .arg("0-0")
            .arg("COUNT")
            .arg(count)
            .query_async(&mut c)
            .await
            .map_err(|e| conn::unavailable("XAUTOCLAIM", &e))?;
        deliveries(reply::xautoclaim(&reply)?.1)
    }

    fn remember(&mut self, batch: Vec<Delivery>) -> Vec<Delivery> {
        self.unacked.extend(batch.iter().map(|d| d.id.clone()));
        batch
    }
}

#[async_trait]
impl EventSubscription for RedisSubscription {
    async fn next_batch(&mut self, max: usize, wait: Duration) -> Result<Vec<Delivery>, QueueError> {
        let max = max.max(1);
        // First what this consumer was given before and never acknowledged
        // (after a restart under the same name, or a handler that did not ack).
        if !self.history_checked || !self.unacked.is_empty() {
            let batch = self.read(max, "0", None).await?;
            self.history_checked = true;
            if !batch.is_empty() {
                return Ok(self.remember(batch));
            }
        }
        // Then what a vanished consumer of the group left behind.
        if Instant::now() >= self.next_reclaim {
            self.next_reclaim = Instant::now() + self.inner.config.maintenance_interval;
            let batch = self.reclaim(max).await?;
            if !batch.is_empty() {
                return Ok(self.remember(batch));
            }
        }
        let block = if wait.is_zero() { None } else { Some(wait) };
        let batch = self.read(max, ">", block).await?;
        Ok(self.remember(batch))
    }

    async fn ack(&mut self, ids: &[EventId]) -> Result<(), QueueError> {
        if ids.is_empty() {
            return Ok(());
        }
        let raw: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
        retrying("XACK", self.inner.config.op_timeout, || {
            let mut c = self.inner.conn.clone();
            let mut cmd = redis::cmd("XACK");
            cmd.arg(&self.inner.stream).arg(&self.group).arg(&raw);
            async move { cmd.query_async::<i64>(&mut c).await }
        })
        .await?;
        for id in ids {
            self.unacked.remove(id);
        }
        Ok(())
    }
}
