//! `/api/v1/secret-permissions`: search (`filter.secretId`, `filter.userId`,
//! `filter.groupId`, `filter.userName`, `filter.groupName`,
//! `filter.domainName`), get, create, update, delete.

use super::parse_body;
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

async fn search(_: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<SecretPermission>>> {
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
    Ok(Json(db.read(|s| s.search_secret_permissions(&filter, &paging))))
}

async fn get(_: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<SecretPermission>> {
    Ok(Json(db.read(|s| s.get_secret_permission(*id))?))
}

async fn create(_: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<SecretPermission>> {
    let args: SecretPermissionCreateArgs = parse_body(&body)?;
    Ok(Json(db.mutate(|s| s.plan_create_secret_permission(args), |s, id| s.get_secret_permission(id))?))
}

async fn update(
    _: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SecretPermission>> {
    let args: SecretPermissionUpdateArgs = parse_body(&body)?;
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_update_secret_permission(id, args), |s, id| s.get_secret_permission(id))?))
}

async fn delete(_: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_delete_secret_permission(id), |_, result| Ok(result))?))
}
