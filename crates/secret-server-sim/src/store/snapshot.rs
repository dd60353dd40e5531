//! The snapshot: the whole state in one JSON document, written at compaction
//! and on clean shutdown, and loaded at start before the journal is replayed.
//!
//! Serialization borrows from the store (no copy of a million memberships);
//! loading goes through [`Store::apply`], so the indexes are rebuilt by the
//! same code that maintains them.

use super::{Change, FolderPermRec, FolderRec, NextIds, SecretPermRec, Store};
use secret_server_api::{Group, Role, SecretSummary, User};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize, Serializer};

/// The format version written in every snapshot.
pub(super) const SNAPSHOT_VERSION: u32 = 1;

/// A domain as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainRec {
    pub id: i64,
    pub name: String,
}

/// A loaded snapshot.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Snapshot {
    pub version: u32,
    /// The sequence number of the last journal record the snapshot includes.
    pub seq: u64,
    pub next: NextIds,
    pub domains: Vec<DomainRec>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    /// `[groupId, userId]` pairs.
    pub memberships: Vec<(i64, i64)>,
    pub folders: Vec<FolderRec>,
    pub folder_permissions: Vec<FolderPermRec>,
    pub secrets: Vec<SecretSummary>,
    pub secret_permissions: Vec<SecretPermRec>,
    /// Absent in snapshots written before the emulator had roles (the built-in ones are added at start).
    pub roles: Vec<Role>,
    /// `[userId, roleId]` pairs: roles assigned to users directly.
    pub user_roles: Vec<(i64, i64)>,
    /// `[groupId, roleId]` pairs.
    pub group_roles: Vec<(i64, i64)>,
    /// `[userId, passwordHash]` pairs (absent in snapshots written before users could sign in).
    pub passwords: Vec<(i64, super::passwords::PasswordHash)>,
}

impl Snapshot {
    /// Rebuilds the store (and its indexes) from this snapshot.
    pub fn into_store(self) -> Store {
        let mut store = Store::new();
        for d in self.domains {
            store.apply(Change::PutDomain { id: d.id, name: d.name });
        }
        for u in self.users {
            store.apply(Change::PutUser(u));
        }
        for g in self.groups {
            store.apply(Change::PutGroup(g));
        }
        for (group_id, user_id) in self.memberships {
            store.apply(Change::AddMember { group_id, user_id });
        }
        // Parents before children is not required: the indexes key on ids only.
        for f in self.folders {
            store.apply(Change::PutFolder(f));
        }
        for p in self.folder_permissions {
            store.apply(Change::PutFolderPermission(p));
        }
        for s in self.secrets {
            store.apply(Change::PutSecret(s));
        }
        for p in self.secret_permissions {
            store.apply(Change::PutSecretPermission(p));
        }
        for r in self.roles {
            store.apply(Change::PutRole(r));
        }
        for (user_id, role_id) in self.user_roles {
            store.apply(Change::AddUserRole { user_id, role_id });
        }
        for (group_id, role_id) in self.group_roles {
            store.apply(Change::AddGroupRole { group_id, role_id });
        }
        for (user_id, password) in self.passwords {
            store.apply(Change::SetPassword { user_id, password });
        }
        // Counters only grow: keep the saved ones (they remember deleted ids).
        let n = &mut store.next;
        n.domain = n.domain.max(self.next.domain);
        n.user = n.user.max(self.next.user);
        n.group = n.group.max(self.next.group);
        n.folder = n.folder.max(self.next.folder);
        n.folder_permission = n.folder_permission.max(self.next.folder_permission);
        n.secret = n.secret.max(self.next.secret);
        n.secret_permission = n.secret_permission.max(self.next.secret_permission);
        store
    }
}

/// Serializes a store as a [`Snapshot`] without copying it.
#[derive(Debug)]
pub struct SnapshotRef<'a> {
    pub store: &'a Store,
    pub seq: u64,
}

/// A sequence serialized from an iterator made on demand.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

impl Serialize for SnapshotRef<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let s = self.store;
        let mut out = serializer.serialize_struct("Snapshot", 15)?;
        out.serialize_field("version", &SNAPSHOT_VERSION)?;
        out.serialize_field("seq", &self.seq)?;
        out.serialize_field("next", &s.next)?;
        out.serialize_field(
            "domains",
            &Seq(|| s.domains.iter().map(|(id, name)| DomainRec { id: *id, name: name.clone() })),
        )?;
        out.serialize_field("users", &Seq(|| s.users.values().map(|e| &e.user)))?;
        out.serialize_field("groups", &Seq(|| s.groups.values()))?;
        out.serialize_field(
            "memberships",
            &Seq(|| s.members.iter().flat_map(|(g, users)| users.iter().map(move |u| (*g, *u)))),
        )?;
        out.serialize_field("folders", &Seq(|| s.folders.values()))?;
        out.serialize_field("folderPermissions", &Seq(|| s.folder_perms.values()))?;
        out.serialize_field("secrets", &Seq(|| s.secrets.values().map(|e| &e.secret)))?;
        out.serialize_field("secretPermissions", &Seq(|| s.secret_perms.values()))?;
        out.serialize_field("roles", &Seq(|| s.roles.values()))?;
        out.serialize_field(
            "userRoles",
            &Seq(|| s.user_roles.iter().flat_map(|(u, roles)| roles.iter().map(move |r| (*u, *r)))),
        )?;
        out.serialize_field(
            "groupRoles",
            &Seq(|| s.group_roles.iter().flat_map(|(g, roles)| roles.iter().map(move |r| (*g, *r)))),
        )?;
        out.serialize_field("passwords", &Seq(|| s.passwords.iter()))?;
        out.end()
    }
}
