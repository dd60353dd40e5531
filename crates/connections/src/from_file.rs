//! Connections defined in the configuration file, and what the admin API changed on them.
//!
//! The file defines a connection; the admin API may then change it at run time: revoke a token,
//! remove an OAuth client or the Basic credential, disable it, issue new credentials, change its
//! scope. Those runtime changes must survive a restart, which loads the file again: a token revoked
//! through the admin API must not come back because the file still lists it.
//!
//! So loading is a three-way merge ([`merge`]) of the connection as stored (the file's last
//! definition plus every runtime change), the file's definition as last loaded (kept beside the
//! connection, see `ConnectionStore::put_from_file`), and the file's definition now:
//!
//! - what the file changed since it was last loaded (a setting, or a credential, by its id) is
//!   taken from the file: the file adds and updates what it defines, and removing a credential
//!   from the file removes it;
//! - everything else keeps its stored value: a credential the file defines and an admin revoked
//!   stays revoked, a disabled connection stays disabled, until the file changes that credential
//!   or that setting, or an admin changes it back; credentials issued through the admin API stay.
//!
//! [`Provenance`] says, for `admin show`, which part came from where.

use crate::model::{BasicCredential, Connection, OAuthClient, TokenCredential};
use serde::{Deserialize, Serialize};

/// The connection to store after loading the file's definition `file`, given the stored
/// connection (`None`: the file defines a new one) and the definition loaded last time
/// (`None`: none is known).
///
/// Without a previous definition a connection already marked as from the file (stored before
/// definitions were kept) is taken as unchanged in the file, so that nothing an admin revoked comes
/// back; a connection created through the admin API that the file now defines takes the file's
/// definition, keeping the credentials issued for it.
pub fn merge(stored: Option<&Connection>, previous: Option<&Connection>, file: &Connection) -> Connection {
    let Some(stored) = stored else {
        return Connection { from_config: true, ..file.clone() };
    };
    let previous = match previous {
        Some(previous) => Some(previous),
        None if stored.from_config => Some(file),
        None => None,
    };
    // Whether the file changed what `field` reads since it was last loaded.
    let changed = |same: fn(&Connection, &Connection) -> bool| previous.is_none_or(|p| !same(p, file));
    let mut merged = stored.clone();
    merged.from_config = true;
    if changed(|a, b| a.display_name == b.display_name) {
        merged.display_name = file.display_name.clone();
    }
    if changed(|a, b| a.secret_server == b.secret_server) {
        merged.secret_server = file.secret_server.clone();
    }
    if changed(|a, b| a.scope == b.scope) {
        merged.scope = file.scope.clone();
    }
    if changed(|a, b| a.rights == b.rights) {
        merged.rights = file.rights.clone();
    }
    if changed(|a, b| a.rate_limit == b.rate_limit) {
        merged.rate_limit = file.rate_limit;
    }
    if changed(|a, b| a.policies == b.policies) {
        merged.policies = file.policies;
    }
    if changed(|a, b| a.enabled == b.enabled) {
        merged.enabled = file.enabled;
    }
    let credentials = &mut merged.credentials;
    credentials.bearer_tokens = merge_keyed(
        &stored.credentials.bearer_tokens,
        previous.map(|p| p.credentials.bearer_tokens.as_slice()),
        &file.credentials.bearer_tokens,
        |t: &TokenCredential| t.id.as_str(),
    );
    credentials.oauth_clients = merge_keyed(
        &stored.credentials.oauth_clients,
        previous.map(|p| p.credentials.oauth_clients.as_slice()),
        &file.credentials.oauth_clients,
        |c: &OAuthClient| c.client_id.as_str(),
    );
    if previous.is_none_or(|p| p.credentials.basic != file.credentials.basic) {
        credentials.basic = match (&stored.credentials.basic, &file.credentials.basic) {
            // Created through the admin API and not the file's business: kept.
            (Some(own), None) if previous.is_none() => Some(own.clone()),
            (_, defined) => defined.clone(),
        };
    }
    merged
}

/// Merges a list of credentials by their id: the file's changes win, the rest is as stored.
fn merge_keyed<T: Clone + PartialEq>(stored: &[T], previous: Option<&[T]>, file: &[T], id: fn(&T) -> &str) -> Vec<T> {
    let find = |list: &[T], key: &str| list.iter().find(|c| id(c) == key).cloned();
    let previously = |key: &str| previous.and_then(|p| find(p, key));
    let mut merged = Vec::new();
    for own in stored {
        match find(file, id(own)) {
            // Unchanged in the file: as stored. Changed in the file: the file's version.
            Some(defined) if previously(id(own)).as_ref() == Some(&defined) => merged.push(own.clone()),
            Some(defined) => merged.push(defined),
            // Removed from the file: gone. Never in the file: issued through the admin API, kept.
            None if previously(id(own)).is_some() => {}
            None => merged.push(own.clone()),
        }
    }
    for defined in file {
        let stored_too = stored.iter().any(|c| id(c) == id(defined));
        // Revoked through the admin API while the file kept it as it was: stays revoked.
        let revoked = previously(id(defined)).as_ref() == Some(defined);
        if !stored_too && !revoked {
            merged.push(defined.clone());
        }
    }
    merged
}

/// Where a part of a connection comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Source {
    /// The configuration file's definition.
    File,
    /// A change made through the admin API (it lasts until the file changes that part).
    Admin,
}

/// Where one credential (a token by its id, an OAuth2 client by its client id) comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialSource {
    pub id: String,
    pub source: Source,
}

/// Which parts of a connection defined in the configuration file come from the file and which from
/// the admin API.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provenance {
    /// The settings (`displayName`, `secretServer`, `scope`, `rights`, `rateLimit`, `policies`,
    /// `enabled`) whose value differs from the file's definition: set through the admin API.
    pub settings_from_admin: Vec<String>,
    /// Bearer tokens by id, with where each comes from.
    pub bearer_tokens: Vec<CredentialSource>,
    /// OAuth2 clients by id, with where each comes from.
    pub oauth_clients: Vec<CredentialSource>,
    /// Where the Basic credential comes from, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic: Option<Source>,
    /// Credentials the file defines that were revoked or removed through the admin API; they stay
    /// so until the file changes them (`token <id>`, `oauth-client <id>`, `basic <user name>`).
    pub revoked: Vec<String>,
}

impl Provenance {
    /// The provenance of `stored`, a connection loaded from the file's definition `file` (as last
    /// loaded).
    pub fn of(stored: &Connection, file: &Connection) -> Self {
        let mut settings = Vec::new();
        let mut differs = |name: &str, same: bool| {
            if !same {
                settings.push(name.to_owned());
            }
        };
        differs("displayName", stored.display_name == file.display_name);
        differs("secretServer", stored.secret_server == file.secret_server);
        differs("scope", stored.scope == file.scope);
        differs("rights", stored.rights == file.rights);
        differs("rateLimit", stored.rate_limit == file.rate_limit);
        differs("policies", stored.policies == file.policies);
        differs("enabled", stored.enabled == file.enabled);
        let (s, f) = (&stored.credentials, &file.credentials);
        let mut revoked = Vec::new();
        let bearer_tokens = sources(&s.bearer_tokens, &f.bearer_tokens, |t| t.id.as_str(), "token", &mut revoked);
        let oauth_clients =
            sources(&s.oauth_clients, &f.oauth_clients, |c| c.client_id.as_str(), "oauth-client", &mut revoked);
        let basic = match (&s.basic, &f.basic) {
            (Some(own), defined) => Some(if defined.as_ref() == Some(own) { Source::File } else { Source::Admin }),
            (None, Some(BasicCredential { username, .. })) => {
                revoked.push(format!("basic {username}"));
                None
            }
            (None, None) => None,
        };
        Self { settings_from_admin: settings, bearer_tokens, oauth_clients, basic, revoked }
    }
}

fn sources<T: PartialEq>(
    stored: &[T],
    file: &[T],
    id: fn(&T) -> &str,
    what: &str,
    revoked: &mut Vec<String>,
) -> Vec<CredentialSource> {
    for defined in file {
        if !stored.iter().any(|c| id(c) == id(defined)) {
            revoked.push(format!("{what} {}", id(defined)));
        }
    }
    stored
        .iter()
        .map(|own| {
            let source = if file.contains(own) { Source::File } else { Source::Admin };
            CredentialSource { id: id(own).to_owned(), source }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials;

    fn defined(tokens: &[&TokenCredential]) -> Connection {
        let mut c: Connection =
            serde_json::from_value(serde_json::json!({"id": "sailpoint", "secretServer": "primary"})).unwrap();
        c.credentials.bearer_tokens = tokens.iter().map(|t| (*t).clone()).collect();
        c
    }

    fn token(id: &str) -> TokenCredential {
        TokenCredential { id: id.to_owned(), ..credentials::issue_token(None, None).credential }
    }

    fn ids(c: &Connection) -> Vec<&str> {
        c.credentials.bearer_tokens.iter().map(|t| t.id.as_str()).collect()
    }

    #[test]
    fn a_new_connection_is_the_files_definition() {
        let file = defined(&[&token("t1")]);
        let merged = merge(None, None, &file);
        assert!(merged.from_config);
        assert_eq!(ids(&merged), ["t1"]);
    }

    #[test]
    fn a_token_revoked_through_the_admin_api_stays_revoked_while_the_file_keeps_it_unchanged() {
        let (t1, t2) = (token("t1"), token("t2"));
        let file = defined(&[&t1, &t2]);
        let mut stored = merge(None, None, &file);
        stored.credentials.bearer_tokens.retain(|t| t.id != "t1");
        let reloaded = merge(Some(&stored), Some(&file), &file);
        assert_eq!(ids(&reloaded), ["t2"]);
        assert_eq!(Provenance::of(&reloaded, &file).revoked, ["token t1"]);
    }

    #[test]
    fn the_file_changing_a_revoked_token_brings_its_new_version() {
        let file = defined(&[&token("t1")]);
        let mut stored = merge(None, None, &file);
        stored.credentials.bearer_tokens.clear();
        let rotated = defined(&[&token("t1")]);
        let reloaded = merge(Some(&stored), Some(&file), &rotated);
        assert_eq!(reloaded.credentials.bearer_tokens, rotated.credentials.bearer_tokens);
    }

    #[test]
    fn the_file_adds_and_removes_its_own_tokens_and_keeps_those_issued_through_the_admin_api() {
        let (t1, t2) = (token("t1"), token("t2"));
        let file = defined(&[&t1]);
        let mut stored = merge(None, None, &file);
        stored.credentials.bearer_tokens.push(token("issued"));
        let next = defined(&[&t2]);
        let reloaded = merge(Some(&stored), Some(&file), &next);
        assert_eq!(ids(&reloaded), ["issued", "t2"]);
        let provenance = Provenance::of(&reloaded, &next);
        let sources: Vec<(&str, Source)> = provenance.bearer_tokens.iter().map(|c| (c.id.as_str(), c.source)).collect();
        assert_eq!(sources, [("issued", Source::Admin), ("t2", Source::File)]);
        assert!(provenance.revoked.is_empty());
    }

    #[test]
    fn a_disabled_connection_stays_disabled_until_the_file_or_an_admin_changes_it() {
        let file = defined(&[]);
        let mut stored = merge(None, None, &file);
        stored.enabled = false;
        let reloaded = merge(Some(&stored), Some(&file), &file);
        assert!(!reloaded.enabled);
        assert_eq!(Provenance::of(&reloaded, &file).settings_from_admin, ["enabled"]);

        let mut disabled_in_file = file.clone();
        disabled_in_file.enabled = false;
        let mut enabled_again = file.clone();
        enabled_again.enabled = true;
        let off = merge(Some(&reloaded), Some(&file), &disabled_in_file);
        assert!(!off.enabled);
        assert!(merge(Some(&off), Some(&disabled_in_file), &enabled_again).enabled, "the file enabled it");
    }

    #[test]
    fn removed_oauth_clients_and_basic_credentials_stay_removed() {
        let mut file = defined(&[]);
        file.credentials.oauth_clients =
            vec![OAuthClient { client_id: "c1".into(), secret_hash: "h".into(), token_ttl_seconds: 60 }];
        file.credentials.basic = Some(BasicCredential { username: "u".into(), password_hash: "h".into() });
        let mut stored = merge(None, None, &file);
        stored.credentials.oauth_clients.clear();
        stored.credentials.basic = None;
        let reloaded = merge(Some(&stored), Some(&file), &file);
        assert!(reloaded.credentials.oauth_clients.is_empty());
        assert_eq!(reloaded.credentials.basic, None);
        assert_eq!(Provenance::of(&reloaded, &file).revoked, ["oauth-client c1", "basic u"]);
    }

    #[test]
    fn without_a_known_previous_definition_a_connection_from_the_file_keeps_what_it_has() {
        let file = defined(&[&token("t1")]);
        let mut stored = merge(None, None, &file);
        stored.credentials.bearer_tokens.clear();
        stored.enabled = false;
        let reloaded = merge(Some(&stored), None, &file);
        assert!(ids(&reloaded).is_empty());
        assert!(!reloaded.enabled);
    }

    #[test]
    fn a_connection_created_through_the_admin_api_takes_the_files_definition_and_keeps_its_tokens() {
        let mut stored = defined(&[&token("issued")]);
        stored.enabled = false;
        let file = defined(&[&token("t1")]);
        let merged = merge(Some(&stored), None, &file);
        assert!(merged.from_config && merged.enabled);
        assert_eq!(ids(&merged), ["issued", "t1"]);
    }
}
