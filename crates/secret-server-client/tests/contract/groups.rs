//! Groups (search, get, create, update, delete) and members (list, add, remove, replace).

use crate::helpers::{Harness, new_group, new_user};
use futures::TryStreamExt;
use secret_server_api::{GroupMembership, GroupPatchArgs, GroupPatchModel, GroupSummary, Patch};
use secret_server_client::{ClientError, GroupQuery, UserQuery};

async fn group_id(h: &Harness, name: &str) -> i64 {
    let groups: Vec<GroupSummary> = h.client.search_groups(&GroupQuery::text(name)).try_collect().await.unwrap();
    groups.into_iter().find(|g| g.name == name).unwrap_or_else(|| panic!("no group {name}")).id
}

async fn user_id(h: &Harness, name: &str) -> i64 {
    h.client
        .search_users(&UserQuery::text(name))
        .try_next()
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no user {name}"))
        .id
}

async fn member_names(h: &Harness, group_id: i64) -> Vec<String> {
    let members: Vec<GroupMembership> = h.client.group_members(group_id).try_collect().await.unwrap();
    let mut names: Vec<String> = members.into_iter().map(|m| m.user_name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn search_groups_streams_every_group() {
    let h = Harness::demo().await;
    let mut names: Vec<String> =
        h.client.search_groups(&GroupQuery::everyone()).map_ok(|g| g.name).try_collect().await.unwrap();
    names.sort();
    assert_eq!(names, ["DBAs", "Developers", "Domain Admins", "Everyone", "Helpdesk", "IT Admins", "Security"]);
    h.finish().await;
}

#[tokio::test]
async fn groups_page_returns_one_page_with_member_counts() {
    let h = Harness::demo().await;
    let page = h.client.groups_page(&GroupQuery::text("Developers"), 0, 10).await.unwrap();
    assert_eq!(page.total, 1);
    assert_eq!((page.records[0].name.as_str(), page.records[0].member_count), ("Developers", 3));
    h.finish().await;
}

#[tokio::test]
async fn create_get_update_and_delete_a_group() {
    let h = Harness::empty().await;
    let created = h.client.create_group(&new_group("Auditors")).await.unwrap();
    assert!(created.id > 0 && created.enabled);
    assert_eq!(h.client.get_group(created.id).await.unwrap().name, "Auditors");

    let renamed = h.client.patch_group(created.id, &GroupPatchArgs::rename("Internal Auditors")).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.enabled), ("Internal Auditors", true), "only the name changes");
    let disable = GroupPatchArgs { data: GroupPatchModel { name: None, enabled: Some(Patch::set(false)) } };
    let disabled = h.client.patch_group(created.id, &disable).await.unwrap();
    assert_eq!((disabled.name.as_str(), disabled.enabled), ("Internal Auditors", false));
    assert_eq!(h.client.get_group(created.id).await.unwrap().name, "Internal Auditors");

    let deleted = h.client.delete_group(created.id).await.unwrap();
    assert_eq!(deleted.id, created.id);
    assert!(h.client.get_group(created.id).await.unwrap_err().is_not_found());
    h.finish().await;
}

#[tokio::test]
async fn create_group_with_a_taken_name_in_other_case_is_a_duplicate() {
    let h = Harness::demo().await;
    let err = h.client.create_group(&new_group("it admins")).await.unwrap_err();
    assert!(matches!(err, ClientError::BadRequest { .. }), "{err:?}");
    assert!(!err.is_transient());
    h.finish().await;
}

#[tokio::test]
async fn get_group_of_an_unknown_id_is_not_found() {
    let h = Harness::empty().await;
    assert!(matches!(h.client.get_group(424_242).await, Err(ClientError::NotFound { .. })));
    assert!(h.client.delete_group(424_242).await.unwrap_err().is_not_found());
    h.finish().await;
}

#[tokio::test]
async fn group_members_lists_every_member_including_disabled_users() {
    let h = Harness::demo().await;
    let developers = group_id(&h, "Developers").await;
    assert_eq!(member_names(&h, developers).await, ["carol.diaz", "dave.evans", "henry.irwin"]);
    let page = h.client.group_members_page(developers, 0, 2).await.unwrap();
    assert_eq!((page.total, page.records.len(), page.has_next), (3, 2, true));
    h.finish().await;
}

#[tokio::test]
async fn add_group_member_adds_once_and_a_second_add_is_a_duplicate() {
    let h = Harness::demo().await;
    let (helpdesk, grace) = (group_id(&h, "Helpdesk").await, user_id(&h, "grace.hall").await);
    let added = h.client.add_group_member(helpdesk, grace).await.unwrap();
    assert_eq!((added.group_id, added.user_id), (helpdesk, grace));
    assert_eq!(member_names(&h, helpdesk).await, ["frank.green", "grace.hall"]);
    let again = h.client.add_group_member(helpdesk, grace).await.unwrap_err();
    assert!(matches!(again, ClientError::BadRequest { .. }), "{again:?}");
    let groups: Vec<String> = h.client.user_groups(grace).map_ok(|m| m.group_name).try_collect().await.unwrap();
    assert!(groups.contains(&"Helpdesk".to_owned()));
    h.finish().await;
}

#[tokio::test]
async fn remove_group_member_removes_only_that_member() {
    let h = Harness::demo().await;
    let (developers, dave) = (group_id(&h, "Developers").await, user_id(&h, "dave.evans").await);
    h.client.remove_group_member(developers, dave).await.unwrap();
    assert_eq!(member_names(&h, developers).await, ["carol.diaz", "henry.irwin"]);
    let again = h.client.remove_group_member(developers, dave).await.unwrap_err();
    assert!(again.is_not_found(), "{again:?}");
    h.finish().await;
}

#[tokio::test]
async fn replace_group_members_leaves_exactly_the_given_users() {
    let h = Harness::demo().await;
    let security = group_id(&h, "Security").await;
    let newcomer = h.client.create_user(&new_user("sec.newcomer")).await.unwrap();
    let erin = user_id(&h, "erin.fischer").await;
    assert!(h.client.replace_group_members(security, &[erin, newcomer.id]).await.unwrap().success);
    assert_eq!(member_names(&h, security).await, ["erin.fischer", "sec.newcomer"]);
    assert!(h.client.replace_group_members(security, &[]).await.unwrap().success);
    assert!(member_names(&h, security).await.is_empty());
    h.finish().await;
}
