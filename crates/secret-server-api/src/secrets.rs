//! Secret metadata: records of `GET /api/v1/secrets` and `GET /secrets/{id}/summary`.
//! Never a field value: this model has no `items` and no `extendedFields`.

use serde::{Deserialize, Serialize};

/// A secret's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretSummary {
    pub id: i64,
    pub name: String,
    pub folder_id: i64,
    pub secret_template_id: i64,
    pub secret_template_name: String,
    pub site_id: i64,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_accessed: Option<String>,
    pub checked_out: bool,
    pub check_out_enabled: bool,
    pub auto_change_enabled: bool,
    pub double_lock_enabled: bool,
    pub hide_password: bool,
    pub inherits_permissions: bool,
    pub is_restricted: bool,
    pub requires_approval: bool,
    pub requires_comment: bool,
    pub is_out_of_sync: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_of_sync_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heart_beat_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days_until_expiration: Option<i64>,
    pub response_codes: Vec<String>,
}

/// `PATCH /secrets/{id}/general` (`SecretDetailUpdateGeneralArgs`): the general fields to change,
/// wrapped in `data`. Only the folder is here: moving a secret is the one general change the
/// connector makes, and a secret's field values (`secretFields`) have no place in this model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretGeneralUpdateArgs {
    pub data: SecretGeneralUpdate,
}

/// `SecretDetailGeneralUpdateModel`, the folder only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretGeneralUpdate {
    /// The folder to move the secret to (`-1`: the root).
    pub folder: crate::Patch<Option<i64>>,
}

impl SecretGeneralUpdateArgs {
    /// Moves a secret to `folder_id`.
    pub fn move_to(folder_id: i64) -> Self {
        Self { data: SecretGeneralUpdate { folder: crate::Patch::set(Some(folder_id)) } }
    }
}

/// A `ViewFieldValueOf*` of `SecretDetailGeneralViewModel`: only its `value` is read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ViewFieldValue<T> {
    pub value: T,
}

/// The answer of `PATCH /secrets/{id}/general` (`SecretDetailGeneralViewModel`), read for the
/// secret's id, name and folder. The published model also carries `fields`, with the secret's
/// field values (the emulator sends made-up ones): this type has no place for them, so they are
/// skipped while the answer is decoded and nothing that comes out of the client holds them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct SecretGeneral {
    pub id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<ViewFieldValue<Option<String>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<ViewFieldValue<Option<i64>>>,
}

impl SecretGeneral {
    /// The folder the answer names, if it names one.
    pub fn folder_id(&self) -> Option<i64> {
        self.folder.as_ref().and_then(|f| f.value)
    }
}
