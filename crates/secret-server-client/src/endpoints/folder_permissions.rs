//! Folder permissions: `/api/v1/folder-permissions`.
//!
//! Secret Server versions differ in what a single permission looks like (a
//! full record, or five fields without `id` and `folderId`), so the results
//! of create and update are completed here: by the arguments sent, and for a
//! create without an `id`, by searching for the permission just made.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{FolderPermissionQuery, QueryPairs, ToQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::TryStreamExt;
use futures::stream::BoxStream;
use http::Method;
use secret_server_api::{
    DeleteResult, FolderPermission, FolderPermissionCreateArgs, FolderPermissionUpdateArgs, PagedResult,
};

impl SecretServerClient {
    /// One page of `GET /folder-permissions`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn folder_permissions_page(
        &self,
        query: &FolderPermissionQuery,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<FolderPermission>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::FolderPermissions), query.to_query().page(skip, take))).await
    }

    /// Every folder permission matching `query` (by folder, user or group),
    /// over all pages.
    pub fn search_folder_permissions(
        &self,
        query: &FolderPermissionQuery,
    ) -> BoxStream<'static, Result<FolderPermission, ClientError>> {
        self.stream(ApiPath::fixed(Route::FolderPermissions), query.to_query())
    }

    /// `GET /folder-permissions/{id}`.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn get_folder_permission(&self, id: i64) -> Result<FolderPermission, ClientError> {
        let permission: FolderPermission =
            self.send(Call::get(ApiPath::one(Route::FolderPermission, id), QueryPairs::new())).await?;
        Ok(FolderPermission { id: if permission.id == 0 { id } else { permission.id }, ..permission })
    }

    /// `POST /folder-permissions`: exactly one of `user_id` / `group_id`. On
    /// a folder that inherits permissions, `break_inheritance` must be set.
    ///
    /// # Errors
    /// [`ClientError::BadRequest`] with `API_PermissionsAreInherited` when the
    /// folder inherits and `break_inheritance` is false.
    pub async fn create_folder_permission(
        &self,
        args: &FolderPermissionCreateArgs,
    ) -> Result<FolderPermission, ClientError> {
        let path = ApiPath::fixed(Route::FolderPermissions);
        let created: FolderPermission =
            self.send(Call::json(Method::POST, path, args, Idempotency::NotIdempotent)?).await?;
        let created = completed_from_create(created, args);
        if created.id != 0 {
            return Ok(created);
        }
        // The short response shape has no id: find the permission just made.
        let query =
            FolderPermissionQuery { folder_id: Some(args.folder_id), user_id: args.user_id, group_id: args.group_id };
        let found = self
            .search_folder_permissions(&query)
            .try_filter(|p| futures::future::ready(p.user_id == args.user_id && p.group_id == args.group_id))
            .try_next()
            .await?;
        Ok(found.unwrap_or(created))
    }

    /// `PUT /folder-permissions/{id}` with `args.id`: the roles change, the
    /// user or group cannot.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn update_folder_permission(
        &self,
        args: &FolderPermissionUpdateArgs,
    ) -> Result<FolderPermission, ClientError> {
        let path = ApiPath::one(Route::FolderPermission, args.id);
        let updated: FolderPermission =
            self.send(Call::json(Method::PUT, path, args, Idempotency::Idempotent)?).await?;
        Ok(FolderPermission {
            id: if updated.id == 0 { args.id } else { updated.id },
            folder_id: if updated.folder_id == 0 { args.folder_id } else { updated.folder_id },
            ..updated
        })
    }

    /// `DELETE /folder-permissions/{id}`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn delete_folder_permission(&self, id: i64) -> Result<DeleteResult, ClientError> {
        self.send(Call::delete(ApiPath::one(Route::FolderPermission, id), QueryPairs::new())).await
    }
}

/// Fills what the short response shape leaves out from what was sent.
fn completed_from_create(created: FolderPermission, args: &FolderPermissionCreateArgs) -> FolderPermission {
    let subject_missing = created.user_id.is_none() && created.group_id.is_none();
    FolderPermission {
        folder_id: if created.folder_id == 0 { args.folder_id } else { created.folder_id },
        user_id: if subject_missing { args.user_id } else { created.user_id },
        group_id: if subject_missing { args.group_id } else { created.group_id },
        folder_access_role_name: if created.folder_access_role_name.is_empty() {
            args.folder_access_role_name.clone()
        } else {
            created.folder_access_role_name
        },
        secret_access_role_name: if created.secret_access_role_name.is_empty() {
            args.secret_access_role_name.clone()
        } else {
            created.secret_access_role_name
        },
        ..created
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_create_response_is_completed_from_the_arguments() {
        // The five-field shape documented for some versions.
        let short: FolderPermission = serde_json::from_str(
            r#"{"folderAccessRoleId":1,"folderAccessRoleName":"View","groupId":7,
                "secretAccessRoleId":2,"secretAccessRoleName":"View"}"#,
        )
        .unwrap();
        let args = FolderPermissionCreateArgs {
            folder_id: 12,
            group_id: Some(7),
            folder_access_role_name: "View".into(),
            secret_access_role_name: "View".into(),
            ..FolderPermissionCreateArgs::default()
        };
        let done = completed_from_create(short, &args);
        assert_eq!((done.id, done.folder_id, done.group_id, done.user_id), (0, 12, Some(7), None));
    }

    #[test]
    fn full_create_response_is_kept_as_is() {
        let full = FolderPermission {
            id: 5,
            folder_id: 12,
            user_id: Some(3),
            folder_access_role_name: "Owner".into(),
            secret_access_role_name: "Edit".into(),
            ..FolderPermission::default()
        };
        let args =
            FolderPermissionCreateArgs { folder_id: 99, user_id: Some(4), ..FolderPermissionCreateArgs::default() };
        assert_eq!(completed_from_create(full.clone(), &args), full);
    }
}
