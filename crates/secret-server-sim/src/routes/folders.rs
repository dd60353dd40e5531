//! `/api/v1/folders`: search (`filter.parentFolderId`, `filter.searchText`,
//! `filter.folderTypeId`), lookup (`filter.limitToDirectDescendents` with a
//! parent), stub, get (`getAllChildren`; `GET /folders/0?folderPath=\A\B`),
//! create, update (rename, move, inheritance), delete.

use super::{parse_body, search_text};
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

async fn search(_: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Folder>>> {
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, FOLDER_SORT)?;
    Ok(Json(db.read(|s| s.search_folders(&filter, &paging))))
}

async fn lookup(_: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Lookup>>> {
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, FOLDER_SORT)?;
    Ok(Json(db.read(|s| s.lookup_folders(&filter, &paging))))
}

async fn stub(_: Caller) -> Json<Folder> {
    Json(folder_stub())
}

async fn get(_: Caller, db: web::Data<Db>, id: web::Path<i64>, query: Query) -> SimResult<Json<Folder>> {
    let children = query.flag("getallchildren", false)?;
    let folder = match (*id, query.get("folderpath")) {
        (0, Some(path)) => db.read(|s| s.get_folder_by_path(path, children))?,
        (id, _) => db.read(|s| s.get_folder(id, children))?,
    };
    Ok(Json(folder))
}

async fn create(caller: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<Folder>> {
    let args: FolderCreateArgs = parse_body(&body)?;
    // The create response carries `childFolders` (empty for a new folder).
    let folder = db.mutate(|s| s.plan_create_folder(args, caller.user_id), |s, id| s.get_folder(id, true))?;
    tracing::info!(folder_id = folder.id, "folder created");
    Ok(Json(folder))
}

async fn update(_: Caller, db: web::Data<Db>, id: web::Path<i64>, body: web::Bytes) -> SimResult<Json<Folder>> {
    let args: FolderUpdateArgs = parse_body(&body)?;
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_update_folder(id, args), |s, id| s.get_folder(id, false))?))
}

async fn delete(_: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_delete_folder(id), |_, result| Ok(result))?))
}
