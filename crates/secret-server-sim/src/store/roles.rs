//! Roles and who holds them: the built-in roles, users' and groups' role assignments, and the
//! queries and plans of `/roles`, `/roles/{id}/groups`, `/users/{id}/roles`,
//! `/users/{userId}/roles-assigned` and `/groups/{id}/roles`.
//!
//! The emulator has Secret Server's built-in roles only (no role is created or deleted through
//! the API). A user holds a role directly or through a group it belongs to; `/users/{id}/roles`
//! and `GET /roles?filter.userId=` answer the roles a user holds either way, and
//! `/users/{userId}/roles-assigned` says how (directly, and through which groups).

use super::search::{Paging, SortKey};
use super::{Change, Store};
use crate::error::{SimError, SimResult, Thing};
use secret_server_api::{
    ADMINISTRATOR_ROLE, GroupAssignedRole, GroupMembershipFilter, PagedResult, Role, RoleGroupPage, RoleGroupSummary,
    RoleSummary, UserRoleSummary,
};
use std::collections::BTreeSet;

/// The id of the built-in `Administrator` role.
pub const ADMINISTRATOR_ROLE_ID: i64 = 1;

/// Where the ids of the personal groups `GET /roles/{id}/groups` lists begin (see
/// [`Store::search_role_groups`]).
pub const PERSONAL_GROUP_IDS: i64 = 1_000_000_000;

/// Secret Server's built-in roles, by id.
pub const BUILT_IN_ROLES: [(i64, &str); 3] =
    [(ADMINISTRATOR_ROLE_ID, ADMINISTRATOR_ROLE), (2, "User"), (3, "Basic User")];

/// Sortable fields of `GET /roles` (the first is the natural order).
pub const ROLE_SORT: &[&str] = &["id", "name"];
/// Sortable fields of the role lists of a user or a group.
pub const ROLE_SUMMARY_SORT: &[&str] = &["roleId", "name"];
/// Sortable fields of `GET /roles/{id}/groups`.
pub const ROLE_GROUP_SORT: &[&str] = &["groupId", "name"];

/// The filters of `GET /roles`.
#[derive(Debug, Clone, Copy, Default)]
pub struct RoleFilter {
    /// Only the roles this user holds (directly or through a group).
    pub user_id: Option<i64>,
    /// Only the roles this group holds.
    pub group_id: Option<i64>,
    /// Also disabled roles.
    pub include_inactive: bool,
}

/// The changes that create the built-in roles a store lacks (a fresh store, or one persisted
/// before the emulator had roles).
pub fn missing_built_in_roles(store: &Store, created: &str) -> Vec<Change> {
    BUILT_IN_ROLES
        .iter()
        .filter(|(id, _)| !store.roles.contains_key(id))
        .map(|(id, name)| {
            Change::PutRole(Role {
                id: *id,
                name: (*name).to_owned(),
                enabled: true,
                is_system: true,
                created: Some(created.to_owned()),
            })
        })
        .collect()
}

impl Store {
    /// The role with this id.
    pub fn role(&self, id: i64) -> Option<&Role> {
        self.roles.get(&id)
    }

    /// The role with this name (case-insensitive).
    pub fn role_by_name(&self, name: &str) -> Option<&Role> {
        self.roles.values().find(|r| r.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The roles assigned to a user directly.
    pub fn direct_roles_of_user(&self, user_id: i64) -> impl Iterator<Item = i64> + '_ {
        self.user_roles.get(&user_id).into_iter().flat_map(|r| r.iter().copied())
    }

    /// The roles assigned to a group.
    pub fn roles_of_group(&self, group_id: i64) -> impl Iterator<Item = i64> + '_ {
        self.group_roles.get(&group_id).into_iter().flat_map(|r| r.iter().copied())
    }

    /// Whether a user holds a role, directly or through a group.
    pub fn holds_role(&self, user_id: i64, role_id: i64) -> bool {
        self.user_roles.get(&user_id).is_some_and(|r| r.contains(&role_id))
            || self.groups_of(user_id).any(|g| self.group_roles.get(&g).is_some_and(|r| r.contains(&role_id)))
    }

    /// The roles a user holds, directly or through a group, in id order.
    fn effective_roles_of_user(&self, user_id: i64) -> BTreeSet<i64> {
        let mut roles: BTreeSet<i64> = self.direct_roles_of_user(user_id).collect();
        for group in self.groups_of(user_id) {
            roles.extend(self.roles_of_group(group));
        }
        roles
    }

    /// `GET /roles/{id}`.
    ///
    /// # Errors
    /// `API_RoleNotFound`.
    pub fn get_role(&self, id: i64) -> SimResult<Role> {
        self.role(id).cloned().ok_or(SimError::NotFound(Thing::Role, id))
    }

    /// `GET /roles`.
    ///
    /// # Errors
    /// `API_UserNotFound` or `API_GroupNotFound` for a filter naming neither.
    pub fn search_roles(&self, filter: &RoleFilter, paging: &Paging) -> SimResult<PagedResult<Role>> {
        let held_by_user = match filter.user_id {
            Some(user) => {
                self.get_user(user)?;
                Some(self.effective_roles_of_user(user))
            }
            None => None,
        };
        let held_by_group: Option<BTreeSet<i64>> = match filter.group_id {
            Some(group) => {
                self.group(group).ok_or(SimError::NotFound(Thing::Group, group))?;
                Some(self.roles_of_group(group).collect())
            }
            None => None,
        };
        let roles = self.roles.values().filter(|r| {
            (filter.include_inactive || r.enabled)
                && held_by_user.as_ref().is_none_or(|held| held.contains(&r.id))
                && held_by_group.as_ref().is_none_or(|held| held.contains(&r.id))
        });
        let (window, total) = paging.select(roles, "id", |field, r| match field {
            "name" => SortKey::text(&r.name),
            _ => r.id.into(),
        });
        Ok(paging.envelope(window.into_iter().cloned().collect(), total))
    }

    fn role_summaries(&self, ids: impl Iterator<Item = i64>, paging: &Paging) -> PagedResult<RoleSummary> {
        let roles = ids.filter_map(|id| self.role(id));
        let (window, total) = paging.select(roles, "roleId", |field, r| match field {
            "name" => SortKey::text(&r.name),
            _ => r.id.into(),
        });
        let records = window.into_iter().map(|r| RoleSummary { role_id: r.id, name: r.name.clone() }).collect();
        paging.envelope(records, total)
    }

    /// `GET /users/{id}/roles`: the roles the user holds, directly or through a group.
    ///
    /// # Errors
    /// `API_UserNotFound`.
    pub fn search_user_roles(&self, user_id: i64, paging: &Paging) -> SimResult<PagedResult<RoleSummary>> {
        self.get_user(user_id)?;
        Ok(self.role_summaries(self.effective_roles_of_user(user_id).into_iter(), paging))
    }

    /// `GET /users/{userId}/roles-assigned`: each role the user holds, whether directly, and the
    /// groups of the user that hold it.
    ///
    /// # Errors
    /// `API_UserNotFound`.
    pub fn search_user_roles_assigned(&self, user_id: i64, paging: &Paging) -> SimResult<PagedResult<UserRoleSummary>> {
        self.get_user(user_id)?;
        let held = self.effective_roles_of_user(user_id);
        let roles = held.iter().filter_map(|id| self.role(*id));
        let (window, total) = paging.select(roles, "roleId", |field, r| match field {
            "name" => SortKey::text(&r.name),
            _ => r.id.into(),
        });
        let records = window
            .into_iter()
            .map(|role| UserRoleSummary {
                role_id: role.id,
                role_name: role.name.clone(),
                is_direct_assignment: self.user_roles.get(&user_id).is_some_and(|r| r.contains(&role.id)),
                groups: self
                    .groups_of(user_id)
                    .filter(|g| self.group_roles.get(g).is_some_and(|r| r.contains(&role.id)))
                    .filter_map(|g| self.group(g))
                    .map(|g| GroupAssignedRole { group_id: g.id, group_name: g.name.clone() })
                    .collect(),
            })
            .collect();
        Ok(paging.envelope(records, total))
    }

    /// `GET /groups/{id}/roles`.
    ///
    /// # Errors
    /// `API_GroupNotFound`.
    pub fn search_group_roles(&self, group_id: i64, paging: &Paging) -> SimResult<PagedResult<RoleSummary>> {
        self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        Ok(self.role_summaries(self.roles_of_group(group_id), paging))
    }

    /// `GET /roles/{id}/groups`: the groups that hold the role, then (as Secret Server keeps a
    /// role assigned to a user on that user's personal group) one personal group per user holding
    /// it directly, named after the user, `personal: true`. The emulator has no other personal
    /// groups: their ids are [`PERSONAL_GROUP_IDS`] + the user's id, found nowhere else.
    ///
    /// # Errors
    /// `API_RoleNotFound`.
    pub fn search_role_groups(
        &self,
        role_id: i64,
        filter: GroupMembershipFilter,
        paging: &Paging,
    ) -> SimResult<RoleGroupPage> {
        self.get_role(role_id)?;
        let mut groups: Vec<RoleGroupSummary> = self
            .group_roles
            .iter()
            .filter(|(_, roles)| roles.contains(&role_id))
            .filter_map(|(group, _)| self.group(*group))
            .map(|g| RoleGroupSummary {
                group_id: g.id,
                name: g.name.clone(),
                display_name: Some(g.name.clone()),
                domain_name: self.domain_name(g.domain_id),
                enabled: g.enabled,
                personal: false,
                created: g.created.clone(),
            })
            .collect();
        groups.sort_unstable_by_key(|g| g.group_id);
        let mut personal: Vec<RoleGroupSummary> = self
            .user_roles
            .iter()
            .filter(|(_, roles)| roles.contains(&role_id))
            .filter_map(|(user, _)| self.user(*user))
            .map(|u| RoleGroupSummary {
                group_id: PERSONAL_GROUP_IDS + u.id,
                name: u.user_name.clone(),
                display_name: Some(u.display_name.clone()),
                domain_name: self.domain_name(u.domain_id),
                enabled: u.enabled,
                personal: true,
                created: u.created.clone(),
            })
            .collect();
        personal.sort_unstable_by_key(|g| g.group_id);
        groups.extend(personal);
        let (window, total) = paging.select(groups.into_iter(), "groupId", |field, g| match field {
            "name" => SortKey::text(&g.name),
            _ => g.group_id.into(),
        });
        Ok(RoleGroupPage { page: paging.envelope(window, total), filter })
    }

    fn check_roles(&self, role_ids: &[i64]) -> SimResult<()> {
        for id in role_ids {
            self.get_role(*id)?;
        }
        Ok(())
    }

    /// Plans `POST /users/{id}/roles`: roles the user already holds directly stay as they are.
    ///
    /// # Errors
    /// `API_UserNotFound`, `API_RoleNotFound`.
    pub fn plan_add_user_roles(&self, user_id: i64, role_ids: &[i64]) -> SimResult<Vec<Change>> {
        self.get_user(user_id)?;
        self.check_roles(role_ids)?;
        let held: BTreeSet<i64> = self.direct_roles_of_user(user_id).collect();
        let wanted: BTreeSet<i64> = role_ids.iter().copied().filter(|r| !held.contains(r)).collect();
        Ok(wanted.into_iter().map(|role_id| Change::AddUserRole { user_id, role_id }).collect())
    }

    /// Plans `DELETE /users/{id}/roles`: roles the user does not hold directly are ignored.
    ///
    /// # Errors
    /// `API_UserNotFound`, `API_RoleNotFound`, the API account giving up its own Administrator role.
    pub fn plan_remove_user_roles(&self, user_id: i64, role_ids: &[i64], caller_id: i64) -> SimResult<Vec<Change>> {
        self.get_user(user_id)?;
        self.check_roles(role_ids)?;
        if user_id == caller_id && role_ids.contains(&ADMINISTRATOR_ROLE_ID) {
            return Err(cannot_demote_self());
        }
        let held: BTreeSet<i64> = self.direct_roles_of_user(user_id).collect();
        let gone: BTreeSet<i64> = role_ids.iter().copied().filter(|r| held.contains(r)).collect();
        Ok(gone.into_iter().map(|role_id| Change::RemoveUserRole { user_id, role_id }).collect())
    }

    /// Plans `PUT /users/{id}/roles`: the user's direct roles become exactly these.
    ///
    /// # Errors
    /// As [`Store::plan_add_user_roles`] and [`Store::plan_remove_user_roles`].
    pub fn plan_replace_user_roles(&self, user_id: i64, role_ids: &[i64], caller_id: i64) -> SimResult<Vec<Change>> {
        self.get_user(user_id)?;
        self.check_roles(role_ids)?;
        let held: BTreeSet<i64> = self.direct_roles_of_user(user_id).collect();
        let wanted: BTreeSet<i64> = role_ids.iter().copied().collect();
        if user_id == caller_id && held.contains(&ADMINISTRATOR_ROLE_ID) && !wanted.contains(&ADMINISTRATOR_ROLE_ID) {
            return Err(cannot_demote_self());
        }
        let mut changes: Vec<Change> =
            held.difference(&wanted).map(|role_id| Change::RemoveUserRole { user_id, role_id: *role_id }).collect();
        changes.extend(wanted.difference(&held).map(|role_id| Change::AddUserRole { user_id, role_id: *role_id }));
        Ok(changes)
    }

    /// Plans `POST /groups/{id}/roles`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_RoleNotFound`.
    pub fn plan_add_group_roles(&self, group_id: i64, role_ids: &[i64]) -> SimResult<Vec<Change>> {
        self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        self.check_roles(role_ids)?;
        let held: BTreeSet<i64> = self.roles_of_group(group_id).collect();
        let wanted: BTreeSet<i64> = role_ids.iter().copied().filter(|r| !held.contains(r)).collect();
        Ok(wanted.into_iter().map(|role_id| Change::AddGroupRole { group_id, role_id }).collect())
    }

    /// Plans `DELETE /groups/{id}/roles`: roles the group does not hold are ignored.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_RoleNotFound`.
    pub fn plan_remove_group_roles(&self, group_id: i64, role_ids: &[i64]) -> SimResult<Vec<Change>> {
        self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        self.check_roles(role_ids)?;
        let held: BTreeSet<i64> = self.roles_of_group(group_id).collect();
        let gone: BTreeSet<i64> = role_ids.iter().copied().filter(|r| held.contains(r)).collect();
        Ok(gone.into_iter().map(|role_id| Change::RemoveGroupRole { group_id, role_id }).collect())
    }

    /// Plans `PUT /v2/groups/{id}/roles`: the group's roles become exactly these.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_RoleNotFound`.
    pub fn plan_replace_group_roles(&self, group_id: i64, role_ids: &[i64]) -> SimResult<Vec<Change>> {
        self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        self.check_roles(role_ids)?;
        let held: BTreeSet<i64> = self.roles_of_group(group_id).collect();
        let wanted: BTreeSet<i64> = role_ids.iter().copied().collect();
        let mut changes: Vec<Change> =
            held.difference(&wanted).map(|role_id| Change::RemoveGroupRole { group_id, role_id: *role_id }).collect();
        changes.extend(wanted.difference(&held).map(|role_id| Change::AddGroupRole { group_id, role_id: *role_id }));
        Ok(changes)
    }

    pub(super) fn put_role(&mut self, role: Role) {
        self.roles.insert(role.id, role);
    }

    pub(super) fn add_user_role(&mut self, user_id: i64, role_id: i64) {
        if self.users.contains_key(&user_id) && self.roles.contains_key(&role_id) {
            self.user_roles.entry(user_id).or_default().insert(role_id);
        }
    }

    pub(super) fn remove_user_role(&mut self, user_id: i64, role_id: i64) {
        if let Some(roles) = self.user_roles.get_mut(&user_id) {
            roles.remove(&role_id);
            if roles.is_empty() {
                self.user_roles.remove(&user_id);
            }
        }
    }

    pub(super) fn add_group_role(&mut self, group_id: i64, role_id: i64) {
        if self.groups.contains_key(&group_id) && self.roles.contains_key(&role_id) {
            self.group_roles.entry(group_id).or_default().insert(role_id);
        }
    }

    pub(super) fn remove_group_role(&mut self, group_id: i64, role_id: i64) {
        if let Some(roles) = self.group_roles.get_mut(&group_id) {
            roles.remove(&role_id);
            if roles.is_empty() {
                self.group_roles.remove(&group_id);
            }
        }
    }
}

/// The API account may not take the Administrator role from itself (it would lock itself out).
fn cannot_demote_self() -> SimError {
    SimError::rule("API_CannotRemoveOwnAdministratorRole", "You cannot remove the Administrator role from yourself.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::search::Paging;
    use secret_server_api::{Group, User};

    fn store() -> Store {
        let mut store = Store::new();
        for change in missing_built_in_roles(&store, "2026-01-01T00:00:00Z") {
            store.apply(change);
        }
        for (id, name) in [(1, "api"), (2, "alice"), (3, "bob")] {
            store.apply(Change::PutUser(User {
                id,
                user_name: name.into(),
                enabled: true,
                domain_id: -1,
                ..User::default()
            }));
        }
        store.apply(Change::PutGroup(Group { id: 7, name: "Vault Admins".into(), enabled: true, ..Group::default() }));
        store.apply(Change::AddMember { group_id: 7, user_id: 3 });
        store.apply(Change::AddUserRole { user_id: 2, role_id: ADMINISTRATOR_ROLE_ID });
        store.apply(Change::AddGroupRole { group_id: 7, role_id: ADMINISTRATOR_ROLE_ID });
        store
    }

    fn all() -> Paging {
        Paging { skip: 0, take: 100, sort: None }
    }

    #[test]
    fn a_role_is_held_directly_or_through_a_group_and_roles_assigned_says_which() {
        let store = store();
        assert!(store.holds_role(2, ADMINISTRATOR_ROLE_ID) && store.holds_role(3, ADMINISTRATOR_ROLE_ID));
        assert!(!store.holds_role(1, ADMINISTRATOR_ROLE_ID));
        let direct = store.search_user_roles_assigned(2, &all()).unwrap().records;
        assert_eq!((direct[0].role_name.as_str(), direct[0].is_direct_assignment), (ADMINISTRATOR_ROLE, true));
        let through = store.search_user_roles_assigned(3, &all()).unwrap().records;
        assert!(!through[0].is_direct_assignment);
        assert_eq!(through[0].groups, vec![GroupAssignedRole { group_id: 7, group_name: "Vault Admins".into() }]);
        let filtered = RoleFilter { user_id: Some(3), ..RoleFilter::default() };
        assert_eq!(store.search_roles(&filtered, &all()).unwrap().records[0].id, ADMINISTRATOR_ROLE_ID);
    }

    #[test]
    fn deleting_a_group_takes_its_roles_with_it() {
        let mut store = store();
        store.apply(Change::DeleteGroup { id: 7 });
        assert!(!store.holds_role(3, ADMINISTRATOR_ROLE_ID));
        let holders = store.search_role_groups(ADMINISTRATOR_ROLE_ID, GroupMembershipFilter::default(), &all());
        let records = holders.unwrap().page.records;
        assert!(records.iter().all(|g| g.personal), "only users holding it directly are left: {records:?}");
    }

    #[test]
    fn an_unknown_role_is_refused_and_the_caller_cannot_demote_itself() {
        let store = store();
        assert!(matches!(store.plan_add_user_roles(1, &[99]), Err(SimError::NotFound(Thing::Role, 99))));
        assert!(store.plan_remove_user_roles(2, &[ADMINISTRATOR_ROLE_ID], 2).is_err());
        assert_eq!(store.plan_add_user_roles(2, &[ADMINISTRATOR_ROLE_ID]).unwrap(), Vec::new(), "already held");
    }
}
