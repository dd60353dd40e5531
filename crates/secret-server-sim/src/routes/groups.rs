//! `/api/v1/groups`: search, lookup, get, create, update, patch, delete, and
//! membership: `/groups/{id}/users` (list, add, replace, patch: add and remove several) and
//! `/groups/{id}/users/{userId}` (get, remove).

use super::{parse_body, search_text};
use crate::access::{READ_GROUPS, WRITE_GROUPS};
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::groups::{GROUP_SORT, GroupFilter, MemberFilter};
use crate::store::search::Paging;
use crate::store::users::MEMBERSHIP_SORT;
use actix_web::web::{self, Json};
use secret_server_api::{
    DeleteResult, Group, GroupCreateArgs, GroupMembership, GroupPatchArgs, GroupSummary, GroupUpdateArgs, Lookup,
    MemberAddArgs, MembersPatchArgs, MembersReplaceArgs, PagedResult, SuccessResult,
};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/groups").route(web::get().to(search)).route(web::post().to(create)))
        .service(web::resource("/groups/lookup").route(web::get().to(lookup)))
        .service(
            web::resource("/groups/{id}")
                .route(web::get().to(get))
                .route(web::put().to(update))
                .route(web::patch().to(patch))
                .route(web::delete().to(delete)),
        )
        .service(
            web::resource("/groups/{id}/users")
                .route(web::get().to(members))
                .route(web::post().to(add_member))
                .route(web::put().to(replace_members))
                .route(web::patch().to(patch_members)),
        )
        .service(
            web::resource("/groups/{id}/users/{user_id}")
                .route(web::get().to(membership))
                .route(web::delete().to(remove_member)),
        );
}

fn filter(query: &Query) -> SimResult<GroupFilter> {
    Ok(GroupFilter {
        search_text: search_text(query),
        include_inactive: query.flag("filter.includeinactive", false)?,
        domain_id: query.int("filter.domainid")?,
    })
}

async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<GroupSummary>>> {
    caller.require(READ_GROUPS)?;
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, GROUP_SORT)?;
    Ok(Json(db.read(|s| s.search_groups(&filter, &paging))))
}

async fn lookup(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Lookup>>> {
    caller.require(READ_GROUPS)?;
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, GROUP_SORT)?;
    Ok(Json(db.read(|s| s.lookup_groups(&filter, &paging))))
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<Group>> {
    caller.require(READ_GROUPS)?;
    Ok(Json(db.read(|s| s.get_group(*id))?))
}

async fn create(caller: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<Group>> {
    caller.require(WRITE_GROUPS)?;
    let args: GroupCreateArgs = parse_body(&body)?;
    let group = db.mutate(|s| s.plan_create_group(args), |s, id| s.get_group(id))?;
    tracing::info!(group_id = group.id, "group created");
    Ok(Json(group))
}

async fn update(caller: Caller, db: web::Data<Db>, id: web::Path<i64>, body: web::Bytes) -> SimResult<Json<Group>> {
    caller.require(WRITE_GROUPS)?;
    let args: GroupUpdateArgs = parse_body(&body)?;
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_update_group(id, args), |s, id| s.get_group(id))?))
}

async fn patch(caller: Caller, db: web::Data<Db>, id: web::Path<i64>, body: web::Bytes) -> SimResult<Json<Group>> {
    caller.require(WRITE_GROUPS)?;
    let args: GroupPatchArgs = parse_body(&body)?;
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_patch_group(id, args), |s, id| s.get_group(id))?))
}

async fn delete(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    caller.require(WRITE_GROUPS)?;
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_delete_group(id), |_, result| Ok(result))?))
}

async fn members(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    query: Query,
) -> SimResult<Json<PagedResult<GroupMembership>>> {
    caller.require(READ_GROUPS)?;
    let filter = MemberFilter {
        include_inactive_users: query.flag("filter.includeinactiveusersforgroup", false)?,
        user_domain_id: query.int("filter.userdomainid")?,
    };
    let paging = Paging::from_query(&query, MEMBERSHIP_SORT)?;
    Ok(Json(db.read(|s| s.search_group_members(*id, filter, &paging))?))
}

/// The answer of `POST /groups/{id}/users` (the published `GroupUserModel`): the membership's ids,
/// names and domains, without the member's display name and state that its listings carry.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupUserModel {
    group_id: i64,
    group_name: String,
    group_domain_id: i64,
    user_id: i64,
    user_name: String,
    user_domain_id: i64,
}

async fn add_member(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<GroupUserModel>> {
    caller.require(WRITE_GROUPS)?;
    let args: MemberAddArgs = parse_body(&body)?;
    let group_id = *id;
    let m = db.mutate(
        |s| Ok((s.plan_add_member(group_id, args.user_id)?, args.user_id)),
        |s, user_id| s.get_membership(group_id, user_id),
    )?;
    Ok(Json(GroupUserModel {
        group_id: m.group_id,
        group_name: m.group_name,
        group_domain_id: m.group_domain_id,
        user_id: m.user_id,
        user_name: m.user_name,
        user_domain_id: m.user_domain_id,
    }))
}

async fn replace_members(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(WRITE_GROUPS)?;
    let args: MembersReplaceArgs = parse_body(&body)?;
    let group_id = *id;
    db.mutate(|s| Ok((s.plan_replace_members(group_id, &args.user_ids)?, ())), |_, ()| Ok(()))?;
    Ok(Json(SuccessResult { success: true }))
}

async fn patch_members(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SuccessResult>> {
    caller.require(WRITE_GROUPS)?;
    let args: MembersPatchArgs = parse_body(&body)?;
    let group_id = *id;
    db.mutate(
        |s| Ok((s.plan_patch_members(group_id, &args.added_user_ids, &args.remove_user_ids)?, ())),
        |_, ()| Ok(()),
    )?;
    Ok(Json(SuccessResult { success: true }))
}

async fn membership(caller: Caller, db: web::Data<Db>, ids: web::Path<(i64, i64)>) -> SimResult<Json<GroupMembership>> {
    caller.require(READ_GROUPS)?;
    let (group_id, user_id) = *ids;
    Ok(Json(db.read(|s| s.get_membership(group_id, user_id))?))
}

async fn remove_member(caller: Caller, db: web::Data<Db>, ids: web::Path<(i64, i64)>) -> SimResult<Json<DeleteResult>> {
    caller.require(WRITE_GROUPS)?;
    let (group_id, user_id) = *ids;
    Ok(Json(db.mutate(|s| s.plan_remove_member(group_id, user_id), |_, result| Ok(result))?))
}
