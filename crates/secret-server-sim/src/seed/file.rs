//! The JSON seed format and its loader. Objects refer to each other by name,
//! not id (ids are handed out in file order), so a seed is easy to write by
//! hand. The demo seed (`demo.json` beside this file) is an example.
//!
//! ```json
//! {
//!   "domains": [{ "id": 1, "name": "corp.example.com" }],
//!   "users": [{ "userName": "alice", "displayName": "Alice Martin", "emailAddress": "alice@example.com",
//!               "enabled": true, "domain": "corp.example.com", "adGuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
//!               "isApplicationAccount": false, "roles": ["Administrator"] }],
//!   "groups": [{ "name": "IT Admins", "enabled": true, "domain": null, "synchronized": false,
//!                "members": ["alice"], "roles": [] }],
//!   "folders": [{ "path": "\\IT\\Servers", "inheritPermissions": false,
//!                 "permissions": [{ "group": "IT Admins", "folderAccessRoleName": "Owner",
//!                                   "secretAccessRoleName": "Edit" }] }],
//!   "secrets": [{ "name": "DC01 Administrator", "folder": "\\IT\\Servers", "template": "Windows Account",
//!                 "active": true, "permissions": [{ "user": "alice", "secretAccessRoleName": "View" }] }]
//! }
//! ```
//!
//! Every list is optional. Users and groups without `domain` are local. A
//! member or a permission names a user by `userName` (or `domain\userName`
//! when the name exists in several domains) and a group by `name`; a
//! permission given with `"apiAccount": true` instead is the API account's
//! (whatever its configured name), as an administrator grants the connector
//! access to what it manages. `roles` name Secret Server's built-in roles
//! (`Administrator`, `User`, `Basic User`), which the store holds before the
//! seed is loaded. Every user but an application account gets a personal
//! folder (under `\Personal Folders`) once the seed is loaded. Folders
//! missing on a path are created (at the root without inheritance, below it
//! inheriting). A folder listed with `permissions` does not inherit. A secret
//! listed with `permissions` does not inherit from its folder and has exactly
//! those. Templates are named as in `crate::store::templates`. Rules are
//! checked as the API checks them, and an error names the entry
//! (`groups[2].members[0]: no user named 'x'`).

use crate::store::{Change, FolderPermRec, FolderRec, Principal, SecretPermRec, Store, now_iso, templates};
use secret_server_api::{FolderAccessRole, Group, ROOT_FOLDER_ID, SecretAccessRole, SecretSummary, User};
use serde::Deserialize;
use std::collections::HashMap;

/// A seed file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFile {
    pub domains: Vec<SeedDomain>,
    pub users: Vec<SeedUser>,
    pub groups: Vec<SeedGroup>,
    pub folders: Vec<SeedFolder>,
    pub secrets: Vec<SeedSecret>,
}

/// An Active Directory domain.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedDomain {
    pub id: i64,
    pub name: String,
}

/// A seeded `adGuid`: only for a user or group of a domain (a local one has none).
fn directory_guid(at: &str, domain_id: i64, guid: Option<&str>) -> Result<Option<String>, SeedError> {
    match guid.map(str::trim).filter(|g| !g.is_empty()) {
        Some(_) if domain_id == crate::store::LOCAL_DOMAIN_ID => {
            Err(err(format!("{at}.adGuid"), "adGuid goes with a domain; a local user or group has none"))
        }
        guid => Ok(guid.map(str::to_owned)),
    }
}

fn yes() -> bool {
    true
}

/// A user (no password: seeds bypass the password policy, and the emulator stores none).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedUser {
    pub user_name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub is_application_account: bool,
    /// The directory's identifier of a domain user (`adGuid`); only with `domain`.
    #[serde(default)]
    pub ad_guid: Option<String>,
    /// Roles assigned to the user directly, by name (`Administrator`).
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A group and its members.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedGroup {
    pub name: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub domain: Option<String>,
    #[serde(default)]
    pub synchronized: bool,
    /// The directory's identifier of a domain group (`adGuid`); only with `domain`.
    #[serde(default)]
    pub ad_guid: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
    /// Roles assigned to the group (its members hold them), by name.
    #[serde(default)]
    pub roles: Vec<String>,
}

/// A folder permission.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFolderPermission {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// The permission is the API account's.
    #[serde(default)]
    pub api_account: bool,
    pub folder_access_role_name: String,
    pub secret_access_role_name: String,
}

/// A folder, by path.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedFolder {
    pub path: String,
    #[serde(default)]
    pub inherit_permissions: Option<bool>,
    #[serde(default)]
    pub permissions: Vec<SeedFolderPermission>,
}

/// A secret permission.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedSecretPermission {
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    /// The permission is the API account's.
    #[serde(default)]
    pub api_account: bool,
    pub secret_access_role_name: String,
}

/// A secret's metadata.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeedSecret {
    pub name: String,
    pub folder: String,
    pub template: String,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub permissions: Vec<SeedSecretPermission>,
}

/// A seed that cannot be loaded, with the entry at fault.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {message}")]
pub struct SeedError {
    pub at: String,
    pub message: String,
}

fn err(at: impl Into<String>, message: impl Into<String>) -> SeedError {
    SeedError { at: at.into(), message: message.into() }
}

struct Loader<'a> {
    store: &'a mut Store,
    domains: HashMap<String, i64>,
    users_by_name: HashMap<String, Vec<i64>>,
    now: String,
    /// The API account's id, when the seed is loaded for an emulator that has one.
    api_account: Option<i64>,
}

impl Loader<'_> {
    fn domain(&self, at: &str, name: Option<&str>) -> Result<i64, SeedError> {
        match name.map(str::trim).filter(|n| !n.is_empty()) {
            None => Ok(crate::store::LOCAL_DOMAIN_ID),
            Some(name) => self
                .domains
                .get(&name.to_lowercase())
                .copied()
                .ok_or_else(|| err(at, format!("no domain named '{name}'"))),
        }
    }

    fn user(&self, at: &str, name: &str) -> Result<i64, SeedError> {
        if let Some((domain, user)) = name.split_once('\\') {
            let domain_id = self.domain(at, Some(domain))?;
            return self
                .store
                .user_by_name(domain_id, user)
                .map(|u| u.id)
                .ok_or_else(|| err(at, format!("no user named '{name}'")));
        }
        match self.users_by_name.get(&name.trim().to_lowercase()).map(Vec::as_slice) {
            Some([id]) => Ok(*id),
            Some([_, _, ..]) => {
                Err(err(at, format!("user name '{name}' exists in several domains: write domain\\name")))
            }
            _ => Err(err(at, format!("no user named '{name}'"))),
        }
    }

    fn group(&self, at: &str, name: &str) -> Result<i64, SeedError> {
        self.store
            .groups
            .values()
            .find(|g| g.name.eq_ignore_ascii_case(name.trim()))
            .map(|g| g.id)
            .ok_or_else(|| err(at, format!("no group named '{name}'")))
    }

    fn role(&self, at: &str, name: &str) -> Result<i64, SeedError> {
        self.store.role_by_name(name).map(|r| r.id).ok_or_else(|| err(at, format!("no role named '{name}'")))
    }

    fn principal(
        &self,
        at: &str,
        user: Option<&str>,
        group: Option<&str>,
        api_account: bool,
    ) -> Result<Principal, SeedError> {
        match (user, group, api_account) {
            (Some(u), None, false) => Ok(Principal::User(self.user(&format!("{at}.user"), u)?)),
            (None, Some(g), false) => Ok(Principal::Group(self.group(&format!("{at}.group"), g)?)),
            (None, None, true) => {
                self.api_account.map(Principal::User).ok_or_else(|| err(at, "there is no API account to grant"))
            }
            _ => Err(err(at, "give exactly one of user, group and apiAccount")),
        }
    }

    /// The folder at `path`, created (with its missing ancestors) when absent.
    fn folder_at(&mut self, at: &str, path: &str, inherit_leaf: Option<bool>) -> Result<i64, SeedError> {
        let names: Vec<&str> = path.split('\\').map(str::trim).filter(|s| !s.is_empty()).collect();
        if names.is_empty() {
            return Err(err(at, format!("'{path}' is not a folder path (write \\Parent\\Child)")));
        }
        let mut parent = ROOT_FOLDER_ID;
        for (depth, name) in names.iter().enumerate() {
            let leaf = depth + 1 == names.len();
            if let Some(existing) = self.store.child_folder_by_name(parent, name) {
                let id = existing.id;
                if leaf && let Some(inherit) = inherit_leaf {
                    let mut folder = existing.clone();
                    folder.inherit_permissions = inherit && parent != ROOT_FOLDER_ID;
                    self.store.apply(Change::PutFolder(folder));
                }
                parent = id;
                continue;
            }
            let inherit =
                if leaf { inherit_leaf.unwrap_or(parent != ROOT_FOLDER_ID) } else { parent != ROOT_FOLDER_ID };
            if inherit && parent == ROOT_FOLDER_ID {
                return Err(err(at, "a root folder cannot inherit permissions"));
            }
            let id = self.store.next.folder;
            self.store.apply(Change::PutFolder(FolderRec {
                id,
                folder_name: (*name).to_owned(),
                parent_folder_id: parent,
                folder_type_id: 1,
                inherit_permissions: inherit,
                inherit_secret_policy: parent != ROOT_FOLDER_ID,
                secret_policy_id: None,
                personal: false,
            }));
            parent = id;
        }
        Ok(parent)
    }
}

/// Loads `seed` into `store`, without an API account to grant (`apiAccount` permissions are
/// refused).
///
/// # Errors
/// The first entry that breaks a rule or names something unknown.
pub fn load(seed: &SeedFile, store: &mut Store) -> Result<(), SeedError> {
    load_for(seed, store, None)
}

/// Loads `seed` into `store`, which holds the API account named `api_username` (the one
/// `apiAccount` permissions grant).
///
/// # Errors
/// The first entry that breaks a rule or names something unknown.
pub fn load_for(seed: &SeedFile, store: &mut Store, api_username: Option<&str>) -> Result<(), SeedError> {
    let api_account =
        api_username.and_then(|name| store.user_by_name(crate::store::LOCAL_DOMAIN_ID, name)).map(|u| u.id);
    let mut loader =
        Loader { store, domains: HashMap::new(), users_by_name: HashMap::new(), now: now_iso(), api_account };
    for (i, d) in seed.domains.iter().enumerate() {
        let at = format!("domains[{i}]");
        if d.id <= 0 {
            return Err(err(at, "a domain id must be positive"));
        }
        if loader.domains.insert(d.name.trim().to_lowercase(), d.id).is_some() {
            return Err(err(at, format!("duplicate domain '{}'", d.name)));
        }
        loader.store.apply(Change::PutDomain { id: d.id, name: d.name.trim().to_owned() });
    }
    for user in loader.store.users.values() {
        loader.users_by_name.entry(user.user.user_name.to_lowercase()).or_default().push(user.user.id);
    }
    for (i, u) in seed.users.iter().enumerate() {
        let at = format!("users[{i}]");
        let domain_id = loader.domain(&format!("{at}.domain"), u.domain.as_deref())?;
        let name = u.user_name.trim();
        if name.is_empty() {
            return Err(err(format!("{at}.userName"), "userName is required"));
        }
        if loader.store.user_by_name(domain_id, name).is_some() {
            return Err(err(format!("{at}.userName"), format!("a user named '{name}' already exists")));
        }
        let id = loader.store.next.user;
        loader.store.apply(Change::PutUser(User {
            id,
            user_name: name.to_owned(),
            display_name: u.display_name.clone().filter(|d| !d.trim().is_empty()).unwrap_or_else(|| name.to_owned()),
            email_address: u.email_address.clone().filter(|e| !e.is_empty()),
            enabled: u.enabled,
            domain_id,
            created: Some(loader.now.clone()),
            is_application_account: u.is_application_account,
            ad_guid: directory_guid(&at, domain_id, u.ad_guid.as_deref())?,
            ..User::default()
        }));
        loader.users_by_name.entry(name.to_lowercase()).or_default().push(id);
        for (j, role) in u.roles.iter().enumerate() {
            let role_id = loader.role(&format!("{at}.roles[{j}]"), role)?;
            loader.store.apply(Change::AddUserRole { user_id: id, role_id });
        }
    }
    for (i, g) in seed.groups.iter().enumerate() {
        let at = format!("groups[{i}]");
        let domain_id = loader.domain(&format!("{at}.domain"), g.domain.as_deref())?;
        let name = g.name.trim();
        if name.is_empty() {
            return Err(err(format!("{at}.name"), "name is required"));
        }
        if loader.store.group_by_name(domain_id, name).is_some() {
            return Err(err(format!("{at}.name"), format!("a group named '{name}' already exists")));
        }
        let id = loader.store.next.group;
        loader.store.apply(Change::PutGroup(Group {
            id,
            name: name.to_owned(),
            enabled: g.enabled,
            domain_id,
            created: Some(loader.now.clone()),
            synchronized: g.synchronized && domain_id != crate::store::LOCAL_DOMAIN_ID,
            ad_guid: directory_guid(&at, domain_id, g.ad_guid.as_deref())?,
            is_editable: true,
            can_edit_members: true,
            ..Group::default()
        }));
        for (j, member) in g.members.iter().enumerate() {
            let user_id = loader.user(&format!("{at}.members[{j}]"), member)?;
            loader.store.apply(Change::AddMember { group_id: id, user_id });
        }
        for (j, role) in g.roles.iter().enumerate() {
            let role_id = loader.role(&format!("{at}.roles[{j}]"), role)?;
            loader.store.apply(Change::AddGroupRole { group_id: id, role_id });
        }
    }
    for (i, f) in seed.folders.iter().enumerate() {
        let at = format!("folders[{i}]");
        let inherit = if f.permissions.is_empty() { f.inherit_permissions } else { Some(false) };
        if f.inherit_permissions == Some(true) && !f.permissions.is_empty() {
            return Err(err(at, "a folder with its own permissions cannot inherit"));
        }
        let folder_id = loader.folder_at(&at, &f.path, inherit)?;
        for (j, p) in f.permissions.iter().enumerate() {
            let pat = format!("{at}.permissions[{j}]");
            let principal = loader.principal(&pat, p.user.as_deref(), p.group.as_deref(), p.api_account)?;
            let folder_role: FolderAccessRole =
                p.folder_access_role_name.parse().map_err(|e| err(&pat, format!("{e}")))?;
            let secret_role: SecretAccessRole =
                p.secret_access_role_name.parse().map_err(|e| err(&pat, format!("{e}")))?;
            if loader.store.folder_permissions_on(folder_id).any(|q| q.principal == principal) {
                return Err(err(pat, "this principal already has a permission on the folder"));
            }
            let id = loader.store.next.folder_permission;
            loader.store.apply(Change::PutFolderPermission(FolderPermRec {
                id,
                folder_id,
                principal,
                folder_role,
                secret_role,
            }));
        }
    }
    for (i, s) in seed.secrets.iter().enumerate() {
        let at = format!("secrets[{i}]");
        if s.name.trim().is_empty() {
            return Err(err(format!("{at}.name"), "name is required"));
        }
        let template = templates::by_name(&s.template)
            .ok_or_else(|| err(format!("{at}.template"), format!("no template named '{}'", s.template)))?;
        let folder_id = loader.folder_at(&format!("{at}.folder"), &s.folder, None)?;
        let id = loader.store.next.secret;
        loader.store.apply(Change::PutSecret(SecretSummary {
            id,
            name: s.name.trim().to_owned(),
            folder_id,
            secret_template_id: template.id,
            secret_template_name: template.name.to_owned(),
            site_id: 1,
            active: s.active,
            create_date: Some(loader.now.clone()),
            inherits_permissions: s.permissions.is_empty(),
            ..SecretSummary::default()
        }));
        for (j, p) in s.permissions.iter().enumerate() {
            let pat = format!("{at}.permissions[{j}]");
            let principal = loader.principal(&pat, p.user.as_deref(), p.group.as_deref(), p.api_account)?;
            let secret_role: SecretAccessRole =
                p.secret_access_role_name.parse().map_err(|e| err(&pat, format!("{e}")))?;
            let perm_id = loader.store.next.secret_permission;
            loader.store.apply(Change::PutSecretPermission(SecretPermRec {
                id: perm_id,
                secret_id: id,
                principal,
                secret_role,
            }));
        }
    }
    // Last, so that the seed's own folders keep the ids its order gives them.
    let users: Vec<User> = loader.store.users.values().map(|e| e.user.clone()).collect();
    for user in users {
        for change in loader.store.personal_folder_changes(&user) {
            loader.store.apply(change);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> SeedFile {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn missing_folders_on_a_path_are_created_and_inherit_below_the_root() {
        let mut store = Store::new();
        load(&parse(r#"{"folders":[{"path":"\\A\\B\\C"}]}"#), &mut store).unwrap();
        let everything = crate::store::Viewer::unlimited();
        let c = store.get_folder_by_path(everything, "\\a\\b\\c", false).unwrap();
        assert_eq!(c.folder_path, "\\A\\B\\C");
        assert!(c.inherit_permissions);
        assert!(!store.get_folder_by_path(everything, "\\A", false).unwrap().inherit_permissions);
    }

    #[test]
    fn an_unknown_member_names_the_entry() {
        let mut store = Store::new();
        let e = load(&parse(r#"{"groups":[{"name":"G","members":["ghost"]}]}"#), &mut store).unwrap_err();
        assert_eq!(e.at, "groups[0].members[0]");
    }

    #[test]
    fn unknown_fields_in_a_seed_are_refused() {
        assert!(serde_json::from_str::<SeedFile>(r#"{"users":[{"userName":"a","colour":"red"}]}"#).is_err());
    }
}
