//! The audit service: who changed what, when, from which platform.
//!
//! It consumes the events stream as its own consumer group (`audit`), and records every SCIM call
//! and every provisioning change in an embedded SQLite database (`<data-dir>/audit/audit.db`, WAL
//! mode), append-only, each record chained to the one before by HMAC-SHA256 with a key kept out of
//! the database ([`ChainKey`]), the chain's head exported at an interval to a file and the log
//! ([`heads`]), so that tampering is detectable ([`verify`]); an event redelivered by the queue is
//! recorded once. Its query API
//! answers by time range, connection, resource, operation, status, trace id and kind, paged, and
//! exports JSON Lines; retention removes old records without breaking the chain. Each record step
//! is a span in the trace of the request that caused the event.
//!
//! Producers build their events with the `audit-events` crate, which this crate reads too (its
//! credential scrubbing is re-exported as [`scrub`]); they do not depend on this one.
//!
//! The parts: [`consumer`] (stream → store), [`store`] (schema, chain, queries, verify, prune),
//! [`heads`] (the head exported), [`api`] (HTTP), [`retention`], and [`run`] to tie them together.

pub mod api;
mod canonical;
mod chain;
pub mod consumer;
pub mod filter;
pub mod heads;
pub mod record;
pub mod retention;
mod settings;
pub mod store;
mod time_format;

pub use audit_events::scrub;
pub use chain::{ChainKey, GENESIS_HASH, KeyTooShort};
pub use filter::{FilterError, RecordFilter, StatusFilter};
pub use heads::ExportedHead;
pub use record::{Record, RecordKind};
pub use retention::prune;
pub use settings::{AuditSettings, SettingsError};
pub use store::{AuditStore, BrokenRecord, ChainPoint, PruneReport, Pruning, StoreError, VerifyReport};
pub use time_format::{format_micros, parse_rfc3339_micros};

use anyhow::Context as _;
use job_queue::EventBus;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Checks the chain of the database at `path` with `key`, and the heads exported to the file at
/// `heads` against it, heads pruned since held to `pruning` (`scim-connector audit verify`).
///
/// # Errors
///
/// No database at `path`, an exported heads file that cannot be read, or a SQLite failure. A
/// broken chain is not an error: it is the report.
pub fn verify(path: &Path, key: &ChainKey, heads: &Path, pruning: Pruning) -> Result<VerifyReport, StoreError> {
    let heads = heads::read(heads)?;
    AuditStore::open_existing(path, Some(key.clone()))?.verify(&heads, pruning)
}

/// Writes the records of the database at `path` matching `filter` to `out` as JSON Lines, in
/// sequence order; returns how many (`scim-connector audit export`).
///
/// # Errors
///
/// No database at `path`, a SQLite failure, or a write error.
pub fn export(path: &Path, filter: &RecordFilter, out: &mut dyn std::io::Write) -> Result<u64, StoreError> {
    AuditStore::open_existing(path, None)?.export(filter, out)
}

/// A started audit service.
#[derive(Debug)]
pub struct RunningAudit {
    addr: SocketAddr,
    store: Arc<AuditStore>,
    progress: consumer::Progress,
    tasks: Vec<JoinHandle<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl RunningAudit {
    /// Where the API listens (the real port when the settings asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Arc<AuditStore> {
        &self.store
    }

    /// Events taken from the stream, recorded (or found to be duplicates) and acknowledged since
    /// the start: once it reaches the number published, nothing more will be recorded from them
    /// (what tests await instead of sleeping).
    pub fn events_acknowledged(&self) -> u64 {
        self.progress.acknowledged.load(Ordering::SeqCst)
    }

    /// Batches the consumer has recorded since the start, each in one transaction.
    pub fn batches_recorded(&self) -> u64 {
        self.progress.batches.load(Ordering::SeqCst)
    }

    /// Waits until the service has stopped (after the shutdown token is cancelled).
    ///
    /// # Errors
    ///
    /// The HTTP server failed.
    pub async fn wait(self) -> anyhow::Result<()> {
        for task in self.tasks {
            task.await.context("an audit task panicked")?;
        }
        self.server.await.context("the audit API task panicked")?.context("the audit API failed")
    }
}

/// Starts the consumer, the API and retention; they run until `shutdown` is cancelled.
///
/// # Errors
///
/// Invalid settings, the database cannot be opened, or the API cannot listen.
pub async fn start(
    settings: AuditSettings,
    bus: Arc<dyn EventBus>,
    shutdown: CancellationToken,
) -> anyhow::Result<RunningAudit> {
    settings.validate()?;
    let key = settings.key.clone().context("the audit chain key is required (audit.key or audit.key_file)")?;
    telemetry::install_prometheus_recorder();
    let path = settings.database_path();
    let store = Arc::new(
        tokio::task::spawn_blocking(move || AuditStore::open(&path, Some(key)))
            .await
            .context("opening the audit database")?
            .context("opening the audit database")?,
    );
    let consumer_alive = Arc::new(AtomicBool::new(false));
    let state = api::ApiState {
        store: store.clone(),
        tokens: Arc::new(api::AdminTokens::from_hex(&settings.admin_token_sha256)),
        consumer_alive: consumer_alive.clone(),
        heads: settings.heads_path(),
        pruning: settings.pruning(),
    };
    let tls = settings
        .tls
        .as_ref()
        .map(|files| transport_tls::ServerTls::load(files, transport_tls::DEFAULT_POLL_INTERVAL))
        .transpose()?;
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("the audit API cannot listen on {}", settings.listen))?;
    let addr = listener.local_addr().context("the audit API has no address")?;
    let server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .wrap(actix_web::middleware::from_fn(telemetry::actix::trace_requests))
            .configure(api::configure(state.clone()))
    })
    .disable_signals();
    let server = match &tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.http_config()?),
        None => server.listen(listener),
    }
    .with_context(|| format!("the audit API cannot listen on {}", settings.listen))?;
    let server = server.run();
    let server_handle = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(%addr, database = %store.path().display(), heads = %settings.heads_path().display(),
        "audit service started");

    let progress = consumer::Progress { alive: consumer_alive, ..consumer::Progress::default() };
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(consume(store.clone(), bus, settings.clone(), progress.clone(), shutdown.clone())));
    tasks.push(tokio::spawn(heads::run(
        store.clone(),
        settings.heads_path(),
        settings.head_interval,
        shutdown.clone(),
    )));
    if let Some(retention) = settings.retention {
        tasks.push(tokio::spawn(retention::run(
            store.clone(),
            retention,
            settings.retention_interval,
            shutdown.clone(),
        )));
    }
    tasks.push(tokio::spawn(async move {
        shutdown.cancelled().await;
        server_handle.stop(true).await;
    }));
    Ok(RunningAudit { addr, store, progress, tasks, server })
}

/// Runs the audit service until `shutdown` is cancelled: the consumer, the query API and
/// retention.
///
/// # Errors
///
/// As [`start`], or the API failed while running.
pub async fn run(settings: AuditSettings, bus: Arc<dyn EventBus>, shutdown: CancellationToken) -> anyhow::Result<()> {
    start(settings, bus, shutdown).await?.wait().await
}

/// Subscribes (retrying while the bus is unreachable), then consumes until shutdown.
async fn consume(
    store: Arc<AuditStore>,
    bus: Arc<dyn EventBus>,
    settings: AuditSettings,
    progress: consumer::Progress,
    shutdown: CancellationToken,
) {
    let name = settings.consumer_name();
    let mut backoff = Duration::from_millis(200);
    loop {
        let subscribed = tokio::select! {
            _ = shutdown.cancelled() => return,
            s = consumer::Consumer::subscribe(
                                store.clone(),
                bus.as_ref(),
                &settings.consumer_group,
                &name,
                settings.batch_size,
                settings.poll_wait,
                settings.batch_linger,
            ) => s,
        };
        match subscribed {
            Ok(consumer) => {
                tracing::info!(group = %settings.consumer_group, consumer = %name, "audit consumer subscribed");
                let alive = progress.alive.clone();
                consumer.run(shutdown, progress).await;
                alive.store(false, Ordering::SeqCst);
                return;
            }
            Err(error) => {
                tracing::error!(error = %error, retry_in = ?backoff, "cannot join the audit consumer group");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}
