//! The emulated Delinea Platform, under `/platform` (served only when a platform client secret is
//! configured): how Secret Server Cloud signs a service in.
//!
//! - `POST /platform/identity/api/oauth2/token/xpmplatform`, form `grant_type=client_credentials`,
//!   `client_id`, `client_secret`, `scope=xpmheadless`: an OAuth2 access token, valid on the vault's
//!   REST API for the API account (the platform service user the client credentials belong to);
//!   refusals are OAuth2 error bodies (`{"error":"invalid_client","error_description":...}`);
//! - `GET /platform/vaultbroker/api/vaults` (bearer token): the vaults the service may use, the
//!   default and active one being this emulator's Secret Server (`connection.url`, its base URL as
//!   the request reached it);
//! - `GET /platform/health`: `{"Healthy": true}`, which is how Delinea's SDKs tell a platform from
//!   a Secret Server (whose health check is under `/api/v1`).

use super::RuntimeConfig;
use crate::auth::{Caller, Tokens};
use crate::config::PlatformConfig;
use crate::db::Db;
use crate::store::LOCAL_DOMAIN_ID;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::ExposeSecret;
use subtle::ConstantTimeEq;

/// The path the platform is served under.
pub(crate) const PLATFORM_PATH: &str = "/platform";
/// The scope a headless service asks for.
const SCOPE: &str = "xpmheadless";

pub(super) fn scope() -> actix_web::Scope {
    web::scope(PLATFORM_PATH)
        .service(web::resource("/health").route(web::get().to(health)))
        .service(web::resource("/identity/api/oauth2/token/xpmplatform").route(web::post().to(token)))
        .service(web::resource("/vaultbroker/api/vaults").route(web::get().to(vaults)))
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "Healthy": true }))
}

fn oauth_error(error: &str, description: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(serde_json::json!({ "error": error, "error_description": description }))
}

async fn token(
    body: web::Bytes,
    db: web::Data<Db>,
    tokens: web::Data<Tokens>,
    config: web::Data<RuntimeConfig>,
    platform: web::Data<PlatformConfig>,
) -> HttpResponse {
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return oauth_error("invalid_request", "The body must be form-encoded.");
    };
    let field = |name: &str| form.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    if field("grant_type") != "client_credentials" {
        return oauth_error("unsupported_grant_type", "Only the client_credentials grant is supported.");
    }
    let id_ok: bool = field("client_id").as_bytes().ct_eq(platform.client_id.as_bytes()).into();
    let secret_ok: bool =
        field("client_secret").as_bytes().ct_eq(platform.client_secret.expose_secret().as_bytes()).into();
    if !(id_ok && secret_ok) {
        return oauth_error("invalid_client", "The client credentials are not valid.");
    }
    if !field("scope").split_whitespace().any(|s| s == SCOPE) {
        return oauth_error("invalid_scope", "A headless service asks for the xpmheadless scope.");
    }
    let Some(user_id) = db.read(|s| s.user_by_name(LOCAL_DOMAIN_ID, &config.api_username).map(|u| u.id)) else {
        return oauth_error("invalid_client", "The service user does not exist.");
    };
    let issued = tokens.issue_without_refresh(user_id);
    HttpResponse::Ok().insert_header((CACHE_CONTROL, "no-store")).insert_header((PRAGMA, "no-cache")).json(
        serde_json::json!({
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": SCOPE,
        }),
    )
}

async fn vaults(_: Caller, req: HttpRequest, config: web::Data<RuntimeConfig>) -> HttpResponse {
    let info = req.connection_info();
    let url = format!("{}://{}{}", info.scheme(), info.host(), config.base_path);
    HttpResponse::Ok().json(serde_json::json!({
        "vaults": [{
            "vaultId": "00000000-0000-0000-0000-000000000001",
            "name": "Secret Server (emulated)",
            "type": "SecretServer",
            "isDefault": true,
            "isActive": true,
            "connection": { "url": url },
        }]
    }))
}
