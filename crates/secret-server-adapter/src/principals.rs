//! Who may be changed: the protected principals of each Secret Server instance, and the facts the
//! principal scope (`connections::scope`) asks of the read model.
//!
//! A **protected principal** can be changed by no connection, whatever its scope: no update, no
//! password, no disable, no delete, no membership change of a protected group, no adding or
//! removing a protected user to or from a group. They are, per instance:
//!
//! - the connector's own API account, always, recognised by its user name (in any domain: a
//!   same-named user elsewhere is protected too, which errs on the safe side);
//! - the users and groups listed in the instance's settings ([`ProtectedPrincipals`]), by name;
//! - unless switched off, the holders of Secret Server's administrator role (`Administrator` by
//!   default), directly or through a group, and the groups that hold it.
//!
//! The first two are decided from the names the read model holds, without a call. Role holders are
//! asked of Secret Server when the change is about to be made (`GET /users/{userId}/roles-assigned`
//! for a user, `GET /groups/{id}/roles` for a group): the read model does not keep roles, and a
//! role given in Secret Server a minute ago must protect at once. That is one read per user or
//! group a change touches (a group's members included, a few at a time), before anything changes.
//!
//! A User's `roles` are assigned through the connector only within the connection's scope, and
//! never the administrator role: a user given it would become protected (see `worker::roles`).

use crate::read_model::state::State;
use crate::text::fold;
use connections::scope::{Principal, PrincipalFacts};
use futures::{StreamExt, TryStreamExt, stream};
use secret_server_api::ADMINISTRATOR_ROLE;
use secret_server_client::{ClientError, SecretServerClient};
use service_error::{ErrorKind, ServiceError};
use std::fmt;

/// Role checks in flight at once for one change.
const ROLE_CALLS: usize = 8;

/// The principals of one Secret Server instance that no connection may change, besides its API
/// account (always protected).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtectedPrincipals {
    /// User names, matched case-insensitively in any domain.
    pub users: Vec<String>,
    /// Group names, matched case-insensitively.
    pub groups: Vec<String>,
    /// The role whose holders (directly or through a group) and holding groups are protected:
    /// Secret Server's `Administrator` by default; `None` protects no role's holders.
    pub administrator_role: Option<String>,
}

impl Default for ProtectedPrincipals {
    fn default() -> Self {
        Self { users: Vec::new(), groups: Vec::new(), administrator_role: Some(ADMINISTRATOR_ROLE.to_owned()) }
    }
}

/// Why a principal is protected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Protected {
    /// The connector's own Secret Server account.
    ApiAccount,
    /// Named in the instance's protected principals.
    Listed { instance: String },
    /// Holds the administrator role: directly (no groups), or through these groups. For a group:
    /// the group holds it (no groups named).
    RoleHolder { role: String, through: Vec<String> },
}

impl fmt::Display for Protected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protected::ApiAccount => f.write_str("the connector's own Secret Server API account"),
            Protected::Listed { instance } => {
                write!(f, "listed among the protected principals of Secret Server instance '{instance}'")
            }
            Protected::RoleHolder { role, through } if through.is_empty() => {
                write!(f, "holds Secret Server's \"{role}\" role")
            }
            Protected::RoleHolder { role, through } => {
                let groups: Vec<String> = through.iter().map(|g| format!("\"{g}\"")).collect();
                write!(f, "holds Secret Server's \"{role}\" role through group {}", groups.join(", "))
            }
        }
    }
}

/// What the refused change would have done to a protected principal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Update, password, disable, delete, or the members of a group.
    Itself,
    /// Add it to a group or remove it from one.
    Membership,
}

/// A refused change to a protected principal: `403`, saying who and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} {} is a protected principal ({why}): no connection may {}", principal.kind().name(), principal.id(), match change {
    Change::Itself => "change it",
    Change::Membership => "add it to a group or remove it from one",
})]
pub struct ProtectedPrincipal {
    pub principal: Principal,
    pub why: Protected,
    pub change: Change,
}

impl From<ProtectedPrincipal> for ServiceError {
    fn from(refusal: ProtectedPrincipal) -> Self {
        ServiceError::new(ErrorKind::PermissionDenied, refusal.to_string())
    }
}

/// One instance's protected principals, ready to check.
#[derive(Debug, Clone)]
pub struct Protection {
    instance: String,
    /// Folded.
    api_account: String,
    users: Vec<String>,
    groups: Vec<String>,
    administrator_role: Option<String>,
}

impl Protection {
    /// The protection of instance `instance`, whose API account is `api_username`.
    pub fn new(instance: &str, api_username: &str, settings: &ProtectedPrincipals) -> Self {
        let folded = |names: &[String]| names.iter().map(|n| fold(n.trim())).filter(|n| !n.is_empty()).collect();
        Self {
            instance: instance.to_owned(),
            api_account: fold(api_username.trim()),
            users: folded(&settings.users),
            groups: folded(&settings.groups),
            administrator_role: settings
                .administrator_role
                .as_deref()
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned),
        }
    }

    /// Whether holding role `role` makes a principal protected (the administrator role).
    pub fn protects_role(&self, role: &str) -> bool {
        self.administrator_role.as_deref().is_some_and(|r| fold(r.trim()) == fold(role.trim()))
    }

    /// Whether the user called `user_name` is protected by its name alone (the API account, or
    /// listed).
    pub fn user_by_name(&self, user_name: &str) -> Option<Protected> {
        let name = fold(user_name.trim());
        if name == self.api_account {
            Some(Protected::ApiAccount)
        } else if self.users.contains(&name) {
            Some(Protected::Listed { instance: self.instance.clone() })
        } else {
            None
        }
    }

    /// The users of `state` that are the API account (its name, in any domain): what the first
    /// load resolves and logs, so that an API account the read model cannot see is noticed.
    pub fn api_account_ids(&self, state: &State) -> Vec<i64> {
        state.users.values().filter(|u| fold(&u.ss.user_name) == self.api_account).map(|u| u.ss.id).collect()
    }

    /// Whether the group called `name` is protected by its name alone (listed).
    pub fn group_by_name(&self, name: &str) -> Option<Protected> {
        self.groups.contains(&fold(name.trim())).then(|| Protected::Listed { instance: self.instance.clone() })
    }

    fn is_role(&self, name: &str) -> Option<&str> {
        self.administrator_role.as_deref().filter(|role| role.eq_ignore_ascii_case(name.trim()))
    }

    /// Whether user `id` holds the administrator role, directly or through a group, as Secret
    /// Server says now (one call; none when no role is protected). A user Secret Server does not
    /// know holds nothing.
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    pub async fn user_by_role(&self, client: &SecretServerClient, id: i64) -> Result<Option<Protected>, ClientError> {
        if self.administrator_role.is_none() {
            return Ok(None);
        }
        let held = match client.user_roles_assigned(id).try_collect::<Vec<_>>().await {
            Ok(held) => held,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(held.into_iter().find_map(|r| {
            let role = self.is_role(&r.role_name)?.to_owned();
            let through =
                if r.is_direct_assignment { Vec::new() } else { r.groups.into_iter().map(|g| g.group_name).collect() };
            Some(Protected::RoleHolder { role, through })
        }))
    }

    /// Whether group `id` holds the administrator role, as Secret Server says now (one call).
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    pub async fn group_by_role(&self, client: &SecretServerClient, id: i64) -> Result<Option<Protected>, ClientError> {
        if self.administrator_role.is_none() {
            return Ok(None);
        }
        let held = match client.group_roles(id).try_collect::<Vec<_>>().await {
            Ok(held) => held,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(held.into_iter().find_map(|r| {
            self.is_role(&r.name).map(|role| Protected::RoleHolder { role: role.to_owned(), through: Vec::new() })
        }))
    }

    /// The first of `users` (in id order) that holds the administrator role, asking Secret Server
    /// a few at a time.
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    pub async fn first_role_holder(
        &self,
        client: &SecretServerClient,
        users: &[i64],
    ) -> Result<Option<(i64, Protected)>, ClientError> {
        if self.administrator_role.is_none() || users.is_empty() {
            return Ok(None);
        }
        let mut found: Vec<(i64, Protected)> = stream::iter(users.to_vec())
            .map(|id| {
                let client = client.clone();
                async move { self.user_by_role(&client, id).await.map(|p| p.map(|p| (id, p))) }
            })
            .buffer_unordered(ROLE_CALLS)
            .try_filter_map(|found| futures::future::ready(Ok(found)))
            .try_collect()
            .await?;
        found.sort_by_key(|(id, _)| *id);
        Ok(found.into_iter().next())
    }
}

/// The principal scope's facts from one instance's read model: who created a user or group (its
/// stored attributes) and who is in which group.
#[derive(Debug, Clone, Copy)]
pub struct StateFacts<'a>(pub &'a State);

impl PrincipalFacts for StateFacts<'_> {
    fn creator(&self, principal: Principal) -> Option<&str> {
        self.0.creator(principal)
    }

    fn is_member(&self, user: i64, group: i64) -> bool {
        self.0.groups_of(user).binary_search(&group).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn protection() -> Protection {
        let settings = ProtectedPrincipals {
            users: vec!["Break.Glass".to_owned(), " ".to_owned()],
            groups: vec!["Vault Owners".to_owned()],
            ..ProtectedPrincipals::default()
        };
        Protection::new("primary", "svc-scim", &settings)
    }

    #[test]
    fn the_api_account_and_listed_names_are_protected_case_insensitively() {
        let p = protection();
        assert_eq!(p.user_by_name("SVC-SCIM"), Some(Protected::ApiAccount));
        assert_eq!(p.user_by_name("break.glass"), Some(Protected::Listed { instance: "primary".into() }));
        assert_eq!(p.user_by_name("alice"), None);
        assert_eq!(p.user_by_name(""), None, "an empty entry in the list protects nobody in particular");
        assert!(p.group_by_name("vault owners").is_some() && p.group_by_name("DBAs").is_none());
    }

    #[test]
    fn a_refusal_is_403_and_says_who_and_why() {
        let refusal =
            ProtectedPrincipal { principal: Principal::User(1), why: Protected::ApiAccount, change: Change::Itself };
        let e = ServiceError::from(refusal);
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert_eq!(
            e.detail,
            "User 1 is a protected principal (the connector's own Secret Server API account): no connection may change it"
        );
        let through = Protected::RoleHolder { role: "Administrator".into(), through: vec!["IT Admins".into()] };
        let e = ServiceError::from(ProtectedPrincipal {
            principal: Principal::User(4),
            why: through,
            change: Change::Membership,
        });
        assert_eq!(
            e.detail,
            "User 4 is a protected principal (holds Secret Server's \"Administrator\" role through group \"IT Admins\"): \
             no connection may add it to a group or remove it from one"
        );
    }

    #[test]
    fn by_default_administrators_are_protected_and_the_role_can_be_switched_off() {
        assert_eq!(ProtectedPrincipals::default().administrator_role.as_deref(), Some("Administrator"));
        let off = ProtectedPrincipals { administrator_role: None, ..ProtectedPrincipals::default() };
        assert!(Protection::new("primary", "api", &off).administrator_role.is_none());
    }
}
