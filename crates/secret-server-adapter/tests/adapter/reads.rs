//! Reads through the gRPC Directory: filters on indexed and other attributes, sorting, index and
//! cursor paging, projection, scope, errors.

use crate::containers::folder_id;
use crate::support::{CONNECTION, Options, Stack, connection, proto_kind};
use pretty_assertions::assert_eq;
use proto::common::v1 as common;
use proto::directory::v1 as dir;
use scim::ResourceKind::{Container, ContainerPermission, Group, PrivilegedData, User};
use serde_json::{Value, json};

fn names(docs: &[Value], attr: &str) -> Vec<String> {
    docs.iter().map(|d| d[attr].as_str().unwrap_or_default().to_owned()).collect()
}

fn decode(response: &dir::SearchResourcesResponse) -> Vec<Value> {
    response.resources.iter().map(|r| serde_json::from_slice(&r.json).unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_name_eq_is_case_insensitive_and_external_id_is_case_exact() {
    let stack = Stack::start().await;
    let alice = stack.find(User, r#"userName eq "ALICE.MARTIN""#).await;
    assert_eq!(alice["userName"], "alice.martin");
    let id = stack.create(User, json!({"userName": "ext.user", "externalId": "AbC-1"})).await.id();
    assert_eq!(stack.find(User, r#"externalId eq "AbC-1""#).await["id"], id);
    assert!(stack.search(User, r#"externalId eq "abc-1""#).await.is_empty());
    assert_eq!(stack.find(User, r#"emails.value eq "Bob.Chen@example.com""#).await["userName"], "bob.chen");
    assert_eq!(stack.find(User, r#"emails[type eq "work" and value co "carol"]"#).await["userName"], "carol.diaz");
    // Test Connection probes: an unknown id is an empty list, not an error.
    assert!(stack.search(User, r#"id eq "999999""#).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_on_unindexed_attributes_and_last_modified_are_evaluated() {
    let stack = Stack::start().await;
    let before =
        stack.find(User, r#"userName eq "dave.evans""#).await["meta"]["lastModified"].as_str().unwrap().to_owned();
    // Secret Server's `created` has whole seconds: the new user must not be in the seed's second.
    let seeded = time::OffsetDateTime::parse(&before, &time::format_description::well_known::Rfc3339).unwrap();
    while time::OffsetDateTime::now_utc().unix_timestamp() <= seeded.unix_timestamp() {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let id = stack.create(User, json!({"userName": "late.comer", "title": "Night Owl"})).await.id();
    assert_eq!(stack.find(User, r#"title eq "night owl""#).await["id"], id);
    let recent = stack.search(User, &format!("meta.lastModified gt \"{before}\"")).await;
    assert!(recent.iter().any(|u| u["id"] == id.as_str()), "{recent:?}");
    assert!(recent.iter().all(|u| u["userName"] != "dave.evans"));
    let inactive = stack.search(User, "active eq false").await;
    assert_eq!(names(&inactive, "userName"), vec!["henry.irwin"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sorting_and_index_paging_are_stable_across_pages() {
    let stack = Stack::start().await;
    let mut req = stack.search_request(CONNECTION, User, "");
    req.sort_by = "userName".into();
    req.sort_order = dir::SortOrder::Descending as i32;
    let all = decode(&stack.search_raw(req.clone()).await.unwrap());
    let expected = names(&all, "userName");
    let mut sorted = expected.clone();
    sorted.sort_by_key(|b| std::cmp::Reverse(b.to_lowercase()));
    assert_eq!(expected, sorted);

    let mut paged = Vec::new();
    for start in (1..=all.len() as u64).step_by(3) {
        req.page =
            Some(dir::search_resources_request::Page::Index(dir::IndexPage { start_index: start, count: Some(3) }));
        let page = stack.search_raw(req.clone()).await.unwrap();
        assert_eq!(page.total_results as usize, all.len());
        assert_eq!(page.start_index, start);
        paged.extend(names(&decode(&page), "userName"));
    }
    assert_eq!(paged, expected);

    req.page = Some(dir::search_resources_request::Page::Index(dir::IndexPage { start_index: 1, count: Some(0) }));
    let count_only = stack.search_raw(req).await.unwrap();
    assert_eq!((count_only.total_results as usize, count_only.resources.len()), (all.len(), 0));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cursor_paging_walks_every_result_once_and_refuses_a_forged_cursor() {
    let stack = Stack::start().await;
    let mut req = stack.search_request(CONNECTION, User, "");
    let total = stack.search_raw(req.clone()).await.unwrap().total_results as usize;
    let mut cursor = String::new();
    let mut seen = Vec::new();
    loop {
        req.page = Some(dir::search_resources_request::Page::Cursor(dir::CursorPage {
            cursor: cursor.clone(),
            count: Some(4),
        }));
        let page = stack.search_raw(req.clone()).await.unwrap();
        seen.extend(names(&decode(&page), "id"));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(seen.len(), total);
    let mut distinct = seen.clone();
    distinct.dedup();
    assert_eq!(distinct, seen);
    req.page =
        Some(dir::search_resources_request::Page::Cursor(dir::CursorPage { cursor: "forged".into(), count: Some(4) }));
    let err = stack.search_raw(req).await.unwrap_err();
    assert_eq!(err.scim_type, Some(scim::ScimType::InvalidCursor));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projection_returns_what_was_asked_and_always_the_id() {
    let stack = Stack::start().await;
    let mut req = stack.search_request(CONNECTION, User, r#"userName eq "alice.martin""#);
    req.projection = Some(dir::Projection { attributes: vec!["userName".into()], excluded_attributes: vec![] });
    let doc = &decode(&stack.search_raw(req).await.unwrap())[0];
    let mut keys: Vec<&str> = doc.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, vec!["id", "schemas", "userName"]);

    let mut req = stack.search_request(CONNECTION, Group, r#"displayName eq "Developers""#);
    req.projection = Some(dir::Projection { attributes: vec![], excluded_attributes: vec!["members".into()] });
    let doc = &decode(&stack.search_raw(req).await.unwrap())[0];
    assert!(doc.get("members").is_none());
    assert_eq!(doc["displayName"], "Developers");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_filter_is_invalid_filter_and_an_unknown_id_is_404() {
    let stack = Stack::start().await;
    let err = stack.search_as(CONNECTION, User, r#"userName eq "x" and ("#).await.unwrap_err();
    assert_eq!((err.http_status(), err.scim_type), (400, Some(scim::ScimType::InvalidFilter)));
    let err = stack.search_as(CONNECTION, User, r#"nosuch eq "x""#).await.unwrap_err();
    assert_eq!(err.scim_type, Some(scim::ScimType::InvalidFilter));
    assert_eq!(stack.get(User, "424242").await.unwrap_err().http_status(), 404);
    assert_eq!(stack.get(User, "not-a-number").await.unwrap_err().http_status(), 404);
    assert_eq!(stack.get_as("nobody", User, "1").await.unwrap_err().http_status(), 403);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_root_search_spans_types_and_skips_those_a_filter_does_not_fit() {
    let stack = Stack::start().await;
    let req = dir::SearchResourcesRequest {
        caller: Some(common::Caller { connection_id: CONNECTION.into() }),
        resource_types: vec![],
        filter: r#"displayName sw "D""#.into(),
        page: Some(dir::search_resources_request::Page::Index(dir::IndexPage { start_index: 1, count: Some(100) })),
        ..Default::default()
    };
    let found = decode(&stack.search_raw(req).await.unwrap());
    let kinds: std::collections::BTreeSet<&str> =
        found.iter().map(|d| d["meta"]["resourceType"].as_str().unwrap()).collect();
    assert!(kinds.contains("User") && kinds.contains("Group") && kinds.contains("Container"), "{kinds:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_limited_to_a_subtree_sees_and_touches_nothing_outside_it() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let it = folder_id(&stack, "\\IT").await;
    let mut conn = connection("dba-only");
    conn.scope.container_subtrees = Some(vec![databases.parse().unwrap()]);
    stack.connections.put(&conn).await.unwrap();

    let paths: Vec<String> = names(&stack.search_as("dba-only", Container, "").await.unwrap(), "path");
    assert_eq!(paths, vec!["\\Databases", "\\Databases\\Production", "\\Databases\\Staging"]);
    assert_eq!(stack.get_as("dba-only", Container, &it).await.unwrap_err().http_status(), 404);
    let perms = stack.search_as("dba-only", ContainerPermission, "").await.unwrap();
    assert!(perms.iter().all(|p| {
        let folder = p["container"]["display"].as_str().unwrap();
        folder == "Databases" || folder == "Production" || folder == "Staging"
    }));
    let secrets = stack.search_as("dba-only", PrivilegedData, "").await.unwrap();
    assert!(names(&secrets, "name").iter().all(|n| n.starts_with("sql-")), "{secrets:?}");
    // The top of the subtree has no visible parent.
    assert!(stack.get_as("dba-only", Container, &databases).await.unwrap().get("parent").is_none());

    let outside = stack.create_as("dba-only", Container, json!({"name": "X", "parent": {"value": it}})).await;
    assert_eq!(outside.err().http_status(), 400);
    let at_root = stack.create_as("dba-only", Container, json!({"name": "X"})).await;
    assert_eq!(at_root.err().http_status(), 403);
    let delete_outside = stack.delete_as("dba-only", Container, &it).await;
    assert_eq!(delete_outside.err().http_status(), 404);
    let inside =
        stack.create_as("dba-only", Container, json!({"name": "Reports", "parent": {"value": databases}})).await;
    assert_eq!(inside.json()["path"], "\\Databases\\Reports");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_connection_cannot_write_even_if_the_gateway_let_it() {
    let stack = Stack::start().await;
    let mut conn = connection("reader");
    conn.scope = connections::Scope::read_only();
    stack.connections.put(&conn).await.unwrap();
    let refused = stack.create_as("reader", User, json!({"userName": "sneaky"})).await;
    assert_eq!(refused.err().http_status(), 403);
    assert!(refused.err().detail.contains("may not create User"), "{}", refused.err().detail);
    assert!(stack.search(User, r#"userName eq "sneaky""#).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_type_the_connection_cannot_read_is_404_as_at_the_gateway_and_left_out_of_the_root_search() {
    let stack = Stack::start().await;
    let mut none = connection("no-users");
    none.scope.resource_types.remove("User");
    stack.connections.put(&none).await.unwrap();
    let err = stack.search_as("no-users", User, "").await.unwrap_err();
    assert_eq!((err.http_status(), err.detail.as_str()), (404, "no such resource type: Users"));
    assert_eq!(stack.get_as("no-users", User, "1").await.unwrap_err().http_status(), 404);
    let refused = stack.create_as("no-users", User, json!({"userName": "sneaky"})).await;
    assert_eq!(refused.err().http_status(), 404);
    assert!(stack.search(User, r#"userName eq "sneaky""#).await.is_empty());
    let req = dir::SearchResourcesRequest {
        caller: Some(common::Caller { connection_id: "no-users".into() }),
        resource_types: vec![],
        page: Some(dir::search_resources_request::Page::Index(dir::IndexPage { start_index: 1, count: Some(1000) })),
        ..Default::default()
    };
    let found = decode(&stack.search_raw(req).await.unwrap());
    assert!(!found.is_empty());
    assert!(found.iter().all(|d| d["meta"]["resourceType"] != "User"), "{found:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_with_a_stale_version_is_a_412_and_changes_nothing() {
    let stack = Stack::start().await;
    let created = stack.create(User, json!({"userName": "versioned", "displayName": "One"})).await.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let v1 = created["meta"]["version"].as_str().unwrap().to_owned();
    let ok = stack
        .patch_as(CONNECTION, User, &id, json!([{"op": "replace", "path": "displayName", "value": "Two"}]), Some(&v1))
        .await
        .json();
    let v2 = ok["meta"]["version"].as_str().unwrap().to_owned();
    assert_ne!(v1, v2);
    let stale = stack
        .patch_as(CONNECTION, User, &id, json!([{"op": "replace", "path": "displayName", "value": "Three"}]), Some(&v1))
        .await;
    assert_eq!((stale.err().http_status(), stale.err().scim_type), (412, Some(scim::ScimType::InvalidVers)));
    assert_eq!(stack.ss.get_user(id.parse().unwrap()).await.unwrap().display_name, "Two");
    let get = stack.get(User, &id).await.unwrap();
    assert_eq!(get["meta"]["version"], v2.as_str());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_is_shown_a_version_of_its_own_that_lasts_across_a_restart_and_no_other_connection_can_use() {
    let mut stack = Stack::start().await;
    stack.connections.put(&connection("okta")).await.unwrap();
    let id = stack.create(User, json!({"userName": "tagged", "externalId": "emp-0042"})).await.id();
    let version = |doc: Value| doc["meta"]["version"].as_str().unwrap().to_owned();
    let mine = version(stack.get(User, &id).await.unwrap());
    let theirs = version(stack.get_as("okta", User, &id).await.unwrap());
    // One version, two tags: neither is a hash another connection could test its guesses on.
    assert_ne!(mine, theirs);
    let listed = stack.search_as("okta", User, r#"userName eq "tagged""#).await.unwrap();
    assert_eq!(listed[0]["meta"]["version"], theirs.as_str(), "a search shows the same tag as a read");

    stack.restart_adapter().await;
    assert_eq!(version(stack.get_as("okta", User, &id).await.unwrap()), theirs, "the same tag after a restart");
    let rename = json!([{"op": "replace", "path": "displayName", "value": "Tagged"}]);
    let refused = stack.patch_as("okta", User, &id, rename.clone(), Some(&mine)).await;
    assert_eq!(refused.err().http_status(), 412, "another connection's tag is no tag of this one's");
    let renamed = stack.patch_as("okta", User, &id, rename, Some(&theirs)).await.json();
    assert_ne!(version(renamed), theirs, "a change gives a new tag");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unspecified_resource_type_is_an_invalid_argument() {
    let stack = Stack::start().await;
    let mut req = stack.search_request(CONNECTION, User, "");
    req.resource_types = vec![proto_kind(User) as i32, 99];
    assert_eq!(stack.search_raw(req).await.unwrap_err().http_status(), 400);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_without_a_free_slot_is_refused_expensive_searches_while_cheap_ones_and_others_go_on() {
    let stack = Stack::start().await;
    stack.connections.put(&connection("other")).await.unwrap();
    let unindexed = r#"title co "e""#;
    let held: Vec<_> = (0..4)
        .map(|_| stack.adapter().expensive_work().admit(&CONNECTION.parse().unwrap()).expect("a free slot"))
        .collect();

    let refused = stack.search_as(CONNECTION, User, unindexed).await.unwrap_err();
    assert_eq!((refused.http_status(), refused.retry_after), (429, Some(1)), "{refused}");
    let cheap = stack.search_as(CONNECTION, User, r#"userName eq "alice.martin""#).await.unwrap();
    assert_eq!(cheap.len(), 1, "an indexed search is not expensive work");
    stack.search_as("other", User, unindexed).await.expect("another connection's expensive search runs");

    drop(held);
    stack.search_as(CONNECTION, User, unindexed).await.expect("the slots came back");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reading_a_large_group_with_its_members_is_expensive_work_of_its_connection() {
    let stack = Stack::start_with(Options { large_group_members: 2, ..Options::default() }).await;
    stack.connections.put(&connection("other")).await.unwrap();
    let users: Vec<String> = stack
        .search(User, r#"userName sw "a" or userName sw "b" or userName sw "c""#)
        .await
        .iter()
        .take(3)
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let members: Vec<Value> = users.iter().map(|id| json!({"value": id})).collect();
    let large = stack.create(Group, json!({"displayName": "Large", "members": members})).await.id();
    let small = stack.create(Group, json!({"displayName": "Small", "members": [{"value": users[0]}]})).await.id();
    let held: Vec<_> = (0..4)
        .map(|_| stack.adapter().expensive_work().admit(&CONNECTION.parse().unwrap()).expect("a free slot"))
        .collect();

    let refused = stack.get(Group, &large).await.unwrap_err();
    assert_eq!((refused.http_status(), refused.retry_after), (429, Some(1)), "{refused}");
    let without_members = adapter_api::GetResource {
        connection_id: CONNECTION.to_owned(),
        kind: Group,
        id: large.clone(),
        projection: adapter_api::Projection { attributes: vec![], excluded_attributes: vec!["members".into()] },
    };
    let without_members: Value = serde_json::from_slice(&stack.grpc.get(without_members).await.unwrap().json).unwrap();
    assert_eq!(without_members["displayName"], "Large", "without its members it is a cheap read");
    assert_eq!(stack.get(Group, &small).await.unwrap()["members"].as_array().map(Vec::len), Some(1));
    let searched = stack.search_as(CONNECTION, Group, r#"displayName eq "Large""#).await.unwrap_err();
    assert_eq!(searched.http_status(), 429, "a search that renders a large group's members is expensive too");
    let found = stack.search_as(CONNECTION, Group, r#"displayName eq "Small""#).await.unwrap();
    assert_eq!(found[0]["members"].as_array().map(Vec::len), Some(1), "a small one's is not");
    let theirs = stack.get_as("other", Group, &large).await.expect("another connection's read runs");
    assert_eq!(theirs["members"].as_array().map(Vec::len), Some(3));

    drop(held);
    assert_eq!(stack.get(Group, &large).await.unwrap()["members"].as_array().map(Vec::len), Some(3));
    stack.stop().await;
}
