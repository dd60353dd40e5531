//! The client's configuration: where Secret Server is, the API account, and
//! the limits (timeouts, concurrency, retries, page size).

use crate::error::ClientError;
use secrecy::SecretString;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// How the client signs in.
#[derive(Debug, Clone, Default)]
pub enum SignIn {
    /// On-premises: the OAuth2 password grant at `<base>/oauth2/token` with `username`,
    /// `password` (and `domain`), renewed with the refresh token when offered.
    #[default]
    Password,
    /// On-premises: a pre-issued API token, sent as the bearer token as it is (never renewed:
    /// a refused token is an authentication failure).
    ApiToken(SecretString),
    /// Secret Server Cloud on the Delinea Platform: the platform's OAuth2 client-credentials
    /// token (`POST <platform>/identity/api/oauth2/token/xpmplatform`, scope `xpmheadless`), valid
    /// on the vault's REST API. The vault's URL is `base_url` ([`crate::platform::vault_url`]
    /// finds it through the platform's vault broker).
    Platform {
        /// The platform's URL, e.g. `https://tenant.delinea.app`.
        url: Url,
        /// The service user's client id.
        client_id: String,
        client_secret: SecretString,
    },
}

/// How the client reaches Secret Server and how hard it tries.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The Secret Server base URL, e.g. `https://host/SecretServer` (the REST
    /// API is under `api/v1`, the token endpoint under `oauth2/token`).
    pub base_url: Url,
    /// The API (application) account.
    pub username: String,
    pub password: SecretString,
    /// The account's AD domain; `None` for a local account.
    pub domain: Option<String>,
    /// How the client signs in (default: the password grant with `username` and `password`).
    pub sign_in: SignIn,
    /// Bound on one HTTP exchange, from sending to the end of the body.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// Bound on requests in flight at once, over all clones of one client: the most the
    /// adaptive limit reaches, or the fixed bound without it.
    pub max_concurrent_requests: usize,
    /// The adaptive limit on requests in flight (see `limit.rs`): it grows while latency stays
    /// near its minimum and shrinks on a queue, `503`, `429` or timeouts. `None`: a fixed bound of
    /// `max_concurrent_requests` (the behaviour before it).
    pub adaptive_concurrency: Option<AdaptiveConcurrency>,
    /// The longest a call waits for a place among the requests in flight before it fails with
    /// [`ClientError::Busy`] (nothing sent).
    pub max_queue_wait: Duration,
    /// The circuit breaker (see `breaker.rs`): after some calls in a row without an answer
    /// (timeouts, connections that cannot be made or break), calls fail at once with
    /// [`ClientError::CircuitOpen`] (nothing sent) until a probe is answered, so that a server that
    /// hangs costs its callers microseconds, not a timeout each. `None`: no breaker.
    pub circuit_breaker: Option<CircuitBreaker>,
    pub retry: RetryPolicy,
    /// `take` of each page when a search is streamed.
    pub page_size: u32,
    pub user_agent: String,
    /// A PEM bundle of the CAs that Secret Server's certificate must chain to, trusted instead of
    /// the system's store (a private CA). There is deliberately no way to turn verification off.
    pub ca_file: Option<PathBuf>,
    /// Whether an `http://` base URL is accepted. The API account's password and every token
    /// would cross the network in clear, so it is refused unless asked for (a local emulator).
    pub allow_insecure_http: bool,
}

impl ClientConfig {
    /// A configuration with the defaults: 30 s per request, 10 s to connect,
    /// an adaptive limit of 8 to 16 requests in flight starting at 8 (a call waits at most 60 s
    /// for its place), [`CircuitBreaker::default`], pages of 1,000, and [`RetryPolicy::default`].
    pub fn new(base_url: Url, username: impl Into<String>, password: SecretString) -> Self {
        Self {
            base_url,
            username: username.into(),
            password,
            domain: None,
            sign_in: SignIn::Password,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_concurrent_requests: 16,
            adaptive_concurrency: Some(AdaptiveConcurrency::default()),
            max_queue_wait: Duration::from_secs(60),
            circuit_breaker: Some(CircuitBreaker::default()),
            retry: RetryPolicy::default(),
            page_size: 1000,
            user_agent: concat!("scim-connector/", env!("CARGO_PKG_VERSION")).to_owned(),
            ca_file: None,
            allow_insecure_http: false,
        }
    }

    /// The same configuration accepting an `http://` base URL (see
    /// [`ClientConfig::allow_insecure_http`]): for an emulator on this machine, never a real server.
    #[must_use]
    pub fn allowing_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// The base URL with a trailing slash, so that joining `api/v1/...` keeps
    /// the application path (`/SecretServer/`).
    ///
    /// # Errors
    /// [`ClientError::Config`] when the URL is not https (nor http allowed by
    /// [`ClientConfig::allow_insecure_http`]), carries a query or
    /// a fragment, or already ends in `api/v1` or `oauth2/token` (a common
    /// mistake: the client adds those itself).
    pub(crate) fn normalized_base(&self) -> Result<Url, ClientError> {
        let url = &self.base_url;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ClientError::Config(format!("base_url must be http or https, not {:?}", url.scheme())));
        }
        if url.scheme() == "http" && !self.allow_insecure_http {
            return Err(ClientError::Config(format!(
                "base_url {url} is http://: the API account's password would cross the network in clear; use https:// \
                 (allow_insecure_http = true is for a local emulator only)"
            )));
        }
        if let SignIn::Platform { url: platform, .. } = &self.sign_in
            && platform.scheme() != "https"
            && !(platform.scheme() == "http" && self.allow_insecure_http)
        {
            return Err(ClientError::Config(format!(
                "platform URL {platform} is not https://: the client secret would cross the network in clear \
                 (allow_insecure_http = true is for a local emulator only)"
            )));
        }
        if url.cannot_be_a_base() || url.host().is_none() {
            return Err(ClientError::Config("base_url must name a host".to_owned()));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ClientError::Config("base_url must not carry a query or a fragment".to_owned()));
        }
        let path = url.path().trim_end_matches('/').to_ascii_lowercase();
        if path.ends_with("/api/v1") || path.ends_with("/oauth2/token") || path.contains("/api/v1/") {
            return Err(ClientError::Config(
                "base_url must be the Secret Server base (e.g. https://host/SecretServer), without api/v1 or oauth2/token"
                    .to_owned(),
            ));
        }
        let mut base = url.clone();
        if !base.path().ends_with('/') {
            let with_slash = format!("{}/", base.path());
            base.set_path(&with_slash);
        }
        Ok(base)
    }

    /// # Errors
    /// [`ClientError::Config`] naming the first setting out of range.
    pub(crate) fn validate(&self) -> Result<(), ClientError> {
        match &self.sign_in {
            SignIn::Password if self.username.trim().is_empty() => {
                return Err(ClientError::Config("username must not be empty".to_owned()));
            }
            SignIn::Platform { client_id, .. } if client_id.trim().is_empty() => {
                return Err(ClientError::Config("the platform's client_id must not be empty".to_owned()));
            }
            _ => {}
        }
        if self.max_concurrent_requests == 0 {
            return Err(ClientError::Config("max_concurrent_requests must be at least 1".to_owned()));
        }
        // A floor above `max_concurrent_requests` is lowered to it (a small fixed maximum wins).
        if self.adaptive_concurrency.is_some_and(|a| a.min == 0) {
            return Err(ClientError::Config("min_concurrent_requests must be at least 1".to_owned()));
        }
        if self.max_queue_wait.is_zero() {
            return Err(ClientError::Config("max_queue_wait must be positive".to_owned()));
        }
        if let Some(breaker) = &self.circuit_breaker {
            breaker.validate()?;
        }
        if self.page_size == 0 {
            return Err(ClientError::Config("page_size must be at least 1".to_owned()));
        }
        if self.request_timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(ClientError::Config("request_timeout and connect_timeout must be positive".to_owned()));
        }
        self.retry.validate()
    }
}

/// The bounds of the adaptive limit on requests in flight (its most is
/// [`ClientConfig::max_concurrent_requests`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdaptiveConcurrency {
    /// The fewest requests in flight it goes down to (at least 1).
    pub min: usize,
    /// Where it starts.
    pub initial: usize,
}

impl Default for AdaptiveConcurrency {
    /// 8 at least and to start with: what the adapter's 8 workers sent before the limit adapted,
    /// so that it never does worse than that when calls of very different latencies mix (its
    /// estimate of the server's queue is coarsest then). A smaller server can be given a lower
    /// floor (`min_concurrent_requests`).
    fn default() -> Self {
        Self { min: 8, initial: 8 }
    }
}

/// When the circuit breaker opens, and for how long (see `breaker.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitBreaker {
    /// Calls in a row that end without an answer (a timeout, a connection that cannot be made or
    /// that breaks) before calls are refused. Any answer, an error status included, resets the
    /// count.
    pub failures: u32,
    /// How long calls are refused before one probes the server.
    pub cooldown: Duration,
    /// The longest cooldown: it doubles after each probe that gets no answer, up to this.
    pub max_cooldown: Duration,
}

impl Default for CircuitBreaker {
    /// Opens after 5 calls in a row without an answer, for 10 s, then 20 s, 40 s... up to 2
    /// minutes while probes get no answer.
    fn default() -> Self {
        Self { failures: 5, cooldown: Duration::from_secs(10), max_cooldown: Duration::from_secs(120) }
    }
}

impl CircuitBreaker {
    fn validate(&self) -> Result<(), ClientError> {
        if self.failures == 0 {
            return Err(ClientError::Config("circuit_breaker.failures must be at least 1".to_owned()));
        }
        if self.cooldown.is_zero() {
            return Err(ClientError::Config("circuit_breaker.cooldown must be positive".to_owned()));
        }
        if self.max_cooldown < self.cooldown {
            return Err(ClientError::Config(
                "circuit_breaker.max_cooldown must not be shorter than circuit_breaker.cooldown".to_owned(),
            ));
        }
        Ok(())
    }
}

/// Exponential backoff with full jitter: before retry `n` (1-based) the
/// client sleeps a random time in `0..=min(max_delay, base_delay * 2^(n-1))`,
/// or what `Retry-After` asks plus up to `base_delay` of jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = never retry).
    pub max_attempts: u32,
    pub base_delay: Duration,
    /// The longest sleep between attempts. A `Retry-After` longer than this is
    /// not waited for: the call fails with [`ClientError::RateLimited`] (or
    /// the 503) carrying the server's delay, and the caller decides.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_attempts: 4, base_delay: Duration::from_millis(200), max_delay: Duration::from_secs(10) }
    }
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn none() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    fn validate(&self) -> Result<(), ClientError> {
        if self.max_attempts == 0 {
            return Err(ClientError::Config("retry.max_attempts must be at least 1".to_owned()));
        }
        if self.base_delay > self.max_delay {
            return Err(ClientError::Config("retry.base_delay must not exceed retry.max_delay".to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(base: &str) -> ClientConfig {
        ClientConfig::new(Url::parse(base).unwrap(), "api", SecretString::from("pw"))
    }

    #[test]
    fn base_url_gets_a_trailing_slash_so_the_application_path_survives_joins() {
        let base = config("https://ss.example/SecretServer").normalized_base().unwrap();
        assert_eq!(base.join("api/v1/users").unwrap().as_str(), "https://ss.example/SecretServer/api/v1/users");
        let root = config("https://ss.example").normalized_base().unwrap();
        assert_eq!(root.join("oauth2/token").unwrap().as_str(), "https://ss.example/oauth2/token");
    }

    #[test]
    fn base_url_that_already_names_the_api_is_refused() {
        for bad in ["https://h/SecretServer/api/v1", "https://h/SecretServer/oauth2/token/", "https://h/x/api/v1/users"]
        {
            assert!(matches!(config(bad).normalized_base(), Err(ClientError::Config(_))), "{bad}");
        }
    }

    #[test]
    fn plain_http_is_refused_unless_the_instance_allows_it() {
        let err = config("http://ss.example/SecretServer").normalized_base().unwrap_err().to_string();
        assert!(err.contains("http://") && err.contains("allow_insecure_http"), "{err}");
        let allowed = config("http://127.0.0.1:8081/SecretServer").allowing_http().normalized_base();
        assert_eq!(allowed.unwrap().as_str(), "http://127.0.0.1:8081/SecretServer/");
    }

    #[test]
    fn a_plain_http_platform_url_is_refused_unless_the_instance_allows_it() {
        let mut c = config("https://vault.example/SecretServer");
        c.sign_in = SignIn::Platform {
            url: Url::parse("http://tenant.delinea.example").unwrap(),
            client_id: "svc".into(),
            client_secret: SecretString::from("s"),
        };
        let err = c.normalized_base().unwrap_err().to_string();
        assert!(err.contains("platform URL") && err.contains("client secret"), "{err}");
        assert!(c.allowing_http().normalized_base().is_ok());
    }

    #[test]
    fn base_url_with_query_or_other_scheme_is_refused() {
        for bad in ["ftp://h/SecretServer", "https://h/SecretServer?x=1", "https://h/SecretServer#top"] {
            assert!(matches!(config(bad).normalized_base(), Err(ClientError::Config(_))), "{bad}");
        }
    }

    #[test]
    fn zero_limits_are_refused_with_the_setting_named() {
        let mut c = config("https://h/SecretServer");
        c.max_concurrent_requests = 0;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("max_concurrent_requests"), "{err}");
        let mut c = config("https://h/SecretServer");
        c.retry.max_attempts = 0;
        assert!(c.validate().unwrap_err().to_string().contains("max_attempts"));
    }

    #[test]
    fn a_circuit_breaker_that_cannot_work_is_refused_with_the_setting_named() {
        let with = |breaker: CircuitBreaker| {
            let mut c = config("https://h/SecretServer");
            c.circuit_breaker = Some(breaker);
            c.validate().map_err(|e| e.to_string())
        };
        let defaults = CircuitBreaker::default();
        assert!(with(CircuitBreaker { failures: 0, ..defaults }).unwrap_err().contains("circuit_breaker.failures"));
        assert!(with(CircuitBreaker { cooldown: Duration::ZERO, ..defaults }).unwrap_err().contains("cooldown"));
        let short = CircuitBreaker { max_cooldown: Duration::from_secs(1), ..defaults };
        assert!(with(short).unwrap_err().contains("circuit_breaker.max_cooldown"));
        assert!(with(defaults).is_ok());
        let mut none = config("https://h/SecretServer");
        none.circuit_breaker = None;
        assert!(none.validate().is_ok(), "no breaker is a valid choice");
    }

    #[test]
    fn debug_output_does_not_show_the_password() {
        let c = ClientConfig::new(Url::parse("https://h/SecretServer").unwrap(), "api", SecretString::from("hunter2"));
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
