//! Folder permissions and secret permissions.
//!
//! A permission belongs to one folder (or secret) and one principal: exactly
//! one of `userId` / `groupId`. Folder roles are `View`, `Edit`, `Add Secret`,
//! `Owner`; secret roles `View`, `Edit`, `List`, `Owner`, `None`.
//!
//! Inheritance: a folder with `inheritPermissions` has no permissions of its
//! own; its parent's apply. Adding one fails with `API_PermissionsAreInherited`
//! unless the request sets `breakInheritance`, which copies the parent's
//! effective permissions onto the folder, turns inheritance off, and then
//! applies the new permission (replacing the roles of a copied permission for
//! the same principal). A secret that inherits from its folder breaks
//! inheritance the same way when a secret permission is added (the secret
//! permission API has no `breakInheritance` flag): the folder's effective
//! permissions are copied with their secret roles, `None` left out.
//! A principal has at most one permission per folder or secret; a second is a
//! `400 API_DuplicatePermission` (update the existing one instead).
//!
//! Access: the caller sees the permissions of the folders it holds a role on
//! and of the secrets it may list; changing a folder's permissions needs Owner
//! on the folder (a personal folder's never change), a secret's Owner on the
//! secret. Anything else is access denied.

use super::search::{Paging, SortKey};
use super::users::user_inactive;
use super::{Change, FolderPermRec, FolderRec, IdAlloc, Principal, SecretPermRec, Store, Viewer};
use crate::error::{SimError, SimResult, Thing};
use secret_server_api::{
    DeleteResult, FolderAccessRole, FolderPermission, FolderPermissionCreateArgs, FolderPermissionUpdateArgs,
    PERMISSIONS_ARE_INHERITED, PagedResult, SecretAccessRole, SecretPermission, SecretPermissionCreateArgs,
    SecretPermissionUpdateArgs,
};

/// The fields `GET /folder-permissions` can sort by.
pub const FOLDER_PERMISSION_SORT: &[&str] =
    &["id", "folderId", "userId", "groupId", "knownAs", "folderAccessRoleName", "secretAccessRoleName"];
/// The fields `GET /secret-permissions` can sort by.
pub const SECRET_PERMISSION_SORT: &[&str] = &["id", "secretId", "userId", "groupId", "knownAs", "secretAccessRoleName"];

/// The filters of `GET /folder-permissions`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FolderPermissionFilter {
    pub folder_id: Option<i64>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
}

/// The filters of `GET /secret-permissions`.
#[derive(Debug, Clone, Default)]
pub struct SecretPermissionFilter {
    pub secret_id: Option<i64>,
    pub user_id: Option<i64>,
    pub group_id: Option<i64>,
    /// Lower-cased, exact.
    pub user_name: Option<String>,
    /// Lower-cased, exact.
    pub group_name: Option<String>,
    /// Lower-cased, exact.
    pub domain_name: Option<String>,
}

fn folder_role(name: &str) -> SimResult<FolderAccessRole> {
    name.parse().map_err(|_| {
        SimError::invalid(
            "folderAccessRoleName",
            format!("'{name}' is not a folder role: use View, Edit, Add Secret or Owner."),
        )
    })
}

fn secret_role(name: &str) -> SimResult<SecretAccessRole> {
    name.parse().map_err(|_| {
        SimError::invalid(
            "secretAccessRoleName",
            format!("'{name}' is not a secret role: use View, Edit, List, Owner or None."),
        )
    })
}

impl Store {
    /// Checks that exactly one principal is given, that it exists, and that a user is active.
    fn principal(&self, user_id: Option<i64>, group_id: Option<i64>) -> SimResult<Principal> {
        match (user_id.filter(|u| *u > 0), group_id.filter(|g| *g > 0)) {
            (Some(user_id), None) => {
                let user = self.user(user_id).ok_or(SimError::NotFound(Thing::User, user_id))?;
                if !user.enabled {
                    return Err(user_inactive(&user.user_name));
                }
                Ok(Principal::User(user_id))
            }
            (None, Some(group_id)) => {
                self.group(group_id).ok_or(SimError::NotFound(Thing::Group, group_id))?;
                Ok(Principal::Group(group_id))
            }
            (Some(_), Some(_)) => Err(SimError::invalid("userId", "Send either userId or groupId, not both.")),
            (None, None) => Err(SimError::invalid("userId", "Either userId or groupId is required.")),
        }
    }

    /// How a principal is shown: `(userName, groupName, knownAs, domainName)`.
    fn principal_names(
        &self,
        principal: Principal,
    ) -> (Option<String>, Option<String>, Option<String>, Option<String>) {
        match principal {
            Principal::User(id) => match self.user(id) {
                Some(u) => {
                    (Some(u.user_name.clone()), None, Some(u.display_name.clone()), self.domain_name(u.domain_id))
                }
                None => (None, None, None, None),
            },
            Principal::Group(id) => match self.group(id) {
                Some(g) => (None, Some(g.name.clone()), Some(g.name.clone()), self.domain_name(g.domain_id)),
                None => (None, None, None, None),
            },
        }
    }

    fn duplicate_permission(&self, principal: Principal, on: &str) -> SimError {
        let (user, group, ..) = self.principal_names(principal);
        let who = user.map(|u| format!("User '{u}'")).or(group.map(|g| format!("Group '{g}'"))).unwrap_or_default();
        SimError::rule("API_DuplicatePermission", format!("{who} already has a permission on {on}; update it instead."))
    }

    /// A folder permission as every endpoint returns it (the full, search-record shape).
    pub fn render_folder_permission(&self, perm: &FolderPermRec) -> FolderPermission {
        let (user_name, group_name, known_as, domain_name) = self.principal_names(perm.principal);
        FolderPermission {
            id: perm.id,
            folder_id: perm.folder_id,
            folder_access_role_id: perm.folder_role.id(),
            folder_access_role_name: perm.folder_role.as_str().to_owned(),
            secret_access_role_id: perm.secret_role.id(),
            secret_access_role_name: perm.secret_role.as_str().to_owned(),
            group_id: perm.principal.group_id(),
            group_name,
            user_id: perm.principal.user_id(),
            user_name,
            known_as,
            domain_name,
        }
    }

    /// `GET /folder-permissions`: those on the folders `viewer` holds a role on.
    pub fn search_folder_permissions(
        &self,
        viewer: Viewer,
        filter: FolderPermissionFilter,
        paging: &Paging,
    ) -> PagedResult<FolderPermission> {
        // Start from the narrowest index the filter allows.
        let ids: Box<dyn Iterator<Item = &i64>> = if let Some(folder_id) = filter.folder_id {
            Box::new(self.folder_perms_by_folder.get(&folder_id).into_iter().flatten())
        } else if let Some(user_id) = filter.user_id {
            Box::new(self.folder_perms_by_principal.get(&Principal::User(user_id)).into_iter().flatten())
        } else if let Some(group_id) = filter.group_id {
            Box::new(self.folder_perms_by_principal.get(&Principal::Group(group_id)).into_iter().flatten())
        } else {
            Box::new(self.folder_perms.keys())
        };
        let perms = ids.filter_map(|id| self.folder_perms.get(id)).filter(|p| {
            self.can_see_folder(viewer, p.folder_id)
                && filter.folder_id.is_none_or(|f| f == p.folder_id)
                && filter.user_id.is_none_or(|u| p.principal == Principal::User(u))
                && filter.group_id.is_none_or(|g| p.principal == Principal::Group(g))
        });
        let (window, total) = paging.select(perms, "id", |field, p| match field {
            "folderId" => p.folder_id.into(),
            "userId" => p.principal.user_id().unwrap_or(0).into(),
            "groupId" => p.principal.group_id().unwrap_or(0).into(),
            "knownAs" => SortKey::opt_text(self.principal_names(p.principal).2.as_deref()),
            "folderAccessRoleName" => SortKey::text(p.folder_role.as_str()),
            "secretAccessRoleName" => SortKey::text(p.secret_role.as_str()),
            _ => p.id.into(),
        });
        paging.envelope(window.into_iter().map(|p| self.render_folder_permission(p)).collect(), total)
    }

    /// `GET /folder-permissions/{id}`.
    ///
    /// # Errors
    /// `API_FolderPermissionNotFound`; access denied on a folder `viewer` holds no role on.
    pub fn get_folder_permission(&self, viewer: Viewer, id: i64) -> SimResult<FolderPermission> {
        let perm = self.folder_perms.get(&id).ok_or(SimError::NotFound(Thing::FolderPermission, id))?;
        if !self.can_see_folder(viewer, perm.folder_id) {
            return Err(SimError::denied(format!("a role on folder {}", perm.folder_id)));
        }
        Ok(self.render_folder_permission(perm))
    }

    /// Plans `POST /folder-permissions`; returns the id of the permission created or updated.
    ///
    /// # Errors
    /// `API_FolderNotFound`, `API_UserNotFound`, `API_GroupNotFound`, an inactive user, a bad role
    /// name, neither or both principals, `API_PermissionsAreInherited`, `API_DuplicatePermission`;
    /// access denied without Owner on the folder.
    pub fn plan_create_folder_permission(
        &self,
        viewer: Viewer,
        args: FolderPermissionCreateArgs,
    ) -> SimResult<(Vec<Change>, i64)> {
        let folder = self.folder(args.folder_id).ok_or(SimError::NotFound(Thing::Folder, args.folder_id))?;
        self.check_owns_folder(viewer, folder)?;
        let folder_role = folder_role(&args.folder_access_role_name)?;
        let secret_role = secret_role(&args.secret_access_role_name)?;
        let principal = self.principal(args.user_id, args.group_id)?;
        let mut ids = IdAlloc::new(self.next.folder_permission);
        let mut changes = Vec::new();
        let existing: Vec<FolderPermRec> = if folder.inherit_permissions {
            if !args.break_inheritance {
                return Err(SimError::rule(PERMISSIONS_ARE_INHERITED, PERMISSIONS_ARE_INHERITED));
            }
            changes.push(Change::PutFolder(FolderRec { inherit_permissions: false, ..folder.clone() }));
            let copies = self.copy_inherited_permissions(folder.id, folder.parent_folder_id, &mut ids);
            let copied = copies
                .iter()
                .filter_map(|c| match c {
                    Change::PutFolderPermission(p) => Some(p.clone()),
                    _ => None,
                })
                .collect();
            changes.extend(copies);
            copied
        } else {
            self.folder_permissions_on(folder.id).cloned().collect()
        };
        let id = match existing.iter().find(|p| p.principal == principal) {
            Some(_) if !folder.inherit_permissions => {
                return Err(self.duplicate_permission(principal, &format!("folder '{}'", folder.folder_name)));
            }
            // The copied permission of the same principal takes the new roles.
            Some(copy) => copy.id,
            None => ids.take(),
        };
        changes.push(Change::PutFolderPermission(FolderPermRec {
            id,
            folder_id: folder.id,
            principal,
            folder_role,
            secret_role,
        }));
        Ok((changes, id))
    }

    /// Plans `PUT /folder-permissions/{id}` (roles only; the folder and principal cannot change).
    ///
    /// # Errors
    /// `API_FolderPermissionNotFound`, a mismatched `id` or `folderId`, a bad role name; access
    /// denied without Owner on the folder.
    pub fn plan_update_folder_permission(
        &self,
        viewer: Viewer,
        id: i64,
        args: FolderPermissionUpdateArgs,
    ) -> SimResult<(Vec<Change>, i64)> {
        let current = self.folder_perms.get(&id).ok_or(SimError::NotFound(Thing::FolderPermission, id))?;
        self.check_owns_permission_folder(viewer, current.folder_id)?;
        if args.id != 0 && args.id != id {
            return Err(SimError::invalid(
                "id",
                format!("The id in the body ({}) does not match the URL ({id}).", args.id),
            ));
        }
        if args.folder_id != 0 && args.folder_id != current.folder_id {
            return Err(SimError::invalid("folderId", "The folder of a permission cannot change."));
        }
        let perm = FolderPermRec {
            folder_role: folder_role(&args.folder_access_role_name)?,
            secret_role: secret_role(&args.secret_access_role_name)?,
            ..current.clone()
        };
        Ok((vec![Change::PutFolderPermission(perm)], id))
    }

    /// Plans `DELETE /folder-permissions/{id}`.
    ///
    /// # Errors
    /// `API_FolderPermissionNotFound`; access denied without Owner on the folder.
    pub fn plan_delete_folder_permission(&self, viewer: Viewer, id: i64) -> SimResult<(Vec<Change>, DeleteResult)> {
        let perm = self.folder_perms.get(&id).ok_or(SimError::NotFound(Thing::FolderPermission, id))?;
        self.check_owns_permission_folder(viewer, perm.folder_id)?;
        Ok((
            vec![Change::DeleteFolderPermission { id }],
            DeleteResult { id, object_type: "FolderPermission".to_owned(), response_codes: Vec::new() },
        ))
    }

    /// A secret permission as every endpoint returns it.
    pub fn render_secret_permission(&self, perm: &SecretPermRec) -> SecretPermission {
        let (user_name, group_name, known_as, _) = self.principal_names(perm.principal);
        SecretPermission {
            id: perm.id,
            secret_id: perm.secret_id,
            user_id: perm.principal.user_id(),
            user_name,
            group_id: perm.principal.group_id(),
            group_name,
            known_as,
            secret_access_role_id: perm.secret_role.id(),
            secret_access_role_name: perm.secret_role.as_str().to_owned(),
        }
    }

    /// `GET /secret-permissions`: those on the secrets `viewer` may list.
    pub fn search_secret_permissions(
        &self,
        viewer: Viewer,
        filter: &SecretPermissionFilter,
        paging: &Paging,
    ) -> PagedResult<SecretPermission> {
        let ids: Box<dyn Iterator<Item = &i64>> = if let Some(secret_id) = filter.secret_id {
            Box::new(self.secret_perms_by_secret.get(&secret_id).into_iter().flatten())
        } else if let Some(user_id) = filter.user_id {
            Box::new(self.secret_perms_by_principal.get(&Principal::User(user_id)).into_iter().flatten())
        } else if let Some(group_id) = filter.group_id {
            Box::new(self.secret_perms_by_principal.get(&Principal::Group(group_id)).into_iter().flatten())
        } else {
            Box::new(self.secret_perms.keys())
        };
        let perms = ids.filter_map(|id| self.secret_perms.get(id)).filter(|p| {
            if !self.can_list_secret(viewer, p.secret_id)
                || filter.secret_id.is_some_and(|s| s != p.secret_id)
                || filter.user_id.is_some_and(|u| p.principal != Principal::User(u))
                || filter.group_id.is_some_and(|g| p.principal != Principal::Group(g))
            {
                return false;
            }
            if filter.user_name.is_none() && filter.group_name.is_none() && filter.domain_name.is_none() {
                return true;
            }
            let (user_name, group_name, _, domain_name) = self.principal_names(p.principal);
            let same = |want: &Option<String>, have: &Option<String>| {
                want.as_deref().is_none_or(|w| have.as_deref().is_some_and(|h| h.to_lowercase() == w))
            };
            same(&filter.user_name, &user_name)
                && same(&filter.group_name, &group_name)
                && same(&filter.domain_name, &domain_name)
        });
        let (window, total) = paging.select(perms, "id", |field, p| match field {
            "secretId" => p.secret_id.into(),
            "userId" => p.principal.user_id().unwrap_or(0).into(),
            "groupId" => p.principal.group_id().unwrap_or(0).into(),
            "knownAs" => SortKey::opt_text(self.principal_names(p.principal).2.as_deref()),
            "secretAccessRoleName" => SortKey::text(p.secret_role.as_str()),
            _ => p.id.into(),
        });
        paging.envelope(window.into_iter().map(|p| self.render_secret_permission(p)).collect(), total)
    }

    /// `GET /secret-permissions/{id}`.
    ///
    /// # Errors
    /// `API_SecretPermissionNotFound`; access denied on a secret `viewer` may not list.
    pub fn get_secret_permission(&self, viewer: Viewer, id: i64) -> SimResult<SecretPermission> {
        let perm = self.secret_perms.get(&id).ok_or(SimError::NotFound(Thing::SecretPermission, id))?;
        if !self.can_list_secret(viewer, perm.secret_id) {
            return Err(SimError::denied(format!("a role on secret {}", perm.secret_id)));
        }
        Ok(self.render_secret_permission(perm))
    }

    /// Plans `POST /secret-permissions`; returns the id of the permission created or updated.
    ///
    /// # Errors
    /// `API_SecretNotFound`, `API_UserNotFound`, `API_GroupNotFound`, an inactive user, a bad role
    /// name, neither or both principals, `API_DuplicatePermission`; access denied without Owner on
    /// the secret.
    pub fn plan_create_secret_permission(
        &self,
        viewer: Viewer,
        args: SecretPermissionCreateArgs,
    ) -> SimResult<(Vec<Change>, i64)> {
        let secret = self.secret(args.secret_id).ok_or(SimError::NotFound(Thing::Secret, args.secret_id))?;
        self.check_owns_secret(viewer, secret.id)?;
        let role = secret_role(&args.secret_access_role_name)?;
        let principal = self.principal(args.user_id, args.group_id)?;
        let mut ids = IdAlloc::new(self.next.secret_permission);
        let mut changes = Vec::new();
        let existing: Vec<SecretPermRec> = if secret.inherits_permissions {
            changes.push(Change::PutSecret(secret_api_with(secret, false)));
            let copies: Vec<SecretPermRec> = self
                .effective_folder_permissions(secret.folder_id)
                .into_iter()
                .filter(|p| p.secret_role != SecretAccessRole::None)
                .map(|p| SecretPermRec {
                    id: ids.take(),
                    secret_id: secret.id,
                    principal: p.principal,
                    secret_role: p.secret_role,
                })
                .collect();
            changes.extend(copies.iter().cloned().map(Change::PutSecretPermission));
            copies
        } else {
            self.secret_permissions_on(secret.id).cloned().collect()
        };
        let id = match existing.iter().find(|p| p.principal == principal) {
            Some(_) if !secret.inherits_permissions => {
                return Err(self.duplicate_permission(principal, &format!("secret '{}'", secret.name)));
            }
            Some(copy) => copy.id,
            None => ids.take(),
        };
        changes.push(Change::PutSecretPermission(SecretPermRec {
            id,
            secret_id: secret.id,
            principal,
            secret_role: role,
        }));
        Ok((changes, id))
    }

    /// Plans `PUT /secret-permissions/{id}`.
    ///
    /// # Errors
    /// `API_SecretPermissionNotFound`, a mismatched `id` or `secretId`, a bad role name; access
    /// denied without Owner on the secret.
    pub fn plan_update_secret_permission(
        &self,
        viewer: Viewer,
        id: i64,
        args: SecretPermissionUpdateArgs,
    ) -> SimResult<(Vec<Change>, i64)> {
        let current = self.secret_perms.get(&id).ok_or(SimError::NotFound(Thing::SecretPermission, id))?;
        self.check_owns_secret(viewer, current.secret_id)?;
        if args.id != 0 && args.id != id {
            return Err(SimError::invalid(
                "id",
                format!("The id in the body ({}) does not match the URL ({id}).", args.id),
            ));
        }
        if args.secret_id != 0 && args.secret_id != current.secret_id {
            return Err(SimError::invalid("secretId", "The secret of a permission cannot change."));
        }
        let perm = SecretPermRec { secret_role: secret_role(&args.secret_access_role_name)?, ..current.clone() };
        Ok((vec![Change::PutSecretPermission(perm)], id))
    }

    /// Plans `DELETE /secret-permissions/{id}`.
    ///
    /// # Errors
    /// `API_SecretPermissionNotFound`; access denied without Owner on the secret.
    pub fn plan_delete_secret_permission(&self, viewer: Viewer, id: i64) -> SimResult<(Vec<Change>, DeleteResult)> {
        let perm = self.secret_perms.get(&id).ok_or(SimError::NotFound(Thing::SecretPermission, id))?;
        self.check_owns_secret(viewer, perm.secret_id)?;
        Ok((
            vec![Change::DeleteSecretPermission { id }],
            DeleteResult { id, object_type: "SecretPermission".to_owned(), response_codes: Vec::new() },
        ))
    }
}

impl Store {
    fn check_owns_permission_folder(&self, viewer: Viewer, folder_id: i64) -> SimResult<()> {
        match self.folder(folder_id) {
            Some(folder) => self.check_owns_folder(viewer, folder),
            None => Err(SimError::NotFound(Thing::Folder, folder_id)),
        }
    }

    fn check_owns_secret(&self, viewer: Viewer, secret_id: i64) -> SimResult<()> {
        if self.owns_secret(viewer, secret_id) {
            Ok(())
        } else {
            Err(SimError::denied(format!("Owner on secret {secret_id}")))
        }
    }
}

fn secret_api_with(secret: &secret_server_api::SecretSummary, inherits: bool) -> secret_server_api::SecretSummary {
    secret_server_api::SecretSummary { inherits_permissions: inherits, ..secret.clone() }
}
