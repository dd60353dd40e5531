//! The refusals about users and groups, made before anything changes: a protected principal
//! ([`crate::principals`]) or a group given a protected group's name, one outside the
//! connection's principal scope, a password the connection may not set (both decided by
//! `connections::scope`). Each is `403` saying why.
//!
//! Order, cheapest first: what the read model knows (names, creators, memberships) is checked
//! before Secret Server is asked anything, so that a change to a principal the read model already
//! knows to be out of bounds is refused without a call; then Secret Server is asked whether the
//! principal holds the administrator role (one read per principal, or for many members of a group
//! change the role's holders as a set), still before any change.

use super::{Ctx, JobError, JobResult};
use crate::principals::{Change, Member, ProtectedPrincipal, StateFacts};
use connections::scope::{self, Principal};
use secret_server_api::RoleSummary;
use service_error::{ErrorKind, ServiceError};

fn refused(e: impl Into<ServiceError>) -> JobError {
    JobError::Permanent(e.into())
}

impl Ctx<'_> {
    /// The name the read model holds for `principal`, if it knows it.
    fn known_name(&self, principal: Principal) -> Option<String> {
        self.instance().model.read(|s| match principal {
            Principal::User(id) => s.users.get(&id).map(|u| u.ss.user_name.to_string()),
            Principal::Group(id) => s.groups.get(&id).map(|g| g.ss.name.to_string()),
        })
    }

    /// The refusals decided from the read model alone: protected by name, outside the principal
    /// scope. `name` is the principal's Secret Server name.
    fn guard_known(&self, principal: Principal, name: &str, change: Change) -> JobResult<()> {
        let protection = &self.instance().protection;
        let by_name = match principal {
            Principal::User(_) => protection.user_by_name(name),
            Principal::Group(_) => protection.group_by_name(name),
        };
        if let Some(why) = by_name {
            return Err(refused(ProtectedPrincipal { principal, why, change }));
        }
        let connection = &self.caller.connection;
        self.instance().model.read(|s| scope::require_reach(connection, principal, &StateFacts(s))).map_err(refused)
    }

    /// Before any Secret Server call: refuses a change to `principal` when the read model already
    /// shows it protected or out of the connection's reach. Principals the read model does not
    /// know yet are left to [`Ctx::guard`], once read.
    pub(crate) fn guard_early(&self, principal: Principal) -> JobResult<()> {
        let visible = self.visible(principal.kind(), principal.id());
        match self.known_name(principal) {
            // One the caller cannot see is answered 404 later, as a missing one.
            Some(name) if visible => self.guard_known(principal, &name, Change::Itself),
            _ => Ok(()),
        }
    }

    /// Refuses a change to `principal`, called `name` in Secret Server, unless no rule forbids it:
    /// protected by name, outside the principal scope, or (asking Secret Server) holding the
    /// administrator role or, for a user, a member of the console group.
    pub(crate) async fn guard(&self, principal: Principal, name: &str) -> JobResult<()> {
        self.guard_known(principal, name, Change::Itself)?;
        match self.instance().protection.asked_of(self.client()?, principal).await? {
            Some(why) => Err(refused(ProtectedPrincipal { principal, why, change: Change::Itself })),
            None => Ok(()),
        }
    }

    /// Refuses a change to group `id`, called `name` in Secret Server, as [`Ctx::guard`] does, with
    /// the roles it holds already read fresh for this change (`held`, `GET /groups/{id}/roles`):
    /// the same refusal without asking Secret Server twice.
    pub(crate) fn guard_group(&self, id: i64, name: &str, held: &[RoleSummary]) -> JobResult<()> {
        let principal = Principal::Group(id);
        self.guard_known(principal, name, Change::Itself)?;
        match self.instance().protection.group_holding(held) {
            Some(why) => Err(refused(ProtectedPrincipal { principal, why, change: Change::Itself })),
            None => Ok(()),
        }
    }

    /// Refuses giving a group the name `name`, by a create or a rename, when a group of that name
    /// is protected (the console group, or one listed for the instance): the name is what protects
    /// a group and what admits the console group's members to the connector's console, so a
    /// connection that could create it, or rename a group of its own to it with a user of its own
    /// among the members, could make itself a console administrator. Decided from the name alone,
    /// before any call.
    pub(crate) fn guard_group_name(&self, name: &str) -> JobResult<()> {
        match self.instance().protection.group_by_name(name) {
            Some(why) => Err(refused(ServiceError::new(
                ErrorKind::PermissionDenied,
                format!(
                    "a group named {name:?} is a protected principal ({why}): no connection may create a group of \
                     that name or rename one to it"
                ),
            ))),
            None => Ok(()),
        }
    }

    /// Refuses adding `users` to a group or removing them from one unless each is within the
    /// connection's reach and none is protected. Users neither the read model nor Secret Server
    /// knows are left to the membership change itself. The role check reads Secret Server once per
    /// user for a few users and the role's holders as a set for more (see
    /// [`crate::principals::Protection::first_role_holder`]).
    pub(crate) async fn guard_members(&self, users: &[i64]) -> JobResult<()> {
        let (known, role_id) = self.member_facts(users).await?;
        self.guard_roles(&known, role_id).await
    }

    /// The role check of [`Ctx::guard_members`], for members whose facts
    /// ([`Ctx::member_facts`]) are known.
    pub(crate) async fn guard_roles(&self, known: &[Member], role_id: Option<i64>) -> JobResult<()> {
        let protection = &self.instance().protection;
        match protection.first_role_holder(self.client()?, known, role_id).await? {
            Some((id, why)) => {
                Err(refused(ProtectedPrincipal { principal: Principal::User(id), why, change: Change::Membership }))
            }
            None => Ok(()),
        }
    }

    /// The part of [`Ctx::guard_members`] that asks Secret Server nothing about roles: refuses a
    /// member protected by name or outside the connection's reach, and returns what the role
    /// check needs (each known member, the protected role's id as the read model knows it).
    pub(crate) async fn member_facts(&self, users: &[i64]) -> JobResult<(Vec<Member>, Option<i64>)> {
        let protection = &self.instance().protection;
        // The protected role's id and who holds it directly, as the read model last saw them.
        let role_id =
            self.instance().model.read(|s| s.roles.values().find(|r| protection.protects_role(&r.name)).map(|r| r.id));
        let mut known = Vec::with_capacity(users.len());
        for id in users {
            let principal = Principal::User(*id);
            let name = match self.known_name(principal) {
                Some(name) => name,
                None => match self.client()?.get_user(*id).await {
                    Ok(user) => user.user_name,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e.into()),
                },
            };
            if let Some(why) = protection.user_by_name(&name) {
                return Err(refused(ProtectedPrincipal { principal, why, change: Change::Membership }));
            }
            let connection = &self.caller.connection;
            let holds_directly = self.instance().model.read(|s| {
                scope::require_reach(connection, principal, &StateFacts(s))
                    .map(|()| role_id.is_some_and(|r| s.users.get(id).is_some_and(|u| u.ss.roles.contains(&r))))
            });
            known.push(Member {
                id: *id,
                user_name: name,
                holds_directly_in_read_model: holds_directly.map_err(refused)?,
            });
        }
        Ok((known, role_id))
    }

    /// The ids of `members` (from [`Ctx::member_facts`]) that hold the administrator role, read as
    /// [`Ctx::guard_members`] reads them.
    pub(crate) async fn role_holders(&self, members: &[Member], role_id: Option<i64>) -> JobResult<Vec<i64>> {
        let holders = self.instance().protection.role_holders(self.client()?, members, role_id).await?;
        Ok(holders.into_iter().map(|(id, _)| id).collect())
    }

    /// Refuses setting the password of existing user `id` unless the connection created it or
    /// its policy lets it set anyone's.
    pub(crate) fn guard_password(&self, id: i64) -> JobResult<()> {
        let connection = &self.caller.connection;
        self.instance()
            .model
            .read(|s| scope::require_password_change(connection, id, s.creator(Principal::User(id))))
            .map_err(refused)
    }
}
