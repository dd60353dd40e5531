//! A typed client of the admin API (`/admin/v1`), one method per endpoint;
//! the `scim-connector admin ...` commands run on it.

use crate::admin_model::{
    BasicCredentialRequest, ConnectionPatch, ConnectionView, CreatedConnection, IssuedOAuthClientView, IssuedTokenView,
    NewConnection, NewOAuthClient, NewToken,
};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// Errors of an admin call.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("invalid base URL {0:?}")]
    BaseUrl(String),
    #[error("the admin API cannot be reached: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server refused the call; `detail` is its error message.
    #[error("{status}: {detail}")]
    Refused { status: StatusCode, detail: String },
}

/// The admin API client.
#[derive(Clone)]
pub struct AdminClient {
    http: reqwest::Client,
    base: url::Url,
    token: SecretString,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient").field("base", &self.base.as_str()).finish_non_exhaustive()
    }
}

impl AdminClient {
    /// A client of the gateway at `base_url` (`http://127.0.0.1:8080`) with an admin token.
    ///
    /// # Errors
    /// [`AdminClientError::BaseUrl`] for an unusable URL.
    pub fn new(base_url: &str, admin_token: SecretString) -> Result<Self, AdminClientError> {
        // https needs a rustls crypto provider; installing one twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut base = url::Url::parse(base_url).map_err(|_| AdminClientError::BaseUrl(base_url.to_owned()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(AdminClientError::BaseUrl(base_url.to_owned()));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
        Ok(Self { http, base, token: admin_token })
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<Option<T>, AdminClientError> {
        let url =
            self.base.join(&format!("admin/v1/{path}")).map_err(|_| AdminClientError::BaseUrl(path.to_owned()))?;
        let mut req = self.http.request(method, url).bearer_auth(self.token.expose_secret());
        if let Some(body) = body {
            req = req.json(body);
        }
        let res = req.send().await?;
        let status = res.status();
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        let bytes = res.bytes().await?;
        if !status.is_success() {
            let detail = serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v.get("detail").and_then(|d| d.as_str()).map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            return Err(AdminClientError::Refused { status, detail });
        }
        Ok(Some(
            serde_json::from_slice(&bytes)
                .map_err(|e| AdminClientError::Refused { status, detail: format!("unreadable answer: {e}") })?,
        ))
    }

    async fn expect<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&(impl Serialize + ?Sized)>,
    ) -> Result<T, AdminClientError> {
        self.call(method, path, body).await?.ok_or_else(|| AdminClientError::Refused {
            status: StatusCode::NO_CONTENT,
            detail: "the server answered without a body".to_owned(),
        })
    }

    /// Every connection.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn list(&self) -> Result<Vec<ConnectionView>, AdminClientError> {
        self.expect(Method::GET, "connections", None::<&()>).await
    }

    /// One connection.
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown id).
    pub async fn get(&self, id: &str) -> Result<ConnectionView, AdminClientError> {
        self.expect(Method::GET, &format!("connections/{id}"), None::<&()>).await
    }

    /// Creates a connection (and, unless told not to, its first token).
    ///
    /// # Errors
    /// Transport failures and refusals (409 for an existing id).
    pub async fn create(&self, new: &NewConnection) -> Result<CreatedConnection, AdminClientError> {
        self.expect(Method::POST, "connections", Some(new)).await
    }

    /// Changes a connection.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn update(&self, id: &str, patch: &ConnectionPatch) -> Result<ConnectionView, AdminClientError> {
        self.expect(Method::PATCH, &format!("connections/{id}"), Some(patch)).await
    }

    /// Deletes a connection.
    ///
    /// # Errors
    /// Transport failures and refusals (409 for a connection from the config file).
    pub async fn delete(&self, id: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(Method::DELETE, &format!("connections/{id}"), None::<&()>).await.map(|_| ())
    }

    /// Issues a bearer token (returned once).
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn issue_token(&self, id: &str, new: &NewToken) -> Result<IssuedTokenView, AdminClientError> {
        self.expect(Method::POST, &format!("connections/{id}/tokens"), Some(new)).await
    }

    /// Revokes a bearer token.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn revoke_token(&self, id: &str, token_id: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(Method::DELETE, &format!("connections/{id}/tokens/{token_id}"), None::<&()>)
            .await
            .map(|_| ())
    }

    /// Registers an OAuth2 client (its secret is returned once).
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn add_oauth_client(
        &self,
        id: &str,
        new: &NewOAuthClient,
    ) -> Result<IssuedOAuthClientView, AdminClientError> {
        self.expect(Method::POST, &format!("connections/{id}/oauth-clients"), Some(new)).await
    }

    /// Removes an OAuth2 client (its access tokens stop working).
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn remove_oauth_client(&self, id: &str, client_id: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(
            Method::DELETE,
            &format!("connections/{id}/oauth-clients/{client_id}"),
            None::<&()>,
        )
        .await
        .map(|_| ())
    }

    /// Adds an issuer of bearer JWTs (Entra ID's preset or one given in full).
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn add_jwt_issuer(
        &self,
        id: &str,
        new: &crate::admin_model::NewJwtIssuer,
    ) -> Result<connections::JwtIssuer, AdminClientError> {
        self.expect(Method::POST, &format!("connections/{id}/jwt-issuers"), Some(new)).await
    }

    /// Removes an issuer of bearer JWTs (its tokens stop working).
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn remove_jwt_issuer(&self, id: &str, issuer_id: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(
            Method::DELETE,
            &format!("connections/{id}/jwt-issuers/{issuer_id}"),
            None::<&()>,
        )
        .await
        .map(|_| ())
    }

    /// Sets the HTTP Basic credential.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn set_basic(
        &self,
        id: &str,
        basic: &BasicCredentialRequest,
    ) -> Result<ConnectionView, AdminClientError> {
        self.expect(Method::PUT, &format!("connections/{id}/basic"), Some(basic)).await
    }

    /// Removes the HTTP Basic credential.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn remove_basic(&self, id: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(Method::DELETE, &format!("connections/{id}/basic"), None::<&()>)
            .await
            .map(|_| ())
    }

    /// Disables a connection: its credentials stop working until it is enabled again.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn disable(&self, id: &str) -> Result<ConnectionView, AdminClientError> {
        self.expect(Method::POST, &format!("connections/{id}/disable"), None::<&()>).await
    }

    /// Enables a connection.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn enable(&self, id: &str) -> Result<ConnectionView, AdminClientError> {
        self.expect(Method::POST, &format!("connections/{id}/enable"), None::<&()>).await
    }
}
