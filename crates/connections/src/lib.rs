//! SCIM connections.
//!
//! Each SCIM platform (SailPoint, Entra ID, Okta, OneLogin...) talks to the
//! connector through its own *connection*: its own credentials, the Secret
//! Server instance it is bound to, the scope it may see and touch, the
//! mapping from its access rights to Secret Server roles, its rate limit and
//! its policies. The gateway authenticates a request to a connection and
//! enforces what it may do; the adapter applies its instance, scope, rights
//! mapping and policies.

mod model;
mod rights;
mod store;

pub use model::{
    BasicCredential, Connection, ConnectionId, Credentials, DeletedUserPolicy, InheritedFolderPolicy,
    InvalidConnectionId, OAuthClient, Operations, Policies, RateLimit, Scope, TokenCredential, UserNameChangePolicy,
};
pub use rights::{FolderRoles, RightsMapping, UnmappedRight};
pub use store::ConnectionStore;
