//! Groups and membership: `/api/v1/groups`, `/api/v1/groups/{id}/users`.

use serde::{Deserialize, Serialize};

/// The group model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Group {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub domain_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_guid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub synchronized: bool,
    pub synchronize_now: bool,
    pub system_group: bool,
    pub is_editable: bool,
    pub can_edit_members: bool,
    pub has_group_owners: bool,
}

/// A record of `GET /groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupSummary {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub domain_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    pub member_count: i64,
    pub synchronized: bool,
    pub synchronize_now: bool,
}

/// `POST /groups`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupCreateArgs {
    pub name: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_guid: Option<String>,
    pub synchronized: bool,
    pub synchronize_now: bool,
    pub has_group_owners: bool,
}

/// `PUT /groups/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupUpdateArgs {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    pub synchronized: bool,
    pub synchronize_now: bool,
    pub has_group_owners: bool,
}

/// One membership: records of `GET /groups/{id}/users` and `GET /users/{id}/groups`,
/// and the answer of `POST /groups/{id}/users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupMembership {
    pub group_id: i64,
    pub group_name: String,
    pub group_domain_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_domain_name: Option<String>,
    pub user_id: i64,
    pub user_name: String,
    pub user_domain_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub enabled: bool,
}

/// `POST /groups/{id}/users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MemberAddArgs {
    pub user_id: i64,
}

/// `PUT /groups/{id}/users` (10.9+).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MembersReplaceArgs {
    pub user_ids: Vec<i64>,
}

/// `PATCH /groups/{id}/users` (`GroupMembershipPatchModel`): users to add and to remove in one
/// call. The answer is `{success}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MembersPatchArgs {
    pub added_user_ids: Vec<i64>,
    /// Spelled as the published model spells it (not `removedUserIds`).
    pub remove_user_ids: Vec<i64>,
}
