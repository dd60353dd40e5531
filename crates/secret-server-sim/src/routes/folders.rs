//! `/api/v1/folders`: search (`filter.parentFolderId`, `filter.searchText`,
//! `filter.folderTypeId`), lookup (`filter.limitToDirectDescendents` with a
//! parent), stub, get (`getAllChildren`; `GET /folders/0?folderPath=\A\B`),
//! create, update (rename, move, inheritance), delete.

use super::{parse_body, search_text};
use crate::access::{ROOT_FOLDERS, WRITE_FOLDERS};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::folders::{FOLDER_SORT, FolderFilter, folder_stub};
use crate::store::search::Paging;
use actix_web::web::{self, Json};
use secret_server_api::{DeleteResult, Folder, FolderCreateArgs, FolderUpdateArgs, Lookup, PagedResult};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/folders").route(web::get().to(search)).route(web::post().to(create)))
        .service(web::resource("/folders/lookup").route(web::get().to(lookup)))
        .service(web::resource("/folders/stub").route(web::get().to(stub)))
        .service(
            web::resource("/folders/{id}")
                .route(web::get().to(get))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        );
}

fn filter(query: &Query) -> SimResult<FolderFilter> {
    Ok(FolderFilter {
        search_text: search_text(query),
        parent_folder_id: query.int("filter.parentfolderid")?,
        folder_type_id: query.int("filter.foldertypeid")?,
    })
}

/// Folders need no role permission to be read: folder permissions decide what is listed.
async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Folder>>> {
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, FOLDER_SORT)?;
    Ok(Json(db.read(|s| s.search_folders(caller.viewer(), &filter, &paging))))
}

async fn lookup(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Lookup>>> {
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, FOLDER_SORT)?;
    Ok(Json(db.read(|s| s.lookup_folders(caller.viewer(), &filter, &paging))))
}

async fn stub(_: Caller) -> Json<Folder> {
    Json(folder_stub())
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>, query: Query) -> SimResult<Json<Folder>> {
    let children = query.flag("getallchildren", false)?;
    let viewer = caller.viewer();
    let folder = match (*id, query.get("folderpath")) {
        (0, Some(path)) => db.read(|s| s.get_folder_by_path(viewer, path, children))?,
        (id, _) => db.read(|s| s.get_folder(viewer, id, children))?,
    };
    Ok(Json(folder))
}

async fn create(caller: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<Folder>> {
    caller.require(WRITE_FOLDERS)?;
    let args: FolderCreateArgs = parse_body(&body)?;
    let (viewer, root) = (caller.viewer(), caller.has(ROOT_FOLDERS));
    // The create response carries `childFolders` (empty for a new folder).
    let folder = db.mutate(|s| s.plan_create_folder(args, viewer, root), |s, id| s.get_folder(viewer, id, true))?;
    tracing::info!(folder_id = folder.id, "folder created");
    Ok(Json(folder))
}

async fn update(caller: Caller, db: web::Data<Db>, id: web::Path<i64>, body: web::Bytes) -> SimResult<Json<Folder>> {
    caller.require(WRITE_FOLDERS)?;
    let args: FolderUpdateArgs = parse_body(&body)?;
    let (id, viewer, root) = (*id, caller.viewer(), caller.has(ROOT_FOLDERS));
    Ok(Json(db.mutate(|s| s.plan_update_folder(viewer, id, args, root), |s, id| s.get_folder(viewer, id, false))?))
}

async fn delete(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    caller.require(WRITE_FOLDERS)?;
    let (id, viewer) = (*id, caller.viewer());
    Ok(Json(db.mutate(|s| s.plan_delete_folder(viewer, id), |_, result| Ok(result))?))
}
