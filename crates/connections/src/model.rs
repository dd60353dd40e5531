//! The connection model as stored and as configured (TOML/JSON).

use crate::rights::RightsMapping;
use scim::ResourceKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;

/// A connection's id: a lower-case slug (`sailpoint-prod`), used in URLs and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConnectionId(String);

/// An id that is not a slug of 1–64 characters `[a-z0-9-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid connection id {0:?}: use 1-64 characters among a-z, 0-9 and '-'")]
pub struct InvalidConnectionId(pub String);

impl ConnectionId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ConnectionId {
    type Err = InvalidConnectionId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok { Ok(Self(s.to_owned())) } else { Err(InvalidConnectionId(s.to_owned())) }
    }
}

impl TryFrom<String> for ConnectionId {
    type Error = InvalidConnectionId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ConnectionId> for String {
    fn from(id: ConnectionId) -> Self {
        id.0
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One SCIM platform's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    pub id: ConnectionId,
    /// A human name ("SailPoint IdentityIQ production").
    #[serde(default)]
    pub display_name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The Secret Server instance this connection reads and writes.
    pub secret_server: String,
    #[serde(default)]
    pub credentials: Credentials,
    #[serde(default)]
    pub scope: Scope,
    #[serde(default)]
    pub rights: RightsMapping,
    /// The connection's own rate limit (a limit, or `"none"`); absent: the gateway's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<ConnectionRateLimit>,
    #[serde(default)]
    pub policies: Policies,
    /// Set for connections defined in the configuration file: the admin API
    /// may rotate their credentials but not delete them.
    #[serde(default)]
    pub from_config: bool,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<OffsetDateTime>,
}

fn yes() -> bool {
    true
}

/// How a connection authenticates. Only hashes are stored, never a token or a password.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// Static bearer tokens (shown once when issued).
    #[serde(default)]
    pub bearer_tokens: Vec<TokenCredential>,
    /// OAuth2 client-credentials clients; the gateway issues short-lived tokens to them.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// Optional HTTP Basic credential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicCredential>,
    /// Issuers whose signed bearer JWTs the connection accepts (Microsoft Entra ID's own tokens).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jwt_issuers: Vec<JwtIssuer>,
}

/// Microsoft Entra ID's audience for the tokens it sends a non-gallery SCIM application whose
/// secret-token field is left empty.
pub const ENTRA_SCIM_AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

/// An issuer of bearer JWTs a connection accepts: the token's RS256 signature is checked against
/// the issuer's published keys (JWKS, fetched over HTTPS), and its `iss`, `aud`, `exp` and `nbf`,
/// and `tid` / `appid` when listed. Nothing secret is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtIssuer {
    /// A short public id to name the issuer when removing it (`jwt_…`).
    pub id: String,
    /// The exact `iss` the tokens carry.
    pub issuer: String,
    /// The `aud` values accepted (any one).
    pub audiences: Vec<String>,
    /// Where the issuer publishes its signing keys; `https://` only.
    pub jwks_url: String,
    /// When not empty, the token's `tid` must be one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenant_ids: Vec<String>,
    /// When not empty, the token's `appid` (or `azp`) must be one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub app_ids: Vec<String>,
}

impl JwtIssuer {
    /// Microsoft Entra ID's tokens for tenant `tenant_id`: issuer `https://sts.windows.net/<tenant>/`,
    /// audience [`ENTRA_SCIM_AUDIENCE`], the tenant's keys, and only that tenant's `tid`.
    pub fn entra(id: impl Into<String>, tenant_id: &str) -> Self {
        let tenant = tenant_id.trim();
        Self {
            id: id.into(),
            issuer: format!("https://sts.windows.net/{tenant}/"),
            audiences: vec![ENTRA_SCIM_AUDIENCE.to_owned()],
            jwks_url: format!("https://login.microsoftonline.com/{tenant}/discovery/keys"),
            tenant_ids: vec![tenant.to_owned()],
            app_ids: Vec::new(),
        }
    }

    /// Whether one token could be accepted by both issuers: the same `iss`, an audience in common,
    /// and tenant and application lists that both admit some value (an empty list admits any).
    /// Two connections whose issuers overlap could not tell their callers apart.
    pub fn overlaps(&self, other: &Self) -> bool {
        let meet = |a: &[String], b: &[String]| {
            a.is_empty() || b.is_empty() || a.iter().any(|x| b.iter().any(|y| x.eq_ignore_ascii_case(y)))
        };
        self.issuer == other.issuer
            && self.audiences.iter().any(|a| other.audiences.contains(a))
            && meet(&self.tenant_ids, &other.tenant_ids)
            && meet(&self.app_ids, &other.app_ids)
    }

    /// Checks what a token could never satisfy, or a key URL that is not HTTPS.
    ///
    /// # Errors
    /// A sentence naming the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.issuer.trim().is_empty() {
            return Err("issuer must not be empty".to_owned());
        }
        if self.audiences.iter().all(|a| a.trim().is_empty()) {
            return Err("audiences must name at least one audience".to_owned());
        }
        match url::Url::parse(&self.jwks_url) {
            Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Ok(()),
            _ => Err(format!("jwksUrl {:?} must be an https:// URL", self.jwks_url)),
        }
    }
}

/// A static bearer token, stored as the SHA-256 (hex) of the token. Tokens
/// are long random strings, so a fast hash is enough and lets the gateway
/// find the connection from the token in one lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenCredential {
    /// A short public id to name the token when rotating or revoking it.
    pub id: String,
    pub sha256: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub created_at: Option<OffsetDateTime>,
    #[serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<OffsetDateTime>,
}

/// An OAuth2 client-credentials client; the secret is stored as an Argon2 PHC string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OAuthClient {
    pub client_id: String,
    pub secret_hash: String,
    /// Lifetime of the access tokens issued to this client, in seconds.
    #[serde(default = "default_token_ttl")]
    pub token_ttl_seconds: u32,
}

fn default_token_ttl() -> u32 {
    3600
}

/// An HTTP Basic credential; the password is stored as an Argon2 PHC string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BasicCredential {
    pub username: String,
    pub password_hash: String,
}

/// What a connection may do with one resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operations {
    #[serde(default)]
    pub read: bool,
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub update: bool,
    #[serde(default)]
    pub delete: bool,
}

impl Operations {
    pub const ALL: Operations = Operations { read: true, create: true, update: true, delete: true };
    pub const READ_ONLY: Operations = Operations { read: true, create: false, update: false, delete: false };
    pub const NONE: Operations = Operations { read: false, create: false, update: false, delete: false };
}

/// What a connection may see and touch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    /// Operations per resource type, keyed by ResourceType name ("User", "Container"...).
    /// A type absent from the map is not reachable at all.
    pub resource_types: BTreeMap<String, Operations>,
    /// Folder ids whose subtrees (the folder and every descendant) this
    /// connection's Containers, ContainerPermissions, PrivilegedData and
    /// PrivilegedDataPermissions are limited to. `None`: every folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_subtrees: Option<Vec<i64>>,
    /// Which Users and Groups the connection may change (and, when it says so, see). Default:
    /// all of them, as before principal scopes existed.
    #[serde(default, skip_serializing_if = "PrincipalScope::is_default")]
    pub principals: PrincipalScope,
    /// The Secret Server roles (by name, case-insensitive) this connection may assign to and take
    /// from the users and groups within its reach through a User's or a Group's `roles`. Empty (the
    /// default): their `roles` are read-only for the connection. The administrator role is never assignable: its
    /// holders are protected principals.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The folder (id) a secret goes to when a PATCH takes it out of a Container's
    /// `privilegedData`; it must be within `container_subtrees`. `None` (the default): such a
    /// removal is refused with `400` (a secret is always in some folder, so it cannot just leave).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removed_secrets_folder: Option<i64>,
}

/// Which Secret Server users and groups a connection may change. Protected principals (the
/// connector's own API account, Secret Server's administrators, a configured list) are out of
/// every connection's reach whatever its principal scope says; the adapter decides those.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "PrincipalScopeFields")]
pub struct PrincipalScope {
    pub reach: PrincipalReach,
    /// For [`PrincipalReach::GroupMembers`]: the Secret Server group ids whose members (and the
    /// groups themselves) the connection may change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<i64>,
    /// Reads are limited to the same users and groups (others are `404` and left out of lists).
    /// Default false: the connection reads every user and group, as before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub limit_reads: bool,
}

/// The users and groups within a connection's reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrincipalReach {
    /// Every user and group (the default).
    #[default]
    All,
    /// Only the users and groups created through this connection.
    CreatedByConnection,
    /// The members of the listed groups and those groups, and what the connection created.
    GroupMembers,
}

impl PrincipalReach {
    /// How a refusal describes the reach.
    pub fn describe(self, groups: &[i64]) -> String {
        match self {
            PrincipalReach::All => "every user and group".to_owned(),
            PrincipalReach::CreatedByConnection => "the users and groups it created".to_owned(),
            PrincipalReach::GroupMembers => {
                let ids: Vec<String> = groups.iter().map(i64::to_string).collect();
                format!("the members of groups {} and what it created", ids.join(", "))
            }
        }
    }
}

/// A principal scope as written, checked into a [`PrincipalScope`].
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PrincipalScopeFields {
    #[serde(default)]
    reach: PrincipalReach,
    #[serde(default)]
    groups: Vec<i64>,
    #[serde(default)]
    limit_reads: bool,
}

impl TryFrom<PrincipalScopeFields> for PrincipalScope {
    type Error = String;

    fn try_from(f: PrincipalScopeFields) -> Result<Self, Self::Error> {
        Self::new(f.reach, f.groups, f.limit_reads)
    }
}

impl PrincipalScope {
    /// A principal scope, checked: `groupMembers` needs at least one group; groups are positive
    /// ids and go with `groupMembers` only.
    ///
    /// # Errors
    /// The rule broken, naming the member at fault.
    pub fn new(reach: PrincipalReach, groups: Vec<i64>, limit_reads: bool) -> Result<Self, String> {
        let f = PrincipalScopeFields { reach, groups, limit_reads };
        match f.reach {
            PrincipalReach::GroupMembers if f.groups.is_empty() => {
                return Err("principals.reach \"groupMembers\" needs at least one group id in principals.groups".into());
            }
            PrincipalReach::All | PrincipalReach::CreatedByConnection if !f.groups.is_empty() => {
                return Err("principals.groups goes with principals.reach \"groupMembers\" only".into());
            }
            _ => {}
        }
        if let Some(bad) = f.groups.iter().find(|g| **g <= 0) {
            return Err(format!("principals.groups: {bad} is not a Secret Server group id"));
        }
        let mut groups = f.groups;
        groups.sort_unstable();
        groups.dedup();
        Ok(Self { reach: f.reach, groups, limit_reads: f.limit_reads })
    }

    /// Every user and group, reads unlimited.
    pub fn is_default(&self) -> bool {
        self == &Self::default()
    }
}

impl Default for Scope {
    /// Everything, except writes to PrivilegedData: secrets are read-only through the connector (a scope
    /// that allows writes gets `501`, the default scope `403`); Roles are read-only by nature.
    fn default() -> Self {
        let resource_types = ResourceKind::ALL
            .into_iter()
            .map(|kind| {
                let read_only = kind == ResourceKind::PrivilegedData || kind.is_read_only();
                let ops = if read_only { Operations::READ_ONLY } else { Operations::ALL };
                (kind.name().to_owned(), ops)
            })
            .collect();
        Self {
            resource_types,
            container_subtrees: None,
            principals: PrincipalScope::default(),
            roles: Vec::new(),
            removed_secrets_folder: None,
        }
    }
}

impl Scope {
    /// The operations allowed on `kind` (none when the type is out of scope). A read-only type
    /// (Role) is at most readable, whatever the scope says.
    pub fn operations(&self, kind: ResourceKind) -> Operations {
        let ops = self
            .resource_types
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(kind.name()))
            .map(|(_, ops)| *ops)
            .unwrap_or(Operations::NONE);
        if kind.is_read_only() { Operations { read: ops.read, ..Operations::NONE } } else { ops }
    }

    /// A scope that may read every type and change none.
    pub fn read_only() -> Self {
        let resource_types =
            ResourceKind::ALL.into_iter().map(|k| (k.name().to_owned(), Operations::READ_ONLY)).collect();
        Self {
            resource_types,
            container_subtrees: None,
            principals: PrincipalScope::default(),
            roles: Vec::new(),
            removed_secrets_folder: None,
        }
    }
}

/// A token bucket: `requests_per_second` sustained, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub requests_per_second: f64,
    pub burst: u32,
}

/// A rate limit a connection sets for itself: a token bucket, or none at all (`"none"`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ConnectionRateLimit {
    Limited(RateLimit),
    Unlimited(NoRateLimit),
}

/// `"none"`: the connection has no rate limit, whatever the gateway's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoRateLimit {
    #[serde(rename = "none")]
    None,
}

impl ConnectionRateLimit {
    /// No limit.
    pub const NONE: ConnectionRateLimit = ConnectionRateLimit::Unlimited(NoRateLimit::None);
}

impl Connection {
    /// The rate limit that applies: the connection's own, else `default` (`None`: unlimited).
    pub fn rate_limit_or(&self, default: Option<RateLimit>) -> Option<RateLimit> {
        match self.rate_limit {
            Some(ConnectionRateLimit::Limited(limit)) => Some(limit),
            Some(ConnectionRateLimit::Unlimited(_)) => None,
            None => default,
        }
    }
}

/// What happens when a SCIM client changes a user's `userName`, which Secret Server cannot change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UserNameChangePolicy {
    /// `400 mutability` (default).
    #[default]
    Reject,
    /// Keep Secret Server's name; remember the client's new `userName` in the
    /// attribute store and answer with it, so the client sees its own value. The
    /// name is this connection's own: every other connection sees Secret Server's.
    KeepSecretServerName,
}

/// How a user deleted through SCIM (deactivated in Secret Server) looks afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum DeletedUserPolicy {
    /// `404`, as SCIM clients expect after a DELETE (default).
    #[default]
    NotFound,
    /// Still listed, with `active: false`.
    Inactive,
}

/// What a permission grant does on a folder that inherits its permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum InheritedFolderPolicy {
    /// Break inheritance (Secret Server copies the inherited permissions onto
    /// the folder first), then grant (default).
    #[default]
    BreakInheritance,
    /// Refuse with `400` and leave the folder as it is.
    Refuse,
}

/// What the gateway does with attributes and sub-attributes of a request body (POST, PUT, PATCH
/// values, Bulk) that the schema does not define.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum UnknownAttributePolicy {
    /// Apply the request with what the schema defines; name the ignored attributes (never their
    /// values) in the call's audit record (default: what real clients expect, and what RFC 7644's
    /// robustness intent and the major SCIM servers do).
    #[default]
    Ignore,
    /// Refuse the request with `400` naming the first of them.
    Reject,
}

/// Whose passwords a connection may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PasswordChangePolicy {
    /// When it creates a user, and on the users it created (default).
    #[default]
    CreatedByConnection,
    /// On any user within its principal scope (an opt-in: a connection that can set the password
    /// of a person can sign in as that person).
    Any,
}

/// How the gateway answers a successful PATCH (RFC 7644 §3.5.2 allows either).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PatchResponsePolicy {
    /// `200` with the resource after the change (default: what every client has seen so far).
    #[default]
    Resource,
    /// `204 No Content` with the resource's `ETag` and no body, and nothing rendered for it: a
    /// member change of a large group then costs what the change costs, not what the group holds.
    /// A PATCH that asks for `attributes` or `excludedAttributes` still gets `200` with them.
    /// Microsoft Entra ID accepts it.
    NoContent,
}

/// Behaviour switches of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Policies {
    pub user_name_change: UserNameChangePolicy,
    pub deleted_users: DeletedUserPolicy,
    pub inherited_folder: InheritedFolderPolicy,
    pub unknown_attributes: UnknownAttributePolicy,
    pub password_change: PasswordChangePolicy,
    pub patch_response: PatchResponsePolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_entra_apps_of_one_tenant_overlap_unless_their_application_ids_tell_them_apart() {
        let hr = JwtIssuer::entra("jwt_hr", "tenant-1");
        let it = JwtIssuer::entra("jwt_it", "tenant-1");
        assert!(hr.overlaps(&it), "the same issuer, audience and tenant, any application");
        let hr = JwtIssuer { app_ids: vec!["app-hr".into()], ..hr };
        assert!(hr.overlaps(&it), "an issuer without application ids still accepts the HR app's tokens");
        let it = JwtIssuer { app_ids: vec!["APP-IT".into()], ..it };
        assert!(!hr.overlaps(&it));
        assert!(
            hr.overlaps(&JwtIssuer { app_ids: vec!["App-HR".into()], ..it.clone() }),
            "ids compare case-insensitively"
        );
        assert!(!hr.overlaps(&JwtIssuer::entra("jwt_other", "tenant-2")), "another tenant is another issuer");
        assert!(!hr.overlaps(&JwtIssuer { audiences: vec!["api://other".into()], ..hr.clone() }));
    }

    #[test]
    fn connection_ids_are_lower_case_slugs() {
        assert!("sailpoint-prod".parse::<ConnectionId>().is_ok());
        assert!("Okta".parse::<ConnectionId>().is_err());
        assert!("".parse::<ConnectionId>().is_err());
        assert!("a/b".parse::<ConnectionId>().is_err());
    }

    #[test]
    fn the_default_scope_reads_everything_and_writes_everything_but_secrets() {
        let scope = Scope::default();
        assert_eq!(scope.operations(ResourceKind::User), Operations::ALL);
        assert_eq!(scope.operations(ResourceKind::PrivilegedData), Operations::READ_ONLY);
    }

    #[test]
    fn unknown_attributes_are_ignored_unless_a_connection_says_reject() {
        let c: Connection = serde_json::from_str(r#"{"id":"okta","secretServer":"primary"}"#).unwrap();
        assert_eq!(c.policies.unknown_attributes, UnknownAttributePolicy::Ignore);
        let strict: Connection =
            serde_json::from_str(r#"{"id":"okta","secretServer":"primary","policies":{"unknownAttributes":"reject"}}"#)
                .unwrap();
        assert_eq!(strict.policies.unknown_attributes, UnknownAttributePolicy::Reject);
        assert_eq!(strict.policies.user_name_change, UserNameChangePolicy::Reject);
    }

    #[test]
    fn a_rate_limit_is_the_connections_own_none_at_all_or_the_default() {
        let default = Some(RateLimit { requests_per_second: 50.0, burst: 100 });
        let own: Connection =
            serde_json::from_str(r#"{"id":"a","secretServer":"p","rateLimit":{"requestsPerSecond":5,"burst":10}}"#)
                .unwrap();
        assert_eq!(own.rate_limit_or(default), Some(RateLimit { requests_per_second: 5.0, burst: 10 }));
        let none: Connection = serde_json::from_str(r#"{"id":"a","secretServer":"p","rateLimit":"none"}"#).unwrap();
        assert_eq!(none.rate_limit_or(default), None);
        assert_eq!(serde_json::to_value(&none).unwrap()["rateLimit"], "none");
        let unset: Connection = serde_json::from_str(r#"{"id":"a","secretServer":"p"}"#).unwrap();
        assert_eq!(unset.rate_limit_or(default), default);
        assert!(serde_json::from_str::<Connection>(r#"{"id":"a","secretServer":"p","rateLimit":"fast"}"#).is_err());
    }

    #[test]
    fn a_scope_without_principals_reaches_every_principal_and_does_not_write_the_default() {
        let scope: Scope = serde_json::from_value(serde_json::json!({"resourceTypes": {}})).unwrap();
        assert_eq!(scope.principals, PrincipalScope::default());
        assert_eq!(scope.principals.reach, PrincipalReach::All);
        assert!(serde_json::to_value(&scope).unwrap().get("principals").is_none());
    }

    #[test]
    fn a_principal_scope_of_group_members_needs_groups_and_only_it_takes_them() {
        let parse = |v: serde_json::Value| serde_json::from_value::<PrincipalScope>(v).map_err(|e| e.to_string());
        let ok = parse(serde_json::json!({"reach": "groupMembers", "groups": [9, 7, 9], "limitReads": true})).unwrap();
        assert_eq!((ok.groups, ok.limit_reads), (vec![7, 9], true));
        assert!(parse(serde_json::json!({"reach": "groupMembers"})).unwrap_err().contains("needs at least one group"));
        assert!(
            parse(serde_json::json!({"reach": "createdByConnection", "groups": [7]})).unwrap_err().contains("only")
        );
        assert!(parse(serde_json::json!({"reach": "groupMembers", "groups": [0]})).unwrap_err().contains("not a"));
        assert!(parse(serde_json::json!({"reach": "everyone"})).is_err());
        assert!(parse(serde_json::json!({"reach": "all", "limitreads": true})).is_err(), "unknown members are refused");
    }

    #[test]
    fn passwords_of_others_are_an_opt_in() {
        assert_eq!(Policies::default().password_change, PasswordChangePolicy::CreatedByConnection);
        let p: Policies = serde_json::from_value(serde_json::json!({"passwordChange": "any"})).unwrap();
        assert_eq!(p.password_change, PasswordChangePolicy::Any);
    }

    #[test]
    fn a_patch_is_answered_with_the_resource_unless_a_connection_says_no_content() {
        assert_eq!(Policies::default().patch_response, PatchResponsePolicy::Resource);
        let p: Policies = serde_json::from_value(serde_json::json!({"patchResponse": "noContent"})).unwrap();
        assert_eq!(p.patch_response, PatchResponsePolicy::NoContent);
        assert_eq!(serde_json::to_value(p).unwrap()["patchResponse"], "noContent");
        assert!(serde_json::from_value::<Policies>(serde_json::json!({"patchResponse": "204"})).is_err());
    }

    #[test]
    fn a_minimal_connection_parses_with_defaults() {
        let c: Connection = serde_json::from_str(r#"{"id":"okta","secretServer":"primary"}"#).unwrap();
        assert!(c.enabled);
        assert_eq!(c.policies, Policies::default());
        assert!(c.rights.container_rights().any(|r| r == "View"));
    }
}
