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
