//! Bringing the read model in line with what was read from Secret Server, for the first load and
//! for every resync alike: new records are added (with their stored attributes and meta), changed
//! ones replaced, vanished ones removed, and the version of every record whose content may have
//! changed is recomputed. A changed version bumps `lastModified`.
//!
//! Records a worker wrote after the read began are *protected*: the read may predate the write,
//! so the resync leaves them (and their removal) alone; the next resync sees them settled.

use super::fetch::Fetched;
use super::records::{FolderPermRec, FolderRec, GroupRec, Meta, RoleSs, SecretPermRec, SecretRec, UserRec};
use super::state::State;
use crate::meta;
use crate::tombstones::Tombstone;
use scim::ResourceKind;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What the state store holds for records the read model has not seen yet.
#[derive(Debug, Default)]
pub struct Stored {
    pub attrs: HashMap<ResourceKind, HashMap<i64, Box<str>>>,
    pub meta: HashMap<ResourceKind, HashMap<i64, Meta>>,
    pub tombstones: HashMap<i64, Tombstone>,
}

impl Stored {
    fn take_attrs(&mut self, kind: ResourceKind, id: i64) -> Option<Box<str>> {
        self.attrs.get_mut(&kind).and_then(|m| m.remove(&id))
    }

    /// The persisted meta of a record.
    pub fn meta(&self, kind: ResourceKind, id: i64) -> Option<Meta> {
        self.meta.get(&kind).and_then(|m| m.get(&id)).copied()
    }
}

/// What applying changed, for the caller to persist and report.
#[derive(Debug, Default)]
pub struct Applied {
    /// Metas to persist (new records and changed versions).
    pub meta_changes: Vec<(ResourceKind, i64, Meta)>,
    /// Records that no longer exist in Secret Server.
    pub removed: Vec<(ResourceKind, i64)>,
    /// Users deleted through SCIM that were enabled again directly in Secret Server.
    pub tombstones_cleared: Vec<i64>,
    /// Records added.
    pub added: usize,
    /// Records whose version changed (new records excluded).
    pub changed: usize,
}

/// The ids `fetched` would add to `state`, per kind (their stored attributes and meta must be
/// read before [`apply`]).
pub fn new_ids(state: &State, fetched: &Fetched) -> Vec<(ResourceKind, i64)> {
    let mut out = Vec::new();
    out.extend(fetched.users.iter().filter(|u| !state.users.contains_key(&u.id)).map(|u| (ResourceKind::User, u.id)));
    out.extend(
        fetched
            .groups
            .iter()
            .filter(|(g, _)| !state.groups.contains_key(&g.id))
            .map(|(g, _)| (ResourceKind::Group, g.id)),
    );
    out.extend(
        fetched.folders.iter().filter(|f| !state.folders.contains_key(&f.id)).map(|f| (ResourceKind::Container, f.id)),
    );
    out.extend(
        fetched
            .folder_perms
            .iter()
            .filter(|p| !state.folder_perms.contains_key(&p.id))
            .map(|p| (ResourceKind::ContainerPermission, p.id)),
    );
    out.extend(
        fetched
            .secrets
            .iter()
            .filter(|s| !state.secrets.contains_key(&s.id))
            .map(|s| (ResourceKind::PrivilegedData, s.id)),
    );
    out.extend(
        fetched
            .secret_perms
            .iter()
            .filter(|p| !state.secret_perms.contains_key(&p.id))
            .map(|p| (ResourceKind::PrivilegedDataPermission, p.id)),
    );
    out
}

/// A record's version now, its current meta and Secret Server's creation time (Unix ms).
pub fn current_version(state: &State, kind: ResourceKind, id: i64) -> Option<(u64, Meta, Option<i64>)> {
    Some(match kind {
        ResourceKind::User => {
            let rec = state.users.get(&id)?;
            (meta::user_version(rec, state.groups_of(id)), rec.meta, rec.ss.created)
        }
        ResourceKind::Group => {
            let rec = state.groups.get(&id)?;
            (meta::group_version(rec, state.member_digest(id)), rec.meta, rec.ss.created)
        }
        ResourceKind::Container => {
            let rec = state.folders.get(&id)?;
            (meta::folder_version(rec, &state.secrets_in(id)), rec.meta, None)
        }
        ResourceKind::ContainerPermission => {
            let rec = state.folder_perms.get(&id)?;
            (meta::folder_perm_version(rec), rec.meta, None)
        }
        ResourceKind::PrivilegedData => {
            let rec = state.secrets.get(&id)?;
            (meta::secret_version(rec), rec.meta, rec.ss.created)
        }
        ResourceKind::PrivilegedDataPermission => {
            let rec = state.secret_perms.get(&id)?;
            (meta::secret_perm_version(rec), rec.meta, None)
        }
        // A role's meta is computed when asked (`State::meta`), never kept.
        ResourceKind::Role => return None,
    })
}

/// Recomputes one record's version; when it changed (or the record never had meta), sets the new
/// meta and returns it for persisting. `stored` is the persisted meta of a record new to the read
/// model; `now` is Unix milliseconds.
pub fn refresh_meta(state: &mut State, kind: ResourceKind, id: i64, stored: Option<Meta>, now: i64) -> Option<Meta> {
    let (version, current, created_hint) = current_version(state, kind, id)?;
    // A record that has meta keeps it; a new one takes what was persisted, if anything.
    let known = if current.created != 0 { Some(current) } else { stored };
    let next = match known {
        Some(m) if m.version == version => {
            if current != m {
                // Persisted meta adopted as is: nothing new to write.
                state.set_meta(kind, id, m);
            }
            return None;
        }
        Some(m) => Meta { created: m.created, modified: now.max(m.modified), version },
        None => {
            // First sight: it was last modified when it was made, as far as anyone can tell.
            let created = created_hint.unwrap_or(now);
            Meta { created, modified: created, version }
        }
    };
    state.set_meta(kind, id, next);
    Some(next)
}

/// Applies `fetched` to `state` (see the module docs). `protected` tells which records a worker
/// wrote after the read began; `stored` supplies attributes, meta and tombstones of new records.
pub fn apply(
    state: &mut State,
    fetched: Fetched,
    stored: &mut Stored,
    now: i64,
    protected: &dyn Fn(ResourceKind, i64) -> bool,
) -> Applied {
    let mut out = Applied::default();
    let mut touched: HashSet<(ResourceKind, i64)> = HashSet::new();
    let mut is_new: HashSet<(ResourceKind, i64)> = HashSet::new();

    // Roles: a renamed role shows in every User and Group naming it, so their versions change.
    let roles: BTreeMap<i64, RoleSs> = fetched.roles.iter().map(|r| (r.id, r.clone())).collect();
    if roles != state.roles {
        let renamed: HashSet<i64> = state
            .roles
            .iter()
            .filter(|(id, r)| roles.get(id).is_none_or(|now| now.name != r.name))
            .map(|(id, _)| *id)
            .collect();
        for (id, rec) in &state.users {
            if rec.ss.roles.iter().any(|r| renamed.contains(r)) {
                touched.insert((ResourceKind::User, *id));
            }
        }
        for (id, rec) in &state.groups {
            if rec.ss.roles.iter().any(|r| renamed.contains(r)) {
                touched.insert((ResourceKind::Group, *id));
            }
        }
        state.roles = roles;
    }

    // Users.
    let seen: HashSet<i64> = fetched.users.iter().map(|u| u.id).collect();
    for ss in fetched.users {
        let id = ss.id;
        if protected(ResourceKind::User, id) {
            continue;
        }
        match state.users.get(&id) {
            Some(rec) if rec.ss == ss => {}
            Some(rec) => {
                let mut next = rec.clone();
                if next.deleted && ss.enabled {
                    next.deleted = false;
                    out.tombstones_cleared.push(id);
                    // The groups show this member again.
                    touched.extend(state.groups_of(id).iter().map(|g| (ResourceKind::Group, *g)));
                }
                next.ss = ss;
                state.put_user(next);
                touched.insert((ResourceKind::User, id));
            }
            None => {
                let tombstoned = stored.tombstones.remove(&id).is_some();
                if tombstoned && ss.enabled {
                    out.tombstones_cleared.push(id);
                }
                let rec = UserRec {
                    deleted: tombstoned && !ss.enabled,
                    attrs: stored.take_attrs(ResourceKind::User, id),
                    ss,
                    meta: Meta::default(),
                };
                state.put_user(rec);
                touched.insert((ResourceKind::User, id));
                is_new.insert((ResourceKind::User, id));
            }
        }
    }
    let gone: Vec<i64> =
        state.users.keys().copied().filter(|id| !seen.contains(id) && !protected(ResourceKind::User, *id)).collect();
    for id in gone {
        for g in state.groups_of(id).to_vec() {
            touched.insert((ResourceKind::Group, g));
        }
        state.remove_user(id);
        out.removed.push((ResourceKind::User, id));
    }

    // Groups and their members.
    let seen: HashSet<i64> = fetched.groups.iter().map(|(g, _)| g.id).collect();
    for (ss, members) in fetched.groups {
        let id = ss.id;
        if protected(ResourceKind::Group, id) {
            continue;
        }
        match state.groups.get(&id) {
            Some(rec) if rec.ss == ss && rec.members == members => {}
            Some(rec) => {
                let mut changed_users: Vec<i64> = Vec::new();
                if rec.members != members {
                    changed_users.extend(rec.members.iter().filter(|u| members.binary_search(u).is_err()));
                    changed_users.extend(members.iter().filter(|u| rec.members.binary_search(u).is_err()));
                }
                let next = GroupRec { ss, members, attrs: rec.attrs.clone(), meta: rec.meta };
                state.put_group(next);
                touched.insert((ResourceKind::Group, id));
                touched.extend(changed_users.into_iter().map(|u| (ResourceKind::User, u)));
            }
            None => {
                touched.extend(members.iter().map(|u| (ResourceKind::User, *u)));
                let rec =
                    GroupRec { ss, members, attrs: stored.take_attrs(ResourceKind::Group, id), meta: Meta::default() };
                state.put_group(rec);
                touched.insert((ResourceKind::Group, id));
                is_new.insert((ResourceKind::Group, id));
            }
        }
    }
    let gone: Vec<i64> =
        state.groups.keys().copied().filter(|id| !seen.contains(id) && !protected(ResourceKind::Group, *id)).collect();
    for id in gone {
        if let Some(old) = state.remove_group(id) {
            touched.extend(old.members.into_iter().map(|u| (ResourceKind::User, u)));
        }
        out.removed.push((ResourceKind::Group, id));
    }

    // Folders.
    let seen: HashSet<i64> = fetched.folders.iter().map(|f| f.id).collect();
    for ss in fetched.folders {
        let id = ss.id;
        if protected(ResourceKind::Container, id) {
            continue;
        }
        match state.folders.get(&id) {
            Some(rec) if rec.ss == ss => {}
            Some(rec) => {
                let next = FolderRec { ss, attrs: rec.attrs.clone(), meta: rec.meta };
                state.put_folder(next);
                touched.insert((ResourceKind::Container, id));
            }
            None => {
                let rec =
                    FolderRec { ss, attrs: stored.take_attrs(ResourceKind::Container, id), meta: Meta::default() };
                state.put_folder(rec);
                touched.insert((ResourceKind::Container, id));
                is_new.insert((ResourceKind::Container, id));
            }
        }
    }
    let gone: Vec<i64> = state
        .folders
        .keys()
        .copied()
        .filter(|id| !seen.contains(id) && !protected(ResourceKind::Container, *id))
        .collect();
    for id in gone {
        state.remove_folder(id);
        out.removed.push((ResourceKind::Container, id));
    }

    // Folder permissions.
    let seen: HashSet<i64> = fetched.folder_perms.iter().map(|p| p.id).collect();
    for ss in fetched.folder_perms {
        let id = ss.id;
        if protected(ResourceKind::ContainerPermission, id) {
            continue;
        }
        match state.folder_perms.get(&id) {
            Some(rec) if rec.ss == ss => {}
            Some(rec) => {
                let next = FolderPermRec { ss, attrs: rec.attrs.clone(), meta: rec.meta };
                state.put_folder_perm(next);
                touched.insert((ResourceKind::ContainerPermission, id));
            }
            None => {
                let attrs = stored.take_attrs(ResourceKind::ContainerPermission, id);
                state.put_folder_perm(FolderPermRec { ss, attrs, meta: Meta::default() });
                touched.insert((ResourceKind::ContainerPermission, id));
                is_new.insert((ResourceKind::ContainerPermission, id));
            }
        }
    }
    let gone: Vec<i64> = state
        .folder_perms
        .keys()
        .copied()
        .filter(|id| !seen.contains(id) && !protected(ResourceKind::ContainerPermission, *id))
        .collect();
    for id in gone {
        state.remove_folder_perm(id);
        out.removed.push((ResourceKind::ContainerPermission, id));
    }

    // Secrets (a secret that moves or comes and goes changes its folders' versions too).
    let seen: HashSet<i64> = fetched.secrets.iter().map(|s| s.id).collect();
    for ss in fetched.secrets {
        let id = ss.id;
        if protected(ResourceKind::PrivilegedData, id) {
            continue;
        }
        match state.secrets.get(&id) {
            Some(rec) if rec.ss == ss => {}
            Some(rec) => {
                touched.insert((ResourceKind::Container, rec.ss.folder));
                touched.insert((ResourceKind::Container, ss.folder));
                let next = SecretRec { ss, meta: rec.meta };
                state.put_secret(next);
                touched.insert((ResourceKind::PrivilegedData, id));
            }
            None => {
                touched.insert((ResourceKind::Container, ss.folder));
                state.put_secret(SecretRec { ss, meta: Meta::default() });
                touched.insert((ResourceKind::PrivilegedData, id));
                is_new.insert((ResourceKind::PrivilegedData, id));
            }
        }
    }
    let gone: Vec<i64> = state
        .secrets
        .keys()
        .copied()
        .filter(|id| !seen.contains(id) && !protected(ResourceKind::PrivilegedData, *id))
        .collect();
    for id in gone {
        if let Some(old) = state.remove_secret(id) {
            touched.insert((ResourceKind::Container, old.ss.folder));
        }
        out.removed.push((ResourceKind::PrivilegedData, id));
    }

    // Secret permissions.
    let seen: HashSet<i64> = fetched.secret_perms.iter().map(|p| p.id).collect();
    for ss in fetched.secret_perms {
        let id = ss.id;
        if protected(ResourceKind::PrivilegedDataPermission, id) {
            continue;
        }
        match state.secret_perms.get(&id) {
            Some(rec) if rec.ss == ss => {}
            Some(rec) => {
                let next = SecretPermRec { ss, attrs: rec.attrs.clone(), meta: rec.meta };
                state.put_secret_perm(next);
                touched.insert((ResourceKind::PrivilegedDataPermission, id));
            }
            None => {
                let attrs = stored.take_attrs(ResourceKind::PrivilegedDataPermission, id);
                state.put_secret_perm(SecretPermRec { ss, attrs, meta: Meta::default() });
                touched.insert((ResourceKind::PrivilegedDataPermission, id));
                is_new.insert((ResourceKind::PrivilegedDataPermission, id));
            }
        }
    }
    let gone: Vec<i64> = state
        .secret_perms
        .keys()
        .copied()
        .filter(|id| !seen.contains(id) && !protected(ResourceKind::PrivilegedDataPermission, *id))
        .collect();
    for id in gone {
        state.remove_secret_perm(id);
        out.removed.push((ResourceKind::PrivilegedDataPermission, id));
    }

    // Versions last: a user's depends on every group, a folder's on every secret.
    for (kind, id) in touched {
        let fresh = is_new.contains(&(kind, id));
        let stored_meta = if fresh { stored.meta(kind, id) } else { None };
        if let Some(meta) = refresh_meta(state, kind, id, stored_meta, now) {
            out.meta_changes.push((kind, id, meta));
            if fresh {
                out.added += 1;
            } else {
                out.changed += 1;
            }
        } else if fresh {
            out.added += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::records::{GroupSs, UserSs};

    fn user(id: i64, name: &str, enabled: bool) -> UserSs {
        UserSs { enabled, created: Some(1_714_557_600_000), ..UserSs::local(id, name) }
    }

    fn group(id: i64) -> GroupSs {
        GroupSs::local(id, &format!("g{id}"))
    }

    fn fetched(users: Vec<UserSs>, groups: Vec<(GroupSs, Vec<i64>)>) -> Fetched {
        Fetched { users, groups, ..Fetched::default() }
    }

    #[test]
    fn first_load_uses_secret_servers_created_time_and_persists_meta_for_every_record() {
        let mut state = State::default();
        let applied = apply(
            &mut state,
            fetched(vec![user(1, "a", true), user(2, "b", true)], vec![(group(9), vec![1])]),
            &mut Stored::default(),
            2_000_000_000_000,
            &|_, _| false,
        );
        assert_eq!(applied.added, 3);
        assert_eq!(applied.meta_changes.len(), 3);
        assert_eq!(state.users[&1].meta.created, 1_714_557_600_000);
        assert_eq!(state.groups_of(1), &[9]);
    }

    #[test]
    fn a_stored_meta_with_the_same_version_is_kept_across_restarts() {
        let mut first = State::default();
        let load = || fetched(vec![user(1, "a", true)], vec![]);
        apply(&mut first, load(), &mut Stored::default(), 5_000, &|_, _| false);
        let meta = first.users[&1].meta;

        let mut restarted = State::default();
        let mut stored = Stored::default();
        stored.meta.entry(ResourceKind::User).or_default().insert(1, meta);
        let applied = apply(&mut restarted, load(), &mut stored, 9_999_999, &|_, _| false);
        assert_eq!(restarted.users[&1].meta, meta);
        assert!(applied.meta_changes.is_empty());
    }

    #[test]
    fn a_change_seen_by_a_resync_bumps_last_modified_and_the_version() {
        let mut state = State::default();
        let (t1, t2) = (1_800_000_000_000, 1_800_000_009_000);
        apply(&mut state, fetched(vec![user(1, "a", true)], vec![]), &mut Stored::default(), t1, &|_, _| false);
        let before = state.users[&1].meta;
        let mut changed = user(1, "a", true);
        changed.display_name = "Alice".into();
        let applied = apply(&mut state, fetched(vec![changed], vec![]), &mut Stored::default(), t2, &|_, _| false);
        let after = state.users[&1].meta;
        assert_eq!(applied.changed, 1);
        assert_eq!(after.created, before.created);
        assert_eq!(after.modified, t2);
        assert_ne!(after.version, before.version);
    }

    #[test]
    fn a_membership_change_touches_the_group_and_the_user() {
        let mut state = State::default();
        apply(
            &mut state,
            fetched(vec![user(1, "a", true), user(2, "b", true)], vec![(group(9), vec![1])]),
            &mut Stored::default(),
            5_000,
            &|_, _| false,
        );
        let applied = apply(
            &mut state,
            fetched(vec![user(1, "a", true), user(2, "b", true)], vec![(group(9), vec![1, 2])]),
            &mut Stored::default(),
            6_000,
            &|_, _| false,
        );
        let mut changed: Vec<_> = applied.meta_changes.iter().map(|(k, id, _)| (k.name(), *id)).collect();
        changed.sort();
        assert_eq!(changed, vec![("Group", 9), ("User", 2)]);
    }

    #[test]
    fn protected_records_are_neither_replaced_nor_removed() {
        let mut state = State::default();
        apply(&mut state, fetched(vec![user(1, "a", true)], vec![]), &mut Stored::default(), 5_000, &|_, _| false);
        let applied = apply(&mut state, fetched(vec![], vec![]), &mut Stored::default(), 6_000, &|k, id| {
            k == ResourceKind::User && id == 1
        });
        assert!(applied.removed.is_empty());
        assert!(state.users.contains_key(&1));
    }

    #[test]
    fn a_tombstoned_user_enabled_again_in_secret_server_loses_its_tombstone() {
        let mut state = State::default();
        let mut stored = Stored::default();
        stored.tombstones.insert(1, Tombstone { user_name: "a".into(), job_id: "j".into(), at: 1 });
        apply(&mut state, fetched(vec![user(1, "a", false)], vec![]), &mut stored, 5_000, &|_, _| false);
        assert!(state.users[&1].deleted);
        let applied =
            apply(&mut state, fetched(vec![user(1, "a", true)], vec![]), &mut Stored::default(), 6_000, &|_, _| false);
        assert_eq!(applied.tombstones_cleared, vec![1]);
        assert!(!state.users[&1].deleted);
    }
}
