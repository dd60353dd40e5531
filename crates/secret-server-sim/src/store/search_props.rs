//! Property: `filter.searchText` answered from the trigram indexes gives exactly what a scan of
//! every object gives (the same records, in the same order, with the same total), whatever the
//! objects were created, renamed, moved or deleted before, for any text and sort.

use super::folders::FolderFilter;
use super::groups::GroupFilter;
use super::search::{Paging, Sort};
use super::users::UserFilter;
use super::{Change, FolderRec, Snapshot, SnapshotRef, Store, Viewer};
use proptest::prelude::*;
use secret_server_api::{Group, User};

/// Names from a small alphabet, so that texts often match and keys share long runs; with
/// letters whose lower case differs and one whose lower case is longer (`İ`).
fn name() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![Just('a'), Just('b'), Just('A'), Just('-'), Just('é'), Just('É'), Just('İ')],
        0..9,
    )
    .prop_map(|chars| format!("pre-{}", chars.into_iter().collect::<String>()))
}

#[derive(Debug, Clone)]
enum Op {
    PutUser { id: i64, name: String, display: String, email: Option<String>, enabled: bool },
    PutGroup { id: i64, name: String, enabled: bool },
    DeleteGroup(i64),
    PutFolder { id: i64, name: String, parent: i64 },
    DeleteFolder(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let id = 1i64..12;
    prop_oneof![
        (id.clone(), name(), name(), proptest::option::of(name()), any::<bool>())
            .prop_map(|(id, name, display, email, enabled)| Op::PutUser { id, name, display, email, enabled }),
        (id.clone(), name(), any::<bool>()).prop_map(|(id, name, enabled)| Op::PutGroup { id, name, enabled }),
        id.clone().prop_map(Op::DeleteGroup),
        (id.clone(), name(), -1i64..4).prop_map(|(id, name, parent)| Op::PutFolder { id, name, parent }),
        id.prop_map(Op::DeleteFolder),
    ]
}

fn change(op: Op) -> Change {
    match op {
        Op::PutUser { id, name, display, email, enabled } => Change::PutUser(User {
            id,
            // Unique names, as the plans keep them.
            user_name: format!("{name}{id}"),
            display_name: display,
            email_address: email.map(|e| format!("{e}@example.com")),
            enabled,
            domain_id: -1,
            ..User::default()
        }),
        Op::PutGroup { id, name, enabled } => {
            Change::PutGroup(Group { id, name: format!("{name}{id}"), enabled, domain_id: -1, ..Group::default() })
        }
        Op::DeleteGroup(id) => Change::DeleteGroup { id },
        Op::PutFolder { id, name, parent } => Change::PutFolder(FolderRec {
            id,
            folder_name: name,
            parent_folder_id: parent,
            folder_type_id: 1,
            inherit_permissions: false,
            inherit_secret_policy: false,
            secret_policy_id: None,
            personal: false,
        }),
        Op::DeleteFolder(id) => Change::DeleteFolder { id },
    }
}

fn pagings() -> Vec<Paging> {
    let mut out = vec![Paging { skip: 0, take: 1000, sort: None }, Paging { skip: 1, take: 2, sort: None }];
    for name in ["userName", "displayName", "name", "folderName"] {
        for descending in [false, true] {
            out.push(Paging { skip: 0, take: 1000, sort: Some(Sort { name, descending }) });
            out.push(Paging { skip: 1, take: 3, sort: Some(Sort { name, descending }) });
        }
    }
    out
}

/// Every answer by the index and by the scan, side by side, for one text.
fn compare(store: &Store, text: &str) -> Result<(), TestCaseError> {
    let text = text.to_lowercase();
    let admin = Viewer { user_id: 1, unlimited: true };
    for paging in pagings() {
        for include_inactive in [false, true] {
            for fields in
                [vec![], vec!["userName".to_owned()], vec!["emailAddress".to_owned(), "displayName".to_owned()]]
            {
                let filter = UserFilter {
                    search_text: Some(text.clone()),
                    include_inactive,
                    domain_id: None,
                    search_fields: fields,
                };
                let indexed = store.user_text.candidates(&text);
                let by_index = store.select_users_among(&filter, &paging, indexed);
                let by_scan = store.select_users_among(&filter, &paging, None);
                prop_assert_eq!(by_index, by_scan, "users, text {:?}, {:?}", text, paging);
            }
            let filter = GroupFilter { search_text: Some(text.clone()), include_inactive, domain_id: None };
            let indexed = store.group_text.candidates(&text);
            let by_index = paging.select(store.groups_among(&filter, indexed), "id", |_, g| g.id.into());
            let by_scan = paging.select(store.groups_among(&filter, None), "id", |_, g| g.id.into());
            prop_assert_eq!(by_index, by_scan, "groups, text {:?}", text);
        }
        for parent in [None, Some(-1), Some(2)] {
            let filter =
                FolderFilter { search_text: Some(text.clone()), parent_folder_id: parent, folder_type_id: None };
            let indexed = store.folder_text.candidates(&text);
            let by_index: Vec<i64> = store.folders_among(admin, &filter, indexed).map(|f| f.id).collect();
            let by_scan: Vec<i64> = store.folders_among(admin, &filter, None).map(|f| f.id).collect();
            prop_assert_eq!(by_index, by_scan, "folders, text {:?}, parent {:?}", text, parent);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn searches_by_the_trigram_indexes_answer_as_a_scan_does(
        ops in proptest::collection::vec(op(), 1..40),
        texts in proptest::collection::vec(name().prop_map(|n| n.chars().skip(2).take(5).collect::<String>()), 1..6),
    ) {
        let mut store = Store::new();
        for op in ops {
            store.apply(change(op));
        }
        let bytes = serde_json::to_vec(&SnapshotRef { store: &store, seq: 1 }).unwrap();
        let restored = serde_json::from_slice::<Snapshot>(&bytes).unwrap().into_store();
        for text in texts.iter().map(String::as_str).chain(["pre", "e-a", "@ex", "é", "a\npre"]) {
            compare(&store, text)?;
            compare(&restored, text)?;
        }
    }
}

#[test]
fn a_search_over_many_names_sharing_a_long_prefix_finds_each_name_alone() {
    let mut store = Store::new();
    for id in 1..=3000 {
        store.apply(Change::PutUser(User {
            id,
            user_name: format!("w-benchw-1765000000000000000-{}-{id}", id % 2),
            display_name: "Bench User".to_owned(),
            email_address: Some(format!("w-benchw-1765000000000000000-{}-{id}@example.com", id % 2)),
            enabled: true,
            domain_id: -1,
            ..User::default()
        }));
    }
    let all = Paging { skip: 0, take: 10_000, sort: None };
    for id in [1, 17, 456, 1234, 2999, 3000] {
        let text = format!("w-benchw-1765000000000000000-{}-{id}", id % 2);
        let filter = UserFilter { search_text: Some(text.clone()), ..UserFilter::default() };
        let by_index = store.select_users_among(&filter, &all, store.user_text.candidates(&text));
        let by_scan = store.select_users_among(&filter, &all, None);
        assert_eq!(by_index, by_scan);
        assert!(by_index.0.iter().any(|u| u.id == id), "the name itself is found");
        // The shared prefix narrows nothing; the counter's trigrams leave a fraction of the names
        // (`…-1-17` is also a candidate for `…-1-1` and for `…-1-1765…`: its trigrams are there).
        let candidates = store.user_text.candidates(&text).unwrap();
        assert!(candidates.len() * 5 <= 3000, "{} candidates for {text}", candidates.len());
    }
    for text in ["bench user", "example.com", "w-benchw", "-1-2"] {
        let filter = UserFilter { search_text: Some(text.to_owned()), ..UserFilter::default() };
        let by_index = store.select_users_among(&filter, &all, store.user_text.candidates(text));
        assert_eq!(by_index, store.select_users_among(&filter, &all, None), "{text}");
    }
}
