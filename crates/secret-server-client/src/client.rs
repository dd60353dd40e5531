//! The client handle and the one place requests are sent: circuit breaker, token, concurrency
//! bound, timeout, classification, retries, the 403 renewal, spans, metrics
//! and trace context.

use crate::breaker::{Breaker, Pass};
use crate::classify::{Endpoint, classify, decode};
use crate::config::SignIn;
use crate::config::{ClientConfig, RetryPolicy};
use crate::error::ClientError;
use crate::limit::{Limiter, Outcome, Rules};
use crate::paging::paged;
use crate::query::QueryPairs;
use crate::retry::{Idempotency, is_retryable};
use crate::route::{ApiPath, Route, RouteName};
use crate::telemetry::{inject_trace_context, record_request, record_retry, status_label};
use crate::token::{Grant, Token, TokenCache, TokenSource};

/// The lifetime the client gives a pre-issued API token (it is used until Secret Server refuses it).
const API_TOKEN_LIFETIME_SECS: i64 = 10 * 365 * 24 * 3600;
use futures::stream::BoxStream;
use http::{HeaderMap, HeaderValue, Method, header};
use secrecy::{ExposeSecret, SecretString};
use secret_server_api::{PagedResult, TokenResponse};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::time::Instant;
use tracing::Instrument;
use url::Url;

/// A typed client of the Secret Server REST API v1. Cheap to clone: clones
/// share the connection pool, the token, the concurrency bound and the circuit breaker.
#[derive(Clone)]
pub struct SecretServerClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    username: String,
    password: SecretString,
    domain: Option<String>,
    sign_in: SignIn,
    request_timeout: Duration,
    retry: RetryPolicy,
    page_size: u32,
    limiter: Limiter,
    breaker: Breaker,
    tokens: TokenCache,
}

impl fmt::Debug for SecretServerClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretServerClient")
            .field("base_url", &self.inner.base.as_str())
            .field("username", &self.inner.username)
            .field("domain", &self.inner.domain)
            .finish_non_exhaustive()
    }
}

/// One request, before it is sent (and possibly re-sent). Its `Debug` leaves
/// the body out: a user's create or update carries a password.
#[derive(Clone)]
pub(crate) struct Call {
    method: Method,
    path: ApiPath,
    query: QueryPairs,
    body: Option<Vec<u8>>,
    idempotency: Idempotency,
    /// Only the health probe goes without a bearer token.
    authenticated: bool,
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("route", &self.name().to_string())
            .field("body_bytes", &self.body.as_ref().map(Vec::len))
            .field("idempotency", &self.idempotency)
            .finish_non_exhaustive()
    }
}

impl Call {
    pub(crate) fn get(path: ApiPath, query: QueryPairs) -> Self {
        Self { method: Method::GET, path, query, body: None, idempotency: Idempotency::Idempotent, authenticated: true }
    }

    pub(crate) fn delete(path: ApiPath, query: QueryPairs) -> Self {
        Self { method: Method::DELETE, ..Self::get(path, query) }
    }

    /// A `POST`, `PUT` or `PATCH` with a JSON body.
    ///
    /// # Errors
    /// [`ClientError::Decode`] if the body cannot be encoded (not possible
    /// for the API's own types).
    pub(crate) fn json(
        method: Method,
        path: ApiPath,
        body: &impl Serialize,
        idempotency: Idempotency,
    ) -> Result<Self, ClientError> {
        let body = serde_json::to_vec(body)
            .map_err(|e| ClientError::Decode { message: format!("cannot encode the request body: {e}") })?;
        Ok(Self { method, body: Some(body), idempotency, ..Self::get(path, QueryPairs::new()) })
    }

    pub(crate) fn unauthenticated(mut self) -> Self {
        self.authenticated = false;
        self
    }

    fn name(&self) -> RouteName {
        RouteName { method: method_str(&self.method), route: self.path.route() }
    }
}

fn method_str(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// Why one attempt failed, with what the retry loop needs to decide.
struct AttemptFailure {
    error: ClientError,
    /// The token the request carried, to drop it after a 403.
    token_generation: Option<u64>,
    /// Getting the token failed: a token request is safe to repeat.
    in_token_request: bool,
}

impl SecretServerClient {
    /// Builds a client. No request is sent until the first call.
    ///
    /// # Errors
    /// [`ClientError::Config`] for an invalid configuration (the message names
    /// the setting) or when the HTTP client cannot be built.
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        config.validate()?;
        let base = config.normalized_base()?;
        let server = server_label(&base);
        // The workspace's reqwest is built with `rustls-no-provider`; the
        // first client installs ring, later ones find it installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder();
        if let Some(path) = &config.ca_file {
            builder = builder.tls_certs_only(ca_bundle(path)?);
        }
        let http = builder
            .user_agent(config.user_agent.as_str())
            .connect_timeout(config.connect_timeout)
            .timeout(config.request_timeout)
            // A redirect is Secret Server sending us to a login page; following
            // it would replay a POST and carry the bearer token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(config.max_concurrent_requests)
            .build()
            .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                username: config.username,
                password: config.password,
                domain: config.domain.filter(|d| !d.trim().is_empty()),
                sign_in: config.sign_in,
                request_timeout: config.request_timeout,
                retry: config.retry,
                page_size: config.page_size,
                limiter: Limiter::new(
                    config.adaptive_concurrency.map(|a| Rules::new(a.min, a.initial, config.max_concurrent_requests)),
                    config.max_concurrent_requests,
                    config.max_queue_wait,
                    config.retry.max_delay,
                    server.clone(),
                ),
                breaker: Breaker::new(config.circuit_breaker, server),
                tokens: TokenCache::default(),
            }),
        })
    }

    /// The base URL calls are made under (with a trailing slash).
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    /// The `take` of each page when a search is streamed.
    pub fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    /// Sends `call` (retrying as the policy allows) and decodes the answer.
    ///
    /// # Errors
    /// The classified [`ClientError`] of the last attempt.
    pub(crate) async fn send<T: DeserializeOwned>(&self, call: Call) -> Result<T, ClientError> {
        let name = call.name();
        let span = tracing::info_span!(
            "secret_server.request",
            otel.name = %name,
            otel.kind = "client",
            http.request.method = name.method,
            http.route = name.route.template(),
            http.response.status_code = tracing::field::Empty,
            secret_server.attempts = tracing::field::Empty,
        );
        async move {
            let body = self.send_with_retries(&call, name).await?;
            decode(&body)
        }
        .instrument(span)
        .await
    }

    /// Streams every record of a paged search under `path`, one page of
    /// [`page_size`](Self::page_size) at a time.
    pub(crate) fn stream<T>(&self, path: ApiPath, filters: QueryPairs) -> BoxStream<'static, Result<T, ClientError>>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        paged(self.inner.page_size, move |skip, take| {
            let client = client.clone();
            let call = Call::get(path.clone(), filters.clone().page(skip, take));
            async move { client.send_page::<T>(call).await }
        })
    }

    /// One page of a search, refused when its envelope says the search failed: `success: false`,
    /// or a `severity` of `Retry`, `Critical` or `Fatal` (a `200` whose `records` cannot be
    /// trusted to be all there is).
    pub(crate) async fn send_page<T: DeserializeOwned>(&self, call: Call) -> Result<PagedResult<T>, ClientError> {
        let page: PagedResult<T> = self.send(call).await?;
        let failed_severity = matches!(page.severity.as_str(), "Retry" | "Critical" | "Fatal");
        if page.success && !failed_severity {
            return Ok(page);
        }
        Err(ClientError::PageFailed { severity: page.severity })
    }

    async fn send_with_retries(&self, call: &Call, name: RouteName) -> Result<Vec<u8>, ClientError> {
        let mut attempt = 0u32;
        let mut renewed_after_403 = false;
        // The last attempt's error, when it was sent: what the call ends with if the breaker
        // refuses the next attempt (the caller must know the request may have reached the server).
        let mut previous: Option<ClientError> = None;
        loop {
            attempt += 1;
            tracing::Span::current().record("secret_server.attempts", attempt);
            let failure = match self.attempt(call, name).await {
                Ok(body) => return Ok(body),
                Err(failure) => failure,
            };
            if let ClientError::CircuitOpen { .. } = failure.error {
                // Logged once when the breaker opened, not for every call it refuses.
                tracing::debug!(route = %name, attempts = attempt, error = %failure.error, "Secret Server call not sent");
                return Err(previous.unwrap_or(failure.error));
            }
            if let (ClientError::Forbidden { .. }, Some(generation), false) =
                (&failure.error, failure.token_generation, renewed_after_403)
            {
                // The token expired or was revoked (Secret Server says 403 for
                // both): drop it and try once more with a new one. A second
                // 403 is a real permission problem.
                tracing::debug!(route = %name, "token rejected; renewing it once");
                self.inner.tokens.reject(generation);
                renewed_after_403 = true;
                record_retry(name, "token_rejected");
                continue;
            }
            let error = failure.error;
            let idempotency = if failure.in_token_request { Idempotency::Idempotent } else { call.idempotency };
            if !is_retryable(&error, idempotency) {
                if error.never_sent() {
                    // Never sent: nothing to repeat, nothing applied.
                    tracing::warn!(route = %name, attempts = attempt, error = %error, "Secret Server call not sent");
                } else if error.is_transient() {
                    // Logged here, where the cause is known: the error table
                    // turns it into a terse `Unavailable`.
                    tracing::warn!(route = %name, attempts = attempt, error = %error, "Secret Server call failed; not repeated (it may have been applied)");
                }
                return Err(error);
            }
            let Some(delay) = self.inner.retry.delay_before_next(attempt, error.retry_after()) else {
                tracing::warn!(route = %name, attempts = attempt, error = %error, "Secret Server call failed; giving up");
                return Err(error);
            };
            tracing::info!(
                route = %name,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                error = %error,
                "Secret Server call failed; retrying"
            );
            // No sleep into an open breaker: the retry would be refused anyway.
            let circuit_open = || {
                tracing::info!(route = %name, attempts = attempt, error = %error,
                    "Secret Server call failed; not retried: the circuit is open");
            };
            if self.inner.breaker.refusing() {
                circuit_open();
                return Err(error);
            }
            record_retry(name, retry_reason(&error));
            tokio::select! {
                biased;
                () = self.inner.breaker.opens() => {
                    circuit_open();
                    return Err(error);
                }
                () = tokio::time::sleep(delay) => {}
            }
            previous = Some(error);
        }
    }

    /// One attempt, let through by the circuit breaker and counted by it (a dropped attempt
    /// tells it nothing).
    async fn attempt(&self, call: &Call, name: RouteName) -> Result<Vec<u8>, AttemptFailure> {
        let pass = self.inner.breaker.admit().map_err(|error| AttemptFailure {
            error,
            token_generation: None,
            in_token_request: false,
        })?;
        let result = self.attempt_with(call, name, &pass).await;
        // Counted here when the attempt failed before its request was sent (its token request
        // may have gone unanswered).
        pass.finish(result.as_ref().err().map(|failure| &failure.error));
        result
    }

    async fn attempt_with(&self, call: &Call, name: RouteName, pass: &Pass<'_>) -> Result<Vec<u8>, AttemptFailure> {
        let breaker = &self.inner.breaker;
        let token: Option<Arc<Token>> = if call.authenticated {
            // A call waiting for the token (another call's token request may be hanging) fails at
            // once when the breaker opens.
            let token = tokio::select! {
                biased;
                refused = breaker.refuses(pass) => Err(refused),
                token = self.inner.tokens.get(self.inner.as_ref()) => token,
            };
            let token =
                token.map_err(|error| AttemptFailure { error, token_generation: None, in_token_request: true })?;
            Some(token)
        } else {
            None
        };
        let generation = token.as_ref().map(|t| t.generation);
        let fail = |error| AttemptFailure { error, token_generation: generation, in_token_request: false };

        let url = self.inner.url(&call.path, &call.query).map_err(fail)?;
        let mut headers = HeaderMap::new();
        inject_trace_context(&mut headers);
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        if let Some(token) = &token {
            headers.insert(header::AUTHORIZATION, bearer(&token.access).map_err(fail)?);
        }
        let mut request = self.inner.http.request(call.method.clone(), url).headers(headers);
        if let Some(body) = &call.body {
            request = request.header(header::CONTENT_TYPE, "application/json").body(body.clone());
        }

        // The permit bounds requests in flight; it is not held while a
        // failed call sleeps before its retry. A call waiting for it fails at once when the
        // breaker opens (the calls in flight are those of a server that does not answer).
        let permit = tokio::select! {
            biased;
            refused = breaker.refuses(pass) => return Err(fail(refused)),
            permit = self.inner.limiter.acquire() => permit.map_err(fail)?,
        };
        // Checked once the call's turn has come: the wait for a place may have been long.
        breaker.check(pass).map_err(fail)?;
        if !crate::fence::holds() {
            return Err(fail(ClientError::Fenced));
        }
        let answer = self.inner.exchange(request, name).await.and_then(|(status, headers, body)| {
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            classify(Endpoint::Api, status, &headers, &body, SystemTime::now()).map(|()| body)
        });
        let elapsed = permit.elapsed();
        // Counted before the place is given back: the call waiting for it must find the breaker
        // open if this call opened it.
        pass.finish(answer.as_ref().err());
        match &answer {
            Ok(_) => permit.finish(Outcome::Answered(elapsed), None),
            Err(e) => permit.finish(load_outcome(e, elapsed), e.retry_after()),
        }
        answer.map_err(fail)
    }

    /// The current limit on requests in flight (adaptive or fixed).
    pub fn concurrency_limit(&self) -> usize {
        self.inner.limiter.limit()
    }

    /// Whether the circuit breaker is open (or half-open): calls fail at once with
    /// [`ClientError::CircuitOpen`], but for the one call that probes the server after the cooldown.
    pub fn circuit_open(&self) -> bool {
        self.inner.breaker.is_open()
    }
}

impl Inner {
    fn url(&self, path: &ApiPath, query: &QueryPairs) -> Result<Url, ClientError> {
        let mut url = self
            .base
            .join(path.as_str())
            .map_err(|e| ClientError::Config(format!("cannot build a request URL: {e}")))?;
        let mut pairs = query.pairs().peekable();
        if pairs.peek().is_some() {
            url.query_pairs_mut().extend_pairs(pairs);
        }
        Ok(url)
    }

    /// Sends one request and reads the whole answer, recording its metrics.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        name: RouteName,
    ) -> Result<(http::StatusCode, HeaderMap, Vec<u8>), ClientError> {
        let started = Instant::now();
        let result = async {
            let response = request.send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, headers, body.to_vec()))
        }
        .await;
        match result {
            Ok(answer) => {
                record_request(name, status_label(answer.0.as_u16()), started.elapsed());
                Ok(answer)
            }
            Err(e) => {
                let error = self.transport_error(e);
                record_request(name, transport_label(&error), started.elapsed());
                Err(error)
            }
        }
    }

    fn transport_error(&self, e: reqwest::Error) -> ClientError {
        // Checked first: a connect timeout sent nothing, so any method may retry it.
        if e.is_connect() {
            ClientError::Connect { message: root_cause(e) }
        } else if e.is_timeout() {
            ClientError::Timeout { timeout: self.request_timeout }
        } else {
            ClientError::Transport { message: root_cause(e) }
        }
    }
}

impl TokenSource for Inner {
    async fn fetch(&self, grant: Grant) -> Result<TokenResponse, ClientError> {
        let name = RouteName { method: "POST", route: Route::Token };
        let span = tracing::info_span!(
            "secret_server.token",
            otel.name = %name,
            otel.kind = "client",
            grant = match grant { Grant::Password => "password", Grant::Refresh(_) => "refresh_token" },
            http.response.status_code = tracing::field::Empty,
        );
        async move {
            let mut url = self.url(&ApiPath::fixed(Route::Token), &QueryPairs::new())?;
            let mut form: Vec<(&str, &str)> = Vec::with_capacity(4);
            match (&self.sign_in, &grant) {
                (SignIn::ApiToken(token), _) => {
                    // Nothing to ask for: the token was issued beforehand and does not expire here.
                    return Ok(TokenResponse {
                        access_token: token.expose_secret().to_owned(),
                        token_type: "bearer".to_owned(),
                        expires_in: API_TOKEN_LIFETIME_SECS,
                        refresh_token: None,
                    });
                }
                (SignIn::Platform { url: platform, client_id, client_secret }, _) => {
                    url = crate::platform::token_url(platform)?;
                    form.push(("grant_type", "client_credentials"));
                    form.push(("client_id", client_id));
                    form.push(("client_secret", client_secret.expose_secret()));
                    form.push(("scope", crate::platform::SCOPE));
                }
                (SignIn::Password, Grant::Password) => {
                    form.push(("grant_type", "password"));
                    form.push(("username", &self.username));
                    form.push(("password", self.password.expose_secret()));
                    if let Some(domain) = &self.domain {
                        form.push(("domain", domain));
                    }
                }
                (SignIn::Password, Grant::Refresh(refresh)) => {
                    form.push(("grant_type", "refresh_token"));
                    form.push(("refresh_token", refresh.expose_secret()));
                }
            }
            let mut headers = HeaderMap::new();
            inject_trace_context(&mut headers);
            headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
            let request = self.http.post(url).headers(headers).form(&form);
            let (status, headers, body) = self.exchange(request, name).await?;
            tracing::Span::current().record("http.response.status_code", status.as_u16());
            classify(Endpoint::Token, status, &headers, &body, SystemTime::now())?;
            decode::<TokenResponse>(&body)
        }
        .instrument(span)
        .await
    }
}

fn bearer(token: &SecretString) -> Result<HeaderValue, ClientError> {
    let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret()))
        .map_err(|_| ClientError::Decode { message: "the access token is not a valid header value".to_owned() })?;
    // Keeps the value out of HTTP/2 header compression tables and debug output.
    value.set_sensitive(true);
    Ok(value)
}

/// What an error says of the server's load: overloaded (`503`, `429`, a timeout), answered
/// (a permanent error is still an answer, in its time), or nothing.
fn load_outcome(error: &ClientError, elapsed: Duration) -> Outcome {
    match error {
        ClientError::RateLimited { .. } | ClientError::Server { status: 503, .. } | ClientError::Timeout { .. } => {
            Outcome::Overloaded
        }
        ClientError::BadRequest { .. }
        | ClientError::NotFound { .. }
        | ClientError::Forbidden { .. }
        | ClientError::UnexpectedStatus { .. }
        | ClientError::NotApplied { .. }
        | ClientError::PageFailed { .. } => Outcome::Answered(elapsed),
        ClientError::Server { .. }
        | ClientError::Connect { .. }
        | ClientError::Transport { .. }
        | ClientError::HtmlResponse { .. }
        | ClientError::Decode { .. }
        | ClientError::AuthenticationFailed { .. }
        | ClientError::Config(_)
        | ClientError::Busy { .. }
        | ClientError::Fenced
        | ClientError::CircuitOpen { .. } => Outcome::Ignored,
    }
}

/// The `server` label of the limiter's metrics: the base URL's host and port (never a path or
/// credentials).
fn server_label(base: &Url) -> String {
    match (base.host_str(), base.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "unknown".to_owned(),
    }
}

/// The innermost cause (e.g. "Connection refused (os error 111)"), without
/// the URL: queries may carry search text.
/// The certificates of a CA bundle (`ca_file`), with errors that name the file.
fn ca_bundle(path: &std::path::Path) -> Result<Vec<reqwest::Certificate>, ClientError> {
    let pem = std::fs::read(path)
        .map_err(|e| ClientError::Config(format!("cannot read the CA file {}: {e}", path.display())))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| ClientError::Config(format!("the CA file {} is not PEM: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ClientError::Config(format!(
            "the CA file {} holds no certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        )));
    }
    Ok(certs)
}

fn root_cause(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut cause: &dyn std::error::Error = &e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

fn transport_label(error: &ClientError) -> &'static str {
    match error {
        ClientError::Timeout { .. } => "timeout",
        ClientError::Connect { .. } => "connect",
        _ => "transport",
    }
}

fn retry_reason(error: &ClientError) -> &'static str {
    match error {
        ClientError::RateLimited { .. } => "rate_limited",
        ClientError::Server { .. } => "server_error",
        ClientError::Timeout { .. } => "timeout",
        ClientError::Connect { .. } => "connect",
        ClientError::Transport { .. } => "transport",
        ClientError::HtmlResponse { .. } => "html",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_debug_output_leaves_the_body_out() {
        let args = secret_server_api::UserCreateArgs {
            user_name: "bjensen".into(),
            password: Some("Hunter2-Passw0rd!".into()),
            ..Default::default()
        };
        let call = Call::json(Method::POST, ApiPath::fixed(Route::Users), &args, Idempotency::NotIdempotent).unwrap();
        let shown = format!("{call:?}");
        assert!(shown.contains("POST /api/v1/users") && !shown.contains("Hunter2"), "{shown}");
    }

    #[test]
    fn client_debug_output_shows_neither_password_nor_token() {
        let config = ClientConfig::new(
            Url::parse("https://ss.example/SecretServer").unwrap(),
            "scim-api",
            SecretString::from("Hunter2-Passw0rd!"),
        );
        let client = SecretServerClient::new(config).unwrap();
        let shown = format!("{client:?}");
        assert!(shown.contains("scim-api") && !shown.contains("Hunter2"), "{shown}");
    }
}
