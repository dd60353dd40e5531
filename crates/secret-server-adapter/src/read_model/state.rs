//! One instance's records and their indexes. Every change goes through a `put_*` or `remove_*`
//! method here, which keeps the indexes in step; nothing else touches the maps mutably.

use super::index::{IntIndex, StrIndex, TimeIndex};
use super::records::{
    Attrs, FolderPermRec, FolderRec, GroupRec, GroupSs, Principal, RoleSs, SecretPermRec, SecretRec, UserRec,
};
use crate::meta::{IdSetDigest, MemberDigest};
use scim::ResourceKind;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The values of stored attributes that indexes need: `externalId` and the e-mail addresses.
#[derive(Debug, Default)]
pub(crate) struct AttrKeys {
    /// Every connection's (the filter, evaluated on the caller's rendering, keeps its own).
    pub external_ids: Vec<String>,
    pub emails: Vec<String>,
    /// The `userName`s connections asked for but Secret Server cannot take (see
    /// `UserNameChangePolicy::KeepSecretServerName`), every connection's.
    pub user_names: Vec<String>,
    /// The connection that created the user or group through the connector
    /// ([`crate::attributes::CREATED_BY`]).
    pub created_by: Option<String>,
}

impl AttrKeys {
    pub(crate) fn of(attrs: &Attrs) -> Self {
        let Some(text) = attrs else { return Self::default() };
        let Ok(Value::Object(map)) = serde_json::from_str::<Value>(text) else { return Self::default() };
        let mut external_ids: Vec<String> = crate::attributes::external_ids(&map).map(str::to_owned).collect();
        external_ids.sort_unstable();
        external_ids.dedup();
        let mut user_names: Vec<String> = crate::attributes::kept_user_names(&map).map(str::to_owned).collect();
        user_names.sort_unstable();
        user_names.dedup();
        let created_by = map.get(crate::attributes::CREATED_BY).and_then(Value::as_str).map(str::to_owned);
        let emails = map
            .get("emails")
            .and_then(Value::as_array)
            .map(|items| {
                items.iter().filter_map(|e| e.get("value").and_then(Value::as_str)).map(str::to_owned).collect()
            })
            .unwrap_or_default();
        Self { external_ids, emails, user_names, created_by }
    }
}

/// The secondary indexes of one instance.
#[derive(Debug, Clone)]
pub struct Indexes {
    pub user_name: StrIndex,
    pub user_display: StrIndex,
    pub user_email: StrIndex,
    pub user_external: StrIndex,
    pub group_display: StrIndex,
    pub group_external: StrIndex,
    pub folder_name: StrIndex,
    pub folder_external: StrIndex,
    pub folder_children: IntIndex,
    pub fperm_by_folder: IntIndex,
    pub fperm_by_user: IntIndex,
    pub fperm_by_group: IntIndex,
    pub secret_name: StrIndex,
    pub secrets_by_folder: IntIndex,
    pub sperm_by_secret: IntIndex,
    pub sperm_by_user: IntIndex,
    pub sperm_by_group: IntIndex,
    pub modified: HashMap<ResourceKind, TimeIndex>,
}

impl Default for Indexes {
    fn default() -> Self {
        Self {
            // caseExact as the schemas say: userName, displayName, emails and names are not;
            // externalId is.
            user_name: StrIndex::new(false),
            user_display: StrIndex::new(false),
            user_email: StrIndex::new(false),
            user_external: StrIndex::new(true),
            group_display: StrIndex::new(false),
            group_external: StrIndex::new(true),
            folder_name: StrIndex::new(false),
            folder_external: StrIndex::new(true),
            folder_children: IntIndex::default(),
            fperm_by_folder: IntIndex::default(),
            fperm_by_user: IntIndex::default(),
            fperm_by_group: IntIndex::default(),
            secret_name: StrIndex::new(false),
            secrets_by_folder: IntIndex::default(),
            sperm_by_secret: IntIndex::default(),
            sperm_by_user: IntIndex::default(),
            sperm_by_group: IntIndex::default(),
            modified: ResourceKind::ALL.into_iter().map(|k| (k, TimeIndex::default())).collect(),
        }
    }
}

impl Indexes {
    fn modified_mut(&mut self, kind: ResourceKind) -> &mut TimeIndex {
        self.modified.entry(kind).or_default()
    }
}

/// Every record of one Secret Server instance.
#[derive(Debug, Clone, Default)]
pub struct State {
    pub users: BTreeMap<i64, UserRec>,
    pub groups: BTreeMap<i64, GroupRec>,
    pub folders: BTreeMap<i64, FolderRec>,
    pub folder_perms: BTreeMap<i64, FolderPermRec>,
    pub secrets: BTreeMap<i64, SecretRec>,
    pub secret_perms: BTreeMap<i64, SecretPermRec>,
    /// user id → the groups the user is a member of (sorted).
    pub user_groups: HashMap<i64, Vec<i64>>,
    /// user id → the connection that created it through the connector (from its stored attributes).
    pub user_creators: HashMap<i64, Box<str>>,
    /// group id → the connection that created it through the connector.
    pub group_creators: HashMap<i64, Box<str>>,
    /// Secret Server's roles, by id (what a User's `roles` name; `/Roles`).
    pub roles: BTreeMap<i64, RoleSs>,
    /// group id → the digest of its members for its version, kept current by every change of
    /// membership or of a member's deletion (so that a change does not rehash the whole group).
    member_digests: HashMap<i64, MemberDigest>,
    pub idx: Indexes,
}

fn insert_sorted(list: &mut Vec<i64>, id: i64) -> bool {
    match list.binary_search(&id) {
        Ok(_) => false,
        Err(at) => {
            list.insert(at, id);
            true
        }
    }
}

fn remove_sorted(list: &mut Vec<i64>, id: i64) -> bool {
    match list.binary_search(&id) {
        Ok(at) => {
            list.remove(at);
            true
        }
        Err(_) => false,
    }
}

impl State {
    /// Records per resource type.
    pub fn counts(&self) -> [(ResourceKind, usize); 6] {
        [
            (ResourceKind::User, self.users.len()),
            (ResourceKind::Group, self.groups.len()),
            (ResourceKind::Container, self.folders.len()),
            (ResourceKind::ContainerPermission, self.folder_perms.len()),
            (ResourceKind::PrivilegedData, self.secrets.len()),
            (ResourceKind::PrivilegedDataPermission, self.secret_perms.len()),
        ]
    }

    /// Gives back the spare capacity membership lists grew while they were filled one id at a
    /// time (after a load, about a third of their memory).
    pub fn compact(&mut self) {
        for list in self.user_groups.values_mut() {
            list.shrink_to_fit();
        }
        self.user_groups.shrink_to_fit();
        for group in self.groups.values_mut() {
            group.members.shrink_to_fit();
        }
    }

    /// Memberships in all groups.
    pub fn membership_count(&self) -> usize {
        self.groups.values().map(|g| g.members.len()).sum()
    }

    // ----- users -----

    fn unindex_user(&mut self, rec: &UserRec) {
        let id = rec.ss.id;
        self.idx.user_name.remove(&rec.ss.user_name, id);
        self.idx.user_display.remove(&rec.ss.display_name, id);
        if let Some(email) = &rec.ss.email {
            self.idx.user_email.remove(email, id);
        }
        let keys = AttrKeys::of(&rec.attrs);
        for ext in keys.external_ids {
            self.idx.user_external.remove(&ext, id);
        }
        for email in keys.emails {
            self.idx.user_email.remove(&email, id);
        }
        for name in keys.user_names {
            self.idx.user_name.remove(&name, id);
        }
        self.user_creators.remove(&id);
        self.idx.modified_mut(ResourceKind::User).remove(rec.meta.modified, id);
    }

    fn index_user(&mut self, rec: &UserRec) {
        let id = rec.ss.id;
        self.idx.user_name.insert(&rec.ss.user_name, id);
        self.idx.user_display.insert(&rec.ss.display_name, id);
        if let Some(email) = &rec.ss.email {
            self.idx.user_email.insert(email, id);
        }
        let keys = AttrKeys::of(&rec.attrs);
        for ext in keys.external_ids {
            self.idx.user_external.insert(&ext, id);
        }
        for email in keys.emails {
            self.idx.user_email.insert(&email, id);
        }
        for name in keys.user_names {
            self.idx.user_name.insert(&name, id);
        }
        if let Some(creator) = keys.created_by {
            self.user_creators.insert(id, creator.into_boxed_str());
        }
        self.idx.modified_mut(ResourceKind::User).insert(rec.meta.modified, id);
    }

    /// Inserts or replaces a user.
    pub fn put_user(&mut self, mut rec: UserRec) {
        if rec.ss.domain_name.is_none() && rec.ss.domain_id > 0 {
            rec.ss.domain_name = self.domain_name(rec.ss.id, rec.ss.domain_id, true);
        }
        let id = rec.ss.id;
        let was_deleted = match self.users.remove(&id) {
            Some(old) => {
                self.unindex_user(&old);
                old.deleted
            }
            None => false,
        };
        if was_deleted != rec.deleted {
            // The groups it is in hide or show it again: their versions follow.
            for g in self.user_groups.get(&id).map(Vec::as_slice).unwrap_or(&[]) {
                let digest = self.member_digests.entry(*g).or_default();
                if rec.deleted { digest.deleted.insert(id) } else { digest.deleted.remove(id) }
            }
        }
        self.index_user(&rec);
        self.users.insert(id, rec);
    }

    /// Removes a user (and its memberships).
    pub fn remove_user(&mut self, id: i64) -> Option<UserRec> {
        let old = self.users.remove(&id)?;
        self.unindex_user(&old);
        if let Some(groups) = self.user_groups.remove(&id) {
            for g in groups {
                if let Some(group) = self.groups.get_mut(&g) {
                    remove_sorted(&mut group.members, id);
                }
                let digest = self.member_digests.entry(g).or_default();
                digest.members.remove(id);
                if old.deleted {
                    digest.deleted.remove(id);
                }
            }
        }
        Some(old)
    }

    /// What group `id`'s version takes of its members.
    pub fn member_digest(&self, id: i64) -> MemberDigest {
        self.member_digests.get(&id).copied().unwrap_or_default()
    }

    fn is_deleted(&self, user: i64) -> bool {
        self.users.get(&user).is_some_and(|u| u.deleted)
    }

    /// The user whose Secret Server user name is `name` (case-insensitively), in any domain
    /// preferring the local one.
    pub fn user_by_ss_name(&self, name: &str) -> Option<&UserRec> {
        let mut found: Vec<&UserRec> = self
            .idx
            .user_name
            .get(name)
            .into_iter()
            .filter_map(|id| self.users.get(&id))
            .filter(|u| crate::text::fold(&u.ss.user_name) == crate::text::fold(name))
            .collect();
        found.sort_by_key(|u| (u.ss.domain_id != secret_server_local_domain(), u.ss.id));
        found.into_iter().next()
    }

    // ----- groups -----

    fn unindex_group(&mut self, rec: &GroupRec) {
        let id = rec.ss.id;
        self.idx.group_display.remove(&rec.ss.name, id);
        for ext in AttrKeys::of(&rec.attrs).external_ids {
            self.idx.group_external.remove(&ext, id);
        }
        self.group_creators.remove(&id);
        self.idx.modified_mut(ResourceKind::Group).remove(rec.meta.modified, id);
    }

    fn index_group(&mut self, rec: &GroupRec) {
        let id = rec.ss.id;
        self.idx.group_display.insert(&rec.ss.name, id);
        let keys = AttrKeys::of(&rec.attrs);
        for ext in &keys.external_ids {
            self.idx.group_external.insert(ext, id);
        }
        if let Some(creator) = keys.created_by {
            self.group_creators.insert(id, creator.into_boxed_str());
        }
        self.idx.modified_mut(ResourceKind::Group).insert(rec.meta.modified, id);
    }

    /// Inserts or replaces a group, members included (the reverse membership follows).
    pub fn put_group(&mut self, mut rec: GroupRec) {
        if rec.ss.domain_name.is_none() && rec.ss.domain_id > 0 {
            rec.ss.domain_name = self.domain_name(rec.ss.id, rec.ss.domain_id, false);
        }
        rec.members.sort_unstable();
        rec.members.dedup();
        let id = rec.ss.id;
        let old_members = match self.groups.remove(&id) {
            Some(old) => {
                self.unindex_group(&old);
                old.members
            }
            None => Vec::new(),
        };
        let same_members = old_members == rec.members && self.member_digests.contains_key(&id);
        if same_members {
            // The digest is current (every change of membership or of a member's deletion keeps
            // it so): hashing every member again is what a large group's change would cost.
            self.index_group(&rec);
            self.groups.insert(id, rec);
            return;
        }
        for user in &old_members {
            if rec.members.binary_search(user).is_err()
                && let Some(list) = self.user_groups.get_mut(user)
            {
                remove_sorted(list, id);
            }
        }
        for user in &rec.members {
            if old_members.binary_search(user).is_err() {
                insert_sorted(self.user_groups.entry(*user).or_default(), id);
            }
        }
        let digest = MemberDigest {
            members: IdSetDigest::of(rec.members.iter().copied()),
            deleted: IdSetDigest::of(rec.members.iter().copied().filter(|u| self.is_deleted(*u))),
        };
        self.member_digests.insert(id, digest);
        self.index_group(&rec);
        self.groups.insert(id, rec);
    }

    /// Sets the roles group `id` holds, in place (its members untouched, nothing walked); a group
    /// the read model does not have is left alone.
    pub fn set_group_roles(&mut self, id: i64, roles: Box<[i64]>) {
        if let Some(rec) = self.groups.get_mut(&id) {
            rec.ss.roles = roles;
        }
    }

    /// Changes a group in place: its Secret Server fields, its attributes when given, and its
    /// members by a delta (members already in, or already out, are skipped). The cost follows the
    /// size of the delta, not of the group: no copy of the member list, and the version's digest
    /// is updated one id at a time. A group the read model does not have yet starts empty.
    pub fn change_group(&mut self, ss: GroupSs, attrs: Option<Attrs>, added: &[i64], removed: &[i64]) {
        let id = ss.id;
        let mut rec = match self.groups.remove(&id) {
            Some(old) => {
                self.unindex_group(&old);
                old
            }
            None => {
                self.member_digests.insert(id, MemberDigest::default());
                GroupRec { ss: ss.clone(), members: Vec::new(), attrs: None, meta: super::records::Meta::default() }
            }
        };
        // A group's roles are written on their own (a read of the group does not carry them), and its
        // domain's name comes from the search records: both are kept.
        let (roles, domain_name) = (std::mem::take(&mut rec.ss.roles), rec.ss.domain_name.take());
        let domain_id = rec.ss.domain_id;
        rec.ss = ss;
        rec.ss.roles = roles;
        if rec.ss.domain_name.is_none() && rec.ss.domain_id > 0 {
            rec.ss.domain_name = domain_name
                .filter(|_| domain_id == rec.ss.domain_id)
                .or_else(|| self.domain_name(id, rec.ss.domain_id, false));
        }
        if let Some(attrs) = attrs {
            rec.attrs = attrs;
        }
        let mut digest = self.member_digest(id);
        for user in removed {
            if remove_sorted(&mut rec.members, *user) {
                if let Some(list) = self.user_groups.get_mut(user) {
                    remove_sorted(list, id);
                }
                digest.members.remove(*user);
                if self.is_deleted(*user) {
                    digest.deleted.remove(*user);
                }
            }
        }
        for user in added {
            if insert_sorted(&mut rec.members, *user) {
                insert_sorted(self.user_groups.entry(*user).or_default(), id);
                digest.members.insert(*user);
                if self.is_deleted(*user) {
                    digest.deleted.insert(*user);
                }
            }
        }
        self.member_digests.insert(id, digest);
        self.index_group(&rec);
        self.groups.insert(id, rec);
    }

    /// Removes a group (and its memberships).
    pub fn remove_group(&mut self, id: i64) -> Option<GroupRec> {
        let old = self.groups.remove(&id)?;
        self.member_digests.remove(&id);
        self.unindex_group(&old);
        for user in &old.members {
            if let Some(list) = self.user_groups.get_mut(user) {
                remove_sorted(list, id);
            }
        }
        Some(old)
    }

    /// The groups `user` is a member of.
    pub fn groups_of(&self, user: i64) -> &[i64] {
        self.user_groups.get(&user).map(Vec::as_slice).unwrap_or(&[])
    }

    /// The connection that created `principal` through the connector, if one did.
    pub fn creator(&self, principal: connections::scope::Principal) -> Option<&str> {
        match principal {
            connections::scope::Principal::User(id) => self.user_creators.get(&id).map(AsRef::as_ref),
            connections::scope::Principal::Group(id) => self.group_creators.get(&id).map(AsRef::as_ref),
        }
    }

    /// The group named `name`, case-insensitively.
    pub fn group_by_name(&self, name: &str) -> Option<&GroupRec> {
        self.idx
            .group_display
            .get(name)
            .into_iter()
            .filter_map(|id| self.groups.get(&id))
            .find(|g| crate::text::fold(&g.ss.name) == crate::text::fold(name))
    }

    // ----- folders -----

    fn unindex_folder(&mut self, rec: &FolderRec) {
        let id = rec.ss.id;
        self.idx.folder_name.remove(&rec.ss.name, id);
        self.idx.folder_children.remove(rec.ss.parent, id);
        for ext in AttrKeys::of(&rec.attrs).external_ids {
            self.idx.folder_external.remove(&ext, id);
        }
        self.idx.modified_mut(ResourceKind::Container).remove(rec.meta.modified, id);
    }

    fn index_folder(&mut self, rec: &FolderRec) {
        let id = rec.ss.id;
        self.idx.folder_name.insert(&rec.ss.name, id);
        self.idx.folder_children.insert(rec.ss.parent, id);
        for ext in AttrKeys::of(&rec.attrs).external_ids {
            self.idx.folder_external.insert(&ext, id);
        }
        self.idx.modified_mut(ResourceKind::Container).insert(rec.meta.modified, id);
    }

    /// Inserts or replaces a folder.
    pub fn put_folder(&mut self, rec: FolderRec) {
        if let Some(old) = self.folders.remove(&rec.ss.id) {
            self.unindex_folder(&old);
        }
        self.index_folder(&rec);
        self.folders.insert(rec.ss.id, rec);
    }

    /// Removes a folder (its permissions stay until removed too).
    pub fn remove_folder(&mut self, id: i64) -> Option<FolderRec> {
        let old = self.folders.remove(&id)?;
        self.unindex_folder(&old);
        Some(old)
    }

    /// The folder named `name` directly under `parent`, case-insensitively.
    pub fn child_folder_by_name(&self, parent: i64, name: &str) -> Option<&FolderRec> {
        self.idx
            .folder_children
            .iter_key(parent)
            .filter_map(|id| self.folders.get(&id))
            .find(|f| crate::text::fold(&f.ss.name) == crate::text::fold(name.trim()))
    }

    // ----- folder permissions -----

    fn unindex_fperm(&mut self, rec: &FolderPermRec) {
        let id = rec.ss.id;
        self.idx.fperm_by_folder.remove(rec.ss.folder, id);
        match rec.ss.principal {
            Principal::User(u) => self.idx.fperm_by_user.remove(u, id),
            Principal::Group(g) => self.idx.fperm_by_group.remove(g, id),
        }
        self.idx.modified_mut(ResourceKind::ContainerPermission).remove(rec.meta.modified, id);
    }

    fn index_fperm(&mut self, rec: &FolderPermRec) {
        let id = rec.ss.id;
        self.idx.fperm_by_folder.insert(rec.ss.folder, id);
        match rec.ss.principal {
            Principal::User(u) => self.idx.fperm_by_user.insert(u, id),
            Principal::Group(g) => self.idx.fperm_by_group.insert(g, id),
        }
        self.idx.modified_mut(ResourceKind::ContainerPermission).insert(rec.meta.modified, id);
    }

    /// Inserts or replaces a folder permission.
    pub fn put_folder_perm(&mut self, rec: FolderPermRec) {
        if let Some(old) = self.folder_perms.remove(&rec.ss.id) {
            self.unindex_fperm(&old);
        }
        self.index_fperm(&rec);
        self.folder_perms.insert(rec.ss.id, rec);
    }

    /// Removes a folder permission.
    pub fn remove_folder_perm(&mut self, id: i64) -> Option<FolderPermRec> {
        let old = self.folder_perms.remove(&id)?;
        self.unindex_fperm(&old);
        Some(old)
    }

    /// The permission `principal` has on `folder`, if any.
    pub fn folder_perm_of(&self, folder: i64, principal: Principal) -> Option<&FolderPermRec> {
        self.idx
            .fperm_by_folder
            .iter_key(folder)
            .filter_map(|id| self.folder_perms.get(&id))
            .find(|p| p.ss.principal == principal)
    }

    // ----- secrets -----

    fn unindex_secret(&mut self, rec: &SecretRec) {
        let id = rec.ss.id;
        self.idx.secret_name.remove(&rec.ss.name, id);
        self.idx.secrets_by_folder.remove(rec.ss.folder, id);
        self.idx.modified_mut(ResourceKind::PrivilegedData).remove(rec.meta.modified, id);
    }

    fn index_secret(&mut self, rec: &SecretRec) {
        let id = rec.ss.id;
        self.idx.secret_name.insert(&rec.ss.name, id);
        self.idx.secrets_by_folder.insert(rec.ss.folder, id);
        self.idx.modified_mut(ResourceKind::PrivilegedData).insert(rec.meta.modified, id);
    }

    /// Inserts or replaces a secret's metadata.
    pub fn put_secret(&mut self, rec: SecretRec) {
        if let Some(old) = self.secrets.remove(&rec.ss.id) {
            self.unindex_secret(&old);
        }
        self.index_secret(&rec);
        self.secrets.insert(rec.ss.id, rec);
    }

    /// Removes a secret.
    pub fn remove_secret(&mut self, id: i64) -> Option<SecretRec> {
        let old = self.secrets.remove(&id)?;
        self.unindex_secret(&old);
        Some(old)
    }

    /// The secrets directly in `folder`, by id.
    pub fn secrets_in(&self, folder: i64) -> Vec<i64> {
        let mut ids = self.idx.secrets_by_folder.get(folder);
        ids.sort_unstable();
        ids
    }

    // ----- secret permissions -----

    fn unindex_sperm(&mut self, rec: &SecretPermRec) {
        let id = rec.ss.id;
        self.idx.sperm_by_secret.remove(rec.ss.secret, id);
        match rec.ss.principal {
            Principal::User(u) => self.idx.sperm_by_user.remove(u, id),
            Principal::Group(g) => self.idx.sperm_by_group.remove(g, id),
        }
        self.idx.modified_mut(ResourceKind::PrivilegedDataPermission).remove(rec.meta.modified, id);
    }

    fn index_sperm(&mut self, rec: &SecretPermRec) {
        let id = rec.ss.id;
        self.idx.sperm_by_secret.insert(rec.ss.secret, id);
        match rec.ss.principal {
            Principal::User(u) => self.idx.sperm_by_user.insert(u, id),
            Principal::Group(g) => self.idx.sperm_by_group.insert(g, id),
        }
        self.idx.modified_mut(ResourceKind::PrivilegedDataPermission).insert(rec.meta.modified, id);
    }

    /// Inserts or replaces a secret permission.
    pub fn put_secret_perm(&mut self, rec: SecretPermRec) {
        if let Some(old) = self.secret_perms.remove(&rec.ss.id) {
            self.unindex_sperm(&old);
        }
        self.index_sperm(&rec);
        self.secret_perms.insert(rec.ss.id, rec);
    }

    /// Removes a secret permission.
    pub fn remove_secret_perm(&mut self, id: i64) -> Option<SecretPermRec> {
        let old = self.secret_perms.remove(&id)?;
        self.unindex_sperm(&old);
        Some(old)
    }

    /// The permission `principal` has on `secret`, if any.
    pub fn secret_perm_of(&self, secret: i64, principal: Principal) -> Option<&SecretPermRec> {
        self.idx
            .sperm_by_secret
            .iter_key(secret)
            .filter_map(|id| self.secret_perms.get(&id))
            .find(|p| p.ss.principal == principal)
    }

    /// The name of directory domain `domain_id` as the read model knows it: Secret Server's user
    /// model has no domain name (its search records do), so a user read by id keeps the name its
    /// record had, or takes the one another user or group of the domain shows.
    fn domain_name(&self, id: i64, domain_id: i64, user: bool) -> Option<Box<str>> {
        let own = if user {
            self.users.get(&id).filter(|u| u.ss.domain_id == domain_id).and_then(|u| u.ss.domain_name.clone())
        } else {
            self.groups.get(&id).filter(|g| g.ss.domain_id == domain_id).and_then(|g| g.ss.domain_name.clone())
        };
        own.or_else(|| self.users.values().find(|u| u.ss.domain_id == domain_id).and_then(|u| u.ss.domain_name.clone()))
            .or_else(|| {
                self.groups.values().find(|g| g.ss.domain_id == domain_id).and_then(|g| g.ss.domain_name.clone())
            })
    }

    /// The id of the directory domain called `name` (case-insensitive), as the read model knows
    /// it from the users and groups it holds (Secret Server's published API lists no domains).
    pub fn domain_id_by_name(&self, name: &str) -> Option<i64> {
        let named = |domain: &Option<Box<str>>| domain.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(name.trim()));
        self.users.values().find(|u| u.ss.domain_id > 0 && named(&u.ss.domain_name)).map(|u| u.ss.domain_id).or_else(
            || self.groups.values().find(|g| g.ss.domain_id > 0 && named(&g.ss.domain_name)).map(|g| g.ss.domain_id),
        )
    }

    /// The ids of every record of `kind`, ascending.
    pub fn ids(&self, kind: ResourceKind) -> Vec<i64> {
        match kind {
            ResourceKind::User => self.users.keys().copied().collect(),
            ResourceKind::Group => self.groups.keys().copied().collect(),
            ResourceKind::Container => self.folders.keys().copied().collect(),
            ResourceKind::ContainerPermission => self.folder_perms.keys().copied().collect(),
            ResourceKind::PrivilegedData => self.secrets.keys().copied().collect(),
            ResourceKind::PrivilegedDataPermission => self.secret_perms.keys().copied().collect(),
            ResourceKind::Role => self.roles.keys().copied().collect(),
        }
    }

    /// Replaces the meta of one record, keeping the `meta.lastModified` index in step.
    pub fn set_meta(&mut self, kind: ResourceKind, id: i64, meta: super::records::Meta) {
        let slot = match kind {
            ResourceKind::User => self.users.get_mut(&id).map(|r| &mut r.meta),
            ResourceKind::Group => self.groups.get_mut(&id).map(|r| &mut r.meta),
            ResourceKind::Container => self.folders.get_mut(&id).map(|r| &mut r.meta),
            ResourceKind::ContainerPermission => self.folder_perms.get_mut(&id).map(|r| &mut r.meta),
            ResourceKind::PrivilegedData => self.secrets.get_mut(&id).map(|r| &mut r.meta),
            ResourceKind::PrivilegedDataPermission => self.secret_perms.get_mut(&id).map(|r| &mut r.meta),
            // A role's meta is computed, never kept.
            ResourceKind::Role => None,
        };
        let Some(slot) = slot else { return };
        let old = std::mem::replace(slot, meta);
        let index = self.idx.modified_mut(kind);
        index.remove(old.modified, id);
        index.insert(meta.modified, id);
    }

    /// The meta of one record.
    pub fn meta(&self, kind: ResourceKind, id: i64) -> Option<super::records::Meta> {
        match kind {
            ResourceKind::User => self.users.get(&id).map(|r| r.meta),
            ResourceKind::Group => self.groups.get(&id).map(|r| r.meta),
            ResourceKind::Container => self.folders.get(&id).map(|r| r.meta),
            ResourceKind::ContainerPermission => self.folder_perms.get(&id).map(|r| r.meta),
            ResourceKind::PrivilegedData => self.secrets.get(&id).map(|r| r.meta),
            ResourceKind::PrivilegedDataPermission => self.secret_perms.get(&id).map(|r| r.meta),
            // No times: Secret Server keeps none for a role.
            ResourceKind::Role => self.roles.get(&id).map(|r| super::records::Meta {
                created: 0,
                modified: 0,
                version: crate::meta::role_version(r),
            }),
        }
    }
}

/// Secret Server's id for "no domain" (local users).
fn secret_server_local_domain() -> i64 {
    -1
}

#[cfg(test)]
mod tests {
    use super::super::records::{Meta, UserSs};
    use super::*;

    fn user(id: i64, name: &str) -> UserRec {
        UserRec {
            ss: UserSs::local(id, name),
            attrs: Some(format!(r#"{{"externalId":"ext-{id}"}}"#).into_boxed_str()),
            deleted: false,
            meta: Meta::default(),
        }
    }

    fn group(id: i64, members: Vec<i64>) -> GroupRec {
        GroupRec { ss: GroupSs::local(id, &format!("g{id}")), members, attrs: None, meta: Meta::default() }
    }

    #[test]
    fn replacing_a_user_moves_its_index_entries() {
        let mut state = State::default();
        state.put_user(user(1, "alice"));
        state.put_user(UserRec { attrs: None, ..user(1, "alicia") });
        assert!(state.idx.user_name.get("alice").is_empty());
        assert_eq!(state.idx.user_name.get("ALICIA"), vec![1]);
        assert!(state.idx.user_external.get("ext-1").is_empty());
    }

    #[test]
    fn group_members_keep_the_reverse_membership_in_step() {
        let mut state = State::default();
        state.put_group(group(7, vec![3, 1, 2, 2]));
        assert_eq!(state.groups[&7].members, vec![1, 2, 3]);
        assert_eq!(state.groups_of(2), &[7]);
        state.put_group(group(7, vec![1, 3]));
        assert!(state.groups_of(2).is_empty());
        state.put_user(user(3, "carol"));
        state.remove_user(3);
        assert_eq!(state.groups[&7].members, vec![1]);
        state.remove_group(7);
        assert!(state.groups_of(1).is_empty());
    }

    #[test]
    fn a_group_changed_in_place_equals_the_group_put_whole_members_index_and_digest_included() {
        let mut changed = State::default();
        let mut whole = State::default();
        for state in [&mut changed, &mut whole] {
            for id in 1..=5 {
                state.put_user(user(id, &format!("u{id}")));
            }
            state.put_user(UserRec { deleted: true, ..user(4, "u4") });
            state.put_group(group(10, vec![1, 2]));
        }
        changed.change_group(group(10, vec![]).ss, None, &[3, 4, 2], &[1, 9]);
        whole.put_group(group(10, vec![2, 3, 4]));
        assert_eq!(changed.groups[&10].members, vec![2, 3, 4]);
        assert_eq!(changed.member_digest(10), whole.member_digest(10));
        assert_eq!(changed.member_digest(10).deleted, IdSetDigest::of([4]), "user 4 is deleted");
        assert_eq!(changed.groups_of(1), &[] as &[i64]);
        assert_eq!(changed.groups_of(3), &[10]);
    }

    #[test]
    fn deleting_a_member_or_removing_it_keeps_its_groups_digests_current() {
        let mut state = State::default();
        for id in 1..=3 {
            state.put_user(user(id, &format!("u{id}")));
        }
        state.put_group(group(10, vec![1, 2, 3]));
        state.put_user(UserRec { deleted: true, ..user(2, "u2") });
        assert_eq!(state.member_digest(10).deleted, IdSetDigest::of([2]));
        state.remove_user(2);
        state.remove_user(3);
        assert_eq!(
            state.member_digest(10),
            MemberDigest { members: IdSetDigest::of([1]), deleted: IdSetDigest::default() }
        );
        state.put_group(group(10, vec![1]));
        assert_eq!(state.member_digest(10).members, IdSetDigest::of([1]), "a whole put agrees");
    }

    #[test]
    fn a_group_put_again_with_the_same_members_or_given_roles_keeps_members_index_and_digest() {
        let mut state = State::default();
        for id in 1..=3 {
            state.put_user(user(id, &format!("u{id}")));
        }
        state.put_user(UserRec { deleted: true, ..user(3, "u3") });
        state.put_group(group(10, vec![1, 3]));
        let digest = state.member_digest(10);
        state.set_group_roles(10, vec![5].into_boxed_slice());
        assert_eq!(&*state.groups[&10].ss.roles, &[5]);
        let renamed =
            GroupRec { ss: GroupSs { name: "renamed".into(), ..group(10, vec![]).ss }, ..group(10, vec![3, 1]) };
        state.put_group(renamed);
        assert_eq!((state.member_digest(10), state.groups_of(1)), (digest, &[10][..]));
        assert_eq!(state.idx.group_display.get("RENAMED"), vec![10]);
        assert!(state.idx.group_display.get("g10").is_empty());
        assert_eq!(digest, MemberDigest { members: IdSetDigest::of([1, 3]), deleted: IdSetDigest::of([3]) });
        state.set_group_roles(99, Box::default());
        assert!(!state.groups.contains_key(&99), "a group the read model lacks is left alone");
    }
}
