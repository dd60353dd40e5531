//! Folder permissions: search by folder, user or group; create (with
//! `breakInheritance`); get; update; delete.

use crate::helpers::{Harness, new_user};
use futures::TryStreamExt;
use secret_server_api::{
    Folder, FolderAccessRole, FolderCreateArgs, FolderPermission, FolderPermissionCreateArgs,
    FolderPermissionUpdateArgs, PERMISSIONS_ARE_INHERITED, ROOT_FOLDER_ID, SecretAccessRole,
};
use secret_server_client::{ClientError, FolderPermissionQuery, FolderQuery, GroupQuery};

async fn folder_by_name(h: &Harness, name: &str) -> Folder {
    let folders: Vec<Folder> = h.client.search_folders(&FolderQuery::text(name)).try_collect().await.unwrap();
    folders.into_iter().find(|f| f.folder_name == name).unwrap_or_else(|| panic!("no folder {name}"))
}

async fn permissions(h: &Harness, query: FolderPermissionQuery) -> Vec<FolderPermission> {
    h.client.search_folder_permissions(&query).try_collect().await.unwrap()
}

fn grant(folder_id: i64, user_id: i64, break_inheritance: bool) -> FolderPermissionCreateArgs {
    FolderPermissionCreateArgs {
        folder_id,
        user_id: Some(user_id),
        group_id: None,
        folder_access_role_name: FolderAccessRole::View.to_string(),
        secret_access_role_name: SecretAccessRole::List.to_string(),
        break_inheritance,
    }
}

#[tokio::test]
async fn search_by_folder_group_and_user_finds_the_seeded_permissions() {
    let h = Harness::demo().await;
    let it = folder_by_name(&h, "IT").await;
    let mut on_it: Vec<String> =
        permissions(&h, FolderPermissionQuery::folder(it.id)).await.into_iter().filter_map(|p| p.group_name).collect();
    on_it.sort();
    assert_eq!(on_it, ["IT Admins", "Security"]);

    let admins = h.client.search_groups(&GroupQuery::text("IT Admins")).try_next().await.unwrap().unwrap();
    let by_group = permissions(&h, FolderPermissionQuery::group(admins.id)).await;
    assert_eq!(by_group.len(), 3, "IT, Linux Servers, Helpdesk: {by_group:?}");
    assert!(by_group.iter().all(|p| p.group_id == Some(admins.id) && p.folder_access_role_name == "Owner"));

    let erin = h.client.search_users(&secret_server_client::UserQuery::text("erin.fischer")).try_next().await.unwrap();
    let by_user = permissions(&h, FolderPermissionQuery::user(erin.unwrap().id)).await;
    assert_eq!(by_user.len(), 1);
    assert_eq!(
        (by_user[0].folder_access_role_name.as_str(), by_user[0].secret_access_role_name.as_str()),
        ("View", "None")
    );

    let page = h.client.folder_permissions_page(&FolderPermissionQuery::folder(it.id), 0, 1).await.unwrap();
    assert_eq!((page.total, page.records.len(), page.has_next), (3, 1, true), "two groups and the API account");
    h.finish().await;
}

#[tokio::test]
async fn create_on_a_folder_that_inherits_fails_without_break_inheritance() {
    let h = Harness::demo().await;
    let staging = folder_by_name(&h, "Staging").await;
    assert!(staging.inherit_permissions);
    let user = h.client.create_user(&new_user("perm.user")).await.unwrap();
    match h.client.create_folder_permission(&grant(staging.id, user.id, false)).await {
        Err(ClientError::BadRequest { error_code, message, .. }) => {
            let said = format!("{error_code:?} {message}");
            assert!(said.contains(PERMISSIONS_ARE_INHERITED), "{said}");
        }
        other => panic!("expected API_PermissionsAreInherited, got {other:?}"),
    }
    assert!(permissions(&h, FolderPermissionQuery::user(user.id)).await.is_empty());

    let created = h.client.create_folder_permission(&grant(staging.id, user.id, true)).await.unwrap();
    assert!(created.id > 0);
    assert_eq!((created.folder_id, created.user_id, created.group_id), (staging.id, Some(user.id), None));
    assert!(!h.client.get_folder(staging.id).await.unwrap().inherit_permissions);
    h.finish().await;
}

#[tokio::test]
async fn create_get_update_and_delete_a_permission_on_an_own_folder() {
    let h = Harness::empty().await;
    let args =
        FolderCreateArgs { folder_name: "Team".to_owned(), parent_folder_id: ROOT_FOLDER_ID, ..Default::default() };
    let folder = h.client.create_folder(&args).await.unwrap();
    let user = h.client.create_user(&new_user("team.member")).await.unwrap();

    let created = h.client.create_folder_permission(&grant(folder.id, user.id, false)).await.unwrap();
    assert_eq!((created.folder_access_role_name.as_str(), created.secret_access_role_name.as_str()), ("View", "List"));
    assert_eq!(h.client.get_folder_permission(created.id).await.unwrap().user_id, Some(user.id));

    let update = FolderPermissionUpdateArgs {
        id: created.id,
        folder_id: folder.id,
        folder_access_role_name: FolderAccessRole::AddSecret.to_string(),
        secret_access_role_name: SecretAccessRole::Edit.to_string(),
        break_inheritance: false,
    };
    let updated = h.client.update_folder_permission(&update).await.unwrap();
    assert_eq!((updated.id, updated.folder_id), (created.id, folder.id));
    assert_eq!(updated.folder_access_role_name.parse::<FolderAccessRole>(), Ok(FolderAccessRole::AddSecret));
    let found =
        permissions(&h, FolderPermissionQuery { folder_id: Some(folder.id), user_id: Some(user.id), group_id: None })
            .await;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].secret_access_role_name, "Edit");

    assert_eq!(h.client.delete_folder_permission(created.id).await.unwrap().id, created.id);
    assert!(h.client.get_folder_permission(created.id).await.unwrap_err().is_not_found());
    assert!(permissions(&h, FolderPermissionQuery::folder(folder.id)).await.iter().all(|p| p.user_id != Some(user.id)));
    h.finish().await;
}

#[tokio::test]
async fn a_second_permission_for_the_same_principal_is_a_duplicate() {
    let h = Harness::empty().await;
    let args =
        FolderCreateArgs { folder_name: "Dup".to_owned(), parent_folder_id: ROOT_FOLDER_ID, ..Default::default() };
    let folder = h.client.create_folder(&args).await.unwrap();
    let user = h.client.create_user(&new_user("dup.perm")).await.unwrap();
    h.client.create_folder_permission(&grant(folder.id, user.id, false)).await.unwrap();
    let again = h.client.create_folder_permission(&grant(folder.id, user.id, false)).await.unwrap_err();
    assert!(matches!(again, ClientError::BadRequest { .. }), "{again:?}");
    h.finish().await;
}

#[tokio::test]
async fn a_permission_with_an_unknown_role_name_is_a_bad_request() {
    let h = Harness::empty().await;
    let args =
        FolderCreateArgs { folder_name: "Roles".to_owned(), parent_folder_id: ROOT_FOLDER_ID, ..Default::default() };
    let folder = h.client.create_folder(&args).await.unwrap();
    let user = h.client.create_user(&new_user("role.user")).await.unwrap();
    let mut bad = grant(folder.id, user.id, false);
    bad.folder_access_role_name = "Superuser".to_owned();
    let err = h.client.create_folder_permission(&bad).await.unwrap_err();
    assert!(matches!(err, ClientError::BadRequest { .. }), "{err:?}");
    h.finish().await;
}
