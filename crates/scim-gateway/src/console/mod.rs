//! The web console under `/console`: the connector as its administrators run it, on the gateway's
//! own listener (and TLS), beside the admin API it mirrors.
//!
//! - Pages are rendered on the server with `maud` (HTML built at compile time, every value escaped
//!   by construction); the one stylesheet and the little script (the live calls' event stream and
//!   the copy button) are embedded in the binary and served from `/console/assets`. Every core
//!   flow works without JavaScript.
//! - Every answer carries a strict `Content-Security-Policy` (`default-src 'self'`, no inline
//!   script or style, `frame-ancestors 'none'`), `X-Content-Type-Options: nosniff`,
//!   `Referrer-Policy: no-referrer` and `Cache-Control: no-store` ([`security_headers`]).
//! - Administrators sign in with a name and password ([`users`], Argon2id hashes in the state store,
//!   managed through the admin API and `scim-connector admin console-user`). Failed sign-ins are
//!   throttled by the front door's throttle (per address and per name) and summarised in the audit
//!   trail like the other surfaces' refusals; no more passwords are hashed at once than the front
//!   door's verifier hashes ([`users::PasswordChecks`]): beyond, sign-in is busy (`503`).
//! - A session ([`session`]) is a random id in an `HttpOnly`, `SameSite=Strict`, `Path=/console`
//!   cookie (`Secure` over TLS); the state store keeps only the id's hash, so sessions work across
//!   gateway replicas. It ends after an idle and an absolute lifetime, or at sign-out; what the
//!   console does on its own (a page's reload marked `?auto=1`, the live calls' event stream)
//!   is checked against both but does not keep it alive. Every POST carries the session's CSRF
//!   token (`403` without it), checked before any handler runs.
//! - Every page calls the same operations as the admin API (`routes::admin`, `routes::recovery`),
//!   with the administrator as the actor (`console:<name>`), so that each change is audited the
//!   same way; the audit pages read the audit service's query API ([`audit_reader`]).
//! - Unauthenticated requests are sent (`303`) to `/console/sign-in`. A session cookie is looked up
//!   only while its address may go on (the front door's throttle), and one that names no session
//!   counts as a refused call of its address: made-up cookies are `429` before they cost a store read.
//! - The sign-in page is open to anyone: the instances it offers are asked of the adapter at most
//!   once per [`SignInInstances::TTL`] ([`SignInInstances`], in the app state).

pub mod audit_reader;
pub mod calls;
mod html;
mod pages;
pub mod session;
pub mod users;

pub use calls::CallFeed;

use crate::state::AppState;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpMessage, HttpResponse, web};
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;

/// The console's path prefix (and its cookies' `Path`).
pub const PREFIX: &str = "/console";

/// The Content-Security-Policy of every console answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; \
                       frame-ancestors 'none'";

/// The console's settings.
#[derive(Debug, Clone)]
pub struct ConsoleSettings {
    /// A session unused this long ends (default 30 minutes).
    pub session_idle: Duration,
    /// A session ends this long after sign-in, used or not (default 12 hours).
    pub session_lifetime: Duration,
    /// The audit service's base URL (`https://audit.internal:8090`), for the audit pages; without
    /// it those pages say where to configure it.
    pub audit_url: Option<url::Url>,
    /// The admin token the console presents to the audit service.
    pub audit_token: Option<SecretString>,
    /// A PEM CA bundle to verify the audit service's certificate (default: the system's roots).
    pub audit_ca_file: Option<std::path::PathBuf>,
}

impl Default for ConsoleSettings {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(30 * 60),
            session_lifetime: Duration::from_secs(12 * 3600),
            audit_url: None,
            audit_token: None,
            audit_ca_file: None,
        }
    }
}

impl ConsoleSettings {
    /// Checks the settings once, at startup.
    ///
    /// # Errors
    /// One line naming the first invalid setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.session_idle.as_secs() == 0 {
            return Err("console.session_idle must be at least 1 second".to_owned());
        }
        if self.session_lifetime < self.session_idle {
            return Err("console.session_lifetime must be at least console.session_idle".to_owned());
        }
        Ok(())
    }
}

/// The Secret Server instances whose accounts may sign in, as the adapter last said, kept for
/// [`SignInInstances::TTL`] (the sign-in page is open to anyone: it must not cost a call to the
/// adapter each time); while it is asked, the other callers wait for its answer.
#[derive(Debug, Default)]
pub struct SignInInstances {
    last: tokio::sync::Mutex<Option<(tokio::time::Instant, Arc<Vec<String>>)>>,
}

impl SignInInstances {
    /// How long an answer is kept.
    pub const TTL: Duration = Duration::from_secs(5);

    /// The instances kept, or those `fetch` gives when none are kept or they are older than [`Self::TTL`].
    pub(crate) async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Arc<Vec<String>>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Vec<String>>,
    {
        let mut last = self.last.lock().await;
        if let Some((at, instances)) = last.as_ref()
            && at.elapsed() < Self::TTL
        {
            return Arc::clone(instances);
        }
        let instances = Arc::new(fetch().await);
        *last = Some((tokio::time::Instant::now(), Arc::clone(&instances)));
        instances
    }
}

/// Mounts the console (`/console/...`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(PREFIX).wrap(from_fn(require_session)).wrap(from_fn(security_headers)).configure(pages::configure),
    );
}

/// Adds the console's security headers to every answer.
///
/// # Errors
/// Passes on the inner service's errors.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, header::HeaderValue::from_static(value));
    }
    Ok(res)
}

/// Paths open without a session: the sign-in page and the assets.
fn is_open(path: &str) -> bool {
    let rest = path.strip_prefix(PREFIX).unwrap_or(path);
    rest == "/sign-in" || rest.starts_with("/assets/")
}

/// The query parameter that marks a request the console makes on its own (a page's reload).
pub(crate) const AUTOMATIC: &str = "auto=1";

/// Whether a request is an administrator's use of the session or one the console makes on its
/// own: a GET marked [`AUTOMATIC`] (the reload of a page that follows progress) or the live calls'
/// event stream (which a browser opens again by itself when it drops). The page that opens the
/// stream is a use already.
fn used(req: &ServiceRequest) -> session::Use {
    let automatic = req.method() == Method::GET
        && (req.path().strip_prefix(PREFIX) == Some("/calls/stream")
            || req.query_string().split('&').any(|pair| pair == AUTOMATIC));
    if automatic { session::Use::Automatic } else { session::Use::Active }
}

/// The largest form the console accepts.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// Admits a request with a live session (inserting it as [`session::Session`]), checks the CSRF
/// token of every POST (`403` without the session's), and sends anything else to the sign-in page.
///
/// # Errors
/// Passes on the inner service's errors.
pub async fn require_session(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if is_open(req.path()) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let Some(state) = req.app_data::<web::Data<AppState>>().cloned() else {
        return Ok(req.into_response(HttpResponse::InternalServerError().finish()).map_into_right_body());
    };
    let session = match session::current(&state, req.request(), used(&req)).await {
        Ok(session::Lookup::Live(session)) => session,
        Ok(session::Lookup::None) => {
            let response = see_other(&format!("{PREFIX}/sign-in"));
            return Ok(req.into_response(session::clear_cookie(response, &state)).map_into_right_body());
        }
        Ok(session::Lookup::Throttled(retry_after)) => {
            return Ok(req.into_response(html::throttled_page(retry_after)).map_into_right_body());
        }
        Err(error) => {
            tracing::error!(error = %error, "console sessions unavailable");
            let page = html::error_page(503, "Sessions cannot be read right now (the state store is unavailable).");
            return Ok(req.into_response(page).map_into_right_body());
        }
    };
    if req.method() == Method::POST {
        let body = req.extract::<web::Bytes>().await?;
        if body.len() > MAX_FORM_BYTES || !session.csrf_matches(&form_csrf(&body)) {
            tracing::warn!(user = %session.user, path = %req.path(), "console POST without its CSRF token refused");
            let page = html::error_page(403, "This form is stale or did not come from the console: reload the page.");
            return Ok(req.into_response(page).map_into_right_body());
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    req.extensions_mut().insert(session);
    Ok(next.call(req).await?.map_into_left_body())
}

/// The `csrf` field of a URL-encoded form (empty when absent).
fn form_csrf(body: &[u8]) -> String {
    url::form_urlencoded::parse(body).find(|(name, _)| name == "csrf").map(|(_, v)| v.into_owned()).unwrap_or_default()
}

/// `303 See Other` to `location`.
pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, location.to_owned())).finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn the_instances_offering_sign_in_are_asked_of_the_adapter_at_most_once_per_ttl() {
        let kept = SignInInstances::default();
        let asked = AtomicUsize::new(0);
        let ask = || async {
            asked.fetch_add(1, Ordering::SeqCst);
            vec!["primary".to_owned()]
        };
        let at_once = futures::future::join_all((0..10).map(|_| kept.get_or_fetch(ask))).await;
        assert!(at_once.iter().all(|instances| **instances == ["primary"]));
        kept.get_or_fetch(ask).await;
        assert_eq!(asked.load(Ordering::SeqCst), 1, "asked once for every page shown within the TTL");
        tokio::time::advance(SignInInstances::TTL).await;
        kept.get_or_fetch(ask).await;
        assert_eq!(asked.load(Ordering::SeqCst), 2, "asked again once the answer is older than the TTL");
    }
}
