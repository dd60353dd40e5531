//! actix-web helpers: a middleware that traces and measures every request, and the `/healthz`,
//! `/readyz` and `/metrics` endpoints every service exposes.
//!
//! ```text
//! App::new()
//!     .wrap(actix_web::middleware::from_fn(telemetry::actix::trace_requests))
//!     .configure(telemetry::actix::health_endpoints(move || readiness(state.clone())))
//! ```
//!
//! A service whose callers are outside the connector decides whose trace a request continues
//! only once it knows who is calling ([`trace_requests_with`] and [`IncomingTrace`]): an
//! unauthenticated caller must not choose the trace id its refusal is recorded under.

use crate::metrics::render_metrics;
use crate::propagation::set_parent_from_context;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::HeaderMap;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse, web};
use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use std::collections::BTreeMap;
use std::future::Future;
use std::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

/// The route label of a request that matched no route: never the raw path, which would let any
/// client create unbounded label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Paths of the operational endpoints, which are neither traced nor counted: probes every few
/// seconds would drown the traffic they are meant to watch.
const OPERATIONAL_PATHS: [&str; 3] = ["/healthz", "/readyz", "/metrics"];

/// Whose W3C trace context a request continues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncomingTrace {
    /// The caller's: for services whose callers are the connector's own services.
    Trusted,
    /// Nobody's: every request starts a new root trace.
    Ignored,
    /// Decided once the caller is authenticated: the request's span waits, unentered, in the
    /// request's extensions until the authentication middleware takes it with
    /// [`RequestSpan::authenticated`] (it joins the caller's trace) or [`RequestSpan::refused`]
    /// (it stays a new root), and runs the rest of the request in it.
    AfterAuthentication,
}

/// Traces and measures one HTTP request, continuing the caller's trace: for use with
/// `actix_web::middleware::from_fn`.
///
/// Opens a server span named `"{METHOD} {route template}"` (`req.match_pattern()`, never the raw
/// URL), parented to the W3C context of the request headers, with `http.request.method`,
/// `http.route` and `http.response.status_code`; records `scim_http_requests_total` and
/// `scim_http_request_duration_seconds` labelled by `method`, `route` and `status`.
///
/// # Errors
///
/// Passes on the inner service's error unchanged (its status is still recorded).
pub async fn trace_requests<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    trace_requests_with(req, next, IncomingTrace::Trusted).await
}

/// [`trace_requests`], with the caller's trace context treated as `incoming` says.
///
/// # Errors
///
/// Passes on the inner service's error unchanged (its status is still recorded).
pub async fn trace_requests_with<B: MessageBody>(
    req: ServiceRequest,
    next: Next<B>,
    incoming: IncomingTrace,
) -> Result<ServiceResponse<B>, actix_web::Error> {
    if OPERATIONAL_PATHS.contains(&req.path()) {
        return next.call(req).await;
    }
    let method = req.method().as_str().to_owned();
    let route = req.match_pattern();
    let span_name = match &route {
        Some(route) => format!("{method} {route}"),
        None => method.clone(),
    };
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    let span = tracing::info_span!(
        "http_request",
        otel.name = %span_name,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = Empty,
    );
    let started = Instant::now();
    let result = match incoming {
        IncomingTrace::Trusted => {
            set_parent_from_context(&span, extract_actix_headers(req.headers()));
            next.call(req).instrument(span.clone()).await
        }
        IncomingTrace::Ignored => next.call(req).instrument(span.clone()).await,
        IncomingTrace::AfterAuthentication => {
            let pending = RequestSpan { span: span.clone(), incoming: extract_actix_headers(req.headers()) };
            req.extensions_mut().insert(pending);
            next.call(req).await
        }
    };
    let status = match &result {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.as_response_error().status_code().as_u16(),
    };
    span.record("http.response.status_code", status);
    if status >= 500 {
        span.record("otel.status_code", "error");
    }
    let status = status.to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("scim_http_requests_total", &labels).increment(1);
    metrics::histogram!("scim_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    result
}

/// The span of a request traced with [`IncomingTrace::AfterAuthentication`], waiting in the
/// request's extensions for the authentication middleware to say whose trace it continues.
#[derive(Debug, Clone)]
pub struct RequestSpan {
    span: tracing::Span,
    incoming: Context,
}

impl RequestSpan {
    /// The request's span, joined to the trace the caller's headers name: for an authenticated
    /// caller. Run the rest of the request in it. Outside such a request, the current span.
    pub fn authenticated(req: &ServiceRequest) -> tracing::Span {
        match req.extensions().get::<RequestSpan>() {
            Some(pending) => {
                set_parent_from_context(&pending.span, pending.incoming.clone());
                pending.span.clone()
            }
            None => tracing::Span::current(),
        }
    }

    /// The request's span as a new root trace, whatever the caller's headers say: for a refused
    /// caller. Outside such a request, the current span.
    pub fn refused(req: &ServiceRequest) -> tracing::Span {
        match req.extensions().get::<RequestSpan>() {
            Some(pending) => pending.span.clone(),
            None => tracing::Span::current(),
        }
    }
}

/// The W3C context carried by an actix request's headers (actix-web has its own `HeaderMap`).
pub fn extract_actix_headers(headers: &HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&ActixHeaders(headers))
}

struct ActixHeaders<'a>(&'a HeaderMap);

impl Extractor for ActixHeaders<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// One dependency's state in a readiness report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CheckOutcome {
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The answer to `/readyz`: ready when every check passed (a [`Readiness::degraded`] one aside).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub checks: BTreeMap<String, CheckOutcome>,
}

impl Readiness {
    /// A report with no checks yet (ready).
    pub fn new() -> Self {
        Self { ready: true, checks: BTreeMap::new() }
    }

    /// Adds one check: `Err(detail)` makes the service not ready.
    pub fn check(mut self, name: impl Into<String>, outcome: Result<(), String>) -> Self {
        let outcome = match outcome {
            Ok(()) => CheckOutcome { ok: true, detail: None },
            Err(detail) => CheckOutcome { ok: false, detail: Some(detail) },
        };
        self.ready &= outcome.ok;
        self.checks.insert(name.into(), outcome);
        self
    }

    /// Adds a passing check with a detail: something to say that does not make the service
    /// unready.
    pub fn note(mut self, name: impl Into<String>, detail: impl Into<String>) -> Self {
        self.checks.insert(name.into(), CheckOutcome { ok: true, detail: Some(detail.into()) });
        self
    }

    /// Adds a failing check that does not make the service unready: a dependency of part of
    /// the service only, which no other replica would serve better.
    pub fn degraded(mut self, name: impl Into<String>, detail: impl Into<String>) -> Self {
        self.checks.insert(name.into(), CheckOutcome { ok: false, detail: Some(detail.into()) });
        self
    }
}

/// Registers `GET /healthz` (200 while the process serves), `GET /readyz` (200 when `readiness`
/// reports ready, 503 otherwise, with the details as JSON) and `GET /metrics` (Prometheus text).
pub fn health_endpoints<F, Fut>(readiness: F) -> impl FnOnce(&mut web::ServiceConfig)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = Readiness> + 'static,
{
    endpoints(readiness, Detail::Full)
}

/// Registers `GET /healthz` and a bare `GET /readyz`: 200 or 503 with only `{"ready": …}`, no
/// details and no `/metrics`. For a listener that clients reach, when the details and the metrics
/// are served on another ([`health_endpoints`]).
pub fn bare_health_endpoints<F, Fut>(readiness: F) -> impl FnOnce(&mut web::ServiceConfig)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = Readiness> + 'static,
{
    endpoints(readiness, Detail::Bare)
}

/// How much the health endpoints of a listener tell.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Detail {
    /// `/readyz` with every check's outcome, and `/metrics`.
    Full,
    /// `/readyz` with only whether the service is ready; no `/metrics`.
    Bare,
}

fn endpoints<F, Fut>(readiness: F, detail: Detail) -> impl FnOnce(&mut web::ServiceConfig)
where
    F: Fn() -> Fut + Clone + 'static,
    Fut: Future<Output = Readiness> + 'static,
{
    move |cfg: &mut web::ServiceConfig| {
        cfg.route("/healthz", web::get().to(|| async { HttpResponse::Ok().json(serde_json::json!({"status": "ok"})) }))
            .route(
                "/readyz",
                web::get().to(move || {
                    let readiness = readiness.clone();
                    async move {
                        let report = readiness().await;
                        let mut response =
                            if report.ready { HttpResponse::Ok() } else { HttpResponse::ServiceUnavailable() };
                        match detail {
                            Detail::Full => response.json(report),
                            Detail::Bare => response.json(serde_json::json!({ "ready": report.ready })),
                        }
                    }
                }),
            );
        if detail == Detail::Full {
            cfg.route(
                "/metrics",
                web::get().to(|| async {
                    HttpResponse::Ok().content_type("text/plain; version=0.0.4; charset=utf-8").body(render_metrics())
                }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test};

    fn app_routes(cfg: &mut web::ServiceConfig) {
        cfg.route("/scim/v2/Users/{id}", web::get().to(|| async { HttpResponse::Ok().finish() }))
            .route("/boom", web::get().to(|| async { HttpResponse::InternalServerError().finish() }));
    }

    #[actix_web::test]
    async fn requests_are_counted_by_route_template_never_by_raw_path() {
        crate::install_prometheus_recorder();
        let app = test::init_service(
            App::new()
                .wrap(actix_web::middleware::from_fn(trace_requests))
                .configure(app_routes)
                .configure(health_endpoints(|| async { Readiness::new() })),
        )
        .await;
        for id in ["alice-unique-1", "bob-unique-2"] {
            let res =
                test::call_service(&app, test::TestRequest::get().uri(&format!("/scim/v2/Users/{id}")).to_request())
                    .await;
            assert_eq!(res.status(), 200);
        }
        let res = test::call_service(&app, test::TestRequest::get().uri("/nowhere-unique-3").to_request()).await;
        assert_eq!(res.status(), 404);
        let res = test::call_service(&app, test::TestRequest::get().uri("/boom").to_request()).await;
        assert_eq!(res.status(), 500);

        let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(res.status(), 200);
        let text = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
        assert!(
            text.contains(r#"scim_http_requests_total{method="GET",route="/scim/v2/Users/{id}",status="200"} 2"#),
            "{text}"
        );
        assert!(text.contains(r#"scim_http_requests_total{method="GET",route="unmatched",status="404"} 1"#), "{text}");
        assert!(text.contains(r#"route="/boom",status="500"} 1"#), "{text}");
        assert!(text.contains("scim_http_request_duration_seconds_bucket"), "{text}");
        assert!(!text.contains("unique-"), "raw paths must never become labels: {text}");
        assert!(!text.contains(r#"route="/metrics""#), "operational endpoints are not counted: {text}");
    }

    #[actix_web::test]
    async fn readyz_answers_503_with_details_when_a_check_fails() {
        let app = test::init_service(App::new().configure(health_endpoints(|| async {
            Readiness::new().check("redis", Ok(())).check("first_load", Err("still loading".into()))
        })))
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body["ready"], false);
        assert_eq!(body["checks"]["redis"]["ok"], true);
        assert_eq!(body["checks"]["first_load"]["detail"], "still loading");

        let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
        assert_eq!(res.status(), 200);
    }

    #[actix_web::test]
    async fn the_bare_readyz_says_only_whether_the_service_is_ready_and_there_are_no_metrics() {
        let app = test::init_service(App::new().configure(bare_health_endpoints(|| async {
            Readiness::new().check("redis", Err("connection refused at 10.0.0.7:6379".into()))
        })))
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(res.status(), 503);
        let body: serde_json::Value = test::read_body_json(res).await;
        assert_eq!(body, serde_json::json!({"ready": false}));
        let res = test::call_service(&app, test::TestRequest::get().uri("/metrics").to_request()).await;
        assert_eq!(res.status(), 404);
        let res = test::call_service(&app, test::TestRequest::get().uri("/healthz").to_request()).await;
        assert_eq!(res.status(), 200);
    }

    #[actix_web::test]
    async fn readyz_answers_200_when_every_check_passes() {
        let app = test::init_service(
            App::new().configure(health_endpoints(|| async { Readiness::new().check("sqlite", Ok(())) })),
        )
        .await;
        let res = test::call_service(&app, test::TestRequest::get().uri("/readyz").to_request()).await;
        assert_eq!(res.status(), 200);
    }
}
