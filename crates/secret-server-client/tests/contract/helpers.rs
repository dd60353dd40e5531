//! The harness: a fresh emulator per test, a client pointed at it, and the
//! check every test ends with, that no request read a secret's values.

use secret_server_client::{ClientConfig, RetryPolicy, SecretServerClient};
use secret_server_sim::{RunningSim, Seed, SimConfig, spawn};
use std::time::Duration;
use url::Url;

/// A password the emulator's default policy accepts.
pub(crate) const GOOD_PASSWORD: &str = "Contract-Test-Passw0rd!";

pub(crate) struct Harness {
    pub sim: RunningSim,
    pub client: SecretServerClient,
}

/// Client settings for tests: short sleeps between attempts, so that
/// retries are exercised without slowing the suite; a `max_delay` above the
/// emulator's 1 s `Retry-After`, so that it is honoured.
pub(crate) fn client_config(sim: &RunningSim) -> ClientConfig {
    let mut config = ClientConfig::new(
        Url::parse(&sim.base_url()).expect("the emulator's base URL parses"),
        sim.api_username(),
        sim.api_password().clone(),
    )
    .allowing_http();
    config.request_timeout = Duration::from_secs(10);
    config.connect_timeout = Duration::from_secs(2);
    config.retry =
        RetryPolicy { max_attempts: 4, base_delay: Duration::from_millis(10), max_delay: Duration::from_secs(2) };
    config
}

impl Harness {
    /// The emulator with its demo organisation.
    pub(crate) async fn demo() -> Self {
        Self::with(SimConfig::for_tests(), |_| {}).await
    }

    /// The emulator with nothing but the API account.
    pub(crate) async fn empty() -> Self {
        Self::with(SimConfig { seed: Seed::Empty, ..SimConfig::for_tests() }, |_| {}).await
    }

    pub(crate) async fn with(sim_config: SimConfig, tweak: impl FnOnce(&mut ClientConfig)) -> Self {
        let sim = spawn(sim_config).await.expect("the emulator starts");
        let mut config = client_config(&sim);
        tweak(&mut config);
        let client = SecretServerClient::new(config).expect("the client builds");
        Self { sim, client }
    }

    /// A second client of the same emulator with other settings.
    pub(crate) fn client_with(&self, tweak: impl FnOnce(&mut ClientConfig)) -> SecretServerClient {
        let mut config = client_config(&self.sim);
        tweak(&mut config);
        SecretServerClient::new(config).expect("the client builds")
    }

    /// Ends a test: the emulator saw requests, none of them reached an
    /// endpoint that returns a secret's values; then it shuts down.
    pub(crate) async fn finish(self) {
        let log = self.sim.request_log();
        assert!(!log.is_empty(), "the emulator logged no request");
        for (method, path) in &log {
            if let Some(why) = reads_secret_values(path) {
                panic!("{method} {path} reads secret values: {why}");
            }
        }
        self.sim.shutdown().await;
    }
}

/// Why a logged request would read a secret's field values, if it would.
/// Written independently of the client's own route table, from the
/// reference's list of value-bearing endpoints.
pub(crate) fn reads_secret_values(path_and_query: &str) -> Option<&'static str> {
    let lower = path_and_query.to_ascii_lowercase();
    let (path, query) = lower.split_once('?').unwrap_or((&lower, ""));
    if query.contains("extendedfields") {
        return Some("filter.extendedFields returns field values in search records");
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.contains(&"fields") {
        return Some("a /fields/ path returns a field value");
    }
    if segments.contains(&"restricted") {
        return Some("a /restricted path returns the secret with its values");
    }
    if let Some(at) = segments.iter().position(|s| *s == "secrets") {
        let is_id = |s: &str| s.parse::<i64>().is_ok();
        let allowed = match &segments[at + 1..] {
            [] | ["lookup"] | ["search-total"] => true,
            ["lookup", id] => is_id(id),
            [id, "summary"] => is_id(id),
            _ => false,
        };
        if !allowed {
            return Some("only the secrets search, lookup and summary are metadata");
        }
    }
    None
}

/// Requests in the log whose method is `method` and whose path (without the
/// query) ends with `suffix`, case-insensitively.
pub(crate) fn count_requests(sim: &RunningSim, method: &str, suffix: &str) -> usize {
    let suffix = suffix.to_ascii_lowercase();
    sim.request_log()
        .iter()
        .filter(|(m, p)| {
            let path = p.split('?').next().unwrap_or_default().to_ascii_lowercase();
            m == method && path.ends_with(&suffix)
        })
        .count()
}

/// Token requests in the log.
pub(crate) fn token_requests(sim: &RunningSim) -> usize {
    count_requests(sim, "POST", "/oauth2/token")
}

/// The arguments of a local user that satisfies the emulator's password policy.
pub(crate) fn new_user(user_name: &str) -> secret_server_api::UserCreateArgs {
    secret_server_api::UserCreateArgs {
        user_name: user_name.to_owned(),
        password: Some(GOOD_PASSWORD.to_owned()),
        display_name: format!("{user_name} (test)"),
        email_address: Some(format!("{user_name}@example.com")),
        enabled: true,
        ..secret_server_api::UserCreateArgs::default()
    }
}

/// The arguments of an enabled local group.
pub(crate) fn new_group(name: &str) -> secret_server_api::GroupCreateArgs {
    secret_server_api::GroupCreateArgs { name: name.to_owned(), enabled: true, ..Default::default() }
}
