//! Building and running the gateway: the shared state, the actix-web app
//! (routes, middlewares, error bodies, health endpoints) on any address
//! (port 0 in tests), the optional listener of `/metrics` and the detailed
//! `/readyz`, and an orderly shutdown that drains requests and publishes the
//! last audit events.
//!
//! Each listener is bound by [`bind`] and handed to its server by `serve!`: with a certificate
//! configured, every listener speaks HTTPS only (`transport_tls`, files re-read when they change).

use crate::audit::{self, AuditTask};
use crate::auth;
use crate::auth_failures::AuthFailures;
use crate::circuit_breaker::Breakers;
use crate::directory::Directory;
use crate::errors::scim_error_bodies;
use crate::front_door::front_door;
use crate::jobs::Jobs;
use crate::rate_limit::RateLimiter;
use crate::routes;
use crate::settings::GatewaySettings;
use crate::state::{ADAPTER_BREAKER, AppState};
use crate::throttle::AuthThrottle;
use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{ErrorHandlers, NormalizePath, from_fn};
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use connections::{ConnectionStore, CredentialVerifier};
use job_queue::{EventBus, JobQueue};
use state_store::StateStore;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use telemetry::actix::Readiness;

/// The timeout of a call to the adapter's `Admin` service: a preflight makes a dozen calls to
/// Secret Server, each of which may take seconds on a slow vault.
const ADMIN_CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// What the gateway runs on, built by the caller (the connector or a test).
#[derive(Debug, Clone)]
pub struct GatewayDeps {
    pub queue: Arc<dyn JobQueue>,
    pub events: Arc<dyn EventBus>,
    pub state: Arc<dyn StateStore>,
    pub connections: ConnectionStore,
}

/// A running gateway.
#[derive(Debug)]
pub struct RunningGateway {
    addr: SocketAddr,
    main: Running,
    /// The listener of `/metrics` and the detailed `/readyz`, when one is configured.
    metrics: Option<(SocketAddr, Running)>,
    state: web::Data<AppState>,
    audit: AuditTask,
    summaries: tokio::task::JoinHandle<()>,
}

/// One running HTTP server.
#[derive(Debug)]
struct Running {
    handle: ServerHandle,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    fn spawn(server: Server) -> Self {
        Self { handle: server.handle(), task: tokio::spawn(server) }
    }

    async fn stop(self, what: &str) {
        self.handle.stop(true).await;
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, server = what, "a server task of the gateway ended abnormally");
        }
    }
}

/// Binds one of the gateway's listeners.
fn bind(addr: SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).with_context(|| format!("binding the {what} listener on {addr}"))
}

/// Hands a bound listener to an `HttpServer`, over TLS when a certificate is configured (a macro:
/// `HttpServer`'s type parameters are the app factory's, which a function would have to spell out).
macro_rules! serve {
    ($server:expr, $listener:expr, $tls:expr) => {
        match $tls {
            Some(tls) => $server.listen_rustls_0_23($listener, tls.http_config()?)?,
            None => $server.listen($listener)?,
        }
    };
}

/// Starts the gateway on `settings.listen` (port 0: any free port).
///
/// # Errors
/// Invalid settings (one line naming the setting), or an address that cannot be bound.
pub async fn start(settings: GatewaySettings, deps: GatewayDeps) -> anyhow::Result<RunningGateway> {
    settings.validate().map_err(|e| anyhow::anyhow!("invalid gateway settings: {e}"))?;
    let breakers = Breakers::new(settings.breaker);
    let adapter_auth = adapter_api::client::AdapterAuth {
        secret: settings.adapter_secret.clone(),
        tls: settings
            .adapter_tls
            .as_ref()
            .map(|files| transport_tls::GrpcClientTls::load(files, settings.tls_poll))
            .transpose()?,
    };
    let adapter_admin = adapter_api::AdminClient::new(
        &settings.adapter_url,
        settings.grpc_connect_timeout,
        ADMIN_CALL_TIMEOUT,
        adapter_auth.clone(),
    )
    .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let directory = Directory::new(
        &settings.adapter_url,
        settings.grpc_connect_timeout,
        settings.grpc_timeout,
        breakers.get(ADAPTER_BREAKER),
        adapter_auth,
    )
    .map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    let tls =
        settings.tls.as_ref().map(|files| transport_tls::ServerTls::load(files, settings.tls_poll)).transpose()?;
    let (audit_sink, audit_task) = audit::start(deps.events.clone(), settings.audit.clone())
        .map_err(|e| anyhow::anyhow!("the audit spool cannot be opened: {e}"))?;
    let listener = bind(settings.listen, "gateway")?;
    let addr = listener.local_addr()?;
    let metrics_listener = settings.metrics_listen.map(|addr| bind(addr, "metrics")).transpose()?;
    let auth_failures = Arc::new(AuthFailures::new(settings.auth_failure_summaries, audit_sink.clone()));
    let summaries = auth_failures.spawn_flusher();
    let workers = match settings.http_workers {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        n => n,
    };
    let jwt = crate::jwt::JwtVerifier::new(deps.connections.clone(), settings.jwt.clone())?;
    let audit_reader = crate::console::audit_reader::AuditReader::new(&settings.console)?;
    let state = web::Data::new(AppState {
        jwt,
        jobs: Jobs::new(deps.queue.clone(), settings.job_deadline, settings.job_keys.clone()),
        verifier: CredentialVerifier::new(deps.connections.clone(), settings.credential_cache),
        schemas: scim::Schemas::standard(),
        directory,
        adapter_admin,
        breakers,
        connections: deps.connections,
        state: deps.state,
        rate_limiter: RateLimiter::new(),
        audit: audit_sink,
        throttle: AuthThrottle::new(settings.auth_throttle),
        auth_failures,
        calls: crate::console::CallFeed::new(),
        audit_reader,
        console_sign_ins: crate::console::SignInInstances::default(),
        console_password_checks: crate::console::users::PasswordChecks::new(
            settings.credential_cache.hash_concurrency(),
        ),
        settings,
    });
    let grace = state.settings.shutdown_grace;
    let app_state = state.clone();
    let separate_metrics = metrics_listener.is_some();
    let server = HttpServer::new(move || {
        let state = app_state.clone();
        let limits = state.settings.limits;
        let readiness_state = state.clone();
        let probe = move || readiness(readiness_state.clone());
        App::new()
            .app_data(state)
            .app_data(web::PayloadConfig::new(limits.max_body_bytes))
            .wrap(ErrorHandlers::new().default_handler(scim_error_bodies))
            // `//Users` and `/Users/` (a tenant URL with a trailing slash) reach `/Users`.
            .wrap(NormalizePath::trim())
            // Outermost: the client's address, and a trace that trusts the caller only once authenticated.
            .wrap(from_fn(front_door))
            .configure(|cfg| {
                if separate_metrics {
                    telemetry::actix::bare_health_endpoints(probe)(cfg)
                } else {
                    telemetry::actix::health_endpoints(probe)(cfg)
                }
            })
            // Reads its own body, at most `MAX_TOKEN_REQUEST_BYTES`, once the address's throttle lets it.
            .service(web::resource("/oauth2/token").route(web::post().to(routes::oauth::token)))
            .service(
                web::scope("/admin/v1")
                    .wrap(from_fn(auth::admin_middleware))
                    .configure(routes::admin::configure)
                    .configure(routes::recovery::configure)
                    .configure(crate::console::users::configure_admin)
                    .default_service(web::to(routes::not_found)),
            )
            .configure(crate::console::configure)
            .service(
                web::scope("/scim/v2")
                    .wrap(from_fn(auth::scim_middleware))
                    // Twice the Bulk limit, so that a body just over it gets the Bulk parser's precise 413.
                    .configure(|cfg| routes::scim(cfg, limits.bulk_max_payload_bytes.saturating_mul(2)))
                    .default_service(web::to(routes::not_found)),
            )
            .default_service(web::to(routes::not_found))
    })
    .workers(workers)
    .disable_signals()
    .shutdown_timeout(grace.as_secs().max(1));
    let main = Running::spawn(serve!(server, listener, tls.as_ref()).run());
    tracing::info!(%addr, workers, https = tls.is_some(), "scim gateway listening");
    let metrics = match metrics_listener {
        Some(listener) => {
            let metrics_addr = listener.local_addr()?;
            let metrics_state = state.clone();
            let server = HttpServer::new(move || {
                let readiness_state = metrics_state.clone();
                App::new()
                    .configure(telemetry::actix::health_endpoints(move || readiness(readiness_state.clone())))
                    .default_service(web::to(routes::not_found))
            })
            .workers(1)
            .disable_signals()
            .shutdown_timeout(2);
            tracing::info!(addr = %metrics_addr, "gateway metrics and readiness details listening");
            Some((metrics_addr, Running::spawn(serve!(server, listener, tls.as_ref()).run())))
        }
        None => None,
    };
    Ok(RunningGateway { addr, main, metrics, state, audit: audit_task, summaries })
}

async fn readiness(state: web::Data<AppState>) -> Readiness {
    let adapter = match state.directory.health().await {
        Ok(h) if h.ready => Ok(()),
        Ok(h) => Err(if h.detail.is_empty() { "the adapter is not ready".to_owned() } else { h.detail }),
        Err(e) => Err(format!("the adapter cannot be reached: {}", e.detail)),
    };
    let queue = state.jobs.queue().ping().await.map_err(|e| e.to_string());
    let store = state.state.ping().await.map_err(|e| e.to_string());
    Readiness::new().check("adapter", adapter).check("queue", queue).check("state_store", store)
}

impl RunningGateway {
    /// The address the gateway listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Whether the listeners speak HTTPS.
    pub fn https(&self) -> bool {
        self.state.settings.tls.is_some()
    }

    /// Where `/metrics` and the detailed `/readyz` are served, when `metrics_listen` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    /// Stops accepting requests, finishes those in flight, and publishes the remaining audit events
    /// (what the grace period leaves unpublished stays in the spool, for the next start), all within
    /// `shutdown_grace`.
    pub async fn shutdown(self) {
        let deadline = tokio::time::Instant::now() + self.state.settings.shutdown_grace;
        // Requests in flight get part of the grace period; the audit spool the rest.
        let requests = self.state.settings.shutdown_grace.mul_f64(0.6);
        if tokio::time::timeout(requests, self.main.stop("gateway")).await.is_err() {
            tracing::warn!("requests still in flight at the end of their part of the grace period");
        }
        if let Some((_, metrics)) = self.metrics {
            metrics.stop("metrics").await;
        }
        // The failures counted since the last summary are written before the audit sink closes.
        self.summaries.abort();
        let _ = self.summaries.await;
        self.state.auth_failures.flush();
        // The last handle on the shared state holds the audit sink; dropping it lets the publisher finish.
        drop(self.state);
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.audit.finish(left.max(Duration::from_millis(100))).await;
    }
}
