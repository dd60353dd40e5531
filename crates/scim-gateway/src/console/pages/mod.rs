//! The console's pages, one module per section; this one mounts them and holds sign-in,
//! sign-out and the assets.

mod audit;
mod connections;
mod dead_letters;
mod monitor;

use super::html::{self, Head, Section};
use super::session::{self, Session};
use super::{PREFIX, see_other};
use crate::auth::{Identifier, guarded};
use crate::auth_failures::{Reason, Surface};
use crate::errors::ApiError;
use crate::front_door::ClientAddress;
use crate::state::AppState;
use ::connections::VerifyError;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use maud::html;
use serde::Deserialize;

/// The stylesheet and the script, embedded in the binary.
const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

/// The cookie that ties the sign-in form to the browser that loaded it (a session does not exist yet).
const SIGN_IN_COOKIE: &str = "scimc_console_signin";

/// Registers the console's routes (inside the `/console` scope).
pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/assets/console.css").route(web::get().to(css)))
        .service(web::resource("/assets/console.js").route(web::get().to(js)))
        .service(web::resource("/sign-in").route(web::get().to(sign_in_page)).route(web::post().to(sign_in)))
        .service(web::resource("/sign-out").route(web::post().to(sign_out)))
        .configure(monitor::configure)
        .configure(connections::configure)
        .configure(audit::configure)
        .configure(dead_letters::configure)
        .default_service(web::to(not_found));
}

async fn css() -> HttpResponse {
    HttpResponse::Ok().content_type("text/css; charset=utf-8").body(CSS)
}

async fn js() -> HttpResponse {
    HttpResponse::Ok().content_type("text/javascript; charset=utf-8").body(JS)
}

async fn not_found() -> HttpResponse {
    html::error_page(404, "There is no such page in the console.")
}

/// The signed-in administrator's session (put there by `require_session`).
pub(super) fn session_of(req: &HttpRequest) -> Session {
    req.extensions().get::<Session>().cloned().unwrap_or_else(|| Session {
        user: String::new(),
        csrf: String::new(),
        signed_in_at: 0,
        last_seen_at: 0,
        secret_server: None,
        key: String::new(),
    })
}

/// An operation's error as a page: its status and its detail (safe to show, as in the API).
pub(super) fn failure(error: &ApiError) -> HttpResponse {
    html::error_page(error.status().as_u16(), &error.error.detail)
}

fn sign_in_form(error: Option<&str>, token: &str, name: &str) -> maud::Markup {
    html::page(
        "Sign in",
        None,
        Section::None,
        Head::default(),
        html! {
            @if let Some(error) = error {
                p.error role="alert" { (error) }
            }
            form.stack method="post" action=(format!("{PREFIX}/sign-in")) {
                input type="hidden" name="csrf" value=(token);
                label for="name" { "Name" }
                input #name type="text" name="name" value=(name) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                button type="submit" { "Sign in" }
            }
        },
    )
}

fn with_sign_in_cookie(state: &AppState, status: StatusCode, body: maud::Markup, token: &str) -> HttpResponse {
    let mut response = html::respond(status, body);
    if let Ok(value) = header::HeaderValue::from_str(&session::cookie(state, SIGN_IN_COOKIE, token, Some(3600))) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

fn new_form_token() -> String {
    secrecy::ExposeSecret::expose_secret(&::connections::credentials::random_token("")).to_owned()
}

async fn sign_in_page(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    if let Ok(Some(_)) = session::current(&state, &req).await {
        return see_other(&format!("{PREFIX}/"));
    }
    let token = new_form_token();
    with_sign_in_cookie(&state, StatusCode::OK, sign_in_form(None, &token, ""), &token)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(state: web::Data<AppState>, req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    let form = form.into_inner();
    let expected = session::cookie_value(&req, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !::connections::credentials::constant_time_eq(&expected, &form.csrf) {
        return html::error_page(403, "This sign-in form is stale or did not come from the console: reload the page.");
    }
    let name = form.name.trim().to_owned();
    let address = ClientAddress::of(&req);
    let identifier = Identifier::named("console", &name);
    let verified = guarded(&state, Surface::Console, address, &identifier, || async {
        match super::users::verify(&state, &name, &form.password).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(VerifyError::Invalid),
            Err(e) => Err(VerifyError::Store(e)),
        }
    })
    .await;
    let token = new_form_token();
    match verified {
        Ok(()) => match session::start(&state, &name, None).await {
            Ok(cookie) => {
                state.audit.admin_action(&format!("console:{name}"), "console-sign-in", "", String::new()).await;
                let mut response = see_other(&format!("{PREFIX}/"));
                if let Ok(value) = header::HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
                response
            }
            Err(e) => {
                tracing::error!(error = %e, "console session could not be stored");
                html::error_page(503, "Sessions cannot be stored right now (the state store is unavailable).")
            }
        },
        Err(refusal) => {
            let (status, message) = match refusal.reason {
                Reason::Throttled => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed sign-ins from this address or for this name; try again in {} s.",
                        refusal.retry_after.unwrap_or(1)
                    ),
                ),
                Reason::Busy | Reason::Unavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "Sign-in is unavailable right now; try again shortly.".to_owned())
                }
                Reason::Missing | Reason::Invalid | Reason::Repeated => {
                    (StatusCode::UNAUTHORIZED, "The name or the password is wrong.".to_owned())
                }
            };
            with_sign_in_cookie(&state, status, sign_in_form(Some(&message), &token, &name), &token)
        }
    }
}

async fn sign_out(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let session = session_of(&req);
    if let Err(e) = session::end(&state, &session).await {
        tracing::error!(error = %e, "console session could not be removed");
    }
    state.audit.admin_action(&session.actor().0, "console-sign-out", "", String::new()).await;
    session::clear_cookie(see_other(&format!("{PREFIX}/sign-in")), &state)
}

/// Notices shown after a redirect, by code (a query parameter never carries text to show).
pub(super) fn notice_text(code: Option<&str>) -> Option<&'static str> {
    Some(match code? {
        "token-revoked" => "The token is revoked.",
        "oauth-removed" => "The OAuth2 client is removed.",
        "jwt-added" => "The connection accepts that tenant's tokens.",
        "jwt-removed" => "The JWT issuer is removed.",
        "basic-set" => "The Basic credential is set.",
        "basic-removed" => "The Basic credential is removed.",
        "disabled" => "The connection is disabled: its calls are refused.",
        "enabled" => "The connection is enabled.",
        "saved" => "The changes are saved.",
        "deleted" => "The connection is deleted.",
        "resync-started" => "The resync started.",
        "removals-confirmed" => "The held removals are confirmed.",
        "replayed" => "The dead letter was queued again.",
        "discarded" => "The dead letter is discarded.",
        _ => return None,
    })
}

#[derive(Debug, Deserialize)]
pub(super) struct NoticeQuery {
    pub notice: Option<String>,
}
