//! The console's reader of the audit service's query API (`/audit/v1`): the audit page's records,
//! a record's detail, the chain's verification and the JSON Lines export, with the connector's
//! admin token. The gateway holds no audit data of its own; records are shown as the service
//! answers them (JSON), so this crate does not depend on the audit service's.

use super::ConsoleSettings;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;

/// Why the audit service could not answer.
#[derive(Debug, thiserror::Error)]
pub enum AuditReadError {
    #[error("the audit service is not configured for the console (gateway.audit_url)")]
    NotConfigured,
    #[error("the audit service cannot be reached: {0}")]
    Unreachable(String),
    #[error("the audit service answered {status}: {detail}")]
    Refused { status: u16, detail: String },
}

/// A page of records.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordPage {
    pub records: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// The client of the audit service.
#[derive(Debug, Clone)]
pub struct AuditReader {
    target: Option<(url::Url, SecretString)>,
    http: reqwest::Client,
}

impl AuditReader {
    /// A reader for the settings' audit service (none configured: every read says so).
    ///
    /// # Errors
    /// An unreadable CA file, or an HTTP client that cannot be built.
    pub fn new(settings: &ConsoleSettings) -> anyhow::Result<Self> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &settings.audit_ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("invalid setting gateway.audit_ca_file ({}): {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| anyhow::anyhow!("invalid setting gateway.audit_ca_file ({}): {e}", path.display()))?;
            builder = builder.tls_certs_only(certs);
        }
        let http = builder.build().map_err(|e| anyhow::anyhow!("the console's audit client: {e}"))?;
        let target = match (&settings.audit_url, &settings.audit_token) {
            (Some(url), Some(token)) => Some((url.clone(), token.clone())),
            _ => None,
        };
        Ok(Self { target, http })
    }

    /// Whether an audit service is configured.
    pub fn is_configured(&self) -> bool {
        self.target.is_some()
    }

    async fn get(&self, path: &str, query: &[(String, String)]) -> Result<reqwest::Response, AuditReadError> {
        let (base, token) = self.target.as_ref().ok_or(AuditReadError::NotConfigured)?;
        let url = format!("{}{path}", base.as_str().trim_end_matches('/'));
        let response = self
            .http
            .get(url)
            .query(query)
            .bearer_auth(token.expose_secret())
            .send()
            .await
            .map_err(|e| AuditReadError::Unreachable(e.without_url().to_string()))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let detail = body.get("detail").and_then(Value::as_str).unwrap_or("no detail").to_owned();
        Err(AuditReadError::Refused { status, detail })
    }

    /// Records matching `query` (the audit API's filter parameters, plus `limit` and `cursor`).
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn records(&self, query: &[(String, String)]) -> Result<RecordPage, AuditReadError> {
        let response = self.get("/audit/v1/records", query).await?;
        response.json().await.map_err(|e| AuditReadError::Unreachable(e.without_url().to_string()))
    }

    /// Record `seq`.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn record(&self, seq: u64) -> Result<Value, AuditReadError> {
        let response = self.get(&format!("/audit/v1/records/{seq}"), &[]).await?;
        response.json().await.map_err(|e| AuditReadError::Unreachable(e.without_url().to_string()))
    }

    /// The chain's verification report.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn verify(&self) -> Result<Value, AuditReadError> {
        let response = self.get("/audit/v1/verify", &[]).await?;
        response.json().await.map_err(|e| AuditReadError::Unreachable(e.without_url().to_string()))
    }

    /// The export of the records matching `query`, as JSON Lines, streamed as it comes.
    ///
    /// # Errors
    /// See [`AuditReadError`].
    pub async fn export(&self, query: &[(String, String)]) -> Result<reqwest::Response, AuditReadError> {
        self.get("/audit/v1/export", query).await
    }
}
