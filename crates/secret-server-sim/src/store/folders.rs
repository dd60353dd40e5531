//! Folders: a tree under the root (`parentFolderId = -1`), with paths computed
//! from the tree.
//!
//! Rules: a folder name is required, has no backslash and is unique among its
//! siblings (case-insensitively); a root folder cannot inherit permissions
//! (there is nothing to inherit from); a folder cannot move under itself or
//! its descendants; a folder with child folders or secrets cannot be deleted.
//! A folder created without inheritance gets an Owner permission for its
//! creator, as Secret Server gives one. Turning inheritance off copies the
//! parent's effective permissions onto the folder; turning it on drops the
//! folder's own permissions. A folder that inherits takes its parent's
//! permissions wherever it is: moved, it takes its new parent's.
//!
//! Access: searches list only the folders the caller holds a role on (its own
//! permissions, or those the folder inherits; through the caller or a group it
//! is in); reading one it holds none on is access denied. Adding a folder needs
//! Edit or Owner on the parent (at the root, the Create Root Folders role
//! permission, checked by the route); renaming, moving, changing inheritance
//! and deleting need Owner on the folder, and a move Edit or Owner on the new
//! parent. Every user but an application account has a personal folder under
//! `\Personal Folders`, owned by that user alone: nobody else sees it, and it
//! takes no subfolder and no other permission.

use super::search::{Paging, SortKey};
use super::{Change, FolderPermRec, FolderRec, IdAlloc, PERSONAL_FOLDERS, Principal, Store, Viewer};
use crate::error::{SimError, SimResult, Thing};
use secret_server_api::{
    DeleteResult, Folder, FolderAccessRole, FolderCreateArgs, FolderUpdateArgs, Lookup, PagedResult, ROOT_FOLDER_ID,
    SecretAccessRole, User,
};

/// The fields `GET /folders` can sort by.
pub const FOLDER_SORT: &[&str] = &["id", "folderName", "folderPath", "parentFolderId", "folderTypeId"];

/// The filters of `GET /folders` and `GET /folders/lookup`.
#[derive(Debug, Clone, Default)]
pub struct FolderFilter {
    /// Lower-cased `filter.searchText` (matched against the folder name).
    pub search_text: Option<String>,
    pub parent_folder_id: Option<i64>,
    pub folder_type_id: Option<i64>,
}

fn check_folder_name(name: &str) -> SimResult<()> {
    if name.trim().is_empty() {
        return Err(SimError::invalid("folderName", "folderName is required."));
    }
    if name.contains('\\') {
        return Err(SimError::invalid("folderName", "folderName must not contain a backslash."));
    }
    if name.chars().count() > 255 || name.chars().any(char::is_control) {
        return Err(SimError::invalid("folderName", "folderName must be at most 255 printable characters."));
    }
    Ok(())
}

fn root_cannot_inherit() -> SimError {
    SimError::rule(
        "API_RootFolderCannotInheritPermissions",
        "A folder at the root (parentFolderId -1) cannot inherit permissions.",
    )
}

impl Store {
    /// The folder model, with its path; with `children`, its whole subtree in `childFolders`.
    pub fn render_folder(&self, folder: &FolderRec, children: bool) -> Folder {
        Folder {
            id: folder.id,
            folder_name: folder.folder_name.clone(),
            folder_path: self.folder_path(folder.id),
            parent_folder_id: folder.parent_folder_id,
            folder_type_id: folder.folder_type_id,
            inherit_permissions: folder.inherit_permissions,
            inherit_secret_policy: folder.inherit_secret_policy,
            secret_policy_id: folder.secret_policy_id,
            child_folders: children.then(|| {
                self.child_folders(folder.id)
                    .filter_map(|c| self.folder(c))
                    .map(|c| self.render_folder(c, true))
                    .collect()
            }),
        }
    }

    /// The folders `viewer` sees that match `filter`, in id order: from the trigram index's
    /// candidates when the search text is long enough (see [`Store::folders_among`]).
    fn matching_folders<'a>(
        &'a self,
        viewer: Viewer,
        filter: &'a FolderFilter,
    ) -> Box<dyn Iterator<Item = &'a FolderRec> + 'a> {
        let candidates = filter.search_text.as_deref().and_then(|text| self.folder_text.candidates(text));
        self.folders_among(viewer, filter, candidates)
    }

    /// The folders `viewer` sees that match `filter`, in id order, among `candidates` (ascending
    /// ids, a superset of the matches), or from the parent's children or every folder when `None`:
    /// that scan is the reference the index's answers are tested against.
    pub(crate) fn folders_among<'a>(
        &'a self,
        viewer: Viewer,
        filter: &'a FolderFilter,
        candidates: Option<Vec<i64>>,
    ) -> Box<dyn Iterator<Item = &'a FolderRec> + 'a> {
        let base: Box<dyn Iterator<Item = &'a FolderRec> + 'a> = match (candidates, filter.parent_folder_id) {
            (Some(ids), parent) => Box::new(
                ids.into_iter()
                    .filter_map(|id| self.folder(id))
                    // The children index, as the scan reads it (a journal could hold a folder
                    // whose parent was deleted before it).
                    .filter(move |f| parent.is_none_or(|p| self.children.get(&p).is_some_and(|c| c.contains(&f.id)))),
            ),
            (None, Some(parent)) => Box::new(self.child_folders(parent).filter_map(|id| self.folder(id))),
            (None, None) => Box::new(self.folders.values()),
        };
        Box::new(base.filter(move |f| {
            self.can_see_folder(viewer, f.id)
                && filter.folder_type_id.is_none_or(|t| t == f.folder_type_id)
                && filter.search_text.as_deref().is_none_or(|t| f.folder_name.to_lowercase().contains(t))
        }))
    }

    fn folder_key(&self) -> impl Fn(&str, &&FolderRec) -> SortKey + '_ {
        move |field, f| match field {
            "folderName" => SortKey::text(&f.folder_name),
            "folderPath" => SortKey::text(&self.folder_path(f.id)),
            "parentFolderId" => f.parent_folder_id.into(),
            "folderTypeId" => f.folder_type_id.into(),
            _ => f.id.into(),
        }
    }

    /// `GET /folders`: the folders `viewer` holds a role on.
    pub fn search_folders(&self, viewer: Viewer, filter: &FolderFilter, paging: &Paging) -> PagedResult<Folder> {
        let (window, total) = paging.select(self.matching_folders(viewer, filter), "id", self.folder_key());
        paging.envelope(window.into_iter().map(|f| self.render_folder(f, false)).collect(), total)
    }

    /// `GET /folders/lookup`: `{id, value: folderName}` of the folders `viewer` holds a role on.
    pub fn lookup_folders(&self, viewer: Viewer, filter: &FolderFilter, paging: &Paging) -> PagedResult<Lookup> {
        let (window, total) = paging.select(self.matching_folders(viewer, filter), "id", self.folder_key());
        paging.envelope(window.into_iter().map(|f| Lookup { id: f.id, value: f.folder_name.clone() }).collect(), total)
    }

    /// `GET /folders/{id}`: the folder, and with `children` the part of its subtree `viewer` sees.
    ///
    /// # Errors
    /// `API_FolderNotFound`; access denied when `viewer` holds no role on it.
    pub fn get_folder(&self, viewer: Viewer, id: i64, children: bool) -> SimResult<Folder> {
        let folder = self.folder(id).ok_or(SimError::NotFound(Thing::Folder, id))?;
        if !self.can_see_folder(viewer, id) {
            return Err(SimError::denied(format!("a role on folder {id}")));
        }
        let mut rendered = self.render_folder(folder, children);
        if let Some(children) = rendered.child_folders.as_mut() {
            self.keep_visible(viewer, children);
        }
        Ok(rendered)
    }

    fn keep_visible(&self, viewer: Viewer, folders: &mut Vec<Folder>) {
        folders.retain(|f| self.can_see_folder(viewer, f.id));
        for folder in folders {
            if let Some(children) = folder.child_folders.as_mut() {
                self.keep_visible(viewer, children);
            }
        }
    }

    /// `GET /folders/0?folderPath=\A\B`: the folder at this path (case-insensitive).
    ///
    /// # Errors
    /// `API_FolderNotFound` when no folder has this path; access denied as [`Store::get_folder`].
    pub fn get_folder_by_path(&self, viewer: Viewer, path: &str, children: bool) -> SimResult<Folder> {
        let mut parent = ROOT_FOLDER_ID;
        let mut found = None;
        for name in path.split('\\').filter(|s| !s.is_empty()) {
            let folder = self.child_folder_by_name(parent, name).ok_or(SimError::NotFound(Thing::Folder, 0))?;
            parent = folder.id;
            found = Some(folder);
        }
        let found = found.ok_or(SimError::NotFound(Thing::Folder, 0))?;
        self.get_folder(viewer, found.id, children)
    }

    /// Edit or Owner on `parent`, and not a personal folder; at the root, `root_allowed` (the
    /// Create Root Folders role permission, which the route knows).
    fn check_may_add_under(&self, viewer: Viewer, parent: i64, root_allowed: bool) -> SimResult<()> {
        if parent == ROOT_FOLDER_ID {
            return if root_allowed || viewer.unlimited {
                Ok(())
            } else {
                Err(SimError::denied("role permission \"Create Root Folders\""))
            };
        }
        if self.folder(parent).is_some_and(|p| p.personal) {
            return Err(SimError::denied(format!("folder {parent} is a personal folder: it takes no subfolder")));
        }
        if !self.can_edit_folder(viewer, parent) {
            return Err(SimError::denied(format!("Edit or Owner on folder {parent}")));
        }
        Ok(())
    }

    /// Owner on `folder`, and not a personal folder.
    pub(crate) fn check_owns_folder(&self, viewer: Viewer, folder: &FolderRec) -> SimResult<()> {
        if folder.personal {
            return Err(SimError::denied(format!("folder {} is a personal folder", folder.id)));
        }
        if !self.owns_folder(viewer, folder.id) {
            return Err(SimError::denied(format!("Owner on folder {}", folder.id)));
        }
        Ok(())
    }

    /// The changes that give `user` a personal folder (and create `\Personal Folders` first when
    /// it does not exist yet): owned by the user alone. Application accounts get none.
    pub fn personal_folder_changes(&self, user: &User) -> Vec<Change> {
        if user.is_application_account {
            return Vec::new();
        }
        let mut folder_ids = IdAlloc::new(self.next.folder);
        let mut changes = Vec::new();
        let root = match self.child_folder_by_name(ROOT_FOLDER_ID, PERSONAL_FOLDERS) {
            Some(root) => root.id,
            None => {
                let id = folder_ids.take();
                changes.push(Change::PutFolder(FolderRec {
                    id,
                    folder_name: PERSONAL_FOLDERS.to_owned(),
                    parent_folder_id: ROOT_FOLDER_ID,
                    folder_type_id: 1,
                    inherit_permissions: false,
                    inherit_secret_policy: false,
                    secret_policy_id: None,
                    personal: true,
                }));
                id
            }
        };
        let name = match self.domain_name(user.domain_id) {
            Some(domain) => format!("{} ({domain})", user.user_name),
            None => user.user_name.clone(),
        };
        if self.child_folder_by_name(root, &name).is_some() {
            return changes;
        }
        let id = folder_ids.take();
        changes.push(Change::PutFolder(FolderRec {
            id,
            folder_name: name,
            parent_folder_id: root,
            folder_type_id: 1,
            inherit_permissions: false,
            inherit_secret_policy: false,
            secret_policy_id: None,
            personal: true,
        }));
        changes.push(Change::PutFolderPermission(FolderPermRec {
            id: self.next.folder_permission,
            folder_id: id,
            principal: Principal::User(user.id),
            folder_role: FolderAccessRole::Owner,
            secret_role: SecretAccessRole::Owner,
        }));
        changes
    }

    fn check_parent(&self, parent_folder_id: i64) -> SimResult<()> {
        if parent_folder_id != ROOT_FOLDER_ID && self.folder(parent_folder_id).is_none() {
            return Err(SimError::NotFound(Thing::Folder, parent_folder_id));
        }
        Ok(())
    }

    fn check_unique_folder_name(&self, parent: i64, name: &str, except: Option<i64>) -> SimResult<()> {
        match self.child_folder_by_name(parent, name) {
            Some(existing) if Some(existing.id) != except => Err(SimError::rule(
                "API_DuplicateFolderName",
                format!("A folder named '{}' already exists in this folder.", name.trim()),
            )),
            _ => Ok(()),
        }
    }

    /// The changes that give `folder_id` explicit copies of the permissions it inherits now
    /// (from its parent's permission source).
    pub(crate) fn copy_inherited_permissions(&self, folder_id: i64, parent_id: i64, ids: &mut IdAlloc) -> Vec<Change> {
        if parent_id == ROOT_FOLDER_ID {
            return Vec::new();
        }
        self.effective_folder_permissions(parent_id)
            .into_iter()
            .map(|p| Change::PutFolderPermission(FolderPermRec { id: ids.take(), folder_id, ..p.clone() }))
            .collect()
    }

    /// Plans `POST /folders`, created by `creator` (the caller; `root_allowed`: whether it has the
    /// Create Root Folders role permission).
    ///
    /// # Errors
    /// A missing or invalid name, an unknown parent, a duplicate sibling name, a root folder that
    /// asks to inherit permissions; access denied without Edit or Owner on the parent, or under a
    /// personal folder.
    pub fn plan_create_folder(
        &self,
        args: FolderCreateArgs,
        creator: Viewer,
        root_allowed: bool,
    ) -> SimResult<(Vec<Change>, i64)> {
        check_folder_name(&args.folder_name)?;
        let parent = if args.parent_folder_id == 0 { ROOT_FOLDER_ID } else { args.parent_folder_id };
        self.check_parent(parent)?;
        self.check_may_add_under(creator, parent, root_allowed)?;
        if parent == ROOT_FOLDER_ID && args.inherit_permissions {
            return Err(root_cannot_inherit());
        }
        self.check_unique_folder_name(parent, &args.folder_name, None)?;
        let id = self.next.folder;
        let folder = FolderRec {
            id,
            folder_name: args.folder_name.trim().to_owned(),
            parent_folder_id: parent,
            folder_type_id: if args.folder_type_id <= 0 { 1 } else { args.folder_type_id },
            inherit_permissions: args.inherit_permissions,
            inherit_secret_policy: args.inherit_secret_policy && parent != ROOT_FOLDER_ID,
            secret_policy_id: args.secret_policy_id.filter(|p| *p > 0),
            personal: false,
        };
        let mut changes = vec![Change::PutFolder(folder)];
        if !args.inherit_permissions && self.user(creator.user_id).is_some() {
            changes.push(Change::PutFolderPermission(FolderPermRec {
                id: self.next.folder_permission,
                folder_id: id,
                principal: Principal::User(creator.user_id),
                folder_role: FolderAccessRole::Owner,
                secret_role: SecretAccessRole::Owner,
            }));
        }
        Ok((changes, id))
    }

    /// Plans `PUT /folders/{id}`: rename, move (`parentFolderId`), change inheritance.
    ///
    /// # Errors
    /// `API_FolderNotFound`, a mismatched `id`, an invalid or duplicate name, an unknown parent, a
    /// move under itself, root inheritance; access denied without Owner on the folder, for a
    /// personal folder, or for a move without Edit or Owner on the new parent.
    pub fn plan_update_folder(
        &self,
        viewer: Viewer,
        id: i64,
        args: FolderUpdateArgs,
        root_allowed: bool,
    ) -> SimResult<(Vec<Change>, i64)> {
        let current = self.folder(id).ok_or(SimError::NotFound(Thing::Folder, id))?.clone();
        self.check_owns_folder(viewer, &current)?;
        if args.id != 0 && args.id != id {
            return Err(SimError::invalid(
                "id",
                format!("The id in the body ({}) does not match the URL ({id}).", args.id),
            ));
        }
        check_folder_name(&args.folder_name)?;
        let parent = if args.parent_folder_id == 0 { ROOT_FOLDER_ID } else { args.parent_folder_id };
        self.check_parent(parent)?;
        if parent != current.parent_folder_id {
            self.check_may_add_under(viewer, parent, root_allowed)?;
        }
        if parent != ROOT_FOLDER_ID && self.is_same_or_descendant(parent, id) {
            return Err(SimError::rule(
                "API_FolderCannotMoveUnderItself",
                "A folder cannot be moved into itself or one of its subfolders.",
            ));
        }
        if parent == ROOT_FOLDER_ID && args.inherit_permissions {
            return Err(root_cannot_inherit());
        }
        self.check_unique_folder_name(parent, &args.folder_name, Some(id))?;
        let mut changes = Vec::new();
        let mut ids = IdAlloc::new(self.next.folder_permission);
        match (current.inherit_permissions, args.inherit_permissions) {
            // Breaking inheritance keeps what the folder had: its parent's effective permissions.
            (true, false) => changes.extend(self.copy_inherited_permissions(id, current.parent_folder_id, &mut ids)),
            // Inheriting again replaces the folder's own permissions with the parent's.
            (false, true) => changes.extend(
                self.folder_permissions_on(id).map(|p| Change::DeleteFolderPermission { id: p.id }).collect::<Vec<_>>(),
            ),
            _ => {}
        }
        let folder = FolderRec {
            id,
            folder_name: args.folder_name.trim().to_owned(),
            parent_folder_id: parent,
            folder_type_id: if args.folder_type_id <= 0 { current.folder_type_id } else { args.folder_type_id },
            inherit_permissions: args.inherit_permissions,
            inherit_secret_policy: args.inherit_secret_policy && parent != ROOT_FOLDER_ID,
            secret_policy_id: args.secret_policy_id.filter(|p| *p > 0),
            personal: current.personal,
        };
        changes.insert(0, Change::PutFolder(folder));
        Ok((changes, id))
    }

    /// Plans `DELETE /folders/{id}`.
    ///
    /// # Errors
    /// `API_FolderNotFound`; `API_FolderNotEmpty` when it has child folders or secrets; access
    /// denied without Owner on it, or for a personal folder.
    pub fn plan_delete_folder(&self, viewer: Viewer, id: i64) -> SimResult<(Vec<Change>, DeleteResult)> {
        let folder = self.folder(id).ok_or(SimError::NotFound(Thing::Folder, id))?;
        self.check_owns_folder(viewer, folder)?;
        let has_children = self.child_folders(id).next().is_some();
        let has_secrets = self.secrets_by_folder.get(&id).is_some_and(|s| !s.is_empty());
        if has_children || has_secrets {
            return Err(SimError::rule(
                "API_FolderNotEmpty",
                format!(
                    "Folder '{}' cannot be deleted: it contains {}.",
                    folder.folder_name,
                    match (has_children, has_secrets) {
                        (true, true) => "folders and secrets",
                        (true, false) => "folders",
                        _ => "secrets",
                    }
                ),
            ));
        }
        Ok((
            vec![Change::DeleteFolder { id }],
            DeleteResult { id, object_type: "Folder".to_owned(), response_codes: Vec::new() },
        ))
    }
}

/// The folder `GET /folders/stub` returns: a new folder at the root.
pub fn folder_stub() -> Folder {
    Folder {
        id: 0,
        folder_name: String::new(),
        folder_path: String::new(),
        parent_folder_id: ROOT_FOLDER_ID,
        folder_type_id: 1,
        inherit_permissions: false,
        inherit_secret_policy: false,
        secret_policy_id: None,
        child_folders: None,
    }
}
