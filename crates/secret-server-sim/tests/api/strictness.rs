//! The emulator is as strict as Secret Server by default: the API account's role permissions and
//! its folder and secret permissions decide what it sees and changes, the Everyone group and
//! personal folders exist, directory-synchronized groups keep their members, deleting an inactive
//! user fails, licences run out; leniency only by explicit switches.

use crate::helpers::{TestSim, assert_error};
use reqwest::{Method, StatusCode};
use secret_server_sim::{Leniency, SimConfig};
use serde_json::{Value, json};

fn names(page: &Value, key: &str) -> Vec<String> {
    page["records"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap_or_default().to_owned()).collect()
}

#[track_caller]
fn assert_denied(status: StatusCode, body: &Value) {
    assert_error(status, body, "API_AccessDenied");
    assert_eq!(body["message"], "Access Denied");
}

#[tokio::test]
async fn a_search_lists_only_the_folders_the_api_account_holds_a_role_on() {
    let t = TestSim::spawn().await;
    let all = t.ok("/folders?take=100").await;
    let paths = names(&all, "folderPath");
    assert!(paths.contains(&"\\IT\\Windows Servers".to_owned()), "inherited from \\IT: {paths:?}");
    assert!(!paths.iter().any(|p| p.starts_with("\\Personal Folders")), "nobody's personal folder: {paths:?}");
    let shared = t.create_folder("Shared by an admin", -1, false).await;
    let secrets_before = t.ok("/secrets?take=100").await["total"].clone();
    // An administrator takes the API account's permission away: the folder leaves its searches.
    let own = t.ok(&format!("/folder-permissions?filter.folderId={shared}")).await;
    let id = own["records"][0]["id"].as_i64().unwrap();
    let (status, _) = t.delete(&format!("/folder-permissions/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!names(&t.ok("/folders?take=100").await, "folderName").contains(&"Shared by an admin".to_owned()));
    let (status, body) = t.get(&format!("/folders/{shared}")).await;
    assert_denied(status, &body);
    assert_eq!(t.ok(&format!("/folder-permissions?filter.folderId={shared}")).await["total"], 0);
    assert_eq!(t.ok("/secrets?take=100").await["total"], secrets_before);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_secret_search_lists_only_the_secrets_the_api_account_may_list() {
    let t = TestSim::spawn().await;
    let listed = names(&t.ok("/secrets?take=100&filter.includeInactive=true").await, "name");
    assert!(listed.contains(&"web01 root".to_owned()) && listed.contains(&"DC01 Administrator".to_owned()));
    let reporting = t.secret_id("sql-prod reporting").await;
    let perms = t.ok(&format!("/secret-permissions?filter.secretId={reporting}")).await;
    let mine = perms["records"].as_array().unwrap().iter().find(|p| p["userName"] == "scim-api").unwrap()["id"].clone();
    let (status, _) = t.delete(&format!("/secret-permissions/{mine}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!names(&t.ok("/secrets?take=100").await, "name").contains(&"sql-prod reporting".to_owned()));
    let (status, body) = t.get(&format!("/secrets/{reporting}/summary")).await;
    assert_denied(status, &body);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_folder_that_inherits_shows_through_its_parent_and_a_moved_one_takes_its_new_parents_permissions() {
    let t = TestSim::spawn().await;
    let mine = t.create_folder("Mine", -1, false).await;
    let child = t.create_folder("Child", mine, true).await;
    assert_eq!(t.ok(&format!("/folders/{child}")).await["inheritPermissions"], true, "seen through Mine");
    // \Databases\Staging inherits from \Databases, where Developers have View.
    let databases = t.folder_id("\\Databases").await;
    let (status, body) = t
        .put(
            &format!("/folders/{child}"),
            json!({"id": child, "folderName": "Child", "folderTypeId": 1, "parentFolderId": databases, "inheritPermissions": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["folderPath"], "\\Databases\\Child");
    // The API account is Owner of \Databases: it still sees the moved folder, now through its new parent; and a
    // permission added to \Databases applies to it at once.
    let frank = t.user_id("frank.green").await;
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": databases, "userId": frank, "folderAccessRoleName": "View", "secretAccessRoleName": "List"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": child, "userId": frank, "folderAccessRoleName": "Edit", "secretAccessRoleName": "View"}),
        )
        .await;
    assert_error(status, &body, "API_PermissionsAreInherited");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn moving_a_folder_needs_a_role_on_the_new_parent() {
    let t = TestSim::spawn().await;
    let mine = t.create_folder("Movable", -1, false).await;
    let hidden = t.create_folder("Hidden", -1, false).await;
    let own = t.ok(&format!("/folder-permissions?filter.folderId={hidden}")).await;
    let (status, _) = t.delete(&format!("/folder-permissions/{}", own["records"][0]["id"])).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = t
        .put(
            &format!("/folders/{mine}"),
            json!({"id": mine, "folderName": "Movable", "folderTypeId": 1, "parentFolderId": hidden, "inheritPermissions": true}),
        )
        .await;
    assert_denied(status, &body);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_everyone_group_holds_every_user_and_cannot_be_changed() {
    let t = TestSim::spawn().await;
    let everyone = t.group_id("Everyone").await;
    let group = t.ok(&format!("/groups/{everyone}")).await;
    assert_eq!((group["systemGroup"].clone(), group["canEditMembers"].clone()), (json!(true), json!(false)));
    let members = t.ok(&format!("/groups/{everyone}/users?filter.includeInactiveUsersForGroup=true&take=100")).await;
    assert_eq!(members["total"], 0, "the membership is implicit: not listed");
    let users = t.ok("/users?filter.includeInactive=true&take=100").await;
    for user in users["records"].as_array().unwrap() {
        let membership = t.ok(&format!("/groups/{everyone}/users/{}", user["id"])).await;
        assert_eq!(membership["userId"], user["id"], "every user, the API account and the inactive one included");
    }
    let id = t.create_user("newcomer").await;
    assert!(t.ok(&format!("/groups/{everyone}/users/{id}")).await["userName"] == "newcomer");
    let (status, body) = t.post(&format!("/groups/{everyone}/users"), json!({"userId": id})).await;
    assert_error(status, &body, "API_CannotAddRemoveUsersFromSystemGroups");
    let (status, body) = t.delete(&format!("/groups/{everyone}/users/{id}")).await;
    assert_error(status, &body, "API_CannotAddRemoveUsersFromSystemGroups");
    let (status, body) = t.delete(&format!("/groups/{everyone}")).await;
    assert_error(status, &body, "API_SystemGroupNotEditable");
    let (status, body) =
        t.patch(&format!("/groups/{everyone}"), json!({"data": {"name": {"dirty": true, "value": "All"}}})).await;
    assert_error(status, &body, "API_SystemGroupNotEditable");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_permission_for_everyone_lets_the_api_account_see_a_folder_and_no_more() {
    let t = TestSim::spawn().await;
    let shared = t.create_folder("For everyone", -1, false).await;
    let everyone = t.group_id("Everyone").await;
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": shared, "groupId": everyone, "folderAccessRoleName": "View", "secretAccessRoleName": "List"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // The API account gives its own Owner permission up: what is left is Everyone's View.
    let own = t.ok(&format!("/folder-permissions?filter.folderId={shared}")).await;
    let api = own["records"].as_array().unwrap().iter().find(|p| p["userName"] == "scim-api").unwrap()["id"].clone();
    assert_eq!(t.delete(&format!("/folder-permissions/{api}")).await.0, StatusCode::OK);
    assert!(names(&t.ok("/folders?take=100").await, "folderName").contains(&"For everyone".to_owned()));
    assert_eq!(t.ok(&format!("/folders/{shared}")).await["folderName"], "For everyone");
    let frank = t.user_id("frank.green").await;
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": shared, "userId": frank, "folderAccessRoleName": "View", "secretAccessRoleName": "List"}),
        )
        .await;
    assert_denied(status, &body);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn every_user_but_an_application_account_has_a_personal_folder_nobody_else_sees() {
    let t = TestSim::spawn_with(SimConfig {
        leniency: Leniency { unlimited_administration: true, ..Leniency::default() },
        ..SimConfig::for_tests()
    })
    .await;
    let alice = t.ok("/folders/0?folderPath=%5CPersonal%20Folders%5Calice.martin").await;
    let owners = t.ok(&format!("/folder-permissions?filter.folderId={}", alice["id"])).await;
    assert_eq!(names(&owners, "userName"), ["alice.martin"]);
    assert_eq!(owners["records"][0]["folderAccessRoleName"], "Owner");
    let (status, body) = t.get("/folders/0?folderPath=%5CPersonal%20Folders%5Cscim-api").await;
    assert_error(status, &body, "API_FolderNotFound");
    // Even an unlimited administrator cannot share it or put a folder in it.
    let bob = t.user_id("bob.chen").await;
    let (status, body) = t
        .post(
            "/folder-permissions",
            json!({"folderId": alice["id"], "userId": bob, "folderAccessRoleName": "View", "secretAccessRoleName": "View"}),
        )
        .await;
    assert_denied(status, &body);
    let (status, body) = t
        .post(
            "/folders",
            json!({"folderName": "Sub", "parentFolderId": alice["id"], "folderTypeId": 1, "inheritPermissions": true}),
        )
        .await;
    assert_denied(status, &body);
    t.sim.shutdown().await;

    let strict = TestSim::spawn().await;
    let (status, body) = strict.get("/folders/0?folderPath=%5CPersonal%20Folders%5Calice.martin").await;
    assert_denied(status, &body);
    let created = strict.create_user("with.personal").await;
    assert!(created > 0);
    strict.sim.shutdown().await;
}

#[tokio::test]
async fn a_missing_role_permission_is_access_denied_and_current_user_lists_what_is_left() {
    let t = TestSim::spawn().await;
    t.sim.api_account().set_permissions(
        t.sim.api_account().permissions().into_iter().filter(|p| p != "Administer Users" && p != "View Users"),
    );
    let (status, body) = t.get("/users?take=5").await;
    assert_denied(status, &body);
    let (status, body) = t
        .post("/users", json!({"userName": "x", "password": "Valid-Passw0rd!", "displayName": "x", "enabled": true}))
        .await;
    assert_denied(status, &body);
    let me = t.ok("/users/current").await;
    let held: Vec<&str> = me["permissions"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert!(!held.contains(&"Administer Users") && held.contains(&"Administer Groups"), "{held:?}");
    // The same through the emulator's admin endpoint: View Users back, reads work, writes do not.
    let mut back = t.sim.api_account().permissions();
    back.push("View Users".to_owned());
    let (status, _) = t.send(Method::PUT, t.root("/_sim/api-account/permissions"), Some(json!(back))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.get("/users?take=5").await.0, StatusCode::OK);
    let (status, body) = t.delete(&format!("/users/{}", t.user_id("bob.chen").await)).await;
    assert_denied(status, &body);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn without_create_root_folders_a_root_folder_is_denied_but_a_subfolder_is_not() {
    let t = TestSim::spawn().await;
    t.sim
        .api_account()
        .set_permissions(t.sim.api_account().permissions().into_iter().filter(|p| p != "Create Root Folders"));
    let (status, body) =
        t.post("/folders", json!({"folderName": "Top", "parentFolderId": -1, "folderTypeId": 1})).await;
    assert_denied(status, &body);
    let it = t.folder_id("\\IT").await;
    t.create_folder("Below IT", it, true).await;
    t.sim.shutdown().await;
}

#[tokio::test]
async fn access_denied_is_a_403_when_the_emulator_is_set_so() {
    let t = TestSim::spawn_with(SimConfig { access_denied_status: 403, ..SimConfig::for_tests() }).await;
    t.sim.api_account().set_permissions(Vec::<String>::new());
    let (status, body) = t.get("/groups").await;
    assert_eq!((status, body), (StatusCode::FORBIDDEN, json!({"message": "Access Denied"})));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_members_of_a_directory_synchronized_group_cannot_be_changed_by_any_route() {
    let t = TestSim::spawn().await;
    let synced = t.group_id("Domain Admins").await;
    let alice = t.user_id("alice.martin").await;
    let (status, body) = t.post(&format!("/users/{alice}/groups"), json!({"groupIds": [synced]})).await;
    assert_error(status, &body, "API_CannotAddRemoveUsersFromDirectoryManagedGroups");
    let (status, body) = t.put(&format!("/groups/{synced}/users"), json!({"userIds": [alice]})).await;
    assert_error(status, &body, "API_CannotAddRemoveUsersFromDirectoryManagedGroups");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deleting_an_inactive_user_succeeds_again_only_with_the_leniency_switch() {
    let t = TestSim::spawn_with(SimConfig {
        leniency: Leniency { delete_inactive_user: true, ..Leniency::default() },
        ..SimConfig::for_tests()
    })
    .await;
    let henry = t.user_id("henry.irwin").await;
    assert_eq!(t.delete(&format!("/users/{henry}")).await.0, StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn licences_count_enabled_users_who_are_not_application_accounts() {
    // The demo organisation has 9 enabled users (its administrator included) besides the API
    // account (an application account).
    let t = TestSim::spawn_with(SimConfig { user_licenses: Some(10), ..SimConfig::for_tests() }).await;
    t.create_user("ninth").await;
    let (status, body) = t
        .post(
            "/users",
            json!({"userName": "tenth", "password": "Valid-Passw0rd!", "displayName": "t", "enabled": true}),
        )
        .await;
    assert_error(status, &body, "API_UserLicenseLimitReached");
    let (status, body) = t
        .post(
            "/users",
            json!({"userName": "tenth", "password": "Valid-Passw0rd!", "displayName": "t", "enabled": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "a disabled user takes no licence: {body}");
    let tenth = body["id"].as_i64().unwrap();
    let (status, body) = t
        .post(
            "/users",
            json!({"userName": "robot", "password": "Valid-Passw0rd!", "displayName": "r", "enabled": true, "isApplicationAccount": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "an application account takes none either: {body}");
    let (status, body) = t.patch(&format!("/users/{tenth}"), json!({"enabled": {"dirty": true, "value": true}})).await;
    assert_error(status, &body, "API_UserLicenseLimitReached");
    // Disabling one frees a licence.
    let ninth = t.user_id("ninth").await;
    assert_eq!(t.delete(&format!("/users/{ninth}")).await.0, StatusCode::OK);
    let (status, body) = t.patch(&format!("/users/{tenth}"), json!({"enabled": {"dirty": true, "value": true}})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    t.sim.shutdown().await;
}
