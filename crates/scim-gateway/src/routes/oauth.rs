//! `POST /oauth2/token`: the OAuth2 client-credentials grant (RFC 6749 §4.4).
//!
//! The client authenticates with `client_id`/`client_secret` in the
//! form-encoded body or with HTTP Basic (RFC 6749 §2.3.1), and receives a
//! short-lived bearer token (`scimo_…`) stored hashed with its TTL in the
//! state store, so that every gateway replica accepts it. Errors are RFC 6749
//! §5.2 bodies (`invalid_request`, `invalid_client`, `unsupported_grant_type`),
//! never SCIM errors, and every answer is `Cache-Control: no-store`.
//!
//! The client's secret is an Argon2 hash: the endpoint refuses cheaply first,
//! like the SCIM routes (`auth::guarded`): an address out of failures or refusals
//! is `429` with `Retry-After` before the request's body is read, too many
//! failures for the client id are `429` before any hash, the same wrong secret
//! again is refused from memory, and beyond the bound on hashes running at once
//! the answer is `503` with `Retry-After`.
//!
//! A token request is a few hundred bytes: its body is read up to
//! [`MAX_TOKEN_REQUEST_BYTES`] (not the SCIM routes' 1 MiB), and a larger one is
//! `413` with an `invalid_request` body, refused by its `Content-Length` before
//! any of it is read when it declares one.

use crate::auth::{Identifier, Refusal, address_throttled, guarded, missing};
use crate::auth_failures::{Reason, Surface};
use crate::front_door::ClientAddress;
use crate::state::AppState;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use secrecy::ExposeSecret;
use serde_json::json;

/// The largest token request body read (8 KiB; a client-credentials request is a few hundred bytes).
pub const MAX_TOKEN_REQUEST_BYTES: usize = 8 * 1024;

fn oauth_error(status: StatusCode, error: &str, description: &str, basic: bool) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CACHE_CONTROL, "no-store"));
    if basic && status == StatusCode::UNAUTHORIZED {
        res.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"scim-oauth\""));
    }
    res.json(json!({"error": error, "error_description": description}))
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(rest.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 §2.3.1: the client id and secret are form-urlencoded inside Basic.
    let decode = |s: &str| url::form_urlencoded::parse(format!("x={s}").as_bytes()).next().map(|(_, v)| v.into_owned());
    Some((decode(id)?, decode(secret)?))
}

/// The answer to a client refused before its secret was accepted.
fn refused(refusal: &Refusal, basic: bool) -> HttpResponse {
    let wait = refusal.retry_after.unwrap_or(1).to_string();
    match refusal.reason {
        Reason::Missing | Reason::Invalid | Reason::Repeated => {
            oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication failed", basic)
        }
        Reason::Throttled => {
            let mut res = oauth_error(
                StatusCode::TOO_MANY_REQUESTS,
                "temporarily_unavailable",
                "too many failed authentications from this address or for this client; retry later",
                false,
            );
            res.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_str(&wait).unwrap_or(header::HeaderValue::from_static("1")),
            );
            res
        }
        Reason::Busy | Reason::Unavailable => {
            let mut res = oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "retry later", false);
            res.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_str(&wait).unwrap_or(header::HeaderValue::from_static("1")),
            );
            res
        }
    }
}

/// `413`: a token request larger than [`MAX_TOKEN_REQUEST_BYTES`].
fn too_large() -> HttpResponse {
    oauth_error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "invalid_request",
        &format!("a token request is at most {MAX_TOKEN_REQUEST_BYTES} bytes"),
        false,
    )
}

/// `POST /oauth2/token`. The body is taken as a stream, so that nothing of it is read before the
/// address's throttle is consulted, and then at most [`MAX_TOKEN_REQUEST_BYTES`] of it.
pub async fn token(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> HttpResponse {
    if let Some(refusal) = address_throttled(&state, Surface::OAuth2, ClientAddress::of(&req)).await {
        return refused(&refusal, false);
    }
    let essence = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if essence != "application/x-www-form-urlencoded" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send the token request as application/x-www-form-urlencoded",
            false,
        );
    }
    let declared = req.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > MAX_TOKEN_REQUEST_BYTES as u64) {
        return too_large();
    }
    let body = match payload.to_bytes_limited(MAX_TOKEN_REQUEST_BYTES).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "the request body could not be read",
                false,
            );
        }
        Err(_) => return too_large(),
    };
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    match field("grant_type").as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only the client_credentials grant is supported",
                false,
            );
        }
        None => return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "grant_type is required", false),
    }
    let from_basic = basic_credentials(&req);
    let basic = from_basic.is_some();
    let (client_id, secret) = match (from_basic, field("client_id"), field("client_secret")) {
        (Some(pair), None, None) => pair,
        (None, Some(id), Some(secret)) => (id, secret),
        (Some(_), _, _) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "send the client credentials either with Basic or in the body, not both",
                false,
            );
        }
        _ => {
            let refusal = missing(&state, Surface::OAuth2, ClientAddress::of(&req)).await;
            if refusal.reason == Reason::Throttled {
                return refused(&refusal, basic);
            }
            return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "client authentication is required", basic);
        }
    };
    let address = ClientAddress::of(&req);
    let identifier = Identifier::named("client", &client_id);
    let verified =
        guarded(&state, Surface::OAuth2, address, &identifier, || state.verifier.verify_client(&client_id, &secret))
            .await;
    let (connection, client) = match verified {
        Ok(found) => found,
        Err(refusal) => return refused(&refusal, basic),
    };
    match state.verifier.issue_access_token(&connection, &client).await {
        Ok((token, ttl)) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(json!({"access_token": token.expose_secret(), "token_type": "Bearer", "expires_in": ttl})),
        Err(e) => {
            tracing::error!(error = %e, "could not store an access token");
            oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable", "retry later", false)
        }
    }
}
