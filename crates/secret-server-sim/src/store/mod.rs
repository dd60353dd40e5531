//! The emulator's state: the objects, the indexes that make searches over
//! 100,000 users and 1,000,000 memberships fast, and [`Store::apply`], the one
//! function that changes them.
//!
//! Request handling is split in two steps. A *plan* function (in the modules
//! beside this one) reads the store, checks every rule and returns the
//! [`Change`]s to make; only then are they journaled and applied. Plans never
//! mutate, so a rejected request changes nothing, and replaying the journal
//! rebuilds exactly the state the live emulator held.

pub mod access;
mod change;
pub mod folders;
pub mod groups;
pub mod passwords;
pub mod permissions;
mod records;
#[cfg(test)]
mod replay_props;
pub mod roles;
pub mod search;
#[cfg(test)]
mod search_props;
pub mod secrets;
mod snapshot;
pub mod templates;
mod text_index;
pub mod users;

pub use access::Viewer;
pub use change::Change;
pub use records::{FolderPermRec, FolderRec, Principal, SecretPermRec};
pub use snapshot::{Snapshot, SnapshotRef};
use text_index::TextIndex;

use secret_server_api::{Group, ROOT_FOLDER_ID, Role, SecretSummary, User};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The domain id of local (non-Active Directory) users and groups.
pub const LOCAL_DOMAIN_ID: i64 = -1;
/// The name of Secret Server's built-in group that every user is in.
pub const EVERYONE: &str = "Everyone";
/// The name of the root folder holding the users' personal folders.
pub const PERSONAL_FOLDERS: &str = "Personal Folders";

/// The next id to hand out, per kind. Ids only grow: a deleted object's id is never reused,
/// because the counters are journaled with every creation and saved in snapshots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextIds {
    pub domain: i64,
    pub user: i64,
    pub group: i64,
    pub folder: i64,
    pub folder_permission: i64,
    pub secret: i64,
    pub secret_permission: i64,
}

impl Default for NextIds {
    fn default() -> Self {
        Self { domain: 1, user: 1, group: 1, folder: 1, folder_permission: 1, secret: 1, secret_permission: 1 }
    }
}

/// A user with its precomputed, lower-cased search text.
#[derive(Debug, Clone)]
pub struct UserEntry {
    pub user: User,
    /// `userName`, `displayName` and `emailAddress`, lower-cased, for `filter.searchText`.
    pub search_key: String,
}

/// A secret with its lower-cased name, for `filter.searchText`.
#[derive(Debug, Clone)]
pub struct SecretEntry {
    pub secret: SecretSummary,
    pub search_key: String,
}

/// All objects and their indexes.
#[derive(Debug, Default)]
pub struct Store {
    pub(crate) next: NextIds,
    pub(crate) domains: BTreeMap<i64, String>,
    pub(crate) users: BTreeMap<i64, UserEntry>,
    user_names: HashMap<(i64, String), i64>,
    /// (lower-cased user name, id), for `sortBy userName` without sorting.
    pub(crate) users_by_name: BTreeSet<(String, i64)>,
    /// Trigrams of each user's `search_key`, for `filter.searchText`.
    pub(crate) user_text: TextIndex,
    pub(crate) groups: BTreeMap<i64, Group>,
    group_names: HashMap<(i64, String), i64>,
    /// Trigrams of each group's lower-cased name, for `filter.searchText`.
    pub(crate) group_text: TextIndex,
    /// group id → member user ids.
    pub(crate) members: HashMap<i64, BTreeSet<i64>>,
    /// user id → group ids.
    pub(crate) user_groups: HashMap<i64, BTreeSet<i64>>,
    membership_count: usize,
    pub(crate) folders: BTreeMap<i64, FolderRec>,
    /// parent id (`-1` for the root) → child folder ids.
    pub(crate) children: HashMap<i64, BTreeSet<i64>>,
    /// (parent id, lower-cased name) → folder id: folder names are unique among siblings.
    folder_names: HashMap<(i64, String), i64>,
    /// Trigrams of each folder's lower-cased name, for `filter.searchText`.
    pub(crate) folder_text: TextIndex,
    pub(crate) folder_perms: BTreeMap<i64, FolderPermRec>,
    pub(crate) folder_perms_by_folder: HashMap<i64, BTreeSet<i64>>,
    pub(crate) folder_perms_by_principal: HashMap<Principal, BTreeSet<i64>>,
    pub(crate) secrets: BTreeMap<i64, SecretEntry>,
    pub(crate) secrets_by_folder: HashMap<i64, BTreeSet<i64>>,
    pub(crate) secret_perms: BTreeMap<i64, SecretPermRec>,
    pub(crate) secret_perms_by_secret: HashMap<i64, BTreeSet<i64>>,
    pub(crate) secret_perms_by_principal: HashMap<Principal, BTreeSet<i64>>,
    /// The roles, by id (the built-in ones).
    pub(crate) roles: BTreeMap<i64, Role>,
    /// user id → the role ids assigned to the user directly.
    pub(crate) user_roles: HashMap<i64, BTreeSet<i64>>,
    /// group id → the role ids assigned to the group.
    pub(crate) group_roles: HashMap<i64, BTreeSet<i64>>,
    /// The id of the Everyone group (a system group whose members are every user, never stored).
    everyone: Option<i64>,
    /// user id → the hash of the password the user signs in with (users without one cannot).
    pub(crate) passwords: BTreeMap<i64, passwords::PasswordHash>,
}

/// Counts of the objects held, for logs, progress and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Counts {
    pub users: usize,
    pub groups: usize,
    pub memberships: usize,
    pub folders: usize,
    pub folder_permissions: usize,
    pub secrets: usize,
    pub secret_permissions: usize,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many objects of each kind the store holds.
    pub fn counts(&self) -> Counts {
        Counts {
            users: self.users.len(),
            groups: self.groups.len(),
            memberships: self.membership_count,
            folders: self.folders.len(),
            folder_permissions: self.folder_perms.len(),
            secrets: self.secrets.len(),
            secret_permissions: self.secret_perms.len(),
        }
    }

    /// The id counters.
    pub fn next_ids(&self) -> NextIds {
        self.next
    }

    /// The user with this id, active or not.
    pub fn user(&self, id: i64) -> Option<&User> {
        self.users.get(&id).map(|e| &e.user)
    }

    /// The user with this name in this domain (case-insensitive).
    pub fn user_by_name(&self, domain_id: i64, user_name: &str) -> Option<&User> {
        self.user_names.get(&(domain_id, user_name.to_lowercase())).and_then(|id| self.user(*id))
    }

    /// The group with this id.
    pub fn group(&self, id: i64) -> Option<&Group> {
        self.groups.get(&id)
    }

    /// The id of the Everyone group, once it exists.
    pub fn everyone_group(&self) -> Option<i64> {
        self.everyone
    }

    /// The group with this name in this domain (case-insensitive).
    pub fn group_by_name(&self, domain_id: i64, name: &str) -> Option<&Group> {
        self.group_names.get(&(domain_id, name.to_lowercase())).and_then(|id| self.groups.get(id))
    }

    /// The folder with this id.
    pub fn folder(&self, id: i64) -> Option<&FolderRec> {
        self.folders.get(&id)
    }

    /// The child of `parent_id` named `name` (case-insensitive).
    pub fn child_folder_by_name(&self, parent_id: i64, name: &str) -> Option<&FolderRec> {
        self.folder_names.get(&(parent_id, name.to_lowercase())).and_then(|id| self.folders.get(id))
    }

    /// The secret with this id.
    pub fn secret(&self, id: i64) -> Option<&SecretSummary> {
        self.secrets.get(&id).map(|e| &e.secret)
    }

    /// The name of a domain; local objects have none.
    pub fn domain_name(&self, domain_id: i64) -> Option<String> {
        self.domains.get(&domain_id).cloned()
    }

    /// Whether `user_id` is a member of `group_id`.
    pub fn is_member(&self, group_id: i64, user_id: i64) -> bool {
        self.members.get(&group_id).is_some_and(|m| m.contains(&user_id))
    }

    /// The members of a group, in id order.
    pub fn members_of(&self, group_id: i64) -> impl Iterator<Item = i64> + '_ {
        self.members.get(&group_id).into_iter().flat_map(|m| m.iter().copied())
    }

    /// The number of members of a group.
    pub fn member_count(&self, group_id: i64) -> usize {
        self.members.get(&group_id).map_or(0, BTreeSet::len)
    }

    /// The groups of a user, in id order.
    pub fn groups_of(&self, user_id: i64) -> impl Iterator<Item = i64> + '_ {
        self.user_groups.get(&user_id).into_iter().flat_map(|g| g.iter().copied())
    }

    /// `\Parent\Child`: the folder's path computed from the tree.
    pub fn folder_path(&self, id: i64) -> String {
        let mut names = Vec::new();
        let mut current = Some(id);
        // The tree is acyclic by construction (moves under a descendant are refused); the bound
        // only guards against a corrupt seed.
        while let Some(folder) = current.and_then(|c| self.folders.get(&c)) {
            names.push(folder.folder_name.as_str());
            if names.len() > self.folders.len() {
                break;
            }
            current = (folder.parent_folder_id != ROOT_FOLDER_ID).then_some(folder.parent_folder_id);
        }
        let mut path = String::new();
        for name in names.iter().rev() {
            path.push('\\');
            path.push_str(name);
        }
        path
    }

    /// Whether `candidate` is `folder_id` or lies below it.
    pub fn is_same_or_descendant(&self, candidate: i64, folder_id: i64) -> bool {
        let mut current = candidate;
        let mut steps = 0;
        while current != ROOT_FOLDER_ID && steps <= self.folders.len() {
            if current == folder_id {
                return true;
            }
            current = self.folders.get(&current).map_or(ROOT_FOLDER_ID, |f| f.parent_folder_id);
            steps += 1;
        }
        false
    }

    /// The child folder ids of `parent_id` (`-1` for the root).
    pub fn child_folders(&self, parent_id: i64) -> impl Iterator<Item = i64> + '_ {
        self.children.get(&parent_id).into_iter().flat_map(|c| c.iter().copied())
    }

    /// The folder whose explicit permissions apply to `folder_id`: itself when it does not
    /// inherit, otherwise the nearest ancestor that does not. `None` when the chain reaches the
    /// root while still inheriting (no permissions apply).
    pub fn permission_source(&self, folder_id: i64) -> Option<i64> {
        let mut current = folder_id;
        let mut steps = 0;
        loop {
            let folder = self.folders.get(&current)?;
            if !folder.inherit_permissions {
                return Some(current);
            }
            if folder.parent_folder_id == ROOT_FOLDER_ID || steps > self.folders.len() {
                return None;
            }
            current = folder.parent_folder_id;
            steps += 1;
        }
    }

    /// The permissions stored on this folder itself.
    pub fn folder_permissions_on(&self, folder_id: i64) -> impl Iterator<Item = &FolderPermRec> + '_ {
        self.folder_perms_by_folder
            .get(&folder_id)
            .into_iter()
            .flat_map(|ids| ids.iter().filter_map(|id| self.folder_perms.get(id)))
    }

    /// The permissions that apply to this folder (its own, or its permission source's).
    pub fn effective_folder_permissions(&self, folder_id: i64) -> Vec<&FolderPermRec> {
        match self.permission_source(folder_id) {
            Some(source) => self.folder_permissions_on(source).collect(),
            None => Vec::new(),
        }
    }

    /// The permissions stored on this secret itself.
    pub fn secret_permissions_on(&self, secret_id: i64) -> impl Iterator<Item = &SecretPermRec> + '_ {
        self.secret_perms_by_secret
            .get(&secret_id)
            .into_iter()
            .flat_map(|ids| ids.iter().filter_map(|id| self.secret_perms.get(id)))
    }

    /// Apply one change. Changes come from plans that already checked every rule, or from the
    /// journal, so this never fails; a change naming a missing object is ignored.
    pub fn apply(&mut self, change: Change) {
        match change {
            Change::PutDomain { id, name } => {
                self.next.domain = self.next.domain.max(id + 1);
                self.domains.insert(id, name);
            }
            Change::PutUser(user) => self.put_user(user),
            Change::PutGroup(group) => self.put_group(group),
            Change::DeleteGroup { id } => self.delete_group(id),
            Change::AddMember { group_id, user_id } => {
                if self.groups.contains_key(&group_id) && self.users.contains_key(&user_id) {
                    self.add_member(group_id, user_id);
                }
            }
            Change::RemoveMember { group_id, user_id } => self.remove_member(group_id, user_id),
            Change::PutFolder(folder) => self.put_folder(folder),
            Change::DeleteFolder { id } => self.delete_folder(id),
            Change::PutFolderPermission(perm) => self.put_folder_permission(perm),
            Change::DeleteFolderPermission { id } => self.delete_folder_permission(id),
            Change::PutSecret(secret) => self.put_secret(secret),
            Change::PutSecretPermission(perm) => self.put_secret_permission(perm),
            Change::DeleteSecretPermission { id } => self.delete_secret_permission(id),
            Change::PutRole(role) => self.put_role(role),
            Change::AddUserRole { user_id, role_id } => self.add_user_role(user_id, role_id),
            Change::RemoveUserRole { user_id, role_id } => self.remove_user_role(user_id, role_id),
            Change::AddGroupRole { group_id, role_id } => self.add_group_role(group_id, role_id),
            Change::RemoveGroupRole { group_id, role_id } => self.remove_group_role(group_id, role_id),
            Change::SetPassword { user_id, password } => {
                if self.users.contains_key(&user_id) {
                    self.passwords.insert(user_id, password);
                }
            }
        }
    }

    fn put_user(&mut self, user: User) {
        self.next.user = self.next.user.max(user.id + 1);
        if let Some(old) = self.users.get(&user.id) {
            let old_name = old.user.user_name.to_lowercase();
            self.user_names.remove(&(old.user.domain_id, old_name.clone()));
            self.users_by_name.remove(&(old_name, user.id));
        }
        let name = user.user_name.to_lowercase();
        self.user_names.insert((user.domain_id, name.clone()), user.id);
        self.users_by_name.insert((name, user.id));
        let search_key = user_search_key(&user);
        match self.users.get(&user.id) {
            Some(old) => self.user_text.replace(user.id, &old.search_key, &search_key),
            None => self.user_text.insert(user.id, &search_key),
        }
        self.users.insert(user.id, UserEntry { user, search_key });
    }

    fn put_group(&mut self, group: Group) {
        self.next.group = self.next.group.max(group.id + 1);
        let name = group.name.to_lowercase();
        if let Some(old) = self.groups.get(&group.id) {
            let old_name = old.name.to_lowercase();
            self.group_text.replace(group.id, &old_name, &name);
            self.group_names.remove(&(old.domain_id, old_name));
        } else {
            self.group_text.insert(group.id, &name);
        }
        self.group_names.insert((group.domain_id, name), group.id);
        if group.system_group && group.name.eq_ignore_ascii_case(EVERYONE) {
            self.everyone = Some(group.id);
        }
        self.groups.insert(group.id, group);
    }

    fn delete_group(&mut self, id: i64) {
        let Some(group) = self.groups.remove(&id) else { return };
        let name = group.name.to_lowercase();
        self.group_text.remove(id, &name);
        self.group_names.remove(&(group.domain_id, name));
        self.group_roles.remove(&id);
        for user_id in self.members.remove(&id).unwrap_or_default() {
            self.membership_count -= 1;
            if let Some(groups) = self.user_groups.get_mut(&user_id) {
                groups.remove(&id);
            }
        }
        let principal = Principal::Group(id);
        for perm_id in self.folder_perms_by_principal.get(&principal).cloned().unwrap_or_default() {
            self.delete_folder_permission(perm_id);
        }
        for perm_id in self.secret_perms_by_principal.get(&principal).cloned().unwrap_or_default() {
            self.delete_secret_permission(perm_id);
        }
    }

    pub(crate) fn add_member(&mut self, group_id: i64, user_id: i64) {
        if self.members.entry(group_id).or_default().insert(user_id) {
            self.user_groups.entry(user_id).or_default().insert(group_id);
            self.membership_count += 1;
        }
    }

    fn remove_member(&mut self, group_id: i64, user_id: i64) {
        if self.members.get_mut(&group_id).is_some_and(|m| m.remove(&user_id)) {
            self.membership_count -= 1;
            if let Some(groups) = self.user_groups.get_mut(&user_id) {
                groups.remove(&group_id);
            }
        }
    }

    fn put_folder(&mut self, folder: FolderRec) {
        self.next.folder = self.next.folder.max(folder.id + 1);
        let name = folder.folder_name.to_lowercase();
        if let Some(old) = self.folders.get(&folder.id) {
            let old_name = old.folder_name.to_lowercase();
            self.folder_text.replace(folder.id, &old_name, &name);
            self.folder_names.remove(&(old.parent_folder_id, old_name));
            if let Some(siblings) = self.children.get_mut(&old.parent_folder_id) {
                siblings.remove(&folder.id);
            }
        } else {
            self.folder_text.insert(folder.id, &name);
        }
        self.folder_names.insert((folder.parent_folder_id, name), folder.id);
        self.children.entry(folder.parent_folder_id).or_default().insert(folder.id);
        self.folders.insert(folder.id, folder);
    }

    fn delete_folder(&mut self, id: i64) {
        let Some(folder) = self.folders.remove(&id) else { return };
        let name = folder.folder_name.to_lowercase();
        self.folder_text.remove(id, &name);
        self.folder_names.remove(&(folder.parent_folder_id, name));
        if let Some(siblings) = self.children.get_mut(&folder.parent_folder_id) {
            siblings.remove(&id);
        }
        self.children.remove(&id);
        for perm_id in self.folder_perms_by_folder.get(&id).cloned().unwrap_or_default() {
            self.delete_folder_permission(perm_id);
        }
    }

    fn put_folder_permission(&mut self, perm: FolderPermRec) {
        self.next.folder_permission = self.next.folder_permission.max(perm.id + 1);
        self.delete_folder_permission(perm.id);
        self.folder_perms_by_folder.entry(perm.folder_id).or_default().insert(perm.id);
        self.folder_perms_by_principal.entry(perm.principal).or_default().insert(perm.id);
        self.folder_perms.insert(perm.id, perm);
    }

    fn delete_folder_permission(&mut self, id: i64) {
        let Some(perm) = self.folder_perms.remove(&id) else { return };
        if let Some(ids) = self.folder_perms_by_folder.get_mut(&perm.folder_id) {
            ids.remove(&id);
        }
        if let Some(ids) = self.folder_perms_by_principal.get_mut(&perm.principal) {
            ids.remove(&id);
        }
    }

    fn put_secret(&mut self, secret: SecretSummary) {
        self.next.secret = self.next.secret.max(secret.id + 1);
        if let Some(old) = self.secrets.get(&secret.id)
            && let Some(ids) = self.secrets_by_folder.get_mut(&old.secret.folder_id)
        {
            ids.remove(&secret.id);
        }
        self.secrets_by_folder.entry(secret.folder_id).or_default().insert(secret.id);
        let search_key = secret.name.to_lowercase();
        self.secrets.insert(secret.id, SecretEntry { secret, search_key });
    }

    fn put_secret_permission(&mut self, perm: SecretPermRec) {
        self.next.secret_permission = self.next.secret_permission.max(perm.id + 1);
        self.delete_secret_permission(perm.id);
        self.secret_perms_by_secret.entry(perm.secret_id).or_default().insert(perm.id);
        self.secret_perms_by_principal.entry(perm.principal).or_default().insert(perm.id);
        self.secret_perms.insert(perm.id, perm);
    }

    fn delete_secret_permission(&mut self, id: i64) {
        let Some(perm) = self.secret_perms.remove(&id) else { return };
        if let Some(ids) = self.secret_perms_by_secret.get_mut(&perm.secret_id) {
            ids.remove(&id);
        }
        if let Some(ids) = self.secret_perms_by_principal.get_mut(&perm.principal) {
            ids.remove(&id);
        }
    }
}

fn user_search_key(user: &User) -> String {
    let mut key = user.user_name.to_lowercase();
    key.push('\n');
    key.push_str(&user.display_name.to_lowercase());
    if let Some(email) = &user.email_address {
        key.push('\n');
        key.push_str(&email.to_lowercase());
    }
    key
}

/// Hands out consecutive ids within one plan (a plan may create several objects).
#[derive(Debug, Clone, Copy)]
pub struct IdAlloc {
    next: i64,
}

impl IdAlloc {
    /// Starts at `next`.
    pub fn new(next: i64) -> Self {
        Self { next }
    }

    /// The next id.
    pub fn take(&mut self) -> i64 {
        let id = self.next;
        self.next += 1;
        id
    }
}

/// The current time as Secret Server prints it: ISO 8601 UTC, whole seconds.
pub fn now_iso() -> String {
    format_iso(time::OffsetDateTime::now_utc())
}

/// `2026-01-02T03:04:05Z`.
pub fn format_iso(at: time::OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}
