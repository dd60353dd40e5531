//! Folder permissions (`/api/v1/folder-permissions`) and secret permissions
//! (`/api/v1/secret-permissions`).

use serde::{Deserialize, Serialize};

/// A folder permission. Search records carry every field; the single-object
/// responses (GET by id, POST, PUT) are documented with fewer fields on some
/// versions, so every field defaults and callers re-query by search when `id`
/// or `folderId` is missing (zero).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderPermission {
    pub id: i64,
    pub folder_id: i64,
    pub folder_access_role_id: i64,
    pub folder_access_role_name: String,
    pub secret_access_role_id: i64,
    pub secret_access_role_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_as: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
}

/// `POST /folder-permissions`: exactly one of `userId` / `groupId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderPermissionCreateArgs {
    pub folder_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    pub folder_access_role_name: String,
    pub secret_access_role_name: String,
    pub break_inheritance: bool,
}

/// `PUT /folder-permissions/{id}` (the user or group cannot change).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderPermissionUpdateArgs {
    pub id: i64,
    pub folder_id: i64,
    pub folder_access_role_name: String,
    pub secret_access_role_name: String,
    pub break_inheritance: bool,
}

/// A secret permission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretPermission {
    pub id: i64,
    pub secret_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub known_as: Option<String>,
    pub secret_access_role_id: i64,
    pub secret_access_role_name: String,
}

/// `POST /secret-permissions`: exactly one of `userId` / `groupId`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretPermissionCreateArgs {
    pub secret_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    pub secret_access_role_name: String,
}

/// `PUT /secret-permissions/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretPermissionUpdateArgs {
    pub id: i64,
    pub secret_id: i64,
    pub secret_access_role_name: String,
}
