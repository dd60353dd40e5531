//! Users: search (paged), get, create, update, patch `enabled`, delete, and a user's groups.

use crate::helpers::{Harness, count_requests, new_user};
use futures::TryStreamExt;
use secret_server_api::{Patch, UserPatchArgs, UserSummary, UserUpdateArgs};
use secret_server_client::{ClientError, UserQuery};

async fn names(h: &Harness, query: &UserQuery) -> Vec<String> {
    let users: Vec<UserSummary> = h.client.search_users(query).try_collect().await.unwrap();
    let mut names: Vec<String> = users.into_iter().map(|u| u.user_name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn search_users_streams_active_users_and_leaves_inactive_ones_out_by_default() {
    let h = Harness::demo().await;
    let active = names(&h, &UserQuery::default()).await;
    assert!(active.contains(&"alice.martin".to_owned()) && active.contains(&"scim-api".to_owned()));
    assert!(!active.contains(&"henry.irwin".to_owned()), "{active:?}");
    let everyone = names(&h, &UserQuery::everyone()).await;
    assert_eq!(everyone.len(), active.len() + 1);
    assert!(everyone.contains(&"henry.irwin".to_owned()));
    h.finish().await;
}

#[tokio::test]
async fn search_users_by_text_finds_matching_users_only() {
    let h = Harness::demo().await;
    assert_eq!(names(&h, &UserQuery::text("martin")).await, ["alice.martin"]);
    assert!(names(&h, &UserQuery::text("nobody-has-this-name")).await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn search_users_walks_every_page_when_results_exceed_the_page_size() {
    let mut h = Harness::demo().await;
    h.client = h.client_with(|c| c.page_size = 3);
    let all = names(&h, &UserQuery::everyone()).await;
    assert_eq!(all.len(), 11, "{all:?}");
    // 10 users in pages of 3: four requests, and no record twice.
    assert_eq!(count_requests(&h.sim, "GET", "/api/v1/users"), 4);
    let mut unique = all.clone();
    unique.dedup();
    assert_eq!(unique, all);
    h.finish().await;
}

#[tokio::test]
async fn users_page_returns_one_page_with_its_envelope() {
    let h = Harness::demo().await;
    let page = h.client.users_page(&UserQuery::everyone(), 2, 3).await.unwrap();
    assert_eq!((page.skip, page.take, page.total, page.records.len()), (2, 3, 11, 3));
    assert!(page.has_next && page.has_prev);
    let last = h.client.users_page(&UserQuery::everyone(), 10, 3).await.unwrap();
    assert_eq!(last.records.len(), 1);
    assert!(!last.has_next);
    h.finish().await;
}

#[tokio::test]
async fn create_user_then_get_user_returns_the_same_user() {
    let h = Harness::empty().await;
    let created = h.client.create_user(&new_user("new.person")).await.unwrap();
    assert!(created.id > 0);
    assert_eq!((created.user_name.as_str(), created.enabled), ("new.person", true));
    let fetched = h.client.get_user(created.id).await.unwrap();
    assert_eq!(fetched, created);
    assert_eq!(fetched.email_address.as_deref(), Some("new.person@example.com"));
    h.finish().await;
}

#[tokio::test]
async fn create_user_with_a_weak_password_is_a_bad_request_naming_the_field() {
    let h = Harness::empty().await;
    let mut args = new_user("weak.password");
    args.password = Some("short".to_owned());
    match h.client.create_user(&args).await {
        Err(ClientError::BadRequest { model_state: Some(state), .. }) => {
            assert!(state.to_string().to_lowercase().contains("password"), "{state}");
        }
        other => panic!("expected a bad request with model state, got {other:?}"),
    }
    assert!(h.client.search_users(&UserQuery::text("weak.password")).try_next().await.unwrap().is_none());
    h.finish().await;
}

#[tokio::test]
async fn create_user_with_a_taken_name_in_other_case_is_a_duplicate() {
    let h = Harness::demo().await;
    let err = h.client.create_user(&new_user("Alice.Martin")).await.unwrap_err();
    assert!(matches!(err, ClientError::BadRequest { .. }), "{err:?}");
    assert!(!err.is_transient());
    h.finish().await;
}

#[tokio::test]
async fn update_user_changes_display_name_and_email_but_not_the_user_name() {
    let h = Harness::empty().await;
    let user = h.client.create_user(&new_user("to.update")).await.unwrap();
    let args = UserUpdateArgs {
        id: user.id,
        display_name: "Updated Name".to_owned(),
        email_address: Some("updated@example.com".to_owned()),
        enabled: true,
        ..UserUpdateArgs::default()
    };
    let updated = h.client.update_user(&args).await.unwrap();
    assert_eq!(updated.display_name, "Updated Name");
    assert_eq!(updated.email_address.as_deref(), Some("updated@example.com"));
    assert_eq!(updated.user_name, "to.update");
    assert_eq!(h.client.get_user(user.id).await.unwrap().display_name, "Updated Name");
    h.finish().await;
}

#[tokio::test]
async fn set_user_enabled_disables_and_enables_a_user() {
    let h = Harness::empty().await;
    let user = h.client.create_user(&new_user("toggle.me")).await.unwrap();
    assert!(!h.client.set_user_enabled(user.id, false).await.unwrap().enabled);
    assert!(!h.client.get_user(user.id).await.unwrap().enabled);
    assert!(h.client.search_users(&UserQuery::text("toggle.me")).try_next().await.unwrap().is_some());
    assert!(
        h.client
            .search_users(&UserQuery { include_inactive: false, ..UserQuery::text("toggle.me") })
            .try_next()
            .await
            .unwrap()
            .is_none()
    );
    assert!(h.client.set_user_enabled(user.id, true).await.unwrap().enabled);
    assert!(h.client.get_user(user.id).await.unwrap().enabled);
    h.finish().await;
}

#[tokio::test]
async fn patch_user_changes_only_the_dirty_properties() {
    let h = Harness::empty().await;
    let user = h.client.create_user(&new_user("patch.me")).await.unwrap();
    let patch = UserPatchArgs { display_name: Some(Patch::set("Patched".to_owned())), ..UserPatchArgs::default() };
    let patched = h.client.patch_user(user.id, &patch).await.unwrap();
    assert_eq!(patched.display_name, "Patched");
    assert_eq!((patched.enabled, patched.email_address), (user.enabled, user.email_address));
    h.finish().await;
}

#[tokio::test]
async fn delete_user_deactivates_and_the_user_can_still_be_read() {
    let h = Harness::empty().await;
    let user = h.client.create_user(&new_user("leaving.soon")).await.unwrap();
    let deleted = h.client.delete_user(user.id).await.unwrap();
    assert_eq!(deleted.id, user.id);
    let after = h.client.get_user(user.id).await.unwrap();
    assert!(!after.enabled);
    let active = UserQuery { include_inactive: false, ..UserQuery::text("leaving.soon") };
    assert!(h.client.search_users(&active).try_next().await.unwrap().is_none());
    h.finish().await;
}

#[tokio::test]
async fn get_user_of_an_unknown_id_is_not_found() {
    let h = Harness::empty().await;
    let err = h.client.get_user(987_654).await.unwrap_err();
    assert!(matches!(err, ClientError::NotFound { .. }), "{err:?}");
    assert!(!err.is_transient());
    h.finish().await;
}

#[tokio::test]
async fn user_groups_lists_the_groups_a_user_belongs_to() {
    let h = Harness::demo().await;
    let carol = h.client.search_users(&UserQuery::text("carol.diaz")).try_next().await.unwrap().unwrap();
    let mut groups: Vec<String> = h.client.user_groups(carol.id).map_ok(|m| m.group_name).try_collect().await.unwrap();
    groups.sort();
    assert_eq!(groups, ["DBAs", "Developers"]);
    h.finish().await;
}
