//! The one scope decision: what a connection may do with each resource type, and which objects
//! it may see. The gateway asks before anything is read or submitted; the adapter asks again where
//! the data is (defence in depth). Both get the same answer, because both ask here:
//!
//! - a resource type the connection cannot read is invisible: `404` "no such resource type", as
//!   if it did not exist, and discovery ([`readable`]) leaves it out;
//! - a readable type whose action the connection may not do is `403`, naming the action;
//! - an id the connection cannot see, whether it does not exist or lies outside the connection's
//!   container subtrees ([`Scope::covers_folder`]), is `404` with the same detail either way, so
//!   that nothing outside the scope can be probed;
//! - a user or group outside the connection's principal scope ([`Scope::reaches`]) cannot be
//!   changed (`403`, saying so); when the scope also limits reads ([`Scope::shows`]) it cannot be
//!   seen either, and is `404` like a missing one;
//! - a password is set only when a user is created, or on a user the connection created, unless
//!   the connection's `passwordChange` policy is `any` ([`require_password_change`]): `403`.
//!
//! What the principal scope needs to know (who created a user or group, who is in which group)
//! comes from the caller, which holds the data, through [`PrincipalFacts`]. Protected principals
//! (the connector's own API account, Secret Server's administrators) are decided by the adapter,
//! per Secret Server instance: no scope reaches them.
//!
//! A refusal is a typed [`Denial`]; it becomes a `ServiceError` in one place (`From`).

use crate::model::{Connection, ConnectionId, Operations, PasswordChangePolicy, PrincipalReach, Scope};
use scim::ResourceKind;
use secret_server_api::ROOT_FOLDER_ID;
use service_error::{ErrorKind, ServiceError};

/// What a request does to a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    fn allowed(self, ops: Operations) -> bool {
        match self {
            Action::Read => ops.read,
            Action::Create => ops.create,
            Action::Update => ops.update,
            Action::Delete => ops.delete,
        }
    }

    /// The verb a refusal names (`"create"`).
    pub fn verb(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// Why the scope refuses a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// The connection cannot read the type: it does not exist for this connection (`404`).
    #[error("no such resource type: {}", .0.endpoint())]
    UnreadableType(ResourceKind),
    /// The type is readable but the action is not allowed (`403`).
    #[error("connection {connection} may not {} {} resources", action.verb(), kind.name())]
    ActionNotAllowed { connection: ConnectionId, kind: ResourceKind, action: Action },
    /// The resource does not exist, or is outside the connection's subtrees: the same `404`, so
    /// that its existence is not revealed.
    #[error("{} {id} not found", kind.name())]
    NotVisible { kind: ResourceKind, id: String },
    /// The user or group is outside the connection's principal scope (`403`).
    #[error(
        "{} {} is outside the principal scope of connection {connection}, which may change {reach}",
        principal.kind().name(), principal.id()
    )]
    OutsidePrincipalScope { connection: ConnectionId, principal: Principal, reach: String },
    /// The connection may not set this user's password (`403`).
    #[error(
        "connection {connection} may not set the password of User {user}: it sets passwords when it creates a user \
         and on the users it created (policy passwordChange: createdByConnection)"
    )]
    PasswordChangeNotAllowed { connection: ConnectionId, user: i64 },
    /// The connection may not assign or unassign this Secret Server role (`403`).
    #[error(
        "connection {connection} may not assign or unassign Secret Server role {role:?}: its scope's roles are {allowed}"
    )]
    RoleNotInScope { connection: ConnectionId, role: String, allowed: String },
}

impl From<Denial> for ServiceError {
    fn from(denial: Denial) -> Self {
        let kind = match denial {
            Denial::UnreadableType(_) | Denial::NotVisible { .. } => ErrorKind::NotFound,
            Denial::ActionNotAllowed { .. }
            | Denial::OutsidePrincipalScope { .. }
            | Denial::PasswordChangeNotAllowed { .. }
            | Denial::RoleNotInScope { .. } => ErrorKind::PermissionDenied,
        };
        ServiceError::new(kind, denial.to_string())
    }
}

/// Whether `connection` may do `action` on `kind`.
///
/// # Errors
/// [`Denial::UnreadableType`] when the connection cannot read the type (whatever the action),
/// [`Denial::ActionNotAllowed`] when the type is readable but the action is not allowed.
pub fn require(connection: &Connection, kind: ResourceKind, action: Action) -> Result<(), Denial> {
    let ops = connection.scope.operations(kind);
    if !ops.read {
        return Err(Denial::UnreadableType(kind));
    }
    if action.allowed(ops) {
        Ok(())
    } else {
        Err(Denial::ActionNotAllowed { connection: connection.id.clone(), kind, action })
    }
}

/// The resource types `connection` may read, in discovery order.
pub fn readable(connection: &Connection) -> Vec<ResourceKind> {
    ResourceKind::ALL.into_iter().filter(|k| connection.scope.operations(*k).read).collect()
}

/// The refusal for resource `id` of `kind` that the caller cannot see, missing or out of scope.
pub fn not_visible(kind: ResourceKind, id: impl Into<String>) -> Denial {
    Denial::NotVisible { kind, id: id.into() }
}

/// A Secret Server user or group, as the principal scope names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Principal {
    User(i64),
    Group(i64),
}

impl Principal {
    /// `User` or `Group`.
    pub fn kind(self) -> ResourceKind {
        match self {
            Principal::User(_) => ResourceKind::User,
            Principal::Group(_) => ResourceKind::Group,
        }
    }

    /// The Secret Server id.
    pub fn id(self) -> i64 {
        match self {
            Principal::User(id) | Principal::Group(id) => id,
        }
    }
}

/// What the principal scope needs to know about users and groups, from the caller that holds them.
pub trait PrincipalFacts {
    /// The connection that created `principal` through the connector, if one did.
    fn creator(&self, principal: Principal) -> Option<&str>;
    /// Whether user `user` is a member of group `group`.
    fn is_member(&self, user: i64, group: i64) -> bool;
}

impl Scope {
    /// Whether the connection `connection` (whose scope this is) may change `principal`: any user
    /// or group for [`PrincipalReach::All`]; those it created for
    /// [`PrincipalReach::CreatedByConnection`]; for [`PrincipalReach::GroupMembers`], the listed
    /// groups, their members, and what it created (so that it can manage a user it creates before
    /// adding it to one of them).
    pub fn reaches(&self, connection: &ConnectionId, principal: Principal, facts: &impl PrincipalFacts) -> bool {
        let created = || facts.creator(principal) == Some(connection.as_str());
        let groups = &self.principals.groups;
        match self.principals.reach {
            PrincipalReach::All => true,
            PrincipalReach::CreatedByConnection => created(),
            PrincipalReach::GroupMembers => {
                created()
                    || match principal {
                        Principal::Group(group) => groups.contains(&group),
                        Principal::User(user) => groups.iter().any(|group| facts.is_member(user, *group)),
                    }
            }
        }
    }

    /// Whether reads show `principal`: always, unless the principal scope limits reads to what it
    /// [`reaches`](Scope::reaches).
    pub fn shows(&self, connection: &ConnectionId, principal: Principal, facts: &impl PrincipalFacts) -> bool {
        !self.principals.limit_reads || self.reaches(connection, principal, facts)
    }
}

/// Whether `connection` may change `principal` (update, disable, delete, change its members or
/// its groups).
///
/// # Errors
/// [`Denial::OutsidePrincipalScope`] when its principal scope does not reach it.
pub fn require_reach(connection: &Connection, principal: Principal, facts: &impl PrincipalFacts) -> Result<(), Denial> {
    if connection.scope.reaches(&connection.id, principal, facts) {
        return Ok(());
    }
    let scope = &connection.scope.principals;
    Err(Denial::OutsidePrincipalScope {
        connection: connection.id.clone(),
        principal,
        reach: scope.reach.describe(&scope.groups),
    })
}

/// Whether `connection` may set the password of existing user `user`, created through the
/// connector by `creator` (if by any connection). Setting one when creating a user is always
/// allowed and does not ask.
///
/// # Errors
/// [`Denial::PasswordChangeNotAllowed`] unless the connection created the user or its policy is
/// [`PasswordChangePolicy::Any`].
pub fn require_password_change(connection: &Connection, user: i64, creator: Option<&str>) -> Result<(), Denial> {
    match connection.policies.password_change {
        PasswordChangePolicy::Any => Ok(()),
        PasswordChangePolicy::CreatedByConnection if creator == Some(connection.id.as_str()) => Ok(()),
        PasswordChangePolicy::CreatedByConnection => {
            Err(Denial::PasswordChangeNotAllowed { connection: connection.id.clone(), user })
        }
    }
}

/// Whether `connection` may assign or unassign Secret Server role `role` (a User's `roles`).
///
/// # Errors
/// [`Denial::RoleNotInScope`] unless the connection's scope names the role (case-insensitive).
pub fn require_role_change(connection: &Connection, role: &str) -> Result<(), Denial> {
    let roles = &connection.scope.roles;
    if roles.iter().any(|r| r.trim().eq_ignore_ascii_case(role.trim())) {
        return Ok(());
    }
    let allowed = if roles.is_empty() {
        "none (roles are read-only)".to_owned()
    } else {
        roles.iter().map(|r| format!("{r:?}")).collect::<Vec<_>>().join(", ")
    };
    Err(Denial::RoleNotInScope { connection: connection.id.clone(), role: role.to_owned(), allowed })
}

/// How deep a folder may be below a subtree root; deeper (or a cycle in a corrupt tree) is outside.
const MAX_FOLDER_DEPTH: usize = 256;

impl Scope {
    /// Whether `folder` is within the connection's container subtrees: one of them, or below one
    /// of them (always, for a connection without subtrees). `parent_of` gives a folder's parent
    /// (`ROOT_FOLDER_ID` at the top, `None` for a folder it does not know). The root itself is
    /// never within a subtree.
    pub fn covers_folder(&self, folder: i64, mut parent_of: impl FnMut(i64) -> Option<i64>) -> bool {
        let Some(roots) = self.container_subtrees.as_deref() else {
            return true;
        };
        let mut at = folder;
        for _ in 0..MAX_FOLDER_DEPTH {
            if at == ROOT_FOLDER_ID {
                return false;
            }
            if roots.contains(&at) {
                return true;
            }
            match parent_of(at) {
                Some(parent) => at = parent,
                None => return false,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn connection(scope: serde_json::Value) -> Connection {
        serde_json::from_value(serde_json::json!({"id": "c", "secretServer": "primary", "scope": scope})).unwrap()
    }

    #[test]
    fn a_type_the_connection_cannot_read_is_404_for_every_action_and_left_out_of_discovery() {
        let c = connection(serde_json::json!({"resourceTypes": {"User": {"read": true}}}));
        for action in [Action::Read, Action::Create, Action::Update, Action::Delete] {
            let denial = require(&c, ResourceKind::Group, action).unwrap_err();
            assert_eq!(denial, Denial::UnreadableType(ResourceKind::Group));
            let e = ServiceError::from(denial);
            assert_eq!((e.kind, e.detail.as_str()), (ErrorKind::NotFound, "no such resource type: Groups"));
        }
        assert_eq!(readable(&c), vec![ResourceKind::User]);
    }

    #[test]
    fn a_type_without_read_is_unreadable_even_when_writes_are_allowed() {
        let c = connection(serde_json::json!({"resourceTypes": {"User": {"create": true, "update": true}}}));
        assert_eq!(require(&c, ResourceKind::User, Action::Create), Err(Denial::UnreadableType(ResourceKind::User)));
        assert!(readable(&c).is_empty());
    }

    #[test]
    fn a_readable_type_refuses_an_action_not_allowed_with_403_naming_it() {
        let c = connection(serde_json::json!({"resourceTypes": {"User": {"read": true, "update": true}}}));
        assert_eq!(require(&c, ResourceKind::User, Action::Read), Ok(()));
        assert_eq!(require(&c, ResourceKind::User, Action::Update), Ok(()));
        let e = ServiceError::from(require(&c, ResourceKind::User, Action::Create).unwrap_err());
        assert_eq!(
            (e.kind, e.detail.as_str()),
            (ErrorKind::PermissionDenied, "connection c may not create User resources")
        );
        let e = ServiceError::from(require(&c, ResourceKind::User, Action::Delete).unwrap_err());
        assert_eq!(
            (e.kind, e.detail.as_str()),
            (ErrorKind::PermissionDenied, "connection c may not delete User resources")
        );
    }

    #[test]
    fn the_default_scope_keeps_privileged_data_read_only() {
        let c: Connection = serde_json::from_value(serde_json::json!({"id": "c", "secretServer": "p"})).unwrap();
        assert_eq!(require(&c, ResourceKind::PrivilegedData, Action::Read), Ok(()));
        assert!(matches!(
            require(&c, ResourceKind::PrivilegedData, Action::Update),
            Err(Denial::ActionNotAllowed { action: Action::Update, .. })
        ));
        assert_eq!(require(&c, ResourceKind::ContainerPermission, Action::Create), Ok(()));
        assert_eq!(readable(&c), ResourceKind::ALL);
    }

    #[test]
    fn an_id_out_of_scope_is_404_exactly_as_one_that_does_not_exist() {
        let e = ServiceError::from(not_visible(ResourceKind::Container, "42"));
        assert_eq!((e.kind, e.detail.as_str()), (ErrorKind::NotFound, "Container 42 not found"));
    }

    /// `\Databases` (10) with `Production` (11) and `Production\Reports` (12); `\IT` (20).
    fn parents() -> HashMap<i64, i64> {
        HashMap::from([(10, ROOT_FOLDER_ID), (11, 10), (12, 11), (20, ROOT_FOLDER_ID)])
    }

    #[test]
    fn container_subtrees_cover_their_roots_and_every_descendant_and_nothing_else() {
        let tree = parents();
        let limited = Scope { container_subtrees: Some(vec![10]), ..Scope::default() };
        let covers = |folder| limited.covers_folder(folder, |f| tree.get(&f).copied());
        assert!(covers(10) && covers(11) && covers(12));
        assert!(!covers(20), "a sibling subtree");
        assert!(!covers(ROOT_FOLDER_ID), "the root is never inside a subtree");
        assert!(!covers(99), "a folder whose parent is unknown");
    }

    #[test]
    fn a_scope_without_subtrees_covers_every_folder() {
        let tree = parents();
        let everything = Scope::default();
        assert!(
            [10, 12, 20, ROOT_FOLDER_ID].into_iter().all(|f| everything.covers_folder(f, |x| tree.get(&x).copied()))
        );
    }

    /// User 1 created by `c`, user 2 by `other`, user 3 by nobody and a member of group 7; group 8
    /// created by `c`.
    struct Facts;

    impl PrincipalFacts for Facts {
        fn creator(&self, principal: Principal) -> Option<&str> {
            match principal {
                Principal::User(1) | Principal::Group(8) => Some("c"),
                Principal::User(2) => Some("other"),
                _ => None,
            }
        }

        fn is_member(&self, user: i64, group: i64) -> bool {
            (user, group) == (3, 7)
        }
    }

    fn with_principals(principals: serde_json::Value) -> Connection {
        connection(
            serde_json::json!({"resourceTypes": {"User": {"read": true, "update": true}}, "principals": principals}),
        )
    }

    #[test]
    fn the_default_principal_scope_reaches_and_shows_everyone() {
        let c = connection(serde_json::json!({"resourceTypes": {}}));
        for p in [Principal::User(1), Principal::User(2), Principal::User(3), Principal::Group(7)] {
            assert!(c.scope.reaches(&c.id, p, &Facts) && c.scope.shows(&c.id, p, &Facts), "{p:?}");
        }
    }

    #[test]
    fn a_scope_of_what_the_connection_created_reaches_only_that_and_refuses_the_rest_with_403() {
        let c = with_principals(serde_json::json!({"reach": "createdByConnection"}));
        assert_eq!(require_reach(&c, Principal::User(1), &Facts), Ok(()));
        assert_eq!(require_reach(&c, Principal::Group(8), &Facts), Ok(()));
        let e = ServiceError::from(require_reach(&c, Principal::User(2), &Facts).unwrap_err());
        assert_eq!(
            (e.kind, e.detail.as_str()),
            (
                ErrorKind::PermissionDenied,
                "User 2 is outside the principal scope of connection c, which may change the users and groups it created"
            )
        );
        assert!(c.scope.shows(&c.id, Principal::User(2), &Facts), "reads are not limited unless the scope says so");
    }

    #[test]
    fn a_scope_of_group_members_reaches_the_groups_their_members_and_what_it_created() {
        let c = with_principals(serde_json::json!({"reach": "groupMembers", "groups": [7], "limitReads": true}));
        let reaches = |p| c.scope.reaches(&c.id, p, &Facts);
        assert!(reaches(Principal::Group(7)) && reaches(Principal::User(3)), "the group and its member");
        assert!(reaches(Principal::User(1)) && reaches(Principal::Group(8)), "what it created");
        assert!(!reaches(Principal::User(2)) && !reaches(Principal::Group(9)));
        assert!(!c.scope.shows(&c.id, Principal::User(2), &Facts), "reads are limited too");
        let e = ServiceError::from(require_reach(&c, Principal::Group(9), &Facts).unwrap_err());
        assert!(e.detail.ends_with("the members of groups 7 and what it created"), "{}", e.detail);
    }

    #[test]
    fn a_password_is_set_on_the_users_the_connection_created_unless_it_opted_in_for_everyone() {
        let c = connection(serde_json::json!({"resourceTypes": {}}));
        assert_eq!(require_password_change(&c, 1, Some("c")), Ok(()));
        let e = ServiceError::from(require_password_change(&c, 2, Some("other")).unwrap_err());
        assert_eq!(e.kind, ErrorKind::PermissionDenied);
        assert!(e.detail.starts_with("connection c may not set the password of User 2"), "{}", e.detail);
        assert!(require_password_change(&c, 3, None).is_err());
        let mut any = c;
        any.policies.password_change = PasswordChangePolicy::Any;
        assert_eq!(require_password_change(&any, 3, None), Ok(()));
    }

    #[test]
    fn a_cycle_in_the_folder_tree_is_outside_the_scope() {
        let cycle = HashMap::from([(1, 2), (2, 1)]);
        let limited = Scope { container_subtrees: Some(vec![10]), ..Scope::default() };
        assert!(!limited.covers_folder(1, |f| cycle.get(&f).copied()));
    }
}
