//! Configuration: [`SimConfig`] (what [`crate::spawn`] and [`crate::run`]
//! take), [`Settings`] (the `sim` section of `scim-connector`'s layered
//! configuration, turned into a `SimConfig`), the seed choice and the local
//! user password policy.

use crate::seed::GenerateSpec;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The default listen address of `scim-connector sim`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8081";
/// The default base path (the IIS application path of an on-premises Secret Server).
pub const DEFAULT_BASE_PATH: &str = "/SecretServer";
/// The default access-token lifetime (Secret Server's default API session timeout).
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(20 * 60);
/// The API account of [`SimConfig::for_tests`].
pub const TEST_API_USERNAME: &str = "scim-api";
/// The API account password of [`SimConfig::for_tests`] (it satisfies the default policy).
pub const TEST_API_PASSWORD: &str = "Sim-Test-Passw0rd!";

/// What the emulator starts with when its data directory holds no state yet.
/// A data directory that already holds state is loaded as it is and the seed is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Seed {
    /// Nothing but the API account.
    Empty,
    /// A small, realistic organisation (see `seed/demo.json`).
    #[default]
    Demo,
    /// A JSON seed file (format documented in `crate::seed::file`).
    File(PathBuf),
    /// A generated large data set.
    Generate(GenerateSpec),
}

/// The local-user password policy (Admin > Configuration > Local User Passwords).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 12,
            require_uppercase: true,
            require_lowercase: true,
            require_digit: true,
            require_symbol: true,
        }
    }
}

impl PasswordPolicy {
    /// What is wrong with `password`, one message per broken requirement (empty when it passes).
    pub fn check(&self, password: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if password.chars().count() < self.min_length {
            problems.push(format!("The password must be at least {} characters long.", self.min_length));
        }
        if self.require_uppercase && !password.chars().any(char::is_uppercase) {
            problems.push("The password must contain an upper-case letter.".to_owned());
        }
        if self.require_lowercase && !password.chars().any(char::is_lowercase) {
            problems.push("The password must contain a lower-case letter.".to_owned());
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            problems.push("The password must contain a digit.".to_owned());
        }
        if self.require_symbol && !password.chars().any(|c| !c.is_alphanumeric() && !c.is_whitespace()) {
            problems.push("The password must contain a symbol.".to_owned());
        }
        problems
    }
}

/// Everything the emulator needs to run.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Where to listen; `127.0.0.1:0` in tests.
    pub listen: SocketAddr,
    /// The base path, e.g. `/SecretServer` (`""` or `/` for the site root).
    pub base_path: String,
    /// The API account's user name.
    pub api_username: String,
    /// The API account's password.
    pub api_password: SecretString,
    /// Where state persists; `None` keeps it in memory only.
    pub data_dir: Option<PathBuf>,
    /// Access-token lifetime.
    pub token_lifetime: Duration,
    /// Whether token responses carry a refresh token.
    pub refresh_tokens: bool,
    /// What a fresh data directory (or memory) starts with.
    pub seed: Seed,
    /// The local-user password policy.
    pub password_policy: PasswordPolicy,
    /// HTTP worker threads (`None`: one per core).
    pub workers: Option<usize>,
    /// Compact the journal into a snapshot after this many journaled mutations.
    pub compact_after: u64,
}

impl SimConfig {
    /// Port 0 on loopback, in memory, the demo seed, the fixed test credentials
    /// ([`TEST_API_USERNAME`] / [`TEST_API_PASSWORD`]) and two workers.
    pub fn for_tests() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_path: DEFAULT_BASE_PATH.to_owned(),
            api_username: TEST_API_USERNAME.to_owned(),
            api_password: SecretString::from(TEST_API_PASSWORD),
            data_dir: None,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            refresh_tokens: true,
            seed: Seed::Demo,
            password_policy: PasswordPolicy::default(),
            workers: Some(2),
            compact_after: 10_000,
        }
    }

    /// The base path normalized to `/Name` (no trailing slash), or `""` for the site root.
    pub fn normalized_base_path(&self) -> String {
        normalize_base_path(&self.base_path)
    }
}

pub(crate) fn normalize_base_path(raw: &str) -> String {
    let trimmed = raw.trim().trim_matches('/');
    if trimmed.is_empty() { String::new() } else { format!("/{trimmed}") }
}

/// The `sim` section of the connector's configuration (file, `SCIMC_SIM_*` environment, flags).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Listen address (default `127.0.0.1:8081`).
    pub listen: SocketAddr,
    /// Base path (default `/SecretServer`).
    pub base_path: String,
    /// The API account's user name (default `scim-api`).
    pub api_username: String,
    /// The API account's password; required.
    pub api_password: Option<SecretString>,
    /// Data directory; absent keeps the state in memory.
    pub data_dir: Option<PathBuf>,
    /// Access-token lifetime (default `20m`).
    #[serde(with = "humantime_serde")]
    pub token_lifetime: Duration,
    /// Offer refresh tokens (default true).
    pub refresh_tokens: bool,
    /// `empty`, `demo` (default) or the path of a JSON seed file.
    pub seed: String,
    /// The local-user password policy.
    pub password_policy: PasswordPolicy,
    /// HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 8081))),
            base_path: DEFAULT_BASE_PATH.to_owned(),
            api_username: TEST_API_USERNAME.to_owned(),
            api_password: None,
            data_dir: None,
            token_lifetime: DEFAULT_TOKEN_LIFETIME,
            refresh_tokens: true,
            seed: "demo".to_owned(),
            password_policy: PasswordPolicy::default(),
            workers: None,
        }
    }
}

/// A setting that cannot be used, named.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting sim.{setting}: {message}")]
pub struct SettingsError {
    pub setting: &'static str,
    pub message: String,
}

impl Settings {
    /// Checks the settings and builds the emulator's configuration.
    ///
    /// # Errors
    /// A missing API password, an empty user name, a zero token lifetime or an unusable base path.
    pub fn into_config(self) -> Result<SimConfig, SettingsError> {
        let api_password = self.api_password.ok_or_else(|| SettingsError {
            setting: "api_password",
            message: "the API account password is required".to_owned(),
        })?;
        if self.api_username.trim().is_empty() {
            return Err(SettingsError { setting: "api_username", message: "must not be empty".to_owned() });
        }
        if self.token_lifetime.is_zero() {
            return Err(SettingsError { setting: "token_lifetime", message: "must be more than zero".to_owned() });
        }
        if self.base_path.contains(['?', '#', ' ']) {
            return Err(SettingsError {
                setting: "base_path",
                message: format!("{:?} is not a URL path", self.base_path),
            });
        }
        let seed = match self.seed.trim().to_ascii_lowercase().as_str() {
            "empty" => Seed::Empty,
            "demo" | "" => Seed::Demo,
            _ => Seed::File(PathBuf::from(self.seed.trim())),
        };
        Ok(SimConfig {
            listen: self.listen,
            base_path: self.base_path,
            api_username: self.api_username.trim().to_owned(),
            api_password,
            data_dir: self.data_dir,
            token_lifetime: self.token_lifetime,
            refresh_tokens: self.refresh_tokens,
            seed,
            password_policy: self.password_policy,
            workers: self.workers,
            compact_after: 10_000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_wants_twelve_characters_of_four_kinds() {
        let policy = PasswordPolicy::default();
        assert!(policy.check("Abcdefgh1234!").is_empty());
        assert_eq!(policy.check("short").len(), 4);
        assert_eq!(policy.check("abcdefghijkl1!").len(), 1);
    }

    #[test]
    fn settings_without_a_password_name_the_setting() {
        let err = Settings::default().into_config().unwrap_err();
        assert_eq!(err.setting, "api_password");
        assert!(err.to_string().contains("sim.api_password"));
    }

    #[test]
    fn settings_seed_words_and_paths_become_seeds() {
        let settings = Settings { api_password: Some(SecretString::from("x")), ..Settings::default() };
        assert_eq!(Settings { seed: "EMPTY".into(), ..settings.clone() }.into_config().unwrap().seed, Seed::Empty);
        assert_eq!(
            Settings { seed: "seed.json".into(), ..settings }.into_config().unwrap().seed,
            Seed::File(PathBuf::from("seed.json"))
        );
    }

    #[test]
    fn base_paths_are_normalized() {
        assert_eq!(normalize_base_path("SecretServer/"), "/SecretServer");
        assert_eq!(normalize_base_path("/"), "");
    }
}
