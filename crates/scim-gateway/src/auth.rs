//! Who is calling: the SCIM routes' middleware turns the `Authorization`
//! header (a static bearer token, an OAuth2 access token, or HTTP Basic) into
//! the caller's [`Connection`], applies its rate limit, and records the
//! request's `ScimCall` audit event once it is answered. Admin routes accept
//! only an admin token whose SHA-256 is configured.
//!
//! Every route under `/scim/v2` and `/admin/v1` needs credentials; `/healthz`,
//! `/readyz` and `/metrics` are open by design (probes and scrapers), and
//! `/oauth2/token` authenticates the OAuth2 client itself.

use crate::errors::{ApiError, ErrorScimType};
use crate::rate_limit::Decision;
use crate::state::AppState;
use crate::unknown::IgnoredAttributes;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use base64::Engine;
use connections::{AuthMethod, Connection, VerifyError, credentials};
use proto::audit::v1 as audit_pb;
use scim::ResourceKind;
use service_error::ErrorKind;
use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Instant;

/// The authenticated caller of a SCIM request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub connection: Arc<Connection>,
    pub method: AuthMethod,
    /// The token id, OAuth client id or Basic username (never a secret).
    pub credential_id: String,
}

/// The id that correlates a request with its job and its audit records.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Caller>().cloned().ok_or_else(ApiError::unauthenticated))
    }
}

impl FromRequest for RequestId {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(req.extensions().get::<RequestId>().cloned().unwrap_or_else(|| RequestId(new_request_id()))))
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The request id the client sent (`X-Request-Id`, when short and printable), or a fresh one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(new_request_id)
}

/// What the client presented.
enum Presented {
    Bearer(String),
    Basic { username: String, password: String },
}

fn presented(req: &ServiceRequest, allow_basic: bool) -> Option<Presented> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        return Some(Presented::Bearer(rest.to_owned()));
    }
    if allow_basic && scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        return Some(Presented::Basic { username: username.to_owned(), password: password.to_owned() });
    }
    None
}

/// The SCIM routes' middleware (`actix_web::middleware::from_fn`): authenticate,
/// rate-limit, refuse while the audit trail cannot keep up (by policy), run the
/// handler, audit.
///
/// # Errors
/// Passes on the inner service's errors; its own refusals are responses.
pub async fn scim_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let started = Instant::now();
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(ApiError::internal()).map_into_right_body());
    };
    let request_id = request_id(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));

    let caller = match authenticate(&state, &req).await {
        Ok(caller) => caller,
        Err(error) => {
            let res = req.error_response(error);
            record_call(&state, &res, None, started, &request_id);
            return Ok(res.map_into_right_body());
        }
    };
    let limit = caller.connection.rate_limit_or(state.settings.default_rate_limit);
    if let Some(limit) = limit
        && let Decision::Limited { retry_after } = state.rate_limiter.check(&caller.connection.id, limit)
    {
        metrics::counter!("scim_gateway_rate_limited_total", "connection" => caller.connection.id.to_string())
            .increment(1);
        let error = ApiError::from(
            service_error::ServiceError::new(
                ErrorKind::ResourceExhausted,
                format!("rate limit of {} requests per second exceeded", limit.requests_per_second),
            )
            .with_retry_after(retry_after),
        );
        let mut res = req.error_response(error);
        // SailPoint's SCIM connector throttles by these headers (their names are its defaults).
        let headers = res.headers_mut();
        for (name, value) in [
            ("x-rate-limit-limit", limit.burst.to_string()),
            ("x-rate-limit-remaining", "0".to_owned()),
            ("x-rate-limit-reset", retry_after.to_string()),
            ("x-rate-limit-retry-after-seconds", retry_after.to_string()),
        ] {
            if let Ok(value) = header::HeaderValue::from_str(&value) {
                headers.insert(header::HeaderName::from_static(name), value);
            }
        }
        record_call(&state, &res, Some(&caller), started, &request_id);
        return Ok(res.map_into_right_body());
    }
    if state.audit.refuses_calls() {
        // Nothing is served unaudited (`AuditBacklogPolicy::Refuse`): the events stream is down or behind.
        metrics::counter!("scim_gateway_audit_refused_total").increment(1);
        let error = ApiError::unavailable("the audit trail is not keeping up; retry later", 5);
        let res = req.error_response(error);
        record_call(&state, &res, Some(&caller), started, &request_id);
        return Ok(res.map_into_right_body());
    }
    req.extensions_mut().insert(caller.clone());
    let mut res = next.call(req).await?;
    if let Ok(value) = header::HeaderValue::from_str(&request_id) {
        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), value);
    }
    record_call(&state, &res, Some(&caller), started, &request_id);
    Ok(res.map_into_left_body())
}

async fn authenticate(state: &AppState, req: &ServiceRequest) -> Result<Caller, ApiError> {
    let presented = presented(req, state.settings.allow_basic).ok_or_else(ApiError::unauthenticated)?;
    let result = match &presented {
        Presented::Bearer(token) => state.verifier.verify_bearer(token).await,
        Presented::Basic { username, password } => state.verifier.verify_basic(username, password).await,
    };
    match result {
        Ok(who) => Ok(Caller { connection: who.connection, method: who.method, credential_id: who.credential_id }),
        Err(VerifyError::Store(e)) => {
            tracing::error!(error = %e, "credential check failed: state store unavailable");
            Err(ApiError::unavailable("credentials cannot be checked right now; retry later", 5))
        }
        Err(e) => {
            tracing::info!(reason = %e, "refused credentials");
            Err(ApiError::new(ErrorKind::Unauthenticated, "invalid credentials"))
        }
    }
}

fn record_call<B>(
    state: &AppState,
    res: &ServiceResponse<B>,
    caller: Option<&Caller>,
    started: Instant,
    request_id: &str,
) {
    let request = res.request();
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let info = request.match_info();
    let kind = info.get("resource").and_then(ResourceKind::from_endpoint);
    let mut resource_id = info.get("id").unwrap_or_default().to_owned();
    if resource_id.is_empty()
        && let Some(location) = res.headers().get(header::LOCATION).and_then(|v| v.to_str().ok())
    {
        resource_id = location.rsplit('/').next().unwrap_or_default().to_owned();
    }
    // The template names the resource type, never a raw path segment (bounded, and no personal data).
    let route = match kind {
        Some(kind) => route.replace("{resource}", kind.endpoint()),
        None => route,
    };
    let scim_type = res.response().extensions().get::<ErrorScimType>().map(|t| t.0.as_str().to_owned());
    state.audit.scim_call(audit_pb::ScimCall {
        connection_id: caller.map(|c| c.connection.id.to_string()).unwrap_or_default(),
        connection_name: caller.map(|c| c.connection.display_name.clone()).unwrap_or_default(),
        method: request.method().to_string(),
        route,
        resource_type: kind.map(|k| adapter_api::kind::to_proto(k) as i32).unwrap_or_default(),
        resource_id,
        status: u32::from(res.status().as_u16()),
        latency_micros: started.elapsed().as_micros() as u64,
        client_address: request.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default(),
        scim_type: scim_type.unwrap_or_default(),
        request_id: request_id.to_owned(),
        ignored_attributes: request
            .extensions()
            .get::<IgnoredAttributes>()
            .map(IgnoredAttributes::names)
            .unwrap_or_default(),
    });
}

/// The admin routes' middleware: the bearer token's SHA-256 must be one of
/// `admin_token_sha256` (compared in constant time). Inserts the [`AdminActor`].
///
/// # Errors
/// Passes on the inner service's errors; its own refusals are responses.
pub async fn admin_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.error_response(ApiError::internal()).map_into_right_body());
    };
    let token = match presented(&req, false) {
        Some(Presented::Bearer(token)) => token,
        _ => return Ok(req.error_response(ApiError::unauthenticated()).map_into_right_body()),
    };
    let hash = credentials::sha256_hex(&token);
    // Compare against every configured hash so that the time taken does not say which one matched.
    let matched = state
        .settings
        .admin_token_sha256
        .iter()
        .fold(false, |found, known| credentials::constant_time_eq(&known.to_ascii_lowercase(), &hash) | found);
    if !matched {
        tracing::info!("refused admin credentials");
        return Ok(req
            .error_response(ApiError::new(ErrorKind::Unauthenticated, "invalid admin credentials"))
            .map_into_right_body());
    }
    req.extensions_mut().insert(AdminActor(format!("admin:{}", &hash[..12])));
    Ok(next.call(req).await?.map_into_left_body())
}

/// Who made an admin change: `admin:` and the first 12 hex digits of the admin token's hash.
#[derive(Debug, Clone)]
pub struct AdminActor(pub String);

impl FromRequest for AdminActor {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<AdminActor>().cloned().ok_or_else(ApiError::unauthenticated))
    }
}
