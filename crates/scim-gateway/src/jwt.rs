//! Bearer JWTs from the issuers a connection names (Microsoft Entra ID's own tokens): the
//! credential of a connection that holds no static token for such a client.
//!
//! Order, cheapest first, so that a malformed or foreign token costs about what a static token
//! check does (a few small decodes and a map lookup, no network, no signature):
//! 1. the token's shape (three base64url parts, at most [`MAX_TOKEN_BYTES`]) and header: `alg`
//!    must be `RS256` (never `none`, never an HMAC that a public key could be abused as), and a
//!    `kid` is required;
//! 2. its `iss` must be an issuer some connection names (an index rebuilt at most once per
//!    connection-store cache period), its `aud` one of that issuer's audiences, `exp` not past and
//!    `nbf` not ahead (with [`JwtSettings::leeway`]), `tid` / `appid` in the issuer's lists when
//!    it has them;
//! 3. only then the signing key, from the issuer's JWKS: fetched over HTTPS (system roots, or
//!    [`JwtSettings::ca_file`]), at most [`JwtSettings::max_jwks_bytes`] within
//!    [`JwtSettings::fetch_timeout`], cached, and fetched again for an unknown `kid` at most once
//!    per [`JwtSettings::refresh_interval`] per key set (key rotation);
//! 4. the RS256 signature, with `ring`.
//!
//! Every refusal is [`VerifyError::Invalid`] (`401`, throttled like any wrong credential).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use connections::verify::{AuthMethod, Authenticated, VerifyError};
use connections::{Connection, ConnectionStore, JwtIssuer};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest token looked at; Entra ID's are about 1.5 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// How JWT issuers' keys are fetched and tokens' times judged.
#[derive(Debug, Clone)]
pub struct JwtSettings {
    /// A PEM bundle of CAs for the JWKS endpoints, instead of the system's trust store.
    pub ca_file: Option<PathBuf>,
    /// The shortest time between two fetches of one key set for an unknown `kid`.
    pub refresh_interval: Duration,
    /// How long a key set stays cached when no unknown `kid` asks for it sooner.
    pub cache_ttl: Duration,
    /// How long one fetch may take.
    pub fetch_timeout: Duration,
    /// The largest key set read.
    pub max_jwks_bytes: usize,
    /// Clock skew allowed on `exp` and `nbf`.
    pub leeway: Duration,
}

impl Default for JwtSettings {
    fn default() -> Self {
        Self {
            ca_file: None,
            refresh_interval: Duration::from_secs(30),
            cache_ttl: Duration::from_secs(3600),
            fetch_timeout: Duration::from_secs(5),
            max_jwks_bytes: 64 * 1024,
            leeway: Duration::from_secs(60),
        }
    }
}

/// Why the verifier could not be built.
#[derive(Debug, thiserror::Error)]
pub enum JwtSetupError {
    #[error("gateway.jwks_ca_file {path}: {message}")]
    CaFile { path: String, message: String },
    #[error("cannot build the JWKS HTTP client: {0}")]
    Client(String),
}

#[derive(Debug, Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
}

/// One RSA public key of a key set: modulus and exponent, big-endian.
#[derive(Debug, Clone)]
struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
}

#[derive(Debug, Default)]
struct KeySet {
    keys: HashMap<String, RsaKey>,
    fetched: Option<Instant>,
}

type IssuerIndex = HashMap<String, Vec<(Arc<Connection>, JwtIssuer)>>;

/// Verifies bearer JWTs against the connections' issuers.
pub struct JwtVerifier {
    store: ConnectionStore,
    settings: JwtSettings,
    http: reqwest::Client,
    index: Mutex<Option<(Instant, u64, Arc<IssuerIndex>)>>,
    /// One rebuild of the index at a time: the others wait for it rather than load every
    /// connection from the store too.
    rebuilding: tokio::sync::Mutex<()>,
    /// Per JWKS URL; the async mutex makes one fetch of a set at a time.
    key_sets: Mutex<HashMap<String, Arc<tokio::sync::Mutex<KeySet>>>>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Whether `token` has the shape of a JWT (three dot-separated parts, a JSON header): such a token
/// is verified as one, any other as a static or OAuth2 token.
pub fn looks_like_jwt(token: &str) -> bool {
    token.len() <= MAX_TOKEN_BYTES && token.starts_with("eyJ") && token.split('.').count() == 3
}

fn invalid(why: &str) -> VerifyError {
    tracing::debug!(why, "bearer JWT refused");
    VerifyError::Invalid
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, VerifyError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| invalid("a part is not base64url"))?;
    serde_json::from_slice(&bytes).map_err(|_| invalid("a part is not the expected JSON"))
}

fn claim_str<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims.get(name).and_then(Value::as_str)
}

/// Whether the token's `aud` (a string or a list) names one of `audiences`.
fn audience_matches(claims: &Value, audiences: &[String]) -> bool {
    let wanted = |a: &str| audiences.iter().any(|w| w == a);
    match claims.get("aud") {
        Some(Value::String(a)) => wanted(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(wanted),
        _ => false,
    }
}

/// Whether the token's times hold at `now` (Unix seconds) with `leeway` seconds: `exp` required.
fn times_hold(claims: &Value, now: i64, leeway: i64) -> bool {
    let Some(exp) = claims.get("exp").and_then(Value::as_i64) else { return false };
    if now > exp.saturating_add(leeway) {
        return false;
    }
    match claims.get("nbf") {
        None => true,
        Some(nbf) => nbf.as_i64().is_some_and(|nbf| now >= nbf.saturating_sub(leeway)),
    }
}

/// Whether the token's `tid` and `appid` (or `azp`) are allowed by the issuer's lists.
fn allow_lists_hold(claims: &Value, issuer: &JwtIssuer) -> bool {
    let listed = |list: &[String], value: Option<&str>| {
        list.is_empty() || value.is_some_and(|v| list.iter().any(|l| l.eq_ignore_ascii_case(v)))
    };
    let app = claim_str(claims, "appid").or_else(|| claim_str(claims, "azp"));
    listed(&issuer.tenant_ids, claim_str(claims, "tid")) && listed(&issuer.app_ids, app)
}

impl JwtVerifier {
    /// A verifier reading the connections' issuers from `store`.
    ///
    /// # Errors
    /// [`JwtSetupError`] for an unreadable CA file or an HTTP client that cannot be built.
    pub fn new(store: ConnectionStore, settings: JwtSettings) -> Result<Self, JwtSetupError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &settings.ca_file {
            let shown = path.display().to_string();
            let pem = std::fs::read(path)
                .map_err(|e| JwtSetupError::CaFile { path: shown.clone(), message: e.to_string() })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| JwtSetupError::CaFile { path: shown.clone(), message: e.to_string() })?;
            if certs.is_empty() {
                return Err(JwtSetupError::CaFile { path: shown, message: "holds no certificate".to_owned() });
            }
            builder = builder.tls_certs_only(certs);
        }
        let http = builder
            .timeout(settings.fetch_timeout)
            .connect_timeout(settings.fetch_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .https_only(true)
            .build()
            .map_err(|e| JwtSetupError::Client(e.to_string()))?;
        Ok(Self {
            store,
            settings,
            http,
            index: Mutex::new(None),
            rebuilding: tokio::sync::Mutex::new(()),
            key_sets: Mutex::new(HashMap::new()),
        })
    }

    /// The issuer index, rebuilt from the store when older than its `cache_ttl` or when a change
    /// was made through the store since; by one caller at a time (the others then find it fresh).
    async fn index(&self) -> Result<Arc<IssuerIndex>, VerifyError> {
        let fresh = |slot: &Option<(Instant, u64, Arc<IssuerIndex>)>| {
            slot.as_ref()
                .filter(|(at, changes, _)| at.elapsed() < self.store.cache_ttl() && *changes == self.store.changes())
                .map(|(_, _, index)| Arc::clone(index))
        };
        if let Some(index) = fresh(&self.index.lock()) {
            return Ok(index);
        }
        let _rebuilding = self.rebuilding.lock().await;
        if let Some(index) = fresh(&self.index.lock()) {
            return Ok(index);
        }
        let changes = self.store.changes();
        let mut index = IssuerIndex::new();
        for connection in self.store.list().await? {
            let connection = Arc::new(connection);
            for issuer in &connection.credentials.jwt_issuers {
                index.entry(issuer.issuer.clone()).or_default().push((Arc::clone(&connection), issuer.clone()));
            }
        }
        let index = Arc::new(index);
        *self.index.lock() = Some((Instant::now(), changes, Arc::clone(&index)));
        Ok(index)
    }

    /// Verifies a bearer JWT (see the module docs for the order).
    ///
    /// # Errors
    /// [`VerifyError::Invalid`] for any token that does not hold; [`VerifyError::Disabled`] for a
    /// valid token of a disabled connection; [`VerifyError::Store`] when the store fails.
    pub async fn verify(&self, token: &str) -> Result<Authenticated, VerifyError> {
        if !looks_like_jwt(token) {
            return Err(invalid("not a JWT"));
        }
        let mut parts = token.split('.');
        let (Some(head), Some(body), Some(signature)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("not three parts"));
        };
        let header: Header = decode_json(head)?;
        if header.alg != "RS256" {
            return Err(invalid("an algorithm other than RS256"));
        }
        let Some(kid) = header.kid.filter(|k| !k.is_empty()) else { return Err(invalid("no kid")) };
        let claims: Value = decode_json(body)?;
        let Some(iss) = claim_str(&claims, "iss") else { return Err(invalid("no iss")) };
        let index = self.index().await?;
        let Some(candidates) = index.get(iss) else { return Err(invalid("an issuer no connection names")) };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let leeway = i64::try_from(self.settings.leeway.as_secs()).unwrap_or(i64::MAX);
        if !times_hold(&claims, now, leeway) {
            return Err(invalid("expired, not yet valid, or without exp"));
        }
        let mut accepting =
            candidates.iter().filter(|(_, i)| audience_matches(&claims, &i.audiences) && allow_lists_hold(&claims, i));
        let Some((connection, issuer)) = accepting.next() else {
            return Err(invalid("an audience, tenant or application no issuer accepts"));
        };
        let also = accepting.find(|(other, _)| other.id != connection.id).map(|(other, _)| other.id.clone());
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| invalid("the signature is not base64url"))?;
        let key = self.key(&issuer.jwks_url, &kid).await?;
        let signed = &token[..head.len() + 1 + body.len()];
        ring::signature::RsaPublicKeyComponents { n: &key.n, e: &key.e }
            .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
            .map_err(|_| invalid("a bad signature"))?;
        // A token more than one connection accepts cannot say whose it is: refused, never taken
        // as the first one's (the admin API refuses such issuers; a configuration file may not).
        if let Some(other) = also {
            tracing::warn!(
                issuer = iss,
                connections = %format!("{}, {other}", connection.id),
                "a JWT accepted by more than one connection was refused: give their issuers the application ids \
                 (appIds) that tell them apart"
            );
            return Err(VerifyError::Invalid);
        }
        if !connection.enabled {
            return Err(VerifyError::Disabled(connection.id.clone()));
        }
        // The connection as it is now (the index may be a cache period old).
        let current = self.store.get_shared(&connection.id).await?.ok_or(VerifyError::Invalid)?;
        if !current.enabled {
            return Err(VerifyError::Disabled(current.id.clone()));
        }
        if !current.credentials.jwt_issuers.iter().any(|i| i == issuer) {
            return Err(invalid("an issuer removed since"));
        }
        Ok(Authenticated { connection: current, method: AuthMethod::Jwt, credential_id: issuer.id.clone() })
    }

    /// The key `kid` of the set at `url`: from the cache, or fetched (once per refresh interval
    /// for a `kid` the cached set lacks).
    async fn key(&self, url: &str, kid: &str) -> Result<RsaKey, VerifyError> {
        let set = Arc::clone(self.key_sets.lock().entry(url.to_owned()).or_default());
        let mut set = set.lock().await;
        let stale = set.fetched.is_none_or(|at| at.elapsed() >= self.settings.cache_ttl);
        if !stale && let Some(key) = set.keys.get(kid) {
            return Ok(key.clone());
        }
        let may_fetch = set.fetched.is_none_or(|at| at.elapsed() >= self.settings.refresh_interval) || stale;
        if may_fetch {
            match self.fetch(url).await {
                Ok(keys) => {
                    set.keys = keys;
                    set.fetched = Some(Instant::now());
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not fetch a JWT issuer's keys");
                    // A failed fetch also waits out the interval: an issuer that is down is not hammered.
                    set.fetched = Some(Instant::now());
                }
            }
        }
        set.keys.get(kid).cloned().ok_or_else(|| invalid("an unknown kid"))
    }

    async fn fetch(&self, url: &str) -> Result<HashMap<String, RsaKey>, String> {
        let mut res = self.http.get(url).send().await.map_err(|e| e.without_url().to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = res.chunk().await.map_err(|e| e.without_url().to_string())? {
            if body.len() + chunk.len() > self.settings.max_jwks_bytes {
                return Err(format!("a key set larger than {} bytes", self.settings.max_jwks_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        parse_jwks(&body)
    }
}

/// The RSA signing keys of a JWKS document, by `kid` (other keys are left out).
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, RsaKey>, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or("no keys")?;
    let mut out = HashMap::new();
    for key in keys {
        let field = |name: &str| key.get(name).and_then(Value::as_str);
        if field("kty") != Some("RSA") || field("use").is_some_and(|u| u != "sig") {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (field("kid"), field("n"), field("e")) else { continue };
        let (Ok(n), Ok(e)) = (URL_SAFE_NO_PAD.decode(n), URL_SAFE_NO_PAD.decode(e)) else { continue };
        out.insert(kid.to_owned(), RsaKey { n, e });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use state_store::LocalStore;
    use state_store::testing::CountingStore;

    /// A token of the right shape from an issuer no connection names (unsigned: it is refused
    /// after the issuer index is read, before any key is fetched).
    fn token_of_an_unknown_issuer() -> String {
        let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let header = part(json!({"alg": "RS256", "kid": "k1"}));
        let claims = part(json!({"iss": "https://issuer.example/", "aud": "api://scim", "exp": i64::MAX}));
        format!("{header}.{claims}.c2ln")
    }

    #[tokio::test]
    async fn concurrent_verifications_against_a_stale_index_load_the_connections_once() {
        let state = Arc::new(CountingStore::over(Arc::new(LocalStore::in_memory().unwrap())));
        let store = ConnectionStore::new(state.clone(), Duration::from_secs(3600));
        let verifier = JwtVerifier::new(store.clone(), JwtSettings::default()).unwrap();
        let token = token_of_an_unknown_issuer();

        let verify_50_at_once = || futures::future::join_all((0..50).map(|_| verifier.verify(&token)));
        let refused = verify_50_at_once().await;
        assert!(refused.iter().all(|r| matches!(r, Err(VerifyError::Invalid))), "{refused:?}");
        assert_eq!(state.loads("connections"), 1, "the index was never built: one load");

        // A change through the store makes the index stale again.
        store.delete(&"gone".parse().unwrap()).await.unwrap();
        verify_50_at_once().await;
        assert_eq!(state.loads("connections"), 2, "a stale index: one load more");
    }

    fn entra() -> JwtIssuer {
        JwtIssuer::entra("jwt_1", "tenant-1")
    }

    #[test]
    fn only_a_three_part_token_with_a_json_header_is_read_as_a_jwt() {
        assert!(looks_like_jwt("eyJhbGciOiJSUzI1NiJ9.eyJ9.c2ln"));
        assert!(!looks_like_jwt("scimc_abcdef"));
        assert!(!looks_like_jwt("eyJ.a"));
        assert!(!looks_like_jwt(&format!("eyJ.{}.x", "a".repeat(MAX_TOKEN_BYTES))));
    }

    #[test]
    fn times_hold_within_the_leeway_only_and_exp_is_required() {
        assert!(times_hold(&json!({"exp": 1000}), 1050, 60));
        assert!(!times_hold(&json!({"exp": 1000}), 1061, 60));
        assert!(!times_hold(&json!({}), 0, 60));
        assert!(!times_hold(&json!({"exp": 5000, "nbf": 2000}), 1000, 60));
        assert!(times_hold(&json!({"exp": 5000, "nbf": 1030}), 1000, 60));
    }

    #[test]
    fn the_audience_may_be_a_string_or_a_list() {
        let audiences = entra().audiences;
        assert!(audience_matches(&json!({"aud": connections::ENTRA_SCIM_AUDIENCE}), &audiences));
        assert!(audience_matches(&json!({"aud": ["x", connections::ENTRA_SCIM_AUDIENCE]}), &audiences));
        assert!(!audience_matches(&json!({"aud": "api://other"}), &audiences));
        assert!(!audience_matches(&json!({}), &audiences));
    }

    #[test]
    fn the_entra_preset_accepts_its_own_tenant_only() {
        let issuer = entra();
        assert_eq!(issuer.issuer, "https://sts.windows.net/tenant-1/");
        assert!(allow_lists_hold(&json!({"tid": "tenant-1"}), &issuer));
        assert!(!allow_lists_hold(&json!({"tid": "tenant-2"}), &issuer));
        assert!(!allow_lists_hold(&json!({}), &issuer));
        let apps = JwtIssuer { app_ids: vec!["app-1".into()], ..issuer };
        assert!(allow_lists_hold(&json!({"tid": "tenant-1", "appid": "app-1"}), &apps));
        assert!(!allow_lists_hold(&json!({"tid": "tenant-1", "appid": "app-2"}), &apps));
    }

    #[test]
    fn a_jwks_keeps_only_rsa_signing_keys_with_an_id() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB", "use": "sig"},
            {"kty": "RSA", "kid": "b", "n": "AQAB", "e": "AQAB", "use": "enc"},
            {"kty": "EC", "kid": "c", "x": "AQAB"},
            {"kty": "RSA", "n": "AQAB", "e": "AQAB"}
        ]});
        let keys = parse_jwks(doc.to_string().as_bytes()).unwrap();
        assert_eq!(keys.keys().collect::<Vec<_>>(), vec!["a"]);
    }
}
