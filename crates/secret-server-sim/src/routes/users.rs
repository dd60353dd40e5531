//! `/api/v1/users`: search, lookup, current, stub, get, create, update, patch,
//! delete (deactivate), and `/users/{id}/groups` (list, add, replace, remove).

use super::{RuntimeConfig, parse_body, search_text};
use crate::access::{READ_USERS, WRITE_USERS};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::search::Paging;
use crate::store::users::{MEMBERSHIP_SORT, USER_SORT, UserFilter};
use crate::store::{Change, Store};
use actix_web::web::{self, Json};
use secret_server_api::{
    CurrentUser, DeleteResult, GroupMembership, Lookup, PagedResult, RolePermissionName, SuccessResult, User,
    UserCreateArgs, UserPatchArgs, UserSummary,
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

async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<UserSummary>>> {
    caller.require(READ_USERS)?;
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, USER_SORT)?;
    Ok(Json(db.read(|s| s.search_users(&filter, &paging))))
}

async fn lookup(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Lookup>>> {
    caller.require(READ_USERS)?;
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, USER_SORT)?;
    Ok(Json(db.read(|s| s.lookup_users(&filter, &paging))))
}

/// `GET /users/current`: the token's own user with the role permissions it holds (the API
/// account's, by default `crate::access::DEFAULT_API_ACCOUNT_PERMISSIONS`; another user's, those
/// of its roles). Needs no role permission.
async fn current(caller: Caller, db: web::Data<Db>) -> SimResult<Json<CurrentUser>> {
    let user = db.read(|s| s.get_user(caller.user_id))?;
    Ok(Json(CurrentUser {
        id: user.id,
        user_name: user.user_name,
        display_name: user.display_name,
        email_address: user.email_address,
        permissions: caller.permissions().into_iter().map(|name| RolePermissionName { name }).collect(),
    }))
}

async fn stub(_: Caller) -> Json<User> {
    Json(User { id: 0, enabled: true, domain_id: crate::store::LOCAL_DOMAIN_ID, ..User::default() })
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<User>> {
    // A user reads its own record without View Users (as `/users/current` shows it).
    if caller.user_id != *id {
        caller.require(READ_USERS)?;
    }
    Ok(Json(db.read(|s| s.get_user(*id))?))
}

async fn create(
    caller: Caller,
    db: web::Data<Db>,
    config: web::Data<RuntimeConfig>,
    body: web::Bytes,
) -> SimResult<Json<User>> {
    caller.require(WRITE_USERS)?;
    let args: UserCreateArgs = parse_body(&body)?;
    let user = db.mutate(
        |s| {
            let planned = s.plan_create_user(args, &config.password_policy)?;
            s.check_license(config.user_licenses, takes_a_license(s, &planned.0))?;
            Ok(planned)
        },
        |s, id| s.get_user(id),
    )?;
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
    caller.require(WRITE_USERS)?;
    let value = super::body_value(&body)?;
    let id = *id;
    let user = db.mutate(
        |s| {
            let planned = s.plan_update_user(id, &value, &config.password_policy, caller.user_id)?;
            s.check_license(config.user_licenses, takes_a_license(s, &planned.0))?;
            Ok(planned)
        },
        |s, id| s.get_user(id),
    )?;
    Ok(Json(user))
}

async fn patch(
    caller: Caller,
    db: web::Data<Db>,
    config: web::Data<RuntimeConfig>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<User>> {
    caller.require(WRITE_USERS)?;
    let args: UserPatchArgs = parse_body(&body)?;
    let id = *id;
    let user = db.mutate(
        |s| {
            let planned = s.plan_patch_user(id, args, &config.password_policy, caller.user_id)?;
            s.check_license(config.user_licenses, takes_a_license(s, &planned.0))?;
            Ok(planned)
        },
        |s, id| s.get_user(id),
    )?;
    Ok(Json(user))
}

/// Whether planned changes make a user take a licence it did not: enabled and not an application
/// account now, and not both before (or not there at all).
fn takes_a_license(store: &Store, changes: &[Change]) -> bool {
    let licensed = |u: &User| u.enabled && !u.is_application_account;
    changes.iter().any(|change| match change {
        Change::PutUser(after) => licensed(after) && !store.user(after.id).is_some_and(licensed),
        _ => false,
    })
}

async fn delete(
    caller: Caller,
    db: web::Data<Db>,
    config: web::Data<RuntimeConfig>,
    id: web::Path<i64>,
) -> SimResult<Json<DeleteResult>> {
    caller.require(WRITE_USERS)?;
    let id = *id;
    let lenient = config.leniency.delete_inactive_user;
    Ok(Json(db.mutate(|s| s.plan_delete_user(id, caller.user_id, lenient), |_, result| Ok(result))?))
}

async fn groups(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<PagedResult<GroupMembership>>> {
    // Any user may list its own groups (Secret Server shows a user its own group memberships
    // without View Users); another user's need View Users or Administer Users.
    if caller.user_id != *id {
        caller.require(READ_USERS)?;
    }
    let paging = Paging::from_query(&query, MEMBERSHIP_SORT)?;
    Ok(Json(db.read(|s| s.search_user_groups(*id, &paging))?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupIds {
    group_ids: Vec<i64>,
}

async fn add_groups(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(WRITE_USERS)?;
    let args: GroupIds = parse_body(&body)?;
    let id = *id;
    db.mutate(|s| Ok((s.plan_add_user_groups(id, &args.group_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}

async fn replace_groups(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(WRITE_USERS)?;
    let args: GroupIds = parse_body(&body)?;
    let id = *id;
    db.mutate(|s| Ok((s.plan_replace_user_groups(id, &args.group_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}

async fn remove_groups(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<SuccessResult>> {
    caller.require(WRITE_USERS)?;
    let group_ids = query.ints("groupids")?;
    let id = *id;
    db.mutate(|s| Ok((s.plan_remove_user_groups(id, &group_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}
