//! SCIM connections.
//!
//! Each SCIM platform (SailPoint, Entra ID, Okta, OneLogin...) talks to the
//! connector through its own *connection*: its own credentials, the Secret
//! Server instance it is bound to, the scope it may see and touch, the
//! mapping from its access rights to Secret Server roles, its rate limit and
//! its policies. The gateway authenticates a request to a connection and
//! enforces what it may do; the adapter applies its instance, scope, rights
//! mapping and policies. What the scope allows is decided once, in [`scope`],
//! for both.

//!
//! Credentials are stored only as hashes: static bearer tokens as SHA-256
//! (indexed by hash so that a token finds its connection in one lookup),
//! OAuth2 client secrets and Basic passwords as Argon2id. [`credentials`]
//! makes them and [`verify::CredentialVerifier`] checks what a client
//! presents, with a bounded in-process cache.
//!
//! Connections may also be defined in the configuration file; [`from_file`] merges each definition
//! with what the admin API changed since, so that a revocation or a disable lasts across restarts.

pub mod credentials;
pub mod from_file;
mod model;
mod rights;
pub mod scope;
mod store;
pub mod verify;

pub use model::{
    BasicCredential, Connection, ConnectionId, ConnectionRateLimit, Credentials, DeletedUserPolicy,
    ENTRA_SCIM_AUDIENCE, InheritedFolderPolicy, InvalidConnectionId, JwtIssuer, NoRateLimit, OAuthClient, Operations,
    PasswordChangePolicy, PatchResponsePolicy, Policies, PrincipalReach, PrincipalScope, RateLimit, Scope,
    TokenCredential, UnknownAttributePolicy, UserNameChangePolicy,
};
pub use rights::{FolderRoles, RightsMapping, UnmappedRight};
pub use store::{AccessGrant, ConnectionStore, TokenIndexEntry};
pub use verify::{AuthMethod, Authenticated, CredentialVerifier, VerifierSettings, VerifyError};
