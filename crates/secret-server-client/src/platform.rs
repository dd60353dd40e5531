//! Secret Server Cloud on the Delinea Platform: the platform's token endpoint, and its vault
//! broker, which names the URL of the vault (the Secret Server) a service signs in to.
//!
//! The client signs in with [`crate::SignIn::Platform`]: the platform's OAuth2 client-credentials
//! grant at `<platform>/identity/api/oauth2/token/xpmplatform` (scope `xpmheadless`), whose token the
//! vault's REST API accepts. [`vault_url`] asks `GET <platform>/vaultbroker/api/vaults` for the
//! default, active vault, as Delinea's SDKs do.

use crate::error::ClientError;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// The scope a headless service asks the platform for.
pub const SCOPE: &str = "xpmheadless";

fn under(platform: &Url, path: &str) -> Result<Url, ClientError> {
    let mut base = platform.clone();
    if !base.path().ends_with('/') {
        let with_slash = format!("{}/", base.path());
        base.set_path(&with_slash);
    }
    base.join(path).map_err(|e| ClientError::Config(format!("platform URL {platform}: {e}")))
}

/// `<platform>/identity/api/oauth2/token/xpmplatform`.
///
/// # Errors
/// [`ClientError::Config`] when the platform URL cannot be a base.
pub fn token_url(platform: &Url) -> Result<Url, ClientError> {
    under(platform, "identity/api/oauth2/token/xpmplatform")
}

#[derive(Deserialize)]
struct PlatformToken {
    access_token: String,
}

#[derive(Deserialize)]
struct Vaults {
    #[serde(default)]
    vaults: Vec<Vault>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Vault {
    #[serde(default)]
    is_default: bool,
    #[serde(default)]
    is_active: bool,
    connection: Option<VaultConnection>,
}

#[derive(Deserialize)]
struct VaultConnection {
    url: Option<String>,
}

/// The URL of the platform's default, active vault: signs in with the client credentials and asks
/// the vault broker.
///
/// # Errors
/// [`ClientError::AuthenticationFailed`] when the platform refuses the credentials,
/// [`ClientError::Transport`] when it cannot be reached, [`ClientError::Decode`] when it names no
/// default, active vault.
pub async fn vault_url(
    platform: &Url,
    client_id: &str,
    client_secret: &SecretString,
    timeout: Duration,
) -> Result<Url, ClientError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| ClientError::Config(format!("cannot build the HTTP client: {e}")))?;
    let transport = |e: reqwest::Error| ClientError::Transport { message: e.without_url().to_string() };
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", client_secret.expose_secret()),
        ("scope", SCOPE),
    ];
    let response = http.post(token_url(platform)?).form(&form).send().await.map_err(transport)?;
    if !response.status().is_success() {
        return Err(ClientError::AuthenticationFailed {
            message: format!("the platform's token endpoint answered {}", response.status()),
        });
    }
    let token: PlatformToken = response
        .json()
        .await
        .map_err(|e| ClientError::Decode { message: format!("the platform's token answer: {}", e.without_url()) })?;
    let response = http
        .get(under(platform, "vaultbroker/api/vaults")?)
        .bearer_auth(token.access_token)
        .send()
        .await
        .map_err(transport)?;
    if !response.status().is_success() {
        return Err(ClientError::Forbidden {
            message: format!("the platform's vault broker answered {}", response.status()),
        });
    }
    let vaults: Vaults = response
        .json()
        .await
        .map_err(|e| ClientError::Decode { message: format!("the vault broker's answer: {}", e.without_url()) })?;
    let url = vaults
        .vaults
        .into_iter()
        .filter(|v| v.is_default && v.is_active)
        .find_map(|v| v.connection.and_then(|c| c.url))
        .ok_or_else(|| ClientError::Decode { message: "the vault broker names no default, active vault".to_owned() })?;
    url.parse().map_err(|e| ClientError::Decode { message: format!("the vault URL {url:?}: {e}") })
}
