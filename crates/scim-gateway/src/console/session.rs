//! Console sessions: a random id in a cookie, its SHA-256 as the key of a record in the state
//! store (so that any gateway replica finds it, and a copy of the store gives no usable cookie),
//! with the administrator's name, a CSRF token, the time of sign-in and of the last use.
//!
//! A session ends `session_idle` after its last use or `session_lifetime` after sign-in,
//! whichever comes first: the record is stored with the shorter of the two as its expiry and
//! checked on every request against both (a clock-independent store expiry alone would let a
//! busy session outlive its absolute lifetime).

use super::PREFIX;
use crate::auth::address_throttled;
use crate::auth_failures::Surface;
use crate::front_door::ClientAddress;
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use bytes::Bytes;
use connections::credentials;
use serde::{Deserialize, Serialize};
use state_store::StoreError;
use std::time::Duration;
use time::OffsetDateTime;

/// The state store's namespace of sessions.
const NAMESPACE: &str = "console-sessions";

/// The session cookie.
pub const COOKIE: &str = "scimc_console";

/// A signed-in administrator's session.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    /// The administrator's name (`alice`, or `ss:primary:CORP\alice` / `ss:primary:alice` for a Secret Server
    /// account signed in through instance `primary`).
    pub user: String,
    /// Every form carries it; a POST without it is refused.
    pub csrf: String,
    /// Unix milliseconds.
    pub signed_in_at: i64,
    /// Unix milliseconds.
    pub last_seen_at: i64,
    /// Where the administrator signed in: `None` for a console user, or the Secret Server instance.
    #[serde(default)]
    pub secret_server: Option<String>,
    /// The cookie's id hash (the record's key); not stored.
    #[serde(skip)]
    pub key: String,
}

impl Session {
    /// Whether `presented` is this session's CSRF token.
    pub fn csrf_matches(&self, presented: &str) -> bool {
        !presented.is_empty() && credentials::constant_time_eq(presented, &self.csrf)
    }

    /// The actor of the session's changes in the audit trail.
    pub fn actor(&self) -> crate::auth::AdminActor {
        crate::auth::AdminActor(format!("console:{}", self.user))
    }
}

/// Unix milliseconds.
fn now() -> i64 {
    i64::try_from(OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// How long the record should live from now: the idle timeout, cut at the absolute lifetime.
fn ttl(state: &AppState, session: &Session) -> Option<Duration> {
    let settings = &state.settings.console;
    let left = session.signed_in_at + millis(settings.session_lifetime) - now();
    let left = u64::try_from(left).ok().filter(|l| *l > 0)?;
    Some(settings.session_idle.min(Duration::from_millis(left)))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

async fn store(state: &AppState, session: &Session) -> Result<(), StoreError> {
    let Some(ttl) = ttl(state, session) else { return Ok(()) };
    let value = serde_json::to_vec(session).map_err(|e| StoreError::Backend(e.to_string()))?;
    state.state.put_expiring(NAMESPACE, &session.key, Bytes::from(value), ttl).await
}

/// Starts a session for `user`; returns the cookie to set.
///
/// # Errors
/// When the state store fails.
pub async fn start(state: &AppState, user: &str, secret_server: Option<&str>) -> Result<String, StoreError> {
    let id = credentials::random_token("");
    let id = secrecy::ExposeSecret::expose_secret(&id).to_owned();
    let at = now();
    let session = Session {
        user: user.to_owned(),
        csrf: secrecy::ExposeSecret::expose_secret(&credentials::random_token("")).to_owned(),
        signed_in_at: at,
        last_seen_at: at,
        secret_server: secret_server.map(str::to_owned),
        key: credentials::sha256_hex(&id),
    };
    store(state, &session).await?;
    Ok(cookie(state, COOKIE, &id, None))
}

/// What a request is to its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// An administrator's request: the session's last use becomes now.
    Active,
    /// A request the console makes on its own (a page reloading itself, the live calls' event
    /// stream): served while the session holds, checked against its idle limit and lifetime like
    /// any other, but not a use of it, so that a tab left open does not keep it alive.
    Automatic,
}

/// What a request's session cookie comes to.
#[derive(Debug)]
pub enum Lookup {
    /// A live session (its last use updated).
    Live(Session),
    /// No live session: no cookie, a cookie that names no session, or a session that ended.
    None,
    /// A cookie from an address out of refusals, refused before the store was read: try again in
    /// this many seconds.
    Throttled(u32),
}

/// The session of the request's cookie, when it is live (its last use is updated for an
/// [`Use::Active`] request).
///
/// A cookie is looked up in the state store only while its address may go on (the front door's
/// throttle, as for any credential), and one that names no session counts as a refused call of
/// its address: a flood of made-up cookies is throttled before it reaches the store.
///
/// # Errors
/// When the state store fails.
pub async fn current(state: &AppState, req: &HttpRequest, used: Use) -> Result<Lookup, StoreError> {
    let Some(id) = cookie_value(req, COOKIE) else { return Ok(Lookup::None) };
    let address = ClientAddress::of(req);
    if let Some(refusal) = address_throttled(state, Surface::Console, address).await {
        return Ok(Lookup::Throttled(refusal.retry_after.unwrap_or(1)));
    }
    let key = credentials::sha256_hex(&id);
    let found = state.state.get_expiring(NAMESPACE, &key).await?;
    let Some(mut session) = found.and_then(|bytes| serde_json::from_slice::<Session>(&bytes).ok()) else {
        state.throttle.record_refusal(address);
        return Ok(Lookup::None);
    };
    session.key = key;
    let at = now();
    if !holds(state, &session, at).await? {
        return Ok(Lookup::None);
    }
    if used == Use::Active {
        session.last_seen_at = at;
        store(state, &session).await?;
    }
    Ok(Lookup::Live(session))
}

/// Whether `session` (as read from the store) may go on at `at`: used within `session_idle`, within
/// `session_lifetime` of sign-in, and its console user neither removed nor given a new password
/// since. One that may not is removed from the store.
async fn holds(state: &AppState, session: &Session, at: i64) -> Result<bool, StoreError> {
    let settings = &state.settings.console;
    let idle = at - session.last_seen_at >= millis(settings.session_idle);
    let expired = at - session.signed_in_at >= millis(settings.session_lifetime);
    // A console user removed, or given a new password, since sign-in: the session ends with it.
    let revoked = session.secret_server.is_none()
        && !super::users::admits_session(state, &session.user, session.signed_in_at).await?;
    if idle || expired || revoked {
        state.state.delete_expiring(NAMESPACE, &session.key).await?;
        return Ok(false);
    }
    Ok(true)
}

/// `session` as the store has it now, if it still holds (not signed out, not idle, not past its
/// lifetime, its console user still there with the same password): for what runs on after the
/// request that began it, such as the live calls' event stream. Not a use of the session: its last
/// use stays as it was.
///
/// # Errors
/// When the state store fails.
pub async fn recheck(state: &AppState, session: &Session) -> Result<Option<Session>, StoreError> {
    let found = state.state.get_expiring(NAMESPACE, &session.key).await?;
    let Some(mut fresh) = found.and_then(|bytes| serde_json::from_slice::<Session>(&bytes).ok()) else {
        return Ok(None);
    };
    fresh.key.clone_from(&session.key);
    Ok(holds(state, &fresh, now()).await?.then_some(fresh))
}

/// How long `session` may go on from now without another use: to its idle limit or its absolute
/// lifetime, whichever comes first (zero once either has passed).
pub fn time_left(state: &AppState, session: &Session) -> Duration {
    let settings = &state.settings.console;
    let until = (session.last_seen_at + millis(settings.session_idle))
        .min(session.signed_in_at + millis(settings.session_lifetime));
    Duration::from_millis(u64::try_from(until - now()).unwrap_or(0))
}

/// Ends `session`.
///
/// # Errors
/// When the state store fails.
pub async fn end(state: &AppState, session: &Session) -> Result<(), StoreError> {
    state.state.delete_expiring(NAMESPACE, &session.key).await.map(|_| ())
}

/// A `Set-Cookie` value for the console: `HttpOnly`, `SameSite=Strict`, `Path=/console`, `Secure`
/// over TLS; `max_age` `Some(0)` removes it.
pub(crate) fn cookie(state: &AppState, name: &str, value: &str, max_age: Option<u64>) -> String {
    cookie_header(name, value, state.settings.tls.is_some(), max_age)
}

fn cookie_header(name: &str, value: &str, secure: bool, max_age: Option<u64>) -> String {
    let secure = if secure { "; Secure" } else { "" };
    let age = max_age.map(|a| format!("; Max-Age={a}")).unwrap_or_default();
    format!("{name}={value}; Path={PREFIX}; HttpOnly; SameSite=Strict{secure}{age}")
}

/// `response` with the session cookie removed.
pub(crate) fn clear_cookie(mut response: HttpResponse, state: &AppState) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(&cookie(state, COOKIE, "", Some(0))) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_is_secure_over_tls_and_always_http_only_strict_and_kept_to_the_console() {
        let tls = cookie_header(COOKIE, "id", true, None);
        assert_eq!(tls, "scimc_console=id; Path=/console; HttpOnly; SameSite=Strict; Secure");
        let plain = cookie_header(COOKIE, "id", false, None);
        assert_eq!(plain, "scimc_console=id; Path=/console; HttpOnly; SameSite=Strict");
        assert!(cookie_header(COOKIE, "", true, Some(0)).ends_with("; Secure; Max-Age=0"), "removal");
    }
}
