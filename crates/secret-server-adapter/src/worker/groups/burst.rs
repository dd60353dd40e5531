//! A burst of member changes to one group, carried by the change at its head: one group read,
//! one role check and one `PATCH /groups/{id}/users` for up to [`MAX_CARRIED`] + 1 requests,
//! instead of four calls each.
//!
//! The queue runs the changes of one group one at a time, in order. A worker running a PATCH that
//! only adds and removes members looks at the jobs queued behind it on the group's ordering key
//! (`Job::following`, read-only) and takes along the run of them that are PATCHes of the same
//! group by the same connection, without `If-Match`, that also only add and remove members, each
//! checked on its own as it would be alone (an existing, enabled user; the name and scope
//! refusals; then the role check, for all of them at once). The run ends before the first one
//! that is not such a change or that one of those checks refuses: that one runs in its turn and
//! fails (or not) on its own, and those after it are left to the next head. So what is carried
//! is always a prefix of the queue, and the changes reach Secret Server in their order.
//!
//! The call sends, for each member named, the last of the operations on it (set semantics: an
//! add then a remove of one member is a remove), which leaves the group as the changes applied
//! one after another would. Secret Server refuses adding a member already in the group or
//! removing one who is not; such a refusal makes the worker read the group's members and send
//! what is left (see `send_batch`), as for a change alone. A call refused for another reason is
//! not the carried changes' to answer for: the head's own change is then sent alone and the
//! others run in their turn.
//!
//! Then the read model takes each change in order, and after each the job's answer is rendered
//! (the group as that change left it, with that request's projection, at its version then) and
//! kept with the job's done marker in the state store, before the head completes. When the queue
//! delivers a carried job, it finds its marker (on its first attempt too) and answers from it,
//! with no Secret Server call, publishes its own audit event, and drops the answer from the
//! marker (with every member, a large group's answer is large; a later redelivery answers with
//! the group as it is then, as any redelivery does).
//!
//! Crashes: a worker that stops between the call and the markers leaves the carried jobs without
//! markers; they run again one by one, which sends each add or remove again in order (idempotent
//! for set adds and removes) and leaves the group as before. A later attempt of the head may carry
//! fewer jobs than an earlier one did (a member refused since), so it first forgets the markers of
//! every job it sees behind it: a marker the earlier attempt left for a job this attempt does not
//! carry would otherwise answer for a change that this attempt's call has overtaken. Markers are
//! written only while the attempt holds its lease (checked before each), so that a stalled
//! attempt cannot write one for a job already run by the attempt that replaced it.

use super::{Delta, KIND, audit, check_new_members, ids_of, removed_ids, write_group};
use crate::intents::{Done, MemberIds};
use crate::principals::Member;
use crate::worker::{Ctx, JobError, JobResult, resource_answer};
use adapter_api::Operation;
use job_queue::JobId;
use scim::PatchRequest;
use scim::patch::{MembersChange, NoMemberLookup, PatchOp};
use secret_server_api::Group;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Most changes a head carries along besides its own.
pub(super) const MAX_CARRIED: usize = 16;

/// A change queued behind the running one, checked and ready to be carried along.
pub(super) struct Carried {
    pub job_id: JobId,
    /// Whether its request asked for the answer without the members.
    pub without_members: bool,
    /// Whether its answer carries the version only (`204`, a Bulk operation).
    pub version_only: bool,
    pub add: Vec<i64>,
    pub remove: Vec<i64>,
    /// Its members as the role check needs them.
    facts: Vec<Member>,
}

impl Carried {
    fn names_any(&self, users: &BTreeSet<i64>) -> bool {
        self.add.iter().chain(&self.remove).any(|u| users.contains(u))
    }
}

/// Whether a PATCH only adds and removes members (by value, or removes them by a filter): what
/// can travel with other such changes. A `replace` of the members, a `remove` of all of them and
/// any other attribute are not.
pub(super) fn members_only(request: &PatchRequest) -> bool {
    !request.operations.is_empty()
        && request.operations.iter().all(|op| {
            let Some(path) = &op.path else { return false };
            let members = path.attr.urn.is_none()
                && path.attr.name.eq_ignore_ascii_case("members")
                && path.attr.sub.is_none()
                && path.sub.is_none();
            members
                && match op.op {
                    PatchOp::Add => true,
                    PatchOp::Remove => path.filter.is_some() || op.value.as_ref().is_some_and(|v| !v.is_null()),
                    PatchOp::Replace => false,
                }
        })
}

/// The jobs queued behind this one that it can carry along (see the module docs), and the ids of
/// every job it saw there (carried or not). `current` is the group's document without members.
///
/// # Errors
/// Only on a later attempt, when the queue cannot be read: an earlier attempt may have left
/// markers that this one must forget first.
pub(super) async fn queued(ctx: &Ctx<'_>, current: &Value) -> JobResult<(Vec<Carried>, Vec<JobId>)> {
    let queued = match ctx.lease.following(MAX_CARRIED).await {
        Ok(queued) => queued,
        Err(e) if ctx.first_attempt => {
            tracing::warn!(error = %e, "cannot see the jobs queued behind a member change; it goes alone");
            return Ok((Vec::new(), Vec::new()));
        }
        Err(e) => return Err(JobError::Transient { error: format!("job queue: {e}"), after: None }),
    };
    let seen: Vec<JobId> = queued.iter().map(|q| q.id.clone()).collect();
    let mut carried = Vec::new();
    for job in queued {
        match carriable(ctx, job.id, &job.payload, current).await {
            Some(next) => carried.push(next),
            None => break,
        }
    }
    Ok((carried, seen))
}

/// The queued job as a change to carry, or `None` when it must run on its own.
async fn carriable(ctx: &Ctx<'_>, job_id: JobId, payload: &[u8], current: &Value) -> Option<Carried> {
    // A group PATCH carries no secrets.
    let req = adapter_api::Job::open(payload, &[], &ctx.core.settings.job_keys).ok()?;
    let same = req.kind() == KIND
        && req.operation() == Operation::Patch
        && req.resource_id() == ctx.req.resource_id()
        && req.connection_id() == ctx.req.connection_id()
        && req.if_match().is_none();
    if !same {
        return None;
    }
    let request = PatchRequest::parse(req.payload()).ok()?;
    if !members_only(&request) {
        return None;
    }
    // Without the member list: a filter other than `value eq` is not carried.
    let outcome = request.apply(ctx.schemas(), KIND, current, &NoMemberLookup).ok()?;
    let (add, remove): Delta = match outcome.members {
        None => (Vec::new(), Vec::new()),
        Some(MembersChange::Delta { added, removed }) => (ids_of(&added).ok()?, removed_ids(&removed).ok()?),
        Some(MembersChange::ReplaceAll(_)) => return None,
    };
    // Refused alone, refused here: it runs (and fails) in its turn.
    check_new_members(ctx, &add).await.ok()?;
    let (facts, _) = ctx.member_facts(&[add.as_slice(), remove.as_slice()].concat()).await.ok()?;
    Some(Carried {
        job_id,
        without_members: req.answers_without_members(),
        version_only: req.answers_version_only(),
        add,
        remove,
        facts,
    })
}

/// The role check of the head's members (`facts`) and of the carried changes' at once (the head's
/// alone when nothing is carried). A holder among the head's members refuses the head as its own
/// check would (and nothing is carried); one among a carried change's ends the run before it.
pub(super) async fn guard(
    ctx: &Ctx<'_>,
    facts: &[Member],
    role_id: Option<i64>,
    carried: &mut Vec<Carried>,
) -> JobResult<()> {
    if carried.is_empty() {
        return ctx.guard_roles(facts, role_id).await;
    }
    let mut everyone: BTreeMap<i64, Member> = facts.iter().map(|m| (m.id, m.clone())).collect();
    for change in carried.iter() {
        everyone.extend(change.facts.iter().map(|m| (m.id, m.clone())));
    }
    let everyone: Vec<Member> = everyone.into_values().collect();
    let holders: BTreeSet<i64> = ctx.role_holders(&everyone, role_id).await?.into_iter().collect();
    if holders.is_empty() {
        return Ok(());
    }
    if facts.iter().any(|m| holders.contains(&m.id)) {
        carried.clear();
        // The head's own check gives the refusal it gives alone.
        return ctx.guard_roles(facts, role_id).await;
    }
    if let Some(first) = carried.iter().position(|c| c.names_any(&holders)) {
        carried.truncate(first);
    }
    Ok(())
}

/// What to send for the head's change and the carried ones: for each member named, the last
/// operation on it (members to add, members to remove).
pub(super) fn net(head: (&[i64], &[i64]), carried: &[Carried]) -> Delta {
    let mut last: BTreeMap<i64, bool> = BTreeMap::new();
    let steps = std::iter::once(head).chain(carried.iter().map(|c| (c.add.as_slice(), c.remove.as_slice())));
    for (add, remove) in steps {
        last.extend(add.iter().map(|u| (*u, true)));
        last.extend(remove.iter().map(|u| (*u, false)));
    }
    let add = last.iter().filter(|(_, adding)| **adding).map(|(u, _)| *u).collect();
    let remove = last.iter().filter(|(_, adding)| !**adding).map(|(u, _)| *u).collect();
    (add, remove)
}

/// Applies the carried changes to the read model in order, after the head's (already written
/// through), and records each job's done marker with its answer: the group as its change left it.
/// The head's answer is rendered first, before any of them.
pub(super) async fn settle(ctx: &Ctx<'_>, group: &Group, carried: Vec<Carried>) -> JobResult<()> {
    let id = group.id;
    let _ = ctx.answer.set(resource_answer(
        ctx,
        ctx.req.answers_without_members(),
        ctx.req.answers_version_only(),
        KIND,
        id,
    ));
    let unchanged = audit(&group.name, &[], &[]);
    for mut change in carried {
        change.add.sort_unstable();
        change.remove.sort_unstable();
        ctx.check_lease()?;
        write_group(ctx, group.clone(), &change.add, &change.remove, None).await?;
        let answer = resource_answer(ctx, change.without_members, change.version_only, KIND, id);
        let done = Done {
            kind: KIND.name().to_owned(),
            id,
            deleted: false,
            before: unchanged.clone(),
            after: audit(&group.name, &change.add, &change.remove),
            members: MemberIds { added: change.add, removed: change.remove },
            answer: None,
        }
        .with_answer(Some(&answer));
        ctx.check_lease()?;
        ctx.instance().intents.mark_done(&change.job_id.0, &done).await?;
    }
    Ok(())
}

/// Forgets the done markers of the jobs seen behind the head, before a later attempt of the head
/// changes anything (see the module docs).
pub(super) async fn forget_markers(ctx: &Ctx<'_>, seen: &[JobId]) -> JobResult<()> {
    if ctx.first_attempt {
        return Ok(());
    }
    for id in seen {
        ctx.instance().intents.forget_done(&id.0).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carried(add: &[i64], remove: &[i64]) -> Carried {
        let (add, remove) = (add.to_vec(), remove.to_vec());
        Carried {
            job_id: JobId("j".into()),
            without_members: false,
            version_only: false,
            add,
            remove,
            facts: Vec::new(),
        }
    }

    #[test]
    fn the_last_operation_on_a_member_is_what_is_sent() {
        // Head adds 1 and 2; then 1 is removed, 3 added, 3 removed, 2 removed then added again.
        let run = [carried(&[], &[1]), carried(&[3], &[]), carried(&[], &[3, 2]), carried(&[2], &[])];
        assert_eq!(net((&[1, 2], &[]), &run), (vec![2], vec![1, 3]));
        assert_eq!(net((&[5], &[6]), &[]), (vec![5], vec![6]), "alone, the head's own change");
    }

    #[test]
    fn only_adds_and_removes_of_members_travel_together() {
        let patch = |ops: Value| {
            PatchRequest::parse(&serde_json::json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops})).unwrap()
        };
        assert!(members_only(&patch(serde_json::json!([{"op": "add", "path": "members", "value": [{"value": "7"}]}]))));
        assert!(members_only(&patch(serde_json::json!([
            {"op": "Remove", "path": "members", "value": [{"value": "7"}]},
            {"op": "remove", "path": "members[value eq \"8\"]"}
        ]))));
        assert!(!members_only(&patch(serde_json::json!([{"op": "remove", "path": "members"}]))), "empties the group");
        assert!(!members_only(&patch(serde_json::json!([{"op": "replace", "path": "members", "value": []}]))));
        assert!(!members_only(&patch(serde_json::json!([{"op": "replace", "path": "displayName", "value": "x"}]))));
        assert!(!members_only(&patch(serde_json::json!([{"op": "add", "value": {"members": [{"value": "7"}]}}]))));
    }
}
