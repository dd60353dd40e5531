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

/// `PUT /groups/{id}`, the full replacement the emulator serves; the connector changes a group
/// with [`GroupPatchArgs`].
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

/// `PATCH /groups/{id}` (the spec's `GroupPatchArgs`): `{"data": {...}}` with only the properties
/// that change, each `{dirty, value}`. A group is changed this way rather than by `PUT`, whose
/// full model (owners, platform status, domain, synchronization) would have to carry back every
/// property the connector does not manage, and reset any it left out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupPatchArgs {
    pub data: GroupPatchModel,
}

/// The properties of a group `PATCH /groups/{id}` changes (the spec's `GroupPatchModel`: of its
/// owners and IP restrictions, none is ever sent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupPatchModel {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<crate::Patch<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<crate::Patch<bool>>,
}

impl GroupPatchArgs {
    /// A rename, and nothing else.
    pub fn rename(name: impl Into<String>) -> Self {
        Self { data: GroupPatchModel { name: Some(crate::Patch::set(name.into())), enabled: None } }
    }
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
