//! `/api/v1/users`: search, lookup, current, stub, get, create, update, patch,
//! delete (deactivate), and `/users/{id}/groups` (list, add, replace, remove).

use super::{RuntimeConfig, parse_body, search_text};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::{SimError, SimResult};
use crate::query::Query;
use crate::store::search::Paging;
use crate::store::users::{MEMBERSHIP_SORT, USER_SORT, UserFilter};
use actix_web::web::{self, Json};
use secret_server_api::{
    DeleteResult, GroupMembership, Lookup, PagedResult, SuccessResult, User, UserCreateArgs, UserPatchArgs, UserSummary,
};
use serde::Deserialize;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::get().to(search)).route(web::post().to(create)))
        .service(web::resource("/users/lookup").route(web::get().to(lookup)))
        .service(web::resource("/users/current").route(web::get().to(current)))
        .service(web::resource("/users/stub").route(web::get().to(stub)))
        .service(
            web::resource("/users/{id}")
                .route(web::get().to(get))
                .route(web::put().to(update))
                .route(web::patch().to(patch))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/users/{id}/groups")
                .route(web::get().to(groups))
                .route(web::post().to(add_groups))
                .route(web::put().to(replace_groups))
                .route(web::delete().to(remove_groups)),
        );
}

fn filter(query: &Query) -> SimResult<UserFilter> {
    Ok(UserFilter {
        search_text: search_text(query),
        include_inactive: query.flag("filter.includeinactive", false)?,
        domain_id: query.int("filter.domainid")?,
        search_fields: query.all("filter.searchfields").into_iter().map(str::to_owned).collect(),
    })
}

async fn search(_: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<UserSummary>>> {
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, USER_SORT)?;
    Ok(Json(db.read(|s| s.search_users(&filter, &paging))))
}

async fn lookup(_: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Lookup>>> {
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, USER_SORT)?;
    Ok(Json(db.read(|s| s.lookup_users(&filter, &paging))))
}

/// The role permissions the API account reports (those the SCIM connector's application account needs).
const API_ACCOUNT_PERMISSIONS: &[&str] = &[
    "Add Secret",
    "Administer Folders",
    "Administer Groups",
    "Administer Role Permissions",
    "Administer Users",
    "Create Root Folders",
    "Own Secret",
    "View Groups",
    "View Roles",
    "View Secret",
    "View Users",
];

async fn current(caller: Caller, db: web::Data<Db>) -> SimResult<Json<serde_json::Value>> {
    let user = db.read(|s| s.get_user(caller.user_id))?;
    let mut value = serde_json::to_value(&user).map_err(|e| SimError::Internal(e.to_string()))?;
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "permissions".to_owned(),
            API_ACCOUNT_PERMISSIONS.iter().map(|name| serde_json::json!({ "name": name })).collect(),
        );
    }
    Ok(Json(value))
}

async fn stub(_: Caller) -> Json<User> {
    Json(User { id: 0, enabled: true, domain_id: crate::store::LOCAL_DOMAIN_ID, ..User::default() })
}

async fn get(_: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<User>> {
    Ok(Json(db.read(|s| s.get_user(*id))?))
}

async fn create(
    _: Caller,
    db: web::Data<Db>,
    config: web::Data<RuntimeConfig>,
    body: web::Bytes,
) -> SimResult<Json<User>> {
    let args: UserCreateArgs = parse_body(&body)?;
    let user = db.mutate(|s| s.plan_create_user(args, &config.password_policy), |s, id| s.get_user(id))?;
    tracing::info!(user_id = user.id, "user created");
    Ok(Json(user))
}

async fn update(
    caller: Caller,
    db: web::Data<Db>,
    config: web::Data<RuntimeConfig>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<User>> {
    let value = super::body_value(&body)?;
    let id = *id;
    let user =
        db.mutate(|s| s.plan_update_user(id, &value, &config.password_policy, caller.user_id), |s, id| s.get_user(id))?;
    Ok(Json(user))
}

async fn patch(
    caller: Caller,
    db: web::Data<Db>,
    config: web::Data<RuntimeConfig>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<User>> {
    let args: UserPatchArgs = parse_body(&body)?;
    let id = *id;
    Ok(Json(
        db.mutate(|s| s.plan_patch_user(id, args, &config.password_policy, caller.user_id), |s, id| s.get_user(id))?,
    ))
}

async fn delete(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_delete_user(id, caller.user_id), |_, result| Ok(result))?))
}

async fn groups(
    _: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<PagedResult<GroupMembership>>> {
    let paging = Paging::from_query(&query, MEMBERSHIP_SORT)?;
    Ok(Json(db.read(|s| s.search_user_groups(*id, &paging))?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupIds {
    group_ids: Vec<i64>,
}

async fn add_groups(
    _: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    let args: GroupIds = parse_body(&body)?;
    let id = *id;
    db.mutate(|s| Ok((s.plan_add_user_groups(id, &args.group_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}

async fn replace_groups(
    _: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    let args: GroupIds = parse_body(&body)?;
    let id = *id;
    db.mutate(|s| Ok((s.plan_replace_user_groups(id, &args.group_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}

async fn remove_groups(
    _: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<SuccessResult>> {
    let group_ids = query.ints("groupids")?;
    let id = *id;
    db.mutate(|s| Ok((s.plan_remove_user_groups(id, &group_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}
