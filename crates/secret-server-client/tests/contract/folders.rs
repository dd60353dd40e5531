//! Folders: search (by parent, by text), get, create, update, delete.

use crate::helpers::Harness;
use futures::TryStreamExt;
use secret_server_api::{Folder, FolderCreateArgs, FolderUpdateArgs, ROOT_FOLDER_ID};
use secret_server_client::{ClientError, FolderQuery};

async fn folder_names(h: &Harness, query: &FolderQuery) -> Vec<String> {
    let folders: Vec<Folder> = h.client.search_folders(query).try_collect().await.unwrap();
    let mut names: Vec<String> = folders.into_iter().map(|f| f.folder_name).collect();
    names.sort();
    names
}

fn folder(name: &str, parent: i64, inherit: bool) -> FolderCreateArgs {
    FolderCreateArgs {
        folder_name: name.to_owned(),
        parent_folder_id: parent,
        inherit_permissions: inherit,
        ..FolderCreateArgs::default()
    }
}

#[tokio::test]
async fn search_folders_by_parent_lists_direct_children_only() {
    let h = Harness::demo().await;
    assert_eq!(folder_names(&h, &FolderQuery::children_of(ROOT_FOLDER_ID)).await, ["Databases", "Helpdesk", "IT"]);
    let it = h.client.search_folders(&FolderQuery::text("IT")).try_collect::<Vec<_>>().await.unwrap();
    let it = it.into_iter().find(|f| f.folder_name == "IT").unwrap();
    assert_eq!(
        folder_names(&h, &FolderQuery::children_of(it.id)).await,
        ["Linux Servers", "Network", "Windows Servers"]
    );
    h.finish().await;
}

#[tokio::test]
async fn search_folders_by_text_matches_names() {
    let h = Harness::demo().await;
    assert_eq!(folder_names(&h, &FolderQuery::text("servers")).await, ["Linux Servers", "Windows Servers"]);
    let page = h.client.folders_page(&FolderQuery::text("servers"), 0, 1).await.unwrap();
    assert_eq!((page.total, page.records.len(), page.has_next), (2, 1, true));
    h.finish().await;
}

#[tokio::test]
async fn create_folder_at_the_root_and_beneath_it_builds_the_path() {
    let h = Harness::empty().await;
    let root = h.client.create_folder(&folder("Finance", ROOT_FOLDER_ID, false)).await.unwrap();
    assert_eq!((root.parent_folder_id, root.folder_path.as_str()), (ROOT_FOLDER_ID, r"\Finance"));
    let child = h.client.create_folder(&folder("Payroll", root.id, true)).await.unwrap();
    assert_eq!((child.parent_folder_id, child.folder_path.as_str()), (root.id, r"\Finance\Payroll"));
    assert!(child.inherit_permissions);
    let fetched = h.client.get_folder(child.id).await.unwrap();
    assert_eq!((fetched.id, fetched.folder_name.as_str()), (child.id, "Payroll"));
    h.finish().await;
}

#[tokio::test]
async fn update_folder_renames_it() {
    let h = Harness::empty().await;
    let created = h.client.create_folder(&folder("Old Name", ROOT_FOLDER_ID, false)).await.unwrap();
    let args = FolderUpdateArgs {
        id: created.id,
        folder_name: "New Name".to_owned(),
        folder_type_id: created.folder_type_id,
        parent_folder_id: created.parent_folder_id,
        inherit_permissions: false,
        inherit_secret_policy: created.inherit_secret_policy,
        secret_policy_id: created.secret_policy_id,
    };
    let updated = h.client.update_folder(&args).await.unwrap();
    assert_eq!((updated.folder_name.as_str(), updated.folder_path.as_str()), ("New Name", r"\New Name"));
    assert_eq!(h.client.get_folder(created.id).await.unwrap().folder_name, "New Name");
    h.finish().await;
}

#[tokio::test]
async fn delete_folder_removes_an_empty_folder_and_refuses_one_with_children() {
    let h = Harness::empty().await;
    let parent = h.client.create_folder(&folder("Parent", ROOT_FOLDER_ID, false)).await.unwrap();
    let child = h.client.create_folder(&folder("Child", parent.id, true)).await.unwrap();
    let refused = h.client.delete_folder(parent.id).await.unwrap_err();
    assert!(matches!(refused, ClientError::BadRequest { .. }), "{refused:?}");
    assert_eq!(h.client.delete_folder(child.id).await.unwrap().id, child.id);
    assert!(h.client.get_folder(child.id).await.unwrap_err().is_not_found());
    h.client.delete_folder(parent.id).await.unwrap();
    assert!(folder_names(&h, &FolderQuery::children_of(ROOT_FOLDER_ID)).await.is_empty());
    h.finish().await;
}

#[tokio::test]
async fn get_folder_of_an_unknown_id_is_not_found() {
    let h = Harness::empty().await;
    assert!(h.client.get_folder(31_337).await.unwrap_err().is_not_found());
    h.finish().await;
}
