//! Reading everything the read model holds from Secret Server: users, groups, every group's
//! members, folders, folder permissions, secret metadata and secret permissions, the roles and
//! the roles each user holds directly.
//!
//! Searches are paged; after the first page (which tells the total) the remaining pages are
//! fetched several at a time. Members are read group by group with bounded concurrency (Secret
//! Server has no bulk membership call). The result is plain Secret Server data; the caller turns it
//! into records and compares it with what it holds.

use super::progress::Phase;
use super::records::{FolderPermSs, FolderSs, GroupSs, Principal, RoleSs, SecretPermSs, SecretSs, UserSs};
use crate::text::parse_timestamp_millis;
use futures::{StreamExt, TryStreamExt, stream};
use secret_server_api::{
    Folder, FolderPermission, GroupSummary, PagedResult, SecretPermission, SecretSummary, UserSummary,
};
use secret_server_client::{
    ClientError, FolderPermissionQuery, FolderQuery, GroupQuery, RoleQuery, SecretPermissionQuery, SecretQuery,
    SecretServerClient, UserQuery,
};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

/// Everything read from one Secret Server instance (also what a snapshot of the read model holds).
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Fetched {
    pub users: Vec<UserSs>,
    /// Groups with their member ids.
    pub groups: Vec<(GroupSs, Vec<i64>)>,
    pub folders: Vec<FolderSs>,
    pub folder_perms: Vec<FolderPermSs>,
    pub secrets: Vec<SecretSs>,
    pub secret_perms: Vec<SecretPermSs>,
    /// Every role, disabled ones included.
    pub roles: Vec<RoleSs>,
}

impl Fetched {
    /// Records of every kind, memberships included.
    pub fn record_count(&self) -> usize {
        self.users.len()
            + self.groups.iter().map(|(_, m)| 1 + m.len()).sum::<usize>()
            + self.folders.len()
            + self.folder_perms.len()
            + self.secrets.len()
            + self.secret_perms.len()
    }
}

fn boxed(s: String) -> Box<str> {
    s.into_boxed_str()
}

/// A Secret Server timestamp as Unix milliseconds (8 bytes instead of a string per record).
fn millis(s: Option<String>) -> Option<i64> {
    s.as_deref().and_then(parse_timestamp_millis)
}

fn nonempty(s: Option<String>) -> Option<Box<str>> {
    s.filter(|s| !s.is_empty()).map(String::into_boxed_str)
}

/// From a record of `GET /users`.
pub fn user_ss(u: UserSummary) -> UserSs {
    UserSs {
        id: u.id,
        user_name: boxed(u.user_name),
        display_name: boxed(u.display_name),
        email: nonempty(u.email_address),
        enabled: u.enabled,
        domain_id: u.domain_id,
        created: millis(u.created),
        roles: Box::default(),
        domain_name: directory_text(u.domain_id, u.domain_name),
        ad_guid: None,
    }
}

/// A directory field (a domain's name, an `adGuid`): only for a domain's user or group, and only
/// when not blank.
fn directory_text(domain_id: i64, text: Option<String>) -> Option<Box<str>> {
    text.filter(|t| domain_id > 0 && !t.trim().is_empty()).map(String::into_boxed_str)
}

/// From the full user model (GET / POST / PUT answers).
pub fn user_ss_from_user(u: secret_server_api::User) -> UserSs {
    UserSs {
        id: u.id,
        user_name: boxed(u.user_name),
        display_name: boxed(u.display_name),
        email: nonempty(u.email_address),
        enabled: u.enabled,
        domain_id: u.domain_id,
        created: millis(u.created),
        roles: Box::default(),
        // Filled in by the read model from what it knows of the domain (`State::put_user`).
        domain_name: None,
        ad_guid: directory_text(u.domain_id, u.ad_guid),
    }
}

/// Every role Secret Server has, disabled ones included (`GET /roles`).
///
/// # Errors
/// The classified [`ClientError`].
pub async fn roles(client: &SecretServerClient) -> Result<Vec<RoleSs>, ClientError> {
    let query = RoleQuery { include_inactive: true, ..RoleQuery::default() };
    client
        .search_roles(&query)
        .map_ok(|r| RoleSs { id: r.id, name: r.name.into_boxed_str(), enabled: r.enabled })
        .try_collect()
        .await
}

/// The roles user `id` holds directly, sorted (`GET /users/{userId}/roles-assigned`; a role held
/// only through a group is left out).
///
/// # Errors
/// The classified [`ClientError`] (`NotFound` for a user that is gone).
pub async fn direct_roles(client: &SecretServerClient, id: i64) -> Result<Box<[i64]>, ClientError> {
    let mut held: Vec<i64> = client
        .user_roles_assigned(id)
        .try_filter(|r| futures::future::ready(r.is_direct_assignment))
        .map_ok(|r| r.role_id)
        .try_collect()
        .await?;
    held.sort_unstable();
    held.dedup();
    Ok(held.into_boxed_slice())
}

/// The roles group `id` holds, sorted (`GET /groups/{id}/roles`).
///
/// # Errors
/// The classified [`ClientError`] (`NotFound` for a group that is gone).
pub async fn group_roles(client: &SecretServerClient, id: i64) -> Result<Box<[i64]>, ClientError> {
    let mut held: Vec<i64> = client.group_roles(id).map_ok(|r| r.role_id).try_collect().await?;
    held.sort_unstable();
    held.dedup();
    Ok(held.into_boxed_slice())
}

/// Reads the direct roles of every user, `concurrency` users at a time (Secret Server has no bulk
/// call for it); a user deleted since the user search keeps none.
async fn fetch_user_roles(
    client: &SecretServerClient,
    options: &FetchOptions,
    users: &mut [UserSs],
) -> Result<(), ClientError> {
    let phase = Phase::start(&options.instance, "user roles", options.progress_bars);
    phase.set_total(users.len() as u64);
    let ids: Vec<(usize, i64, bool)> = users.iter().enumerate().map(|(at, u)| (at, u.id, u.domain_id > 0)).collect();
    let mut results = stream::iter(ids)
        .map(|(at, id, directory)| async move {
            // A domain user's `adGuid` is in the user model only (not in search records).
            let ad_guid = if directory {
                match client.get_user(id).await {
                    Ok(user) => directory_text(user.domain_id, user.ad_guid),
                    Err(e) if e.is_not_found() => None,
                    Err(e) => return Err(e),
                }
            } else {
                None
            };
            match direct_roles(client, id).await {
                Ok(roles) => Ok((at, roles, ad_guid)),
                Err(e) if e.is_not_found() => Ok((at, Box::default(), ad_guid)),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some((at, roles, ad_guid)) = results.try_next().await? {
        phase.inc(1);
        users[at].roles = roles;
        users[at].ad_guid = ad_guid;
    }
    phase.finish();
    Ok(())
}

/// From a record of `GET /groups`.
pub fn group_ss(g: &GroupSummary) -> GroupSs {
    GroupSs {
        id: g.id,
        name: g.name.clone().into_boxed_str(),
        enabled: g.enabled,
        domain_id: g.domain_id,
        synchronized: g.synchronized,
        created: g.created.as_deref().and_then(parse_timestamp_millis),
        roles: Box::default(),
        domain_name: directory_text(g.domain_id, g.domain_name.clone()),
        // Search records carry the domain's GUID, not the group's: read by id for a domain group.
        ad_guid: None,
    }
}

/// From the full group model (GET / POST / PUT answers).
pub fn group_ss_from_group(g: secret_server_api::Group) -> GroupSs {
    GroupSs {
        id: g.id,
        name: boxed(g.name),
        enabled: g.enabled,
        domain_id: g.domain_id,
        synchronized: g.synchronized,
        created: millis(g.created),
        roles: Box::default(),
        domain_name: directory_text(g.domain_id, g.domain_name),
        ad_guid: directory_text(g.domain_id, g.ad_guid),
    }
}

/// From the folder model (`-1` or `0` as the parent both mean the root).
pub fn folder_ss(f: Folder) -> FolderSs {
    FolderSs {
        id: f.id,
        name: boxed(f.folder_name),
        parent: if f.parent_folder_id == 0 { secret_server_api::ROOT_FOLDER_ID } else { f.parent_folder_id },
        inherit_permissions: f.inherit_permissions,
        folder_type_id: f.folder_type_id,
        inherit_secret_policy: f.inherit_secret_policy,
        secret_policy_id: f.secret_policy_id,
    }
}

/// A folder permission; `None` when it names neither a user nor a group, or roles Secret Server
/// does not define (it is then left out, with a warning).
pub fn folder_perm_ss(p: &FolderPermission) -> Option<FolderPermSs> {
    let principal = Principal::from_ids(p.user_id, p.group_id);
    let folder_role = p.folder_access_role_name.parse().ok();
    let secret_role = p.secret_access_role_name.parse().ok();
    match (principal, folder_role, secret_role) {
        (Some(principal), Some(folder_role), Some(secret_role)) => {
            Some(FolderPermSs { id: p.id, folder: p.folder_id, principal, folder_role, secret_role })
        }
        _ => {
            tracing::warn!(permission_id = p.id, "skipping a folder permission without principal or known roles");
            None
        }
    }
}

/// A secret permission; `None` without a principal or with an unknown role (left out, with a warning).
pub fn secret_perm_ss(p: &SecretPermission) -> Option<SecretPermSs> {
    let principal = Principal::from_ids(p.user_id, p.group_id);
    match (principal, p.secret_access_role_name.parse().ok()) {
        (Some(principal), Some(role)) => Some(SecretPermSs { id: p.id, secret: p.secret_id, principal, role }),
        _ => {
            tracing::warn!(permission_id = p.id, "skipping a secret permission without principal or known role");
            None
        }
    }
}

/// Interns template and heartbeat names: a handful of values shared by every secret.
#[derive(Debug, Default)]
pub struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    /// The shared copy of `s`.
    pub fn get(&mut self, s: String) -> Arc<str> {
        if let Some(found) = self.0.get(&s) {
            return found.clone();
        }
        let value: Arc<str> = Arc::from(s.as_str());
        self.0.insert(s, value.clone());
        value
    }
}

/// From a record of `GET /secrets` (metadata only).
pub fn secret_ss(s: SecretSummary, interner: &mut Interner) -> SecretSs {
    SecretSs {
        id: s.id,
        name: boxed(s.name),
        folder: s.folder_id,
        template_id: s.secret_template_id,
        template_name: interner.get(s.secret_template_name),
        active: s.active,
        checked_out: s.checked_out,
        last_accessed: millis(s.last_accessed),
        heartbeat: s.last_heart_beat_status.filter(|h| !h.is_empty()).map(|h| interner.get(h)),
        created: millis(s.create_date),
        inherits_permissions: s.inherits_permissions,
    }
}

/// Every record of a paged search, each turned by `map` into what the read model keeps as soon as
/// its page arrives (so that the bulky wire models of a whole search never pile up): the first
/// page, then the rest `concurrency` at a time, in order.
async fn all_pages<T, U, F, Fut, M>(
    page_size: u32,
    concurrency: usize,
    phase: &Phase,
    count_total: bool,
    fetch: F,
    map: M,
) -> Result<Vec<U>, ClientError>
where
    F: Fn(i64, i64) -> Fut,
    Fut: Future<Output = Result<PagedResult<T>, ClientError>>,
    M: Fn(T) -> Option<U>,
{
    let take = i64::from(page_size.max(1));
    let first = fetch(0, take).await?;
    if count_total {
        phase.set_total(u64::try_from(first.total).unwrap_or(0));
    }
    // The server may cap `take`; the first page tells the real page size.
    let step = i64::try_from(first.records.len()).unwrap_or(i64::MAX);
    let mut more = first.has_next && step > 0;
    let total = first.total;
    phase.inc(first.records.len() as u64);
    let mut out: Vec<U> = Vec::with_capacity(usize::try_from(total).unwrap_or(0).min(1 << 24));
    out.extend(first.records.into_iter().filter_map(&map));
    if !more {
        out.shrink_to_fit();
        return Ok(out);
    }
    let skips: Vec<i64> = (1..).map(|i| i * step).take_while(|skip| *skip < total).collect();
    let mut next = step;
    let mut pages = stream::iter(skips)
        .map(|skip| {
            let page = fetch(skip, step);
            async move { page.await.map(|p| (skip, p)) }
        })
        .buffered(concurrency.max(1));
    while let Some((skip, page)) = pages.try_next().await? {
        let received = page.records.len();
        phase.inc(received as u64);
        next = skip + i64::try_from(received).unwrap_or(0);
        more = page.has_next && received > 0;
        out.extend(page.records.into_iter().filter_map(&map));
    }
    drop(pages);
    // The total grew while paging (or the server does not count): read on one page at a time.
    while more {
        let page = fetch(next, step).await?;
        let received = page.records.len();
        phase.inc(received as u64);
        more = page.has_next && received > 0;
        next += i64::try_from(received).unwrap_or(0);
        out.extend(page.records.into_iter().filter_map(&map));
    }
    out.shrink_to_fit();
    Ok(out)
}

/// How a load reads: page size, concurrency and progress display.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub instance: String,
    pub concurrency: usize,
    pub progress_bars: bool,
    /// How many records one resync may drop before it waits for the next one to agree.
    pub removal_bound: super::confirm::RemovalBound,
}

/// Reads everything from one instance.
///
/// # Errors
/// The first Secret Server failure (the caller retries the whole load later).
pub async fn fetch_all(client: &SecretServerClient, options: &FetchOptions) -> Result<Fetched, ClientError> {
    let page = client.page_size();
    let conc = options.concurrency;
    let bars = options.progress_bars;
    let name = options.instance.as_str();

    let phase = Phase::start(name, "users", bars);
    let users = all_pages(
        page,
        conc,
        &phase,
        true,
        |skip, take| {
            let query = UserQuery::everyone();
            async move { client.users_page(&query, skip, take).await }
        },
        |u| Some(user_ss(u)),
    )
    .await?;
    phase.finish();

    let mut users = users;
    let roles = roles(client).await?;
    fetch_user_roles(client, options, &mut users).await?;

    let phase = Phase::start(name, "groups", bars);
    let group_summaries = all_pages(
        page,
        conc,
        &phase,
        true,
        |skip, take| {
            let query = GroupQuery::everyone();
            async move { client.groups_page(&query, skip, take).await }
        },
        |g| Some((group_ss(&g), g.member_count)),
    )
    .await?;
    phase.finish();

    let groups = fetch_members(client, options, group_summaries).await?;

    let phase = Phase::start(name, "folders", bars);
    let folders = all_pages(
        page,
        conc,
        &phase,
        true,
        |skip, take| {
            let query = FolderQuery::default();
            async move { client.folders_page(&query, skip, take).await }
        },
        |f| Some(folder_ss(f)),
    )
    .await?;
    phase.finish();

    let phase = Phase::start(name, "folder permissions", bars);
    let folder_perms = match all_pages(
        page,
        conc,
        &phase,
        true,
        |skip, take| {
            let query = FolderPermissionQuery::default();
            async move { client.folder_permissions_page(&query, skip, take).await }
        },
        |p| folder_perm_ss(&p),
    )
    .await
    {
        Ok(perms) => perms,
        // Some Secret Server versions insist on a filter: read folder by folder instead.
        Err(ClientError::BadRequest { .. }) => {
            let ids: Vec<i64> = folders.iter().map(|f| f.id).collect();
            per_parent(ids, conc, &phase, |folder| {
                client.search_folder_permissions(&FolderPermissionQuery::folder(folder)).try_collect::<Vec<_>>()
            })
            .await?
            .iter()
            .filter_map(folder_perm_ss)
            .collect()
        }
        Err(e) => return Err(e),
    };
    phase.finish();

    let phase = Phase::start(name, "secrets", bars);
    let interner = parking_lot::Mutex::new(Interner::default());
    let secrets = all_pages(
        page,
        conc,
        &phase,
        true,
        |skip, take| {
            let query = SecretQuery { include_inactive: true, ..SecretQuery::default() };
            async move { client.secrets_page(&query, skip, take).await }
        },
        |s| Some(secret_ss(s, &mut interner.lock())),
    )
    .await?;
    phase.finish();

    let phase = Phase::start(name, "secret permissions", bars);
    let secret_perms = match all_pages(
        page,
        conc,
        &phase,
        true,
        |skip, take| {
            let query = SecretPermissionQuery::default();
            async move { client.secret_permissions_page(&query, skip, take).await }
        },
        |p| secret_perm_ss(&p),
    )
    .await
    {
        Ok(perms) => perms,
        Err(ClientError::BadRequest { .. }) => {
            let ids: Vec<i64> = secrets.iter().map(|s| s.id).collect();
            per_parent(ids, conc, &phase, |secret| {
                client.search_secret_permissions(&SecretPermissionQuery::secret(secret)).try_collect::<Vec<_>>()
            })
            .await?
            .iter()
            .filter_map(secret_perm_ss)
            .collect()
        }
        Err(e) => return Err(e),
    };
    phase.finish();

    Ok(Fetched { users, groups, folders, folder_perms, secrets, secret_perms, roles })
}

/// Runs `fetch` for every parent id, `concurrency` at a time, and concatenates the results.
async fn per_parent<T, F, Fut>(
    ids: Vec<i64>,
    concurrency: usize,
    phase: &Phase,
    fetch: F,
) -> Result<Vec<T>, ClientError>
where
    F: Fn(i64) -> Fut,
    Fut: Future<Output = Result<Vec<T>, ClientError>>,
{
    let mut out = Vec::new();
    let mut results = stream::iter(ids).map(&fetch).buffer_unordered(concurrency.max(1));
    while let Some(batch) = results.try_next().await? {
        phase.inc(batch.len() as u64);
        out.extend(batch);
    }
    Ok(out)
}

/// Reads the members of every group, `concurrency` groups at a time.
async fn fetch_members(
    client: &SecretServerClient,
    options: &FetchOptions,
    groups: Vec<(GroupSs, i64)>,
) -> Result<Vec<(GroupSs, Vec<i64>)>, ClientError> {
    let phase = Phase::start(&options.instance, "memberships", options.progress_bars);
    phase.set_total(groups.iter().map(|(_, count)| u64::try_from(*count).unwrap_or(0)).sum());
    let page = client.page_size();
    let phase_ref = &phase;
    let mut out = Vec::with_capacity(groups.len());
    let mut results = stream::iter(groups)
        .map(|(mut group, _)| async move {
            let members = all_pages(
                page,
                1,
                phase_ref,
                false,
                |skip, take| {
                    let id = group.id;
                    async move { client.group_members_page(id, skip, take).await }
                },
                |m| Some(m.user_id),
            )
            .await;
            // The group's roles with its members: one more call per group, in the same slot.
            let members = match members {
                Ok(ids) => group_roles(client, group.id).await.map(|roles| (ids, roles)),
                Err(e) => Err(e),
            };
            // A domain group's `adGuid` is in the group model only.
            let members = match members {
                Ok(found) if group.domain_id > 0 => {
                    client.get_group(group.id).await.map(|g| (found, directory_text(g.domain_id, g.ad_guid)))
                }
                Ok(found) => Ok((found, None)),
                Err(e) => Err(e),
            };
            match members {
                Ok(((mut ids, roles), ad_guid)) => {
                    ids.sort_unstable();
                    ids.dedup();
                    group.roles = roles;
                    group.ad_guid = ad_guid;
                    Ok(Some((group, ids)))
                }
                // Deleted between the group search and this read: it is simply gone.
                Err(e) if e.is_not_found() => Ok(None),
                Err(e) => Err(e),
            }
        })
        .buffer_unordered(options.concurrency.max(1));
    while let Some(group) = results.try_next().await? {
        out.extend(group);
    }
    phase.finish();
    Ok(out)
}
