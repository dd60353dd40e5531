//! Building and running the emulator: [`spawn`] (tests: returns once
//! listening, with a handle) and [`run`] (the binary: serves until a shutdown
//! future completes).

use crate::access::{self, AccessDeniedStatus, ApiAccount};
use crate::auth::Tokens;
use crate::capacity::Capacity;
use crate::config::SimConfig;
use crate::db::Db;
use crate::faults::{self, Faults};
use crate::middleware::{self, RequestLog};
use crate::persist::DataDir;
use crate::routes::{self, RuntimeConfig};
use crate::seed;
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use std::future::Future;
use std::net::{SocketAddr, TcpListener};

/// A running emulator.
#[derive(Debug)]
pub struct RunningSim {
    addr: SocketAddr,
    https: bool,
    base_path: String,
    api_username: String,
    api_password: SecretString,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    db: Db,
    faults: web::Data<Faults>,
    capacity: web::Data<Capacity>,
    log: web::Data<RequestLog>,
    account: web::Data<ApiAccount>,
}

/// Opens the data directory (or memory), loads or seeds the state, and makes sure the built-in
/// roles and the API account (an administrator) exist.
fn open_state(config: &SimConfig) -> anyhow::Result<Db> {
    let db = match &config.data_dir {
        None => Db::in_memory(seed::initial_store(&config.seed, &config.api_username)?),
        Some(dir) => {
            let opened = DataDir::open(dir)?;
            if opened.truncated_tail {
                tracing::warn!(data_dir = %dir.display(), "a torn journal record (from a crash) was dropped");
            }
            match opened.store {
                Some(store) => {
                    tracing::info!(data_dir = %dir.display(), replayed = opened.replayed, counts = ?store.counts(),
                        "state loaded; the seed is not applied to a data directory that holds state");
                    Db::new(store, Some(opened.data_dir), config.compact_after)
                }
                None => {
                    let store = seed::initial_store(&config.seed, &config.api_username)?;
                    let db = Db::new(store, Some(opened.data_dir), config.compact_after);
                    db.compact().context("cannot write the first snapshot")?;
                    tracing::info!(data_dir = %dir.display(), "new data directory seeded");
                    db
                }
            }
        }
    };
    let missing = db.read(|s| seed::system_objects(s, &config.api_username));
    if !missing.is_empty() {
        db.apply_all(missing).map_err(|e| {
            anyhow::anyhow!("cannot create the built-in roles, the API account or the Everyone group: {e}")
        })?;
    }
    Ok(db)
}

/// Starts the emulator and returns once it is listening.
///
/// # Errors
/// The address cannot be bound, the data directory cannot be used, or the seed cannot be loaded.
pub async fn spawn(config: SimConfig) -> anyhow::Result<RunningSim> {
    let listener = TcpListener::bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let tls = config
        .tls
        .as_ref()
        .map(|files| transport_tls::ServerTls::load(files, transport_tls::DEFAULT_POLL_INTERVAL))
        .transpose()?;
    let state_config = config.clone();
    let db =
        tokio::task::spawn_blocking(move || open_state(&state_config)).await.context("state loader panicked")??;
    let tokens = web::Data::new(Tokens::new(config.token_lifetime, config.refresh_tokens));
    let faults = web::Data::new(Faults::new(tokens.clone().into_inner()));
    let log = web::Data::new(RequestLog::default());
    let capacity = web::Data::new(Capacity::new(config.capacity).context("invalid capacity settings")?);
    let app_capacity = capacity.clone();
    let runtime = web::Data::new(RuntimeConfig {
        base_path: config.normalized_base_path(),
        api_username: config.api_username.clone(),
        api_password: config.api_password.clone(),
        password_policy: config.password_policy.clone(),
        user_licenses: config.user_licenses,
        leniency: config.leniency,
        health_check_casing: config.health_check_casing,
    });
    let account_id = db.read(|s| s.user_by_name(crate::store::LOCAL_DOMAIN_ID, &config.api_username).map(|u| u.id));
    let account_id = account_id.context("the API account is missing")?;
    let account = web::Data::new(ApiAccount::new(
        account_id,
        config.api_account_permissions.iter().cloned(),
        config.leniency.unlimited_administration,
    ));
    let denied_status = web::Data::new(AccessDeniedStatus(config.access_denied_status));
    let base = config.normalized_base_path().to_lowercase();
    let app_db = web::Data::new(db.clone());
    let (app_tokens, app_faults, app_log) = (tokens.clone(), faults.clone(), log.clone());
    let app_account = account.clone();
    let platform = config.platform.clone().map(web::Data::new);
    if let Some(token) = &config.api_token {
        tokens.accept_api_token(token.expose_secret(), account_id);
    }
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(app_db.clone())
            .app_data(app_tokens.clone())
            .app_data(app_faults.clone())
            .app_data(app_capacity.clone())
            .app_data(app_log.clone())
            .app_data(runtime.clone())
            .app_data(app_account.clone())
            .app_data(denied_status.clone())
            .app_data(web::PathConfig::default().error_handler(routes::path_error))
            .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
            .configure(|cfg| routes::configure(cfg, &base, platform.clone()))
            .default_service(web::to(routes::not_found))
            // Registered innermost first: the log sees every request, faults come before routing.
            .wrap(from_fn(access::restyle))
            .wrap(from_fn(middleware::trace_request))
            .wrap(from_fn(middleware::normalize_path))
            .wrap(from_fn(faults::inject))
            // Outside the faults: an injected latency or fault is served within a slot.
            .wrap(from_fn(crate::capacity::admit))
            .wrap(from_fn(middleware::log_request))
    })
    .disable_signals();
    if let Some(workers) = config.workers {
        server = server.workers(workers.max(1));
    }
    let server = match &tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls.http_config()?),
        None => server.listen(listener),
    }
    .context("cannot serve on the bound socket")?;
    let server = server.run();
    let handle = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(%addr, base_path = %config.normalized_base_path(), "Secret Server emulator listening");
    Ok(RunningSim {
        addr,
        https: tls.is_some(),
        base_path: config.normalized_base_path(),
        api_username: config.api_username,
        api_password: config.api_password,
        handle,
        server,
        db,
        faults,
        capacity,
        log,
        account,
    })
}

/// Runs the emulator until `shutdown` completes, then stops gracefully and writes a snapshot.
///
/// # Errors
/// As [`spawn`], or the final snapshot cannot be written.
pub async fn run(config: SimConfig, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    let sim = spawn(config).await?;
    tracing::info!(base_url = %sim.base_url(), "serving; stop with the shutdown signal");
    shutdown.await;
    sim.shutdown().await;
    Ok(())
}

impl RunningSim {
    /// `http://127.0.0.1:<port>/SecretServer`.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}{}", self.addr, self.base_path)
    }

    /// The address listened on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API account's user name.
    pub fn api_username(&self) -> &str {
        &self.api_username
    }

    /// The API account's password.
    pub fn api_password(&self) -> &SecretString {
        &self.api_password
    }

    /// The fault switches (the same as `/_sim/faults` and `/_sim/tokens/expire`).
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The capacity model (the same as `/_sim/capacity`): its settings and counters.
    pub fn capacity(&self) -> &Capacity {
        &self.capacity
    }

    /// Every request served so far: `(method, path and query)`, oldest first.
    pub fn request_log(&self) -> Vec<(String, String)> {
        self.log.entries()
    }

    /// Forgets the request log.
    pub fn clear_request_log(&self) {
        self.log.clear();
    }

    /// The API account's role permissions (the same as `/_sim/api-account/permissions`): read them,
    /// or change them while the emulator runs.
    pub fn api_account(&self) -> &ApiAccount {
        &self.account
    }

    /// Makes sure local user `user_name` exists, enabled, signs in with `password` and is a member
    /// of local group `group` (both created when missing); returns the user's id. For
    /// `scim-connector dev` and tests: an account that may sign in to the web console. Journaled
    /// like any change.
    ///
    /// # Errors
    /// A name the emulator refuses, or the journal cannot be written.
    pub fn provision_member(&self, group: &str, user_name: &str, password: &str) -> anyhow::Result<i64> {
        use crate::store::LOCAL_DOMAIN_ID;
        let policy = crate::config::PasswordPolicy { min_length: 1, min_character_classes: 0, ..Default::default() };
        let group_id = match self.db.read(|s| s.group_by_name(LOCAL_DOMAIN_ID, group).map(|g| g.id)) {
            Some(id) => id,
            None => self.db.mutate(
                |s| {
                    s.plan_create_group(secret_server_api::GroupCreateArgs {
                        name: group.to_owned(),
                        enabled: true,
                        ..Default::default()
                    })
                },
                |_, id| Ok(id),
            )?,
        };
        let user_id = match self.db.read(|s| s.user_by_name(LOCAL_DOMAIN_ID, user_name).map(|u| u.id)) {
            Some(id) => {
                self.db.mutate(|s| s.plan_set_password(id, password), |_, id| Ok(id))?;
                id
            }
            None => self.db.mutate(
                |s| {
                    s.plan_create_user(
                        secret_server_api::UserCreateArgs {
                            user_name: user_name.to_owned(),
                            password: Some(password.to_owned()),
                            display_name: user_name.to_owned(),
                            enabled: true,
                            ..Default::default()
                        },
                        &policy,
                    )
                },
                |_, id| Ok(id),
            )?,
        };
        if !self.db.read(|s| s.is_member(group_id, user_id)) {
            self.db.mutate(|s| Ok((s.plan_add_user_groups(user_id, &[group_id])?, ())), |_, ()| Ok(()))?;
        }
        Ok(user_id)
    }

    /// Object counts, for tests and logs.
    pub fn counts(&self) -> crate::store::Counts {
        self.db.read(crate::store::Store::counts)
    }

    /// Stops gracefully (in-flight requests finish) and writes a snapshot.
    pub async fn shutdown(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
        let db = self.db;
        if db.has_unsnapshotted_changes() {
            match tokio::task::spawn_blocking(move || db.compact()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "final snapshot failed; the journal still holds every change")
                }
                Err(e) => tracing::error!(error = %e, "final snapshot panicked"),
            }
        }
    }

    /// Stops at once without the final snapshot, as a crash would leave the data directory
    /// (the journal holds every change). For crash-recovery tests.
    pub async fn abort(self) {
        self.handle.stop(false).await;
        let _ = self.server.await;
        drop(self.db);
    }
}
