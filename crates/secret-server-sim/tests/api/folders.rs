//! `/api/v1/folders`: the tree, paths, moves, inheritance and deletion rules.

use crate::helpers::{TestSim, assert_error, assert_invalid};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_root_folder_has_parent_minus_one_and_a_computed_path() {
    let t = TestSim::spawn().await;
    let (status, body) = t
        .post(
            "/folders",
            json!({"folderName": "Vendors", "parentFolderId": -1, "folderTypeId": 1, "inheritPermissions": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["parentFolderId"], -1);
    assert_eq!(body["folderPath"], "\\Vendors");
    assert_eq!(body["childFolders"], json!([]), "create answers with childFolders");
    let id = body["id"].as_i64().unwrap();
    let child = t.create_folder("Acme", id, true).await;
    let read = t.ok(&format!("/folders/{child}")).await;
    assert_eq!(read["folderPath"], "\\Vendors\\Acme");
    assert_eq!(read["inheritPermissions"], true);
    assert!(read.get("childFolders").is_none());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_root_folder_cannot_inherit_permissions() {
    let t = TestSim::spawn().await;
    let (status, body) =
        t.post("/folders", json!({"folderName": "Orphan", "parentFolderId": -1, "inheritPermissions": true})).await;
    assert_error(status, &body, "API_RootFolderCannotInheritPermissions");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn folder_names_are_required_and_unique_among_siblings() {
    let t = TestSim::spawn().await;
    let (status, body) = t.post("/folders", json!({"folderName": "it", "parentFolderId": -1})).await;
    assert_error(status, &body, "API_DuplicateFolderName");
    let (status, body) = t.post("/folders", json!({"folderName": "", "parentFolderId": -1})).await;
    assert_invalid(status, &body, "folderName");
    let (status, body) = t.post("/folders", json!({"folderName": "a\\b", "parentFolderId": -1})).await;
    assert_invalid(status, &body, "folderName");
    let (status, body) = t.post("/folders", json!({"folderName": "x", "parentFolderId": 999999})).await;
    assert_error(status, &body, "API_FolderNotFound");
    // The same name under another parent is fine.
    let databases = t.folder_id("\\Databases").await;
    t.create_folder("Network", databases, true).await;
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_new_folder_that_does_not_inherit_is_owned_by_its_creator() {
    let t = TestSim::spawn().await;
    let id = t.create_folder("Mine", -1, false).await;
    let perms = t.ok(&format!("/folder-permissions?filter.folderId={id}")).await;
    assert_eq!(perms["total"], 1);
    assert_eq!(perms["records"][0]["userName"], t.sim.api_username());
    assert_eq!(perms["records"][0]["folderAccessRoleName"], "Owner");
    assert_eq!(perms["records"][0]["secretAccessRoleName"], "Owner");
    let it = t.folder_id("\\IT").await;
    let inheriting = t.create_folder("Shared", it, true).await;
    assert_eq!(t.ok(&format!("/folder-permissions?filter.folderId={inheriting}")).await["total"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn search_by_parent_and_text_and_lookup() {
    let t = TestSim::spawn().await;
    let roots = t.ok("/folders?filter.parentFolderId=-1&take=100").await;
    let names: Vec<_> = roots["records"].as_array().unwrap().iter().map(|f| f["folderName"].clone()).collect();
    assert_eq!(names, vec![json!("IT"), json!("Databases"), json!("Helpdesk")]);
    let it = t.folder_id("\\IT").await;
    let children = t.ok(&format!("/folders?filter.parentFolderId={it}")).await;
    assert_eq!(children["total"], 3);
    let servers = t.ok("/folders?filter.searchText=servers").await;
    assert_eq!(servers["total"], 2);
    let lookup =
        t.ok(&format!("/folders/lookup?filter.parentFolderId={it}&filter.limitToDirectDescendents=true")).await;
    assert_eq!(lookup["records"].as_array().unwrap().len(), 3);
    assert!(lookup["records"][0]["value"].is_string());
    t.sim.shutdown().await;
}

#[tokio::test]
async fn get_all_children_returns_the_subtree_and_folder_path_finds_a_folder() {
    let t = TestSim::spawn().await;
    let it = t.folder_id("\\IT").await;
    let tree = t.ok(&format!("/folders/{it}?getAllChildren=true")).await;
    let children = tree["childFolders"].as_array().unwrap();
    assert_eq!(children.len(), 3);
    assert!(children.iter().all(|c| c["childFolders"] == json!([])));
    let by_path = t.ok("/folders/0?folderPath=%5Cit%5Clinux%20servers").await;
    assert_eq!(by_path["folderPath"], "\\IT\\Linux Servers", "paths match case-insensitively");
    let (status, body) = t.get("/folders/0?folderPath=%5Cnope").await;
    assert_error(status, &body, "API_FolderNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn moving_a_folder_by_put_changes_its_path_and_its_childrens() {
    let t = TestSim::spawn().await;
    let databases = t.folder_id("\\Databases").await;
    let helpdesk = t.folder_id("\\Helpdesk").await;
    let (status, body) = t
        .put(
            &format!("/folders/{databases}"),
            json!({"id": databases, "folderName": "Databases", "parentFolderId": helpdesk, "folderTypeId": 1, "inheritPermissions": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["folderPath"], "\\Helpdesk\\Databases");
    let staging = t.ok(&format!("/folders/{}", t.folder_id("\\Helpdesk\\Databases\\Staging").await)).await;
    assert_eq!(staging["folderPath"], "\\Helpdesk\\Databases\\Staging");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_folder_cannot_move_under_itself() {
    let t = TestSim::spawn().await;
    let it = t.folder_id("\\IT").await;
    let network = t.folder_id("\\IT\\Network").await;
    for parent in [it, network] {
        let (status, body) = t
            .put(
                &format!("/folders/{it}"),
                json!({"id": it, "folderName": "IT", "parentFolderId": parent, "inheritPermissions": false}),
            )
            .await;
        assert_error(status, &body, "API_FolderCannotMoveUnderItself");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn renaming_keeps_sibling_names_unique() {
    let t = TestSim::spawn().await;
    let helpdesk = t.folder_id("\\Helpdesk").await;
    let (status, body) =
        t.put(&format!("/folders/{helpdesk}"), json!({"id": helpdesk, "folderName": "IT", "parentFolderId": -1})).await;
    assert_error(status, &body, "API_DuplicateFolderName");
    let (status, body) = t
        .put(
            &format!("/folders/{helpdesk}"),
            json!({"id": helpdesk, "folderName": "Service Desk", "parentFolderId": -1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["folderPath"], "\\Service Desk");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn turning_inheritance_off_copies_the_parents_permissions_and_on_drops_its_own() {
    let t = TestSim::spawn().await;
    let it = t.folder_id("\\IT").await;
    let network = t.folder_id("\\IT\\Network").await;
    let parent_perms = t.ok(&format!("/folder-permissions?filter.folderId={it}")).await;
    let (status, _) = t
        .put(
            &format!("/folders/{network}"),
            json!({"id": network, "folderName": "Network", "parentFolderId": it, "inheritPermissions": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let own = t.ok(&format!("/folder-permissions?filter.folderId={network}")).await;
    assert_eq!(own["total"], parent_perms["total"]);
    let roles = |v: &serde_json::Value| {
        let mut r: Vec<_> = v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["groupName"].clone(), p["folderAccessRoleName"].clone(), p["secretAccessRoleName"].clone()))
            .map(|(a, b, c)| format!("{a}/{b}/{c}"))
            .collect();
        r.sort();
        r
    };
    assert_eq!(roles(&own), roles(&parent_perms));
    let (status, _) = t
        .put(
            &format!("/folders/{network}"),
            json!({"id": network, "folderName": "Network", "parentFolderId": it, "inheritPermissions": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.ok(&format!("/folder-permissions?filter.folderId={network}")).await["total"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_folder_with_children_or_secrets_cannot_be_deleted() {
    let t = TestSim::spawn().await;
    let it = t.folder_id("\\IT").await;
    let (status, body) = t.delete(&format!("/folders/{it}")).await;
    assert_error(status, &body, "API_FolderNotEmpty");
    let helpdesk = t.folder_id("\\Helpdesk").await;
    let (status, body) = t.delete(&format!("/folders/{helpdesk}")).await;
    assert_error(status, &body, "API_FolderNotEmpty");
    assert!(body["message"].as_str().unwrap().contains("secrets"));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_empty_folder_is_deleted_with_its_permissions_and_its_id_is_not_reused() {
    let t = TestSim::spawn().await;
    let id = t.create_folder("Temporary", -1, false).await;
    let perm = t.ok(&format!("/folder-permissions?filter.folderId={id}")).await["records"][0]["id"].as_i64().unwrap();
    let (status, body) = t.delete(&format!("/folders/{id}")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"id": id, "objectType": "Folder", "responseCodes": []})));
    let (status, body) = t.get(&format!("/folder-permissions/{perm}")).await;
    assert_error(status, &body, "API_FolderPermissionNotFound");
    let next = t.create_folder("Temporary", -1, false).await;
    assert!(next > id);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_stub_is_a_new_root_folder() {
    let t = TestSim::spawn().await;
    let stub = t.ok("/folders/stub").await;
    assert_eq!(stub["id"], 0);
    assert_eq!(stub["parentFolderId"], -1);
    assert_eq!(stub["folderTypeId"], 1);
    t.sim.shutdown().await;
}
