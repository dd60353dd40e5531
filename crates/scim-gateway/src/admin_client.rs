//! A typed client of the admin API (`/admin/v1`), one method per endpoint;
//! the `scim-connector admin ...` commands run on it.

use crate::admin_model::{
    BasicCredentialRequest, ConfirmRemovalsRequest, ConnectionPatch, ConnectionView, CreatedConnection, DeadLetterList,
    DeadLetterView, DoctorReport, IssuedOAuthClientView, IssuedTokenView, NewConnection, NewOAuthClient, NewToken,
    ReplayRequest, Replayed, ResyncState,
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

    /// A page of dead letters, newest first (`after`: the previous page's `next`).
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn dead_letters(
        &self,
        count: Option<usize>,
        after: Option<&str>,
    ) -> Result<DeadLetterList, AdminClientError> {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(count) = count {
            query.append_pair("count", &count.to_string());
        }
        if let Some(after) = after {
            query.append_pair("after", after);
        }
        let query = query.finish();
        let path = if query.is_empty() { "dead-letters".to_owned() } else { format!("dead-letters?{query}") };
        self.expect(Method::GET, &path, None::<&()>).await
    }

    /// One dead letter, its payload without any password.
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown id).
    pub async fn dead_letter(&self, id: &str) -> Result<DeadLetterView, AdminClientError> {
        self.expect(Method::GET, &format!("dead-letters/{}", segment(id)), None::<&()>).await
    }

    /// Submits a dead letter's job again; `without_password` for one that carried a password.
    ///
    /// # Errors
    /// Transport failures and refusals (409 for a job with a password, without `without_password`).
    pub async fn replay_dead_letter(&self, id: &str, without_password: bool) -> Result<Replayed, AdminClientError> {
        let request = ReplayRequest { without_password };
        self.expect(Method::POST, &format!("dead-letters/{}/replay", segment(id)), Some(&request)).await
    }

    /// Discards a dead letter.
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown id).
    pub async fn discard_dead_letter(&self, id: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(Method::DELETE, &format!("dead-letters/{}", segment(id)), None::<&()>)
            .await
            .map(|_| ())
    }

    /// Every console user.
    ///
    /// # Errors
    /// Transport failures and refusals.
    pub async fn console_users(&self) -> Result<Vec<crate::console::users::ConsoleUserView>, AdminClientError> {
        self.expect(Method::GET, "console-users", None::<&()>).await
    }

    /// Adds a console user.
    ///
    /// # Errors
    /// Transport failures and refusals (409 for an existing name, 400 for a short password).
    pub async fn add_console_user(
        &self,
        name: &str,
        password: &SecretString,
    ) -> Result<crate::console::users::ConsoleUserView, AdminClientError> {
        let body = crate::console::users::ConsoleUserRequest::new(name, password);
        self.expect(Method::POST, "console-users", Some(&body)).await
    }

    /// Removes a console user (their sessions end).
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown name).
    pub async fn remove_console_user(&self, name: &str) -> Result<(), AdminClientError> {
        self.call::<serde_json::Value>(Method::DELETE, &format!("console-users/{}", segment(name)), None::<&()>)
            .await
            .map(|_| ())
    }

    /// Gives a console user a new password (their sessions end).
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown name, 400 for a short password).
    pub async fn reset_console_password(&self, name: &str, password: &SecretString) -> Result<(), AdminClientError> {
        let body = crate::console::users::ConsoleUserRequest::new(name, password);
        self.call::<serde_json::Value>(Method::PUT, &format!("console-users/{}/password", segment(name)), Some(&body))
            .await
            .map(|_| ())
    }

    /// Starts a resync of a Secret Server instance (or answers the one running).
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown instance).
    pub async fn start_resync(&self, instance: &str) -> Result<ResyncState, AdminClientError> {
        self.expect(Method::POST, &format!("secret-servers/{}/resync", segment(instance)), None::<&()>).await
    }

    /// The resync state of a Secret Server instance.
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown instance).
    pub async fn resync(&self, instance: &str) -> Result<ResyncState, AdminClientError> {
        self.expect(Method::GET, &format!("secret-servers/{}/resync", segment(instance)), None::<&()>).await
    }

    /// Confirms the removals of the held report `report_id`.
    ///
    /// # Errors
    /// Transport failures and refusals (409 when the held report is another one).
    pub async fn confirm_removals(
        &self,
        instance: &str,
        report_id: &str,
        count: Option<u64>,
    ) -> Result<ResyncState, AdminClientError> {
        let request = ConfirmRemovalsRequest { report_id: report_id.to_owned(), count };
        self.expect(Method::POST, &format!("secret-servers/{}/resync/confirm", segment(instance)), Some(&request)).await
    }

    /// The preflight of a Secret Server instance, run in the adapter.
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown instance).
    pub async fn doctor(&self, instance: &str) -> Result<DoctorReport, AdminClientError> {
        self.expect(Method::POST, &format!("secret-servers/{}/doctor", segment(instance)), None::<&()>).await
    }

    /// The quick test of the connection to a Secret Server instance.
    ///
    /// # Errors
    /// Transport failures and refusals (404 for an unknown instance).
    pub async fn test_secret_server(&self, instance: &str) -> Result<DoctorReport, AdminClientError> {
        self.expect(Method::POST, &format!("secret-servers/{}/test", segment(instance)), None::<&()>).await
    }
}

/// A path segment, percent-encoded.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}
