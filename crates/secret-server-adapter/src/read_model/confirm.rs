//! A resync never forgets on a doubtful read. Paging by skip/take while records are deleted shifts
//! pages and skips live records; a Secret Server blip can answer empty lists or short pages. So a
//! record the read model holds that a full read did not return is first read by id: one that
//! Secret Server still has is kept (its fresh copy is added to the read), and only one whose read
//! says it is gone is dropped with the attributes only the connector holds.
//!
//! Before those reads, a resync that would drop more than its bound (a share of the records held,
//! or a number; see [`RemovalBound`]) keeps the read model as it is and reports it: such a read is
//! more likely a blip than a mass deletion. The next resync that finds the same records missing
//! agrees, and they are then confirmed one by one as above.

use super::fetch::{
    Fetched, Interner, folder_perm_ss, folder_ss, group_ss_from_group, secret_perm_ss, secret_ss, user_ss_from_user,
};
use super::state::State;
use futures::{StreamExt, TryStreamExt, stream};
use scim::ResourceKind;
use secret_server_client::{ClientError, SecretServerClient};
use std::collections::HashSet;

/// How many records one resync may drop before it waits for the next one to agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovalBound {
    /// A share of the records held, in percent (default 5).
    pub max_percent: u32,
    /// A number of records (default 1,000).
    pub max_count: usize,
}

impl Default for RemovalBound {
    fn default() -> Self {
        Self { max_percent: 5, max_count: 1000 }
    }
}

impl RemovalBound {
    /// Whether dropping `missing` of `held` records goes beyond the bound (either of its limits).
    pub fn exceeded(&self, missing: usize, held: usize) -> bool {
        let share = held.saturating_mul(self.max_percent as usize) / 100;
        missing > self.max_count || missing > share
    }
}

/// The records `state` holds that `fetched` does not have, by kind and id.
pub fn missing_ids(state: &State, fetched: &Fetched) -> Vec<(ResourceKind, i64)> {
    fn absent<'a, V>(
        kind: ResourceKind,
        held: &'a std::collections::BTreeMap<i64, V>,
        read: HashSet<i64>,
    ) -> impl Iterator<Item = (ResourceKind, i64)> + 'a {
        held.keys().filter(move |id| !read.contains(id)).map(move |id| (kind, *id))
    }
    let mut out = Vec::new();
    out.extend(absent(ResourceKind::User, &state.users, fetched.users.iter().map(|u| u.id).collect()));
    out.extend(absent(ResourceKind::Group, &state.groups, fetched.groups.iter().map(|(g, _)| g.id).collect()));
    out.extend(absent(ResourceKind::Container, &state.folders, fetched.folders.iter().map(|f| f.id).collect()));
    out.extend(absent(
        ResourceKind::ContainerPermission,
        &state.folder_perms,
        fetched.folder_perms.iter().map(|p| p.id).collect(),
    ));
    out.extend(absent(ResourceKind::PrivilegedData, &state.secrets, fetched.secrets.iter().map(|s| s.id).collect()));
    out.extend(absent(
        ResourceKind::PrivilegedDataPermission,
        &state.secret_perms,
        fetched.secret_perms.iter().map(|p| p.id).collect(),
    ));
    out
}

/// One record read by id: still there (its fresh copy), or gone.
enum Read {
    User(super::records::UserSs),
    Group(super::records::GroupSs, Vec<i64>),
    Folder(super::records::FolderSs),
    FolderPerm(super::records::FolderPermSs),
    Secret(super::records::SecretSs),
    SecretPerm(super::records::SecretPermSs),
    /// Still there, but in a shape the read model cannot hold: kept as it was.
    Unreadable(ResourceKind, i64),
    Gone,
}

async fn read_one(client: &SecretServerClient, kind: ResourceKind, id: i64) -> Result<Read, ClientError> {
    let read = match kind {
        ResourceKind::User => match client.get_user(id).await {
            Ok(user) => {
                let mut ss = user_ss_from_user(user);
                ss.roles = super::fetch::direct_roles(client, id).await?;
                Ok(Read::User(ss))
            }
            Err(e) => Err(e),
        },
        ResourceKind::Group => match client.get_group(id).await {
            Ok(group) => {
                let members: Vec<i64> = client.group_members(id).map_ok(|m| m.user_id).try_collect().await?;
                let mut ss = group_ss_from_group(group);
                ss.roles = super::fetch::group_roles(client, id).await?;
                Ok(Read::Group(ss, members))
            }
            Err(e) => Err(e),
        },
        ResourceKind::Container => client.get_folder(id).await.map(|f| Read::Folder(folder_ss(f))),
        ResourceKind::ContainerPermission => client
            .get_folder_permission(id)
            .await
            .map(|p| folder_perm_ss(&p).map_or(Read::Unreadable(kind, id), Read::FolderPerm)),
        ResourceKind::PrivilegedData => {
            client.secret_summary(id).await.map(|s| Read::Secret(secret_ss(s, &mut Interner::default())))
        }
        ResourceKind::PrivilegedDataPermission => client
            .get_secret_permission(id)
            .await
            .map(|p| secret_perm_ss(&p).map_or(Read::Unreadable(kind, id), Read::SecretPerm)),
        // The role catalogue is read whole by every resync, never confirmed one by one.
        ResourceKind::Role => Ok(Read::Unreadable(kind, id)),
    };
    match read {
        Ok(read) => Ok(read),
        Err(e) if e.is_not_found() => Ok(Read::Gone),
        Err(e) => Err(e),
    }
}

/// Reads each of `missing` by id, `concurrency` at a time, and adds those Secret Server still has to
/// `fetched`. Returns how many were confirmed gone and the records still there that could not be
/// read into the read model's shape (the caller keeps them as they are).
///
/// # Errors
/// The first read that fails otherwise than "not found": the resync fails and the read model is
/// left as it was.
pub async fn confirm_missing(
    client: &SecretServerClient,
    missing: Vec<(ResourceKind, i64)>,
    fetched: &mut Fetched,
    concurrency: usize,
) -> Result<(usize, Vec<(ResourceKind, i64)>), ClientError> {
    let reads: Vec<Read> = stream::iter(missing)
        .map(|(kind, id)| read_one(client, kind, id))
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    let (mut gone, mut unreadable) = (0, Vec::new());
    for read in reads {
        match read {
            Read::User(u) => fetched.users.push(u),
            Read::Group(g, members) => fetched.groups.push((g, members)),
            Read::Folder(f) => fetched.folders.push(f),
            Read::FolderPerm(p) => fetched.folder_perms.push(p),
            Read::Secret(s) => fetched.secrets.push(s),
            Read::SecretPerm(p) => fetched.secret_perms.push(p),
            Read::Unreadable(kind, id) => unreadable.push((kind, id)),
            Read::Gone => gone += 1,
        }
    }
    Ok((gone, unreadable))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_either_a_share_or_a_number() {
        let bound = RemovalBound::default();
        assert!(!bound.exceeded(5, 100), "5 % of 100 may go");
        assert!(bound.exceeded(6, 100));
        assert!(bound.exceeded(1001, 1_000_000), "more than 1,000 never goes at once");
        assert!(!bound.exceeded(1000, 1_000_000));
        assert!(!bound.exceeded(0, 0));
        assert!(bound.exceeded(1, 0));
    }
}
