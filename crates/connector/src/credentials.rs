//! The credentials `dev` makes for itself and leaves in the data directory,
//! so that a person or a script can use them: the development connection's
//! bearer token (`dev-token`), the connector's admin token (`admin-token`),
//! and the emulator's API account (`sim-credentials`: user name and password,
//! one per line). Each is reused across restarts; files are private (0600).

use anyhow::Context;
use connections::credentials::{issue_token, random_token, sha256_hex};
use connections::{Connection, ConnectionId, ConnectionStore};
use secrecy::{ExposeSecret, SecretString};
use std::path::Path;

/// The id of the connection `dev` creates.
pub(crate) const DEV_CONNECTION: &str = "dev";
/// The Secret Server instance `dev` binds its connection to (the emulator).
pub(crate) const DEV_INSTANCE: &str = "primary";

/// Writes `contents` to `path`, readable by the owner only.
pub(crate) fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).with_context(|| format!("cannot write {}", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("cannot write {}", path.display()))
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// The admin token in `<data-dir>/admin-token`, created on first use; one that was written there
/// by hand and is shorter than 32 characters is refused.
pub(crate) fn admin_token(data_dir: &Path) -> anyhow::Result<SecretString> {
    let path = data_dir.join("admin-token");
    if let Some(token) = read_trimmed(&path) {
        let token = SecretString::from(token);
        crate::roles::check_admin_token_length(&token, &format!("admin token in {}", path.display()))?;
        return Ok(token);
    }
    let token = random_token("scima_");
    write_private(&path, &format!("{}\n", token.expose_secret()))?;
    Ok(token)
}

/// The emulator's API account in `<data-dir>/sim-credentials`, created on first use with a
/// password that satisfies Secret Server's default local-user password policy.
pub(crate) fn sim_credentials(data_dir: &Path, username: &str) -> anyhow::Result<(String, SecretString)> {
    let path = data_dir.join("sim-credentials");
    if let Some(text) = read_trimmed(&path) {
        let mut lines = text.lines();
        if let (Some(user), Some(password)) = (lines.next(), lines.next()) {
            return Ok((user.trim().to_owned(), SecretString::from(password.trim().to_owned())));
        }
    }
    let random = random_token("");
    // Upper, lower, digit and symbol are guaranteed whatever the random part holds.
    let password = SecretString::from(format!("Sim-{}-9x", random.expose_secret()));
    write_private(&path, &format!("{username}\n{}\n", password.expose_secret()))?;
    Ok((username.to_owned(), password))
}

/// Makes sure the development connection exists and accepts the token in
/// `<data-dir>/dev-token` (issuing a new one when the file is missing or stale); returns the token.
pub(crate) async fn dev_connection(store: &ConnectionStore, data_dir: &Path) -> anyhow::Result<SecretString> {
    let id: ConnectionId = DEV_CONNECTION.parse()?;
    let path = data_dir.join("dev-token");
    let existing = store.get(&id).await.context("cannot read the development connection")?;
    if let (Some(token), Some(connection)) = (read_trimmed(&path), existing.as_ref()) {
        let hash = sha256_hex(&token);
        if connection.enabled
            && connection.credentials.bearer_tokens.iter().any(|t| t.sha256.eq_ignore_ascii_case(&hash))
        {
            return Ok(SecretString::from(token));
        }
    }
    let issued = issue_token(Some("dev".to_owned()), None);
    let mut connection = existing.unwrap_or_else(|| new_dev_connection(id));
    connection.enabled = true;
    connection.credentials.bearer_tokens = vec![issued.credential];
    connection.updated_at = Some(time::OffsetDateTime::now_utc());
    store.put(&connection).await.context("cannot store the development connection")?;
    write_private(&path, &format!("{}\n", issued.token.expose_secret()))?;
    Ok(issued.token)
}

/// The name of the console user `dev` creates.
pub(crate) const DEV_CONSOLE_USER: &str = "admin";

/// Makes sure `dev`'s console user exists with the name and password in
/// `<data-dir>/console-credentials` (one per line, mode 0600), creating both when the file is
/// missing; returns the name and password.
pub(crate) async fn dev_console_user(
    store: &dyn state_store::StateStore,
    data_dir: &Path,
) -> anyhow::Result<(String, SecretString)> {
    let path = data_dir.join("console-credentials");
    let existing = std::fs::read_to_string(&path).ok().and_then(|text| {
        let mut lines = text.lines();
        let name = lines.next()?.trim().to_owned();
        let password = lines.next()?.trim_end().to_owned();
        (!name.is_empty() && password.len() >= 12).then_some((name, SecretString::from(password)))
    });
    let (name, password) = match existing {
        Some(found) => found,
        None => {
            let password = random_token("");
            write_private(&path, &format!("{DEV_CONSOLE_USER}\n{}\n", password.expose_secret()))?;
            (DEV_CONSOLE_USER.to_owned(), password)
        }
    };
    scim_gateway::console::users::provision(store, &name, &password)
        .await
        .context("cannot store the console user of dev")?;
    Ok((name, password))
}

/// The emulator group whose members `dev` admits to the console with their Secret Server accounts.
pub(crate) const DEV_CONSOLE_GROUP: &str = "SCIM Console Admins";
/// The emulator account `dev` puts in [`DEV_CONSOLE_GROUP`].
pub(crate) const DEV_CONSOLE_SS_USER: &str = "console.admin";

/// The Secret Server account of the emulator that `dev` admits to the console, from
/// `<data-dir>/console-ss-credentials` (name and password, one per line, mode 0600), created on
/// first use with a password that satisfies Secret Server's default password policy. The
/// emulator is given that account (and the group) when `dev` starts.
pub(crate) fn dev_console_ss_account(data_dir: &Path) -> anyhow::Result<(String, SecretString)> {
    let path = data_dir.join("console-ss-credentials");
    if let Some(text) = read_trimmed(&path) {
        let mut lines = text.lines();
        if let (Some(user), Some(password)) = (lines.next(), lines.next())
            && !user.trim().is_empty()
            && !password.trim().is_empty()
        {
            return Ok((user.trim().to_owned(), SecretString::from(password.trim().to_owned())));
        }
    }
    let random = random_token("");
    let password = SecretString::from(format!("Ss-{}-9x", random.expose_secret()));
    write_private(&path, &format!("{DEV_CONSOLE_SS_USER}\n{}\n", password.expose_secret()))?;
    Ok((DEV_CONSOLE_SS_USER.to_owned(), password))
}

/// The development connection: every resource type, the default rights mapping, and the
/// `keepSecretServerName` user-name policy, so that a client trying the connector can rename a user
/// (Secret Server keeps its own name; the client sees its new one). Connections created through
/// the admin API or the configuration file default to `reject`.
fn new_dev_connection(id: ConnectionId) -> Connection {
    let now = time::OffsetDateTime::now_utc();
    let policies = connections::Policies {
        user_name_change: connections::UserNameChangePolicy::KeepSecretServerName,
        ..Default::default()
    };
    Connection {
        id,
        display_name: "Development connection (scim-connector dev)".to_owned(),
        enabled: true,
        secret_server: DEV_INSTANCE.to_owned(),
        credentials: Default::default(),
        scope: Default::default(),
        rights: Default::default(),
        // Unlimited, unlike other connections (the gateway's default): the conformance run and the
        // benchmarks drive `dev` through this connection as fast as they can.
        rate_limit: Some(connections::ConnectionRateLimit::NONE),
        policies,
        from_config: false,
        created_at: Some(now),
        updated_at: Some(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use state_store::LocalStore;
    use std::sync::Arc;
    use std::time::Duration;

    #[tokio::test]
    async fn the_dev_token_is_reused_across_restarts_and_reissued_when_lost() {
        let dir = tempfile::tempdir().unwrap();
        let store = ConnectionStore::new(Arc::new(LocalStore::in_memory().unwrap()), Duration::from_secs(1));
        let first = dev_connection(&store, dir.path()).await.unwrap();
        let again = dev_connection(&store, dir.path()).await.unwrap();
        assert_eq!(first.expose_secret(), again.expose_secret());
        std::fs::remove_file(dir.path().join("dev-token")).unwrap();
        let reissued = dev_connection(&store, dir.path()).await.unwrap();
        assert_ne!(first.expose_secret(), reissued.expose_secret());
        let connection = store.get(&DEV_CONNECTION.parse().unwrap()).await.unwrap().unwrap();
        assert_eq!(connection.credentials.bearer_tokens.len(), 1, "the lost token is revoked");
    }

    #[tokio::test]
    async fn dev_s_console_user_is_written_once_private_and_kept_across_restarts() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::in_memory().unwrap();
        let (name, password) = dev_console_user(&store, dir.path()).await.unwrap();
        assert_eq!(name, DEV_CONSOLE_USER);
        assert!(password.expose_secret().len() >= 32);
        let file = std::fs::read_to_string(dir.path().join("console-credentials")).unwrap();
        assert_eq!(file, format!("{name}\n{}\n", password.expose_secret()), "name and password, one per line");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("console-credentials")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let (_, again) = dev_console_user(&store, dir.path()).await.unwrap();
        assert_eq!(again.expose_secret(), password.expose_secret(), "the same credentials after a restart");
        let stored = state_store::StateStore::get(&store, "console-users", &name).await.unwrap().unwrap();
        let stored = String::from_utf8(stored.to_vec()).unwrap();
        assert!(stored.contains("$argon2id$") && !stored.contains(password.expose_secret()), "only a hash is kept");
    }

    #[test]
    fn the_generated_admin_token_is_long_and_a_short_one_left_in_its_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let token = admin_token(dir.path()).unwrap();
        assert!(token.expose_secret().len() >= 32);
        assert_eq!(admin_token(dir.path()).unwrap().expose_secret(), token.expose_secret(), "kept across restarts");
        std::fs::write(dir.path().join("admin-token"), "letmein\n").unwrap();
        let error = admin_token(dir.path()).unwrap_err().to_string();
        assert!(error.contains("at least 32") && error.contains("admin-token") && !error.contains('\n'), "{error}");
    }

    #[test]
    fn dev_s_secret_server_console_account_is_kept_in_a_private_two_line_file_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let (user, password) = dev_console_ss_account(dir.path()).unwrap();
        assert_eq!(user, DEV_CONSOLE_SS_USER);
        let text = std::fs::read_to_string(dir.path().join("console-ss-credentials")).unwrap();
        assert_eq!(text, format!("{user}\n{}\n", password.expose_secret()));
        assert!(!dir.path().join("console-credentials").exists(), "the connector's own account file is another");
        let (_, again) = dev_console_ss_account(dir.path()).unwrap();
        assert_eq!(again.expose_secret(), password.expose_secret(), "kept across restarts");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("console-ss-credentials")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn the_emulator_account_is_kept_in_a_private_two_line_file() {
        let dir = tempfile::tempdir().unwrap();
        let (user, password) = sim_credentials(dir.path(), "scim-api").unwrap();
        let text = std::fs::read_to_string(dir.path().join("sim-credentials")).unwrap();
        assert_eq!(text, format!("{user}\n{}\n", password.expose_secret()));
        let (_, again) = sim_credentials(dir.path(), "other").unwrap();
        assert_eq!(again.expose_secret(), password.expose_secret());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("sim-credentials")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
