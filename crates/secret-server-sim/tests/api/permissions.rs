//! `/api/v1/folder-permissions` and `/api/v1/secret-permissions`, inheritance included.

use crate::helpers::{TestSim, assert_error, assert_invalid};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn a_folder_permission_is_created_read_updated_and_deleted() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\Databases").await;
    let frank = t.user_id("frank.green").await;
    let (status, created) = t
        .post(
            "/folder-permissions",
            json!({"folderId": folder, "userId": frank, "folderAccessRoleName": "Add Secret", "secretAccessRoleName": "List", "breakInheritance": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["folderId"], folder);
    assert_eq!(created["folderAccessRoleName"], "Add Secret");
    assert_eq!(created["folderAccessRoleId"], 3);
    assert_eq!(created["secretAccessRoleName"], "List");
    assert_eq!(created["userName"], "frank.green");
    assert_eq!(created["knownAs"], "Frank Green");
    assert!(created.get("groupId").is_none());
    assert_eq!(t.ok(&format!("/folder-permissions/{id}")).await, created);

    let (status, updated) = t
        .put(
            &format!("/folder-permissions/{id}"),
            json!({"id": id, "folderId": folder, "folderAccessRoleName": "Edit", "secretAccessRoleName": "View"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["folderAccessRoleName"], "Edit");
    assert_eq!(updated["userId"], frank, "the principal cannot change");

    let (status, body) = t.delete(&format!("/folder-permissions/{id}?breakInheritance=false")).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"id": id, "objectType": "FolderPermission", "responseCodes": []}))
    );
    let (status, body) = t.get(&format!("/folder-permissions/{id}")).await;
    assert_error(status, &body, "API_FolderPermissionNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn role_names_are_validated() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\Databases").await;
    let frank = t.user_id("frank.green").await;
    let (status, body) = t
        .post("/folder-permissions", json!({"folderId": folder, "userId": frank, "folderAccessRoleName": "Admin", "secretAccessRoleName": "View"}))
        .await;
    assert_invalid(status, &body, "folderAccessRoleName");
    let (status, body) = t
        .post("/folder-permissions", json!({"folderId": folder, "userId": frank, "folderAccessRoleName": "View", "secretAccessRoleName": "Add Secret"}))
        .await;
    assert_invalid(status, &body, "secretAccessRoleName");
    for secret_role in ["View", "Edit", "List", "Owner", "None"] {
        let group = t.create_group(&format!("Role {secret_role}")).await;
        let (status, body) = t
            .post("/folder-permissions", json!({"folderId": folder, "groupId": group, "folderAccessRoleName": "View", "secretAccessRoleName": secret_role}))
            .await;
        assert_eq!(status, StatusCode::OK, "{secret_role}: {body}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn exactly_one_of_user_and_group_is_required() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\Databases").await;
    let frank = t.user_id("frank.green").await;
    let group = t.group_id("Helpdesk").await;
    let both = json!({"folderId": folder, "userId": frank, "groupId": group, "folderAccessRoleName": "View", "secretAccessRoleName": "View"});
    let (status, body) = t.post("/folder-permissions", both).await;
    assert_invalid(status, &body, "userId");
    let neither = json!({"folderId": folder, "folderAccessRoleName": "View", "secretAccessRoleName": "View"});
    let (status, body) = t.post("/folder-permissions", neither).await;
    assert_invalid(status, &body, "userId");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn adding_to_an_inheriting_folder_without_break_inheritance_is_permissions_are_inherited() {
    let t = TestSim::spawn().await;
    let staging = t.folder_id("\\Databases\\Staging").await;
    let frank = t.user_id("frank.green").await;
    let args = json!({"folderId": staging, "userId": frank, "folderAccessRoleName": "View", "secretAccessRoleName": "View", "breakInheritance": false});
    let (status, body) = t.post("/folder-permissions", args).await;
    assert_error(status, &body, "API_PermissionsAreInherited");
    assert_eq!(body["message"], "API_PermissionsAreInherited");
    assert_eq!(t.ok(&format!("/folders/{staging}")).await["inheritPermissions"], true, "nothing changed");
    t.sim.shutdown().await;
}

fn principals(body: &Value) -> Vec<String> {
    let mut list: Vec<String> = body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}/{}/{}",
                p["knownAs"].as_str().unwrap_or(""),
                p["folderAccessRoleName"].as_str().unwrap(),
                p["secretAccessRoleName"].as_str().unwrap()
            )
        })
        .collect();
    list.sort();
    list
}

#[tokio::test]
async fn break_inheritance_copies_the_parents_permissions_then_applies_the_new_one() {
    let t = TestSim::spawn().await;
    let staging = t.folder_id("\\Databases\\Staging").await;
    let databases = t.folder_id("\\Databases").await;
    let frank = t.user_id("frank.green").await;
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": staging, "userId": frank, "folderAccessRoleName": "View", "secretAccessRoleName": "View", "breakInheritance": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.ok(&format!("/folders/{staging}")).await["inheritPermissions"], false);
    let own = principals(&t.ok(&format!("/folder-permissions?filter.folderId={staging}")).await);
    let mut expected = principals(&t.ok(&format!("/folder-permissions?filter.folderId={databases}")).await);
    expected.push("Frank Green/View/View".to_owned());
    expected.sort();
    assert_eq!(own, expected);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn break_inheritance_for_a_principal_the_parent_has_replaces_the_copied_roles() {
    let t = TestSim::spawn().await;
    let staging = t.folder_id("\\Databases\\Staging").await;
    let developers = t.group_id("Developers").await;
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": staging, "groupId": developers, "folderAccessRoleName": "Edit", "secretAccessRoleName": "Edit", "breakInheritance": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let own = t.ok(&format!("/folder-permissions?filter.folderId={staging}")).await;
    assert_eq!(own["total"], 3, "DBAs and the API account copied, Developers copied then replaced: {own}");
    assert!(principals(&own).contains(&"Developers/Edit/Edit".to_owned()));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_principal_has_at_most_one_permission_per_folder() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\IT").await;
    let admins = t.group_id("IT Admins").await;
    let (status, body) = t
        .post("/folder-permissions", json!({"folderId": folder, "groupId": admins, "folderAccessRoleName": "View", "secretAccessRoleName": "View"}))
        .await;
    assert_error(status, &body, "API_DuplicatePermission");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_inactive_user_cannot_be_granted_a_permission() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\IT").await;
    let henry = t.user_id("henry.irwin").await;
    let (status, body) = t
        .post("/folder-permissions", json!({"folderId": folder, "userId": henry, "folderAccessRoleName": "View", "secretAccessRoleName": "View"}))
        .await;
    assert_error(status, &body, "API_UserInactive");
    let secret = t.secret_id("svc-backup").await;
    let (status, body) = t
        .post("/secret-permissions", json!({"secretId": secret, "userId": henry, "secretAccessRoleName": "View"}))
        .await;
    assert_error(status, &body, "API_UserInactive");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn folder_permissions_are_searched_by_folder_user_or_group_in_either_spelling() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\Databases\\Production").await;
    let lower = t.ok(&format!("/folder-permissions?filter.folderid={folder}")).await;
    let camel = t.ok(&format!("/folder-permissions?filter.folderId={folder}")).await;
    assert_eq!(lower, camel);
    assert_eq!(lower["total"], 3, "DBAs, erin.fischer and the API account");
    let erin = t.user_id("erin.fischer").await;
    let by_user = t.ok(&format!("/folder-permissions?filter.userId={erin}")).await;
    assert_eq!(by_user["total"], 1);
    assert_eq!(by_user["records"][0]["secretAccessRoleName"], "None");
    let dbas = t.group_id("DBAs").await;
    let by_group = t.ok(&format!("/folder-permissions?filter.groupId={dbas}&sortBy[0].name=Id")).await;
    assert_eq!(by_group["total"], 2);
    assert_eq!(by_group["records"][0]["groupName"], "DBAs");
    let combined = t.ok(&format!("/folder-permissions?filter.groupId={dbas}&filter.folderId={folder}")).await;
    assert_eq!(combined["total"], 1);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn unknown_ids_in_permission_requests_name_the_thing() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\IT").await;
    let cases = [
        (
            json!({"folderId": 999999, "groupId": 1, "folderAccessRoleName": "View", "secretAccessRoleName": "View"}),
            "API_FolderNotFound",
        ),
        (
            json!({"folderId": folder, "userId": 999999, "folderAccessRoleName": "View", "secretAccessRoleName": "View"}),
            "API_UserNotFound",
        ),
        (
            json!({"folderId": folder, "groupId": 999999, "folderAccessRoleName": "View", "secretAccessRoleName": "View"}),
            "API_GroupNotFound",
        ),
    ];
    for (args, code) in cases {
        let (status, body) = t.post("/folder-permissions", args).await;
        assert_error(status, &body, code);
    }
    let (status, body) = t
        .put("/folder-permissions/999999", json!({"folderAccessRoleName": "View", "secretAccessRoleName": "View"}))
        .await;
    assert_error(status, &body, "API_FolderPermissionNotFound");
    let (status, body) = t.delete("/secret-permissions/999999").await;
    assert_error(status, &body, "API_SecretPermissionNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_secret_permission_is_created_updated_searched_and_deleted() {
    let t = TestSim::spawn().await;
    let secret = t.secret_id("web01 root").await;
    let frank = t.user_id("frank.green").await;
    let (status, created) = t
        .post("/secret-permissions", json!({"secretId": secret, "userId": frank, "secretAccessRoleName": "View"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["secretId"], secret);
    assert_eq!(created["userName"], "frank.green");
    assert_eq!(created["secretAccessRoleName"], "View");
    assert_eq!(created["secretAccessRoleId"], 2);
    assert_eq!(t.ok(&format!("/secret-permissions/{id}")).await, created);

    let (status, updated) = t
        .put(
            &format!("/secret-permissions/{id}"),
            json!({"id": id, "secretId": secret, "secretAccessRoleName": "Edit"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["secretAccessRoleName"], "Edit");

    assert_eq!(
        t.ok(&format!("/secret-permissions?filter.secretId={secret}")).await["total"],
        4,
        "IT Admins, Security, the API account and frank.green"
    );
    assert_eq!(t.ok(&format!("/secret-permissions?filter.userId={frank}")).await["total"], 1);
    assert_eq!(t.ok("/secret-permissions?filter.userName=FRANK.GREEN").await["total"], 1);
    assert_eq!(t.ok("/secret-permissions?filter.groupName=security").await["total"], 1);

    let (status, body) = t.delete(&format!("/secret-permissions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["objectType"], "SecretPermission");
    assert_eq!(t.ok(&format!("/secret-permissions?filter.userId={frank}")).await["total"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_secret_permission_on_an_inheriting_secret_breaks_inheritance_from_its_folder() {
    let t = TestSim::spawn().await;
    let secret = t.secret_id("sql-staging sa").await;
    assert_eq!(t.ok(&format!("/secrets/{secret}/summary")).await["inheritsPermissions"], true);
    assert_eq!(t.ok(&format!("/secret-permissions?filter.secretId={secret}")).await["total"], 0);
    let frank = t.user_id("frank.green").await;
    let (status, body) = t
        .post("/secret-permissions", json!({"secretId": secret, "userId": frank, "secretAccessRoleName": "List"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(t.ok(&format!("/secrets/{secret}/summary")).await["inheritsPermissions"], false);
    // \Databases gives DBAs Owner, Developers List and the API account Owner; Staging inherits them.
    let perms = t.ok(&format!("/secret-permissions?filter.secretId={secret}")).await;
    let mut got: Vec<String> = perms["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| format!("{}/{}", p["knownAs"].as_str().unwrap(), p["secretAccessRoleName"].as_str().unwrap()))
        .collect();
    got.sort();
    assert_eq!(got, vec!["DBAs/Owner", "Developers/List", "Frank Green/List", "SCIM connector API account/Owner"]);
    let (status, body) = t
        .post("/secret-permissions", json!({"secretId": secret, "userId": frank, "secretAccessRoleName": "View"}))
        .await;
    assert_error(status, &body, "API_DuplicatePermission");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_folder_permission_stub_names_the_folder() {
    let t = TestSim::spawn().await;
    let stub = t.ok("/folder-permissions/stub?folderId=5").await;
    assert_eq!(stub["folderId"], 5);
    assert_eq!(stub["id"], 0);
    t.sim.shutdown().await;
}
