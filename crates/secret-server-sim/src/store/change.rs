//! The mutations of the emulator's state: what the journal records and what
//! replay applies. Every request that changes state is planned as a list of
//! changes first (validation only), journaled, then applied; so what replay
//! rebuilds is exactly what the live emulator held.

use super::records::{FolderPermRec, FolderRec, SecretPermRec};
use secret_server_api::{Group, Role, SecretSummary, User};
use serde::{Deserialize, Serialize};

/// One mutation. Deletions cascade inside [`super::Store::apply`] (deterministically),
/// so a group with many members is one small journal record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
pub enum Change {
    /// Create or replace a domain (id, name).
    PutDomain { id: i64, name: String },
    /// Create or replace a user (users are never removed, only disabled).
    PutUser(User),
    /// Create or replace a group.
    PutGroup(Group),
    /// Remove a group with its memberships and permissions.
    DeleteGroup { id: i64 },
    /// Add one membership.
    AddMember { group_id: i64, user_id: i64 },
    /// Remove one membership.
    RemoveMember { group_id: i64, user_id: i64 },
    /// Create or replace (rename, move, change inheritance of) a folder.
    PutFolder(FolderRec),
    /// Remove an empty folder and its permissions.
    DeleteFolder { id: i64 },
    /// Create or replace a folder permission.
    PutFolderPermission(FolderPermRec),
    /// Remove a folder permission.
    DeleteFolderPermission { id: i64 },
    /// Create or replace a secret's metadata.
    PutSecret(SecretSummary),
    /// Create or replace a secret permission.
    PutSecretPermission(SecretPermRec),
    /// Remove a secret permission.
    DeleteSecretPermission { id: i64 },
    /// Create or replace a role (the built-in ones, at start).
    PutRole(Role),
    /// Assign a role to a user directly.
    AddUserRole { user_id: i64, role_id: i64 },
    /// Take a directly assigned role from a user.
    RemoveUserRole { user_id: i64, role_id: i64 },
    /// Assign a role to a group (its members hold it).
    AddGroupRole { group_id: i64, role_id: i64 },
    /// Take a role from a group.
    RemoveGroupRole { group_id: i64, role_id: i64 },
    /// Set the password a user signs in with (its salted hash; the clear text is never journaled).
    SetPassword { user_id: i64, password: super::passwords::PasswordHash },
}
