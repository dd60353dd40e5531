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
//!   default), directly or through a group, and the groups that hold it;
//! - the instance's console group (`console_group`, whose members may sign in to the connector's
//!   own console) and its members: a connection that could add a user of its own to that group,
//!   or set a member's password, could make itself an administrator of the connector. The group
//!   is protected by name (a domain-qualified `DOMAIN\Name` protects every group called `Name`,
//!   which errs on the safe side); its members are asked of Secret Server when a change to one is
//!   about to be made (`GET /users/{id}/groups`), as role holders are.
//!
//! The first two are decided from the names the read model holds, without a call. Role holders are
//! asked of Secret Server when the change is about to be made, still before anything changes: a
//! role given in Secret Server a minute ago must protect at once, so the read model's roles (as of
//! its last resync) are never enough on their own.
//!
//! - A user or group changed itself: one read (`GET /users/{userId}/roles-assigned`,
//!   `GET /groups/{id}/roles`).
//! - The members a group change adds or removes ([`Protection::first_role_holder`]): up to
//!   [`SET_CHECK_FROM`] − 1 of them, one `roles-assigned` read each, as above. From
//!   [`SET_CHECK_FROM`] on, the role's holders are read as a set, whatever the number of members:
//!   `GET /roles/{id}/groups` (the groups holding the role; Secret Server lists a user holding it
//!   directly as that user's *personal* group, named after the user), then the members of each
//!   holding group that is not personal (`GET /groups/{id}/users`). That is 1 + k reads for k
//!   holding groups (usually one or two) instead of one per member; when k is not below the number
//!   of members, the per-member reads are cheaper and are made instead.
//!
//!   What the set read rests on, and its risk: that a user holding the role directly appears as a
//!   personal group whose name is the user's name (with or without its domain). Should a Secret
//!   Server name personal groups otherwise, a direct holder assigned since the last resync would
//!   not be recognised by the set read; to bound that, a member the read model shows holding the
//!   role directly is refused too (the read model's roles are as fresh as its last resync or the
//!   connector's own last change of the user). A name that merely matches errs on the safe side
//!   (the change is refused). Both reads are as fresh as the per-member ones: each is made for
//!   the change, just before it, and a role given after it is as late for either.
//!
//! A User's `roles` are assigned through the connector only within the connection's scope, and
//! never the administrator role: a user given it would become protected (see `worker::roles`).

use crate::read_model::state::State;
use crate::text::fold;
use connections::scope::{Principal, PrincipalFacts};
use futures::{StreamExt, TryStreamExt, stream};
use secret_server_api::{ADMINISTRATOR_ROLE, RoleGroupSummary, RoleSummary};
use secret_server_client::{ClientError, RoleQuery, SecretServerClient};
use service_error::{ErrorKind, ServiceError};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Role checks in flight at once for one change.
const ROLE_CALLS: usize = 8;

/// From this many members to check, the role's holders are read as a set (see the module docs).
pub const SET_CHECK_FROM: usize = 4;

/// A user a group change adds or removes, as the role check needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: i64,
    /// Its Secret Server user name.
    pub user_name: String,
    /// Whether the read model shows it holding the protected role directly.
    pub holds_directly_in_read_model: bool,
}

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
    /// The console group of the instance, or (for a user) a member of it.
    ConsoleGroup { group: String, member: bool },
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
            Protected::ConsoleGroup { group, member: false } => {
                write!(f, "the group \"{group}\" whose members may sign in to the connector's console")
            }
            Protected::ConsoleGroup { group, member: true } => {
                write!(f, "a member of \"{group}\", whose members may sign in to the connector's console")
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
    /// The console group as configured (`Name` or `DOMAIN\Name`), and its name folded.
    console_group: Option<(String, String)>,
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
            console_group: None,
        }
    }

    /// The same protection, with the instance's console group and its members protected too.
    #[must_use]
    pub fn with_console_group(mut self, group: &str) -> Self {
        let group = group.trim();
        if !group.is_empty() {
            let name = group.rsplit_once('\\').map_or(group, |(_, name)| name);
            self.console_group = Some((group.to_owned(), fold(name.trim())));
        }
        self
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

    /// Whether the group called `name` is protected by its name alone (the console group, or listed).
    pub fn group_by_name(&self, name: &str) -> Option<Protected> {
        let name = fold(name.trim());
        match &self.console_group {
            Some((group, folded)) if *folded == name => {
                Some(Protected::ConsoleGroup { group: group.clone(), member: false })
            }
            _ => self.groups.contains(&name).then(|| Protected::Listed { instance: self.instance.clone() }),
        }
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

    /// Whether user `id` is a member of the console group, as Secret Server says now (one call;
    /// none without a console group). A user Secret Server does not know is a member of nothing.
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    pub async fn user_in_console_group(
        &self,
        client: &SecretServerClient,
        id: i64,
    ) -> Result<Option<Protected>, ClientError> {
        let Some((group, _)) = &self.console_group else { return Ok(None) };
        let memberships = match client.user_groups(id).try_collect::<Vec<_>>().await {
            Ok(memberships) => memberships,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(memberships
            .iter()
            .any(|m| crate::console_account::group_matches(group, m))
            .then(|| Protected::ConsoleGroup { group: group.to_owned(), member: true }))
    }

    /// Whether group `id` holds the administrator role, as Secret Server says now (one call).
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    /// Why Secret Server says `principal` is protected, if it is: the administrator role it
    /// holds or, for a user, its membership of the console group.
    ///
    /// # Errors
    /// What Secret Server answers to the reads.
    pub async fn asked_of(
        &self,
        client: &SecretServerClient,
        principal: Principal,
    ) -> Result<Option<Protected>, ClientError> {
        match principal {
            Principal::User(id) => match self.user_by_role(client, id).await? {
                Some(why) => Ok(Some(why)),
                None => self.user_in_console_group(client, id).await,
            },
            Principal::Group(id) => self.group_by_role(client, id).await,
        }
    }

    pub async fn group_by_role(&self, client: &SecretServerClient, id: i64) -> Result<Option<Protected>, ClientError> {
        if self.administrator_role.is_none() {
            return Ok(None);
        }
        let held = match client.group_roles(id).try_collect::<Vec<_>>().await {
            Ok(held) => held,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(self.group_holding(&held))
    }

    /// Whether a group holding the roles `held` (its `GET /groups/{id}/roles`, read for the change)
    /// is protected by one of them.
    pub fn group_holding(&self, held: &[RoleSummary]) -> Option<Protected> {
        held.iter().find_map(|r| {
            self.is_role(&r.name).map(|role| Protected::RoleHolder { role: role.to_owned(), through: Vec::new() })
        })
    }

    /// The first of `users` (in id order) that holds the administrator role, as Secret Server says
    /// now: one read per user below [`SET_CHECK_FROM`] users, else the role's holders read as a set
    /// (see the module docs). `role_id` is the role's id when the read model knows it (else it is
    /// looked up).
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    pub async fn first_role_holder(
        &self,
        client: &SecretServerClient,
        users: &[Member],
        role_id: Option<i64>,
    ) -> Result<Option<(i64, Protected)>, ClientError> {
        Ok(self.role_holders(client, users, role_id).await?.into_iter().next())
    }

    /// Every one of `users` that holds the administrator role, in id order, read as
    /// [`Protection::first_role_holder`] reads them (the same calls): what a change of the members
    /// of several requests at once needs to tell which request names a holder.
    ///
    /// # Errors
    /// When Secret Server cannot be asked.
    pub async fn role_holders(
        &self,
        client: &SecretServerClient,
        users: &[Member],
        role_id: Option<i64>,
    ) -> Result<Vec<(i64, Protected)>, ClientError> {
        let Some(role) = self.administrator_role.as_deref() else { return Ok(Vec::new()) };
        if users.is_empty() {
            return Ok(Vec::new());
        }
        let mut users = users.to_vec();
        users.sort_by_key(|u| u.id);
        if users.len() >= SET_CHECK_FROM
            && let Some(found) = self.holders_as_set(client, &users, role, role_id).await?
        {
            return Ok(found);
        }
        self.role_holders_each(client, &users).await
    }

    /// One `roles-assigned` read per user, a few at a time.
    async fn role_holders_each(
        &self,
        client: &SecretServerClient,
        users: &[Member],
    ) -> Result<Vec<(i64, Protected)>, ClientError> {
        let mut found: Vec<(i64, Protected)> = stream::iter(users.iter().map(|u| u.id).collect::<Vec<_>>())
            .map(|id| {
                let client = client.clone();
                async move { self.user_by_role(&client, id).await.map(|p| p.map(|p| (id, p))) }
            })
            .buffer_unordered(ROLE_CALLS)
            .try_filter_map(|found| futures::future::ready(Ok(found)))
            .try_collect()
            .await?;
        found.sort_by_key(|(id, _)| *id);
        Ok(found)
    }

    /// The role's holders read as a set: `Ok(None)` when reading them per user is cheaper (or the
    /// role is not found), so that the caller does that instead; else the holders among `users`
    /// (sorted by id).
    async fn holders_as_set(
        &self,
        client: &SecretServerClient,
        users: &[Member],
        role: &str,
        role_id: Option<i64>,
    ) -> Result<Option<Vec<(i64, Protected)>>, ClientError> {
        let role_id = match role_id {
            Some(id) => id,
            None => {
                let found = client
                    .search_roles(&RoleQuery { include_inactive: true, ..RoleQuery::default() })
                    .try_filter(|r| futures::future::ready(self.protects_role(&r.name)))
                    .try_next()
                    .await?;
                match found {
                    Some(r) => r.id,
                    // No such role: nobody holds it.
                    None => return Ok(Some(Vec::new())),
                }
            }
        };
        let holders: Vec<RoleGroupSummary> = match client.role_groups(role_id).try_collect().await {
            Ok(holders) => holders,
            // The read model's id is stale (the role was replaced): the per-user reads decide.
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        let (personal, mut groups): (Vec<RoleGroupSummary>, Vec<RoleGroupSummary>) =
            holders.into_iter().partition(|g| g.personal);
        if groups.len() >= users.len() {
            return Ok(None);
        }
        groups.sort_by_key(|g| g.group_id);
        let direct: BTreeSet<String> = personal
            .iter()
            .flat_map(|g| {
                let name = fold(g.name.trim());
                let bare = name.rsplit('\\').next().unwrap_or_default().to_owned();
                [name, bare]
            })
            .collect();
        let mut through: BTreeMap<i64, Vec<String>> = BTreeMap::new();
        let wanted: BTreeSet<i64> = users.iter().map(|u| u.id).collect();
        for group in &groups {
            let members: Vec<i64> = match client.group_members(group.group_id).map_ok(|m| m.user_id).try_collect().await
            {
                Ok(members) => members,
                // Deleted since the role's list was read: it protects nobody any more.
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e),
            };
            for user in members.into_iter().filter(|u| wanted.contains(u)) {
                through.entry(user).or_default().push(group.name.clone());
            }
        }
        let role = role.to_owned();
        Ok(Some(
            users
                .iter()
                .filter_map(|u| {
                    let name = fold(u.user_name.trim());
                    let bare = name.rsplit('\\').next().unwrap_or_default();
                    if u.holds_directly_in_read_model || direct.contains(&name) || direct.contains(bare) {
                        // As `roles-assigned` tells it: a direct holder is named without its groups.
                        Some((u.id, Protected::RoleHolder { role: role.clone(), through: Vec::new() }))
                    } else {
                        through
                            .get(&u.id)
                            .map(|groups| (u.id, Protected::RoleHolder { role: role.clone(), through: groups.clone() }))
                    }
                })
                .collect(),
        ))
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

/// [`StateFacts`], and who created one principal the read model has not seen yet.
#[derive(Debug, Clone, Copy)]
pub struct UnseenFacts<'a> {
    pub state: StateFacts<'a>,
    pub unseen: Principal,
    pub creator: Option<&'a str>,
}

impl PrincipalFacts for UnseenFacts<'_> {
    fn creator(&self, principal: Principal) -> Option<&str> {
        if principal == self.unseen { self.creator } else { self.state.creator(principal) }
    }

    fn is_member(&self, user: i64, group: i64) -> bool {
        self.state.is_member(user, group)
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
