//! Access and refresh tokens, and the bearer-token extractor every protected
//! handler takes.
//!
//! Tokens are 32 random bytes (base64url); only their SHA-256 hashes are
//! kept. An access token lives for the configured lifetime; a refresh token
//! (when enabled) for that lifetime plus 15 minutes, and only once: using it
//! consumes it, as Secret Server documents. Tokens live in memory: a restarted
//! emulator answers every old token with `403`, and clients log in again.

use crate::access::{self, ApiAccount, Need};
use crate::db::Db;
use crate::error::{SimError, SimResult};
use crate::store::Viewer;
use crate::store::roles::ADMINISTRATOR_ROLE_ID;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use base64::Engine;
use parking_lot::Mutex;
use secret_server_api::TokenResponse;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::future::{Ready, ready};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Extra life of a refresh token beyond the access token's (Secret Server: session timeout + 15 min).
const REFRESH_EXTRA: Duration = Duration::from_secs(15 * 60);
/// How long an expired access token is remembered, so that it is answered "expired" rather than
/// "unknown".
const REMEMBER_EXPIRED: Duration = Duration::from_secs(60 * 60);

type TokenHash = [u8; 32];

#[derive(Debug, Clone, Copy)]
struct Grant {
    user_id: i64,
    expires_at: Instant,
}

#[derive(Debug, Default)]
struct TokenState {
    access: HashMap<TokenHash, Grant>,
    refresh: HashMap<TokenHash, Grant>,
}

/// What a presented access token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    /// Valid, for this user.
    Valid(i64),
    /// Known but expired.
    Expired,
    /// Not issued by this emulator (or forgotten).
    Unknown,
}

/// The token store.
#[derive(Debug)]
pub(crate) struct Tokens {
    state: Mutex<TokenState>,
    lifetime: Duration,
    refresh_enabled: bool,
    /// A pre-issued API token (its hash) and the user it signs in; it never expires.
    api_token: Mutex<Option<(TokenHash, i64)>>,
}

/// `now + lifetime`, saturating far in the future for absurd lifetimes instead of overflowing.
fn deadline(now: Instant, lifetime: Duration) -> Instant {
    now.checked_add(lifetime).unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600))
}

fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl Tokens {
    /// Tokens that live `lifetime`; refresh tokens offered when `refresh_enabled`.
    pub(crate) fn new(lifetime: Duration, refresh_enabled: bool) -> Self {
        Self { state: Mutex::new(TokenState::default()), lifetime, refresh_enabled, api_token: Mutex::new(None) }
    }

    /// Accepts `token` as a pre-issued API token of `user_id` from now on.
    pub(crate) fn accept_api_token(&self, token: &str, user_id: i64) {
        *self.api_token.lock() = Some((hash(token), user_id));
    }

    /// Issues an access token without a refresh token (the platform's client-credentials grant
    /// offers none).
    pub(crate) fn issue_without_refresh(&self, user_id: i64) -> TokenResponse {
        let mut issued = self.issue(user_id);
        if let Some(refresh) = issued.refresh_token.take() {
            self.state.lock().refresh.remove(&hash(&refresh));
        }
        issued
    }

    /// Whether refresh tokens are offered.
    pub(crate) fn refresh_enabled(&self) -> bool {
        self.refresh_enabled
    }

    /// Issues an access token (and a refresh token when enabled) for `user_id`.
    pub(crate) fn issue(&self, user_id: i64) -> TokenResponse {
        let now = Instant::now();
        let access_token = new_token();
        let refresh_token = self.refresh_enabled.then(new_token);
        let mut state = self.state.lock();
        if state.access.len() > 4096 {
            state.access.retain(|_, g| deadline(g.expires_at, REMEMBER_EXPIRED) > now);
            state.refresh.retain(|_, g| g.expires_at > now);
        }
        state.access.insert(hash(&access_token), Grant { user_id, expires_at: deadline(now, self.lifetime) });
        if let Some(refresh) = &refresh_token {
            let expires_at = deadline(now, self.lifetime.saturating_add(REFRESH_EXTRA));
            state.refresh.insert(hash(refresh), Grant { user_id, expires_at });
        }
        TokenResponse {
            access_token,
            token_type: "bearer".to_owned(),
            expires_in: i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX),
            refresh_token,
        }
    }

    /// Consumes a refresh token: the user it was issued to, if it is valid.
    pub(crate) fn redeem_refresh(&self, refresh_token: &str) -> Option<i64> {
        let grant = self.state.lock().refresh.remove(&hash(refresh_token))?;
        (grant.expires_at > Instant::now()).then_some(grant.user_id)
    }

    /// Checks an access token.
    pub(crate) fn check(&self, access_token: &str) -> TokenCheck {
        let presented = hash(access_token);
        if let Some((api_token, user_id)) = *self.api_token.lock()
            && bool::from(presented.ct_eq(&api_token))
        {
            return TokenCheck::Valid(user_id);
        }
        match self.state.lock().access.get(&presented) {
            Some(g) if g.expires_at > Instant::now() => TokenCheck::Valid(g.user_id),
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }

    /// Expires one access token now (`POST /api/v1/oauth-expiration`).
    pub(crate) fn expire(&self, access_token: &str) {
        if let Some(g) = self.state.lock().access.get_mut(&hash(access_token)) {
            g.expires_at = Instant::now();
        }
    }

    /// Expires every access token now; with `refresh_too`, every refresh token as well.
    pub(crate) fn expire_all(&self, refresh_too: bool) {
        let now = Instant::now();
        let mut state = self.state.lock();
        for g in state.access.values_mut() {
            g.expires_at = g.expires_at.min(now);
        }
        if refresh_too {
            state.refresh.clear();
        }
    }
}

/// The authenticated caller of a protected endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    /// The user the token was issued to.
    pub user_id: i64,
    /// The token itself (to expire it on `oauth-expiration`).
    pub token: String,
    /// The API account's role permissions.
    account: web::Data<ApiAccount>,
    /// For a caller other than the API account: the role permissions its roles give it
    /// ([`crate::access::role_permissions_of_user`]); `None` for the API account.
    other: Option<BTreeSet<String>>,
}

impl Caller {
    /// `Ok` when the caller has one of the role permissions `need` names.
    ///
    /// # Errors
    /// Access denied.
    pub(crate) fn require(&self, need: Need) -> SimResult<()> {
        if self.has(need) { Ok(()) } else { Err(access::denied(need)) }
    }

    /// Whether the caller has one of the role permissions `need` names.
    pub(crate) fn has(&self, need: Need) -> bool {
        match &self.other {
            None => self.account.has(need),
            Some(held) => access::holds(held, need),
        }
    }

    /// Whether the caller is the API account (the emulator's own `/_sim` endpoints are its alone).
    pub(crate) fn is_api_account(&self) -> bool {
        self.other.is_none()
    }

    /// The caller's role permissions, sorted.
    pub(crate) fn permissions(&self) -> Vec<String> {
        match &self.other {
            None => self.account.permissions(),
            Some(held) => held.iter().cloned().collect(),
        }
    }

    /// The caller as the store's folder and secret permissions see it ("unlimited
    /// administration" is a switch of the API account's).
    pub(crate) fn viewer(&self) -> Viewer {
        Viewer { user_id: self.user_id, unlimited: self.is_api_account() && self.account.unlimited_administration }
    }
}

/// The message of a `403` for a missing or unknown token.
pub(crate) const AUTH_FAILED: &str = "Authentication failed.";
/// The message of a `403` for an expired token.
pub(crate) const TOKEN_EXPIRED: &str = "Authentication failed. The access token has expired.";

/// The bearer token of a request, if it has one.
pub(crate) fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_owned()).filter(|t| !t.is_empty())
}

impl FromRequest for Caller {
    type Error = SimError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = (|| {
            let tokens = req
                .app_data::<web::Data<Tokens>>()
                .ok_or_else(|| SimError::Internal("token store missing from app data".to_owned()))?;
            let account = req
                .app_data::<web::Data<ApiAccount>>()
                .cloned()
                .ok_or_else(|| SimError::Internal("API account missing from app data".to_owned()))?;
            let token = bearer(req).ok_or_else(|| SimError::Authentication(AUTH_FAILED.to_owned()))?;
            match tokens.check(&token) {
                TokenCheck::Valid(user_id) if user_id == account.user_id => {
                    Ok(Caller { user_id, token, account, other: None })
                }
                TokenCheck::Valid(user_id) => {
                    let db = req
                        .app_data::<web::Data<Db>>()
                        .ok_or_else(|| SimError::Internal("store missing from app data".to_owned()))?;
                    let admin = db.read(|s| s.holds_role(user_id, ADMINISTRATOR_ROLE_ID));
                    let other = Some(access::role_permissions_of_user(admin));
                    Ok(Caller { user_id, token, account, other })
                }
                TokenCheck::Expired => Err(SimError::Authentication(TOKEN_EXPIRED.to_owned())),
                TokenCheck::Unknown => Err(SimError::Authentication(AUTH_FAILED.to_owned())),
            }
        })();
        ready(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_is_valid_until_expired() {
        let tokens = Tokens::new(Duration::from_secs(60), true);
        let issued = tokens.issue(7);
        assert_eq!(tokens.check(&issued.access_token), TokenCheck::Valid(7));
        tokens.expire_all(false);
        assert_eq!(tokens.check(&issued.access_token), TokenCheck::Expired);
        assert_eq!(tokens.check("made-up"), TokenCheck::Unknown);
    }

    #[test]
    fn a_refresh_token_works_once() {
        let tokens = Tokens::new(Duration::from_secs(60), true);
        let refresh = tokens.issue(3).refresh_token.unwrap();
        assert_eq!(tokens.redeem_refresh(&refresh), Some(3));
        assert_eq!(tokens.redeem_refresh(&refresh), None);
    }

    #[test]
    fn an_absurd_lifetime_does_not_overflow() {
        let tokens = Tokens::new(Duration::MAX, true);
        let issued = tokens.issue(1);
        assert_eq!(tokens.check(&issued.access_token), TokenCheck::Valid(1));
    }

    #[test]
    fn without_refresh_tokens_none_is_offered() {
        let tokens = Tokens::new(Duration::from_secs(60), false);
        assert!(tokens.issue(1).refresh_token.is_none());
    }
}
