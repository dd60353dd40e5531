//! The API account's role permissions (and other users'), and how the emulator enforces them as
//! Secret Server does.
//!
//! Secret Server has two layers of access: *role permissions* (Administer Users, View Groups, Create
//! Root Folders, ...), global to an account through its roles, and *folder and secret permissions*
//! (View, Edit, Add Secret, Owner; List, View, Edit, Owner), per object, granted to the account or
//! to a group it is in (the Everyone group included). The second layer lives in the store
//! ([`crate::store::access`]); this module holds the first: which role permissions the API account
//! has (configurable, changeable at run time through `/_sim/api-account/permissions`), which each
//! endpoint needs ([`Need`]), and the answer when one is missing: `400 {"message":"Access
//! Denied","errorCode":"API_AccessDenied"}`, or `403 {"message":"Access Denied"}` with
//! `access_denied_status = 403`.

use crate::error::{ACCESS_DENIED, AccessDeniedMarker, SimError, SimResult};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use parking_lot::RwLock;
use std::collections::BTreeSet;

pub const ADMINISTER_USERS: &str = "Administer Users";
pub const VIEW_USERS: &str = "View Users";
pub const ADMINISTER_GROUPS: &str = "Administer Groups";
pub const VIEW_GROUPS: &str = "View Groups";
pub const ADMINISTER_FOLDERS: &str = "Administer Folders";
pub const CREATE_ROOT_FOLDERS: &str = "Create Root Folders";
pub const VIEW_SECRET: &str = "View Secret";
pub const OWN_SECRET: &str = "Own Secret";
pub const ADD_SECRET: &str = "Add Secret";
pub const VIEW_ROLES: &str = "View Roles";
pub const ADMINISTER_ROLE_PERMISSIONS: &str = "Administer Role Permissions";

/// The role permissions a fresh emulator gives its API account: those a SCIM connector's
/// application account is documented to need (users, groups, folders and their permissions,
/// secret metadata and permissions).
pub const DEFAULT_API_ACCOUNT_PERMISSIONS: &[&str] = &[
    ADD_SECRET,
    ADMINISTER_FOLDERS,
    ADMINISTER_GROUPS,
    ADMINISTER_ROLE_PERMISSIONS,
    ADMINISTER_USERS,
    CREATE_ROOT_FOLDERS,
    OWN_SECRET,
    VIEW_GROUPS,
    VIEW_ROLES,
    VIEW_SECRET,
    VIEW_USERS,
];

/// What an endpoint needs: one of these role permissions.
#[derive(Debug, Clone, Copy)]
pub struct Need(pub &'static [&'static str]);

/// Reading users (search, lookup, get, a user's groups).
pub const READ_USERS: Need = Need(&[VIEW_USERS, ADMINISTER_USERS]);
/// Creating, changing, disabling users and their group lists.
pub const WRITE_USERS: Need = Need(&[ADMINISTER_USERS]);
/// Reading groups and their members.
pub const READ_GROUPS: Need = Need(&[VIEW_GROUPS, ADMINISTER_GROUPS]);
/// Creating, changing, deleting groups, adding and removing members.
pub const WRITE_GROUPS: Need = Need(&[ADMINISTER_GROUPS]);
/// Creating, renaming, moving, deleting folders (folder permissions apply on top).
pub const WRITE_FOLDERS: Need = Need(&[ADMINISTER_FOLDERS]);
/// Creating a folder at the root.
pub const ROOT_FOLDERS: Need = Need(&[CREATE_ROOT_FOLDERS]);
/// Reading secrets' metadata and permissions (secret permissions apply on top).
pub const READ_SECRETS: Need = Need(&[VIEW_SECRET]);
/// Changing who may access a secret (an Owner permission on the secret is needed on top).
pub const SHARE_SECRETS: Need = Need(&[OWN_SECRET]);

/// Reading roles and who holds them.
pub const READ_ROLES: Need = Need(&[VIEW_ROLES, ADMINISTER_ROLE_PERMISSIONS]);
/// Assigning roles to users and groups.
pub const ASSIGN_ROLES: Need = Need(&[ADMINISTER_ROLE_PERMISSIONS]);

/// The role permissions of a signed-in user other than the API account. The emulator's roles
/// carry no permission lists, so it answers as a vault with its built-in roles as shipped: the
/// Administrator role holds what the API account holds by default
/// ([`DEFAULT_API_ACCOUNT_PERMISSIONS`]); User and Basic User hold none of the administrative
/// permissions the emulated endpoints need (a plain user reads its own record and groups only,
/// see `routes::users`).
pub fn role_permissions_of_user(holds_administrator_role: bool) -> BTreeSet<String> {
    if holds_administrator_role {
        DEFAULT_API_ACCOUNT_PERMISSIONS.iter().map(|p| (*p).to_owned()).collect()
    } else {
        BTreeSet::new()
    }
}

/// Whether `held` has one of `need` (names compared case-insensitively, as Secret Server's are not
/// case-sensitive in its UI either).
pub fn holds(held: &BTreeSet<String>, need: Need) -> bool {
    need.0.iter().any(|n| held.iter().any(|h| h.eq_ignore_ascii_case(n)))
}

/// The error for a missing role permission, naming the first of `need`.
pub fn denied(need: Need) -> SimError {
    SimError::denied(format!("role permission {:?}", need.0[0]))
}

/// The API account as the emulator enforces it.
#[derive(Debug)]
pub struct ApiAccount {
    /// Its user id (a local user of the store).
    pub user_id: i64,
    permissions: RwLock<BTreeSet<String>>,
    /// Secret Server's "unlimited administration": every folder and secret is visible and
    /// changeable whatever its permissions (a leniency switch, off by default).
    pub unlimited_administration: bool,
}

impl ApiAccount {
    /// The API account, user `user_id`, with these role permissions.
    pub fn new(user_id: i64, permissions: impl IntoIterator<Item = String>, unlimited_administration: bool) -> Self {
        Self { user_id, permissions: RwLock::new(permissions.into_iter().collect()), unlimited_administration }
    }

    /// Its role permissions, sorted.
    pub fn permissions(&self) -> Vec<String> {
        self.permissions.read().iter().cloned().collect()
    }

    /// Replaces its role permissions.
    pub fn set_permissions(&self, permissions: impl IntoIterator<Item = String>) {
        *self.permissions.write() = permissions.into_iter().collect();
    }

    /// Whether it has one of `need` (names compared case-insensitively, as Secret Server's are not
    /// case-sensitive in its UI either).
    pub fn has(&self, need: Need) -> bool {
        holds(&self.permissions.read(), need)
    }

    /// `Ok` when it has one of `need`.
    ///
    /// # Errors
    /// Access denied, naming the first permission of `need`.
    pub fn require(&self, need: Need) -> SimResult<()> {
        if self.has(need) { Ok(()) } else { Err(denied(need)) }
    }
}

/// Gives access-denied answers the configured status: with `403`, the `400 API_AccessDenied` the
/// handlers produce becomes `403 {"message":"Access Denied"}` (the `AuthenticationFailedResponse`
/// shape), as some Secret Server versions answer.
///
/// # Errors
/// Whatever the inner service returns.
pub(crate) async fn restyle<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let forbidden = req.app_data::<web::Data<AccessDeniedStatus>>().is_some_and(|s| s.0 == 403);
    let response = next.call(req).await?.map_into_boxed_body();
    if forbidden && response.response().extensions().get::<AccessDeniedMarker>().is_some() {
        let (request, _) = response.into_parts();
        let answer = HttpResponse::Forbidden().json(serde_json::json!({ "message": ACCESS_DENIED }));
        return Ok(ServiceResponse::new(request, answer));
    }
    Ok(response)
}

/// The status of access-denied answers: 400 (default) or 403.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessDeniedStatus(pub u16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_one_of_the_needed_permissions_will_do() {
        let account = ApiAccount::new(1, [VIEW_USERS.to_owned()], false);
        assert!(account.has(READ_USERS));
        assert!(!account.has(WRITE_USERS));
        assert!(account.require(WRITE_USERS).is_err());
    }

    #[test]
    fn names_compare_case_insensitively() {
        let account = ApiAccount::new(1, ["administer users".to_owned()], false);
        assert!(account.has(WRITE_USERS));
    }
}
