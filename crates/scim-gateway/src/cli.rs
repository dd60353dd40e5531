//! `scim-connector admin ...`: the admin API from the command line. The
//! connector binary mounts [`AdminCommand`] and calls [`run`]; every command
//! prints the server's answer as JSON on stdout (tokens and secrets appear
//! only in the answer that issued them).

use crate::admin_client::AdminClient;
use crate::admin_model::{BasicCredentialRequest, ConnectionPatch, NewConnection, NewOAuthClient, NewToken};
use anyhow::Context;
use connections::RateLimit;
use secrecy::{ExposeSecret, SecretString};
use std::io::Read;

/// The admin commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AdminCommand {
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
        /// Only reads are allowed, on every resource type.
        #[arg(long)]
        read_only: bool,
        /// Limit the connection's Containers and permissions to these folder subtrees (folder ids).
        #[arg(long = "folder", value_name = "FOLDER_ID")]
        folders: Vec<i64>,
        /// Sustained requests per second (with --burst).
        #[arg(long, requires = "burst")]
        rate: Option<f64>,
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
        /// Create the connection without a bearer token.
        #[arg(long)]
        no_token: bool,
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
    /// Set the HTTP Basic credential; the password is read from standard input.
    SetBasic {
        id: String,
        #[arg(long)]
        username: String,
    },
    /// Remove the HTTP Basic credential.
    RemoveBasic { id: String },
    /// Change the rate limit (`--none` removes it).
    SetRateLimit {
        id: String,
        #[arg(long, required_unless_present = "none", requires = "burst")]
        rate: Option<f64>,
        #[arg(long, requires = "rate")]
        burst: Option<u32>,
        #[arg(long, conflicts_with_all = ["rate", "burst"])]
        none: bool,
    },
}

/// Runs one admin command against the gateway at `base_url` and prints the answer.
///
/// # Errors
/// When the gateway cannot be reached or refuses the command (the message says why).
pub async fn run(cmd: AdminCommand, base_url: &str, admin_token: &SecretString) -> anyhow::Result<()> {
    let client = AdminClient::new(base_url, admin_token.clone())?;
    let out = match cmd {
        AdminCommand::List => serde_json::to_value(client.list().await?)?,
        AdminCommand::Show { id } => serde_json::to_value(client.get(&id).await?)?,
        AdminCommand::Create { id, secret_server, display_name, read_only, folders, rate, burst, no_token } => {
            let mut scope = if read_only { connections::Scope::read_only() } else { connections::Scope::default() };
            if !folders.is_empty() {
                scope.container_subtrees = Some(folders);
            }
            let new = NewConnection {
                id,
                display_name,
                secret_server,
                scope: Some(scope),
                rate_limit: rate.zip(burst).map(|(r, b)| RateLimit { requests_per_second: r, burst: b }),
                issue_token: Some(!no_token),
                ..NewConnection::default()
            };
            serde_json::to_value(client.create(&new).await?)?
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
        AdminCommand::SetRateLimit { id, rate, burst, none } => {
            let limit =
                if none { None } else { rate.zip(burst).map(|(r, b)| RateLimit { requests_per_second: r, burst: b }) };
            let patch = ConnectionPatch { rate_limit: Some(limit), ..ConnectionPatch::default() };
            serde_json::to_value(client.update(&id, &patch).await?)?
        }
    };
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}
