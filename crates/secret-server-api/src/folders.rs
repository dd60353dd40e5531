//! Folders: `/api/v1/folders`.

use serde::{Deserialize, Serialize};

/// `parentFolderId` of a folder at the root.
pub const ROOT_FOLDER_ID: i64 = -1;

/// The folder model (search records and GET / POST / PUT responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Folder {
    pub id: i64,
    pub folder_name: String,
    /// e.g. `\Parent\Child`.
    pub folder_path: String,
    pub parent_folder_id: i64,
    pub folder_type_id: i64,
    pub inherit_permissions: bool,
    pub inherit_secret_policy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_policy_id: Option<i64>,
    /// Present on GET by id with `getAllChildren=true`, and on create.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_folders: Option<Vec<Folder>>,
}

/// `POST /folders`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderCreateArgs {
    pub folder_name: String,
    pub parent_folder_id: i64,
    pub folder_type_id: i64,
    pub inherit_permissions: bool,
    pub inherit_secret_policy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_policy_id: Option<i64>,
}

impl Default for FolderCreateArgs {
    fn default() -> Self {
        Self {
            folder_name: String::new(),
            parent_folder_id: ROOT_FOLDER_ID,
            folder_type_id: 1,
            inherit_permissions: false,
            inherit_secret_policy: false,
            secret_policy_id: None,
        }
    }
}

/// `PUT /folders/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct FolderUpdateArgs {
    pub id: i64,
    pub folder_name: String,
    pub folder_type_id: i64,
    pub parent_folder_id: i64,
    pub inherit_permissions: bool,
    pub inherit_secret_policy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_policy_id: Option<i64>,
}
