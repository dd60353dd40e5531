//! `POST <base>/oauth2/token`: the password grant and the `refresh_token`
//! grant. Errors are `400 {"message": ...}` as the token endpoint documents.
//!
//! Who can log in: the configured API account with its configured password
//! (a `domain` is accepted and not checked for it, as before), and every
//! enabled, not locked-out user of the store that has a password (see
//! [`crate::store::passwords`]): a local user without `domain`, a domain user
//! with `domain` naming its domain (case-insensitively). An unknown user or
//! domain and a wrong password are all `Login failed.`.

use super::RuntimeConfig;
use crate::auth::Tokens;
use crate::db::Db;
use crate::store::LOCAL_DOMAIN_ID;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use actix_web::{HttpResponse, web};
use secrecy::ExposeSecret;
use secret_server_api::TokenErrorBody;
use subtle::ConstantTimeEq;

fn refuse(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(TokenErrorBody { message: Some(message.to_owned()), ..TokenErrorBody::default() })
}

/// The token endpoint.
pub(super) async fn token(
    body: web::Bytes,
    db: web::Data<Db>,
    tokens: web::Data<Tokens>,
    config: web::Data<RuntimeConfig>,
) -> HttpResponse {
    let Ok(form) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body) else {
        return refuse("The request body must be form-encoded (application/x-www-form-urlencoded).");
    };
    let field = |name: &str| {
        form.iter().rev().find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.is_empty()).map(|(_, v)| v.as_str())
    };
    let user_id = match field("grant_type") {
        Some("password") => {
            let (Some(username), Some(password)) = (field("username"), field("password")) else {
                return refuse("username and password are required for the password grant.");
            };
            let name_ok = username.trim().eq_ignore_ascii_case(&config.api_username);
            let password_ok: bool = password.as_bytes().ct_eq(config.api_password.expose_secret().as_bytes()).into();
            let domain = field("domain");
            if name_ok && (password_ok || domain.is_none()) {
                // The API account, as before users could sign in: its configured password, any domain.
                let account =
                    db.read(|s| s.user_by_name(LOCAL_DOMAIN_ID, &config.api_username).map(|u| (u.id, u.enabled)));
                match account {
                    Some((id, true)) if password_ok => id,
                    Some((_, false)) if password_ok => return refuse("Login failed. The account is disabled."),
                    _ => return refuse("Login failed."),
                }
            } else {
                match db.read(|s| s.check_sign_in(domain, username, password)) {
                    Ok(id) => id,
                    Err(refused) => return refuse(refused.message()),
                }
            }
        }
        Some("refresh_token") => {
            if !tokens.refresh_enabled() {
                return refuse("Refresh tokens are not enabled.");
            }
            let Some(refresh) = field("refresh_token") else {
                return refuse("refresh_token is required for the refresh_token grant.");
            };
            match tokens.redeem_refresh(refresh) {
                Some(id) => id,
                None => return refuse("The refresh token is invalid, expired or already used."),
            }
        }
        Some(other) => return refuse(&format!("Unsupported grant_type '{other}'.")),
        None => return refuse("grant_type is required."),
    };
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(tokens.issue(user_id))
}
