//! The admin API's request and response bodies, shared by the server routes
//! and [`crate::admin_client`]. Views never carry a hash or a secret: a
//! token or client secret appears exactly once, in the answer that issued it.

use connections::from_file::Provenance;
use connections::{Connection, ConnectionRateLimit, Policies, RightsMapping, Scope};
use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

/// A connection as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionView {
    pub id: String,
    pub display_name: String,
    pub enabled: bool,
    pub secret_server: String,
    pub scope: Scope,
    pub rights: RightsMapping,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<ConnectionRateLimit>,
    pub policies: Policies,
    pub from_config: bool,
    /// For a connection defined in the configuration file: which parts come from the file and
    /// which from the admin API (absent when the file's definition is not known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    pub credentials: CredentialsView,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<OffsetDateTime>,
}

/// A connection's credentials, by their public ids only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsView {
    pub bearer_tokens: Vec<TokenView>,
    pub oauth_clients: Vec<OAuthClientView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_username: Option<String>,
    /// Issuers of bearer JWTs (nothing secret).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_issuers: Vec<connections::JwtIssuer>,
}

/// A static bearer token, by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenView {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
}

/// An OAuth2 client, by its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClientView {
    pub client_id: String,
    pub token_ttl_seconds: u32,
}

impl From<&Connection> for ConnectionView {
    fn from(c: &Connection) -> Self {
        Self {
            id: c.id.to_string(),
            display_name: c.display_name.clone(),
            enabled: c.enabled,
            secret_server: c.secret_server.clone(),
            scope: c.scope.clone(),
            rights: c.rights.clone(),
            rate_limit: c.rate_limit,
            policies: c.policies,
            from_config: c.from_config,
            provenance: None,
            credentials: CredentialsView {
                bearer_tokens: c
                    .credentials
                    .bearer_tokens
                    .iter()
                    .map(|t| TokenView {
                        id: t.id.clone(),
                        label: t.label.clone(),
                        created_at: t.created_at,
                        expires_at: t.expires_at,
                    })
                    .collect(),
                oauth_clients: c
                    .credentials
                    .oauth_clients
                    .iter()
                    .map(|k| OAuthClientView { client_id: k.client_id.clone(), token_ttl_seconds: k.token_ttl_seconds })
                    .collect(),
                basic_username: c.credentials.basic.as_ref().map(|b| b.username.clone()),
                jwt_issuers: c.credentials.jwt_issuers.clone(),
            },
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

impl ConnectionView {
    /// The view of `c` with its provenance, given the configuration file's definition of it.
    pub fn with_file_definition(c: &Connection, file: Option<&Connection>) -> Self {
        let provenance = file.filter(|_| c.from_config).map(|file| Provenance::of(c, file));
        Self { provenance, ..Self::from(c) }
    }
}

/// `POST /admin/v1/connections`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewConnection {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    pub secret_server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<RightsMapping>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<ConnectionRateLimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Policies>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Issue a first bearer token with the connection (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_token: Option<bool>,
}

/// The answer to a create: the connection and, when asked for, its first token (shown once).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreatedConnection {
    pub connection: ConnectionView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<IssuedTokenView>,
}

/// `PATCH /admin/v1/connections/{id}`: only the members present change; `"rateLimit": null` puts the
/// connection back on the gateway's default limit, `"rateLimit": "none"` leaves it unlimited.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectionPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_server: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rights: Option<RightsMapping>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<Option<ConnectionRateLimit>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policies: Option<Policies>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A member that is present (even as `null`) becomes `Some(..)`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `POST /admin/v1/connections/{id}/tokens`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewToken {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The token stops working after this many seconds; absent: it does not expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in_seconds: Option<u64>,
}

/// A token just issued: the only time the token itself is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedTokenView {
    pub id: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
}

/// `POST /admin/v1/connections/{id}/oauth-clients`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewOAuthClient {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_ttl_seconds: Option<u32>,
}

/// `POST /admin/v1/connections/{id}/jwt-issuers`: Entra ID's preset (`entraTenantId`, with the
/// issuer, audience and keys of that tenant), or an issuer given in full; `appIds` and `tenantIds`
/// narrow either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewJwtIssuer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entra_tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenant_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_ids: Vec<String>,
}

impl NewJwtIssuer {
    /// The issuer this request describes, with public id `id`.
    ///
    /// # Errors
    /// A sentence naming what is missing or wrong.
    pub fn into_issuer(self, id: String) -> Result<connections::JwtIssuer, String> {
        let mut issuer = match (self.entra_tenant_id, self.issuer) {
            (Some(tenant), None) if !tenant.trim().is_empty() => connections::JwtIssuer::entra(id, &tenant),
            (None, Some(issuer)) => connections::JwtIssuer {
                id,
                issuer,
                audiences: self.audiences.clone(),
                jwks_url: self.jwks_url.clone().unwrap_or_default(),
                tenant_ids: Vec::new(),
                app_ids: Vec::new(),
            },
            _ => return Err("give either entraTenantId or issuer (with audiences and jwksUrl)".to_owned()),
        };
        if !self.audiences.is_empty() {
            issuer.audiences = self.audiences;
        }
        if let Some(url) = self.jwks_url {
            issuer.jwks_url = url;
        }
        if !self.tenant_ids.is_empty() {
            issuer.tenant_ids = self.tenant_ids;
        }
        issuer.app_ids = self.app_ids;
        issuer.validate()?;
        Ok(issuer)
    }
}

/// An OAuth2 client just registered: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedOAuthClientView {
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl_seconds: u32,
    /// Where the client asks for tokens.
    pub token_endpoint: String,
}

/// `PUT /admin/v1/connections/{id}/basic`
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicCredentialRequest {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for BasicCredentialRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentialRequest")
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

/// A dead letter: a job that failed every attempt. Never a password: the places of the payload
/// that held one are left out and named in `withheld`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    /// The job's id, which names the dead letter.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    /// Absent for a create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    /// `create`, `replace`, `patch` or `delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The SCIM request that submitted it (`X-Request-Id`, and the audit trail's request id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub attempts: u32,
    pub last_error: String,
    #[serde(with = "time::serde::rfc3339")]
    pub dead_lettered_at: OffsetDateTime,
    /// The SCIM payload without its password places (inspection only, not in lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
    /// JSON Pointers of the places that held a password (inspection only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// Why the job could not be read (its bytes are never shown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undecodable: Option<String>,
}

/// `GET /admin/v1/dead-letters`: a page, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterList {
    pub items: Vec<DeadLetterView>,
    /// Pass as `after` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// `POST /admin/v1/dead-letters/{id}/replay`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReplayRequest {
    /// Replay a job that carried a password without it (refused otherwise): a created user gets
    /// a generated password, a password change is left out of its PATCH.
    #[serde(default)]
    pub without_password: bool,
}

/// The answer to a replay: the job that now runs in the dead letter's place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Replayed {
    pub dead_letter: String,
    pub job_id: String,
    /// Whether the job was replayed without the password it carried.
    pub without_password: bool,
}

/// `POST /admin/v1/secret-servers/{name}/resync/confirm`: the held report to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmRemovalsRequest {
    /// The held report's id (`heldRemovals.reportId` of the resync state).
    pub report_id: String,
    /// When given, must be the held report's count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
}

pub use adapter_api::admin::{DoctorReport, ResyncState};
