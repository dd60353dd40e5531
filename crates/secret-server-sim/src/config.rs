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
///
/// The default is the common Windows-style complexity rule: at least 8 characters, and at least 3
/// of the 4 classes (upper-case letter, lower-case letter, digit, symbol). `require_*` make one
/// class mandatory on top of that count; `min_character_classes: 4` with every `require_*` false is
/// the same as all four required.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    /// At least this many of the four character classes (0 to 4).
    pub min_character_classes: u8,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_digit: bool,
    pub require_symbol: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_length: 8,
            min_character_classes: 3,
            require_uppercase: false,
            require_lowercase: false,
            require_digit: false,
            require_symbol: false,
        }
    }
}

/// Whether a character is of one class.
type ClassTest = fn(char) -> bool;

/// The four character classes, in the order messages name them.
const CLASSES: [(&str, ClassTest); 4] = [
    ("an upper-case letter", char::is_uppercase),
    ("a lower-case letter", char::is_lowercase),
    ("a digit", |c| c.is_ascii_digit()),
    ("a symbol", |c| !c.is_alphanumeric() && !c.is_whitespace()),
];

impl PasswordPolicy {
    /// A stricter policy: 12 characters with every class required, each missing class named in
    /// its own message (the emulator's default before the Windows-style rule).
    pub fn strict() -> Self {
        Self {
            min_length: 12,
            min_character_classes: 0,
            require_uppercase: true,
            require_lowercase: true,
            require_digit: true,
            require_symbol: true,
        }
    }

    /// What is wrong with `password`, one message per broken requirement (empty when it passes).
    pub fn check(&self, password: &str) -> Vec<String> {
        let mut problems = Vec::new();
        if password.chars().count() < self.min_length {
            problems.push(format!("The password must be at least {} characters long.", self.min_length));
        }
        let required = [self.require_uppercase, self.require_lowercase, self.require_digit, self.require_symbol];
        let mut present = 0;
        for ((name, is_of_class), required) in CLASSES.iter().zip(required) {
            let has = password.chars().any(is_of_class);
            present += usize::from(has);
            if required && !has {
                problems.push(format!("The password must contain {name}."));
            }
        }
        let wanted = usize::from(self.min_character_classes.min(4));
        if present < wanted {
            problems.push(format!(
                "The password must contain at least {wanted} of these kinds of character: an upper-case letter, \
                 a lower-case letter, a digit, a symbol."
            ));
        }
        problems
    }
}

/// Where the emulator is more lenient than Secret Server. Every switch is off by default: the
/// emulator behaves as Secret Server is known to, and a test that needs leniency says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct Leniency {
    /// Secret Server's "unlimited administration": the API account sees and changes every folder
    /// and secret, whatever their permissions.
    pub unlimited_administration: bool,
    /// Deleting a user who is already inactive succeeds again (Secret Server refuses it).
    pub delete_inactive_user: bool,
}

/// The casing of the health check's properties: the published document writes `healthy`; Delinea's
/// Python SDK reads `Healthy`. Which one a vault sends is not settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckCasing {
    /// `healthy`, `databaseHealthy`, ... (the published document).
    #[default]
    Camel,
    /// `Healthy`, `DatabaseHealthy`, ... (what Delinea's Python SDK reads).
    Pascal,
}

/// The emulated Delinea Platform (Secret Server Cloud's sign-in): its OAuth2 client credentials.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// The service user's client id.
    pub client_id: String,
    /// Its client secret.
    pub client_secret: SecretString,
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
    /// Compact the journal into a snapshot after at least this many journaled mutations, once the
    /// journal has also grown as large as the snapshot (compactions spaced with the store's size).
    pub compact_after: u64,
    /// The API account's role permissions (default: [`crate::access::DEFAULT_API_ACCOUNT_PERMISSIONS`]).
    pub api_account_permissions: Vec<String>,
    /// Where the emulator is more lenient than Secret Server (nothing, by default).
    pub leniency: Leniency,
    /// The status of an access-denied answer: 400 (`errorCode` `API_AccessDenied`, the default) or
    /// 403 (`{"message":"Access Denied"}`).
    pub access_denied_status: u16,
    /// User licences: how many enabled users who are not application accounts there may be
    /// (`None`: no limit).
    pub user_licenses: Option<u64>,
    /// The casing of the health check's properties.
    pub health_check_casing: HealthCheckCasing,
    /// A pre-issued API token that signs the API account in (`Authorization: Bearer <token>`)
    /// without the token endpoint, as Secret Server's API tokens do; it does not expire.
    pub api_token: Option<SecretString>,
    /// The emulated Delinea Platform under `/platform` (token endpoint and vault broker); `None`
    /// serves none.
    pub platform: Option<PlatformConfig>,
    /// A certificate and key: the emulator then speaks HTTPS only (as a real Secret Server).
    pub tls: Option<transport_tls::ServerTlsFiles>,
    /// The capacity model at start (off by default; see [`crate::capacity`]).
    pub capacity: crate::capacity::CapacitySettings,
}

/// The role permissions a fresh emulator's API account holds, as owned strings.
pub fn default_api_account_permissions() -> Vec<String> {
    crate::access::DEFAULT_API_ACCOUNT_PERMISSIONS.iter().map(|p| (*p).to_owned()).collect()
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
            api_account_permissions: default_api_account_permissions(),
            leniency: Leniency::default(),
            access_denied_status: 400,
            user_licenses: None,
            health_check_casing: HealthCheckCasing::Camel,
            api_token: None,
            platform: None,
            tls: None,
            capacity: crate::capacity::CapacitySettings::default(),
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
    /// Role permissions taken from the API account's default set (e.g. `Administer Groups`), to see
    /// what a vault without them does.
    pub revoked_permissions: Vec<String>,
    /// Where the emulator is more lenient than Secret Server (every switch off by default).
    pub leniency: Leniency,
    /// The status of an access-denied answer: 400 (default) or 403.
    pub access_denied_status: u16,
    /// User licences (enabled users who are not application accounts); absent: no limit.
    pub user_licenses: Option<u64>,
    /// `camel` (default, the published document) or `pascal` (what Delinea's Python SDK reads).
    pub health_check_casing: HealthCheckCasing,
    /// A pre-issued API token for the API account (a secret).
    pub api_token: Option<SecretString>,
    /// The client id of the emulated Delinea Platform's service user.
    pub platform_client_id: String,
    /// Its client secret (a secret); without it no platform is served.
    pub platform_client_secret: Option<SecretString>,
    /// PEM certificate of an HTTPS listener (with `tls_key`); absent: plain HTTP.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// The capacity model (`in_flight`, `latency_ms`, `queue_length`; off by default).
    pub capacity: CapacityFileSettings,
}

/// The `sim.capacity` section: a server of limited capacity (see [`crate::capacity`]).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(default, rename_all = "snake_case", deny_unknown_fields)]
pub struct CapacityFileSettings {
    /// Requests served at once; 0 (default): no bound.
    pub in_flight: usize,
    /// Milliseconds each request holds its slot.
    pub latency_ms: u64,
    /// Requests that may wait for a slot before `503`.
    pub queue_length: usize,
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
            revoked_permissions: Vec::new(),
            leniency: Leniency::default(),
            access_denied_status: 400,
            user_licenses: None,
            health_check_casing: HealthCheckCasing::Camel,
            api_token: None,
            platform_client_id: DEFAULT_PLATFORM_CLIENT_ID.to_owned(),
            platform_client_secret: None,
            tls_cert: None,
            tls_key: None,
            capacity: CapacityFileSettings::default(),
        }
    }
}

/// The client id of the emulated platform's service user, unless configured.
pub const DEFAULT_PLATFORM_CLIENT_ID: &str = "scim-connector";

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
        if self.password_policy.min_character_classes > 4 {
            return Err(SettingsError {
                setting: "password_policy.min_character_classes",
                message: format!("{} is more than the 4 classes there are", self.password_policy.min_character_classes),
            });
        }
        if self.base_path.contains(['?', '#', ' ']) {
            return Err(SettingsError {
                setting: "base_path",
                message: format!("{:?} is not a URL path", self.base_path),
            });
        }
        if !matches!(self.access_denied_status, 400 | 403) {
            return Err(SettingsError {
                setting: "access_denied_status",
                message: format!("{} is neither 400 nor 403", self.access_denied_status),
            });
        }
        let known = crate::access::DEFAULT_API_ACCOUNT_PERMISSIONS;
        if let Some(unknown) =
            self.revoked_permissions.iter().find(|r| !known.iter().any(|k| k.eq_ignore_ascii_case(r.trim())))
        {
            return Err(SettingsError {
                setting: "revoked_permissions",
                message: format!("{unknown:?} is not one of the API account's role permissions: {}", known.join(", ")),
            });
        }
        let api_account_permissions = default_api_account_permissions()
            .into_iter()
            .filter(|p| !self.revoked_permissions.iter().any(|r| r.trim().eq_ignore_ascii_case(p)))
            .collect();
        let platform = self.platform_client_secret.map(|client_secret| PlatformConfig {
            client_id: self.platform_client_id.trim().to_owned(),
            client_secret,
        });
        let seed = match self.seed.trim().to_ascii_lowercase().as_str() {
            "empty" => Seed::Empty,
            "demo" | "" => Seed::Demo,
            _ => Seed::File(PathBuf::from(self.seed.trim())),
        };
        let tls = match (self.tls_cert, self.tls_key) {
            (Some(cert), Some(key)) => Some(transport_tls::ServerTlsFiles { cert, key }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(SettingsError { setting: "tls_key", message: "tls_cert needs it".to_owned() });
            }
            (None, Some(_)) => {
                return Err(SettingsError { setting: "tls_cert", message: "tls_key needs it".to_owned() });
            }
        };
        let capacity = crate::capacity::CapacitySettings::new(
            self.capacity.in_flight,
            self.capacity.latency_ms,
            self.capacity.queue_length,
        );
        capacity.validate().map_err(|e| SettingsError { setting: "capacity", message: e.to_string() })?;
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
            api_account_permissions,
            leniency: self.leniency,
            access_denied_status: self.access_denied_status,
            user_licenses: self.user_licenses,
            health_check_casing: self.health_check_casing,
            api_token: self.api_token,
            platform,
            tls,
            capacity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_policy_wants_eight_characters_of_three_of_four_kinds() {
        let policy = PasswordPolicy::default();
        for good in ["Abcdefg1", "abcdefg1!", "ABCDEFG1!", "Abcdefg!", "9f1c2e4a-0d3b-4c5e-8f7a-6b5c4d3e2f1a"] {
            assert!(policy.check(good).is_empty(), "{good}: {:?}", policy.check(good));
        }
        assert_eq!(
            policy.check("abcdefgh1"),
            ["The password must contain at least 3 of these kinds of character: \
            an upper-case letter, a lower-case letter, a digit, a symbol."]
        );
        assert_eq!(policy.check("Ab1!"), ["The password must be at least 8 characters long."]);
        assert_eq!(policy.check("short").len(), 2, "too short and too few kinds");
    }

    #[test]
    fn required_classes_are_named_on_top_of_the_count() {
        let strict = PasswordPolicy::strict();
        assert!(strict.check("Abcdefgh1234!").is_empty());
        assert_eq!(strict.check("abcdefghijkl1!"), ["The password must contain an upper-case letter."]);
        assert_eq!(strict.check("short").len(), 4, "length and three missing classes");
        let digits = PasswordPolicy { require_digit: true, min_character_classes: 0, ..PasswordPolicy::default() };
        assert_eq!(digits.check("abcdefgh"), ["The password must contain a digit."]);
    }

    #[test]
    fn a_policy_reads_from_configuration_and_rejects_more_than_four_classes() {
        let policy: PasswordPolicy =
            serde_json::from_value(serde_json::json!({"min_length": 10, "min_character_classes": 4})).unwrap();
        assert_eq!((policy.min_length, policy.min_character_classes, policy.require_symbol), (10, 4, false));
        let settings = Settings {
            api_password: Some(SecretString::from("x")),
            password_policy: PasswordPolicy { min_character_classes: 5, ..PasswordPolicy::default() },
            ..Settings::default()
        };
        let err = settings.into_config().unwrap_err();
        assert_eq!(err.setting, "password_policy.min_character_classes");
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
