//! `GET /api/v1/healthcheck` (no token) and `POST /api/v1/oauth-expiration`
//! (expires the caller's token).

use crate::auth::{Caller, Tokens};
use actix_web::{HttpResponse, web};
use secret_server_api::SuccessResult;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthcheck").route(web::get().to(healthcheck)))
        .service(web::resource("/oauth-expiration").route(web::post().to(expire)));
}

async fn healthcheck() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "healthy": true,
        "databaseHealthy": true,
        "serviceBusHealthy": true,
        "storageAccountHealthy": true,
        "scheduledForDeletion": false,
    }))
}

async fn expire(caller: Caller, tokens: web::Data<Tokens>) -> web::Json<SuccessResult> {
    tokens.expire(&caller.token);
    web::Json(SuccessResult { success: true })
}
