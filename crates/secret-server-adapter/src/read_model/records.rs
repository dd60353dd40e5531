//! The compact records the read model keeps: Secret Server's fields (the part a resync compares),
//! the connector's stored SCIM attributes (compact JSON text, parsed only when rendered) and the
//! resource's meta. No `serde_json::Value` per resource: 100,000 users cost tens of megabytes.

use secret_server_api::{FolderAccessRole, SecretAccessRole};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Who a permission is granted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Principal {
    User(i64),
    Group(i64),
}

/// The same principal as a connection's scope and the protection rules name it.
impl From<Principal> for connections::scope::Principal {
    fn from(principal: Principal) -> Self {
        match principal {
            Principal::User(u) => Self::User(u),
            Principal::Group(g) => Self::Group(g),
        }
    }
}

impl Principal {
    /// From Secret Server's pair of optional ids; `None` when neither (or both) is set.
    pub fn from_ids(user_id: Option<i64>, group_id: Option<i64>) -> Option<Self> {
        match (user_id.filter(|u| *u > 0), group_id.filter(|g| *g > 0)) {
            (Some(u), None) => Some(Principal::User(u)),
            (None, Some(g)) => Some(Principal::Group(g)),
            _ => None,
        }
    }

    /// The user, when the principal is one.
    pub fn user_id(self) -> Option<i64> {
        match self {
            Principal::User(u) => Some(u),
            Principal::Group(_) => None,
        }
    }

    /// The group, when the principal is one.
    pub fn group_id(self) -> Option<i64> {
        match self {
            Principal::Group(g) => Some(g),
            Principal::User(_) => None,
        }
    }
}

/// `meta.created`, `meta.lastModified` (Unix milliseconds) and the content version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Meta {
    pub created: i64,
    pub modified: i64,
    pub version: u64,
}

/// Stored SCIM attributes that Secret Server has no field for, as compact JSON object text.
pub type Attrs = Option<Box<str>>;

/// A user's Secret Server fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSs {
    pub id: i64,
    pub user_name: Box<str>,
    pub display_name: Box<str>,
    pub email: Option<Box<str>>,
    pub enabled: bool,
    pub domain_id: i64,
    /// Secret Server's `created`, Unix milliseconds.
    pub created: Option<i64>,
    /// The ids of the Secret Server roles assigned to the user directly (sorted; roles held only
    /// through a group are not the user's to change). Part of the comparison a resync makes, so a
    /// role assigned in Secret Server shows as a change of the user.
    pub roles: Box<[i64]>,
    /// The name of the user's directory domain (`UserSummary.domainName`); `None` for a local user.
    #[serde(default)]
    pub domain_name: Option<Box<str>>,
    /// The directory's identifier of a domain user (`UserModel.adGuid`); `None` for a local user.
    #[serde(default)]
    pub ad_guid: Option<Box<str>>,
}

/// A Secret Server role (`RoleModel`): what a User's `roles` name and `/Roles` lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleSs {
    pub id: i64,
    pub name: Box<str>,
    pub enabled: bool,
}

/// A user in the read model.
#[derive(Debug, Clone)]
pub struct UserRec {
    pub ss: UserSs,
    pub attrs: Attrs,
    /// Deleted through SCIM: deactivated in Secret Server, hidden or shown inactive per connection.
    pub deleted: bool,
    pub meta: Meta,
}

/// A local, enabled user without roles, named `name` (its user name and display name): the tests'
/// usual user.
#[cfg(test)]
impl UserSs {
    pub(crate) fn local(id: i64, name: &str) -> Self {
        Self {
            id,
            user_name: name.into(),
            display_name: name.into(),
            email: None,
            enabled: true,
            domain_id: -1,
            created: None,
            roles: Box::default(),
            domain_name: None,
            ad_guid: None,
        }
    }
}

/// A group's Secret Server fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSs {
    pub id: i64,
    pub name: Box<str>,
    pub enabled: bool,
    pub domain_id: i64,
    pub synchronized: bool,
    /// Unix milliseconds.
    pub created: Option<i64>,
    /// The ids of the Secret Server roles assigned to the group (sorted; `GET /groups/{id}/roles`).
    /// Part of the comparison a resync makes. Absent from snapshots written before groups had roles.
    #[serde(default)]
    pub roles: Box<[i64]>,
    /// The name of the group's directory domain; `None` for a local group.
    #[serde(default)]
    pub domain_name: Option<Box<str>>,
    /// The directory's identifier of a domain group (`GroupModel.adGuid`).
    #[serde(default)]
    pub ad_guid: Option<Box<str>>,
}

/// A local, enabled, unsynchronized group without roles: the tests' usual group.
#[cfg(test)]
impl GroupSs {
    pub(crate) fn local(id: i64, name: &str) -> Self {
        Self {
            id,
            name: name.into(),
            enabled: true,
            domain_id: -1,
            synchronized: false,
            created: None,
            roles: Box::default(),
            domain_name: None,
            ad_guid: None,
        }
    }
}

/// A group in the read model.
#[derive(Debug, Clone)]
pub struct GroupRec {
    pub ss: GroupSs,
    /// Member user ids, sorted and distinct.
    pub members: Vec<i64>,
    pub attrs: Attrs,
    pub meta: Meta,
}

/// A folder's Secret Server fields. The path is computed from the tree, so that a rename shows in
/// every descendant at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderSs {
    pub id: i64,
    pub name: Box<str>,
    /// `-1` at the root.
    pub parent: i64,
    pub inherit_permissions: bool,
    pub folder_type_id: i64,
    pub inherit_secret_policy: bool,
    pub secret_policy_id: Option<i64>,
}

/// A folder in the read model.
#[derive(Debug, Clone)]
pub struct FolderRec {
    pub ss: FolderSs,
    pub attrs: Attrs,
    pub meta: Meta,
}

/// A folder permission's Secret Server fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FolderPermSs {
    pub id: i64,
    pub folder: i64,
    pub principal: Principal,
    pub folder_role: FolderAccessRole,
    pub secret_role: SecretAccessRole,
}

/// A folder permission in the read model.
#[derive(Debug, Clone)]
pub struct FolderPermRec {
    pub ss: FolderPermSs,
    pub attrs: Attrs,
    pub meta: Meta,
}

/// A secret's metadata (never a field value).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretSs {
    pub id: i64,
    pub name: Box<str>,
    pub folder: i64,
    pub template_id: i64,
    /// Interned: a few templates are shared by every secret.
    pub template_name: Arc<str>,
    pub active: bool,
    pub checked_out: bool,
    /// Unix milliseconds.
    pub last_accessed: Option<i64>,
    pub heartbeat: Option<Arc<str>>,
    /// Unix milliseconds.
    pub created: Option<i64>,
    /// The secret takes its permissions from its folder (until a permission is added to it).
    pub inherits_permissions: bool,
}

/// A secret's metadata in the read model.
#[derive(Debug, Clone)]
pub struct SecretRec {
    pub ss: SecretSs,
    pub meta: Meta,
}

/// A secret permission's Secret Server fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretPermSs {
    pub id: i64,
    pub secret: i64,
    pub principal: Principal,
    pub role: SecretAccessRole,
}

/// A secret permission in the read model.
#[derive(Debug, Clone)]
pub struct SecretPermRec {
    pub ss: SecretPermSs,
    pub attrs: Attrs,
    pub meta: Meta,
}
