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
use adapter_api::admin::ConsoleAccountVerdict;
use maud::html;
use serde::Deserialize;
use service_error::ErrorKind;
use std::sync::Arc;

/// The stylesheet and the script, embedded in the binary.
const CSS: &str = include_str!("../assets/console.css");
const JS: &str = include_str!("../assets/console.js");

/// The one answer to every refused Secret Server account (wrong password, unknown user or domain,
/// disabled, not in the console group): which it was goes to the audit log only.
pub(crate) const SECRET_SERVER_REFUSAL: &str =
    "Sign-in failed: the account, its password or its domain is wrong, or it may not use the console.";

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

/// What the sign-in form shows besides its fields: the instances whose accounts may sign in
/// (empty: the connector's own accounts only), and what was typed before a refusal.
#[derive(Debug, Default)]
struct SignInChoices<'a> {
    instances: &'a [String],
    name: &'a str,
    via: &'a str,
    domain: &'a str,
}

fn sign_in_form(error: Option<&str>, token: &str, choices: &SignInChoices<'_>) -> maud::Markup {
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
                @if !choices.instances.is_empty() {
                    label for="via" { "Sign in with" }
                    select #via name="via" {
                        option value="" selected[choices.via.is_empty()] { "The connector's own account" }
                        @for instance in choices.instances {
                            option value=(instance) selected[choices.via == instance] {
                                "A Secret Server account (" (instance) ")"
                            }
                        }
                    }
                }
                label for="name" { "Name" }
                input #name type="text" name="name" value=(choices.name) autocomplete="username" required autofocus;
                label for="password" { "Password" }
                input #password type="password" name="password" autocomplete="current-password" required;
                @if !choices.instances.is_empty() {
                    label for="domain" { "Domain (Secret Server domain accounts only; empty for a local account)" }
                    input #domain type="text" name="domain" value=(choices.domain) autocomplete="off";
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The instances whose accounts may sign in (none when the adapter cannot say), as the adapter
/// said within the last [`super::SignInInstances::TTL`]: the sign-in page is open to anyone, and
/// does not cost a call to the adapter each time it is shown.
async fn console_sign_ins(state: &AppState) -> Arc<Vec<String>> {
    state
        .console_sign_ins
        .get_or_fetch(|| async {
            state.adapter_admin.console_sign_ins().await.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "the instances offering console sign-in could not be read");
                Vec::new()
            })
        })
        .await
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
    match session::current(&state, &req, session::Use::Active).await {
        Ok(session::Lookup::Live(_)) => return see_other(&format!("{PREFIX}/")),
        Ok(session::Lookup::Throttled(retry_after)) => return html::throttled_page(retry_after),
        Ok(session::Lookup::None) | Err(_) => {}
    }
    let token = new_form_token();
    let instances = console_sign_ins(&state).await;
    let choices = SignInChoices { instances: &instances, ..SignInChoices::default() };
    with_sign_in_cookie(&state, StatusCode::OK, sign_in_form(None, &token, &choices), &token)
}

#[derive(Deserialize)]
struct SignInForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    /// Empty: a console user; otherwise the Secret Server instance whose account signs in.
    #[serde(default)]
    via: String,
    /// A Secret Server domain account's domain.
    #[serde(default)]
    domain: String,
}

/// The name of a session of a Secret Server account: `ss:<instance>:<user>` for a local account,
/// `ss:<instance>:<DOMAIN>\<user>` for a domain account.
fn secret_server_session_name(instance: &str, domain: &str, user: &str) -> String {
    if domain.is_empty() { format!("ss:{instance}:{user}") } else { format!("ss:{instance}:{domain}\\{user}") }
}

/// The account a sign-in is for, as the throttle counts its failures and the audit trail names a
/// refusal: instance, domain and name in lower case. Secret Server's user and domain names and the
/// adapter's instance names are case-insensitive, so `PRIMARY`/`ALICE` is the account
/// `primary`/`alice` and must draw on its allowance, not start a fresh one. A console user is
/// counted under its name in lower case too (`Alice` is refused as an unknown user, but shares
/// `alice`'s allowance); a Secret Server account under its own name, apart from a console user's.
fn account_key(via: &str, domain: &str, name: &str) -> String {
    if via.is_empty() {
        name.to_lowercase()
    } else {
        secret_server_session_name(&via.to_lowercase(), &domain.to_lowercase(), &name.to_lowercase())
    }
}

async fn sign_in(state: web::Data<AppState>, req: HttpRequest, form: web::Form<SignInForm>) -> HttpResponse {
    let form = form.into_inner();
    let expected = session::cookie_value(&req, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !::connections::credentials::constant_time_eq(&expected, &form.csrf) {
        return html::error_page(403, "This sign-in form is stale or did not come from the console: reload the page.");
    }
    let name = form.name.trim().to_owned();
    let via = form.via.trim().to_owned();
    let domain = form.domain.trim().to_owned();
    let address = ClientAddress::of(&req);
    let shown = account_key(&via, &domain, &name);
    let identifier = Identifier::named("console", &shown);
    // Why Secret Server could not check the account, when it could not.
    let mut unreachable: Option<String> = None;
    let verified = guarded(&state, Surface::Console, address, &identifier, || async {
        if via.is_empty() {
            return match super::users::verify(&state, &name, &form.password).await? {
                true => Ok((name.clone(), None)),
                false => Err(VerifyError::Invalid),
            };
        }
        let account = adapter_api::admin::ConsoleAccount {
            username: name.clone(),
            password: secrecy::SecretString::from(form.password.clone()),
            domain: Some(domain.clone()).filter(|d| !d.is_empty()),
        };
        let verdict = state.adapter_admin.verify_console_account(&via, account).await;
        let (state, shown) = (&state, &shown);
        let refused = |reason: String| async move {
            state.audit.admin_action(&format!("console:{shown}"), "console-sign-in-refused", "", reason).await;
            Err(VerifyError::Invalid)
        };
        match verdict {
            // Named after the account as Secret Server answers it (the adapter finds instances
            // in any case: the session names the instance in lower case, as `account_key` does).
            Ok(ConsoleAccountVerdict::Allowed { user_name, .. }) => {
                let instance = via.to_lowercase();
                Ok((secret_server_session_name(&instance, &domain, &user_name), Some(instance)))
            }
            Ok(ConsoleAccountVerdict::Refused { reason }) => refused(reason).await,
            Ok(ConsoleAccountVerdict::Unreachable { reason }) => {
                unreachable = Some(reason);
                Err(VerifyError::Busy { retry_after: 5 })
            }
            Err(e) if matches!(e.kind, ErrorKind::NotFound | ErrorKind::FailedPrecondition) => refused(e.detail).await,
            Err(e) => {
                unreachable = Some(format!("the adapter could not be asked: {}", e.detail));
                Err(VerifyError::Busy { retry_after: 5 })
            }
        }
    })
    .await;
    let token = new_form_token();
    match verified {
        Ok((user, secret_server)) => match session::start(&state, &user, secret_server.as_deref()).await {
            Ok(cookie) => {
                state.audit.admin_action(&format!("console:{user}"), "console-sign-in", "", String::new()).await;
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
            let (status, message) = match (refusal.reason, unreachable) {
                (Reason::Throttled, _) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!(
                        "Too many failed sign-ins from this address or for this name; try again in {} s.",
                        refusal.retry_after.unwrap_or(1)
                    ),
                ),
                (_, Some(reason)) => {
                    tracing::warn!(instance = %via, reason = %reason, "console sign-in: Secret Server unreachable");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!(
                            "Secret Server unreachable: the {via} instance cannot check accounts right now; try again shortly."
                        ),
                    )
                }
                (Reason::Busy, None) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!(
                        "Sign-in is busy: too many passwords are being checked at once; try again in {} s.",
                        refusal.retry_after.unwrap_or(1)
                    ),
                ),
                (Reason::Unavailable, None) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "Sign-in is unavailable right now; try again shortly.".to_owned())
                }
                // One message for every refusal: which of name, password, domain or group was
                // wrong is for the audit log only.
                (Reason::Missing | Reason::Invalid | Reason::Repeated, None) if via.is_empty() => {
                    (StatusCode::UNAUTHORIZED, "The name or the password is wrong.".to_owned())
                }
                (Reason::Missing | Reason::Invalid | Reason::Repeated, None) => {
                    (StatusCode::UNAUTHORIZED, SECRET_SERVER_REFUSAL.to_owned())
                }
            };
            let instances = console_sign_ins(&state).await;
            let choices = SignInChoices { instances: &instances, name: &name, via: &via, domain: &domain };
            let mut response =
                with_sign_in_cookie(&state, status, sign_in_form(Some(&message), &token, &choices), &token);
            if matches!(refusal.reason, Reason::Busy | Reason::Throttled) {
                let retry_after = refusal.retry_after.unwrap_or(1);
                response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(retry_after));
            }
            response
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
        "jwt-added" => "The connection accepts that issuer's tokens.",
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
