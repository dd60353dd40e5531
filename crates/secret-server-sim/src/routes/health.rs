//! `GET /api/v1/healthcheck` (no token) and `POST /api/v1/oauth-expiration`
//! (expires the caller's token).

use super::RuntimeConfig;
use crate::auth::{Caller, Tokens};
use crate::config::HealthCheckCasing;
use actix_web::{HttpResponse, web};
use secret_server_api::SuccessResult;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/healthcheck").route(web::get().to(healthcheck)))
        .service(web::resource("/oauth-expiration").route(web::post().to(expire)));
}

/// The health check, in the configured casing (the published document's camelCase by default,
/// PascalCase for clients that read `Healthy`, as Delinea's Python SDK does).
async fn healthcheck(config: web::Data<RuntimeConfig>) -> HttpResponse {
    let now = crate::store::now_iso();
    let body = serde_json::json!({
        "healthy": true,
        "databaseHealthy": true,
        "serviceBusHealthy": true,
        "storageAccountHealthy": true,
        "scheduledForDeletion": false,
        "readOnlyMode": false,
        "databaseMismatch": false,
        "now": now,
        "utcNow": now,
    });
    match config.health_check_casing {
        HealthCheckCasing::Camel => HttpResponse::Ok().json(body),
        HealthCheckCasing::Pascal => HttpResponse::Ok().json(pascal_case(body)),
    }
}

fn pascal_case(value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(key, v)| {
                    let mut chars = key.chars();
                    let key = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or(key);
                    (key, v)
                })
                .collect(),
        ),
        other => other,
    }
}

async fn expire(caller: Caller, tokens: web::Data<Tokens>) -> web::Json<SuccessResult> {
    tokens.expire(&caller.token);
    web::Json(SuccessResult { success: true })
}
