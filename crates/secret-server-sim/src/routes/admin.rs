//! The emulator's own endpoints, outside the Secret Server path space and
//! never faulted; a bearer token of the API account is required.
//!
//! - `GET /_sim/faults`, `PUT` (replace: absent switches are off), `PATCH`
//!   (change only the switches sent), `DELETE` (all off);
//! - `POST /_sim/tokens/expire` (every access token expires now; body
//!   `{"refreshTokens": true}` expires refresh tokens too);
//! - `GET /_sim/capacity` (the capacity model's settings and counters), `PUT` (replace the
//!   settings, counters start again; absent settings are 0, an empty body switches it off),
//!   `DELETE` (off);
//! - `GET /_sim/requests` (the request log), `DELETE` (clear it);
//! - `GET /_sim/state` (object counts and id counters);
//! - `GET /_sim/api-account/permissions` (the API account's role permissions), `PUT` (replace
//!   them: a JSON list of names), to see what a vault whose account lacks one does;
//! - `POST /_sim/users/{id}/password` (body `{"password": "..."}`): the password the user signs
//!   in with from now on, a domain user's included (the emulator plays its directory too; the
//!   Secret Server API has no such call for domain users). Kept as a salted hash.
//!
//! Another user's token (users with a password can sign in) is answered `403`.

use super::body_value;
use crate::access::ApiAccount;
use crate::auth::Caller;
use crate::capacity::{Capacity, CapacityReport, CapacitySettings};
use crate::db::Db;
use crate::error::{SimError, SimResult};
use crate::faults::{FaultSettings, Faults};
use crate::middleware::RequestLog;
use actix_web::web::{self, Json};
use actix_web::{HttpResponse, Scope};
use serde::{Deserialize, Serialize};

pub(super) fn scope() -> Scope {
    web::scope("/_sim")
        .service(
            web::resource("/faults")
                .route(web::get().to(get_faults))
                .route(web::put().to(put_faults))
                .route(web::patch().to(patch_faults))
                .route(web::delete().to(clear_faults)),
        )
        .service(
            web::resource("/capacity")
                .route(web::get().to(get_capacity))
                .route(web::put().to(put_capacity))
                .route(web::delete().to(clear_capacity)),
        )
        .service(web::resource("/tokens/expire").route(web::post().to(expire_tokens)))
        .service(web::resource("/requests").route(web::get().to(requests)).route(web::delete().to(clear_requests)))
        .service(web::resource("/state").route(web::get().to(state)))
        .service(web::resource("/users/{id}/password").route(web::post().to(set_password)))
        .service(
            web::resource("/api-account/permissions")
                .route(web::get().to(get_permissions))
                .route(web::put().to(put_permissions)),
        )
}

/// The API account's token: the only one `/_sim` accepts.
struct ApiCaller;

impl actix_web::FromRequest for ApiCaller {
    type Error = SimError;
    type Future = std::future::Ready<Result<Self, SimError>>;

    fn from_request(req: &actix_web::HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let caller = match Caller::from_request(req, payload).into_inner() {
            Ok(caller) => caller,
            Err(e) => return std::future::ready(Err(e)),
        };
        std::future::ready(if caller.is_api_account() {
            Ok(ApiCaller)
        } else {
            Err(SimError::Authentication(crate::auth::AUTH_FAILED.to_owned()))
        })
    }
}

/// No `Debug`: it holds a password.
#[derive(Deserialize)]
struct PasswordArgs {
    password: String,
}

async fn set_password(
    _: ApiCaller,
    db: web::Data<Db>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> SimResult<HttpResponse> {
    let args: PasswordArgs =
        serde_json::from_value(body_value(&body)?).map_err(|e| SimError::invalid("body", e.to_string()))?;
    let id = *id;
    db.mutate(|s| s.plan_set_password(id, &args.password), |_, _| Ok(()))?;
    tracing::info!(user_id = id, "user password set");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "success": true })))
}

fn fault_error(e: crate::faults::FaultError) -> SimError {
    SimError::invalid(e.field, e.message)
}

async fn get_faults(_: ApiCaller, faults: web::Data<Faults>) -> Json<FaultSettings> {
    Json(faults.get())
}

async fn put_faults(_: ApiCaller, faults: web::Data<Faults>, body: web::Bytes) -> SimResult<Json<FaultSettings>> {
    let settings: FaultSettings = if body.iter().all(u8::is_ascii_whitespace) {
        FaultSettings::default()
    } else {
        serde_json::from_value(body_value(&body)?).map_err(|e| SimError::invalid("body", e.to_string()))?
    };
    faults.set(settings).map_err(fault_error)?;
    tracing::info!(faults = ?faults.get(), "faults replaced");
    Ok(Json(faults.get()))
}

async fn patch_faults(_: ApiCaller, faults: web::Data<Faults>, body: web::Bytes) -> SimResult<Json<FaultSettings>> {
    let changes = body_value(&body)?;
    let mut merged = serde_json::to_value(faults.get()).map_err(|e| SimError::Internal(e.to_string()))?;
    if let (Some(target), Some(source)) = (merged.as_object_mut(), changes.as_object()) {
        for (key, value) in source {
            target.insert(key.clone(), value.clone());
        }
    }
    let settings: FaultSettings =
        serde_json::from_value(merged).map_err(|e| SimError::invalid("body", e.to_string()))?;
    faults.set(settings).map_err(fault_error)?;
    tracing::info!(faults = ?faults.get(), "faults changed");
    Ok(Json(faults.get()))
}

async fn clear_faults(_: ApiCaller, faults: web::Data<Faults>) -> Json<FaultSettings> {
    faults.clear();
    Json(faults.get())
}

async fn get_capacity(_: ApiCaller, capacity: web::Data<Capacity>) -> Json<CapacityReport> {
    Json(capacity.report())
}

async fn put_capacity(
    _: ApiCaller,
    capacity: web::Data<Capacity>,
    body: web::Bytes,
) -> SimResult<Json<CapacityReport>> {
    let settings: CapacitySettings = if body.iter().all(u8::is_ascii_whitespace) {
        CapacitySettings::default()
    } else {
        serde_json::from_value(body_value(&body)?).map_err(|e| SimError::invalid("body", e.to_string()))?
    };
    capacity.set(settings).map_err(|e| SimError::invalid(e.field, e.message))?;
    tracing::info!(capacity = ?settings, "capacity model replaced");
    Ok(Json(capacity.report()))
}

async fn clear_capacity(_: ApiCaller, capacity: web::Data<Capacity>) -> SimResult<Json<CapacityReport>> {
    capacity.set(CapacitySettings::default()).map_err(|e| SimError::invalid(e.field, e.message))?;
    Ok(Json(capacity.report()))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct ExpireArgs {
    refresh_tokens: bool,
}

async fn expire_tokens(_: ApiCaller, faults: web::Data<Faults>, body: web::Bytes) -> SimResult<HttpResponse> {
    let args: ExpireArgs = if body.iter().all(u8::is_ascii_whitespace) {
        ExpireArgs::default()
    } else {
        serde_json::from_value(body_value(&body)?).map_err(|e| SimError::invalid("body", e.to_string()))?
    };
    faults.expire_tokens(args.refresh_tokens);
    tracing::info!(refresh_tokens = args.refresh_tokens, "all tokens expired");
    Ok(HttpResponse::Ok().json(serde_json::json!({ "success": true })))
}

/// One entry of the request log.
#[derive(Debug, Serialize)]
struct LoggedRequest {
    method: String,
    path: String,
}

async fn requests(_: ApiCaller, log: web::Data<RequestLog>) -> Json<Vec<LoggedRequest>> {
    Json(log.entries().into_iter().map(|(method, path)| LoggedRequest { method, path }).collect())
}

async fn clear_requests(_: ApiCaller, log: web::Data<RequestLog>) -> HttpResponse {
    log.clear();
    HttpResponse::NoContent().finish()
}

async fn get_permissions(_: ApiCaller, account: web::Data<ApiAccount>) -> Json<Vec<String>> {
    Json(account.permissions())
}

async fn put_permissions(
    _: ApiCaller,
    account: web::Data<ApiAccount>,
    body: web::Bytes,
) -> SimResult<Json<Vec<String>>> {
    let names: Vec<String> =
        serde_json::from_slice(&body).map_err(|e| SimError::invalid("body", format!("a JSON list of names: {e}")))?;
    account.set_permissions(names.into_iter().map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()));
    tracing::info!(permissions = ?account.permissions(), "API account role permissions replaced");
    Ok(Json(account.permissions()))
}

async fn state(_: ApiCaller, db: web::Data<Db>) -> Json<serde_json::Value> {
    let (counts, next) = db.read(|s| (s.counts(), s.next_ids()));
    Json(serde_json::json!({ "counts": counts, "nextIds": next }))
}
