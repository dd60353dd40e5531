//! Console users: administrators who sign in to the console with a name and a password, kept in
//! the state store (where the connections and their credentials are, shared by every replica) as
//! Argon2id hashes (the same hashing as connections' Basic passwords). Managed through the admin
//! API (`/admin/v1/console-users`, and the CLI's `scim-connector admin console-user`), never from
//! the console itself: adding an administrator needs the admin token.

use crate::auth::AdminActor;
use crate::errors::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use bytes::Bytes;
use connections::{VerifyError, credentials};
use scim::ScimType;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use service_error::{ErrorKind, ServiceError};
use time::OffsetDateTime;

/// The state store's namespace of console users.
const NAMESPACE: &str = "console-users";

/// The shortest password a console user may have.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// A console user as stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredUser {
    name: String,
    password_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    /// Sessions started before this end.
    #[serde(with = "time::serde::rfc3339")]
    password_set_at: OffsetDateTime,
}

/// A console user as the admin API shows it (never the hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleUserView {
    pub name: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub password_set_at: OffsetDateTime,
}

/// `POST /admin/v1/console-users` and `PUT /admin/v1/console-users/{name}/password`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleUserRequest {
    #[serde(default)]
    pub name: String,
    pub password: String,
}

impl From<&StoredUser> for ConsoleUserView {
    fn from(u: &StoredUser) -> Self {
        Self { name: u.name.clone(), created_at: u.created_at, password_set_at: u.password_set_at }
    }
}

fn store_error(e: state_store::StoreError) -> ApiError {
    tracing::error!(error = %e, "console users: state store failure");
    ApiError::unavailable("the state store is unavailable; retry later", 5)
}

/// A name is 1 to 64 characters of letters, digits, `.`, `_`, `-` and `@`: it appears in the
/// audit trail and in pages, and must never be mistaken for another.
fn check_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            ScimType::InvalidValue,
            "a console user's name is 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ))
    }
}

fn check_password(password: &str) -> ApiResult<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            format!("a console password has at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    Ok(())
}

async fn hash(password: String) -> ApiResult<String> {
    let password = SecretString::from(password);
    tokio::task::spawn_blocking(move || credentials::hash_password(&password))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| {
            tracing::error!(error = %e, "could not hash a console password");
            ApiError::internal()
        })
}

async fn load(state: &AppState, name: &str) -> ApiResult<Option<StoredUser>> {
    let Some(bytes) = state.state.get(NAMESPACE, name).await.map_err(store_error)? else { return Ok(None) };
    Ok(serde_json::from_slice(&bytes).ok())
}

async fn save(state: &AppState, user: &StoredUser) -> ApiResult<()> {
    let bytes = serde_json::to_vec(user).map_err(|_| ApiError::internal())?;
    state.state.put(NAMESPACE, &user.name, Bytes::from(bytes)).await.map_err(store_error)
}

/// Every console user.
///
/// # Errors
/// When the state store fails.
pub async fn list(state: &AppState) -> ApiResult<Vec<ConsoleUserView>> {
    let mut users: Vec<ConsoleUserView> = state
        .state
        .load_all(NAMESPACE)
        .await
        .map_err(store_error)?
        .iter()
        .filter_map(|(_, bytes)| serde_json::from_slice::<StoredUser>(bytes).ok())
        .map(|u| ConsoleUserView::from(&u))
        .collect();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(users)
}

/// Adds console user `name` (`409` when there is one).
///
/// # Errors
/// An invalid name or short password, an existing user, or a failing store.
pub async fn add(state: &AppState, actor: &AdminActor, name: &str, password: String) -> ApiResult<ConsoleUserView> {
    check_name(name)?;
    check_password(&password)?;
    if load(state, name).await?.is_some() {
        return Err(ApiError::from(ServiceError::new(
            ErrorKind::AlreadyExists,
            format!("console user {name} already exists (reset-password changes a password)"),
        )));
    }
    let now = OffsetDateTime::now_utc();
    let user = StoredUser {
        name: name.to_owned(),
        password_hash: hash(password).await?,
        created_at: now,
        password_set_at: now,
    };
    save(state, &user).await?;
    state.audit.admin_action(&actor.0, "add-console-user", "", format!("console user {name}")).await;
    Ok(ConsoleUserView::from(&user))
}

/// Gives console user `name` a new password; their sessions end.
///
/// # Errors
/// An unknown user, a short password, or a failing store.
pub async fn reset_password(state: &AppState, actor: &AdminActor, name: &str, password: String) -> ApiResult<()> {
    check_password(&password)?;
    let mut user = load(state, name).await?.ok_or_else(|| ApiError::not_found(format!("no console user {name}")))?;
    user.password_hash = hash(password).await?;
    user.password_set_at = OffsetDateTime::now_utc();
    save(state, &user).await?;
    state.audit.admin_action(&actor.0, "reset-console-password", "", format!("console user {name}")).await;
    Ok(())
}

/// Removes console user `name`; their sessions end.
///
/// # Errors
/// An unknown user, or a failing store.
pub async fn remove(state: &AppState, actor: &AdminActor, name: &str) -> ApiResult<()> {
    if !state.state.delete(NAMESPACE, name).await.map_err(store_error)? {
        return Err(ApiError::not_found(format!("no console user {name}")));
    }
    state.audit.admin_action(&actor.0, "remove-console-user", "", format!("console user {name}")).await;
    Ok(())
}

/// The console's own bound on the Argon2 verifications of sign-in passwords: as many at once as
/// the SCIM front door's verifier allows (`credential_cache.max_concurrent_hashes`), each holding
/// 19 MiB while it runs. The verifier's slots are its own (the `connections` crate does not lend
/// them), so the console keeps as many again beside them; beyond them a sign-in is refused at once
/// (busy) rather than queued.
#[derive(Debug)]
pub struct PasswordChecks {
    slots: std::sync::Arc<tokio::sync::Semaphore>,
}

impl PasswordChecks {
    /// At most `concurrent` verifications at once (at least one).
    pub fn new(concurrent: usize) -> Self {
        Self { slots: std::sync::Arc::new(tokio::sync::Semaphore::new(concurrent.max(1))) }
    }
}

/// Whether `password` is console user `name`'s (`false` for an unknown user, after hashing anyway
/// so that the time taken does not tell which names exist).
///
/// # Errors
/// [`VerifyError::Busy`] when every verification slot of [`PasswordChecks`] is taken (nothing is
/// hashed), [`VerifyError::Store`] when the state store fails.
pub async fn verify(state: &AppState, name: &str, password: &str) -> Result<bool, VerifyError> {
    let stored = match state.state.get(NAMESPACE, name).await.map_err(VerifyError::Store)? {
        Some(bytes) => serde_json::from_slice::<StoredUser>(&bytes).ok(),
        None => None,
    };
    let Ok(slot) = state.console_password_checks.slots.clone().try_acquire_owned() else {
        metrics::counter!("scim_gateway_console_password_checks_refused_total").increment(1);
        return Err(VerifyError::Busy { retry_after: 1 });
    };
    let phc = stored.map(|u| u.password_hash);
    let password = password.to_owned();
    // The slot moves into the blocking task: it is held until the hash is done, even when the
    // request that asked has gone away. The dummy hash is made there too, the first time.
    let matched = tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let phc = phc.unwrap_or_else(|| DUMMY_HASH.clone());
        credentials::verify_password(&password, &phc)
    })
    .await
    .unwrap_or(false);
    Ok(matched)
}

/// A hash to verify against when the user does not exist.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    credentials::hash_password(&SecretString::from("not a password of anyone")).unwrap_or_default()
});

/// Whether a session of console user `name` started at `signed_in_at` (Unix milliseconds) may go on:
/// the user still exists and has not had a new password since.
///
/// # Errors
/// When the state store fails.
pub async fn admits_session(state: &AppState, name: &str, signed_in_at: i64) -> Result<bool, state_store::StoreError> {
    let Some(bytes) = state.state.get(NAMESPACE, name).await? else { return Ok(false) };
    let Ok(user) = serde_json::from_slice::<StoredUser>(&bytes) else { return Ok(false) };
    Ok(user.password_set_at.unix_timestamp_nanos() / 1_000_000 <= i128::from(signed_in_at))
}

/// Makes sure console user `name` exists with `password`, straight in the store and unaudited:
/// for `scim-connector dev`, which starts with a console user of its own. A user that already has
/// that password is left alone (their sessions go on).
///
/// # Errors
/// When the store fails or the password cannot be hashed.
pub async fn provision(store: &dyn state_store::StateStore, name: &str, password: &SecretString) -> anyhow::Result<()> {
    if let Some(bytes) = store.get(NAMESPACE, name).await?
        && let Ok(user) = serde_json::from_slice::<StoredUser>(&bytes)
        && credentials::verify_password(password.expose_secret(), &user.password_hash)
    {
        return Ok(());
    }
    let now = OffsetDateTime::now_utc();
    let user = StoredUser {
        name: name.to_owned(),
        password_hash: credentials::hash_password(password)?,
        created_at: now,
        password_set_at: now,
    };
    store.put(NAMESPACE, name, Bytes::from(serde_json::to_vec(&user)?)).await?;
    Ok(())
}

// The admin API's routes (inside `/admin/v1`).

/// Registers `/console-users` (inside the `/admin/v1` scope).
pub fn configure_admin(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/console-users").route(web::get().to(list_route)).route(web::post().to(add_route)))
        .service(web::resource("/console-users/{name}").route(web::delete().to(remove_route)))
        .service(web::resource("/console-users/{name}/password").route(web::put().to(reset_route)));
}

async fn list_route(state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    Ok(HttpResponse::Ok().json(list(&state).await?))
}

async fn add_route(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let request: ConsoleUserRequest = crate::routes::admin::parse_body(&req, &body)?;
    Ok(HttpResponse::Created().json(add(&state, &actor, request.name.trim(), request.password).await?))
}

async fn remove_route(
    state: web::Data<AppState>,
    actor: AdminActor,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    remove(&state, &actor, &path).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn reset_route(
    state: web::Data<AppState>,
    actor: AdminActor,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let request: ConsoleUserRequest = crate::routes::admin::parse_body(&req, &body)?;
    reset_password(&state, &actor, &path, request.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

impl std::fmt::Debug for ConsoleUserRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsoleUserRequest").field("name", &self.name).finish_non_exhaustive()
    }
}

impl ConsoleUserRequest {
    /// A request for user `name` with `password`.
    pub fn new(name: &str, password: &SecretString) -> Self {
        Self { name: name.to_owned(), password: password.expose_secret().to_owned() }
    }
}
