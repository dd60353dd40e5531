//! Roles and their holders: `/roles` (search), `/roles/{id}`, `/roles/{id}/groups`,
//! `/users/{id}/roles` (list, add, replace, remove), `/users/{userId}/roles-assigned`, and
//! `/groups/{id}/roles` (list, add, remove; replace as `PUT /v2/groups/{id}/roles`).

use crate::access::{ASSIGN_ROLES, READ_ROLES};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::roles::{ROLE_GROUP_SORT, ROLE_SORT, ROLE_SUMMARY_SORT, RoleFilter};
use crate::store::search::Paging;
use actix_web::web::{self, Json};
use secret_server_api::{
    GroupMembershipFilter, PagedResult, Role, RoleAssignments, RoleGroupPage, RoleSummary, SuccessResult,
    UserRoleSummary,
};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/roles").route(web::get().to(search)))
        .service(web::resource("/roles/{id}").route(web::get().to(get)))
        .service(web::resource("/roles/{id}/groups").route(web::get().to(role_groups)))
        .service(
            web::resource("/users/{id}/roles")
                .route(web::get().to(user_roles))
                .route(web::post().to(add_user_roles))
                .route(web::put().to(replace_user_roles))
                .route(web::delete().to(remove_user_roles)),
        )
        .service(web::resource("/users/{id}/roles-assigned").route(web::get().to(user_roles_assigned)))
        .service(
            web::resource("/groups/{id}/roles")
                .route(web::get().to(group_roles))
                .route(web::post().to(add_group_roles))
                .route(web::delete().to(remove_group_roles)),
        );
}

async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Role>>> {
    caller.require(READ_ROLES)?;
    let filter = RoleFilter {
        user_id: query.int("filter.userid")?,
        group_id: query.int("filter.groupid")?,
        include_inactive: query.flag("filter.includeinactive", false)?,
    };
    let paging = Paging::from_query(&query, ROLE_SORT)?;
    Ok(Json(db.read(|s| s.search_roles(&filter, &paging))?))
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<Role>> {
    caller.require(READ_ROLES)?;
    Ok(Json(db.read(|s| s.get_role(*id))?))
}

async fn role_groups(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<RoleGroupPage>> {
    caller.require(READ_ROLES)?;
    let filter = GroupMembershipFilter {
        include_inactive_users_for_group: query.flag("filter.includeinactiveusersforgroup", false)?,
        user_domain_id: query.int("filter.userdomainid")?,
    };
    let paging = Paging::from_query(&query, ROLE_GROUP_SORT)?;
    Ok(Json(db.read(|s| s.search_role_groups(*id, filter, &paging))?))
}

async fn user_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<PagedResult<RoleSummary>>> {
    caller.require(READ_ROLES)?;
    let paging = Paging::from_query(&query, ROLE_SUMMARY_SORT)?;
    Ok(Json(db.read(|s| s.search_user_roles(*id, &paging))?))
}

async fn user_roles_assigned(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<PagedResult<UserRoleSummary>>> {
    caller.require(READ_ROLES)?;
    let paging = Paging::from_query(&query, ROLE_SUMMARY_SORT)?;
    Ok(Json(db.read(|s| s.search_user_roles_assigned(*id, &paging))?))
}

async fn group_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<PagedResult<RoleSummary>>> {
    caller.require(READ_ROLES)?;
    let paging = Paging::from_query(&query, ROLE_SUMMARY_SORT)?;
    Ok(Json(db.read(|s| s.search_group_roles(*id, &paging))?))
}

/// `/api/v2`: replacing a group's roles, which 11.7.2 documents only there.
pub(super) fn configure_v2(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/groups/{id}/roles").route(web::put().to(replace_group_roles)));
}

/// `{success: true}` once the planned changes are applied (`RoleChangeStatusModel`).
fn changed(
    db: &Db,
    plan: impl FnOnce(&crate::store::Store) -> SimResult<Vec<crate::store::Change>>,
) -> SimResult<Json<SuccessResult>> {
    db.mutate(|s| Ok((plan(s)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}

async fn add_user_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(ASSIGN_ROLES)?;
    let args: RoleAssignments = super::parse_body(&body)?;
    changed(&db, |s| s.plan_add_user_roles(*id, &args.role_ids))
}

async fn replace_user_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(ASSIGN_ROLES)?;
    let args: RoleAssignments = super::parse_body(&body)?;
    changed(&db, |s| s.plan_replace_user_roles(*id, &args.role_ids, caller.user_id))
}

async fn remove_user_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(ASSIGN_ROLES)?;
    let args: RoleAssignments = super::parse_body(&body)?;
    changed(&db, |s| s.plan_remove_user_roles(*id, &args.role_ids, caller.user_id))
}

async fn add_group_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(ASSIGN_ROLES)?;
    let args: RoleAssignments = super::parse_body(&body)?;
    changed(&db, |s| s.plan_add_group_roles(*id, &args.role_ids))
}

async fn remove_group_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(ASSIGN_ROLES)?;
    let args: RoleAssignments = super::parse_body(&body)?;
    changed(&db, |s| s.plan_remove_group_roles(*id, &args.role_ids))
}

async fn replace_group_roles(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(ASSIGN_ROLES)?;
    let args: RoleAssignments = super::parse_body(&body)?;
    changed(&db, |s| s.plan_replace_group_roles(*id, &args.role_ids))
}
