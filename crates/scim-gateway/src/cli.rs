//! `scim-connector admin ...`: the admin API from the command line. The
//! connector binary mounts [`AdminCommand`] and calls [`run`]; every command
//! prints the server's answer as JSON on stdout (tokens and secrets appear
//! only in the answer that issued them).
//!
//! A connection's scope and policies are flags of `create` (and of `set-scope` and
//! `set-policies` for an existing connection), for example the dedicated connection the
//! conformance run uses, or one that may change only the users and groups it creates:
//!
//! ```text
//! scim-connector admin create conformance --secret-server primary \
//!     --resource-type User --resource-type Group --resource-type Container \
//!     --user-name-change keep-secret-server-name
//! scim-connector admin set-scope okta --principals created-by-connection --limit-principal-reads
//! ```

use crate::admin_client::AdminClient;
use crate::admin_model::{
    BasicCredentialRequest, ConnectionPatch, DoctorReport, NewConnection, NewOAuthClient, NewToken,
};
use adapter_api::admin::{CheckOutcome, ResyncOutcome};
use anyhow::Context;
use connections::{
    ConnectionRateLimit, DeletedUserPolicy, InheritedFolderPolicy, Operations, PasswordChangePolicy,
    PatchResponsePolicy, Policies, PrincipalReach, PrincipalScope, RateLimit, Scope, UnknownAttributePolicy,
    UserNameChangePolicy,
};
use scim::ResourceKind;
use secrecy::{ExposeSecret, SecretString};
use std::io::Read;
use std::str::FromStr;

/// `TYPE[=OPERATIONS]`: a resource type and what the connection may do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeOperations {
    pub kind: ResourceKind,
    pub operations: Operations,
}

impl FromStr for TypeOperations {
    type Err = String;

    /// `User` (every operation), `User=read`, `Group=read,update`, `Container=all`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, ops) = s.split_once('=').unwrap_or((s, "all"));
        let kind = ResourceKind::from_name(name.trim()).ok_or_else(|| {
            let known: Vec<&str> = ResourceKind::ALL.iter().map(|k| k.name()).collect();
            format!("{:?} is not a resource type (one of {})", name.trim(), known.join(", "))
        })?;
        let mut operations = Operations::NONE;
        for op in ops.split(',').map(str::trim) {
            match op.to_ascii_lowercase().as_str() {
                "all" => operations = Operations::ALL,
                "read" => operations.read = true,
                "create" => operations.create = true,
                "update" => operations.update = true,
                "delete" => operations.delete = true,
                other => {
                    return Err(format!("{other:?} is not an operation (all, read, create, update, delete)"));
                }
            }
        }
        Ok(Self { kind, operations })
    }
}

/// What a connection may see and touch.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct ScopeArgs {
    /// Only reads are allowed, on every resource type.
    #[arg(long, conflicts_with = "resource_types")]
    pub read_only: bool,
    /// A resource type in scope, as TYPE or TYPE=OPERATIONS (all, or a comma list of read, create,
    /// update, delete); repeat it. Types left out are out of scope: invisible in discovery and
    /// refused. Default: every type with every operation, PrivilegedData read-only.
    #[arg(long = "resource-type", value_name = "TYPE[=OPERATIONS]")]
    pub resource_types: Vec<TypeOperations>,
    /// Limit the connection's Containers and permissions to these folder subtrees (folder ids).
    #[arg(long = "folder", value_name = "FOLDER_ID")]
    pub folders: Vec<i64>,
    /// Which Users and Groups the connection may change. Default: all (protected principals
    /// excepted, always).
    #[arg(long = "principals", value_enum)]
    pub principals: Option<PrincipalReachArg>,
    /// A Secret Server group (id) whose members, and itself, `--principals group-members` reaches;
    /// repeat it.
    #[arg(long = "principal-group", value_name = "GROUP_ID")]
    pub principal_groups: Vec<i64>,
    /// Reads of Users and Groups see only those the connection may change.
    #[arg(long)]
    pub limit_principal_reads: bool,
    /// The folder (id, within the connection's folders) a secret goes to when a PATCH takes it out
    /// of a Container's `privilegedData`. Without it such a removal is refused.
    #[arg(long, value_name = "FOLDER_ID")]
    pub removed_secrets_folder: Option<i64>,
}

/// `principals.reach`: the users and groups a connection may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PrincipalReachArg {
    /// Every user and group (the default).
    All,
    /// Only those created through this connection.
    CreatedByConnection,
    /// The members of the `--principal-group` groups, those groups, and what it created.
    GroupMembers,
}

impl ScopeArgs {
    /// The scope these flags describe.
    ///
    /// # Errors
    /// A resource type given twice; `--principal-group` without `--principals group-members`, or
    /// the reverse.
    pub fn scope(&self) -> anyhow::Result<Scope> {
        let mut scope = if self.read_only {
            Scope::read_only()
        } else if self.resource_types.is_empty() {
            Scope::default()
        } else {
            let mut scope = Scope { resource_types: Default::default(), ..Scope::default() };
            for t in &self.resource_types {
                if scope.resource_types.insert(t.kind.name().to_owned(), t.operations).is_some() {
                    anyhow::bail!("--resource-type {} is given twice", t.kind.name());
                }
            }
            scope
        };
        if !self.folders.is_empty() {
            scope.container_subtrees = Some(self.folders.clone());
        }
        scope.removed_secrets_folder = self.removed_secrets_folder;
        let reach = match self.principals {
            None | Some(PrincipalReachArg::All) => PrincipalReach::All,
            Some(PrincipalReachArg::CreatedByConnection) => PrincipalReach::CreatedByConnection,
            Some(PrincipalReachArg::GroupMembers) => PrincipalReach::GroupMembers,
        };
        scope.principals = PrincipalScope::new(reach, self.principal_groups.clone(), self.limit_principal_reads)
            .map_err(|e| anyhow::anyhow!("{e} (--principals, --principal-group)"))?;
        Ok(scope)
    }
}

/// `userNameChange`: what a change of `userName` (which Secret Server cannot rename) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UserNameChangeArg {
    /// `400 mutability` (the default).
    Reject,
    /// Keep Secret Server's name; store and show the client's.
    KeepSecretServerName,
}

/// `deletedUsers`: how a user deleted through SCIM looks afterwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DeletedUsersArg {
    /// `404` (the default).
    NotFound,
    /// Still listed, with `active: false`.
    Inactive,
}

/// `inheritedFolder`: what a permission grant does on a folder that inherits its permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum InheritedFolderArg {
    /// Break the inheritance, then grant (the default).
    BreakInheritance,
    /// Refuse with `400`.
    Refuse,
}

/// `unknownAttributes`: what a request body's attributes that the schema does not define do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum UnknownAttributesArg {
    /// Apply the request without them; name them in the audit record (the default).
    Ignore,
    /// Refuse the request with `400`.
    Reject,
}

/// `passwordChange`: whose passwords a connection may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PasswordChangeArg {
    /// When it creates a user, and on the users it created (the default).
    CreatedByConnection,
    /// On any user it may change (an opt-in).
    Any,
}

/// `patchResponse`: how a successful PATCH is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PatchResponseArg {
    /// `200` with the resource after the change (the default).
    Resource,
    /// `204 No Content` with the `ETag`, nothing rendered (recommended for Microsoft Entra ID).
    NoContent,
}

/// A connection's behaviour switches; a switch left out keeps its current (or default) value.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct PolicyArgs {
    #[arg(long, value_enum)]
    pub user_name_change: Option<UserNameChangeArg>,
    #[arg(long, value_enum)]
    pub deleted_users: Option<DeletedUsersArg>,
    #[arg(long, value_enum)]
    pub inherited_folder: Option<InheritedFolderArg>,
    #[arg(long, value_enum)]
    pub unknown_attributes: Option<UnknownAttributesArg>,
    #[arg(long, value_enum)]
    pub password_change: Option<PasswordChangeArg>,
    #[arg(long, value_enum)]
    pub patch_response: Option<PatchResponseArg>,
}

impl PolicyArgs {
    /// Whether any switch is given.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `base` with the given switches applied.
    pub fn apply_to(&self, mut base: Policies) -> Policies {
        if let Some(v) = self.user_name_change {
            base.user_name_change = match v {
                UserNameChangeArg::Reject => UserNameChangePolicy::Reject,
                UserNameChangeArg::KeepSecretServerName => UserNameChangePolicy::KeepSecretServerName,
            };
        }
        if let Some(v) = self.deleted_users {
            base.deleted_users = match v {
                DeletedUsersArg::NotFound => DeletedUserPolicy::NotFound,
                DeletedUsersArg::Inactive => DeletedUserPolicy::Inactive,
            };
        }
        if let Some(v) = self.inherited_folder {
            base.inherited_folder = match v {
                InheritedFolderArg::BreakInheritance => InheritedFolderPolicy::BreakInheritance,
                InheritedFolderArg::Refuse => InheritedFolderPolicy::Refuse,
            };
        }
        if let Some(v) = self.unknown_attributes {
            base.unknown_attributes = match v {
                UnknownAttributesArg::Ignore => UnknownAttributePolicy::Ignore,
                UnknownAttributesArg::Reject => UnknownAttributePolicy::Reject,
            };
        }
        if let Some(v) = self.password_change {
            base.password_change = match v {
                PasswordChangeArg::CreatedByConnection => PasswordChangePolicy::CreatedByConnection,
                PasswordChangeArg::Any => PasswordChangePolicy::Any,
            };
        }
        if let Some(v) = self.patch_response {
            base.patch_response = match v {
                PatchResponseArg::Resource => PatchResponsePolicy::Resource,
                PatchResponseArg::NoContent => PatchResponsePolicy::NoContent,
            };
        }
        base
    }
}

/// The admin commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
    /// Administrators of the web console (`/console`): add (password from standard input), list,
    /// remove, reset-password.
    ConsoleUser {
        #[command(subcommand)]
        command: ConsoleUserCommand,
    },
    /// Dead letters: jobs that failed every attempt (list, show, replay, discard).
    DeadLetters {
        #[command(subcommand)]
        command: DeadLetterCommand,
    },
    /// Resync a Secret Server instance and show its progress until it ends (exit 1 when it does
    /// not succeed, e.g. when it holds removals back).
    Resync {
        /// The Secret Server instance.
        name: String,
        /// Apply the removals a resync held back, named by the report id its state shows.
        #[arg(long, value_name = "REPORT_ID")]
        confirm_removals: Option<String>,
        /// Start it and print its state without following it.
        #[arg(long)]
        no_wait: bool,
    },
    /// Run the preflight of a Secret Server instance in the adapter (exit 1 when something
    /// required is missing).
    Doctor { name: String },
    /// Test the connection to a Secret Server instance: reachability, TLS, sign-in, one read,
    /// latency (exit 1 on failure).
    TestSecretServer { name: String },
    /// List every connection.
    List,
    /// Show one connection.
    Show { id: String },
    /// Create a connection bound to a Secret Server instance; prints its first bearer token once.
    Create {
        id: String,
        /// The Secret Server instance (by name) the connection reads and writes.
        #[arg(long)]
        secret_server: String,
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        scope: ScopeArgs,
        #[command(flatten)]
        policies: PolicyArgs,
        /// Sustained requests per second (with --burst).
        #[arg(long, requires = "burst")]
        rate: Option<f64>,
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
        /// Create the connection without a bearer token.
        #[arg(long)]
        no_token: bool,
    },
    /// Replace a connection's scope (the same flags as `create`; none: the default scope).
    SetScope {
        id: String,
        #[command(flatten)]
        scope: ScopeArgs,
    },
    /// Change some of a connection's policies; the others keep their values.
    SetPolicies {
        id: String,
        #[command(flatten)]
        policies: PolicyArgs,
    },
    /// Disable a connection (its credentials stop working).
    Disable { id: String },
    /// Enable a connection.
    Enable { id: String },
    /// Delete a connection (not one from the configuration file).
    Delete { id: String },
    /// Issue a new bearer token (printed once).
    IssueToken {
        id: String,
        #[arg(long)]
        label: Option<String>,
        /// The token stops working after this many seconds.
        #[arg(long)]
        expires_in: Option<u64>,
    },
    /// Revoke a bearer token by its id.
    RevokeToken { id: String, token_id: String },
    /// Register an OAuth2 client-credentials client (its secret is printed once).
    AddOauthClient {
        id: String,
        /// Lifetime of the access tokens it gets, in seconds.
        #[arg(long)]
        token_ttl: Option<u32>,
    },
    /// Remove an OAuth2 client.
    RemoveOauthClient { id: String, client_id: String },
    /// Accept bearer JWTs from an issuer: Microsoft Entra ID's own tokens for a tenant
    /// (`--entra-tenant`), or any issuer (`--issuer`, `--audience`, `--jwks-url`). For Entra,
    /// `set-policies <id> --patch-response no-content` is recommended as well: Entra accepts `204`
    /// for its PATCHes, and a member change of a large group then renders no member list.
    AddJwtIssuer {
        id: String,
        /// Entra ID's preset: issuer `https://sts.windows.net/<tenant>/`, Entra's SCIM audience, the tenant's keys.
        #[arg(long)]
        entra_tenant: Option<String>,
        #[arg(long)]
        issuer: Option<String>,
        /// Accepted `aud` values (repeat).
        #[arg(long = "audience")]
        audiences: Vec<String>,
        /// The issuer's JWKS (https:// only).
        #[arg(long)]
        jwks_url: Option<String>,
        /// Only tokens whose `tid` is one of these (repeat).
        #[arg(long = "tenant-id")]
        tenant_ids: Vec<String>,
        /// Only tokens whose `appid` (or `azp`) is one of these (repeat).
        #[arg(long = "app-id")]
        app_ids: Vec<String>,
    },
    /// Stop accepting an issuer's JWTs, by the issuer's id.
    RemoveJwtIssuer { id: String, issuer_id: String },
    /// Set the HTTP Basic credential; the password is read from standard input.
    SetBasic {
        id: String,
        #[arg(long)]
        username: String,
    },
    /// Remove the HTTP Basic credential.
    RemoveBasic { id: String },
    /// Change the rate limit: `--rate R --burst B`, `--none` (no limit at all) or `--default` (the
    /// gateway's default limit, 50 requests per second with bursts of 100 unless configured).
    SetRateLimit {
        id: String,
        #[arg(long, required_unless_present_any = ["none", "default"], requires = "burst")]
        rate: Option<f64>,
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
        #[arg(long, conflicts_with_all = ["rate", "burst", "default"])]
        none: bool,
        #[arg(long, conflicts_with_all = ["rate", "burst"])]
        default: bool,
    },
}

/// The dead-letter commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DeadLetterCommand {
    /// List dead letters, newest first.
    List {
        /// At most this many (default 50).
        #[arg(long)]
        count: Option<usize>,
        /// The `next` of the previous page.
        #[arg(long)]
        after: Option<String>,
    },
    /// Show one dead letter: its job without any password.
    Show { id: String },
    /// Submit the job again, after the jobs already queued for the same resource.
    Replay {
        id: String,
        /// Replay a job that carried a password without it (a created user gets a generated
        /// password; a password change is left out).
        #[arg(long)]
        without_password: bool,
    },
    /// Discard a dead letter.
    Discard { id: String },
}

/// The console-user commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum ConsoleUserCommand {
    /// Add an administrator; the password (12 characters at least) is read from standard input.
    Add { name: String },
    /// List the administrators (never their passwords).
    List,
    /// Remove an administrator; their sessions end.
    Remove { name: String },
    /// Give an administrator a new password, read from standard input; their sessions end.
    ResetPassword { name: String },
}

/// A password from standard input (one line; its line ending is not part of it).
fn password_from_stdin() -> anyhow::Result<SecretString> {
    let mut password = String::new();
    std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
    Ok(SecretString::from(password.trim_end_matches(['\r', '\n']).to_owned()))
}

/// How often `admin resync` reads the resync's state.
const RESYNC_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// Runs one admin command against the gateway at `base_url` and prints the answer; false when
/// the command ran but what it checked or ran failed (a resync, a preflight).
///
/// # Errors
/// When the gateway cannot be reached or refuses the command (the message says why).
pub async fn run(cmd: AdminCommand, base_url: &str, admin_token: &SecretString) -> anyhow::Result<bool> {
    let client = AdminClient::new(base_url, admin_token.clone())?;
    let out = match cmd {
        AdminCommand::ConsoleUser { command } => match command {
            ConsoleUserCommand::Add { name } => {
                serde_json::to_value(client.add_console_user(&name, &password_from_stdin()?).await?)?
            }
            ConsoleUserCommand::List => serde_json::to_value(client.console_users().await?)?,
            ConsoleUserCommand::Remove { name } => {
                client.remove_console_user(&name).await?;
                serde_json::json!({"removed": name})
            }
            ConsoleUserCommand::ResetPassword { name } => {
                client.reset_console_password(&name, &password_from_stdin()?).await?;
                serde_json::json!({"passwordReset": name})
            }
        },
        AdminCommand::DeadLetters { command } => match command {
            DeadLetterCommand::List { count, after } => {
                serde_json::to_value(client.dead_letters(count, after.as_deref()).await?)?
            }
            DeadLetterCommand::Show { id } => serde_json::to_value(client.dead_letter(&id).await?)?,
            DeadLetterCommand::Replay { id, without_password } => {
                serde_json::to_value(client.replay_dead_letter(&id, without_password).await?)?
            }
            DeadLetterCommand::Discard { id } => {
                client.discard_dead_letter(&id).await?;
                serde_json::json!({"discarded": id})
            }
        },
        AdminCommand::Resync { name, confirm_removals, no_wait } => {
            return resync(&client, &name, confirm_removals.as_deref(), !no_wait).await;
        }
        AdminCommand::Doctor { name } => {
            let report = client.doctor(&name).await?;
            print!("{}", render(&report));
            return Ok(report.passed);
        }
        AdminCommand::TestSecretServer { name } => {
            let report = client.test_secret_server(&name).await?;
            print!("{}", render(&report));
            return Ok(report.passed);
        }
        AdminCommand::List => serde_json::to_value(client.list().await?)?,
        AdminCommand::Show { id } => serde_json::to_value(client.get(&id).await?)?,
        AdminCommand::Create { id, secret_server, display_name, scope, policies, rate, burst, no_token } => {
            let new = NewConnection {
                id,
                display_name,
                secret_server,
                scope: Some(scope.scope()?),
                policies: (!policies.is_empty()).then(|| policies.apply_to(Policies::default())),
                rate_limit: rate
                    .zip(burst)
                    .map(|(r, b)| ConnectionRateLimit::Limited(RateLimit { requests_per_second: r, burst: b })),
                issue_token: Some(!no_token),
                ..NewConnection::default()
            };
            serde_json::to_value(client.create(&new).await?)?
        }
        AdminCommand::SetScope { id, scope } => {
            let patch = ConnectionPatch { scope: Some(scope.scope()?), ..ConnectionPatch::default() };
            serde_json::to_value(client.update(&id, &patch).await?)?
        }
        AdminCommand::SetPolicies { id, policies } => {
            if policies.is_empty() {
                anyhow::bail!(
                    "set-policies needs at least one of --user-name-change, --deleted-users, --inherited-folder, \
                     --unknown-attributes, \
                     --password-change, --patch-response"
                );
            }
            let current = client.get(&id).await?.policies;
            let patch = ConnectionPatch { policies: Some(policies.apply_to(current)), ..ConnectionPatch::default() };
            serde_json::to_value(client.update(&id, &patch).await?)?
        }
        AdminCommand::Disable { id } => serde_json::to_value(client.disable(&id).await?)?,
        AdminCommand::Enable { id } => serde_json::to_value(client.enable(&id).await?)?,
        AdminCommand::Delete { id } => {
            client.delete(&id).await?;
            serde_json::json!({"deleted": id})
        }
        AdminCommand::IssueToken { id, label, expires_in } => {
            serde_json::to_value(client.issue_token(&id, &NewToken { label, expires_in_seconds: expires_in }).await?)?
        }
        AdminCommand::RevokeToken { id, token_id } => {
            client.revoke_token(&id, &token_id).await?;
            serde_json::json!({"revoked": token_id})
        }
        AdminCommand::AddOauthClient { id, token_ttl } => {
            serde_json::to_value(client.add_oauth_client(&id, &NewOAuthClient { token_ttl_seconds: token_ttl }).await?)?
        }
        AdminCommand::RemoveOauthClient { id, client_id } => {
            client.remove_oauth_client(&id, &client_id).await?;
            serde_json::json!({"removed": client_id})
        }
        AdminCommand::AddJwtIssuer { id, entra_tenant, issuer, audiences, jwks_url, tenant_ids, app_ids } => {
            let new = crate::admin_model::NewJwtIssuer {
                entra_tenant_id: entra_tenant,
                issuer,
                audiences,
                jwks_url,
                tenant_ids,
                app_ids,
            };
            serde_json::to_value(client.add_jwt_issuer(&id, &new).await?)?
        }
        AdminCommand::RemoveJwtIssuer { id, issuer_id } => {
            client.remove_jwt_issuer(&id, &issuer_id).await?;
            serde_json::json!({"removed": issuer_id})
        }
        AdminCommand::SetBasic { id, username } => {
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password).context("reading the password from standard input")?;
            let password = SecretString::from(password.trim_end_matches(['\r', '\n']).to_owned());
            let request = BasicCredentialRequest { username, password: password.expose_secret().to_owned() };
            serde_json::to_value(client.set_basic(&id, &request).await?)?
        }
        AdminCommand::RemoveBasic { id } => {
            client.remove_basic(&id).await?;
            serde_json::json!({"removed": "basic"})
        }
        AdminCommand::SetRateLimit { id, rate, burst, none, default: _ } => {
            let limit = if none {
                Some(ConnectionRateLimit::NONE)
            } else {
                rate.zip(burst)
                    .map(|(r, b)| ConnectionRateLimit::Limited(RateLimit { requests_per_second: r, burst: b }))
            };
            let patch = ConnectionPatch { rate_limit: Some(limit), ..ConnectionPatch::default() };
            serde_json::to_value(client.update(&id, &patch).await?)?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(true)
}

/// `admin resync NAME`: starts a resync (or, with a report id, confirms the removals it names,
/// which starts the resync that applies them), shows its progress on stderr until it ends, and
/// prints its final state; false when it did not succeed.
async fn resync(client: &AdminClient, name: &str, confirm: Option<&str>, follow: bool) -> anyhow::Result<bool> {
    let mut state = match confirm {
        Some(report) => client.confirm_removals(name, report, None).await?,
        None => client.start_resync(name).await?,
    };
    if state.already_running {
        eprintln!("{name}: a resync is running already; following it");
    }
    let mut shown = String::new();
    while follow && state.is_running() {
        let line = format!(
            "{name}: {}{}",
            state.phase.as_deref().unwrap_or("running"),
            if state.read.is_empty() {
                String::new()
            } else {
                let read: Vec<String> = state.read.iter().map(|(kind, n)| format!("{kind} {n}")).collect();
                format!(" (read: {})", read.join(", "))
            }
        );
        if line != shown {
            eprintln!("{line}");
            shown = line;
        }
        tokio::time::sleep(RESYNC_POLL).await;
        state = client.resync(name).await?;
    }
    println!("{}", serde_json::to_string_pretty(&state)?);
    if let Some(held) = state.held_removals.as_ref().filter(|h| !h.confirmed) {
        eprintln!(
            "{name}: {} of {} records are held back (e.g. {}); to remove them: scim-connector admin resync {name} \
             --confirm-removals {}",
            held.count,
            held.held,
            held.sample.iter().take(5).cloned().collect::<Vec<_>>().join(", "),
            held.report_id
        );
    }
    Ok(!follow || state.outcome == Some(ResyncOutcome::Succeeded))
}

/// A preflight report as text: the checks, then which SCIM features will work.
fn render(report: &DoctorReport) -> String {
    use std::fmt::Write as _;
    let mut out = format!("Secret Server {} ({}), checked by the adapter\n\n", report.instance, report.url);
    let width = report.checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    for check in &report.checks {
        let label = match check.outcome {
            CheckOutcome::Pass => "ok",
            CheckOutcome::Warn => "warn",
            CheckOutcome::Fail => "FAIL",
        };
        let _ = writeln!(out, "  {label:<4}  {:<width$}  {}", check.name, check.detail);
    }
    if !report.features.is_empty() {
        let width = report.features.iter().map(|f| f.feature.len()).max().unwrap_or(0);
        let _ = writeln!(out, "\n  {:<width$}  {:<8}  {:<5}  grant / note", "SCIM feature", "needed", "works");
        for f in &report.features {
            let needed = if f.required { "required" } else { "optional" };
            let works = if f.works { "yes" } else { "NO" };
            let what = if f.works { f.note.clone() } else { format!("grant: {}", f.grant.join(", ")) };
            let line = format!("  {:<width$}  {needed:<8}  {works:<5}  {what}", f.feature);
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let verdict = if report.passed {
        "passed: every required feature will work".to_owned()
    } else if report.missing_permissions.is_empty() {
        "FAILED: see the checks above".to_owned()
    } else {
        format!("FAILED: grant the API account {}", report.missing_permissions.join(", "))
    };
    let _ = writeln!(out, "\n{verdict}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_alone_means_every_operation_and_a_list_means_those() {
        let user: TypeOperations = "user".parse().unwrap();
        assert_eq!((user.kind, user.operations), (ResourceKind::User, Operations::ALL));
        let group: TypeOperations = "Group=read,update".parse().unwrap();
        assert_eq!(group.operations, Operations { read: true, create: false, update: true, delete: false });
        assert!("Users".parse::<TypeOperations>().unwrap_err().contains("not a resource type"));
        assert!("User=write".parse::<TypeOperations>().unwrap_err().contains("not an operation"));
    }

    #[test]
    fn named_types_make_a_scope_of_exactly_those_types() {
        let args = ScopeArgs {
            resource_types: ["User", "Group", "Container=read"].iter().map(|t| t.parse().unwrap()).collect(),
            ..ScopeArgs::default()
        };
        let scope = args.scope().unwrap();
        assert_eq!(scope.resource_types.keys().collect::<Vec<_>>(), ["Container", "Group", "User"]);
        assert_eq!(scope.operations(ResourceKind::User), Operations::ALL);
        assert_eq!(scope.operations(ResourceKind::Container), Operations::READ_ONLY);
        assert_eq!(scope.operations(ResourceKind::PrivilegedData), Operations::NONE);
        assert_eq!(ScopeArgs::default().scope().unwrap(), Scope::default());
        let twice = ScopeArgs {
            resource_types: vec!["User".parse().unwrap(), "user=read".parse().unwrap()],
            ..ScopeArgs::default()
        };
        assert!(twice.scope().unwrap_err().to_string().contains("twice"));
    }

    #[test]
    fn principal_flags_make_a_checked_principal_scope() {
        let args = ScopeArgs {
            principals: Some(PrincipalReachArg::GroupMembers),
            principal_groups: vec![9, 7],
            limit_principal_reads: true,
            ..ScopeArgs::default()
        };
        let scope = args.scope().unwrap();
        assert_eq!(scope.principals.reach, PrincipalReach::GroupMembers);
        assert_eq!((scope.principals.groups, scope.principals.limit_reads), (vec![7, 9], true));
        assert_eq!(scope.resource_types, Scope::default().resource_types, "the types keep their default");
        let without_groups = ScopeArgs { principals: Some(PrincipalReachArg::GroupMembers), ..ScopeArgs::default() };
        assert!(without_groups.scope().unwrap_err().to_string().contains("--principal-group"));
        let created = ScopeArgs { principals: Some(PrincipalReachArg::CreatedByConnection), ..ScopeArgs::default() };
        assert_eq!(created.scope().unwrap().principals.reach, PrincipalReach::CreatedByConnection);
    }

    #[test]
    fn policy_switches_change_only_what_they_name() {
        let args =
            PolicyArgs { user_name_change: Some(UserNameChangeArg::KeepSecretServerName), ..PolicyArgs::default() };
        let base = Policies { deleted_users: DeletedUserPolicy::Inactive, ..Policies::default() };
        let applied = args.apply_to(base);
        assert_eq!(applied.user_name_change, UserNameChangePolicy::KeepSecretServerName);
        assert_eq!(applied.deleted_users, DeletedUserPolicy::Inactive);
        assert_eq!(applied.unknown_attributes, UnknownAttributePolicy::Ignore);
        let strict = PolicyArgs { unknown_attributes: Some(UnknownAttributesArg::Reject), ..PolicyArgs::default() };
        assert_eq!(strict.apply_to(applied).unknown_attributes, UnknownAttributePolicy::Reject);
        assert_eq!(strict.apply_to(applied).user_name_change, UserNameChangePolicy::KeepSecretServerName);
        assert_eq!(applied.password_change, PasswordChangePolicy::CreatedByConnection);
        assert!(PolicyArgs::default().is_empty() && !args.is_empty());
        let opt_in = PolicyArgs { password_change: Some(PasswordChangeArg::Any), ..PolicyArgs::default() };
        assert_eq!(opt_in.apply_to(Policies::default()).password_change, PasswordChangePolicy::Any);
        assert_eq!(applied.patch_response, PatchResponsePolicy::Resource);
        let no_content = PolicyArgs { patch_response: Some(PatchResponseArg::NoContent), ..PolicyArgs::default() };
        let applied = no_content.apply_to(applied);
        assert_eq!(applied.patch_response, PatchResponsePolicy::NoContent);
        assert_eq!(applied.user_name_change, UserNameChangePolicy::KeepSecretServerName);
    }
}
