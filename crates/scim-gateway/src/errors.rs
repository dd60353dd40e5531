//! The one place errors become HTTP responses: every error the gateway
//! answers with is an RFC 7644 §3.12 body served as `application/scim+json`,
//! including actix-web's own (unknown paths, wrong methods, unreadable
//! queries), which [`scim_error_bodies`] rewrites.
//!
//! A 5xx body carries only a short message and the trace id; the cause went
//! to the log where the error was handled.

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};
use scim::{ScimError, ScimType};
use service_error::{ErrorKind, ServiceError};
use std::fmt;

/// The SCIM media type with its charset, as every SCIM response is served.
pub const SCIM_CONTENT_TYPE: &str = "application/scim+json; charset=utf-8";

/// An error on its way to the client.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub error: ServiceError,
    /// A status outside the error table (`415`, `422`), which never crosses a service.
    status: Option<StatusCode>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for ApiError {}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        Self { error, status: None }
    }
}

impl From<connections::scope::Denial> for ApiError {
    fn from(denial: connections::scope::Denial) -> Self {
        Self::from(ServiceError::from(denial))
    }
}

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        Self::from(ServiceError::from(e))
    }
}

impl ApiError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self::from(ServiceError::new(kind, detail))
    }
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::from(ServiceError::invalid_argument(detail).with_scim_type(scim_type))
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::from(ServiceError::not_found(detail))
    }
    /// `415 Unsupported Media Type`.
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self { error: ServiceError::invalid_argument(detail), status: Some(StatusCode::UNSUPPORTED_MEDIA_TYPE) }
    }
    /// `422 Unprocessable Content`: an `Idempotency-Key` sent with another request than the one it
    /// was first used for. Outside the error table, like `415`: the gateway decides it and it never
    /// crosses a service.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self { error: ServiceError::invalid_argument(detail), status: Some(StatusCode::UNPROCESSABLE_ENTITY) }
    }
    /// `405 Method Not Allowed` (with `Allow: GET`): a write to a read-only resource type (RFC 9110
    /// §15.5.6: the method is not one the target resource supports). Outside the error table: the
    /// gateway decides it before any job exists.
    pub fn method_not_allowed(detail: impl Into<String>) -> Self {
        Self { error: ServiceError::invalid_argument(detail), status: Some(StatusCode::METHOD_NOT_ALLOWED) }
    }
    pub fn unauthenticated() -> Self {
        Self::new(ErrorKind::Unauthenticated, "authentication required: send the connection's bearer token")
    }
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::PermissionDenied, detail)
    }
    pub fn too_large(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::PayloadTooLarge, detail)
    }
    pub fn internal() -> Self {
        Self::new(ErrorKind::Internal, "internal error")
    }
    pub fn unavailable(detail: impl Into<String>, retry_after: u32) -> Self {
        Self::from(ServiceError::unavailable(detail).with_retry_after(retry_after))
    }

    /// The status this error answers with.
    pub fn status(&self) -> StatusCode {
        self.status.unwrap_or_else(|| {
            StatusCode::from_u16(self.error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        })
    }

    /// The error as the client sees it (for a Bulk operation's `response`).
    pub fn to_scim(&self) -> ScimError {
        serde_json::from_value::<scim::error::ErrorBody>(self.body())
            .ok()
            .map(|b| ScimError {
                status: self.status().as_u16(),
                scim_type: b.scim_type,
                detail: b.detail.unwrap_or_default(),
            })
            .unwrap_or_else(|| ScimError::status(self.status().as_u16(), "error"))
    }

    /// The body as the client sees it: the detail, or for 5xx only a short message and the trace id.
    pub fn body(&self) -> serde_json::Value {
        let mut scim = ScimError::from(self.error.clone());
        scim.status = self.status().as_u16();
        if scim.status >= 500 {
            let short = match self.error.kind {
                ErrorKind::Unavailable | ErrorKind::DeadlineExceeded => self.error.detail.clone(),
                _ => "internal error".to_owned(),
            };
            scim.detail = match telemetry::current_trace_id() {
                Some(trace) => format!("{short} (trace id {trace})"),
                None => short,
            };
        }
        serde_json::to_value(scim.to_body()).unwrap_or_default()
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse<BoxBody> {
        let mut res = HttpResponse::build(self.status());
        res.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
        if let Some(seconds) = self.error.retry_after {
            res.insert_header((header::RETRY_AFTER, seconds.to_string()));
        }
        if self.status() == StatusCode::METHOD_NOT_ALLOWED {
            res.insert_header((header::ALLOW, "GET"));
        }
        if self.error.kind == ErrorKind::Unauthenticated {
            res.insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"scim\""));
        }
        let mut response = res.body(self.body().to_string());
        if let Some(scim_type) = self.error.scim_type {
            response.extensions_mut().insert(ErrorScimType(scim_type));
        }
        response
    }
}

/// Set on an error response so that the audit record can carry its `scimType`.
#[derive(Debug, Clone, Copy)]
pub struct ErrorScimType(pub ScimType);

/// An `ErrorHandlers` hook: any error response that is not already a SCIM
/// (or OAuth2 JSON) body nor a console page, e.g. actix-web's own 404, 405, 413 or a query it
/// could not parse, is replaced by a SCIM error body with the same status.
///
/// # Errors
/// Never; the signature is the one `ErrorHandlers` requires.
pub fn scim_error_bodies<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    // A JSON body is already an error body; an HTML one is a console page, which says what went
    // wrong in words (the sign-in form with its message, an error page).
    let is_json_or_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json") || v.starts_with("text/html"));
    if is_json_or_page {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let detail = match status {
        StatusCode::NOT_FOUND => "no such endpoint".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => format!("method {} is not allowed on this endpoint", res.request().method()),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "send application/scim+json or application/json".to_owned(),
        s if s.is_client_error() => "the request could not be read".to_owned(),
        _ => String::new(),
    };
    let error = if status.is_server_error() {
        ApiError::internal()
    } else {
        let kind = ErrorKind::from_http_status(status.as_u16());
        ApiError::from(ServiceError { kind, scim_type: None, detail, retry_after: None })
    };
    let (req, old) = res.into_parts();
    let mut new = HttpResponse::build(status);
    // Keep headers the original answer meant for the client (Allow, Retry-After, WWW-Authenticate,
    // and the admin API's Cache-Control).
    for name in [header::ALLOW, header::RETRY_AFTER, header::WWW_AUTHENTICATE, header::CACHE_CONTROL] {
        if let Some(v) = old.headers().get(&name) {
            new.insert_header((name, v.clone()));
        }
    }
    new.insert_header((header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE)));
    let body = ScimError { status: status.as_u16(), ..ScimError::from(error.error.clone()) };
    let value =
        if status.is_server_error() { error.body() } else { serde_json::to_value(body.to_body()).unwrap_or_default() };
    let res = ServiceResponse::new(req, new.body(value.to_string())).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// Shorthand for handler results.
pub type ApiResult<T> = Result<T, ApiError>;

/// The response body type of the error handler middleware.
pub type ErrorBody<B> = EitherBody<B>;
