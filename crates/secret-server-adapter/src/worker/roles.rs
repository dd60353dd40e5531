//! A User's and a Group's `roles`: the Secret Server roles assigned to the user directly or to
//! the group, assigned and unassigned through Secret Server's role-membership API (`POST` and
//! `DELETE /users/{id}/roles` and `/groups/{id}/roles`, a body of role ids).
//!
//! Everything is decided before anything is written: the names are looked up in Secret Server's
//! own role list, read fresh (an unknown or disabled role is `400 invalidValue`), and every role
//! that would be added or removed must be in the connection's scope (`403` otherwise), and may not
//! be the administrator role whose holders are protected principals (`403`), and the API account
//! must be allowed to assign roles (`403` naming the role permission it lacks). Only then are the
//! users' fields and then its roles changed. Both calls are idempotent in effect, so a retried job
//! converges.

use super::{Ctx, JobError, JobResult, invalid_value};
use crate::doctor::ASSIGN_ROLES;
use crate::mapping::user::role_names;
use crate::read_model::fetch;
use crate::read_model::records::RoleSs;
use connections::scope;
use service_error::{ErrorKind, ServiceError};
use std::collections::BTreeSet;

/// The role changes a request asks for, checked and ready to apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RolePlan {
    pub add: Vec<i64>,
    pub remove: Vec<i64>,
    /// The direct roles once applied (sorted).
    pub result: Box<[i64]>,
}

impl RolePlan {
    /// No change to the roles `held`.
    pub(crate) fn keep(held: &[i64]) -> Self {
        Self { add: Vec::new(), remove: Vec::new(), result: held.into() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The role ids `wanted` names, looked up in `catalogue`.
///
/// # Errors
/// `400 invalidValue` naming the first unknown or disabled role.
fn resolve(catalogue: &[RoleSs], wanted: &[String]) -> JobResult<BTreeSet<i64>> {
    let mut ids = BTreeSet::new();
    for name in wanted {
        let role = catalogue
            .iter()
            .find(|r| r.name.eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| invalid_value(format!("roles: Secret Server has no role {name:?}")))?;
        if !role.enabled {
            return Err(invalid_value(format!("roles: Secret Server role {name:?} is disabled")));
        }
        ids.insert(role.id);
    }
    Ok(ids)
}

/// Plans giving a user (or group) holding `held` directly the roles `wanted` (by name); `None`
/// keeps them.
/// Reads Secret Server's role list (and refreshes the read model's with it) when there is
/// anything to compare.
///
/// # Errors
/// `400 invalidValue` for an unknown or disabled role; `403` for a role outside the connection's
/// scope or the administrator role.
pub(crate) async fn plan(ctx: &Ctx<'_>, held: &[i64], wanted: Option<&[String]>) -> JobResult<RolePlan> {
    let Some(wanted) = wanted else { return Ok(RolePlan::keep(held)) };
    let held_now: BTreeSet<i64> = held.iter().copied().collect();
    if wanted.is_empty() && held_now.is_empty() {
        return Ok(RolePlan::keep(held));
    }
    let catalogue = fetch::roles(ctx.client()?).await?;
    ctx.instance().model.write(&[], |s| s.roles = catalogue.iter().map(|r| (r.id, r.clone())).collect());
    let wanted_ids = resolve(&catalogue, wanted)?;
    let add: Vec<i64> = wanted_ids.difference(&held_now).copied().collect();
    let remove: Vec<i64> = held_now.difference(&wanted_ids).copied().collect();
    let name_of =
        |id: i64| catalogue.iter().find(|r| r.id == id).map_or_else(|| id.to_string(), |r| r.name.to_string());
    for id in add.iter().chain(&remove) {
        let name = name_of(*id);
        if ctx.instance().protection.protects_role(&name) {
            return Err(JobError::Permanent(ServiceError::new(
                ErrorKind::PermissionDenied,
                format!(
                    "Secret Server role {name:?} makes its holders protected principals: no connection may assign or \
                     unassign it"
                ),
            )));
        }
        scope::require_role_change(&ctx.caller.connection, &name).map_err(|e| JobError::Permanent(e.into()))?;
    }
    if !(add.is_empty() && remove.is_empty()) {
        require_assignment(ctx).await?;
    }
    Ok(RolePlan { add, remove, result: wanted_ids.into_iter().collect() })
}

/// Refuses a change of roles that the API account may not make (it lacks
/// [`crate::doctor::ASSIGN_ROLES`]: reading roles needs only `View Roles`). Secret Server would
/// refuse only the role call, after the user's fields were written or the user created: asked
/// first (`GET /users/current`), nothing is written.
///
/// # Errors
/// `403` naming the missing role permission; the classified client error when the account
/// cannot be read.
async fn require_assignment(ctx: &Ctx<'_>) -> JobResult<()> {
    let account = ctx.client()?.current_user().await?;
    if account.permissions.iter().any(|p| p.name.trim().eq_ignore_ascii_case(ASSIGN_ROLES)) {
        return Ok(());
    }
    let instance = &ctx.instance().name;
    tracing::warn!(%instance, permission = ASSIGN_ROLES, "the API account may not assign roles: a change of roles is refused");
    Err(JobError::Permanent(ServiceError::new(
        ErrorKind::PermissionDenied,
        format!(
            "roles cannot be assigned or unassigned: the connector's account on Secret Server instance '{instance}' \
             lacks the role permission {ASSIGN_ROLES:?}; nothing was changed"
        ),
    )))
}

/// Whether document `doc` (a User's or a Group's, as a change leaves it) names the roles
/// `current_doc` names, in any order, names compared as Secret Server compares them: then the
/// change asks for no change of roles. A `PATCH` that leaves `roles` alone plans none
/// ([`RolePlan::keep`]) rather than the roles its document shows, which are those of the
/// catalogue it was rendered from: a role created and assigned since is missing from it (planned
/// as a removal), and one disabled since cannot be asked for again (refused).
pub(crate) fn unchanged(doc: &serde_json::Value, current_doc: &serde_json::Value) -> bool {
    let names = |d: &serde_json::Value| {
        let mut names: Vec<String> =
            role_names(d.get("roles")).unwrap_or_default().iter().map(|n| n.to_ascii_lowercase()).collect();
        names.sort_unstable();
        names
    };
    names(doc) == names(current_doc)
}

/// An audit before/after with the names of the roles `held` directly.
pub(crate) fn with_roles(ctx: &Ctx<'_>, mut audit: serde_json::Value, held: &[i64]) -> serde_json::Value {
    let names: Vec<String> = ctx.instance().model.read(|s| {
        held.iter().map(|id| s.roles.get(id).map_or_else(|| id.to_string(), |r| r.name.to_string())).collect()
    });
    if let Some(obj) = audit.as_object_mut() {
        obj.insert("roles".to_owned(), serde_json::Value::from(names));
    }
    audit
}

/// Who a plan's roles are assigned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Holder {
    User(i64),
    Group(i64),
}

/// Applies a checked plan to `holder`: the removals, then the additions.
///
/// # Errors
/// The classified client error.
pub(crate) async fn apply(ctx: &Ctx<'_>, holder: Holder, plan: &RolePlan) -> JobResult<()> {
    if plan.is_empty() {
        return Ok(());
    }
    let client = ctx.client()?;
    if !plan.remove.is_empty() {
        match holder {
            Holder::User(id) => client.remove_user_roles(id, &plan.remove).await?,
            Holder::Group(id) => client.remove_group_roles(id, &plan.remove).await?,
        };
    }
    if !plan.add.is_empty() {
        match holder {
            Holder::User(id) => client.add_user_roles(id, &plan.add).await?,
            Holder::Group(id) => client.add_group_roles(id, &plan.add).await?,
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn catalogue() -> Vec<RoleSs> {
        vec![
            RoleSs { id: 1, name: "Administrator".into(), enabled: true },
            RoleSs { id: 2, name: "User".into(), enabled: true },
            RoleSs { id: 9, name: "Retired".into(), enabled: false },
        ]
    }

    #[test]
    fn roles_named_in_another_order_or_case_are_unchanged_and_one_more_or_fewer_is_a_change() {
        let roles = |names: &[&str]| json!({"roles": names.iter().map(|n| json!({"value": n})).collect::<Vec<_>>()});
        assert!(unchanged(&roles(&["User", "Auditor"]), &roles(&["auditor", "User"])));
        assert!(unchanged(&json!({"userName": "a"}), &roles(&[])));
        assert!(!unchanged(&roles(&["User"]), &roles(&["User", "Auditor"])));
        assert!(!unchanged(&json!({"userName": "a"}), &roles(&["User"])));
    }

    #[test]
    fn role_names_resolve_case_insensitively_to_their_ids() {
        let ids = resolve(&catalogue(), &["user".to_owned(), "Administrator".to_owned()]).unwrap();
        assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn an_unknown_or_disabled_role_is_an_invalid_value() {
        for name in ["Auditor", "Retired"] {
            let Err(JobError::Permanent(e)) = resolve(&catalogue(), &[name.to_owned()]) else {
                panic!("{name} resolved");
            };
            assert_eq!(e.kind, ErrorKind::InvalidArgument, "{name}");
        }
    }
}
