//! Principals a job names that this replica's read model has not seen yet: created a moment ago
//! through another adapter replica (whose change this replica's follower has not applied yet),
//! or in Secret Server since the last resync.
//!
//! They are read from Secret Server as the events follower would read them, with what the shared
//! state store keeps of them: their stored attributes (among them the connection that created
//! them, which a "created by this connection" principal scope asks) and, for a user, whether it
//! was deleted through SCIM and the roles it holds. The scope's decision and the checks a job
//! makes are taken on that reading, and the read model learns of them ([`learn`]) only once the
//! checks on them passed: a grant's principal after the grant is made, a group's new members once
//! every member passed (the protection and scope checks that follow read the model). Learning
//! writes an accurate record of what Secret Server has and persists nothing: the meta the shared
//! store records stays as the replica that made the change wrote it.

use super::{Ctx, JobResult};
use crate::read_model::fetch::{group_roles, group_ss_from_group};
use crate::read_model::records::{GroupRec, Meta, Principal, UserRec};
use crate::read_model::state::AttrKeys;
use connections::DeletedUserPolicy;
use scim::ResourceKind;
use std::time::Instant;

/// A user or group read for a job from Secret Server, which the read model had not seen, with
/// when that reading began.
#[derive(Debug)]
pub(crate) enum Unseen {
    User(UserRec, Instant),
    Group(GroupRec, Instant),
}

impl Unseen {
    /// Whether the caller may see it: within its principal scope, as its stored attributes say who
    /// created it, and (a user deleted through SCIM, under the default policy) not gone for it.
    pub(crate) fn visible(&self, ctx: &Ctx<'_>) -> bool {
        let (principal, attrs, gone) = match self {
            Unseen::User(u, _) => (
                Principal::User(u.ss.id),
                &u.attrs,
                u.deleted && ctx.caller.connection.policies.deleted_users == DeletedUserPolicy::NotFound,
            ),
            Unseen::Group(g, _) => (Principal::Group(g.ss.id), &g.attrs, false),
        };
        let creator = AttrKeys::of(attrs).created_by;
        !gone && ctx.instance().model.read(|s| ctx.caller.view(s).unseen_principal_shown(principal, creator.as_deref()))
    }

    /// Whether a user is enabled (a group always is, for the checks that ask).
    pub(crate) fn enabled(&self) -> bool {
        match self {
            Unseen::User(u, _) => u.ss.enabled,
            Unseen::Group(..) => true,
        }
    }
}

/// `principal` read from Secret Server with what the shared store keeps of it; `None` when
/// Secret Server does not have it.
pub(crate) async fn read(ctx: &Ctx<'_>, principal: Principal) -> JobResult<Option<Unseen>> {
    let instance = ctx.instance();
    let client = ctx.client()?;
    let not_found = |e: &secret_server_client::ClientError| e.is_not_found();
    let read_at = Instant::now();
    Ok(Some(match principal {
        Principal::User(id) => match instance.read_user(id).await? {
            Some(rec) => Unseen::User(rec, read_at),
            None => return Ok(None),
        },
        Principal::Group(id) => {
            let group = match client.get_group(id).await {
                Ok(group) => group,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let roles = match group_roles(client, id).await {
                Ok(roles) => roles,
                Err(e) if not_found(&e) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let mut ss = group_ss_from_group(group);
            ss.roles = roles;
            let attrs = instance.attrs.get(ResourceKind::Group, id).await?;
            // Its members are left to the follower (or the resync): a group Secret Server had
            // before may be large, and only the grant's principal is asked of it.
            Unseen::Group(GroupRec { ss, members: Vec::new(), attrs, meta: Meta::default() }, read_at)
        }
    }))
}

/// The read model learns of `unseen`, once the job's checks passed; a record it has learnt of
/// meanwhile (the follower, a resync) is left alone, as the fuller one.
pub(crate) async fn learn(ctx: &Ctx<'_>, unseen: impl IntoIterator<Item = Unseen>) -> JobResult<()> {
    for rec in unseen {
        match rec {
            Unseen::User(rec, read_at) => {
                let id = rec.ss.id;
                ctx.instance()
                    .learn(&[(ResourceKind::User, id)], read_at, |s| {
                        if !s.users.contains_key(&id) {
                            s.put_user(rec);
                        }
                    })
                    .await?;
            }
            Unseen::Group(rec, read_at) => {
                let id = rec.ss.id;
                ctx.instance()
                    .learn(&[(ResourceKind::Group, id)], read_at, |s| {
                        if !s.groups.contains_key(&id) {
                            s.put_group(rec);
                        }
                    })
                    .await?;
            }
        }
    }
    Ok(())
}
