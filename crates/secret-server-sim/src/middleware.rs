//! The request pipeline around the routes, outermost first: the request log,
//! fault injection ([`crate::faults::inject`]), path normalization as IIS
//! does it, and a tracing span per request named by its route template.

use crate::routes::RuntimeConfig;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Uri;
use actix_web::middleware::Next;
use actix_web::web;
use parking_lot::Mutex;
use std::collections::VecDeque;
use tracing::Instrument;

/// How many requests the log keeps (the oldest are dropped first).
pub(crate) const REQUEST_LOG_CAPACITY: usize = 100_000;

/// Every request served: `(method, path and query)` as the client sent them.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<(String, String)>>,
}

impl RequestLog {
    fn record(&self, method: String, path_and_query: String) {
        let mut entries = self.entries.lock();
        if entries.len() >= REQUEST_LOG_CAPACITY {
            entries.pop_front();
        }
        entries.push_back((method, path_and_query));
    }

    /// A copy of the log, oldest first.
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        self.entries.lock().iter().cloned().collect()
    }

    /// Forgets every entry.
    pub(crate) fn clear(&self) {
        self.entries.lock().clear();
    }
}

/// Records the request before anything else can answer it (faults included).
///
/// # Errors
/// Whatever the inner service returns.
pub(crate) async fn log_request<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if let Some(log) = req.app_data::<web::Data<RequestLog>>() {
        let path = req.uri().path_and_query().map_or_else(|| req.path().to_owned(), |p| p.as_str().to_owned());
        log.record(req.method().to_string(), path);
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

/// IIS paths are case-insensitive and tolerate a trailing slash (`/api/v1/Users/` is
/// `/api/v1/users`): the path is lower-cased and trailing slashes are removed before routing.
/// The query string is left as it is.
///
/// # Errors
/// Whatever the inner service returns.
pub(crate) async fn normalize_path<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let path = req.path();
    let trimmed = path.trim_end_matches('/');
    let normalized = if trimmed.is_empty() { "/".to_owned() } else { trimmed.to_lowercase() };
    if normalized != path {
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{normalized}?{q}"),
            None => normalized,
        };
        let mut parts = req.head().uri.clone().into_parts();
        if let Ok(pq) = path_and_query.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                req.match_info_mut().get_mut().update(&uri);
                req.head_mut().uri = uri;
            }
        }
    }
    next.call(req).await.map(ServiceResponse::map_into_boxed_body)
}

/// One span per request, named by method and route template (`GET /SecretServer/api/v1/users/{id}`),
/// never by the raw URL; it records the status. Bodies and tokens are never logged.
///
/// # Errors
/// Whatever the inner service returns.
pub(crate) async fn trace_request<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let mut route = req.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    // Routes are registered lower-case (paths are normalized); show the base path as configured.
    if let Some(config) = req.app_data::<web::Data<RuntimeConfig>>()
        && !config.base_path.is_empty()
        && route.starts_with(&config.base_path.to_lowercase())
    {
        route.replace_range(..config.base_path.len(), &config.base_path);
    }
    let method = req.method().to_string();
    let span = tracing::info_span!(
        "sim.request",
        otel.name = %format!("{method} {route}"),
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    let response = next.call(req).instrument(span.clone()).await?;
    span.record("http.response.status_code", response.status().as_u16());
    Ok(response.map_into_boxed_body())
}
