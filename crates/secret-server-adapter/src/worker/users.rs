//! Users: create (or revive a user deleted through SCIM), replace, patch, delete (deactivate).
//!
//! A change to an existing user (a revival included) is refused first when the user is protected
//! or outside the connection's principal scope, and a password is set only on a user this
//! connection created unless its policy says otherwise (see [`super::guard`]); a create of the
//! name of a deleted user that the connection's scope hides is `409 uniqueness`, as for a live
//! one, so that no refusal names a user the connection cannot see. A user created here
//! records its creating connection in its stored attributes. A User's `roles` are assigned and
//! unassigned in Secret Server after its fields, every role checked first (see [`super::roles`]).
//! A delete records its intent before its call, so that a delivery after one whose call disabled
//! the user finishes it (Secret Server refuses to delete a user who is inactive already).

use super::roles::{self, Holder, RolePlan, with_roles};
use super::{Applied, Ctx, JobError, JobResult, Others, not_found, taken};
use crate::attributes::{CREATED_BY, carry_over, seen_by, to_text};
use crate::intents::{Earlier, MemberIds};
use crate::mapping::user::{UserFields, audit_fields, fields, mark_display_name_unassigned};
use crate::mapping::{RenderOptions, mark_unassigned};
use crate::principals::StateFacts;
use crate::read_model::fetch::{direct_roles, user_ss_from_user};
use crate::read_model::records::{Meta, UserRec};
use crate::text::{fold, now_millis};
use crate::tombstones::Tombstone;
use adapter_api::Operation;
use connections::UserNameChangePolicy;
use connections::scope::Principal;
use futures::TryStreamExt;
use scim::password;
use scim::patch::NoMemberLookup;
use scim::{PatchRequest, ResourceKind, ScimError};
use secrecy::ExposeSecret;
use secret_server_api::{Patch, User, UserCreateArgs, UserPatchArgs};
use secret_server_client::{ClientError, UserQuery};
use serde_json::Value;

const KIND: ResourceKind = ResourceKind::User;

/// The attributes Secret Server always holds a value for, which a client may leave unassigned.
const UNASSIGNABLE: &[&str] = &["displayName", "active"];

pub(super) async fn apply(ctx: &Ctx<'_>) -> JobResult<Applied> {
    match ctx.req.operation() {
        Operation::Create => create(ctx).await,
        Operation::Replace => update(ctx, false).await,
        Operation::Patch => update(ctx, true).await,
        Operation::Delete => delete(ctx).await,
    }
}

fn audit_of(user: &User) -> Value {
    audit_fields(&user.user_name, &user.display_name, user.email_address.as_deref(), user.enabled)
}

/// Writes a user through to the read model (keeping its meta), with its attributes. When it
/// becomes deleted (or no longer is), its groups are touched too: their member lists change.
/// The metas that change are persisted with the job's done marker (see [`Ctx::defer`]).
async fn write_user(
    ctx: &Ctx<'_>,
    user: User,
    roles: Box<[i64]>,
    attrs: Option<Box<str>>,
    deleted: bool,
) -> JobResult<()> {
    let id = user.id;
    let mut ss = user_ss_from_user(user);
    ss.roles = roles;
    let mut touched = vec![(KIND, id)];
    touched.extend(ctx.instance().model.read(|s| {
        let flips = s.users.get(&id).is_some_and(|u| u.deleted != deleted);
        let groups = if flips { s.groups_of(id) } else { &[] };
        groups.iter().map(|g| (ResourceKind::Group, *g)).collect::<Vec<_>>()
    }));
    let metas = ctx.instance().write_through_deferred(&touched, |state| {
        let meta = state.users.get(&id).map(|u| u.meta).unwrap_or(Meta::default());
        state.put_user(UserRec { ss, attrs, deleted, meta });
    })?;
    ctx.defer(metas);
    Ok(())
}

/// Reads the user fresh from Secret Server into the read model; `404` when it is gone. A user the
/// read model has not seen yet (created since the last resync, or by another replica) gets its
/// stored attributes and tombstone with it. Returns the user and the roles it holds directly.
async fn refresh(ctx: &Ctx<'_>, id: i64) -> JobResult<(User, Box<[i64]>)> {
    let instance = ctx.instance();
    let user = match ctx.client()?.get_user(id).await {
        Ok(user) => user,
        Err(e) if e.is_not_found() => {
            instance.write_through(&[(KIND, id)], |state| drop(state.remove_user(id))).await?;
            return Err(not_found(KIND, &id.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let held = match direct_roles(ctx.client()?, id).await {
        Ok(held) => held,
        Err(e) if e.is_not_found() => return Err(not_found(KIND, &id.to_string())),
        Err(e) => return Err(e.into()),
    };
    let (attrs, was_deleted) = match instance.model.read(|s| s.users.get(&id).map(|u| (u.attrs.clone(), u.deleted))) {
        Some(known) => known,
        None => (instance.attrs.get(KIND, id).await?, instance.tombstones.get(id).await?.is_some()),
    };
    // Enabled again directly in Secret Server: no longer deleted.
    let deleted = was_deleted && !user.enabled;
    if was_deleted && !deleted {
        instance.tombstones.remove(id).await?;
    }
    write_user(ctx, user.clone(), held.clone(), attrs, deleted).await?;
    Ok((user, held))
}

/// The user called `name` in Secret Server, whatever the read model knows.
async fn find_by_name(ctx: &Ctx<'_>, name: &str) -> JobResult<Option<User>> {
    let wanted = fold(name);
    let found = ctx
        .client()?
        .search_users(&UserQuery::text(name))
        .try_filter(|u| futures::future::ready(fold(&u.user_name) == wanted))
        .try_next()
        .await?;
    match found {
        Some(summary) => Ok(Some(ctx.client()?.get_user(summary.id).await?)),
        None => Ok(None),
    }
}

/// Gives an existing Secret Server user the fields the request asks for (reviving a user deleted
/// through SCIM, adopting the user a previous delivery of this job created, or updating one).
/// Without `active` the user is enabled when `enable_by_default`, else keeps its state.
///
/// A `PATCH` with only the properties that change (the password when one is given): what the
/// connector does not manage (two-factor settings, RADIUS, owners, formats) is never sent, so
/// Secret Server keeps it whatever defaults its full update model would apply.
async fn set_fields(ctx: &Ctx<'_>, current: &User, f: &UserFields, enable_by_default: bool) -> JobResult<User> {
    let mut args = UserPatchArgs::default();
    let display_name = f.secret_server_display_name(&current.user_name);
    if display_name != current.display_name {
        args.display_name = Some(Patch::set(display_name));
    }
    let email = f.email.clone().filter(|e| !e.is_empty());
    if email != current.email_address {
        args.email_address = Some(Patch::set(email.unwrap_or_default()));
    }
    let enabled = f.active.unwrap_or(enable_by_default || current.enabled);
    if enabled != current.enabled {
        args.enabled = Some(Patch::set(enabled));
    }
    if let Some(password) = &f.password {
        args.password = Some(Patch::set(password.expose_secret().to_owned()));
    }
    if args == UserPatchArgs::default() {
        return Ok(current.clone());
    }
    Ok(ctx.client()?.patch_user(current.id, &args).await?)
}

/// The directory domain a create names: the LinkedObject `source` when it is the name of a domain
/// the read model knows (any other `source` is the client's own correlation key, stored as before),
/// with the LinkedObject `nativeIdentifier` as the user's `adGuid`.
fn named_domain(ctx: &Ctx<'_>, doc: &Value) -> Option<(i64, Option<String>)> {
    let link = doc.get(scim::urn::LINKED_OBJECT)?;
    let source = link.get("source").and_then(Value::as_str)?;
    let domain_id = ctx.instance().model.read(|s| s.domain_id_by_name(source))?;
    let ad_guid = link.get("nativeIdentifier").and_then(Value::as_str).map(str::trim).filter(|g| !g.is_empty());
    Some((domain_id, ad_guid.map(str::to_owned)))
}

async fn create(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let doc = scim::validate_create(ctx.schemas(), KIND, ctx.req.payload())?;
    let f = fields(&doc);
    let domain = named_domain(ctx, &doc);
    if let Some((domain_id, _)) = domain
        && f.password.is_some()
    {
        return Err(JobError::Permanent(
            ScimError::mutability(format!(
                "a user of directory domain {domain_id} has the password its directory gives it: send none"
            ))
            .into(),
        ));
    }
    // Checked before anything is created: the new user gets the roles asked for.
    let role_plan = roles::plan(ctx, &[], f.roles.as_deref()).await?;
    let instance = ctx.instance();
    let key = fold(&f.user_name);
    let earlier = ctx.earlier_create(KIND, &key).await?;
    let taken_detail = format!("userName {:?} is already taken", f.user_name);
    // A name the read model holds for a live user that this job did not make: refused without a
    // call. Or one this connection keeps for another user (see the `keep-secret-server-name`
    // policy), which Secret Server does not know: the caller would see two users of one name.
    // With several replicas whose follower cannot vouch for the model, a live user it holds is
    // left to Secret Server's answer below; a kept name only the model knows is refused still.
    let name_held = |live_too: bool| {
        instance.model.read(|s| {
            let live = s.user_by_ss_name(&f.user_name).is_some_and(|u| !u.deleted && !earlier.made(u.ss.id));
            let kept = ctx
                .caller
                .view(s)
                .user_named(&f.user_name, None)
                .is_some_and(|id| s.users.get(&id).is_some_and(|u| fold(&u.ss.user_name) != key));
            (live_too && live) || kept
        })
    };
    if name_held(true) {
        let refused = match ctx.follow_others().await {
            Others::Alone => true,
            Others::Followed => name_held(true),
            Others::Unknown => name_held(false),
        };
        if refused {
            return Err(taken(taken_detail));
        }
    }
    // Secret Server's own answer, whatever the read model knows (a user created there since the
    // last resync, or by an earlier attempt of this job).
    let existing = match earlier {
        Earlier::Created(id) => match ctx.client()?.get_user(id).await {
            Ok(user) => Some(user),
            Err(e) if e.is_not_found() => find_by_name(ctx, &f.user_name).await?,
            Err(e) => return Err(e.into()),
        },
        Earlier::Nothing | Earlier::Unknown => find_by_name(ctx, &f.user_name).await?,
    };
    // Whether this job made the user (in an earlier attempt): otherwise an existing user is
    // revived only when it was deleted through SCIM, which is a change to an existing user.
    let (user, revived, before, mine) = match existing {
        Some(existing) if earlier.made(existing.id) => {
            let user = set_fields(ctx, &existing, &f, true).await?;
            (user, false, Value::Null, true)
        }
        Some(existing) => {
            let tombstoned = instance.tombstones.get(existing.id).await?.is_some() && !existing.enabled;
            if !tombstoned {
                return Err(taken(taken_detail));
            }
            refresh(ctx, existing.id).await?;
            // One the caller's scope hides is a name taken, as a live one is: no refusal names it.
            if !shown(ctx, existing.id) {
                return Err(taken(taken_detail));
            }
            guard_revival(ctx, existing.id, &f).await?;
            let (user, revived, before) = revive(ctx, existing.id, &f, true).await?;
            (user, revived, before, false)
        }
        None => {
            // The published `UserCreateArgs` requires a password of every user. A directory user
            // signs in with its directory's: it gets a generated one that nobody is ever given.
            let password =
                Some(f.password.clone().unwrap_or_else(crate::password::generate).expose_secret().to_owned());
            let args = UserCreateArgs {
                user_name: f.user_name.clone(),
                password,
                display_name: f.secret_server_display_name(&f.user_name),
                email_address: f.email.clone(),
                enabled: f.active.unwrap_or(true),
                domain_id: domain.as_ref().map(|(id, _)| *id),
                ad_guid: domain.and_then(|(_, guid)| guid),
                ..UserCreateArgs::default()
            };
            let user = ctx
                .create_once(
                    KIND,
                    &key,
                    &taken_detail,
                    |u: &User| u.id,
                    ctx.client()?.create_user(&args),
                    || find_by_name(ctx, &f.user_name),
                )
                .await?;
            (user, false, Value::Null, true)
        }
    };
    let id = user.id;
    // The user is recorded as the connection's, and written to the read model, before any role is
    // assigned: a role call that fails still leaves a user the connection sees and can change or
    // delete (the deferred writes are made when the job fails too).
    let mut stored = f.attrs_after_write(&user.display_name);
    // A user this job made in this very attempt has nothing stored yet; one made by an earlier
    // attempt may have had attributes written since by another connection, which stay.
    let previous = if mine && ctx.first_attempt { None } else { instance.attrs.get(KIND, id).await? };
    carry_over(&mut stored, previous.as_deref(), ctx.caller.connection.id.as_str());
    if mine {
        stored.insert(CREATED_BY.to_owned(), Value::String(ctx.caller.connection.id.to_string()));
    }
    let attrs = to_text(&stored);
    match attrs.as_deref() {
        // With the job's done marker (see `Ctx::defer`).
        Some(text) => ctx.defer([instance.attrs.put_write(KIND, id, text)]),
        None => instance.attrs.put(KIND, id, None).await?,
    }
    if revived {
        instance.tombstones.remove(id).await?;
    }
    let held = direct_roles(ctx.client()?, id).await?;
    write_user(ctx, user.clone(), held.clone(), attrs.clone(), false).await?;
    // A create only adds: a revived or adopted user keeps the roles it holds.
    let held = if role_plan.is_empty() {
        held
    } else {
        roles::apply(ctx, Holder::User(id), &RolePlan { remove: Vec::new(), ..role_plan }).await?;
        let held = direct_roles(ctx.client()?, id).await?;
        write_user(ctx, user.clone(), held.clone(), attrs, false).await?;
        held
    };
    let after = with_roles(ctx, audit_of(&user), &held);
    Ok(Applied { kind: KIND, id, deleted: false, members: MemberIds::NONE, before, after })
}

/// Whether the caller's principal scope shows user `id`, deleted or not (a scope that limits
/// reads to what it reaches hides the others).
fn shown(ctx: &Ctx<'_>, id: i64) -> bool {
    let connection = &ctx.caller.connection;
    ctx.instance().model.read(|s| connection.scope.shows(&connection.id, Principal::User(id), &StateFacts(s)))
}

/// Reviving user `id` (deleted through SCIM, known to the read model) changes an existing user:
/// the same refusals as an update, and its password only as the password policy allows.
async fn guard_revival(ctx: &Ctx<'_>, id: i64, f: &UserFields) -> JobResult<()> {
    let name = ctx.instance().model.read(|s| s.users.get(&id).map(|u| u.ss.user_name.to_string()));
    ctx.guard(Principal::User(id), name.as_deref().unwrap_or(&f.user_name)).await?;
    if f.password.is_some() {
        ctx.guard_password(id)?;
    }
    Ok(())
}

/// Whether a Secret Server user belongs to a directory domain (Active Directory): its name,
/// password and existence are the directory's (local users have domain `-1`).
fn directory_managed(user: &User) -> bool {
    user.domain_id > 0
}

/// The refusal of a change Secret Server leaves to the user's directory: `400`, before any call.
fn directory_refusal(user: &User, what: &str) -> JobError {
    JobError::Permanent(
        ScimError::mutability(format!(
            "User {} ({:?}) is managed by its directory (Secret Server domain {}): its {what} cannot be changed \
             through Secret Server; change it in the directory",
            user.id, user.user_name, user.domain_id
        ))
        .into(),
    )
}

/// Whether a replace or a PATCH names `password` (read from the request as sent, so that a
/// password the connection may not set is refused before Secret Server is asked anything; the
/// document the change produces is checked again).
fn names_password(req: &adapter_api::Job) -> bool {
    let has_password = |v: &Value| v.as_object().is_some_and(|o| o.keys().any(|k| password::names_password(k)));
    let payload = req.payload();
    match req.operation() {
        Operation::Replace => has_password(payload),
        Operation::Patch => payload
            .as_object()
            .into_iter()
            .flat_map(|o| o.iter())
            .filter(|(k, _)| k.eq_ignore_ascii_case("Operations"))
            .filter_map(|(_, ops)| ops.as_array())
            .flatten()
            .filter_map(Value::as_object)
            .any(|op| {
                password::path_names_password(op)
                    || op.iter().any(|(k, v)| k.eq_ignore_ascii_case("value") && has_password(v))
            }),
        Operation::Create | Operation::Delete => false,
    }
}

/// Revives (or adopts) user `id` with the requested fields; returns it, whether it was a revival,
/// and its audit "before".
async fn revive(ctx: &Ctx<'_>, id: i64, f: &UserFields, deleted: bool) -> JobResult<(User, bool, Value)> {
    let current = ctx.client()?.get_user(id).await?;
    let before = audit_of(&current);
    let user = set_fields(ctx, &current, f, true).await?;
    if deleted {
        tracing::info!(user_id = id, "reviving a user deleted through SCIM");
    }
    Ok((user, deleted, before))
}

async fn update(ctx: &Ctx<'_>, patch: bool) -> JobResult<Applied> {
    let id = ctx.target_id()?;
    ctx.guard_early(Principal::User(id))?;
    if ctx.visible(KIND, id) && names_password(ctx.req) {
        ctx.guard_password(id)?;
    }
    let (current, held) = refresh(ctx, id).await?;
    if !ctx.visible(KIND, id) {
        return Err(not_found(KIND, &id.to_string()));
    }
    ctx.guard(Principal::User(id), &current.user_name).await?;
    ctx.check_if_match(KIND, id)?;
    let current_doc = ctx.render(KIND, id, RenderOptions::default()).ok_or_else(|| not_found(KIND, &id.to_string()))?;
    let before = with_roles(ctx, audit_of(&current), &held);
    let doc = if patch {
        let outcome =
            PatchRequest::parse(ctx.req.payload())?.apply(ctx.schemas(), KIND, &current_doc, &NoMemberLookup)?;
        if !outcome.changed {
            return Ok(Applied {
                kind: KIND,
                id,
                deleted: false,
                members: MemberIds::NONE,
                after: before.clone(),
                before,
            });
        }
        outcome.resource
    } else {
        scim::validate_replace(ctx.schemas(), KIND, ctx.req.payload(), &current_doc)?
    };
    let f = fields(&doc);
    // Renamed as the caller sees the user: its own kept name, or Secret Server's. A name another
    // connection kept is not this caller's to compare with (it never sees it).
    let seen_name = current_doc.get("userName").and_then(Value::as_str).unwrap_or(&current.user_name).to_owned();
    let renamed = fold(&f.user_name) != fold(&seen_name);
    let back_to_secret_servers = fold(&f.user_name) == fold(&current.user_name);
    if directory_managed(&current) {
        if f.password.is_some() {
            return Err(directory_refusal(&current, "password"));
        }
        if renamed && !back_to_secret_servers {
            return Err(directory_refusal(&current, "name"));
        }
    }
    if f.password.is_some() {
        ctx.guard_password(id)?;
    }
    // A PATCH gives the whole resulting document: no `roles` left means none, but one that leaves
    // them as they were changes none (see `roles::unchanged`). A replacement without `roles` keeps
    // them, as it keeps `active`.
    let wanted_roles = match f.roles.clone() {
        _ if patch && roles::unchanged(&doc, &current_doc) => None,
        roles if patch => Some(roles.unwrap_or_default()),
        roles => roles,
    };
    let role_plan = roles::plan(ctx, &held, wanted_roles.as_deref()).await?;
    let mut attrs = f.attrs.clone();
    let display_name_given = f.display_name.is_some();
    if !renamed {
        // Unchanged as the caller sees it: a name it kept stays (see `attributes::carry_over`).
        if !back_to_secret_servers {
            attrs.insert("userName".to_owned(), Value::String(seen_name.clone()));
        }
    } else if !back_to_secret_servers {
        match ctx.caller.connection.policies.user_name_change {
            UserNameChangePolicy::Reject => {
                return Err(ScimError::mutability(format!(
                    "userName cannot change from {:?} to {:?}: Secret Server keeps a user's name for life",
                    seen_name, f.user_name
                ))
                .into());
            }
            UserNameChangePolicy::KeepSecretServerName => {
                // Only this connection sees the name it keeps; it must not show it two users of
                // one name (nor take a name Secret Server gives another user).
                let named = || ctx.instance().model.read(|s| ctx.caller.view(s).user_named(&f.user_name, Some(id)));
                // Only the model knows kept names: read again unless it is the only writer.
                if named().is_some() && (ctx.follow_others().await == Others::Alone || named().is_some()) {
                    return Err(taken(format!("userName {:?} is already taken", f.user_name)));
                }
                attrs.insert("userName".to_owned(), Value::String(f.user_name.clone()));
            }
        }
    }
    let user = set_fields(ctx, &current, &f, false).await?;
    roles::apply(ctx, Holder::User(id), &role_plan).await?;
    let held = role_plan.result;
    let previous_text = ctx.instance().model.read(|s| s.users.get(&id).and_then(|u| u.attrs.clone()));
    // What the caller left unassigned before: its own (see `attributes`).
    let previous = seen_by(previous_text.as_deref(), ctx.caller.connection.id.as_str());
    if patch {
        mark_unassigned(&mut attrs, UNASSIGNABLE, (&doc, &current_doc), &previous, |name| match name {
            "active" => Value::Bool(user.enabled),
            _ => Value::String(user.display_name.clone()),
        });
    } else if !display_name_given {
        // A replacement without `displayName` leaves it unassigned, as a create does.
        mark_display_name_unassigned(&mut attrs, &user.display_name);
    }
    // Last: what this connection left unassigned is its own too.
    carry_over(&mut attrs, previous_text.as_deref(), ctx.caller.connection.id.as_str());
    let attrs = to_text(&attrs);
    ctx.instance().attrs.put(KIND, id, attrs.as_deref()).await?;
    let was_deleted = ctx.instance().model.read(|s| s.users.get(&id).is_some_and(|u| u.deleted));
    let deleted = was_deleted && !user.enabled;
    if was_deleted && !deleted {
        ctx.instance().tombstones.remove(id).await?;
    }
    let after = with_roles(ctx, audit_of(&user), &held);
    write_user(ctx, user, held, attrs, deleted).await?;
    Ok(Applied { kind: KIND, id, deleted: false, members: MemberIds::NONE, before, after })
}

async fn delete(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let id = ctx.target_id()?;
    let instance = ctx.instance();
    if let Some(tombstone) = instance.tombstones.get(id).await?
        && tombstone.job_id == ctx.job_id
    {
        // This job already deleted the user; it was delivered again.
        let after = instance
            .model
            .read(|s| {
                s.users
                    .get(&id)
                    .map(|u| audit_fields(&u.ss.user_name, &u.ss.display_name, u.ss.email.as_deref(), false))
            })
            .unwrap_or(Value::Null);
        return Ok(Applied { kind: KIND, id, deleted: true, members: MemberIds::NONE, before: Value::Null, after });
    }
    ctx.guard_early(Principal::User(id))?;
    let (current, held) = refresh(ctx, id).await?;
    let already_deleted = instance.model.read(|s| s.users.get(&id).is_some_and(|u| u.deleted));
    if already_deleted || !ctx.visible(KIND, id) {
        return Err(not_found(KIND, &id.to_string()));
    }
    ctx.guard(Principal::User(id), &current.user_name).await?;
    // Secret Server refuses to delete a user who is inactive already, as it would an unknown one:
    // an earlier attempt of this job that disabled the user and stopped before its tombstone (its
    // answer lost, or its worker gone) is finished without the call.
    let disabled_before = !current.enabled && ctx.deleted_before(KIND, id).await?;
    // The version an If-Match names is the one before that earlier attempt's own change.
    if !disabled_before {
        ctx.check_if_match(KIND, id)?;
    }
    if directory_managed(&current) {
        return Err(directory_refusal(&current, "existence"));
    }
    if !disabled_before {
        ctx.record_delete(KIND, id).await?;
        if let Err(e) = ctx.client()?.delete_user(id).await {
            disabled_anyway(e, current.enabled, ctx.client()?.get_user(id)).await?;
        }
    }
    let tombstone = Tombstone { user_name: current.user_name.clone(), job_id: ctx.job_id.to_owned(), at: now_millis() };
    instance.tombstones.put(id, &tombstone).await?;
    // An earlier attempt's delete found the user enabled: Secret Server deletes no inactive user.
    let before = audit_of(&User { enabled: current.enabled || disabled_before, ..current.clone() });
    let disabled = User { enabled: false, ..current };
    let after = audit_of(&disabled);
    let attrs = instance.model.read(|s| s.users.get(&id).and_then(|u| u.attrs.clone()));
    write_user(ctx, disabled, held, attrs, true).await?;
    Ok(Applied { kind: KIND, id, deleted: true, members: MemberIds::NONE, before, after })
}

/// After a failed delete of a user who was enabled before the call (`was_enabled`): done when a
/// read shows the user disabled now. The call disabled it before its answer was lost (a timeout, a
/// `5xx`), and the client's retry of it was refused as a delete of an inactive user is. What
/// "disabled" looks like is read from Secret Server's state, not taken from the delete's error
/// (see [`super::gone_anyway`]).
async fn disabled_anyway(
    error: ClientError,
    was_enabled: bool,
    read: impl std::future::Future<Output = Result<User, ClientError>>,
) -> JobResult<()> {
    if !was_enabled {
        return Err(error.into());
    }
    match read.await {
        Ok(user) if !user.enabled => Ok(()),
        Ok(_) => Err(error.into()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn job(operation: Operation, payload: Value) -> adapter_api::Job {
        adapter_api::Job::new("c", KIND, operation, "12", payload).expect("a valid job")
    }

    fn patch(ops: Value) -> adapter_api::Job {
        job(Operation::Patch, json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops}))
    }

    #[test]
    fn a_password_is_seen_in_a_replace_and_in_every_form_of_patch() {
        assert!(names_password(&job(Operation::Replace, json!({"userName": "a", "Password": "x"}))));
        assert!(names_password(&patch(json!([{"op": "replace", "path": "password", "value": "x"}]))));
        assert!(names_password(&patch(json!([{"op": "Replace", "value": {"active": true, "password": "x"}}]))));
        let urn = "urn:ietf:params:scim:schemas:core:2.0:User:password";
        assert!(names_password(&patch(json!([{"op": "add", "path": urn, "value": "x"}]))));
    }

    fn lost_answer() -> ClientError {
        ClientError::NotFound { message: "User not found.".to_owned() }
    }

    fn read_enabled(enabled: bool) -> std::future::Ready<Result<User, ClientError>> {
        std::future::ready(Ok(User { id: 12, enabled, ..User::default() }))
    }

    #[tokio::test]
    async fn a_failed_delete_of_an_enabled_user_that_now_shows_disabled_is_done() {
        assert!(disabled_anyway(lost_answer(), true, read_enabled(false)).await.is_ok());
    }

    #[tokio::test]
    async fn a_failed_delete_is_a_failure_when_the_user_is_still_enabled_or_was_disabled_already() {
        assert!(disabled_anyway(lost_answer(), true, read_enabled(true)).await.is_err());
        assert!(disabled_anyway(lost_answer(), false, read_enabled(false)).await.is_err(), "not this delete's doing");
    }

    #[test]
    fn other_changes_do_not_name_a_password() {
        assert!(!names_password(&job(Operation::Replace, json!({"userName": "a"}))));
        assert!(!names_password(&patch(json!([{"op": "replace", "path": "displayName", "value": "password"}]))));
        assert!(!names_password(&job(Operation::Delete, Value::Null)));
    }
}
