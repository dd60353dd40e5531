//! The admin API under `/admin/v1`: create, list, show, change, disable,
//! enable and delete connections, and issue or revoke their credentials.
//! Authenticated with an admin token (see `auth::admin_middleware`); every
//! change emits an `AdminAction` audit event and clears this replica's
//! credential cache (other replicas see it within the connection store's
//! cache TTL). Errors are SCIM error bodies, like the rest of the gateway.
//!
//! Changes are read-modify-write on the connection record: two admins
//! changing the same connection at the same instant may lose one change
//! (the state store has no compare-and-set); admin changes are rare and
//! each is audited.

use crate::admin_model::{
    BasicCredentialRequest, ConnectionPatch, ConnectionView, CreatedConnection, IssuedOAuthClientView, IssuedTokenView,
    NewConnection, NewOAuthClient, NewToken,
};
use crate::auth::AdminActor;
use crate::errors::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use connections::{Connection, ConnectionId, ConnectionRateLimit, Credentials, Scope, credentials};
use scim::ScimType;
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use service_error::{ErrorKind, ServiceError};
use time::OffsetDateTime;

/// Registers the admin routes (inside the `/admin/v1` scope).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/connections").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/connections/{id}")
                .route(web::get().to(show))
                .route(web::patch().to(change))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/connections/{id}/tokens").route(web::post().to(issue_token)))
        .service(web::resource("/connections/{id}/tokens/{token_id}").route(web::delete().to(revoke_token)))
        .service(web::resource("/connections/{id}/oauth-clients").route(web::post().to(add_oauth_client)))
        .service(
            web::resource("/connections/{id}/oauth-clients/{client_id}").route(web::delete().to(remove_oauth_client)),
        )
        .service(web::resource("/connections/{id}/jwt-issuers").route(web::post().to(add_jwt_issuer)))
        .service(web::resource("/connections/{id}/jwt-issuers/{issuer_id}").route(web::delete().to(remove_jwt_issuer)))
        .service(
            web::resource("/connections/{id}/basic")
                .route(web::put().to(set_basic))
                .route(web::delete().to(remove_basic)),
        )
        .service(web::resource("/connections/{id}/disable").route(web::post().to(disable)))
        .service(web::resource("/connections/{id}/enable").route(web::post().to(enable)));
}

pub(crate) fn parse_body<T: DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> ApiResult<T> {
    crate::request::check_media_type(req)?;
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(ScimType::InvalidSyntax, format!("unreadable request body: {e}")))
}

fn parse_id(id: &str) -> ApiResult<ConnectionId> {
    id.parse().map_err(|e: connections::InvalidConnectionId| ApiError::not_found(e.to_string()))
}

fn store_error(e: state_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "connection store failure");
    ApiError::unavailable("the connection store is unavailable; retry later", 5)
}

async fn load(state: &AppState, id: &str) -> ApiResult<Connection> {
    let id = parse_id(id)?;
    // Admin reads go to the store, never a cached copy that another replica may have changed.
    state.connections.invalidate(&id);
    state
        .connections
        .get(&id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::not_found(format!("no connection {id}")))
}

async fn save(
    state: &AppState,
    actor: &AdminActor,
    action: &str,
    mut c: Connection,
    detail: String,
) -> ApiResult<Connection> {
    c.updated_at = Some(OffsetDateTime::now_utc());
    state.connections.put(&c).await.map_err(store_error)?;
    state.verifier.clear_cache();
    state.audit.admin_action(&actor.0, action, c.id.as_str(), detail).await;
    tracing::info!(actor = %actor.0, action, connection = %c.id, "admin change");
    Ok(c)
}

/// A scope naming a resource type that does not exist would silently hide nothing or everything
/// the admin meant (`"Users"` for `"User"`): refuse it, naming the types there are.
fn check_scope(scope: &Scope) -> ApiResult<()> {
    for name in scope.resource_types.keys() {
        if scim::ResourceKind::from_name(name).is_none() {
            let known: Vec<&str> = scim::ResourceKind::ALL.iter().map(|k| k.name()).collect();
            return Err(ApiError::bad_request(
                ScimType::InvalidValue,
                format!("scope.resourceTypes: {name:?} is not a resource type (one of {})", known.join(", ")),
            ));
        }
    }
    Ok(())
}

/// A limit that lets nothing through would silently cut the connection off: refuse it.
fn check_rate_limit(limit: Option<ConnectionRateLimit>) -> ApiResult<()> {
    if let Some(ConnectionRateLimit::Limited(limit)) = limit
        && !(limit.requests_per_second > 0.0 && limit.burst > 0)
    {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            "rateLimit needs requestsPerSecond > 0 and burst > 0 (or \"none\" for no limit)",
        ));
    }
    Ok(())
}

fn conflict(detail: impl Into<String>) -> ApiError {
    ApiError::from(ServiceError::new(ErrorKind::AlreadyExists, detail))
}

/// A connection as the admin API shows it: for one defined in the configuration file, with which
/// parts come from the file and which from the admin API.
async fn connection_view(state: &AppState, c: &Connection) -> ApiResult<ConnectionView> {
    let file = if c.from_config { state.connections.file_definition(&c.id).await.map_err(store_error)? } else { None };
    Ok(ConnectionView::with_file_definition(c, file.as_ref()))
}

async fn view(state: &AppState, c: &Connection) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(connection_view(state, c).await?))
}

// The operations themselves, shared by the handlers below and by the web console (`crate::console`):
// one implementation of each change, its checks and its audit event, whoever asks for it.

/// Every connection, as the admin API shows them.
pub(crate) async fn list_connections(state: &AppState) -> ApiResult<Vec<ConnectionView>> {
    let all = state.connections.list().await.map_err(store_error)?;
    let mut views = Vec::with_capacity(all.len());
    for c in &all {
        views.push(connection_view(state, c).await?);
    }
    Ok(views)
}

/// One connection, read from the store (never a cached copy).
pub(crate) async fn show_connection(state: &AppState, id: &str) -> ApiResult<ConnectionView> {
    connection_view(state, &load(state, id).await?).await
}

/// Creates a connection (and its first token unless `issueToken` is false).
pub(crate) async fn create_connection(
    state: &AppState,
    actor: &AdminActor,
    new: NewConnection,
) -> ApiResult<CreatedConnection> {
    let id: ConnectionId = new
        .id
        .parse()
        .map_err(|e: connections::InvalidConnectionId| ApiError::bad_request(ScimType::InvalidValue, e.to_string()))?;
    if new.secret_server.trim().is_empty() {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            "secretServer names the instance and cannot be empty",
        ));
    }
    if let Some(scope) = &new.scope {
        check_scope(scope)?;
    }
    check_rate_limit(new.rate_limit)?;
    if state.connections.get(&id).await.map_err(store_error)?.is_some() {
        return Err(conflict(format!("connection {id} already exists")));
    }
    if state.connections.retired(&id).await.map_err(store_error)? {
        return Err(conflict(format!(
            "connection id {id} belonged to a deleted connection: the users and groups it created, the \
             externalIds it set and its idempotency keys still name it, and a new connection of that id would \
             inherit them; choose another id"
        )));
    }
    let issued = new.issue_token.unwrap_or(true).then(|| credentials::issue_token(Some("initial".to_owned()), None));
    let mut connection = Connection {
        id: id.clone(),
        display_name: new.display_name.unwrap_or_default(),
        enabled: new.enabled.unwrap_or(true),
        secret_server: new.secret_server.trim().to_owned(),
        credentials: Credentials::default(),
        scope: new.scope.unwrap_or_default(),
        rights: new.rights.unwrap_or_default(),
        rate_limit: new.rate_limit,
        policies: new.policies.unwrap_or_default(),
        from_config: false,
        created_at: Some(OffsetDateTime::now_utc()),
        updated_at: None,
    };
    if let Some(issued) = &issued {
        connection.credentials.bearer_tokens.push(issued.credential.clone());
    }
    let connection = save(state, actor, "create-connection", connection, "created".to_owned()).await?;
    let token = issued.map(|i| IssuedTokenView {
        id: i.credential.id.clone(),
        token: i.token.expose_secret().to_owned(),
        label: i.credential.label.clone(),
        expires_at: None,
    });
    Ok(CreatedConnection { connection: ConnectionView::from(&connection), token })
}

/// Changes the members of connection `id` that `patch` names.
pub(crate) async fn change_connection(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    patch: ConnectionPatch,
) -> ApiResult<ConnectionView> {
    let mut c = load(state, id).await?;
    let mut changed = Vec::new();
    if let Some(v) = patch.display_name {
        c.display_name = v;
        changed.push("displayName");
    }
    if let Some(v) = patch.secret_server {
        if v.trim().is_empty() {
            return Err(ApiError::bad_request(ScimType::InvalidValue, "secretServer cannot be empty"));
        }
        c.secret_server = v.trim().to_owned();
        changed.push("secretServer");
    }
    if let Some(v) = patch.scope {
        check_scope(&v)?;
        c.scope = v;
        changed.push("scope");
    }
    if let Some(v) = patch.rights {
        c.rights = v;
        changed.push("rights");
    }
    if let Some(v) = patch.rate_limit {
        check_rate_limit(v)?;
        c.rate_limit = v;
        changed.push("rateLimit");
    }
    if let Some(v) = patch.policies {
        c.policies = v;
        changed.push("policies");
    }
    if let Some(v) = patch.enabled {
        c.enabled = v;
        changed.push("enabled");
    }
    let c = save(state, actor, "update-connection", c, format!("changed: {}", changed.join(", "))).await?;
    connection_view(state, &c).await
}

/// Deletes connection `id` (`409` for one defined in the configuration file).
pub(crate) async fn delete_connection(state: &AppState, actor: &AdminActor, id: &str) -> ApiResult<()> {
    let c = load(state, id).await?;
    if c.from_config {
        return Err(conflict(format!(
            "connection {} is defined in the configuration file; remove it there (its credentials may be rotated here)",
            c.id
        )));
    }
    state.connections.delete(&c.id).await.map_err(store_error)?;
    state.verifier.clear_cache();
    state.audit.admin_action(&actor.0, "delete-connection", c.id.as_str(), "deleted".to_owned()).await;
    Ok(())
}

/// Issues a bearer token to connection `id`: the answer is the only time the token is shown.
pub(crate) async fn issue_token_to(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    new: NewToken,
) -> ApiResult<IssuedTokenView> {
    let mut c = load(state, id).await?;
    let expires_at = match new.expires_in_seconds {
        Some(0) => {
            return Err(ApiError::bad_request(ScimType::InvalidValue, "expiresInSeconds must be greater than 0"));
        }
        // `checked_add`: an expiry past the last date `time` can hold is refused, never a panic.
        Some(s) => Some(
            i64::try_from(s)
                .ok()
                .and_then(|s| OffsetDateTime::now_utc().checked_add(time::Duration::seconds(s)))
                .ok_or_else(|| ApiError::bad_request(ScimType::InvalidValue, "expiresInSeconds is too large"))?,
        ),
        None => None,
    };
    let issued = credentials::issue_token(new.label, expires_at);
    c.credentials.bearer_tokens.push(issued.credential.clone());
    save(state, actor, "issue-token", c, format!("token {}", issued.credential.id)).await?;
    Ok(IssuedTokenView {
        id: issued.credential.id.clone(),
        token: issued.token.expose_secret().to_owned(),
        label: issued.credential.label.clone(),
        expires_at,
    })
}

/// Removes one credential of connection `id` (`remove` says whether it found it) and saves the
/// connection with `action` audited; `404` naming `detail` when the connection has no such credential.
async fn remove_credential(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    action: &str,
    detail: String,
    remove: impl FnOnce(&mut Connection) -> bool,
) -> ApiResult<()> {
    let mut c = load(state, id).await?;
    if !remove(&mut c) {
        return Err(ApiError::not_found(format!("connection {id} has no {detail}")));
    }
    save(state, actor, action, c, detail).await?;
    Ok(())
}

/// Drops the elements of `items` that `matches`; true when there was one.
fn remove_where<T>(items: &mut Vec<T>, matches: impl Fn(&T) -> bool) -> bool {
    let before = items.len();
    items.retain(|item| !matches(item));
    items.len() != before
}

/// Revokes bearer token `token_id` of connection `id`.
pub(crate) async fn revoke_token_of(state: &AppState, actor: &AdminActor, id: &str, token_id: &str) -> ApiResult<()> {
    let detail = format!("token {token_id}");
    remove_credential(state, actor, id, "revoke-token", detail, |c| {
        remove_where(&mut c.credentials.bearer_tokens, |t| t.id == token_id)
    })
    .await
}

/// Registers an OAuth2 client for connection `id`; `base` is the gateway's public base URL (for
/// the token endpoint shown). The answer is the only time the client secret is shown.
pub(crate) async fn add_oauth_client_to(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    new: NewOAuthClient,
    base: &str,
) -> ApiResult<IssuedOAuthClientView> {
    let mut c = load(state, id).await?;
    let ttl = match new.token_ttl_seconds {
        Some(0) => return Err(ApiError::bad_request(ScimType::InvalidValue, "tokenTtlSeconds must be greater than 0")),
        Some(s) => s,
        None => u32::try_from(state.settings.oauth_token_ttl.as_secs()).unwrap_or(3600).max(1),
    };
    let issued = tokio::task::spawn_blocking(move || credentials::issue_oauth_client(ttl))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "could not register an OAuth2 client");
            ApiError::internal()
        })?;
    c.credentials.oauth_clients.push(issued.client.clone());
    save(state, actor, "add-oauth-client", c, format!("client {}", issued.client.client_id)).await?;
    Ok(IssuedOAuthClientView {
        client_id: issued.client.client_id.clone(),
        client_secret: issued.client_secret.expose_secret().to_owned(),
        token_ttl_seconds: ttl,
        token_endpoint: format!("{base}/oauth2/token"),
    })
}

/// Removes OAuth2 client `client_id` of connection `id`.
/// Adds a JWT issuer whose bearer tokens connection `id` accepts.
pub(crate) async fn add_jwt_issuer_to(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    new: crate::admin_model::NewJwtIssuer,
) -> ApiResult<connections::JwtIssuer> {
    let mut c = load(state, id).await?;
    let issuer = new
        .into_issuer(connections::credentials::random_id("jwt_"))
        .map_err(|e| ApiError::bad_request(ScimType::InvalidValue, e))?;
    // A token two connections would both accept could not say whose it is: every such token is
    // refused (see `jwt`), so the second issuer is refused here, where an administrator sees why.
    // A connection's own issuers may overlap (a narrower one, or new keys, added before the old one
    // is removed): its tokens are its own either way.
    for other in state.connections.list().await.map_err(store_error)?.into_iter().filter(|o| o.id != c.id) {
        if let Some(existing) = other.credentials.jwt_issuers.iter().find(|i| i.overlaps(&issuer)) {
            return Err(conflict(format!(
                "connection {} already accepts tokens of issuer {} with these audiences (its issuer {}): give both \
                 the application ids (appIds) that tell their callers apart",
                other.id, issuer.issuer, existing.id
            )));
        }
    }
    c.credentials.jwt_issuers.push(issuer.clone());
    save(state, actor, "add-jwt-issuer", c, format!("issuer {} ({})", issuer.id, issuer.issuer)).await?;
    Ok(issuer)
}

/// Removes JWT issuer `issuer_id` from connection `id`.
pub(crate) async fn remove_jwt_issuer_of(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    issuer_id: &str,
) -> ApiResult<()> {
    let detail = format!("JWT issuer {issuer_id}");
    remove_credential(state, actor, id, "remove-jwt-issuer", detail, |c| {
        remove_where(&mut c.credentials.jwt_issuers, |i| i.id == issuer_id)
    })
    .await
}

pub(crate) async fn remove_oauth_client_of(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    client_id: &str,
) -> ApiResult<()> {
    let detail = format!("OAuth client {client_id}");
    remove_credential(state, actor, id, "remove-oauth-client", detail, |c| {
        remove_where(&mut c.credentials.oauth_clients, |k| k.client_id == client_id)
    })
    .await
}

/// Sets (or replaces) the Basic credential of connection `id`.
pub(crate) async fn set_basic_of(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    request: BasicCredentialRequest,
) -> ApiResult<ConnectionView> {
    let username = request.username.trim().to_owned();
    if username.is_empty() || username.contains(':') {
        return Err(ApiError::bad_request(ScimType::InvalidValue, "username must be non-empty and contain no ':'"));
    }
    if request.password.chars().count() < 12 {
        return Err(ApiError::bad_request(ScimType::InvalidValue, "password must be at least 12 characters"));
    }
    let mut c = load(state, id).await?;
    let others = state.connections.list().await.map_err(store_error)?;
    if others.iter().any(|o| o.id != c.id && o.credentials.basic.as_ref().is_some_and(|b| b.username == username)) {
        return Err(conflict(format!("another connection already uses the Basic username {username:?}")));
    }
    let password = SecretString::from(request.password);
    let name = username.clone();
    let basic = tokio::task::spawn_blocking(move || credentials::basic_credential(&name, &password))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "could not hash a Basic password");
            ApiError::internal()
        })?;
    c.credentials.basic = Some(basic);
    let c = save(state, actor, "set-basic", c, format!("username {username}")).await?;
    connection_view(state, &c).await
}

/// Removes the Basic credential of connection `id`.
pub(crate) async fn remove_basic_of(state: &AppState, actor: &AdminActor, id: &str) -> ApiResult<()> {
    let mut c = load(state, id).await?;
    if c.credentials.basic.take().is_none() {
        return Err(ApiError::not_found(format!("connection {} has no Basic credential", c.id)));
    }
    save(state, actor, "remove-basic", c, String::new()).await?;
    Ok(())
}

/// Enables or disables connection `id`.
pub(crate) async fn set_enabled(
    state: &AppState,
    actor: &AdminActor,
    id: &str,
    enabled: bool,
) -> ApiResult<ConnectionView> {
    let mut c = load(state, id).await?;
    c.enabled = enabled;
    let action = if enabled { "enable-connection" } else { "disable-connection" };
    connection_view(state, &save(state, actor, action, c, String::new()).await?).await
}

/// The gateway's base URL as its clients see it: `public_url`, or the request's scheme and host.
pub(crate) fn public_base(state: &AppState, req: &HttpRequest) -> String {
    match &state.settings.public_url {
        Some(url) => url.as_str().trim_end_matches('/').to_owned(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

// The handlers: parse, call the operation, answer.

async fn list(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(list_connections(&state).await?))
}

async fn create(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let new: NewConnection = parse_body(&req, &body)?;
    let created = create_connection(&state, &actor, new).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/admin/v1/connections/{}", created.connection.id)))
        .json(created))
}

async fn show(state: web::Data<AppState>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    view(&state, &load(&state, &path).await?).await
}

async fn change(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let patch: ConnectionPatch = parse_body(&req, &body)?;
    Ok(HttpResponse::Ok().json(change_connection(&state, &actor, &path, patch).await?))
}

async fn delete(state: web::Data<AppState>, actor: AdminActor, path: web::Path<String>) -> ApiResult<HttpResponse> {
    delete_connection(&state, &actor, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn issue_token(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let new: NewToken = parse_body(&req, &body)?;
    Ok(HttpResponse::Created().json(issue_token_to(&state, &actor, &path, new).await?))
}

async fn revoke_token(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, token_id) = path.into_inner();
    revoke_token_of(&state, &actor, &id, &token_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn add_oauth_client(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let new: NewOAuthClient = parse_body(&req, &body)?;
    let base = public_base(&state, &req);
    Ok(HttpResponse::Created().json(add_oauth_client_to(&state, &actor, &path, new, &base).await?))
}

async fn add_jwt_issuer(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let new: crate::admin_model::NewJwtIssuer = parse_body(&req, &body)?;
    Ok(HttpResponse::Created().json(add_jwt_issuer_to(&state, &actor, &path, new).await?))
}

async fn remove_jwt_issuer(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, issuer_id) = path.into_inner();
    remove_jwt_issuer_of(&state, &actor, &id, &issuer_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn remove_oauth_client(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, client_id) = path.into_inner();
    remove_oauth_client_of(&state, &actor, &id, &client_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn set_basic(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let request: BasicCredentialRequest = parse_body(&req, &body)?;
    Ok(HttpResponse::Ok().json(set_basic_of(&state, &actor, &path, request).await?))
}

async fn remove_basic(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    remove_basic_of(&state, &actor, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn disable(state: web::Data<AppState>, actor: AdminActor, path: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(set_enabled(&state, &actor, &path, false).await?))
}

async fn enable(state: web::Data<AppState>, actor: AdminActor, path: web::Path<String>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(set_enabled(&state, &actor, &path, true).await?))
}
