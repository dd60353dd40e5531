//! Console sign-in with Secret Server accounts, as Delinea's own connector admits its
//! administrators: the account's credentials are checked by Secret Server itself.
//!
//! A client of its own is made for each check, with the instance's URL, TLS trust and timeouts
//! and the account's credentials (the password grant, with the domain for a domain account). It
//! reads `GET /users/current` (which signs in) then `GET /users/{id}/groups`, both published
//! operations that Secret Server lets a user call on itself without a role permission, and admits
//! the account only when one of its groups is the instance's console group. The client, with the
//! password and the token, is dropped at the end of the check: nothing is kept. The token is not
//! expired early: `POST /api/v1/oauth-expiration` is not among the operations of the published
//! specification the client is restricted to, so the token lapses at the end of its lifetime,
//! unused. Neither the password nor the token is ever logged: the request's `Debug` hides the
//! password, and the logs name the instance and the account only.

use futures::TryStreamExt;
use secrecy::SecretString;
use secret_server_client::{ClientConfig, ClientError, SecretServerClient, SignIn};
use std::time::Duration;

pub use adapter_api::admin::{ConsoleAccount, ConsoleAccountVerdict};

/// Whether `membership` is in the console group as configured: `Name` for a local group,
/// `DOMAIN\Name` for a directory group. A plain name is a local group only: a group of that name
/// in a directory (which Secret Server may synchronize, and whose members are whoever the
/// directory's administrators put there) is another group, and its members are no console
/// administrators.
pub(crate) fn group_matches(configured: &str, membership: &secret_server_api::GroupMembership) -> bool {
    let configured = configured.trim();
    match configured.split_once('\\') {
        Some((domain, name)) => {
            membership.group_name.eq_ignore_ascii_case(name)
                && membership.group_domain_name.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(domain))
        }
        None => membership.group_name.eq_ignore_ascii_case(configured) && is_local(membership),
    }
}

/// Whether the group of `membership` is a local one: no domain named, and no domain id (Secret
/// Server gives a local group `-1`; `0` and none mean the same). A domain id without a name is
/// still a domain.
fn is_local(membership: &secret_server_api::GroupMembership) -> bool {
    membership.group_domain_id <= 0 && membership.group_domain_name.as_deref().is_none_or(|d| d.trim().is_empty())
}

/// The client configuration for one check: the instance's, with `account`'s credentials, a
/// single attempt per call (a refused password is not retried) and a short wait.
fn account_config(instance: &ClientConfig, account: &ConsoleAccount) -> ClientConfig {
    let mut config = instance.clone();
    config.username.clone_from(&account.username);
    config.password = SecretString::clone(&account.password);
    config.domain.clone_from(&account.domain);
    config.sign_in = SignIn::Password;
    config.adaptive_concurrency = None;
    config.max_concurrent_requests = 2;
    config.max_queue_wait = Duration::from_secs(5);
    config.retry.max_attempts = 1;
    config
}

/// Why Secret Server refused or failed, in words for the audit log.
fn unreachable(error: &ClientError) -> ConsoleAccountVerdict {
    ConsoleAccountVerdict::Unreachable { reason: format!("Secret Server unreachable: {error}") }
}

/// Checks `account` against the instance reached with `instance_config`, admitting members of
/// `console_group`.
pub async fn verify(
    instance_config: &ClientConfig,
    console_group: &str,
    account: ConsoleAccount,
) -> ConsoleAccountVerdict {
    if account.username.is_empty() || secrecy::ExposeSecret::expose_secret(&account.password).is_empty() {
        return ConsoleAccountVerdict::Refused { reason: "no user name or no password".to_owned() };
    }
    let client = match SecretServerClient::new(account_config(instance_config, &account)) {
        Ok(client) => client,
        Err(e) => return unreachable(&e),
    };
    let me = match client.current_user().await {
        Ok(me) => me,
        Err(ClientError::AuthenticationFailed { message }) => {
            return ConsoleAccountVerdict::Refused {
                reason: format!("Secret Server refused the credentials: {message}"),
            };
        }
        Err(e) => return unreachable(&e),
    };
    let groups: Result<Vec<_>, _> = client.user_groups(me.id).try_collect().await;
    let groups = match groups {
        Ok(groups) => groups,
        Err(e @ (ClientError::Forbidden { .. } | ClientError::BadRequest { .. })) => {
            return ConsoleAccountVerdict::Refused { reason: format!("the account's groups cannot be read: {e}") };
        }
        Err(e) => return unreachable(&e),
    };
    if groups.iter().any(|g| group_matches(console_group, g)) {
        ConsoleAccountVerdict::Allowed { user_name: me.user_name, display_name: me.display_name }
    } else {
        ConsoleAccountVerdict::Refused { reason: format!("not a member of the console group {console_group:?}") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membership(group_name: &str, domain: Option<&str>) -> secret_server_api::GroupMembership {
        secret_server_api::GroupMembership {
            group_name: group_name.to_owned(),
            group_domain_name: domain.map(str::to_owned),
            ..secret_server_api::GroupMembership::default()
        }
    }

    #[test]
    fn a_console_group_matches_by_name_and_a_directory_group_by_domain_too() {
        assert!(group_matches("Console Admins", &membership("console admins", None)));
        assert!(!group_matches("Console Admins", &membership("Console", None)));
        assert!(group_matches("CORP\\Vault Ops", &membership("Vault Ops", Some("corp"))));
        assert!(!group_matches("CORP\\Vault Ops", &membership("Vault Ops", None)));
        assert!(!group_matches("CORP\\Vault Ops", &membership("Vault Ops", Some("other"))));
    }

    #[test]
    fn a_plain_console_group_name_matches_a_local_group_only_never_a_directory_group_of_that_name() {
        let local = secret_server_api::GroupMembership { group_domain_id: -1, ..membership("Console Admins", None) };
        assert!(group_matches("Console Admins", &local));
        assert!(!group_matches("Console Admins", &membership("Console Admins", Some("CORP"))));
        let unnamed_domain =
            secret_server_api::GroupMembership { group_domain_id: 3, ..membership("Console Admins", None) };
        assert!(!group_matches("Console Admins", &unnamed_domain), "a domain Secret Server did not name is a domain");
    }

    #[test]
    fn the_request_shows_no_password() {
        let account = ConsoleAccount {
            username: "olga".to_owned(),
            password: SecretString::from("hunter2-Passw0rd"),
            domain: None,
        };
        assert!(!format!("{account:?}").contains("hunter2"));
        let config = ClientConfig::new("https://vault.example.com/SecretServer".parse().unwrap(), "svc", "x".into());
        assert!(!format!("{:?}", account_config(&config, &account)).contains("hunter2"));
    }
}
