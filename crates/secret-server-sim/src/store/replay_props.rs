//! Property: whatever sequence of requests is made (accepted or refused), replaying the changes
//! they journaled rebuilds the same state, and so does a snapshot round trip; the indexes answer
//! the same queries in all three.

use super::search::{Paging, Sort};
use super::users::UserFilter;
use super::{Change, Snapshot, SnapshotRef, Store};
use crate::config::PasswordPolicy;
use proptest::prelude::*;
use secret_server_api::{
    FolderCreateArgs, FolderPermissionCreateArgs, FolderUpdateArgs, GroupCreateArgs, GroupUpdateArgs, UserCreateArgs,
};

#[derive(Debug, Clone)]
enum Op {
    CreateUser(u8),
    DeleteUser(i64),
    CreateGroup(u8),
    RenameGroup(i64, u8),
    DeleteGroup(i64),
    AddMember(i64, i64),
    RemoveMember(i64, i64),
    ReplaceMembers(i64, Vec<i64>),
    CreateFolder(i64, u8, bool),
    UpdateFolder(i64, i64, u8, bool),
    DeleteFolder(i64),
    AddPermission(i64, bool, i64, bool),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 1i64..8;
    prop_oneof![
        (0u8..6).prop_map(Op::CreateUser),
        id.clone().prop_map(Op::DeleteUser),
        (0u8..6).prop_map(Op::CreateGroup),
        (id.clone(), 0u8..6).prop_map(|(g, n)| Op::RenameGroup(g, n)),
        id.clone().prop_map(Op::DeleteGroup),
        (id.clone(), id.clone()).prop_map(|(g, u)| Op::AddMember(g, u)),
        (id.clone(), id.clone()).prop_map(|(g, u)| Op::RemoveMember(g, u)),
        (id.clone(), proptest::collection::vec(id.clone(), 0..4)).prop_map(|(g, us)| Op::ReplaceMembers(g, us)),
        (-1i64..6, 0u8..4, any::<bool>()).prop_map(|(p, n, i)| Op::CreateFolder(p, n, i)),
        (id.clone(), -1i64..6, 0u8..4, any::<bool>()).prop_map(|(f, p, n, i)| Op::UpdateFolder(f, p, n, i)),
        id.clone().prop_map(Op::DeleteFolder),
        (id.clone(), any::<bool>(), id, any::<bool>()).prop_map(|(f, g, p, b)| Op::AddPermission(f, g, p, b)),
    ]
}

/// Plans one request against `store`; a refused request plans nothing.
fn plan(store: &Store, op: &Op) -> Vec<Change> {
    let policy = PasswordPolicy::default();
    // Folder and permission rules are what replay exercises, not access: user 1 sees everything.
    let admin = super::Viewer { user_id: 1, unlimited: true };
    let result = match op.clone() {
        Op::CreateUser(n) => store
            .plan_create_user(
                UserCreateArgs {
                    user_name: format!("user{n}"),
                    password: Some("Valid-Passw0rd!".to_owned()),
                    enabled: true,
                    ..UserCreateArgs::default()
                },
                &policy,
            )
            .map(|(c, _)| c),
        Op::DeleteUser(u) => store.plan_delete_user(u, 0, false).map(|(c, _)| c),
        Op::CreateGroup(n) => store
            .plan_create_group(GroupCreateArgs {
                name: format!("group{n}"),
                enabled: true,
                ..GroupCreateArgs::default()
            })
            .map(|(c, _)| c),
        Op::RenameGroup(g, n) => store
            .plan_update_group(
                g,
                GroupUpdateArgs { id: g, name: format!("Group{n}"), enabled: true, ..GroupUpdateArgs::default() },
            )
            .map(|(c, _)| c),
        Op::DeleteGroup(g) => store.plan_delete_group(g).map(|(c, _)| c),
        Op::AddMember(g, u) => store.plan_add_member(g, u),
        Op::RemoveMember(g, u) => store.plan_remove_member(g, u).map(|(c, _)| c),
        Op::ReplaceMembers(g, us) => store.plan_replace_members(g, &us),
        Op::CreateFolder(parent, n, inherit) => store
            .plan_create_folder(
                FolderCreateArgs {
                    folder_name: format!("folder{n}"),
                    parent_folder_id: parent,
                    inherit_permissions: inherit,
                    ..FolderCreateArgs::default()
                },
                admin,
                true,
            )
            .map(|(c, _)| c),
        Op::UpdateFolder(f, parent, n, inherit) => store
            .plan_update_folder(
                admin,
                f,
                FolderUpdateArgs {
                    id: f,
                    folder_name: format!("folder{n}"),
                    parent_folder_id: parent,
                    folder_type_id: 1,
                    inherit_permissions: inherit,
                    ..FolderUpdateArgs::default()
                },
                true,
            )
            .map(|(c, _)| c),
        Op::DeleteFolder(f) => store.plan_delete_folder(admin, f).map(|(c, _)| c),
        Op::AddPermission(f, is_group, p, break_inheritance) => store
            .plan_create_folder_permission(
                admin,
                FolderPermissionCreateArgs {
                    folder_id: f,
                    user_id: (!is_group).then_some(p),
                    group_id: is_group.then_some(p),
                    folder_access_role_name: "View".to_owned(),
                    secret_access_role_name: "List".to_owned(),
                    break_inheritance,
                },
            )
            .map(|(c, _)| c),
    };
    result.unwrap_or_default()
}

/// The state as canonical JSON (memberships sorted: their order in a snapshot is a hash order).
fn canonical(store: &Store) -> serde_json::Value {
    let mut value = serde_json::to_value(SnapshotRef { store, seq: 0 }).unwrap();
    if let Some(memberships) = value["memberships"].as_array_mut() {
        memberships.sort_by_key(|m| (m[0].as_i64(), m[1].as_i64()));
    }
    value
}

/// What the indexes answer: users by name, each group's members, each user's groups, folder
/// paths and children, permissions per folder.
fn answers(store: &Store) -> Vec<String> {
    let by_name = Paging { skip: 0, take: 100, sort: Some(Sort { name: "userName", descending: false }) };
    let filter = UserFilter { include_inactive: true, ..UserFilter::default() };
    let mut out = vec![format!("{:?}", store.search_users(&filter, &by_name).records)];
    for id in 0..12 {
        out.push(format!("{:?}", store.members_of(id).collect::<Vec<_>>()));
        out.push(format!("{:?}", store.groups_of(id).collect::<Vec<_>>()));
        out.push(store.folder_path(id));
        out.push(format!("{:?}", store.child_folders(id).collect::<Vec<_>>()));
        out.push(format!("{:?}", store.folder_permissions_on(id).map(|p| p.id).collect::<Vec<_>>()));
        out.push(format!("{:?}", store.group(id).map(|g| store.group_by_name(g.domain_id, &g.name).map(|x| x.id))));
    }
    out.push(format!("{:?}", store.counts()));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn replaying_the_journal_or_a_snapshot_rebuilds_the_same_state(ops in proptest::collection::vec(op(), 1..60)) {
        let mut live = Store::new();
        live.apply(Change::PutUser(secret_server_api::User {
            id: 1, user_name: "api".into(), enabled: true, domain_id: -1, ..Default::default()
        }));
        let mut journal = vec![Change::PutUser(live.user(1).unwrap().clone())];
        for op in &ops {
            for change in plan(&live, op) {
                journal.push(change.clone());
                live.apply(change);
            }
        }
        let mut replayed = Store::new();
        for change in journal {
            // Through JSON, as the journal stores it.
            let line = serde_json::to_string(&change).unwrap();
            replayed.apply(serde_json::from_str(&line).unwrap());
        }
        let bytes = serde_json::to_vec(&SnapshotRef { store: &live, seq: 9 }).unwrap();
        let restored = serde_json::from_slice::<Snapshot>(&bytes).unwrap().into_store();

        prop_assert_eq!(canonical(&replayed), canonical(&live));
        prop_assert_eq!(canonical(&restored), canonical(&live));
        prop_assert_eq!(answers(&replayed), answers(&live));
        prop_assert_eq!(answers(&restored), answers(&live));
        prop_assert_eq!(restored.next_ids(), live.next_ids());
    }
}
