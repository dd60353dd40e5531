//! What a caller may see and change, by folder and secret permissions: the roles that apply to it
//! on a folder (the folder's own permissions, or those it inherits) or on a secret (its own, or its
//! folder's), through a permission granted to the caller itself or to any group it is in, the
//! Everyone group included. The role permissions (Administer Users, ...) are checked before, by the
//! routes (`crate::access`).

use super::{Principal, Store};
use secret_server_api::{FolderAccessRole, SecretAccessRole};

/// Who is asking: the caller, and whether the emulator shows it everything (Secret Server's
/// unlimited administration, a leniency switch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer {
    pub user_id: i64,
    pub unlimited: bool,
}

impl Viewer {
    /// A caller held to its permissions.
    pub fn user(user_id: i64) -> Self {
        Self { user_id, unlimited: false }
    }

    /// A caller that sees and changes everything (seeds, the emulator's own tooling).
    pub fn unlimited() -> Self {
        Self { user_id: 0, unlimited: true }
    }
}

/// The rank of a folder role: Owner > Edit > Add Secret > View.
fn folder_rank(role: FolderAccessRole) -> u8 {
    match role {
        FolderAccessRole::View => 1,
        FolderAccessRole::AddSecret => 2,
        FolderAccessRole::Edit => 3,
        FolderAccessRole::Owner => 4,
    }
}

impl Store {
    /// Whether `user_id` is in `group_id`: a stored membership, or the Everyone group, which every
    /// user is in.
    pub fn in_group(&self, group_id: i64, user_id: i64) -> bool {
        if self.everyone_group() == Some(group_id) {
            return self.users.contains_key(&user_id);
        }
        self.is_member(group_id, user_id)
    }

    fn applies_to(&self, principal: Principal, user_id: i64) -> bool {
        match principal {
            Principal::User(id) => id == user_id,
            Principal::Group(group_id) => {
                self.groups.get(&group_id).is_some_and(|g| g.enabled) && self.in_group(group_id, user_id)
            }
        }
    }

    /// The best folder role `viewer` holds on `folder_id`, if any.
    pub fn folder_role_of(&self, viewer: Viewer, folder_id: i64) -> Option<FolderAccessRole> {
        self.folder(folder_id)?;
        if viewer.unlimited {
            return Some(FolderAccessRole::Owner);
        }
        self.effective_folder_permissions(folder_id)
            .into_iter()
            .filter(|p| self.applies_to(p.principal, viewer.user_id))
            .map(|p| p.folder_role)
            .max_by_key(|r| folder_rank(*r))
    }

    /// Whether `viewer` can see `folder_id` (any folder role).
    pub fn can_see_folder(&self, viewer: Viewer, folder_id: i64) -> bool {
        self.folder_role_of(viewer, folder_id).is_some()
    }

    /// Whether `viewer` may add folders under `folder_id` (Edit or Owner).
    pub fn can_edit_folder(&self, viewer: Viewer, folder_id: i64) -> bool {
        self.folder_role_of(viewer, folder_id).is_some_and(|r| folder_rank(r) >= folder_rank(FolderAccessRole::Edit))
    }

    /// Whether `viewer` may put secrets in `folder_id` (Add Secret, Edit or Owner).
    pub fn can_add_secret(&self, viewer: Viewer, folder_id: i64) -> bool {
        self.folder_role_of(viewer, folder_id)
            .is_some_and(|r| folder_rank(r) >= folder_rank(FolderAccessRole::AddSecret))
    }

    /// Whether `viewer` owns `folder_id` (rename, move, delete, change its permissions).
    pub fn owns_folder(&self, viewer: Viewer, folder_id: i64) -> bool {
        self.folder_role_of(viewer, folder_id) == Some(FolderAccessRole::Owner)
    }

    /// The best secret role `viewer` holds on `secret_id` (`None` when nothing applies; the role
    /// `None` counts as nothing).
    pub fn secret_role_of(&self, viewer: Viewer, secret_id: i64) -> Option<SecretAccessRole> {
        let secret = self.secret(secret_id)?;
        if viewer.unlimited {
            return Some(SecretAccessRole::Owner);
        }
        let roles: Vec<SecretAccessRole> = if secret.inherits_permissions {
            self.effective_folder_permissions(secret.folder_id)
                .into_iter()
                .filter(|p| self.applies_to(p.principal, viewer.user_id))
                .map(|p| p.secret_role)
                .collect()
        } else {
            self.secret_permissions_on(secret_id)
                .filter(|p| self.applies_to(p.principal, viewer.user_id))
                .map(|p| p.secret_role)
                .collect()
        };
        roles.into_iter().filter(|r| *r != SecretAccessRole::None).max_by_key(|r| r.id())
    }

    /// Whether `viewer` can list `secret_id` (List or better).
    pub fn can_list_secret(&self, viewer: Viewer, secret_id: i64) -> bool {
        self.secret_role_of(viewer, secret_id).is_some()
    }

    /// Whether `viewer` owns `secret_id` (change who may access it).
    pub fn owns_secret(&self, viewer: Viewer, secret_id: i64) -> bool {
        self.secret_role_of(viewer, secret_id) == Some(SecretAccessRole::Owner)
    }
}
