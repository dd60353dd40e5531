//! Containers (folders): create, replace, patch (rename, move, inheritance, secrets moved in and
//! out), delete.
//!
//! Secrets: a PATCH that adds a `privilegedData` value moves that secret into the folder; one that
//! removes a value moves the secret to the connection's `scope.removedSecretsFolder` (`400`
//! without one: a secret is always in some folder); replacing the list does both. Each secret must
//! be visible to the connection where it is now, and the folder it goes to must be within its
//! scope; all of it is checked before the first call. A PUT leaves the folder's secrets where they
//! are (its `privilegedData` is not a request to move them). Metadata only: the move is
//! `PATCH /secrets/{id}/general` with `data.folder` alone.
//!
//! What Secret Server will accept cannot all be checked beforehand (a move needs Edit on the
//! secret and Add Secret on the folder it goes to, as the API account holds them), so the moves
//! are sent before the folder itself is changed, and a refusal (of a move, or then of the folder's
//! change) moves the secrets this attempt moved back where they were, as far as Secret Server lets
//! it: a refused PATCH leaves the folder and its secrets as they were, and its error names any
//! secret that could not be moved back.
//!
//! Scope: a target folder outside the connection's subtrees is `404`; a new parent outside them
//! is `400` ("no such container", exactly as for a parent that does not exist, so that nothing
//! outside the scope can be probed); creating or moving a container to the root is `403` for a
//! connection limited to subtrees (the root is never inside one).

use super::{Applied, Ctx, JobError, JobResult, invalid_value, not_found, taken};
use crate::attributes::{carry_over, seen_by, to_text};
use crate::intents::MemberIds;
use crate::mapping::container::{fields, patch_base};
use crate::mapping::{RenderOptions, mark_unassigned};
use crate::read_model::fetch::{Interner, folder_perm_ss, folder_ss, secret_ss};
use crate::read_model::records::{FolderPermRec, FolderRec, Meta, SecretRec};
use crate::text::fold;
use adapter_api::Operation;
use futures::TryStreamExt;
use scim::patch::NoMemberLookup;
use scim::{PatchRequest, ResourceKind};
use secret_server_api::{Folder, FolderCreateArgs, FolderUpdateArgs, ROOT_FOLDER_ID};
use secret_server_client::{FolderPermissionQuery, FolderQuery};
use serde_json::{Value, json};
use service_error::{ErrorKind, ServiceError};
use std::collections::{BTreeMap, BTreeSet};

const KIND: ResourceKind = ResourceKind::Container;

pub(super) async fn apply(ctx: &Ctx<'_>) -> JobResult<Applied> {
    match ctx.req.operation() {
        Operation::Create => create(ctx).await,
        Operation::Replace => update(ctx, false).await,
        Operation::Patch => update(ctx, true).await,
        Operation::Delete => delete(ctx).await,
    }
}

fn audit(folder: &Folder) -> Value {
    json!({
        "folderName": folder.folder_name,
        "parentFolderId": folder.parent_folder_id,
        "inheritPermissions": folder.inherit_permissions,
    })
}

/// The audit record after a change that moved secrets in and out.
fn audit_moves(folder: &Folder, moves: &SecretMoves) -> Value {
    let mut v = audit(folder);
    if !moves.moved_in.is_empty() {
        v["privilegedDataAdded"] = json!(moves.moved_in);
    }
    if !moves.moved_out.is_empty() {
        v["privilegedDataRemoved"] = json!(moves.moved_out);
        v["removedTo"] = json!(moves.removed_to);
    }
    v
}

/// The secret ids a Container document lists in `privilegedData`.
fn listed_secrets(doc: &Value) -> JobResult<BTreeSet<i64>> {
    let Some(items) = doc.get("privilegedData").and_then(Value::as_array) else { return Ok(BTreeSet::new()) };
    items
        .iter()
        .map(|item| {
            let value = item.get("value").and_then(Value::as_str).unwrap_or_default();
            adapter_api::id::parse(value)
                .ok_or_else(|| invalid_value(format!("privilegedData value {value:?} is not a privileged data id")))
        })
        .collect()
}

/// Secrets a PATCH moves into a folder and out of it, checked and ready to send.
#[derive(Debug, Default)]
struct SecretMoves {
    moved_in: Vec<i64>,
    moved_out: Vec<i64>,
    /// Where `moved_out` go: the connection's `scope.removedSecretsFolder`.
    removed_to: Option<i64>,
    /// The folder each secret to move was in when the moves were planned: where it goes back to
    /// when the change is refused.
    was_in: BTreeMap<i64, i64>,
}

/// A secret this attempt moved, and the folder it was in.
#[derive(Debug, Clone, Copy)]
struct Moved {
    secret: i64,
    from: i64,
    to: i64,
}

/// Reads a secret's metadata fresh into the read model (both the folder it was in and the one it
/// is in now change their `privilegedData`); `None` when Secret Server has no such secret.
async fn refresh_secret(ctx: &Ctx<'_>, id: i64) -> JobResult<Option<i64>> {
    let summary = match ctx.client()?.secret_summary(id).await {
        Ok(s) => s,
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let ss = secret_ss(summary, &mut Interner::default());
    let folder = ss.folder;
    write_secret(ctx, ss).await?;
    Ok(Some(folder))
}

/// Writes a secret's metadata through to the read model, touching the folder it was in and the
/// one it is in now.
async fn write_secret(ctx: &Ctx<'_>, ss: crate::read_model::records::SecretSs) -> JobResult<()> {
    let (id, folder) = (ss.id, ss.folder);
    let before = ctx.instance().model.read(|s| s.secrets.get(&id).map(|x| x.ss.folder));
    let mut touched = vec![(ResourceKind::PrivilegedData, id), (KIND, folder)];
    touched.extend(before.filter(|b| *b != folder).map(|b| (KIND, b)));
    ctx.instance()
        .write_through(&touched, |s| {
            let meta = s.secrets.get(&id).map(|x| x.meta).unwrap_or_default();
            s.put_secret(SecretRec { ss, meta });
        })
        .await?;
    Ok(())
}

/// Checks every secret a PATCH moves, before anything changes: one to move in must exist and be
/// visible to the connection where it is now; one to move out needs the connection's
/// removed-secrets folder, which must exist within its scope. Secrets already where the PATCH
/// wants them are left out.
async fn plan_moves(ctx: &Ctx<'_>, folder: i64, moved_in: &[i64], moved_out: &[i64]) -> JobResult<SecretMoves> {
    let mut moves = SecretMoves::default();
    if (!moved_in.is_empty() || !moved_out.is_empty())
        && !ctx.caller.connection.scope.operations(ResourceKind::PrivilegedData).read
    {
        return Err(JobError::Permanent(ServiceError::new(
            ErrorKind::PermissionDenied,
            "this connection may not read PrivilegedData, so it cannot move secrets in or out of a container",
        )));
    }
    for id in moved_in {
        let now = refresh_secret(ctx, *id).await?;
        let Some(now) = now.filter(|_| ctx.visible(ResourceKind::PrivilegedData, *id)) else {
            return Err(invalid_value(format!("there is no privileged data {id}")));
        };
        if now != folder {
            moves.moved_in.push(*id);
            moves.was_in.insert(*id, now);
        }
    }
    if moved_out.is_empty() {
        return Ok(moves);
    }
    let Some(to) = ctx.caller.connection.scope.removed_secrets_folder else {
        return Err(invalid_value(
            "removing privileged data from a container moves it to the connection's removed-secrets folder \
             (scope.removedSecretsFolder), and this connection has none",
        ));
    };
    if to == folder {
        return Err(invalid_value(format!(
            "container {folder} is the connection's removed-secrets folder: privileged data cannot leave it"
        )));
    }
    if !ctx.instance().model.read(|s| s.folders.contains_key(&to)) {
        match ctx.client()?.get_folder(to).await {
            Ok(f) => write_folder(ctx, f, None).await?,
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !ctx.visible(KIND, to) {
        return Err(invalid_value(format!(
            "the connection's removed-secrets folder {to} is not a container within its scope"
        )));
    }
    for id in moved_out {
        // Gone, or moved elsewhere since the read model saw it here: nothing to take out.
        if refresh_secret(ctx, *id).await? == Some(folder) {
            moves.moved_out.push(*id);
            moves.was_in.insert(*id, folder);
        }
    }
    moves.removed_to = Some(to);
    Ok(moves)
}

/// Moves secret `id` to folder `to`, written through as soon as Secret Server took it.
async fn move_secret(ctx: &Ctx<'_>, id: i64, to: i64) -> JobResult<()> {
    let answer = ctx.client()?.move_secret(id, to).await?;
    let now = answer.folder_id().unwrap_or(to);
    let rec = ctx.instance().model.read(|s| s.secrets.get(&id).map(|x| x.ss.clone()));
    match rec {
        Some(mut ss) => {
            ss.folder = now;
            write_secret(ctx, ss).await?;
        }
        None => drop(refresh_secret(ctx, id).await?),
    }
    Ok(())
}

/// Sends the moves, one secret at a time, each written through as soon as Secret Server took it;
/// returns what this attempt moved. A transient failure part-way leaves the read model as Secret
/// Server is (a retry finds those done and sends the rest); a refusal moves back what this attempt
/// moved before it ([`refused_after_moves`]).
async fn send_moves(ctx: &Ctx<'_>, folder: i64, moves: &SecretMoves) -> JobResult<Vec<Moved>> {
    let out = moves.moved_out.iter().map(|id| (*id, moves.removed_to.unwrap_or(folder)));
    let mut done = Vec::new();
    for (id, to) in moves.moved_in.iter().map(|id| (*id, folder)).chain(out) {
        match move_secret(ctx, id, to).await {
            Ok(()) => done.push(Moved { secret: id, from: moves.was_in.get(&id).copied().unwrap_or(folder), to }),
            Err(JobError::Permanent(e)) => {
                let what = format!("Secret Server refused to move privileged data {id} to container {to}");
                return Err(refused_after_moves(ctx, &done, &what, e).await);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// The error of a change Secret Server refused (`what`, `refused`) after this attempt moved the
/// secrets `done`: they are moved back where they were, last first, as far as Secret Server lets
/// it, and the error says so, naming each secret that stays where it was moved.
async fn refused_after_moves(ctx: &Ctx<'_>, done: &[Moved], what: &str, refused: ServiceError) -> JobError {
    let mut stuck = Vec::new();
    for moved in done.iter().rev() {
        // Only from where this attempt put it: a secret another change has moved on since stays.
        match refresh_secret(ctx, moved.secret).await {
            Ok(Some(now)) if now == moved.to => {}
            Ok(now) => {
                let now = now.map_or_else(|| "gone".to_owned(), |f| format!("in container {f} now"));
                stuck.push(format!(
                    "privileged data {} was not moved back to container {} ({now})",
                    moved.secret, moved.from
                ));
                continue;
            }
            Err(_) => {
                stuck.push(format!(
                    "privileged data {} could not be moved back to container {} (it could not be read)",
                    moved.secret, moved.from
                ));
                continue;
            }
        }
        if let Err(e) = move_secret(ctx, moved.secret, moved.from).await {
            let why = match e {
                JobError::Permanent(e) => e.detail,
                JobError::Transient { .. } => "the move could not be sent to Secret Server".to_owned(),
            };
            tracing::warn!(secret_id = moved.secret, folder_id = moved.from, %why, "cannot move a secret back");
            stuck.push(format!(
                "privileged data {} could not be moved back to container {} ({why})",
                moved.secret, moved.from
            ));
        }
    }
    let outcome = if done.is_empty() {
        "nothing was changed".to_owned()
    } else if stuck.is_empty() {
        "the secrets moved before it were moved back, and nothing was changed".to_owned()
    } else if stuck.len() < done.len() {
        format!(
            "{}; the other secrets moved before it were moved back; the container was not changed",
            stuck.join("; ")
        )
    } else {
        format!("{}; the container was not changed", stuck.join("; "))
    };
    JobError::Permanent(ServiceError { detail: format!("{what}: {}; {outcome}", refused.detail), ..refused })
}

/// Writes a folder through to the read model (keeping its meta), optionally with new attributes.
pub(super) async fn write_folder(ctx: &Ctx<'_>, folder: Folder, attrs: Option<Option<Box<str>>>) -> JobResult<()> {
    let id = folder.id;
    let ss = folder_ss(folder);
    ctx.instance()
        .write_through(&[(KIND, id)], |state| {
            let (old_attrs, meta) =
                state.folders.get(&id).map(|f| (f.attrs.clone(), f.meta)).unwrap_or((None, Meta::default()));
            state.put_folder(FolderRec { ss, attrs: attrs.unwrap_or(old_attrs), meta });
        })
        .await?;
    Ok(())
}

/// Reads the folder fresh from Secret Server into the read model; `404` when it is gone.
pub(super) async fn refresh(ctx: &Ctx<'_>, id: i64) -> JobResult<Folder> {
    match ctx.client()?.get_folder(id).await {
        Ok(folder) => {
            write_folder(ctx, folder.clone(), None).await?;
            Ok(folder)
        }
        Err(e) if e.is_not_found() => {
            forget(ctx, id).await?;
            Err(not_found(KIND, &id.to_string()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Removes a folder and its permissions from the read model.
async fn forget(ctx: &Ctx<'_>, id: i64) -> JobResult<()> {
    let perms = ctx.instance().model.read(|s| s.idx.fperm_by_folder.get(id));
    let mut touched = vec![(KIND, id)];
    touched.extend(perms.iter().map(|p| (ResourceKind::ContainerPermission, *p)));
    ctx.instance()
        .write_through(&touched, |s| {
            s.remove_folder(id);
            for p in &perms {
                s.remove_folder_perm(*p);
            }
        })
        .await?;
    Ok(())
}

/// Reads a folder's permissions fresh from Secret Server into the read model (after a create,
/// which gives the API account an Owner permission, and after inheritance changes).
pub(super) async fn refresh_permissions(ctx: &Ctx<'_>, folder: i64) -> JobResult<()> {
    // Records written after this reading began (by the follower, from a newer reading) stay.
    let read_at = std::time::Instant::now();
    let fresh: Vec<_> = ctx
        .client()?
        .search_folder_permissions(&FolderPermissionQuery::folder(folder))
        .try_collect::<Vec<_>>()
        .await?
        .iter()
        .filter_map(folder_perm_ss)
        .filter(|p| p.folder == folder)
        .collect();
    let known = ctx.instance().model.read(|s| s.idx.fperm_by_folder.get(folder));
    let mut touched: Vec<(ResourceKind, i64)> = known.iter().map(|p| (ResourceKind::ContainerPermission, *p)).collect();
    touched.extend(fresh.iter().map(|p| (ResourceKind::ContainerPermission, p.id)));
    ctx.instance()
        .write_list(read_at, &touched, false, |s, newer| {
            for id in &known {
                if !newer(ResourceKind::ContainerPermission, *id) && !fresh.iter().any(|p| p.id == *id) {
                    s.remove_folder_perm(*id);
                }
            }
            for ss in fresh.iter().filter(|p| !newer(ResourceKind::ContainerPermission, p.id)) {
                let (attrs, meta) =
                    s.folder_perms.get(&ss.id).map(|p| (p.attrs.clone(), p.meta)).unwrap_or((None, Meta::default()));
                s.put_folder_perm(FolderPermRec { ss: *ss, attrs, meta });
            }
        })
        .await?;
    Ok(())
}

/// Checks a (new) parent for the caller: the root needs an unrestricted connection; a folder must
/// exist within the caller's scope.
async fn check_parent(ctx: &Ctx<'_>, parent: i64) -> JobResult<()> {
    if parent == ROOT_FOLDER_ID {
        if ctx.caller.connection.scope.container_subtrees.is_some() {
            return Err(JobError::Permanent(ServiceError::new(
                ErrorKind::PermissionDenied,
                "this connection may only place containers inside its folder subtrees, not at the root",
            )));
        }
        return Ok(());
    }
    if !ctx.instance().model.read(|s| s.folders.contains_key(&parent)) {
        // Perhaps created in Secret Server since the last resync.
        match ctx.client()?.get_folder(parent).await {
            Ok(folder) => write_folder(ctx, folder, None).await?,
            Err(e) if e.is_not_found() => return Err(invalid_value(format!("there is no container {parent}"))),
            Err(e) => return Err(e.into()),
        }
    }
    if !ctx.visible(KIND, parent) {
        return Err(invalid_value(format!("there is no container {parent}")));
    }
    Ok(())
}

async fn find_child(ctx: &Ctx<'_>, parent: i64, name: &str) -> JobResult<Option<Folder>> {
    let wanted = fold(name);
    Ok(ctx
        .client()?
        .search_folders(&FolderQuery::children_of(parent))
        .try_filter(|f| futures::future::ready(f.parent_folder_id == parent && fold(&f.folder_name) == wanted))
        .try_next()
        .await?)
}

async fn create(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let doc = scim::validate_create(ctx.schemas(), KIND, ctx.req.payload())?;
    let f = fields(&doc).map_err(JobError::Permanent)?;
    check_parent(ctx, f.parent).await?;
    let inherit = f.inherit_permissions.unwrap_or(f.parent != ROOT_FOLDER_ID);
    if f.parent == ROOT_FOLDER_ID && inherit {
        return Err(invalid_value("a container at the root cannot inherit permissions"));
    }
    let instance = ctx.instance();
    let key = format!("{}/{}", f.parent, fold(&f.name));
    let earlier = ctx.earlier_create(KIND, &key).await?;
    let read_known = || instance.model.read(|s| s.child_folder_by_name(f.parent, &f.name).map(|x| x.ss.id));
    let mut known = read_known();
    // A name another container holds in the read model: read again once it has followed the other
    // replicas (that container may have been deleted or renamed through one of them a moment ago).
    if known.is_some_and(|id| !earlier.made(id)) {
        known = ctx.recheck(known, read_known).await;
    }
    let detail = format!("a container named {:?} already exists there", f.name);
    let folder = match known {
        Some(id) if earlier.made(id) => ctx.client()?.get_folder(id).await?,
        Some(_) => return Err(taken(detail)),
        None => match find_child(ctx, f.parent, &f.name).await? {
            // Made by an earlier attempt of this job, or someone else's.
            Some(found) if earlier.made(found.id) => ctx.client()?.get_folder(found.id).await?,
            Some(_) => return Err(taken(detail)),
            None => {
                let args = FolderCreateArgs {
                    folder_name: f.name.clone(),
                    parent_folder_id: f.parent,
                    folder_type_id: 1,
                    inherit_permissions: inherit,
                    inherit_secret_policy: f.parent != ROOT_FOLDER_ID,
                    secret_policy_id: None,
                };
                let find = || async {
                    match find_child(ctx, f.parent, &f.name).await? {
                        Some(found) => Ok(Some(ctx.client()?.get_folder(found.id).await?)),
                        None => Ok(None),
                    }
                };
                ctx.create_once(KIND, &key, &detail, |x: &Folder| x.id, ctx.client()?.create_folder(&args), find)
                    .await?
            }
        },
    };
    let mut attrs = f.attrs;
    let previous = instance.model.read(|s| s.folders.get(&folder.id).and_then(|x| x.attrs.clone()));
    carry_over(&mut attrs, previous.as_deref(), ctx.caller.connection.id.as_str());
    let attrs = to_text(&attrs);
    instance.attrs.put(KIND, folder.id, attrs.as_deref()).await?;
    write_folder(ctx, folder.clone(), Some(attrs)).await?;
    refresh_permissions(ctx, folder.id).await?;
    Ok(Applied {
        kind: KIND,
        id: folder.id,
        deleted: false,
        members: MemberIds::NONE,
        before: Value::Null,
        after: audit(&folder),
    })
}

async fn update(ctx: &Ctx<'_>, patch: bool) -> JobResult<Applied> {
    let id = ctx.target_id()?;
    let current = refresh(ctx, id).await?;
    if !ctx.visible(KIND, id) {
        return Err(not_found(KIND, &id.to_string()));
    }
    ctx.check_if_match(KIND, id)?;
    let current_doc = ctx.render(KIND, id, RenderOptions::default()).ok_or_else(|| not_found(KIND, &id.to_string()))?;
    // The new document, and for a PATCH what it applied to (without a `displayName` that only
    // follows the folder's name).
    let (doc, base) = if patch {
        let base = patch_base(current_doc.clone());
        let outcome = PatchRequest::parse(ctx.req.payload())?.apply(ctx.schemas(), KIND, &base, &NoMemberLookup)?;
        if !outcome.changed {
            let same = audit(&current);
            return Ok(Applied {
                kind: KIND,
                id,
                deleted: false,
                members: MemberIds::NONE,
                before: same.clone(),
                after: same,
            });
        }
        (outcome.resource, base)
    } else {
        (scim::validate_replace(ctx.schemas(), KIND, ctx.req.payload(), &current_doc)?, Value::Null)
    };
    let f = fields(&doc).map_err(JobError::Permanent)?;
    let moves = if patch {
        let (before, after) = (listed_secrets(&base)?, listed_secrets(&doc)?);
        let moved_in: Vec<i64> = after.difference(&before).copied().collect();
        let moved_out: Vec<i64> = before.difference(&after).copied().collect();
        plan_moves(ctx, id, &moved_in, &moved_out).await?
    } else {
        SecretMoves::default()
    };
    // The parent a caller cannot see is not in `current_doc`: absent there means "unchanged".
    let parent = if doc.get("parent").is_none() && current_doc.get("parent").is_none() {
        current.parent_folder_id
    } else {
        f.parent
    };
    let moved = parent != current.parent_folder_id;
    if moved {
        check_parent(ctx, parent).await?;
    }
    // An inheritance the PATCH did not touch follows a move; one a request asks for is kept.
    let untouched = |v: &bool| patch && current_doc.get("inheritPermissions") == Some(&Value::Bool(*v));
    let asked = f.inherit_permissions.filter(|v| !(moved && untouched(v)));
    let inherit = asked.unwrap_or(if moved { parent != ROOT_FOLDER_ID } else { current.inherit_permissions });
    if parent == ROOT_FOLDER_ID && inherit {
        return Err(invalid_value("a container at the root cannot inherit permissions"));
    }
    let changed = f.name != current.folder_name || moved || inherit != current.inherit_permissions;
    // Inheriting again drops the folder's own permissions: not those of a protected principal.
    if inherit && !current.inherit_permissions {
        super::permissions::refuse_dropping_protected(ctx, id, parent).await?;
    }
    // The moves first: what Secret Server refuses of them is undone before the folder changes.
    let done = send_moves(ctx, id, &moves).await?;
    let folder = if changed {
        let args = FolderUpdateArgs {
            id,
            folder_name: f.name.clone(),
            folder_type_id: current.folder_type_id,
            parent_folder_id: parent,
            inherit_permissions: inherit,
            inherit_secret_policy: current.inherit_secret_policy && parent != ROOT_FOLDER_ID,
            secret_policy_id: current.secret_policy_id,
        };
        match ctx.client()?.update_folder(&args).await.map_err(JobError::from) {
            Ok(folder) => folder,
            Err(JobError::Permanent(e)) => {
                let what = format!("Secret Server refused the change of container {id}");
                return Err(refused_after_moves(ctx, &done, &what, e).await);
            }
            Err(e) => return Err(e),
        }
    } else {
        current.clone()
    };
    let mut attrs = f.attrs;
    let previous_text = ctx.instance().model.read(|s| s.folders.get(&id).and_then(|x| x.attrs.clone()));
    if patch {
        let previous = seen_by(previous_text.as_deref(), ctx.caller.connection.id.as_str());
        let names = ["displayName", "inheritPermissions"];
        mark_unassigned(&mut attrs, &names, (&doc, &base), &previous, |name| match name {
            "inheritPermissions" => Value::Bool(folder.inherit_permissions),
            _ => Value::String(folder.folder_name.clone()),
        });
    }
    carry_over(&mut attrs, previous_text.as_deref(), ctx.caller.connection.id.as_str());
    let attrs = to_text(&attrs);
    ctx.instance().attrs.put(KIND, id, attrs.as_deref()).await?;
    write_folder(ctx, folder.clone(), Some(attrs)).await?;
    if inherit != current.inherit_permissions {
        refresh_permissions(ctx, id).await?;
    }
    // For a replica following the events stream: the secrets whose folder changed.
    let members = MemberIds { added: moves.moved_in.clone(), removed: moves.moved_out.clone() };
    Ok(Applied {
        kind: KIND,
        id,
        deleted: false,
        members,
        before: audit(&current),
        after: audit_moves(&folder, &moves),
    })
}

async fn delete(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let id = ctx.target_id()?;
    let current = match refresh(ctx, id).await {
        Ok(folder) => folder,
        Err(JobError::Permanent(e)) if e.http_status() == 404 && ctx.deleted_before(KIND, id).await? => {
            return Ok(ctx.already_deleted(KIND, id));
        }
        Err(e) => return Err(e),
    };
    if !ctx.visible(KIND, id) {
        return Err(not_found(KIND, &id.to_string()));
    }
    ctx.check_if_match(KIND, id)?;
    ctx.record_delete(KIND, id).await?;
    if let Err(e) = ctx.client()?.delete_folder(id).await {
        super::gone_anyway(e, ctx.client()?.get_folder(id)).await?;
    }
    forget(ctx, id).await?;
    ctx.instance().attrs.put(KIND, id, None).await?;
    ctx.instance().meta.delete(KIND, id).await?;
    Ok(Applied { kind: KIND, id, deleted: true, members: MemberIds::NONE, before: audit(&current), after: Value::Null })
}
