//! `scim-connector dev`: every service in one process, with a seeded Secret
//! Server emulator, so that a new user can try everything with one command.
//!
//! The same composition, on port 0 and temporary directories, is what the
//! end-to-end tests start (`connector::testing::spawn_stack`): the emulator, the
//! adapter (bound to it as instance `primary`), the gateway, and the audit
//! service, sharing one queue (Redis when `REDIS_URL` is set, in-process
//! otherwise) and one state store (Redis, or SQLite in the data directory).

use crate::config::Config;
use crate::credentials;
use crate::resolve::Common;
use anyhow::Context;
use connections::ConnectionStore;
use secrecy::{ExposeSecret, SecretString};
use secret_server_adapter::{InstanceSettings, RunningAdapter};
use secret_server_client::ClientConfig;
use secret_server_sim::RunningSim;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Everything a running stack is made of.
#[derive(Debug)]
pub struct Stack {
    pub sim: RunningSim,
    pub adapter: RunningAdapter,
    pub gateway: scim_gateway::RunningGateway,
    pub audit: audit::RunningAudit,
    pub queue: job_queue::Backends,
    pub state: Arc<dyn state_store::StateStore>,
    pub connections: ConnectionStore,
    /// The development connection's bearer token.
    pub token: SecretString,
    /// The connector's admin token (admin API and audit API).
    pub admin_token: SecretString,
    /// The web console's administrator (`<data-dir>/console-credentials`): name and password.
    pub console_user: (String, SecretString),
    /// The emulator's account that may sign in to the console through instance `primary`
    /// (`<data-dir>/console-ss-credentials`): name and password.
    pub console_ss_account: (String, SecretString),
    pub data_dir: PathBuf,
    /// Whether the queue and state are in Redis (else in-process).
    pub redis: bool,
    audit_stop: CancellationToken,
}

/// How to compose a stack.
#[derive(Debug, Clone)]
pub struct StackSettings {
    pub common: Common,
    pub sim: secret_server_sim::SimConfig,
    pub adapter: secret_server_adapter::AdapterSettings,
    pub gateway: scim_gateway::GatewaySettings,
    pub audit: audit::AuditSettings,
}

impl Stack {
    /// Starts the emulator, the adapter, the gateway and the audit service, and the development
    /// connection; returns once every listener is bound (the adapter may still be loading: see
    /// [`RunningAdapter::wait_ready`]).
    ///
    /// # Errors
    /// A listener that cannot bind, a backend that cannot open, invalid settings.
    pub async fn start(mut settings: StackSettings) -> anyhow::Result<Self> {
        let data_dir = settings.common.data_dir.clone();
        let redis = settings.common.redis.is_some();
        std::fs::create_dir_all(&data_dir)
            .with_context(|| format!("cannot create the data directory {}", data_dir.display()))?;

        let sim =
            secret_server_sim::spawn(settings.sim.clone()).await.context("the Secret Server emulator did not start")?;

        let queue = settings.common.queue().await?;
        let state = settings.common.state().await?;
        let connections = ConnectionStore::new(state.clone(), super::gateway::CONNECTION_CACHE_TTL);
        let token = credentials::dev_connection(&connections, &data_dir).await?;
        let admin_token = credentials::admin_token(&data_dir)?;
        let admin_hash = connections::credentials::sha256_hex(admin_token.expose_secret());
        let console_user = credentials::dev_console_user(state.as_ref(), &data_dir).await?;

        let base_url: url::Url = sim.base_url().parse().context("the emulator's URL")?;
        let client =
            ClientConfig::new(base_url, sim.api_username().to_owned(), sim.api_password().clone()).allowing_http();
        // The console admits the emulator's members of its console group, with one member seeded.
        let console_ss_account = credentials::dev_console_ss_account(&data_dir)?;
        sim.provision_member(
            credentials::DEV_CONSOLE_GROUP,
            &console_ss_account.0,
            console_ss_account.1.expose_secret(),
        )
        .context("cannot give the emulator dev's console account")?;
        settings.adapter.instances = vec![InstanceSettings {
            console_group: Some(credentials::DEV_CONSOLE_GROUP.to_owned()),
            ..InstanceSettings::new(credentials::DEV_INSTANCE, client)
        }];
        let adapter = secret_server_adapter::start(
            settings.adapter,
            secret_server_adapter::AdapterDeps {
                queue: queue.queue.clone(),
                events: queue.events.clone(),
                state: state.clone(),
                connections: connections.clone(),
            },
        )
        .await
        .context("the adapter did not start")?;

        settings.gateway.adapter_url = format!("http://{}", adapter.grpc_addr());
        // The adapter made its own secret (loopback, one process): the gateway presents it.
        settings.gateway.adapter_secret = adapter.grpc_secret().cloned();
        settings.gateway.admin_token_sha256.push(admin_hash.clone());
        // The audit service starts first: the console's audit pages read it.
        let tls = settings.audit.tls.is_some();
        settings.audit.admin_token_sha256.push(admin_hash);
        let audit_stop = CancellationToken::new();
        let audit = audit::start(settings.audit, queue.events.clone(), audit_stop.clone())
            .await
            .context("the audit service did not start")?;
        let audit_url = format!("{}://{}", if tls { "https" } else { "http" }, audit.local_addr());
        settings.gateway.console.audit_url = Some(audit_url.parse().context("the audit service's URL")?);
        settings.gateway.console.audit_token = Some(admin_token.clone());
        if tls && settings.gateway.console.audit_ca_file.is_none() {
            settings.gateway.console.audit_ca_file = settings.gateway.tls.as_ref().map(|t| t.cert.clone());
        }
        let gateway = scim_gateway::start(
            settings.gateway,
            scim_gateway::GatewayDeps {
                queue: queue.queue.clone(),
                events: queue.events.clone(),
                state: state.clone(),
                connections: connections.clone(),
            },
        )
        .await
        .context("the gateway did not start")?;

        Ok(Self {
            sim,
            adapter,
            gateway,
            audit,
            queue,
            state,
            connections,
            token,
            admin_token,
            console_user,
            console_ss_account,
            data_dir,
            redis,
            audit_stop,
        })
    }

    fn scheme(&self) -> &'static str {
        if self.gateway.https() { "https" } else { "http" }
    }

    /// `http(s)://<gateway>/scim/v2`.
    pub fn scim_base_url(&self) -> String {
        format!("{}://{}/scim/v2", self.scheme(), self.gateway.addr())
    }

    /// `http(s)://<gateway>`.
    pub fn gateway_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.gateway.addr())
    }

    /// `http(s)://<gateway>/console/`.
    pub fn console_url(&self) -> String {
        format!("{}/console/", self.gateway_url())
    }

    /// `http(s)://<audit>`.
    pub fn audit_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.audit.local_addr())
    }

    /// Stops everything: the gateway first (no new work), then the adapter (drains its workers),
    /// the audit service (records what is left), and the emulator.
    pub async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.adapter.shutdown().await;
        self.audit_stop.cancel();
        if let Err(error) = self.audit.wait().await {
            tracing::warn!(error = %format!("{error:#}"), "the audit service stopped with an error");
        }
        self.sim.shutdown().await;
    }
}

/// The settings of `dev`: each role's from the resolved configuration, on loopback by default.
///
/// # Errors
/// An unusable setting, or emulator credentials that cannot be created.
pub(crate) fn dev_settings(common: &Common, config: &Config) -> anyhow::Result<StackSettings> {
    let sim = super::sim::sim_settings(common, config)?.into_config()?;
    let job_keys = crate::keys::job_keys(config, crate::keys::Missing::Generate(&common.data_dir))?;
    let mut adapter = super::adapter_settings(config, Vec::new());
    // One process: the adapter's health and metrics are the gateway's to serve.
    adapter.http_listen = None;
    adapter.job_keys = job_keys.clone();
    let mut gateway = super::gateway_settings(config)?;
    gateway.job_keys = job_keys;
    // The stack adds the generated admin token to the ones configured.
    let mut audit = super::audit::audit_settings(common, config)?;
    // One process, one certificate: with --tls-cert every listener of dev speaks HTTPS.
    audit.tls = gateway.tls.clone();
    audit.key = Some(crate::keys::audit_key(config, crate::keys::Missing::Generate(&common.data_dir))?);
    Ok(StackSettings { common: common.clone(), sim, adapter, gateway, audit })
}

pub(crate) async fn run(common: &Common, config: &Config, print: bool) -> anyhow::Result<ExitCode> {
    let settings = dev_settings(common, config)?;
    if print {
        return Ok(super::print_config("dev", &settings));
    }
    let _telemetry = super::init_telemetry(common, "scim-connector")?;
    let stack = Stack::start(settings).await?;
    super::gateway::load_configured_connections(&stack.connections, config).await?;
    let shutdown = crate::shutdown::on_signal(common.shutdown_grace);
    tokio::select! {
        ready = stack.adapter.wait_ready(Duration::from_secs(600)) => ready.context("the adapter's first load from the emulator")?,
        _ = shutdown.cancelled() => {
            stack.shutdown().await;
            return Ok(ExitCode::SUCCESS);
        }
    }
    print_banner(&stack);
    shutdown.cancelled().await;
    stack.shutdown().await;
    Ok(ExitCode::SUCCESS)
}

fn print_banner(stack: &Stack) {
    let dir = stack.data_dir.display();
    let queue = if stack.redis { "Redis (REDIS_URL)" } else { "in-process" };
    println!(
        "\nscim-connector dev is running (Ctrl-C stops it)\n\n\
         SCIM base URL   {scim}\n\
         Bearer token    {token}\n\
         \x20               (also in {dir}/dev-token)\n\
         Web console     {console}\n\
         \x20               (sign in as {console_user}; name and password in {dir}/console-credentials;\n\
         \x20               or with the Secret Server account {console_ss_user} of instance primary,\n\
         \x20               name and password in {dir}/console-ss-credentials)\n\
         Admin API       {gateway}/admin/v1  (token in {dir}/admin-token)\n\
         Audit API       {audit}/audit/v1/records\n\
         Secret Server   {sim}  (API account in {dir}/sim-credentials)\n\
         \x20               emulator on this host, plain HTTP allowed (allow_insecure_http = true);\n\
         \x20               a real Secret Server must be https://\n\
         Job queue       {queue}\n\n\
         Try:  curl -H \"Authorization: Bearer $(cat {dir}/dev-token)\" {scim}/Users\n",
        scim = stack.scim_base_url(),
        token = stack.token.expose_secret(),
        gateway = stack.gateway_url(),
        console = stack.console_url(),
        console_user = stack.console_user.0,
        console_ss_user = stack.console_ss_account.0,
        audit = stack.audit_url(),
        sim = stack.sim.base_url(),
    );
}
