//! Roles and who holds them: `/api/v1/roles`, `/api/v1/roles/{id}/groups`,
//! `/api/v1/users/{id}/roles`, `/api/v1/users/{userId}/roles-assigned` and
//! `/api/v1/groups/{id}/roles`.
//!
//! A role is a named set of role permissions (`Administrator`, `User`...), held by users directly
//! or through a group. These are not the access roles of folder and secret permissions
//! ([`crate::roles`]).

use crate::envelope::PagedResult;
use serde::{Deserialize, Serialize};

/// The role Secret Server gives its administrators.
pub const ADMINISTRATOR_ROLE: &str = "Administrator";

/// `RoleModel`: a record of `GET /roles` and the answer of `GET /roles/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Role {
    pub id: i64,
    pub name: String,
    pub enabled: bool,
    pub is_system: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `RoleSummary`: a record of `GET /users/{id}/roles` and `GET /groups/{id}/roles`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleSummary {
    pub role_id: i64,
    pub name: String,
}

/// `UserRoleSummary`: a record of `GET /users/{userId}/roles-assigned`, a role the user holds and
/// how (directly, through groups, or both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserRoleSummary {
    pub role_id: i64,
    pub role_name: String,
    pub is_direct_assignment: bool,
    /// The groups of the user that hold the role.
    pub groups: Vec<GroupAssignedRole>,
}

/// `GroupAssignedRoleModel`: a group through which a user holds a role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupAssignedRole {
    pub group_id: i64,
    pub group_name: String,
}

/// `RoleGroupSummary`: a record of `GET /roles/{id}/groups`, a group that holds the role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleGroupSummary {
    pub group_id: i64,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    pub enabled: bool,
    pub personal: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// `GroupMembershipFilter`: the filter `GET /roles/{id}/groups` echoes beside its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct GroupMembershipFilter {
    pub include_inactive_users_for_group: bool,
    pub user_domain_id: Option<i64>,
}

/// `PagingOfRoleGroupSummaryAndGroupMembershipFilter`: the paging envelope with the filter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleGroupPage {
    #[serde(flatten)]
    pub page: PagedResult<RoleGroupSummary>,
    pub filter: GroupMembershipFilter,
}

/// `RoleAssignments` (`POST`/`PUT /users/{id}/roles`, `POST /groups/{id}/roles`) and
/// `RoleRemovals` (the body of the `DELETE`s): role ids.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleAssignments {
    pub role_ids: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_group_page_carries_the_envelope_and_the_filter() {
        let text = r#"{"records":[{"groupId":3,"name":"IT Admins","enabled":true,"personal":false}],
            "total":1,"skip":0,"take":10,"success":true,"filter":{"includeInactiveUsersForGroup":false,"userDomainId":null}}"#;
        let page: RoleGroupPage = serde_json::from_str(text).unwrap();
        assert_eq!((page.page.total, page.page.records[0].group_id), (1, 3));
        let back = serde_json::to_value(&page).unwrap();
        assert_eq!(back["filter"]["includeInactiveUsersForGroup"], false);
        assert_eq!(back["records"][0]["name"], "IT Admins");
    }

    #[test]
    fn roles_assigned_name_the_granting_groups() {
        let text = r#"{"roleId":1,"roleName":"Administrator","isDirectAssignment":false,
            "groups":[{"groupId":3,"groupName":"IT Admins"}]}"#;
        let held: UserRoleSummary = serde_json::from_str(text).unwrap();
        assert_eq!((held.role_name.as_str(), held.is_direct_assignment), (ADMINISTRATOR_ROLE, false));
        assert_eq!(held.groups[0].group_name, "IT Admins");
    }
}
