//! Groups: create, replace, patch (membership as deltas), delete.
//!
//! A change to a group is refused first when the group is protected or outside the connection's
//! principal scope, and so is adding or removing a member that is, and creating a group or
//! renaming one to a protected group's name (see [`super::guard`]), all before anything changes;
//! a group created here records its creating connection.
//!
//! A Group's `roles` are assigned and unassigned in Secret Server after its members, every role
//! checked first, as a User's are (see [`super::roles`]).
//!
//! A request that will be refused changes nothing: a replace or patch checks everything it can
//! first (the group, the members, the roles, and for a rename that the new name is no protected
//! group's and no other group's, the `409 uniqueness` a create gets), then changes the members,
//! then the roles, and renames the group last, with its stored attributes after the rename: a
//! member or role Secret Server still refuses leaves the name and the attributes as they were.
//! A create cannot add members or roles before its group exists: when Secret Server refuses one
//! after the attempt made the group, the group is deleted again and the job's intent settled with
//! nothing made, so that the refused create leaves nothing behind and can be sent again (a
//! transient failure keeps the group, which the retried job adopts).
//!
//! Membership changes are one Secret Server call for all the members a change adds and removes
//! (`PATCH /groups/{id}/users`, up to [`MEMBERS_PER_CALL`] members a call), never a rewrite of the
//! list. Every member to add is checked first (an existing, enabled user),
//! so that a request the client got wrong changes nothing. A member already in the group (added
//! by an earlier delivery of the same job, or directly in Secret Server) or already gone counts as
//! done.

mod burst;

use super::roles::{self, Holder, RolePlan};
use super::unseen;
use super::{Applied, Ctx, JobError, JobResult, Others, invalid_value, not_found, taken};
use crate::attributes::{CREATED_BY, carry_over, to_text};
use crate::instance::Instance;
use crate::intents::{Intent, MemberIds};
use crate::mapping::RenderOptions;
use crate::mapping::group::{GroupFields, fields, member_id};
use crate::read_model::fetch::{group_roles, group_ss_from_group};
use crate::text::fold;
use adapter_api::Operation;
use connections::scope::Principal;
use futures::TryStreamExt;
use scim::patch::{Member, MemberLookup, MembersChange};
use scim::{CompiledFilter, PatchRequest, ResourceKind, ScimError};
use secret_server_api::{Group, GroupCreateArgs, GroupPatchArgs, RoleSummary};
use secret_server_client::GroupQuery;
use serde_json::{Value, json};
use service_error::ServiceError;
use std::collections::BTreeSet;
use std::sync::Arc;

const KIND: ResourceKind = ResourceKind::Group;
/// Member ids to add and to remove.
type Delta = (Vec<i64>, Vec<i64>);
/// Members added or removed by one call to Secret Server (`PATCH /groups/{id}/users`), so that
/// a very large change is a few bounded requests.
const MEMBERS_PER_CALL: usize = 500;

pub(super) async fn apply(ctx: &Ctx<'_>) -> JobResult<Applied> {
    match ctx.req.operation() {
        Operation::Create => create(ctx).await,
        Operation::Replace => update(ctx, false).await,
        Operation::Patch => update(ctx, true).await,
        Operation::Delete => delete(ctx).await,
    }
}

fn audit(name: &str, added: &[i64], removed: &[i64]) -> Value {
    let mut v = json!({"name": name});
    if !added.is_empty() {
        v["membersAdded"] = json!(added);
    }
    if !removed.is_empty() {
        v["membersRemoved"] = json!(removed);
    }
    v
}

/// Writes a group through to the read model: Secret Server's fields, the members after the
/// change, and (when given) new attributes. The group's roles stay as the read model has them
/// ([`write_roles`] changes them).
async fn write_group(
    ctx: &Ctx<'_>,
    group: Group,
    added: &[i64],
    removed: &[i64],
    attrs: Option<Option<Box<str>>>,
) -> JobResult<()> {
    let id = group.id;
    let ss = group_ss_from_group(group);
    let mut touched: Vec<(ResourceKind, i64)> = vec![(KIND, id)];
    touched.extend(added.iter().chain(removed).map(|u| (ResourceKind::User, *u)));
    ctx.instance()
        // In place: a change costs the same in a group of ten as in a group of a hundred thousand.
        .write_through_changing(&touched, &touched[..1], |state| state.change_group(ss, attrs, added, removed))
        .await?;
    Ok(())
}

/// Writes the roles group `id` holds through to the read model.
async fn write_roles(ctx: &Ctx<'_>, id: i64, roles: Box<[i64]>) -> JobResult<()> {
    // In place: a copy of the group put back would copy and walk its member list on each change.
    ctx.instance().write_through(&[(KIND, id)], |state| state.set_group_roles(id, roles)).await?;
    Ok(())
}

/// Reads the group and its roles fresh from Secret Server into the read model; `404` when it is
/// gone. Returns the group and the roles it holds (what the protection check needs of them too).
async fn refresh(ctx: &Ctx<'_>, id: i64) -> JobResult<(Group, Vec<RoleSummary>)> {
    let fetched = match ctx.client()?.get_group(id).await {
        Ok(group) => match ctx.client()?.group_roles(id).try_collect::<Vec<RoleSummary>>().await {
            Ok(held) => Ok((group, held)),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    match fetched {
        Ok((group, held)) => {
            // A group the read model has not seen yet (made through another replica a moment
            // ago) gets its stored attributes: who created it, which a principal scope asks.
            let attrs = match ctx.instance().model.read(|s| s.groups.contains_key(&id)) {
                true => None,
                false => Some(ctx.instance().attrs.get(KIND, id).await?),
            };
            write_group(ctx, group.clone(), &[], &[], attrs).await?;
            write_roles(ctx, id, role_ids(&held)).await?;
            Ok((group, held))
        }
        Err(e) if e.is_not_found() => {
            let members =
                ctx.instance().model.read(|s| s.groups.get(&id).map(|g| g.members.clone())).unwrap_or_default();
            let mut touched = vec![(KIND, id)];
            touched.extend(members.iter().map(|u| (ResourceKind::User, *u)));
            ctx.instance().write_through(&touched, |s| drop(s.remove_group(id))).await?;
            Err(not_found(KIND, &id.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// The ids of roles held, sorted, as the read model keeps them.
fn role_ids(held: &[RoleSummary]) -> Box<[i64]> {
    let mut ids: Vec<i64> = held.iter().map(|r| r.role_id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_boxed_slice()
}

/// Checks that every user to add exists for the caller and is enabled, before anything changes: a
/// refusal the read model gives is read again once it has followed the other replicas, and a user
/// it has not seen yet is read from Secret Server (see [`unseen`]), learnt once every member passed.
async fn check_new_members(ctx: &Ctx<'_>, ids: &[i64]) -> JobResult<()> {
    let mut learnt = Vec::new();
    for id in ids {
        let held = || {
            ctx.instance().model.read(|s| s.users.get(id).map(|u| (ctx.caller.view(s).user_visible(*id), u.ss.enabled)))
        };
        let mut known = held();
        if known.is_some_and(|(visible, enabled)| !(visible && enabled)) {
            known = ctx.recheck(known, held).await;
        }
        let (visible, enabled) = match known {
            Some(known) => known,
            None => match unseen::read(ctx, crate::read_model::records::Principal::User(*id)).await? {
                Some(user) => {
                    let seen = (user.visible(ctx), user.enabled());
                    learnt.push(user);
                    seen
                }
                None => (false, false),
            },
        };
        if !visible {
            return Err(invalid_value(format!("member {id} is not a user")));
        }
        if !enabled {
            return Err(invalid_value(format!(
                "user {id} is inactive; Secret Server grants group membership to active users only"
            )));
        }
    }
    unseen::learn(ctx, learnt).await
}

/// Adds and removes members in one call per [`MEMBERS_PER_CALL`] (`PATCH /groups/{id}/users`
/// with the ids to add and to remove). Returns what was done; on a failure, what was done is
/// written through before the error is returned.
///
/// A refused call may have found part of its work done (a user already in the group, or already
/// out of it, after an earlier delivery of the job or a change made directly in Secret Server; its
/// error codes are not documented, so they are not trusted to say so): the group's members, read
/// from Secret Server, tell which; those count as done and the rest is sent once more.
async fn change_members(ctx: &Ctx<'_>, group: &Group, add: &[i64], remove: &[i64]) -> JobResult<(Vec<i64>, Vec<i64>)> {
    let (mut added, mut removed) = (Vec::new(), Vec::new());
    // In the order of their ids, additions first: the same change makes the same calls (a PATCH's
    // members may come in any order from the document it was applied to).
    let (mut add, mut remove) = (add.to_vec(), remove.to_vec());
    add.sort_unstable();
    remove.sort_unstable();
    let mut pending: Vec<(bool, i64)> =
        add.iter().map(|u| (true, *u)).chain(remove.iter().map(|u| (false, *u))).collect();
    while !pending.is_empty() {
        let batch: Vec<(bool, i64)> = pending.drain(..pending.len().min(MEMBERS_PER_CALL)).collect();
        match send_batch(ctx, group, &batch).await {
            Ok(()) => {
                let (mut a, mut r) = (Vec::new(), Vec::new());
                split_into(&batch, &mut a, &mut r);
                ctx.changed_members(&a, &r);
                added.extend(a);
                removed.extend(r);
            }
            Err(e) => {
                write_group(ctx, group.clone(), &added, &removed, None).await?;
                return Err(e);
            }
        }
    }
    added.sort_unstable();
    removed.sort_unstable();
    Ok((added, removed))
}

/// Splits `(adding, user)` pairs into the users added and removed.
fn split_into(batch: &[(bool, i64)], added: &mut Vec<i64>, removed: &mut Vec<i64>) {
    for (adding, user) in batch {
        if *adding { added.push(*user) } else { removed.push(*user) }
    }
}

/// One `PATCH /groups/{id}/users`; when Secret Server refuses it, the members it has decide what
/// is left to send, which is sent once more.
async fn send_batch(ctx: &Ctx<'_>, group: &Group, batch: &[(bool, i64)]) -> JobResult<()> {
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    split_into(batch, &mut add, &mut remove);
    let first = match ctx.client()?.patch_group_members(group.id, &add, &remove).await {
        Ok(_) => return Ok(()),
        Err(e) if e.is_transient() => return Err(e.into()),
        Err(e) => e,
    };
    let members: BTreeSet<i64> = ctx.client()?.group_members(group.id).map_ok(|m| m.user_id).try_collect().await?;
    let add: Vec<i64> = add.into_iter().filter(|u| !members.contains(u)).collect();
    let remove: Vec<i64> = remove.into_iter().filter(|u| members.contains(u)).collect();
    if add.len() + remove.len() == batch.len() {
        // Nothing was found done: the refusal was about something else.
        return Err(first.into());
    }
    if add.is_empty() && remove.is_empty() {
        return Ok(());
    }
    ctx.client()?.patch_group_members(group.id, &add, &remove).await?;
    Ok(())
}

async fn find_by_name(ctx: &Ctx<'_>, name: &str) -> JobResult<Option<Group>> {
    let wanted = fold(name);
    let found = ctx
        .client()?
        .search_groups(&GroupQuery::text(name))
        .try_filter(|g| futures::future::ready(fold(&g.name) == wanted))
        .try_next()
        .await?;
    match found {
        Some(summary) => Ok(Some(ctx.client()?.get_group(summary.id).await?)),
        None => Ok(None),
    }
}

/// The `409 uniqueness` of a group name another group has.
fn name_taken(name: &str) -> JobError {
    taken(format!("a group named {name:?} already exists"))
}

/// Refuses renaming group `id` to `name` when another group has that name, as the read model or
/// Secret Server (a group made there since the last resync) shows it: the `409 uniqueness` a create
/// of that name gets, before anything changes. The group's own name in another case is free.
async fn check_name_free(ctx: &Ctx<'_>, id: i64, name: &str) -> JobResult<()> {
    let held = || ctx.instance().model.read(|s| s.group_by_name(name).is_some_and(|g| g.ss.id != id));
    // With several replicas whose follower cannot vouch for the model, Secret Server's answer
    // below decides.
    if held() {
        let refused = match ctx.follow_others().await {
            Others::Alone => true,
            Others::Followed => held(),
            Others::Unknown => false,
        };
        if refused {
            return Err(name_taken(name));
        }
    }
    let wanted = fold(name);
    let other = ctx
        .client()?
        .search_groups(&GroupQuery::text(name))
        .try_filter(|g| futures::future::ready(g.id != id && fold(&g.name) == wanted))
        .try_next()
        .await?;
    match other {
        Some(_) => Err(name_taken(name)),
        None => Ok(()),
    }
}

async fn create(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let doc = scim::validate_create(ctx.schemas(), KIND, ctx.req.payload())?;
    let f = fields(&doc).map_err(JobError::Permanent)?;
    ctx.guard_group_name(&f.name)?;
    let members = f.members.clone().unwrap_or_default();
    check_new_members(ctx, &members).await?;
    ctx.guard_members(&members).await?;
    // Checked before anything is created: the new group gets the roles asked for.
    let role_plan = roles::plan(ctx, &[], f.roles.as_deref()).await?;
    let instance = ctx.instance();
    let key = fold(&f.name);
    let earlier = ctx.earlier_create(KIND, &key).await?;
    let read_known = || instance.model.read(|s| s.group_by_name(&f.name).map(|g| g.ss.id));
    let mut known = read_known();
    // A name another group holds in the read model: read again once it has followed the other
    // replicas (that group may have been deleted or renamed through one of them a moment ago).
    if known.is_some_and(|id| !earlier.made(id)) {
        known = ctx.recheck(known, read_known).await;
    }
    let detail = format!("a group named {:?} already exists", f.name);
    // Whether this job made the group: in this attempt, or in an earlier one its intent names
    // (never a group found by name alone).
    let (group, made_by_this_job) = match known {
        Some(id) if earlier.made(id) => (ctx.client()?.get_group(id).await?, true),
        Some(_) => return Err(name_taken(&f.name)),
        // Secret Server's own answer: a group made there since the last resync, or by an earlier
        // attempt of this job.
        None => match find_by_name(ctx, &f.name).await? {
            Some(group) if earlier.made(group.id) => (group, true),
            Some(_) => return Err(name_taken(&f.name)),
            None => {
                let args = GroupCreateArgs { name: f.name.clone(), enabled: true, ..GroupCreateArgs::default() };
                let find = || find_by_name(ctx, &f.name);
                let call = ctx.client()?.create_group(&args);
                (ctx.create_once(KIND, &key, &detail, |g: &Group| g.id, call, find).await?, true)
            }
        },
    };
    match fill(ctx, &f, &group, &members, role_plan).await {
        // Refused for good (a member Secret Server no longer takes, say): the group this job made
        // goes again, so that the refused request leaves nothing behind and can be sent again. A
        // transient failure keeps it: the job is retried and adopts it.
        Err(JobError::Permanent(e)) if made_by_this_job => {
            match undo_create(ctx, group.id, &key).await {
                Ok(()) => {
                    tracing::info!(group_id = group.id, "the create was refused after its group was made: deleted")
                }
                Err(undo) => tracing::warn!(group_id = group.id, error = ?undo,
                    "the create was refused after its group was made, and the group cannot be deleted: it stays"),
            }
            Err(JobError::Permanent(e))
        }
        other => other,
    }
}

/// What a create does once its group exists (made or adopted): records its creator and
/// attributes, adds its members and gives it its roles.
async fn fill(
    ctx: &Ctx<'_>,
    f: &GroupFields,
    group: &Group,
    members: &[i64],
    role_plan: RolePlan,
) -> JobResult<Applied> {
    let instance = ctx.instance();
    // This job made the group (now, or in an earlier delivery): it records its creator.
    let mut stored = f.attrs.clone();
    let previous = instance.model.read(|s| s.groups.get(&group.id).and_then(|g| g.attrs.clone()));
    carry_over(&mut stored, previous.as_deref(), ctx.caller.connection.id.as_str());
    stored.insert(CREATED_BY.to_owned(), Value::String(ctx.caller.connection.id.to_string()));
    let attrs = to_text(&stored);
    instance.attrs.put(KIND, group.id, attrs.as_deref()).await?;
    // A new group starts empty in the read model; the write below records it before members change.
    write_group(ctx, group.clone(), &[], &[], Some(attrs.clone())).await?;
    let (added, _) = change_members(ctx, group, members, &[]).await?;
    write_group(ctx, group.clone(), &added, &[], Some(attrs)).await?;
    // A create only adds: an adopted group keeps the roles it holds.
    roles::apply(ctx, Holder::Group(group.id), &RolePlan { remove: Vec::new(), ..role_plan }).await?;
    write_roles(ctx, group.id, group_roles(ctx.client()?, group.id).await?).await?;
    let after = audit(&group.name, &added, &[]);
    let members = MemberIds { added, removed: Vec::new() };
    Ok(Applied { kind: KIND, id: group.id, deleted: false, members, before: Value::Null, after })
}

/// Deletes group `id`, which this attempt made for a create that was then refused, and forgets
/// it; the job's intent (key `key`) is settled with nothing made, so that a later attempt of the
/// job creates the group again as a first one would.
async fn undo_create(ctx: &Ctx<'_>, id: i64, key: &str) -> JobResult<()> {
    if let Err(e) = ctx.client()?.delete_group(id).await {
        super::gone_anyway(e, ctx.client()?.get_group(id)).await?;
    }
    forget(ctx, id).await?;
    let nothing = Intent { kind: KIND.name().to_owned(), key: key.to_owned(), created: None, settled: true };
    // Deferred after the intent the create deferred (the id it made): the batch is written in
    // order, so this one is what stays.
    ctx.defer([ctx.instance().intents.record_write(ctx.job_id, &nothing)?]);
    Ok(())
}

/// Removes group `id`, gone from Secret Server, from the read model (and its members' groups),
/// the stored attributes and the meta.
async fn forget(ctx: &Ctx<'_>, id: i64) -> JobResult<()> {
    let members = ctx.instance().model.read(|s| s.groups.get(&id).map(|g| g.members.clone())).unwrap_or_default();
    let mut touched = vec![(KIND, id)];
    touched.extend(members.iter().map(|u| (ResourceKind::User, *u)));
    ctx.instance().write_through(&touched, |s| drop(s.remove_group(id))).await?;
    ctx.instance().attrs.put(KIND, id, None).await?;
    ctx.instance().meta.delete(KIND, id).await?;
    Ok(())
}

/// Resolves member removals by filter against the read model's member list, built only when a
/// PATCH needs it.
struct ReadModelMembers {
    instance: Arc<Instance>,
    group: i64,
}

impl MemberLookup for ReadModelMembers {
    fn matching_member_ids(&self, filter: &CompiledFilter) -> Result<Vec<String>, ScimError> {
        let members: Vec<Member> = self.instance.model.read(|s| {
            s.groups
                .get(&self.group)
                .map(|g| {
                    g.members
                        .iter()
                        .map(|u| Member { value: u.to_string(), kind: Some("User".to_owned()), reference: None })
                        .collect()
                })
                .unwrap_or_default()
        });
        members.matching_member_ids(filter)
    }
}

/// Whether a PATCH selects members with a filter (`members[display sw "a"]`), which the lookup
/// answers by evaluating it over the whole member list.
fn filters_members(request: &PatchRequest) -> bool {
    request.operations.iter().any(|op| {
        op.path.as_ref().is_some_and(|path| path.filter.is_some() && path.attr.name.eq_ignore_ascii_case("members"))
    })
}

fn ids_of(members: &[Member]) -> JobResult<Vec<i64>> {
    members.iter().map(|m| member_id(&m.to_value()).map_err(JobError::Permanent)).collect()
}

fn removed_ids(ids: &[String]) -> JobResult<Vec<i64>> {
    ids.iter()
        .map(|v| adapter_api::id::parse(v).ok_or_else(|| invalid_value(format!("member {v:?} is not a user id"))))
        .collect()
}

/// What a change asks of the membership.
enum Wanted {
    Unchanged,
    Delta(Delta),
    Exactly(BTreeSet<i64>),
}

/// The group's members as Secret Server has them now (the read model may lag behind a change made
/// there), written through to the read model.
async fn fresh_members(ctx: &Ctx<'_>, group: &Group) -> JobResult<BTreeSet<i64>> {
    let fresh: BTreeSet<i64> =
        ctx.client()?.group_members(group.id).map_ok(|m| m.user_id).try_collect::<BTreeSet<i64>>().await?;
    let known: BTreeSet<i64> = ctx
        .instance()
        .model
        .read(|s| s.groups.get(&group.id).map(|g| g.members.iter().copied().collect()).unwrap_or_default());
    let added: Vec<i64> = fresh.difference(&known).copied().collect();
    let removed: Vec<i64> = known.difference(&fresh).copied().collect();
    if !added.is_empty() || !removed.is_empty() {
        write_group(ctx, group.clone(), &added, &removed, None).await?;
    }
    Ok(fresh)
}

async fn update(ctx: &Ctx<'_>, patch: bool) -> JobResult<Applied> {
    let id = ctx.target_id()?;
    ctx.guard_early(Principal::Group(id))?;
    let (current, held_roles) = refresh(ctx, id).await?;
    let held = role_ids(&held_roles);
    if !ctx.visible(KIND, id) {
        return Err(not_found(KIND, &id.to_string()));
    }
    ctx.guard_group(id, &current.name, &held_roles)?;
    ctx.check_if_match(KIND, id)?;
    // Without members: a group of 100,000 costs the same to change as a group of 10.
    let current_doc =
        ctx.render(KIND, id, RenderOptions { members: false }).ok_or_else(|| not_found(KIND, &id.to_string()))?;
    // Whether this change may carry the member changes queued behind it (see `burst`).
    let mut carries = false;
    let (doc, wanted) = if patch {
        let request = PatchRequest::parse(ctx.req.payload())?;
        carries = burst::members_only(&request);
        let lookup = ReadModelMembers { instance: Arc::clone(&ctx.caller.instance), group: id };
        let outcome = if filters_members(&request) {
            // A filter evaluated over every member, once per path: bounded per connection and off the
            // async workers (`crate::bounds`; without a free slot the job is retried shortly).
            let (schemas, doc) = (Arc::clone(&ctx.core.schemas), current_doc.clone());
            ctx.core
                .expensive
                .run(&ctx.caller.connection.id, move || {
                    request.apply(&schemas, KIND, &doc, &lookup).map_err(ServiceError::from)
                })
                .await?
        } else {
            request.apply(ctx.schemas(), KIND, &current_doc, &lookup)?
        };
        if !outcome.changed {
            let same = audit(&current.name, &[], &[]);
            return Ok(Applied {
                kind: KIND,
                id,
                deleted: false,
                members: MemberIds::NONE,
                before: same.clone(),
                after: same,
            });
        }
        let wanted = match outcome.members {
            None => Wanted::Unchanged,
            Some(MembersChange::Delta { added, removed }) => Wanted::Delta((ids_of(&added)?, removed_ids(&removed)?)),
            Some(MembersChange::ReplaceAll(set)) => {
                carries = false;
                Wanted::Exactly(ids_of(&set)?.into_iter().collect())
            }
        };
        (outcome.resource, wanted)
    } else {
        let doc = scim::validate_replace(ctx.schemas(), KIND, ctx.req.payload(), &current_doc)?;
        let want = fields(&doc).map_err(JobError::Permanent)?.members.unwrap_or_default().into_iter().collect();
        (doc, Wanted::Exactly(want))
    };
    let mut f = fields(&doc).map_err(JobError::Permanent)?;
    let renamed = f.name != current.name;
    if renamed {
        ctx.guard_group_name(&f.name)?;
        check_name_free(ctx, id, &f.name).await?;
    }
    // A PATCH delta is sent as asked (Secret Server tells what is already done); a full
    // replacement is computed against the members Secret Server has now.
    let (add, remove) = match wanted {
        Wanted::Unchanged => (Vec::new(), Vec::new()),
        Wanted::Delta(delta) => delta,
        Wanted::Exactly(want) => {
            let now = fresh_members(ctx, &current).await?;
            (want.difference(&now).copied().collect(), now.difference(&want).copied().collect())
        }
    };
    if current.synchronized && !(add.is_empty() && remove.is_empty()) {
        return Err(directory_managed_members(&current));
    }
    check_new_members(ctx, &add).await?;
    let (facts, role_id) = ctx.member_facts(&[add.as_slice(), remove.as_slice()].concat()).await?;
    let (mut carried, seen) = match carries {
        true => burst::queued(ctx, &current_doc).await?,
        false => (Vec::new(), Vec::new()),
    };
    burst::guard(ctx, &facts, role_id, &mut carried).await?;
    // A PATCH gives the whole resulting document: no `roles` left means none, but one that leaves
    // them as they were changes none (see `roles::unchanged`). A replacement without `roles`
    // keeps them.
    let wanted_roles = match f.roles.clone() {
        _ if patch && roles::unchanged(&doc, &current_doc) => None,
        roles if patch => Some(roles.unwrap_or_default()),
        roles => roles,
    };
    let role_plan = roles::plan(ctx, &held, wanted_roles.as_deref()).await?;
    if !role_plan.is_empty() {
        carried.clear();
    }
    // Everything is checked. The members change first, then the roles, and the name last, so that
    // a member or role Secret Server still refuses leaves the name and attributes as they were.
    burst::forget_markers(ctx, &seen).await?;
    let (added, removed) = if carried.is_empty() {
        change_members(ctx, &current, &add, &remove).await?
    } else {
        let (all_add, all_remove) = burst::net((&add, &remove), &carried);
        let together = change_members(ctx, &current, &all_add, &all_remove).await;
        // What the call sent together changed is not this job's own to report should it fail
        // later: each queued change, and this one when retried, sends its own again, and counts
        // what it finds done as its change.
        ctx.forget_changed_members();
        match together {
            Ok(_) => {
                let (mut add, mut remove) = (add, remove);
                add.sort_unstable();
                remove.sort_unstable();
                // Its own members are made: a later step that fails says so.
                ctx.changed_members(&add, &remove);
                (add, remove)
            }
            Err(JobError::Permanent(e)) => {
                tracing::info!(error = %e, carried = carried.len(),
                    "Secret Server refused the member changes sent together; this one goes alone, the others in their turn");
                carried.clear();
                change_members(ctx, &current, &add, &remove).await?
            }
            Err(e) => return Err(e),
        }
    };
    if !added.is_empty() || !removed.is_empty() {
        write_group(ctx, current.clone(), &added, &removed, None).await?;
    }
    if !role_plan.is_empty() {
        roles::apply(ctx, Holder::Group(id), &role_plan).await?;
        write_roles(ctx, id, role_plan.result.clone()).await?;
    }
    let group = if renamed {
        // Only the name: the group's owners, platform status and synchronization stay Secret Server's.
        ctx.client()?.patch_group(id, &GroupPatchArgs::rename(f.name.clone())).await?
    } else {
        current.clone()
    };
    let previous = ctx.instance().model.read(|s| s.groups.get(&id).and_then(|g| g.attrs.clone()));
    carry_over(&mut f.attrs, previous.as_deref(), ctx.caller.connection.id.as_str());
    let attrs = to_text(&f.attrs);
    ctx.instance().attrs.put(KIND, id, attrs.as_deref()).await?;
    write_group(ctx, group.clone(), &[], &[], Some(attrs)).await?;
    if !carried.is_empty() {
        burst::settle(ctx, &group, carried).await?;
    }
    let mut before = audit(&current.name, &[], &[]);
    let mut after = audit(&group.name, &added, &removed);
    // A change of roles is on record with the roles before and after (a group's audit shape is
    // otherwise as it was).
    if !role_plan.is_empty() {
        before = roles::with_roles(ctx, before, &held);
        after = roles::with_roles(ctx, after, &role_plan.result);
    }
    Ok(Applied { kind: KIND, id, deleted: false, before, after, members: MemberIds { added, removed } })
}

/// The refusal of a member change to a group its directory synchronizes: `400 mutability` with
/// Secret Server's reason (`API_CannotAddRemoveUsersFromDirectoryManagedGroups`), before any call
/// that would change it.
fn directory_managed_members(group: &Group) -> JobError {
    JobError::Permanent(
        ScimError::mutability(format!(
            "Group {} ({:?}) is synchronized from its directory (Secret Server domain {}): its members cannot be \
             added or removed through Secret Server (API_CannotAddRemoveUsersFromDirectoryManagedGroups); change \
             them in the directory",
            group.id, group.name, group.domain_id
        ))
        .into(),
    )
}

async fn delete(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let id = ctx.target_id()?;
    ctx.guard_early(Principal::Group(id))?;
    let (current, held_roles) = match refresh(ctx, id).await {
        Ok(found) => found,
        Err(JobError::Permanent(e)) if e.http_status() == 404 && ctx.deleted_before(KIND, id).await? => {
            return Ok(ctx.already_deleted(KIND, id));
        }
        Err(e) => return Err(e),
    };
    if !ctx.visible(KIND, id) {
        return Err(not_found(KIND, &id.to_string()));
    }
    ctx.guard_group(id, &current.name, &held_roles)?;
    // Deleting a group takes each member out of it.
    let in_group = ctx.instance().model.read(|s| s.groups.get(&id).map(|g| g.members.clone())).unwrap_or_default();
    ctx.guard_members(&in_group).await?;
    ctx.check_if_match(KIND, id)?;
    ctx.record_delete(KIND, id).await?;
    if let Err(e) = ctx.client()?.delete_group(id).await {
        super::gone_anyway(e, ctx.client()?.get_group(id)).await?;
    }
    forget(ctx, id).await?;
    Ok(Applied {
        kind: KIND,
        id,
        deleted: true,
        members: MemberIds::NONE,
        before: audit(&current.name, &[], &[]),
        after: Value::Null,
    })
}
