//! The stored shape of folders and permissions. Users, groups and secrets are
//! stored as their wire models; folders and permissions are stored without the
//! fields that are computed on output (`folderPath`, user and group names),
//! so a renamed group or a moved folder is always shown as it is now.

use secret_server_api::{FolderAccessRole, SecretAccessRole};
use serde::{Deserialize, Serialize};

/// A folder as stored (its path is computed from the tree).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderRec {
    pub id: i64,
    pub folder_name: String,
    pub parent_folder_id: i64,
    pub folder_type_id: i64,
    pub inherit_permissions: bool,
    pub inherit_secret_policy: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_policy_id: Option<i64>,
    /// A user's personal folder (or their root, `Personal Folders`): one owner, never shared,
    /// no subfolders.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub personal: bool,
}

/// Who a permission is for: exactly one user or one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Principal {
    User(i64),
    Group(i64),
}

impl Principal {
    /// The user id, when the principal is a user.
    pub fn user_id(self) -> Option<i64> {
        match self {
            Principal::User(id) => Some(id),
            Principal::Group(_) => None,
        }
    }

    /// The group id, when the principal is a group.
    pub fn group_id(self) -> Option<i64> {
        match self {
            Principal::Group(id) => Some(id),
            Principal::User(_) => None,
        }
    }
}

/// A folder permission as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderPermRec {
    pub id: i64,
    pub folder_id: i64,
    pub principal: Principal,
    pub folder_role: FolderAccessRole,
    pub secret_role: SecretAccessRole,
}

/// A secret permission as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretPermRec {
    pub id: i64,
    pub secret_id: i64,
    pub principal: Principal,
    pub secret_role: SecretAccessRole,
}
