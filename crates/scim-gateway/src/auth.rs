//! Who is calling: the SCIM routes' middleware turns the `Authorization`
//! header (a static bearer token, an OAuth2 access token, or HTTP Basic) into
//! the caller's [`Connection`], applies its rate limit, and records the
//! request's `ScimCall` audit event once it is answered. Admin routes accept
//! only an admin token whose SHA-256 is configured.
//!
//! Every route under `/scim/v2` and `/admin/v1` needs credentials; `/healthz`,
//! `/readyz` and `/metrics` are open by design (probes and scrapers), and
//! `/oauth2/token` authenticates the OAuth2 client itself.
//!
//! Refusals are cheap and come first ([`guarded`], also used by the token
//! endpoint): an address or identifier with too many recent failures, or an
//! address with too many refused calls of any kind, is refused (`429`, held
//! for a moment) before anything is verified ([`crate::throttle`]); the
//! verifier answers a repeated wrong credential from memory and bounds the
//! password hashes it runs (`503` beyond). A refused call is counted in a
//! summary for the audit trail ([`crate::auth_failures`]), not recorded one
//! by one, and its `traceparent` and `X-Request-Id` are not believed: it is a
//! new root trace with a fresh request id. An authenticated call continues
//! the caller's trace and keeps its request id.

use crate::auth_failures::{Reason, Surface};
use crate::errors::{ApiError, ErrorScimType};
use crate::front_door::ClientAddress;
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
use service_error::{ErrorKind, ServiceError};
use std::future::{Future, Ready, ready};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;
use telemetry::actix::RequestSpan;
use tracing::Instrument;

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

/// The request id the client sent (`X-Request-Id`, when short and printable), or a fresh one. Read
/// only for an authenticated caller.
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

/// What a credential is called in throttling and in the audit trail: never the secret.
#[derive(Debug, Clone)]
pub(crate) struct Identifier {
    /// The throttle's key, namespaced by kind.
    key: String,
    /// What the audit summary shows.
    shown: String,
}

impl Identifier {
    /// A name the client chose (a Basic user name, an OAuth client id).
    pub(crate) fn named(kind: &str, name: &str) -> Self {
        Self { key: format!("{kind}:{name}"), shown: name.to_owned() }
    }

    /// A token, by the first 12 hex digits of its SHA-256.
    pub(crate) fn token(kind: &str, token: &str) -> Self {
        let digest = credentials::sha256_hex(token);
        Self { key: format!("{kind}:{}", &digest[..12]), shown: format!("sha256:{}", &digest[..12]) }
    }
}

/// A call refused before its caller was authenticated.
#[derive(Debug, Clone)]
pub(crate) struct Refusal {
    pub reason: Reason,
    /// Seconds to wait, for a throttled or busy refusal.
    pub retry_after: Option<u32>,
}

impl Refusal {
    /// The refusal as a SCIM error (the admin API answers the same way).
    fn to_api_error(&self, what: &str) -> ApiError {
        let retry = self.retry_after.unwrap_or(1);
        match self.reason {
            Reason::Missing => ApiError::unauthenticated(),
            Reason::Invalid | Reason::Repeated => ApiError::new(ErrorKind::Unauthenticated, format!("invalid {what}")),
            Reason::Throttled => ApiError::from(
                ServiceError::new(
                    ErrorKind::ResourceExhausted,
                    format!(
                        "too many failed authentications from this address or for this credential; retry in {retry} s"
                    ),
                )
                .with_retry_after(retry),
            ),
            Reason::Busy => ApiError::unavailable("too many credentials are being checked at once; retry later", retry),
            Reason::Unavailable => ApiError::unavailable("credentials cannot be checked right now; retry later", retry),
        }
    }
}

/// Runs `verify` for a caller at `address` presenting `identifier`, unless the throttle refuses
/// first; counts a failed verification against the address and the identifier, every refusal
/// against the address, and every refusal in the audit summary.
pub(crate) async fn guarded<T, Fut>(
    state: &AppState,
    surface: Surface,
    address: Option<IpAddr>,
    identifier: &Identifier,
    verify: impl FnOnce() -> Fut,
) -> Result<T, Refusal>
where
    Fut: Future<Output = Result<T, VerifyError>>,
{
    if let Err(wait) = state.throttle.check(address, &identifier.key) {
        return Err(throttled(state, surface, address, &identifier.shown, wait).await);
    }
    let error = match verify().await {
        Ok(verified) => {
            // Only platforms' credentials: a platform cannot wait out a lockout, an administrator
            // signing in can (and has the CLI).
            if matches!(surface, Surface::Scim | Surface::OAuth2) {
                state.throttle.record_success(address, &identifier.key);
            }
            return Ok(verified);
        }
        Err(error) => error,
    };
    if error.counts_as_attempt() {
        state.throttle.record_failure(address, &identifier.key);
    }
    let (reason, retry_after) = match &error {
        VerifyError::Invalid | VerifyError::Expired | VerifyError::Disabled(_) => (Reason::Invalid, None),
        VerifyError::Repeated => (Reason::Repeated, None),
        VerifyError::Busy { retry_after } => (Reason::Busy, Some(*retry_after)),
        VerifyError::Store(e) => {
            tracing::error!(error = %e, "credential check failed: state store unavailable");
            (Reason::Unavailable, Some(5))
        }
    };
    // A failing store is not the caller's doing; every other refusal is.
    if reason != Reason::Unavailable {
        state.throttle.record_refusal(address);
    }
    tracing::debug!(surface = surface.as_str(), reason = %error, "refused credentials");
    state.auth_failures.record(surface, address, &identifier.shown, reason);
    Err(Refusal { reason, retry_after })
}

/// A call that presented no credential the surface accepts: `401`, or `429` when its address is
/// out of refusals.
pub(crate) async fn missing(state: &AppState, surface: Surface, address: Option<IpAddr>) -> Refusal {
    if let Some(refusal) = address_throttled(state, surface, address).await {
        return refusal;
    }
    state.throttle.record_refusal(address);
    state.auth_failures.record(surface, address, "", Reason::Missing);
    Refusal { reason: Reason::Missing, retry_after: None }
}

/// The refusal (`429`, held) of a call from an address out of refusals or failures, before
/// anything of the call is read; `None` while the address may go on.
pub(crate) async fn address_throttled(state: &AppState, surface: Surface, address: Option<IpAddr>) -> Option<Refusal> {
    let wait = state.throttle.check_address(address).err()?;
    Some(throttled(state, surface, address, "", wait).await)
}

/// A call the throttle refuses: counted, then held (up to the throttle's `hold`) before it is
/// answered, so that a client flooding on a few connections gets a few answers a second.
async fn throttled(state: &AppState, surface: Surface, address: Option<IpAddr>, shown: &str, wait: u32) -> Refusal {
    state.throttle.record_refusal(address);
    state.auth_failures.record(surface, address, shown, Reason::Throttled);
    state.throttle.hold(wait).await;
    Refusal { reason: Reason::Throttled, retry_after: Some(wait) }
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
    let caller = match authenticate(&state, &req).await {
        Ok(caller) => caller,
        Err(refusal) => {
            let _root = RequestSpan::refused(&req).entered();
            let mut res = req.error_response(refusal.to_api_error("credentials"));
            set_request_id(&mut res, &new_request_id());
            return Ok(res.map_into_right_body());
        }
    };
    let span = RequestSpan::authenticated(&req);
    serve(state, caller, req, next, started).instrument(span).await
}

/// The rest of an authenticated SCIM call, in the caller's trace.
async fn serve(
    state: web::Data<AppState>,
    caller: Caller,
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    started: Instant,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let request_id = request_id(&req);
    req.extensions_mut().insert(RequestId(request_id.clone()));
    let limit = caller.connection.rate_limit_or(state.settings.default_rate_limit);
    if let Some(limit) = limit
        && let Decision::Limited { retry_after } = state.rate_limiter.check(&caller.connection.id, limit)
    {
        metrics::counter!("scim_gateway_rate_limited_total", "connection" => caller.connection.id.to_string())
            .increment(1);
        let error = ApiError::from(
            ServiceError::new(
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
        record_call(&state, &res, &caller, started, &request_id).await;
        return Ok(res.map_into_right_body());
    }
    if state.audit.refuses_calls() {
        // Nothing is served unaudited (`AuditBacklogPolicy::Refuse`): the events stream is down or behind.
        metrics::counter!("scim_gateway_audit_refused_total").increment(1);
        let error = ApiError::unavailable("the audit trail is not keeping up; retry later", 5);
        // Not recorded: the spool is full, so its event could not be (it is counted here instead).
        let res = req.error_response(error);
        return Ok(res.map_into_right_body());
    }
    req.extensions_mut().insert(caller.clone());
    let mut res = next.call(req).await?;
    set_request_id(&mut res, &request_id);
    // On record (the events stream or the spool on disk) before the answer leaves.
    record_call(&state, &res, &caller, started, &request_id).await;
    Ok(res.map_into_left_body())
}

fn set_request_id<B>(res: &mut ServiceResponse<B>, request_id: &str) {
    if let Ok(value) = header::HeaderValue::from_str(request_id) {
        res.headers_mut().insert(header::HeaderName::from_static("x-request-id"), value);
    }
}

async fn authenticate(state: &AppState, req: &ServiceRequest) -> Result<Caller, Refusal> {
    let address = ClientAddress::of(req.request());
    let Some(presented) = presented(req, state.settings.allow_basic) else {
        return Err(missing(state, Surface::Scim, address).await);
    };
    let verified = match &presented {
        // A JWT (Entra ID's own token) goes to its issuer's checks, as cheap as a static token's
        // until the signature; it is never looked up as a static token.
        Presented::Bearer(token) if crate::jwt::looks_like_jwt(token) => {
            let identifier = Identifier::token("jwt", token);
            guarded(state, Surface::Scim, address, &identifier, || state.jwt.verify(token)).await
        }
        Presented::Bearer(token) => {
            // A token this replica verified recently is let through whatever the throttle says: a
            // 256-bit token cannot be guessed, and a client sharing an address with a guesser keeps working.
            if let Ok(Some(who)) = state.verifier.verify_cached_bearer(token).await {
                Ok(who)
            } else {
                let identifier = Identifier::token("bearer", token);
                guarded(state, Surface::Scim, address, &identifier, || state.verifier.verify_bearer(token)).await
            }
        }
        Presented::Basic { username, password } => {
            let identifier = Identifier::named("basic", username);
            guarded(state, Surface::Scim, address, &identifier, || state.verifier.verify_basic(username, password))
                .await
        }
    };
    let who = verified?;
    Ok(Caller { connection: who.connection, method: who.method, credential_id: who.credential_id })
}

async fn record_call<B>(
    state: &AppState,
    res: &ServiceResponse<B>,
    caller: &Caller,
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
    let latency_micros = started.elapsed().as_micros() as u64;
    let at = time::OffsetDateTime::now_utc();
    let (connection, feed_route) = (state.calls.name(caller.connection.id.as_str()), state.calls.name(&route));
    let call = audit_pb::ScimCall {
        connection_id: caller.connection.id.to_string(),
        connection_name: caller.connection.display_name.clone(),
        method: request.method().as_str().to_owned(),
        route,
        resource_type: kind.map(|k| adapter_api::kind::to_proto(k) as i32).unwrap_or_default(),
        resource_id: resource_id.clone(),
        status: u32::from(res.status().as_u16()),
        latency_micros,
        client_address: ClientAddress::of(request).map(address_text).unwrap_or_default(),
        scim_type: scim_type.unwrap_or_default(),
        request_id: request_id.to_owned(),
        ignored_attributes: request
            .extensions()
            .get::<IgnoredAttributes>()
            .map(IgnoredAttributes::names)
            .unwrap_or_default(),
    };
    // The event carries the current trace id; the console's record takes it from there.
    let event = audit_events::scim_call(call);
    state.calls.record(crate::console::calls::CallRecord {
        at,
        connection,
        method: request.method().clone(),
        route: feed_route,
        resource_id,
        status: res.status().as_u16(),
        latency_micros,
        trace_id: event.trace_id.clone(),
    });
    state.audit.record(event).await;
}

/// A client address as text. Each HTTP worker keeps the last one it wrote: a client's calls come
/// over a few connections, and `IpAddr`'s `Display` was a visible part of every call's record.
fn address_text(address: std::net::IpAddr) -> String {
    thread_local! {
        static LAST: std::cell::RefCell<Option<(std::net::IpAddr, String)>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with(|last| {
        let mut last = last.borrow_mut();
        match last.as_ref() {
            Some((cached, text)) if *cached == address => text.clone(),
            _ => {
                let text = address.to_string();
                *last = Some((address, text.clone()));
                text
            }
        }
    })
}

/// The admin routes' middleware: the bearer token's SHA-256 must be one of
/// `admin_token_sha256` (compared in constant time). Inserts the [`AdminActor`].
/// Every answer is `Cache-Control: no-store`: some show a token or a secret, once.
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
    let mut res = match authenticate_admin(&state, &req).await {
        Ok(actor) => {
            let span = RequestSpan::authenticated(&req);
            req.extensions_mut().insert(actor);
            next.call(req).instrument(span).await?.map_into_left_body()
        }
        Err(refusal) => {
            let _root = RequestSpan::refused(&req).entered();
            req.error_response(refusal.to_api_error("admin credentials")).map_into_right_body()
        }
    };
    res.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    Ok(res)
}

async fn authenticate_admin(state: &AppState, req: &ServiceRequest) -> Result<AdminActor, Refusal> {
    let address = ClientAddress::of(req.request());
    let Some(Presented::Bearer(token)) = presented(req, false) else {
        return Err(missing(state, Surface::Admin, address).await);
    };
    let identifier = Identifier::token("admin", &token);
    guarded(state, Surface::Admin, address, &identifier, || async {
        let hash = credentials::sha256_hex(&token);
        // Compare against every configured hash so that the time taken does not say which one matched.
        let matched = state
            .settings
            .admin_token_sha256
            .iter()
            .fold(false, |found, known| credentials::constant_time_eq(&known.to_ascii_lowercase(), &hash) | found);
        if matched { Ok(AdminActor(format!("admin:{}", &hash[..12]))) } else { Err(VerifyError::Invalid) }
    })
    .await
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
