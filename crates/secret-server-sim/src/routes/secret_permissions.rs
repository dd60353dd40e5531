//! `/api/v1/secret-permissions`: search (`filter.secretId`, `filter.userId`,
//! `filter.groupId`, `filter.userName`, `filter.groupName`,
//! `filter.domainName`), get, create, update, delete.

use super::parse_body;
use crate::access::{READ_SECRETS, SHARE_SECRETS};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::permissions::{SECRET_PERMISSION_SORT, SecretPermissionFilter};
use crate::store::search::Paging;
use actix_web::web::{self, Json};
use secret_server_api::{
    DeleteResult, PagedResult, SecretPermission, SecretPermissionCreateArgs, SecretPermissionUpdateArgs,
};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/secret-permissions").route(web::get().to(search)).route(web::post().to(create)))
        .service(
            web::resource("/secret-permissions/{id}")
                .route(web::get().to(get))
                .route(web::put().to(update))
                .route(web::delete().to(delete)),
        );
}

async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<SecretPermission>>> {
    caller.require(READ_SECRETS)?;
    let lower = |key: &str| query.get(key).map(|v| v.trim().to_lowercase());
    let filter = SecretPermissionFilter {
        secret_id: query.int("filter.secretid")?,
        user_id: query.int("filter.userid")?,
        group_id: query.int("filter.groupid")?,
        user_name: lower("filter.username"),
        group_name: lower("filter.groupname"),
        domain_name: lower("filter.domainname"),
    };
    let paging = Paging::from_query(&query, SECRET_PERMISSION_SORT)?;
    Ok(Json(db.read(|s| s.search_secret_permissions(caller.viewer(), &filter, &paging))))
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<SecretPermission>> {
    caller.require(READ_SECRETS)?;
    Ok(Json(db.read(|s| s.get_secret_permission(caller.viewer(), *id))?))
}

async fn create(caller: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<SecretPermission>> {
    caller.require(SHARE_SECRETS)?;
    let args: SecretPermissionCreateArgs = parse_body(&body)?;
    let viewer = caller.viewer();
    Ok(Json(db.mutate(|s| s.plan_create_secret_permission(viewer, args), |s, id| s.get_secret_permission(viewer, id))?))
}

async fn update(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SecretPermission>> {
    caller.require(SHARE_SECRETS)?;
    let args: SecretPermissionUpdateArgs = parse_body(&body)?;
    let (id, viewer) = (*id, caller.viewer());
    Ok(Json(
        db.mutate(|s| s.plan_update_secret_permission(viewer, id, args), |s, id| s.get_secret_permission(viewer, id))?,
    ))
}

async fn delete(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    caller.require(SHARE_SECRETS)?;
    let (id, viewer) = (*id, caller.viewer());
    Ok(Json(db.mutate(|s| s.plan_delete_secret_permission(viewer, id), |_, result| Ok(result))?))
}
