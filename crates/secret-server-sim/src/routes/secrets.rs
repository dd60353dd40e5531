//! `/api/v1/secrets`: search (`filter.folderId`, `filter.includeSubFolders`,
//! `filter.searchText`, `filter.includeInactive`, `filter.includeActive`,
//! `filter.secretTemplateId`), lookup, `lookup/{id}`, `{id}/summary`,
//! create and delete (deactivate); `PATCH {id}/general` (moving a secret: `data.folder` only;
//! its answer carries no field value); and `GET /secrets/{id}`, which answers with
//! synthetic field values (the request log shows whoever calls it).

use super::{body_value, parse_body, search_text};
use crate::access::READ_SECRETS;
use crate::auth::Caller;
use crate::db::Db;
use crate::error::SimResult;
use crate::query::Query;
use crate::store::search::Paging;
use crate::store::secrets::{SECRET_SORT, SecretCreateArgs, SecretFilter, SecretGeneralView, SyntheticSecret};
use actix_web::web::{self, Json};
use secret_server_api::{DeleteResult, Lookup, PagedResult, SecretGeneralUpdateArgs, SecretSummary};

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/secrets").route(web::get().to(search)).route(web::post().to(create)))
        .service(web::resource("/secrets/lookup").route(web::get().to(lookup)))
        .service(web::resource("/secrets/lookup/{id}").route(web::get().to(lookup_one)))
        .service(web::resource("/secrets/{id}/summary").route(web::get().to(summary)))
        .service(web::resource("/secrets/{id}/general").route(web::patch().to(update_general)))
        .service(web::resource("/secrets/{id}").route(web::get().to(get)).route(web::delete().to(delete)));
}

/// `/api/v2`: the secret search as Secret Server 11.x documents it (`GET /v2/secrets`; its
/// `/v1/secrets` answers only `POST`). The `v1` search stays for older clients (Delinea's Python
/// SDK calls it).
pub(super) fn configure_v2(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/secrets").route(web::get().to(search)));
}

fn filter(query: &Query) -> SimResult<SecretFilter> {
    Ok(SecretFilter {
        folder_id: query.int("filter.folderid")?,
        include_sub_folders: query.flag("filter.includesubfolders", false)?,
        search_text: search_text(query),
        include_inactive: query.flag("filter.includeinactive", false)?,
        include_active: query.flag("filter.includeactive", true)?,
        secret_template_id: query.int("filter.secrettemplateid")?,
    })
}

async fn search(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<SecretSummary>>> {
    caller.require(READ_SECRETS)?;
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, SECRET_SORT)?;
    Ok(Json(db.read(|s| s.search_secrets(caller.viewer(), &filter, &paging))))
}

async fn lookup(caller: Caller, db: web::Data<Db>, query: Query) -> SimResult<Json<PagedResult<Lookup>>> {
    caller.require(READ_SECRETS)?;
    let filter = filter(&query)?;
    let paging = Paging::from_query(&query, SECRET_SORT)?;
    Ok(Json(db.read(|s| s.lookup_secrets(caller.viewer(), &filter, &paging))))
}

async fn lookup_one(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<Lookup>> {
    caller.require(READ_SECRETS)?;
    let secret = db.read(|s| s.secret_summary_for(caller.viewer(), *id))?;
    Ok(Json(Lookup { id: secret.id, value: secret.name }))
}

async fn summary(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<SecretSummary>> {
    caller.require(READ_SECRETS)?;
    Ok(Json(db.read(|s| s.secret_summary_for(caller.viewer(), *id))?))
}

async fn get(caller: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<SyntheticSecret>> {
    tracing::warn!(secret_id = *id, "a secret's field values were requested (synthetic values served)");
    caller.require(READ_SECRETS)?;
    db.read(|s| s.secret_summary_for(caller.viewer(), *id))?;
    Ok(Json(db.read(|s| s.get_synthetic_secret(*id))?))
}

async fn create(_: Caller, db: web::Data<Db>, body: web::Bytes) -> SimResult<Json<SecretSummary>> {
    let args: SecretCreateArgs = parse_body(&body)?;
    Ok(Json(db.mutate(|s| s.plan_create_secret(args), |s, id| s.get_secret_summary(id))?))
}

async fn delete(_: Caller, db: web::Data<Db>, id: web::Path<i64>) -> SimResult<Json<DeleteResult>> {
    let id = *id;
    Ok(Json(db.mutate(|s| s.plan_delete_secret(id), |_, result| Ok(result))?))
}

/// `PATCH /secrets/{id}/general`. Only `data.folder` is applied (a `dirty` one); any other general
/// field is refused, so that a test can never believe a change the emulator did not make.
async fn update_general(
    caller: Caller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<Json<SecretGeneralView>> {
    caller.require(READ_SECRETS)?;
    let args: SecretGeneralUpdateArgs = parse_body(&body)?;
    let raw = body_value(&body)?;
    if let Some(data) = raw.get("data").and_then(serde_json::Value::as_object)
        && let Some(other) = data.keys().find(|k| k.as_str() != "folder")
    {
        return Err(crate::error::SimError::invalid(
            other.clone(),
            "the emulator applies only 'folder' of a secret's general fields",
        ));
    }
    let (id, viewer) = (*id, caller.viewer());
    if !args.data.folder.dirty {
        return Ok(Json(db.read(|s| {
            s.secret_summary_for(viewer, id)?;
            s.secret_general(id)
        })?));
    }
    let folder = args.data.folder.value.unwrap_or(secret_server_api::ROOT_FOLDER_ID);
    Ok(Json(db.mutate(|s| s.plan_move_secret(viewer, id, folder), |s, id| s.secret_general(id))?))
}
