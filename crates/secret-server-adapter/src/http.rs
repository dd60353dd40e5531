//! `/healthz`, `/readyz` and `/metrics` on their own small listener (the telemetry crate's actix
//! helpers). Ready means: every instance's first load has finished, the state store and the job
//! queue answer.

use crate::core::Core;
use crate::instance::FirstLoad;
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer};
use anyhow::Context;
use job_queue::JobQueue;
use state_store::StateStore;
use std::net::SocketAddr;
use std::sync::Arc;
use telemetry::actix::{Readiness, health_endpoints, trace_requests};

/// The running health listener.
#[derive(Debug)]
pub(crate) struct HealthServer {
    pub addr: SocketAddr,
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

pub(crate) async fn readiness(core: Arc<Core>, state: Arc<dyn StateStore>, queue: Arc<dyn JobQueue>) -> Readiness {
    let mut report = Readiness::new();
    let mut instances: Vec<_> = core.instances.values().cloned().collect();
    instances.sort_by(|a, b| a.name.cmp(&b.name));
    for instance in instances {
        let name = format!("secret-server:{}", instance.name);
        // One instance that cannot be loaded does not hold the others back (see `Core::ready`).
        report = match instance.first_load() {
            FirstLoad::Done => report.check(name, Ok(())),
            FirstLoad::UnderWay => report.check(name, Err("the first load is in progress".to_owned())),
            FirstLoad::Failed(error) => {
                report.degraded(name, format!("{error} (tried again; its requests answer 503)"))
            }
        };
        // Still ready (the read model is kept), but said, until a resync agrees or an
        // administrator confirms.
        if let Some(held) = instance.resync.held() {
            report = report.note(
                format!("secret-server:{}:removals-held", instance.name),
                format!(
                    "{} of {} records missing from a read are held back (report {}{}): confirm with \
                     `scim-connector admin resync {} --confirm-removals {}`, or wait for the next resync to agree",
                    held.ids.len(),
                    held.held_of,
                    held.report_id,
                    if held.confirmed { ", confirmed" } else { "" },
                    instance.name,
                    held.report_id
                ),
            );
        }
    }
    if !core.ready() && report.ready {
        // Every instance failed its load: this replica serves nothing (another may).
        report = report.check("secret-server", Err("no Secret Server instance could be loaded".to_owned()));
    }
    if let Some(freshness) = &core.freshness {
        // A replica serves reads only once it has followed what the others changed while it was
        // away (its reads would otherwise wait, then be refused).
        let outcome = if freshness.drained() {
            Ok(())
        } else {
            Err("following the changes other replicas made while this one was away".to_owned())
        };
        report = report.check("events-stream", outcome);
    }
    report
        .check("state-store", state.ping().await.map_err(|e| e.to_string()))
        .check("job-queue", queue.ping().await.map_err(|e| e.to_string()))
}

/// Starts the health listener on `addr` (port 0 picks one).
///
/// # Errors
/// When the address cannot be bound.
pub(crate) fn start(
    addr: SocketAddr,
    core: Arc<Core>,
    state: Arc<dyn StateStore>,
    queue: Arc<dyn JobQueue>,
    tls: Option<transport_tls::ServerTls>,
) -> anyhow::Result<HealthServer> {
    telemetry::install_prometheus_recorder();
    let listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr} (http_listen)"))?;
    let addr = listener.local_addr()?;
    let server = HttpServer::new(move || {
        let (core, state, queue) = (core.clone(), state.clone(), queue.clone());
        let check = move || readiness(core.clone(), state.clone(), queue.clone());
        App::new().wrap(from_fn(trace_requests)).configure(health_endpoints(check))
    })
    .workers(1)
    .disable_signals();
    let server = match &tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.http_config()?),
        None => server.listen(listener),
    }
    .context("cannot serve the health endpoints")?
    .run();
    let handle = server.handle();
    let task = tokio::spawn(server);
    Ok(HealthServer { addr, handle, task })
}

impl HealthServer {
    /// Stops the listener.
    pub(crate) async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.task.await;
    }
}
