//! `/console/connections` and `/console/connections/{id}`: list, create, edit, disable, enable and
//! delete connections; issue and revoke bearer tokens, OAuth2 clients and Basic credentials; each
//! connection's recent calls. Every change calls the admin API's operation (`routes::admin`).

use super::super::html::{self, Head, Section, action, csrf, when};
use super::super::{PREFIX, see_other};
use super::{NoticeQuery, failure, notice_text, session_of};
use crate::admin_model::{
    BasicCredentialRequest, ConnectionPatch, ConnectionView, NewConnection, NewOAuthClient, NewToken,
};
use crate::routes::admin as ops;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/connections").route(web::get().to(list)).route(web::post().to(create)))
        .service(web::resource("/connections/{id}").route(web::get().to(show)))
        .service(web::resource("/connections/{id}/edit").route(web::post().to(edit)))
        .service(web::resource("/connections/{id}/disable").route(web::post().to(disable)))
        .service(web::resource("/connections/{id}/enable").route(web::post().to(enable)))
        .service(web::resource("/connections/{id}/delete").route(web::post().to(delete)))
        .service(web::resource("/connections/{id}/tokens").route(web::post().to(issue_token)))
        .service(web::resource("/connections/{id}/tokens/{token}/revoke").route(web::post().to(revoke_token)))
        .service(web::resource("/connections/{id}/oauth-clients").route(web::post().to(add_oauth_client)))
        .service(
            web::resource("/connections/{id}/oauth-clients/{client}/remove").route(web::post().to(remove_oauth_client)),
        )
        .service(web::resource("/connections/{id}/jwt-issuers").route(web::post().to(add_jwt_issuer)))
        .service(
            web::resource("/connections/{id}/jwt-issuers/{issuer}/remove").route(web::post().to(remove_jwt_issuer)),
        )
        .service(web::resource("/connections/{id}/basic").route(web::post().to(set_basic)))
        .service(web::resource("/connections/{id}/basic/remove").route(web::post().to(remove_basic)));
}

fn detail_path(id: &str) -> String {
    format!("{PREFIX}/connections/{}", urlencoding(id))
}

/// Connection ids are restricted to URL-safe characters by `connections`; this keeps a link
/// correct whatever they hold.
fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn back(id: &str, notice: &str) -> HttpResponse {
    see_other(&format!("{}?notice={notice}", detail_path(id)))
}

async fn list(state: web::Data<AppState>, req: HttpRequest, query: web::Query<NoticeQuery>) -> HttpResponse {
    let session = session_of(&req);
    let connections = match ops::list_connections(&state).await {
        Ok(c) => c,
        Err(e) => return failure(&e),
    };
    let body = html! {
        (html::notice(notice_text(query.notice.as_deref())))
        table {
            caption { "Every connection (" (connections.len()) ")" }
            thead { tr { th scope="col" { "Id" } th scope="col" { "Name" } th scope="col" { "Secret Server" }
                th scope="col" { "State" } th scope="col" { "Credentials" } } }
            tbody {
                @for c in &connections {
                    tr {
                        td { a href=(detail_path(&c.id)) { (c.id) } }
                        td { (c.display_name) }
                        td { (c.secret_server) }
                        td { (html::badge(c.enabled, "enabled", "disabled")) }
                        td { (credential_summary(c)) }
                    }
                }
            }
        }
        section aria-labelledby="new-connection" {
            h2 #new-connection { "New connection" }
            form.stack method="post" action=(format!("{PREFIX}/connections")) {
                (csrf(&session))
                label for="id" { "Id " small { "(letters, digits, '-', '_'; it names the connection in URLs and the audit trail)" } }
                input #id type="text" name="id" required pattern="[A-Za-z0-9_.-]+";
                label for="display_name" { "Display name" }
                input #display_name type="text" name="display_name";
                label for="secret_server" { "Secret Server instance" }
                input #secret_server type="text" name="secret_server" value="primary" required;
                div.check {
                    input #read_only type="checkbox" name="read_only" value="on";
                    label for="read_only" { "Read-only (every resource type may be read, none changed)" }
                }
                button type="submit" { "Create the connection and its first token" }
            }
        }
    };
    html::respond(
        StatusCode::OK,
        html::page("Connections", Some(&session), Section::Connections, Head::default(), body),
    )
}

fn credential_summary(c: &ConnectionView) -> String {
    let mut parts = vec![format!("{} token(s)", c.credentials.bearer_tokens.len())];
    if !c.credentials.oauth_clients.is_empty() {
        parts.push(format!("{} OAuth2 client(s)", c.credentials.oauth_clients.len()));
    }
    if c.credentials.basic_username.is_some() {
        parts.push("Basic".to_owned());
    }
    if !c.credentials.jwt_issuers.is_empty() {
        parts.push(format!("{} JWT issuer(s)", c.credentials.jwt_issuers.len()));
    }
    parts.join(", ")
}

#[derive(Deserialize)]
struct CreateForm {
    id: String,
    #[serde(default)]
    display_name: String,
    secret_server: String,
    #[serde(default)]
    read_only: Option<String>,
}

/// A secret shown once, with its copy button (the script fills the button in; without it the
/// value is selectable text).
fn shown_once(label: &str, value: &str) -> Markup {
    html! {
        div.secret {
            p { strong { (label) } " — shown only now: copy it to the client's configuration." }
            code #secret-value { (value) }
            button.copy type="button" data-copy="secret-value" hidden { "Copy" }
        }
    }
}

async fn create(state: web::Data<AppState>, req: HttpRequest, form: web::Form<CreateForm>) -> HttpResponse {
    let session = session_of(&req);
    let form = form.into_inner();
    let new = NewConnection {
        id: form.id.trim().to_owned(),
        display_name: Some(form.display_name.trim().to_owned()).filter(|n| !n.is_empty()),
        secret_server: form.secret_server,
        scope: form.read_only.is_some().then(::connections::Scope::read_only),
        ..NewConnection::default()
    };
    let created = match ops::create_connection(&state, &session.actor(), new).await {
        Ok(c) => c,
        Err(e) => return failure(&e),
    };
    let id = created.connection.id.clone();
    let body = html! {
        p.notice role="status" { "Connection " strong { (id) } " is created." }
        @if let Some(token) = &created.token {
            (shown_once("Bearer token", &token.token))
        }
        p { a href=(detail_path(&id)) { "Go to the connection" } }
    };
    html::respond(
        StatusCode::CREATED,
        html::page(
            "Connection created",
            Some(&session),
            Section::Connections,
            Head { script: true, ..Head::default() },
            body,
        ),
    )
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<NoticeQuery>,
) -> HttpResponse {
    let session = session_of(&req);
    let c = match ops::show_connection(&state, &path).await {
        Ok(c) => c,
        Err(e) => return failure(&e),
    };
    let base = detail_path(&c.id);
    let calls = state.calls.latest(25, Some(&c.id));
    let body = html! {
        (html::notice(notice_text(query.notice.as_deref())))
        dl.facts {
            dt { "Name" } dd { (c.display_name) }
            dt { "Secret Server" } dd { (c.secret_server) }
            dt { "State" } dd { (html::badge(c.enabled, "enabled", "disabled")) }
            dt { "Defined in" } dd { @if c.from_config { "the configuration file" } @else { "the admin API / console" } }
            dt { "Created" } dd { (when(c.created_at)) }
            dt { "Changed" } dd { (when(c.updated_at)) }
        }
        div.actions {
            @if c.enabled {
                (action(&session, &format!("{base}/disable"), "Disable", true))
            } @else {
                (action(&session, &format!("{base}/enable"), "Enable", false))
            }
            @if !c.from_config {
                (action(&session, &format!("{base}/delete"), "Delete the connection", true))
            }
        }
        section aria-labelledby="tokens" {
            h2 #tokens { "Bearer tokens" }
            table {
                thead { tr { th scope="col" { "Id" } th scope="col" { "Label" } th scope="col" { "Created" } th scope="col" { "Expires" } th scope="col" { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for t in &c.credentials.bearer_tokens {
                        tr {
                            td { code { (t.id) } }
                            td { (t.label.as_deref().unwrap_or("")) }
                            td { (when(t.created_at)) }
                            td { (when(t.expires_at)) }
                            td { (action(&session, &format!("{base}/tokens/{}/revoke", urlencoding(&t.id)), "Revoke", true)) }
                        }
                    }
                }
            }
            form.row method="post" action=(format!("{base}/tokens")) {
                (csrf(&session))
                label for="token-label" { "Label" }
                input #token-label type="text" name="label";
                label for="token-days" { "Expires in (days, empty: never)" }
                input #token-days type="number" name="expires_in_days" min="1";
                button type="submit" { "Issue a token" }
            }
        }
        section aria-labelledby="oauth" {
            h2 #oauth { "OAuth2 clients" }
            ul {
                @for k in &c.credentials.oauth_clients {
                    li { code { (k.client_id) } " (tokens live " (k.token_ttl_seconds) " s) "
                        (action(&session, &format!("{base}/oauth-clients/{}/remove", urlencoding(&k.client_id)), "Remove", true)) }
                }
            }
            (action(&session, &format!("{base}/oauth-clients"), "Register an OAuth2 client", false))
        }
        section aria-labelledby="jwt" {
            h2 #jwt { "JWT issuers (Entra ID's or another identity provider's own tokens)" }
            ul {
                @for i in &c.credentials.jwt_issuers {
                    li { code { (i.id) } " " (i.issuer) " (audience " (i.audiences.join(", ")) ") "
                        (action(&session, &format!("{base}/jwt-issuers/{}/remove", urlencoding(&i.id)), "Remove", true)) }
                }
            }
            form.row method="post" action=(format!("{base}/jwt-issuers")) {
                (csrf(&session))
                label for="jwt-tenant" { "Entra tenant id" }
                input #jwt-tenant type="text" name="entra_tenant_id" required autocomplete="off" spellcheck="false";
                label for="jwt-apps" { "Application ids (appid; separate with commas; needed when another connection accepts this tenant)" }
                input #jwt-apps type="text" name="app_ids" autocomplete="off" spellcheck="false";
                button type="submit" { "Accept this tenant's tokens" }
            }
            p { "For Entra ID, set " code { "\"patchResponse\": \"noContent\"" } " in the policies below: Entra accepts a PATCH answered "
                code { "204 No Content" } ", and a member change of a large group then renders no member list." }
            h3 { "Another issuer" }
            form.stack method="post" action=(format!("{base}/jwt-issuers")) {
                (csrf(&session))
                label for="jwt-issuer" { "Issuer (the tokens' iss, exactly)" }
                input #jwt-issuer type="url" name="issuer" required autocomplete="off" spellcheck="false";
                label for="jwt-audiences" { "Audiences (the tokens' aud; separate with commas)" }
                input #jwt-audiences type="text" name="audiences" required autocomplete="off" spellcheck="false";
                label for="jwt-jwks" { "JWKS URL (https)" }
                input #jwt-jwks type="url" name="jwks_url" required autocomplete="off" spellcheck="false";
                button type="submit" { "Accept this issuer's tokens" }
            }
        }
        section aria-labelledby="basic" {
            h2 #basic { "HTTP Basic" }
            @if let Some(user) = &c.credentials.basic_username {
                p { "Username " code { (user) } " " (action(&session, &format!("{base}/basic/remove"), "Remove", true)) }
            }
            form.row method="post" action=(format!("{base}/basic")) {
                (csrf(&session))
                label for="basic-user" { "Username" }
                input #basic-user type="text" name="username" required autocomplete="off";
                label for="basic-password" { "Password (12 characters at least)" }
                input #basic-password type="password" name="password" required minlength="12" autocomplete="new-password";
                button type="submit" { "Set the Basic credential" }
            }
        }
        section aria-labelledby="settings" {
            h2 #settings { "Settings" }
            p { "Scope, rights mapping, policies and rate limit, as the admin API takes them (JSON; see docs/admin-api.md)." }
            form.stack method="post" action=(format!("{base}/edit")) {
                (csrf(&session))
                label for="edit-name" { "Display name" }
                input #edit-name type="text" name="display_name" value=(c.display_name);
                label for="edit-ss" { "Secret Server instance" }
                input #edit-ss type="text" name="secret_server" value=(c.secret_server) required;
                label for="edit-scope" { "Scope (resource types, principal scope, folders)" }
                textarea #edit-scope name="scope" rows="8" spellcheck="false" { (pretty(&c.scope)) }
                label for="edit-rights" { "Rights mapping" }
                textarea #edit-rights name="rights" rows="6" spellcheck="false" { (pretty(&c.rights)) }
                label for="edit-policies" { "Policies (patchResponse: \"resource\" answers a PATCH 200 with the resource, \"noContent\" 204 with its ETag)" }
                textarea #edit-policies name="policies" rows="8" spellcheck="false" { (pretty(&c.policies)) }
                label for="edit-rate" { "Rate limit (null: the gateway's default; \"none\"; or {\"requestsPerSecond\": 10, \"burst\": 20})" }
                input #edit-rate type="text" name="rate_limit" value=(pretty(&c.rate_limit)) spellcheck="false";
                button type="submit" { "Save" }
            }
        }
        section aria-labelledby="recent" {
            h2 #recent { "Recent calls" }
            (super::monitor::calls_table(&calls))
        }
    };
    html::respond(
        StatusCode::OK,
        html::page(&format!("Connection {}", c.id), Some(&session), Section::Connections, Head::default(), body),
    )
}

/// Pretty JSON of a serialisable value, for the edit form.
fn pretty<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}

#[derive(Deserialize)]
struct EditForm {
    display_name: String,
    secret_server: String,
    scope: String,
    rights: String,
    policies: String,
    rate_limit: String,
}

/// The JSON of a form field, or why it is not (shown on a 400 page).
fn parse_json(field: &str, text: &str) -> Result<serde_json::Value, String> {
    serde_json::from_str(text).map_err(|e| format!("{field} is not valid JSON: {e}"))
}

async fn edit(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<EditForm>,
) -> HttpResponse {
    let session = session_of(&req);
    let form = form.into_inner();
    let patch = (|| -> Result<ConnectionPatch, String> {
        let object = serde_json::json!({
            "displayName": form.display_name.trim(),
            "secretServer": form.secret_server,
            "scope": parse_json("scope", &form.scope)?,
            "rights": parse_json("rights", &form.rights)?,
            "policies": parse_json("policies", &form.policies)?,
            "rateLimit": parse_json("rate limit", &form.rate_limit)?,
        });
        serde_json::from_value(object).map_err(|e| format!("the settings are not valid: {e}"))
    })();
    let patch = match patch {
        Ok(p) => p,
        Err(why) => return html::error_page(400, &why),
    };
    match ops::change_connection(&state, &session.actor(), &path, patch).await {
        Ok(c) => back(&c.id, "saved"),
        Err(e) => failure(&e),
    }
}

async fn disable(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match ops::set_enabled(&state, &session_of(&req).actor(), &path, false).await {
        Ok(c) => back(&c.id, "disabled"),
        Err(e) => failure(&e),
    }
}

async fn enable(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match ops::set_enabled(&state, &session_of(&req).actor(), &path, true).await {
        Ok(c) => back(&c.id, "enabled"),
        Err(e) => failure(&e),
    }
}

async fn delete(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match ops::delete_connection(&state, &session_of(&req).actor(), &path).await {
        Ok(()) => see_other(&format!("{PREFIX}/connections?notice=deleted")),
        Err(e) => failure(&e),
    }
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    label: String,
    #[serde(default)]
    expires_in_days: String,
}

async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<TokenForm>,
) -> HttpResponse {
    let session = session_of(&req);
    let expires_in_seconds = match form.expires_in_days.trim() {
        "" => None,
        days => match days.parse::<u64>() {
            Ok(d) if d > 0 => Some(d.saturating_mul(86_400)),
            _ => return html::error_page(400, "The expiry is a whole number of days, 1 or more."),
        },
    };
    let new = NewToken { label: Some(form.label.trim().to_owned()).filter(|l| !l.is_empty()), expires_in_seconds };
    let issued = match ops::issue_token_to(&state, &session.actor(), &path, new).await {
        Ok(t) => t,
        Err(e) => return failure(&e),
    };
    let body = html! {
        p.notice role="status" { "Token " code { (issued.id) } " is issued to " strong { (path.as_str()) } "." }
        (shown_once("Bearer token", &issued.token))
        p { a href=(detail_path(&path)) { "Back to the connection" } }
    };
    html::respond(
        StatusCode::CREATED,
        html::page(
            "Token issued",
            Some(&session),
            Section::Connections,
            Head { script: true, ..Head::default() },
            body,
        ),
    )
}

async fn revoke_token(state: web::Data<AppState>, req: HttpRequest, path: web::Path<(String, String)>) -> HttpResponse {
    let (id, token) = path.into_inner();
    match ops::revoke_token_of(&state, &session_of(&req).actor(), &id, &token).await {
        Ok(()) => back(&id, "token-revoked"),
        Err(e) => failure(&e),
    }
}

async fn add_oauth_client(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    let session = session_of(&req);
    let base = ops::public_base(&state, &req);
    let issued = match ops::add_oauth_client_to(&state, &session.actor(), &path, NewOAuthClient::default(), &base).await
    {
        Ok(k) => k,
        Err(e) => return failure(&e),
    };
    let body = html! {
        dl.facts {
            dt { "Client id" } dd { code { (issued.client_id) } }
            dt { "Token endpoint" } dd { code { (issued.token_endpoint) } }
            dt { "Access tokens live" } dd { (issued.token_ttl_seconds) " s" }
        }
        (shown_once("Client secret", &issued.client_secret))
        p { a href=(detail_path(&path)) { "Back to the connection" } }
    };
    html::respond(
        StatusCode::CREATED,
        html::page(
            "OAuth2 client registered",
            Some(&session),
            Section::Connections,
            Head { script: true, ..Head::default() },
            body,
        ),
    )
}

async fn remove_oauth_client(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (id, client) = path.into_inner();
    match ops::remove_oauth_client_of(&state, &session_of(&req).actor(), &id, &client).await {
        Ok(()) => back(&id, "oauth-removed"),
        Err(e) => failure(&e),
    }
}

/// An Entra tenant (the preset), or another issuer with its audiences and JWKS URL: the admin
/// API's `NewJwtIssuer`, from a form.
#[derive(Deserialize)]
struct JwtIssuerForm {
    #[serde(default)]
    entra_tenant_id: String,
    #[serde(default)]
    issuer: String,
    /// Comma-separated.
    #[serde(default)]
    audiences: String,
    #[serde(default)]
    jwks_url: String,
    /// Comma-separated: the applications (`appid`/`azp`) whose tokens are accepted.
    #[serde(default)]
    app_ids: String,
}

impl From<JwtIssuerForm> for crate::admin_model::NewJwtIssuer {
    fn from(form: JwtIssuerForm) -> Self {
        let given = |s: String| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Self {
            entra_tenant_id: given(form.entra_tenant_id),
            issuer: given(form.issuer),
            audiences: form.audiences.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect(),
            jwks_url: given(form.jwks_url),
            app_ids: form.app_ids.split(',').map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect(),
            ..Default::default()
        }
    }
}

async fn add_jwt_issuer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<JwtIssuerForm>,
) -> HttpResponse {
    let new = crate::admin_model::NewJwtIssuer::from(form.into_inner());
    match ops::add_jwt_issuer_to(&state, &session_of(&req).actor(), &path, new).await {
        Ok(_) => back(&path, "jwt-added"),
        Err(e) => failure(&e),
    }
}

async fn remove_jwt_issuer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> HttpResponse {
    let (id, issuer) = path.into_inner();
    match ops::remove_jwt_issuer_of(&state, &session_of(&req).actor(), &id, &issuer).await {
        Ok(()) => back(&id, "jwt-removed"),
        Err(e) => failure(&e),
    }
}

async fn set_basic(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    form: web::Form<BasicCredentialRequest>,
) -> HttpResponse {
    match ops::set_basic_of(&state, &session_of(&req).actor(), &path, form.into_inner()).await {
        Ok(c) => back(&c.id, "basic-set"),
        Err(e) => failure(&e),
    }
}

async fn remove_basic(state: web::Data<AppState>, req: HttpRequest, path: web::Path<String>) -> HttpResponse {
    match ops::remove_basic_of(&state, &session_of(&req).actor(), &path).await {
        Ok(()) => back(&path, "basic-removed"),
        Err(e) => failure(&e),
    }
}
