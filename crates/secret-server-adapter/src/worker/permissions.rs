//! ContainerPermissions (folder permissions) and PrivilegedDataPermissions (secret permissions):
//! create, replace, patch (rights Add/Remove/Set), delete.
//!
//! Rights go through the connection's rights mapping ([`crate::mapping::rights`]). A principal
//! has at most one permission per folder or secret in Secret Server: a second create for the same
//! one is `409 uniqueness` (change the existing permission instead), unless it is this job's own
//! earlier delivery, which is adopted. Granting on a folder (or secret) that inherits its
//! permissions follows the connection's `inheritedFolder` policy: break inheritance (Secret Server
//! first copies the inherited permissions onto it; the read model reloads them), or refuse with
//! `400`.
//!
//! Whom a permission is for matters as much as where it is: a permission whose principal the
//! connection cannot see (its principal scope limits reads) is `404` like a missing one, and one of
//! a protected principal ([`crate::principals`]: the connector's API account, the listed users and
//! groups, the console group and its members, the administrator role's holders) cannot be changed
//! or revoked (`403`), so that no connection can lock the connector out of a folder or change what
//! an administrator may do. Both are decided before anything changes.

use super::containers::{refresh as refresh_folder, refresh_permissions};
use super::unseen::{self, Unseen};
use super::{Applied, Ctx, JobError, JobResult, Others, invalid_value, not_found, taken};
use crate::attributes::{carry_over, to_text};
use crate::intents::MemberIds;
use crate::mapping::RenderOptions;
use crate::mapping::container_permission::{PermissionFields, fields};
use crate::mapping::rights::{folder_roles_for, secret_role_for};
use crate::principals::Protected;
use crate::read_model::fetch::{Interner, secret_perm_ss, secret_ss};
use crate::read_model::records::{
    FolderPermRec, FolderPermSs, Meta, Principal, SecretPermRec, SecretPermSs, SecretRec,
};
use adapter_api::Operation;
use connections::{FolderRoles, InheritedFolderPolicy};
use futures::TryStreamExt;
use scim::patch::NoMemberLookup;
use scim::{PatchRequest, ResourceKind};
use secret_server_api::{
    FolderPermissionCreateArgs, FolderPermissionUpdateArgs, SecretPermissionCreateArgs, SecretPermissionUpdateArgs,
};
use secret_server_client::SecretPermissionQuery;
use serde_json::{Value, json};
use service_error::{ErrorKind, ServiceError};

const FOLDER_PERM: ResourceKind = ResourceKind::ContainerPermission;
const SECRET_PERM: ResourceKind = ResourceKind::PrivilegedDataPermission;

fn principal_json(p: Principal) -> Value {
    match p {
        Principal::User(u) => json!({"userId": u}),
        Principal::Group(g) => json!({"groupId": g}),
    }
}

fn folder_audit(ss: &FolderPermSs) -> Value {
    let mut v = json!({
        "folderId": ss.folder,
        "folderAccessRoleName": ss.folder_role.as_str(),
        "secretAccessRoleName": ss.secret_role.as_str(),
    });
    if let (Some(o), Value::Object(p)) = (v.as_object_mut(), principal_json(ss.principal)) {
        o.extend(p);
    }
    v
}

fn secret_audit(ss: &SecretPermSs) -> Value {
    let mut v = json!({"secretId": ss.secret, "secretAccessRoleName": ss.role.as_str()});
    if let (Some(o), Value::Object(p)) = (v.as_object_mut(), principal_json(ss.principal)) {
        o.extend(p);
    }
    v
}

fn principal_text(p: Principal) -> String {
    match p {
        Principal::User(u) => format!("user {u}"),
        Principal::Group(g) => format!("group {g}"),
    }
}

/// Checks that a permission's principal exists for the caller and, for a user, is enabled. A
/// refusal the read model gives is read again once it has followed the other replicas; a
/// principal it has not seen yet is read from Secret Server (see [`unseen`]) and returned, for the
/// read model to learn of once the grant is made. A grant names only principals the caller can
/// see: one outside a principal scope that limits reads is refused like a missing one.
async fn check_principal(ctx: &Ctx<'_>, principal: Principal) -> JobResult<Option<Unseen>> {
    let missing = || invalid_value(format!("there is no {}", principal_text(principal)));
    let held = || {
        ctx.instance().model.read(|s| match principal {
            Principal::User(u) => s.users.get(&u).map(|x| x.ss.enabled),
            Principal::Group(g) => s.groups.contains_key(&g).then_some(true),
        })
    };
    let (kind, id) = match principal {
        Principal::User(u) => (ResourceKind::User, u),
        Principal::Group(g) => (ResourceKind::Group, g),
    };
    let seen = |enabled: Option<bool>| enabled.map(|enabled| (ctx.visible(kind, id), enabled));
    let mut known = seen(held());
    if known.is_some_and(|(visible, enabled)| !(visible && enabled)) {
        known = ctx.recheck(known, || seen(held())).await;
    }
    let (unseen, visible, enabled) = match known {
        Some((visible, enabled)) => (None, visible, enabled),
        None => match unseen::read(ctx, principal).await? {
            Some(read) => {
                let (visible, enabled) = (read.visible(ctx), read.enabled());
                (Some(read), visible, enabled)
            }
            None => return Err(missing()),
        },
    };
    if !visible {
        return Err(missing());
    }
    if !enabled {
        return Err(invalid_value(format!("user {id} is inactive; Secret Server grants access to active users only")));
    }
    Ok(unseen)
}

/// The read model learns of a principal [`check_principal`] read from Secret Server, once the
/// grant naming it is made.
async fn remember(ctx: &Ctx<'_>, unseen: Option<Unseen>) -> JobResult<()> {
    unseen::learn(ctx, unseen).await
}

/// The name the read model holds for `principal`, if it knows it.
fn known_name(ctx: &Ctx<'_>, principal: Principal) -> Option<String> {
    ctx.instance().model.read(|s| match principal {
        Principal::User(u) => s.users.get(&u).map(|x| x.ss.user_name.to_string()),
        Principal::Group(g) => s.groups.get(&g).map(|x| x.ss.name.to_string()),
    })
}

/// Whether `principal`, called `name` in Secret Server, is protected by its name alone (the API
/// account, listed for the instance, the console group).
fn protected_by_name(ctx: &Ctx<'_>, principal: Principal, name: &str) -> Option<Protected> {
    let protection = &ctx.instance().protection;
    match principal {
        Principal::User(_) => protection.user_by_name(name),
        Principal::Group(_) => protection.group_by_name(name),
    }
}

/// The `403` of a change to a permission of protected principal `principal`.
fn protected_refusal(principal: Principal, why: &Protected) -> JobError {
    let (kind, id) = match principal {
        Principal::User(u) => (ResourceKind::User, u),
        Principal::Group(g) => (ResourceKind::Group, g),
    };
    JobError::Permanent(ServiceError::new(
        ErrorKind::PermissionDenied,
        format!(
            "{} {id} is a protected principal ({why}): no connection may change or revoke its permissions",
            kind.name()
        ),
    ))
}

/// Before folder `folder` inherits the permissions of `parent` (its parent from now on) again,
/// which drops its own in Secret Server: refused when one of them is a protected principal's that
/// the folder would not get back from `parent` with the same roles, as revoking it directly is.
pub(super) async fn refuse_dropping_protected(ctx: &Ctx<'_>, folder: i64, parent: i64) -> JobResult<()> {
    let own: Vec<FolderPermSs> = ctx
        .client()?
        .search_folder_permissions(&secret_server_client::FolderPermissionQuery::folder(folder))
        .try_collect::<Vec<_>>()
        .await?
        .iter()
        .filter_map(crate::read_model::fetch::folder_perm_ss)
        .filter(|p| p.folder == folder && !inherited_alike(ctx, parent, p))
        .collect();
    for permission in own {
        refuse_protected(ctx, permission.principal).await?;
    }
    Ok(())
}

/// Whether folder `at` holds the principal and roles of `p`, on itself or through the folders it
/// inherits from (as the read model knows them).
fn inherited_alike(ctx: &Ctx<'_>, mut at: i64, p: &FolderPermSs) -> bool {
    ctx.instance().model.read(|s| {
        // The depth bound guards against a cycle in data changed mid-resync (as `folder_path`).
        for _ in 0..256 {
            let held = s.idx.fperm_by_folder.get(at).iter().filter_map(|id| s.folder_perms.get(id)).any(|r| {
                r.ss.principal == p.principal && r.ss.folder_role == p.folder_role && r.ss.secret_role == p.secret_role
            });
            if held {
                return true;
            }
            match s.folders.get(&at) {
                Some(f) if f.ss.inherit_permissions => at = f.ss.parent,
                _ => return false,
            }
        }
        false
    })
}

/// Before any Secret Server call: refuses a change to permission `id` of kind `P` when the read
/// model already shows its principal protected by name. A permission the caller cannot see is
/// left to the `404` that follows, and anything else to [`refuse_protected`].
fn refuse_protected_early<P: PermissionKind>(ctx: &Ctx<'_>, id: i64) -> JobResult<()> {
    if !ctx.visible(P::KIND, id) {
        return Ok(());
    }
    let Some(principal) = ctx.instance().model.read(|s| P::principal_in(s, id)) else { return Ok(()) };
    match known_name(ctx, principal).and_then(|name| protected_by_name(ctx, principal, &name)) {
        Some(why) => Err(protected_refusal(principal, &why)),
        None => Ok(()),
    }
}

/// Refuses a change to a permission of `principal` when it is a protected principal, as a change
/// to the principal itself is refused (`worker::guard`): by its name (read from Secret Server
/// when the read model has not seen it; nothing is written), then asking Secret Server whether it
/// holds the administrator role or, for a user, is a member of the console group. The principal
/// scope's reach is not asked: a grant may name any principal the caller can see, and so may a
/// change.
async fn refuse_protected(ctx: &Ctx<'_>, principal: Principal) -> JobResult<()> {
    let name = match known_name(ctx, principal) {
        Some(name) => name,
        None => {
            let read = match principal {
                Principal::User(u) => ctx.client()?.get_user(u).await.map(|x| x.user_name),
                Principal::Group(g) => ctx.client()?.get_group(g).await.map(|x| x.name),
            };
            match read {
                Ok(name) => name,
                // Secret Server has no such principal: nobody to protect.
                Err(e) if e.is_not_found() => return Ok(()),
                Err(e) => return Err(e.into()),
            }
        }
    };
    if let Some(why) = protected_by_name(ctx, principal, &name) {
        return Err(protected_refusal(principal, &why));
    }
    match ctx.instance().protection.asked_of(ctx.client()?, principal.into()).await? {
        Some(why) => Err(protected_refusal(principal, &why)),
        None => Ok(()),
    }
}

/// Stores a permission's attributes and writes them onto its record.
async fn store_attrs(ctx: &Ctx<'_>, kind: ResourceKind, id: i64, f: &PermissionFields) -> JobResult<()> {
    let previous = ctx.instance().model.read(|s| match kind {
        ResourceKind::ContainerPermission => s.folder_perms.get(&id).and_then(|p| p.attrs.clone()),
        _ => s.secret_perms.get(&id).and_then(|p| p.attrs.clone()),
    });
    let mut attrs = f.attrs.clone();
    carry_over(&mut attrs, previous.as_deref(), ctx.caller.connection.id.as_str());
    let attrs = to_text(&attrs);
    ctx.instance().attrs.put(kind, id, attrs.as_deref()).await?;
    ctx.instance()
        .write_through(&[(kind, id)], |s| match kind {
            ResourceKind::ContainerPermission => {
                if let Some(rec) = s.folder_perms.get(&id).cloned() {
                    s.put_folder_perm(FolderPermRec { attrs, ..rec });
                }
            }
            _ => {
                if let Some(rec) = s.secret_perms.get(&id).cloned() {
                    s.put_secret_perm(SecretPermRec { attrs, ..rec });
                }
            }
        })
        .await?;
    Ok(())
}

fn inherited_refused(what: &str) -> JobError {
    invalid_value(format!(
        "{what} inherits its permissions; this connection's policy is to refuse grants there \
         (set the policy to break inheritance, or grant on the parent)"
    ))
}

// ----- folder permissions -----

pub(super) async fn apply_folder(ctx: &Ctx<'_>) -> JobResult<Applied> {
    match ctx.req.operation() {
        Operation::Create => create_folder_perm(ctx).await,
        Operation::Replace => update::<FolderPermission>(ctx, false).await,
        Operation::Patch => update::<FolderPermission>(ctx, true).await,
        Operation::Delete => delete::<FolderPermission>(ctx).await,
    }
}

/// The `409` detail of a permission `principal` already holds on `target` `id`.
fn exists_detail(principal: Principal, target: &str, id: i64) -> String {
    format!("{} already has a permission on {target} {id}; change that permission instead", principal_text(principal))
}

async fn create_folder_perm(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let doc = scim::validate_create(ctx.schemas(), FOLDER_PERM, ctx.req.payload())?;
    let f = fields(&doc, "container").map_err(JobError::Permanent)?;
    let folder_id = f.target;
    let no_container = || invalid_value(format!("there is no container {folder_id}"));
    if !ctx.instance().model.read(|s| s.folders.contains_key(&folder_id)) {
        match refresh_folder(ctx, folder_id).await {
            Ok(_) => {}
            Err(JobError::Permanent(e)) if e.http_status() == 404 => return Err(no_container()),
            Err(e) => return Err(e),
        }
    }
    if !ctx.visible(ResourceKind::Container, folder_id) {
        return Err(no_container());
    }
    let roles = folder_roles_for(&ctx.caller.connection.rights, &f.rights).map_err(JobError::Permanent)?;
    let unseen = check_principal(ctx, f.principal).await?;
    let instance = ctx.instance();
    let key = format!("{folder_id}/{:?}", f.principal);
    let earlier = ctx.earlier_create(FOLDER_PERM, &key).await?;
    let read_existing = || instance.model.read(|s| s.folder_perm_of(folder_id, f.principal).map(|p| p.ss));
    let mut existing = read_existing();
    // A grant the read model holds: read again once it has followed the other replicas (it may
    // have been revoked through one of them a moment ago).
    if let Some(p) = existing.filter(|p| !earlier.made(p.id)) {
        existing = match ctx.follow_others().await {
            Others::Alone => existing,
            Others::Followed => read_existing(),
            Others::Unknown => match ctx.client()?.get_folder_permission(p.id).await {
                Ok(_) => existing,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            },
        };
    }
    let exists_error = || taken(exists_detail(f.principal, "container", folder_id));
    let id = match existing {
        Some(p) if earlier.made(p.id) => {
            set_folder_roles(ctx, &p, roles).await?;
            p.id
        }
        Some(_) => return Err(exists_error()),
        None => {
            let read_inherits =
                || instance.model.read(|s| s.folders.get(&folder_id).is_some_and(|x| x.ss.inherit_permissions));
            let mut inherits = read_inherits();
            if inherits && ctx.caller.connection.policies.inherited_folder == InheritedFolderPolicy::Refuse {
                // Read again once the read model has followed the other replicas (a grant made
                // through one of them may have broken the inheritance a moment ago).
                inherits = match ctx.follow_others().await {
                    Others::Alone => inherits,
                    Others::Followed => read_inherits(),
                    Others::Unknown => ctx.client()?.get_folder(folder_id).await?.inherit_permissions,
                };
                if inherits {
                    return Err(inherited_refused(&format!("container {folder_id}")));
                }
            }
            let args = FolderPermissionCreateArgs {
                folder_id,
                user_id: f.principal.user_id(),
                group_id: f.principal.group_id(),
                folder_access_role_name: roles.folder.as_str().to_owned(),
                secret_access_role_name: roles.secret.as_str().to_owned(),
                break_inheritance: inherits,
            };
            let client = ctx.client()?;
            let call = async { client.create_folder_permission(&args).await.map(|p| p.id) };
            let find = || async {
                refresh_permissions(ctx, folder_id).await?;
                Ok(instance.model.read(|s| s.folder_perm_of(folder_id, f.principal).map(|p| p.ss.id)))
            };
            let detail = exists_detail(f.principal, "container", folder_id);
            let created = ctx.create_once(FOLDER_PERM, &key, &detail, |id: &i64| *id, call, find).await?;
            let created = Some(created).filter(|id| *id > 0);
            if inherits {
                // Inheritance broke: the folder changed and holds copies of what it inherited.
                refresh_folder(ctx, folder_id).await?;
            }
            refresh_permissions(ctx, folder_id).await?;
            match created {
                Some(id) => id,
                None => instance
                    .model
                    .read(|s| s.folder_perm_of(folder_id, f.principal).map(|p| p.ss.id))
                    .ok_or_else(exists_error)?,
            }
        }
    };
    remember(ctx, unseen).await?;
    store_attrs(ctx, FOLDER_PERM, id, &f).await?;
    let after = instance.model.read(|s| s.folder_perms.get(&id).map(|p| folder_audit(&p.ss))).unwrap_or(Value::Null);
    Ok(Applied { kind: FOLDER_PERM, id, deleted: false, members: MemberIds::NONE, before: Value::Null, after })
}

/// Gives permission `current` the roles `roles` in Secret Server and the read model.
async fn set_folder_roles(ctx: &Ctx<'_>, current: &FolderPermSs, roles: FolderRoles) -> JobResult<FolderPermSs> {
    if current.folder_role == roles.folder && current.secret_role == roles.secret {
        return Ok(*current);
    }
    let args = FolderPermissionUpdateArgs {
        id: current.id,
        folder_id: current.folder,
        folder_access_role_name: roles.folder.as_str().to_owned(),
        secret_access_role_name: roles.secret.as_str().to_owned(),
        break_inheritance: false,
    };
    let updated = ctx.client()?.update_folder_permission(&args).await?;
    let next = FolderPermSs {
        folder_role: updated.folder_access_role_name.parse().unwrap_or(roles.folder),
        secret_role: updated.secret_access_role_name.parse().unwrap_or(roles.secret),
        ..*current
    };
    write_folder_perm(ctx, next).await?;
    Ok(next)
}

async fn write_folder_perm(ctx: &Ctx<'_>, ss: FolderPermSs) -> JobResult<()> {
    ctx.instance()
        .write_through(&[(FOLDER_PERM, ss.id)], |s| {
            let (attrs, meta) =
                s.folder_perms.get(&ss.id).map(|p| (p.attrs.clone(), p.meta)).unwrap_or((None, Meta::default()));
            s.put_folder_perm(FolderPermRec { ss, attrs, meta });
        })
        .await?;
    Ok(())
}

/// Reads a folder permission fresh from Secret Server; `404` when it is gone.
async fn refresh_folder_perm(ctx: &Ctx<'_>, id: i64) -> JobResult<FolderPermSs> {
    let fresh = match ctx.client()?.get_folder_permission(id).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => {
            ctx.instance().write_through(&[(FOLDER_PERM, id)], |s| drop(s.remove_folder_perm(id))).await?;
            return Err(not_found(FOLDER_PERM, &id.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let known = ctx.instance().model.read(|s| s.folder_perms.get(&id).map(|p| p.ss));
    // The short response shape of some versions lacks the folder or the principal: keep what is known.
    let ss = match (crate::read_model::fetch::folder_perm_ss(&fresh), known) {
        (Some(ss), _) if ss.folder > 0 => ss,
        (_, Some(known)) => FolderPermSs {
            folder_role: fresh.folder_access_role_name.parse().unwrap_or(known.folder_role),
            secret_role: fresh.secret_access_role_name.parse().unwrap_or(known.secret_role),
            ..known
        },
        _ => return Err(not_found(FOLDER_PERM, &id.to_string())),
    };
    write_folder_perm(ctx, ss).await?;
    Ok(ss)
}

// ----- secret permissions -----

pub(super) async fn apply_secret(ctx: &Ctx<'_>) -> JobResult<Applied> {
    match ctx.req.operation() {
        Operation::Create => create_secret_perm(ctx).await,
        Operation::Replace => update::<SecretPermission>(ctx, false).await,
        Operation::Patch => update::<SecretPermission>(ctx, true).await,
        Operation::Delete => delete::<SecretPermission>(ctx).await,
    }
}

/// Reads a secret's metadata fresh into the read model; `404` when it is gone.
async fn refresh_secret(ctx: &Ctx<'_>, id: i64) -> JobResult<()> {
    let summary = match ctx.client()?.secret_summary(id).await {
        Ok(s) => s,
        Err(e) if e.is_not_found() => {
            ctx.instance().write_through(&[(ResourceKind::PrivilegedData, id)], |s| drop(s.remove_secret(id))).await?;
            return Err(not_found(ResourceKind::PrivilegedData, &id.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let ss = secret_ss(summary, &mut Interner::default());
    let folder = ss.folder;
    ctx.instance()
        .write_through(&[(ResourceKind::PrivilegedData, id), (ResourceKind::Container, folder)], |s| {
            let meta = s.secrets.get(&id).map(|x| x.meta).unwrap_or_default();
            s.put_secret(SecretRec { ss, meta });
        })
        .await?;
    Ok(())
}

/// Reads a secret's permissions fresh into the read model.
async fn refresh_secret_permissions(ctx: &Ctx<'_>, secret: i64) -> JobResult<()> {
    // Records written after this reading began (by the follower, from a newer reading) stay.
    let read_at = std::time::Instant::now();
    let fresh: Vec<SecretPermSs> = ctx
        .client()?
        .search_secret_permissions(&SecretPermissionQuery::secret(secret))
        .try_collect::<Vec<_>>()
        .await?
        .iter()
        .filter_map(secret_perm_ss)
        .filter(|p| p.secret == secret)
        .collect();
    let known = ctx.instance().model.read(|s| s.idx.sperm_by_secret.get(secret));
    let mut touched: Vec<(ResourceKind, i64)> = known.iter().map(|p| (SECRET_PERM, *p)).collect();
    touched.extend(fresh.iter().map(|p| (SECRET_PERM, p.id)));
    ctx.instance()
        .write_list(read_at, &touched, false, |s, newer| {
            for id in &known {
                if !newer(SECRET_PERM, *id) && !fresh.iter().any(|p| p.id == *id) {
                    s.remove_secret_perm(*id);
                }
            }
            for ss in fresh.iter().filter(|p| !newer(SECRET_PERM, p.id)) {
                let (attrs, meta) =
                    s.secret_perms.get(&ss.id).map(|p| (p.attrs.clone(), p.meta)).unwrap_or((None, Meta::default()));
                s.put_secret_perm(SecretPermRec { ss: *ss, attrs, meta });
            }
        })
        .await?;
    Ok(())
}

async fn create_secret_perm(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let doc = scim::validate_create(ctx.schemas(), SECRET_PERM, ctx.req.payload())?;
    let f = fields(&doc, "privilegedData").map_err(JobError::Permanent)?;
    let secret_id = f.target;
    let no_secret = || invalid_value(format!("there is no privileged data {secret_id}"));
    if !ctx.instance().model.read(|s| s.secrets.contains_key(&secret_id)) {
        match refresh_secret(ctx, secret_id).await {
            Ok(()) => {}
            Err(JobError::Permanent(e)) if e.http_status() == 404 => return Err(no_secret()),
            Err(e) => return Err(e),
        }
    }
    if !ctx.visible(ResourceKind::PrivilegedData, secret_id) {
        return Err(no_secret());
    }
    let role = secret_role_for(&ctx.caller.connection.rights, &f.rights).map_err(JobError::Permanent)?;
    let unseen = check_principal(ctx, f.principal).await?;
    let instance = ctx.instance();
    let key = format!("{secret_id}/{:?}", f.principal);
    let earlier = ctx.earlier_create(SECRET_PERM, &key).await?;
    let read_existing = || instance.model.read(|s| s.secret_perm_of(secret_id, f.principal).map(|p| p.ss));
    let mut existing = read_existing();
    // A grant the read model holds: read again once it has followed the other replicas (it may
    // have been revoked through one of them a moment ago).
    if let Some(p) = existing.filter(|p| !earlier.made(p.id)) {
        existing = match ctx.follow_others().await {
            Others::Alone => existing,
            Others::Followed => read_existing(),
            Others::Unknown => match ctx.client()?.get_secret_permission(p.id).await {
                Ok(_) => existing,
                Err(e) if e.is_not_found() => None,
                Err(e) => return Err(e.into()),
            },
        };
    }
    let exists_error = || taken(exists_detail(f.principal, "privileged data", secret_id));
    let id = match existing {
        Some(p) if earlier.made(p.id) => {
            set_secret_role(ctx, &p, role).await?;
            p.id
        }
        Some(_) => return Err(exists_error()),
        None => {
            let read_inherits =
                || instance.model.read(|s| s.secrets.get(&secret_id).is_some_and(|x| x.ss.inherits_permissions));
            let mut inherits = read_inherits();
            if inherits && ctx.caller.connection.policies.inherited_folder == InheritedFolderPolicy::Refuse {
                // Read again once the read model has followed the other replicas.
                inherits = match ctx.follow_others().await {
                    Others::Alone => inherits,
                    Others::Followed => read_inherits(),
                    Others::Unknown => ctx.client()?.secret_summary(secret_id).await?.inherits_permissions,
                };
                if inherits {
                    return Err(inherited_refused(&format!("privileged data {secret_id}")));
                }
            }
            let args = SecretPermissionCreateArgs {
                secret_id,
                user_id: f.principal.user_id(),
                group_id: f.principal.group_id(),
                secret_access_role_name: role.as_str().to_owned(),
            };
            let client = ctx.client()?;
            let call = async { client.create_secret_permission(&args).await.map(|p| p.id) };
            let find = || async {
                refresh_secret_permissions(ctx, secret_id).await?;
                Ok(instance.model.read(|s| s.secret_perm_of(secret_id, f.principal).map(|p| p.ss.id)))
            };
            let detail = exists_detail(f.principal, "privileged data", secret_id);
            let created = ctx.create_once(SECRET_PERM, &key, &detail, |id: &i64| *id, call, find).await?;
            let created = Some(created).filter(|id| *id > 0);
            // Secret Server broke the secret's inheritance if it had any: reload both.
            refresh_secret(ctx, secret_id).await?;
            refresh_secret_permissions(ctx, secret_id).await?;
            match created {
                Some(id) => id,
                None => instance
                    .model
                    .read(|s| s.secret_perm_of(secret_id, f.principal).map(|p| p.ss.id))
                    .ok_or_else(exists_error)?,
            }
        }
    };
    remember(ctx, unseen).await?;
    store_attrs(ctx, SECRET_PERM, id, &f).await?;
    let after = instance.model.read(|s| s.secret_perms.get(&id).map(|p| secret_audit(&p.ss))).unwrap_or(Value::Null);
    Ok(Applied { kind: SECRET_PERM, id, deleted: false, members: MemberIds::NONE, before: Value::Null, after })
}

async fn write_secret_perm(ctx: &Ctx<'_>, ss: SecretPermSs) -> JobResult<()> {
    ctx.instance()
        .write_through(&[(SECRET_PERM, ss.id)], |s| {
            let (attrs, meta) =
                s.secret_perms.get(&ss.id).map(|p| (p.attrs.clone(), p.meta)).unwrap_or((None, Meta::default()));
            s.put_secret_perm(SecretPermRec { ss, attrs, meta });
        })
        .await?;
    Ok(())
}

async fn set_secret_role(
    ctx: &Ctx<'_>,
    current: &SecretPermSs,
    role: secret_server_api::SecretAccessRole,
) -> JobResult<SecretPermSs> {
    if current.role == role {
        return Ok(*current);
    }
    let args = SecretPermissionUpdateArgs {
        id: current.id,
        secret_id: current.secret,
        secret_access_role_name: role.as_str().to_owned(),
    };
    let updated = ctx.client()?.update_secret_permission(&args).await?;
    let next = SecretPermSs { role: updated.secret_access_role_name.parse().unwrap_or(role), ..*current };
    write_secret_perm(ctx, next).await?;
    Ok(next)
}

async fn refresh_secret_perm(ctx: &Ctx<'_>, id: i64) -> JobResult<SecretPermSs> {
    let fresh = match ctx.client()?.get_secret_permission(id).await {
        Ok(p) => p,
        Err(e) if e.is_not_found() => {
            ctx.instance().write_through(&[(SECRET_PERM, id)], |s| drop(s.remove_secret_perm(id))).await?;
            return Err(not_found(SECRET_PERM, &id.to_string()));
        }
        Err(e) => return Err(e.into()),
    };
    let known = ctx.instance().model.read(|s| s.secret_perms.get(&id).map(|p| p.ss));
    let ss = match (secret_perm_ss(&fresh), known) {
        (Some(ss), _) if ss.secret > 0 => ss,
        (_, Some(known)) => SecretPermSs { role: fresh.secret_access_role_name.parse().unwrap_or(known.role), ..known },
        _ => return Err(not_found(SECRET_PERM, &id.to_string())),
    };
    write_secret_perm(ctx, ss).await?;
    Ok(ss)
}

// ----- what both kinds share: replace, patch and delete -----

/// What tells a folder permission from a secret permission in the flows they share.
trait PermissionKind {
    const KIND: ResourceKind;
    /// The SCIM attribute naming the permission's target.
    const TARGET: &'static str;
    /// Secret Server's side of the permission.
    type Ss: Copy;

    fn audit(ss: &Self::Ss) -> Value;
    /// Whom the permission is for.
    fn principal(ss: &Self::Ss) -> Principal;
    /// Whom permission `id` is for, as the read model holds it.
    fn principal_in(state: &crate::read_model::state::State, id: i64) -> Option<Principal>;
    /// Reads the permission fresh from Secret Server into the read model; `404` when it is gone.
    async fn refresh(ctx: &Ctx<'_>, id: i64) -> JobResult<Self::Ss>;
    /// Gives the permission the roles the connection maps `rights` to.
    async fn set_rights(ctx: &Ctx<'_>, current: &Self::Ss, rights: &[String]) -> JobResult<Self::Ss>;
    async fn delete_in_secret_server(ctx: &Ctx<'_>, id: i64) -> Result<(), secret_server_client::ClientError>;
    fn forget(state: &mut crate::read_model::state::State, id: i64);
}

struct FolderPermission;

impl PermissionKind for FolderPermission {
    const KIND: ResourceKind = FOLDER_PERM;
    const TARGET: &'static str = "container";
    type Ss = FolderPermSs;

    fn audit(ss: &FolderPermSs) -> Value {
        folder_audit(ss)
    }
    fn principal(ss: &FolderPermSs) -> Principal {
        ss.principal
    }
    fn principal_in(state: &crate::read_model::state::State, id: i64) -> Option<Principal> {
        state.folder_perms.get(&id).map(|p| p.ss.principal)
    }
    async fn refresh(ctx: &Ctx<'_>, id: i64) -> JobResult<FolderPermSs> {
        refresh_folder_perm(ctx, id).await
    }
    async fn set_rights(ctx: &Ctx<'_>, current: &FolderPermSs, rights: &[String]) -> JobResult<FolderPermSs> {
        let roles = folder_roles_for(&ctx.caller.connection.rights, rights).map_err(JobError::Permanent)?;
        set_folder_roles(ctx, current, roles).await
    }
    async fn delete_in_secret_server(ctx: &Ctx<'_>, id: i64) -> Result<(), secret_server_client::ClientError> {
        // The caller checked the lease just before.
        ctx.caller.instance.client.delete_folder_permission(id).await.map(drop)
    }
    fn forget(state: &mut crate::read_model::state::State, id: i64) {
        drop(state.remove_folder_perm(id));
    }
}

struct SecretPermission;

impl PermissionKind for SecretPermission {
    const KIND: ResourceKind = SECRET_PERM;
    const TARGET: &'static str = "privilegedData";
    type Ss = SecretPermSs;

    fn audit(ss: &SecretPermSs) -> Value {
        secret_audit(ss)
    }
    fn principal(ss: &SecretPermSs) -> Principal {
        ss.principal
    }
    fn principal_in(state: &crate::read_model::state::State, id: i64) -> Option<Principal> {
        state.secret_perms.get(&id).map(|p| p.ss.principal)
    }
    async fn refresh(ctx: &Ctx<'_>, id: i64) -> JobResult<SecretPermSs> {
        refresh_secret_perm(ctx, id).await
    }
    async fn set_rights(ctx: &Ctx<'_>, current: &SecretPermSs, rights: &[String]) -> JobResult<SecretPermSs> {
        let role = secret_role_for(&ctx.caller.connection.rights, rights).map_err(JobError::Permanent)?;
        set_secret_role(ctx, current, role).await
    }
    async fn delete_in_secret_server(ctx: &Ctx<'_>, id: i64) -> Result<(), secret_server_client::ClientError> {
        // The caller checked the lease just before.
        ctx.caller.instance.client.delete_secret_permission(id).await.map(drop)
    }
    fn forget(state: &mut crate::read_model::state::State, id: i64) {
        drop(state.remove_secret_perm(id));
    }
}

/// Replace or PATCH: only the rights can change (the target and the principal are immutable).
/// Refused when the caller cannot see the permission (its folder or its principal: `404`), or
/// its principal is protected (`403`).
async fn update<P: PermissionKind>(ctx: &Ctx<'_>, patch: bool) -> JobResult<Applied> {
    let (kind, id) = (P::KIND, ctx.target_id()?);
    refuse_protected_early::<P>(ctx, id)?;
    let current = P::refresh(ctx, id).await?;
    if !ctx.visible(kind, id) {
        return Err(not_found(kind, &id.to_string()));
    }
    refuse_protected(ctx, P::principal(&current)).await?;
    ctx.check_if_match(kind, id)?;
    let current_doc = ctx.render(kind, id, RenderOptions::default()).ok_or_else(|| not_found(kind, &id.to_string()))?;
    let doc = if patch {
        let outcome =
            PatchRequest::parse(ctx.req.payload())?.apply(ctx.schemas(), kind, &current_doc, &NoMemberLookup)?;
        if !outcome.changed {
            let same = P::audit(&current);
            return Ok(Applied {
                kind,
                id,
                deleted: false,
                members: MemberIds::NONE,
                before: same.clone(),
                after: same,
            });
        }
        outcome.resource
    } else {
        scim::validate_replace(ctx.schemas(), kind, ctx.req.payload(), &current_doc)?
    };
    let f = fields(&doc, P::TARGET).map_err(JobError::Permanent)?;
    let next = P::set_rights(ctx, &current, &f.rights).await?;
    store_attrs(ctx, kind, id, &f).await?;
    Ok(Applied {
        kind,
        id,
        deleted: false,
        members: MemberIds::NONE,
        before: P::audit(&current),
        after: P::audit(&next),
    })
}

/// Revokes the permission in Secret Server; a delivery after it was already revoked succeeds.
/// Refused as [`update`] is.
async fn delete<P: PermissionKind>(ctx: &Ctx<'_>) -> JobResult<Applied> {
    let (kind, id) = (P::KIND, ctx.target_id()?);
    refuse_protected_early::<P>(ctx, id)?;
    let current = match P::refresh(ctx, id).await {
        Ok(p) => p,
        Err(JobError::Permanent(e)) if e.http_status() == 404 && ctx.deleted_before(kind, id).await? => {
            return Ok(ctx.already_deleted(kind, id));
        }
        Err(e) => return Err(e),
    };
    if !ctx.visible(kind, id) {
        return Err(not_found(kind, &id.to_string()));
    }
    refuse_protected(ctx, P::principal(&current)).await?;
    ctx.check_if_match(kind, id)?;
    ctx.record_delete(kind, id).await?;
    ctx.check_lease()?;
    if let Err(e) = P::delete_in_secret_server(ctx, id).await {
        // Done when a read by id shows it gone (not taken from the delete's error code).
        match P::refresh(ctx, id).await {
            Err(JobError::Permanent(gone)) if gone.http_status() == 404 => {}
            Ok(_) => return Err(e.into()),
            Err(other) => return Err(other),
        }
    }
    ctx.instance().write_through(&[(kind, id)], |s| P::forget(s, id)).await?;
    ctx.instance().attrs.put(kind, id, None).await?;
    ctx.instance().meta.delete(kind, id).await?;
    Ok(Applied { kind, id, deleted: true, members: MemberIds::NONE, before: P::audit(&current), after: Value::Null })
}
