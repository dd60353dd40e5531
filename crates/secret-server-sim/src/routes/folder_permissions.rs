//! `/api/v1/folder-permissions`: search (`filter.folderId`, also spelled
//! `filter.folderid`; `filter.userId`; `filter.groupId`), stub, get, create
//! (`breakInheritance`), update (roles), delete.

use super::parse_body;
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::permissions::{FOLDER_PERMISSION_SORT, FolderPermissionFilter};
use crate::store::search::Paging;
use actix_web::web::{self, Json};
use secret_server_api::{
    DeleteResult, FolderPermission, FolderPermissionCreateArgs, FolderPermissionUpdateArgs, PagedResult,
};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/folder-permissions").route(web::get().to(search)).route(web::post().to(create)))
        .service(web::resource("/folder-permissions/stub").route(web::get().to(stub)))
        .service(
            web::resource("/folder-permissions/{id}")
                .route(web::get().to(get))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        );
}

async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<FolderPermission>>> {
    let filter = FolderPermissionFilter {
        folder_id: query.int("filter.folderid")?,
        user_id: query.int("filter.userid")?,
        group_id: query.int("filter.groupid")?,
    };
    let paging = Paging::from_query(&query, FOLDER_PERMISSION_SORT)?;
    Ok(Json(db.read(|s| s.search_folder_permissions(caller.viewer(), filter, &paging))))
}

async fn stub(_: Caller, query: Query) -> SimResult<Json<FolderPermission>> {
    let folder_id = match query.int("folderid")? {
        Some(id) => id,
        None => query.int("filter.folderid")?.unwrap_or(0),
    };
    Ok(Json(FolderPermission {
        folder_id,
        folder_access_role_id: secret_server_api::FolderAccessRole::View.id(),
        folder_access_role_name: "View".to_owned(),
        secret_access_role_id: secret_server_api::SecretAccessRole::View.id(),
        secret_access_role_name: "View".to_owned(),
        ..FolderPermission::default()
    }))
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<FolderPermission>> {
    Ok(Json(db.read(|s| s.get_folder_permission(caller.viewer(), *id))?))
}

/// Changing a folder's permissions needs Owner on the folder (checked by the store), and no role
/// permission beyond it.
async fn create(caller: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<FolderPermission>> {
    let args: FolderPermissionCreateArgs = parse_body(&body)?;
    let viewer = caller.viewer();
    let perm =
        db.mutate(|s| s.plan_create_folder_permission(viewer, args), |s, id| s.get_folder_permission(viewer, id))?;
    tracing::info!(permission_id = perm.id, folder_id = perm.folder_id, "folder permission created");
    Ok(Json(perm))
}

async fn update(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<FolderPermission>> {
    let args: FolderPermissionUpdateArgs = parse_body(&body)?;
    let (id, viewer) = (*id, caller.viewer());
    Ok(Json(
        db.mutate(|s| s.plan_update_folder_permission(viewer, id, args), |s, id| s.get_folder_permission(viewer, id))?,
    ))
}

/// `?breakInheritance=` is accepted: a stored permission always belongs to a folder that does not
/// inherit, so there is nothing left to break.
async fn delete(caller: Caller, db: web::Data<Db>, id: web::Path<i64>, query: Query) -> SimResult<Json<DeleteResult>> {
    query.flag("breakinheritance", false)?;
    let (id, viewer) = (*id, caller.viewer());
    Ok(Json(db.mutate(|s| s.plan_delete_folder_permission(viewer, id), |_, result| Ok(result))?))
}
