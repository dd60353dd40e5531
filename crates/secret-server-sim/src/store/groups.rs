//! Groups and membership.
//!
//! Rules: group names are unique per domain, case-insensitively; `domainId`
//! cannot change; deleting a group removes it with its memberships and the
//! folder and secret permissions granted to it; adding a member twice, removing
//! a non-member and adding an inactive user are `400`s; the members of an
//! Active Directory synchronized group are managed by the sync and cannot be
//! edited through the API (`API_CannotAddRemoveUsersFromDirectoryManagedGroups`,
//! as Secret Server answers). The Everyone group is a system group every user
//! is in without a stored membership: `GET /groups/{id}/users/{userId}` answers
//! the membership of any user, but member listings, member counts and a user's
//! group list leave it out (whether a vault lists every user there is not
//! settled: see docs/secret-server-assumptions.md); it cannot be renamed,
//! disabled or deleted, and its members cannot be edited.

use super::search::{Paging, SortKey};
use super::users::{normalize_domain, user_inactive};
use super::{Change, LOCAL_DOMAIN_ID, Store, now_iso};
use crate::error::{SimError, SimResult, Thing};
use secret_server_api::{
    DeleteResult, Group, GroupCreateArgs, GroupMembership, GroupPatchArgs, GroupSummary, GroupUpdateArgs, Lookup,
    PagedResult,
};

/// The fields `GET /groups` can sort by.
pub const GROUP_SORT: &[&str] = &["id", "name", "enabled", "domainId", "created", "memberCount"];

/// The filters of `GET /groups` and `GET /groups/lookup`.
#[derive(Debug, Clone, Default)]
pub struct GroupFilter {
    /// Lower-cased `filter.searchText`.
    pub search_text: Option<String>,
    pub include_inactive: bool,
    pub domain_id: Option<i64>,
}

/// The filters of `GET /groups/{id}/users`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemberFilter {
    /// `filter.includeInactiveUsersForGroup`: inactive members are left out unless true.
    pub include_inactive_users: bool,
    /// `filter.userDomainId`.
    pub user_domain_id: Option<i64>,
}

fn group_key(store: &Store) -> impl Fn(&str, &&Group) -> SortKey + '_ {
    move |field, g| match field {
        "name" => SortKey::text(&g.name),
        "enabled" => g.enabled.into(),
        "domainId" => g.domain_id.into(),
        "created" => SortKey::opt_text(g.created.as_deref()),
        "memberCount" => (store.member_count(g.id) as i64).into(),
        _ => g.id.into(),
    }
}

fn check_group_name(name: &str) -> SimResult<()> {
    if name.trim().is_empty() {
        return Err(SimError::invalid("name", "name is required."));
    }
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(SimError::invalid("name", "name must be at most 255 printable characters."));
    }
    Ok(())
}

impl Store {
    /// The group model as `GET /groups/{id}` shows it.
    pub fn render_group(&self, group: &Group) -> Group {
        Group {
            domain_name: self.domain_name(group.domain_id),
            is_editable: !group.system_group,
            can_edit_members: !group.synchronized && !group.system_group,
            ..group.clone()
        }
    }

    /// A `GET /groups` record.
    pub fn group_summary(&self, group: &Group) -> GroupSummary {
        GroupSummary {
            id: group.id,
            name: group.name.clone(),
            enabled: group.enabled,
            domain_id: group.domain_id,
            domain_name: self.domain_name(group.domain_id),
            created: group.created.clone(),
            member_count: self.member_count(group.id) as i64,
            synchronized: group.synchronized,
            synchronize_now: group.synchronize_now,
        }
    }

    /// The groups matching `filter`, in id order: from the trigram index's candidates when the
    /// search text is long enough (see [`Store::groups_among`]).
    fn matching_groups<'a>(&'a self, filter: &'a GroupFilter) -> Box<dyn Iterator<Item = &'a Group> + 'a> {
        let candidates = filter.search_text.as_deref().and_then(|text| self.group_text.candidates(text));
        self.groups_among(filter, candidates)
    }

    /// The groups matching `filter`, in id order, among `candidates` (ascending ids, a superset
    /// of the matches), or by a scan of every group when `None`: the scan is the reference the
    /// index's answers are tested against.
    pub(crate) fn groups_among<'a>(
        &'a self,
        filter: &'a GroupFilter,
        candidates: Option<Vec<i64>>,
    ) -> Box<dyn Iterator<Item = &'a Group> + 'a> {
        let matching = move |g: &&Group| Self::group_matches(filter, g);
        match candidates {
            Some(ids) => Box::new(ids.into_iter().filter_map(|id| self.groups.get(&id)).filter(matching)),
            None => Box::new(self.groups.values().filter(matching)),
        }
    }

    fn group_matches(filter: &GroupFilter, g: &Group) -> bool {
        (filter.include_inactive || g.enabled)
            && filter.domain_id.is_none_or(|d| normalize_domain(Some(d)) == g.domain_id)
            && filter.search_text.as_deref().is_none_or(|t| g.name.to_lowercase().contains(t))
    }

    /// `GET /groups`.
    pub fn search_groups(&self, filter: &GroupFilter, paging: &Paging) -> PagedResult<GroupSummary> {
        let (window, total) = paging.select(self.matching_groups(filter), "id", group_key(self));
        paging.envelope(window.into_iter().map(|g| self.group_summary(g)).collect(), total)
    }

    /// `GET /groups/lookup`.
    pub fn lookup_groups(&self, filter: &GroupFilter, paging: &Paging) -> PagedResult<Lookup> {
        let (window, total) = paging.select(self.matching_groups(filter), "id", group_key(self));
        paging.envelope(window.into_iter().map(|g| Lookup { id: g.id, value: g.name.clone() }).collect(), total)
    }

    /// `GET /groups/{id}`.
    ///
    /// # Errors
    /// `API_GroupNotFound`.
    pub fn get_group(&self, id: i64) -> SimResult<Group> {
        self.group(id).map(|g| self.render_group(g)).ok_or(SimError::NotFound(Thing::Group, id))
    }

    fn check_unique_group_name(&self, domain_id: i64, name: &str, except: Option<i64>) -> SimResult<()> {
        match self.group_by_name(domain_id, name) {
            Some(existing) if Some(existing.id) != except => Err(SimError::rule(
                "API_DuplicateGroupName",
                format!("A group with the name '{}' already exists.", name.trim()),
            )),
            _ => Ok(()),
        }
    }

    /// Plans `POST /groups`.
    ///
    /// # Errors
    /// A missing or duplicate name, an unknown domain.
    pub fn plan_create_group(&self, args: GroupCreateArgs) -> SimResult<(Vec<Change>, i64)> {
        check_group_name(&args.name)?;
        let domain_id = normalize_domain(args.domain_id);
        if domain_id != LOCAL_DOMAIN_ID && !self.domains.contains_key(&domain_id) {
            return Err(SimError::NotFound(Thing::Domain, domain_id));
        }
        self.check_unique_group_name(domain_id, &args.name, None)?;
        let id = self.next.group;
        let group = Group {
            id,
            name: args.name.trim().to_owned(),
            enabled: args.enabled,
            domain_id,
            domain_name: None,
            ad_guid: args.ad_guid.filter(|g| !g.is_empty()),
            created: Some(now_iso()),
            synchronized: args.synchronized && domain_id != LOCAL_DOMAIN_ID,
            synchronize_now: false,
            system_group: false,
            is_editable: true,
            can_edit_members: true,
            has_group_owners: args.has_group_owners,
        };
        Ok((vec![Change::PutGroup(group)], id))
    }

    /// Plans `PUT /groups/{id}`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, a mismatched `id`, a changed `domainId`, a missing or duplicate name.
    pub fn plan_update_group(&self, id: i64, args: GroupUpdateArgs) -> SimResult<(Vec<Change>, i64)> {
        let current = self.changeable_group(id)?.clone();
        if args.id != 0 && args.id != id {
            return Err(SimError::invalid(
                "id",
                format!("The id in the body ({}) does not match the URL ({id}).", args.id),
            ));
        }
        if args.domain_id.is_some() && normalize_domain(args.domain_id) != current.domain_id {
            return Err(SimError::invalid("domainId", "domainId cannot be changed."));
        }
        check_group_name(&args.name)?;
        self.check_unique_group_name(current.domain_id, &args.name, Some(id))?;
        let group = Group {
            name: args.name.trim().to_owned(),
            enabled: args.enabled,
            synchronized: args.synchronized && current.domain_id != LOCAL_DOMAIN_ID,
            has_group_owners: args.has_group_owners,
            ..current
        };
        Ok((vec![Change::PutGroup(group)], id))
    }

    /// Plans `PATCH /groups/{id}`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, an empty or duplicate name.
    pub fn plan_patch_group(&self, id: i64, body: GroupPatchArgs) -> SimResult<(Vec<Change>, i64)> {
        let mut group = self.changeable_group(id)?.clone();
        if let Some(patch) = body.data.name.filter(|p| p.dirty) {
            check_group_name(&patch.value)?;
            self.check_unique_group_name(group.domain_id, &patch.value, Some(id))?;
            group.name = patch.value.trim().to_owned();
        }
        if let Some(patch) = body.data.enabled.filter(|p| p.dirty) {
            group.enabled = patch.value;
        }
        Ok((vec![Change::PutGroup(group)], id))
    }

    /// Plans `DELETE /groups/{id}`.
    ///
    /// # Errors
    /// `API_GroupNotFound`.
    pub fn plan_delete_group(&self, id: i64) -> SimResult<(Vec<Change>, DeleteResult)> {
        self.changeable_group(id)?;
        Ok((
            vec![Change::DeleteGroup { id }],
            DeleteResult { id, object_type: "Group".to_owned(), response_codes: Vec::new() },
        ))
    }

    /// `GET /groups/{id}/users`.
    ///
    /// # Errors
    /// `API_GroupNotFound`.
    pub fn search_group_members(
        &self,
        group_id: i64,
        filter: MemberFilter,
        paging: &Paging,
    ) -> SimResult<PagedResult<GroupMembership>> {
        self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        // The Everyone group's membership is implicit: checked one user at a time
        // (`get_membership`), never listed (see the module docs).
        let members = self.members_of(group_id).filter_map(|u| self.user(u)).filter(|u| {
            (filter.include_inactive_users || u.enabled)
                && filter.user_domain_id.is_none_or(|d| normalize_domain(Some(d)) == u.domain_id)
        });
        let (window, total) = paging.select(members, "id", |field, u| match field {
            "userName" => SortKey::text(&u.user_name),
            "displayName" => SortKey::text(&u.display_name),
            _ => u.id.into(),
        });
        let records = window.into_iter().filter_map(|u| self.membership(group_id, u.id)).collect();
        Ok(paging.envelope(records, total))
    }

    /// The group, when its members can be edited through the API.
    ///
    /// # Errors
    /// `API_GroupNotFound`; a directory-synchronized group
    /// (`API_CannotAddRemoveUsersFromDirectoryManagedGroups`, Secret Server's code); a system group.
    pub(crate) fn editable_group(&self, group_id: i64) -> SimResult<&Group> {
        let group = self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        if group.synchronized {
            return Err(SimError::rule(
                "API_CannotAddRemoveUsersFromDirectoryManagedGroups",
                format!("The members of group '{}' are synchronized from its directory.", group.name),
            ));
        }
        if group.system_group {
            return Err(SimError::rule(
                "API_CannotAddRemoveUsersFromSystemGroups",
                format!("Every user is a member of the system group '{}'.", group.name),
            ));
        }
        Ok(group)
    }

    /// The group, when it can be renamed, disabled or deleted (not a system group).
    fn changeable_group(&self, group_id: i64) -> SimResult<&Group> {
        let group = self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        if group.system_group {
            return Err(SimError::rule(
                "API_SystemGroupNotEditable",
                format!("The system group '{}' cannot be changed or deleted.", group.name),
            ));
        }
        Ok(group)
    }

    /// Plans `POST /groups/{id}/users`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_UserNotFound`, an inactive user, a user who is already a member,
    /// a synchronized group.
    pub fn plan_add_member(&self, group_id: i64, user_id: i64) -> SimResult<Vec<Change>> {
        let group = self.editable_group(group_id)?;
        let user = self.user(user_id).ok_or(SimError::NotFound(Thing::User, user_id))?;
        if !user.enabled {
            return Err(user_inactive(&user.user_name));
        }
        if self.is_member(group_id, user_id) {
            return Err(SimError::rule(
                "API_UserAlreadyInGroup",
                format!("User '{}' is already a member of group '{}'.", user.user_name, group.name),
            ));
        }
        Ok(vec![Change::AddMember { group_id, user_id }])
    }

    /// Plans `PUT /groups/{id}/users`: the members become exactly `user_ids`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_UserNotFound`, an inactive user among those added, a synchronized group.
    pub fn plan_replace_members(&self, group_id: i64, user_ids: &[i64]) -> SimResult<Vec<Change>> {
        self.editable_group(group_id)?;
        let mut changes = Vec::new();
        let mut wanted = std::collections::BTreeSet::new();
        for user_id in user_ids {
            let user = self.user(*user_id).ok_or(SimError::NotFound(Thing::User, *user_id))?;
            if !wanted.insert(*user_id) || self.is_member(group_id, *user_id) {
                continue;
            }
            if !user.enabled {
                return Err(user_inactive(&user.user_name));
            }
            changes.push(Change::AddMember { group_id, user_id: *user_id });
        }
        changes.extend(
            self.members_of(group_id)
                .filter(|u| !wanted.contains(u))
                .map(|user_id| Change::RemoveMember { group_id, user_id }),
        );
        Ok(changes)
    }

    /// Plans `PATCH /groups/{id}/users`: adds `added` and removes `removed`, all or nothing. Each
    /// user is held to the rule of its one-at-a-time call: one to add must be an active user not
    /// yet in the group, one to remove must be in it (the first that is not fails the whole call).
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_UserNotFound`, an inactive user, `API_UserAlreadyInGroup`,
    /// `API_MembershipNotFound`, a user named twice, a synchronized group.
    pub fn plan_patch_members(&self, group_id: i64, added: &[i64], removed: &[i64]) -> SimResult<Vec<Change>> {
        self.editable_group(group_id)?;
        let mut named = std::collections::BTreeSet::new();
        let mut changes = Vec::with_capacity(added.len() + removed.len());
        for user_id in added {
            if !named.insert(*user_id) {
                return Err(SimError::invalid("addedUserIds", format!("user {user_id} is named twice.")));
            }
            changes.extend(self.plan_add_member(group_id, *user_id)?);
        }
        for user_id in removed {
            if !named.insert(*user_id) {
                return Err(SimError::invalid("removeUserIds", format!("user {user_id} is named twice.")));
            }
            changes.extend(self.plan_remove_member(group_id, *user_id)?.0);
        }
        Ok(changes)
    }

    /// `GET /groups/{id}/users/{userId}`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_UserNotFound`, `API_MembershipNotFound`.
    pub fn get_membership(&self, group_id: i64, user_id: i64) -> SimResult<GroupMembership> {
        self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
        self.user(user_id).ok_or(SimError::NotFound(Thing::User, user_id))?;
        if !self.in_group(group_id, user_id) {
            return Err(SimError::NotFound(Thing::Membership, user_id));
        }
        self.membership(group_id, user_id).ok_or(SimError::NotFound(Thing::Membership, user_id))
    }

    /// Plans `DELETE /groups/{id}/users/{userId}`.
    ///
    /// # Errors
    /// `API_GroupNotFound`, `API_UserNotFound`, `API_MembershipNotFound` (not a member), a synchronized group.
    pub fn plan_remove_member(&self, group_id: i64, user_id: i64) -> SimResult<(Vec<Change>, DeleteResult)> {
        self.editable_group(group_id)?;
        self.user(user_id).ok_or(SimError::NotFound(Thing::User, user_id))?;
        if !self.is_member(group_id, user_id) {
            return Err(SimError::NotFound(Thing::Membership, user_id));
        }
        Ok((
            vec![Change::RemoveMember { group_id, user_id }],
            DeleteResult { id: user_id, object_type: "GroupUser".to_owned(), response_codes: Vec::new() },
        ))
    }
}
