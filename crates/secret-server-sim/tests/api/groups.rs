//! `/api/v1/groups` and membership.

use crate::helpers::{TestSim, assert_error, assert_invalid};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn create_get_update_patch_and_delete_a_group() {
    let t = TestSim::spawn().await;
    let (status, created) = t.post("/groups", json!({"name": "Auditors", "enabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["domainId"], -1);
    assert_eq!(created["canEditMembers"], true);
    assert_eq!(t.ok(&format!("/groups/{id}")).await, created);

    let (status, updated) =
        t.put(&format!("/groups/{id}"), json!({"id": id, "name": "Internal Auditors", "enabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["name"], "Internal Auditors");

    let (status, patched) =
        t.patch(&format!("/groups/{id}"), json!({"data": {"enabled": {"dirty": true, "value": false}}})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["enabled"], false);
    assert_eq!(patched["name"], "Internal Auditors");

    let (status, body) = t.delete(&format!("/groups/{id}")).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"id": id, "objectType": "Group", "responseCodes": []})));
    let (status, body) = t.get(&format!("/groups/{id}")).await;
    assert_error(status, &body, "API_GroupNotFound");
    assert_eq!(body["message"], "Group not found.");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn group_names_are_unique_case_insensitively() {
    let t = TestSim::spawn().await;
    let (status, body) = t.post("/groups", json!({"name": "it admins", "enabled": true})).await;
    assert_error(status, &body, "API_DuplicateGroupName");
    assert!(body["message"].as_str().unwrap().contains("it admins"));
    let dbas = t.group_id("DBAs").await;
    let (status, body) =
        t.put(&format!("/groups/{dbas}"), json!({"id": dbas, "name": "Helpdesk", "enabled": true})).await;
    assert_error(status, &body, "API_DuplicateGroupName");
    let (status, body) = t.post("/groups", json!({"name": "  ", "enabled": true})).await;
    assert_invalid(status, &body, "name");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_groups_domain_cannot_change() {
    let t = TestSim::spawn().await;
    let id = t.group_id("Security").await;
    let (status, body) =
        t.put(&format!("/groups/{id}"), json!({"id": id, "name": "Security", "domainId": 1, "enabled": true})).await;
    assert_invalid(status, &body, "domainId");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn search_leaves_disabled_groups_out_unless_asked_and_counts_members() {
    let t = TestSim::spawn().await;
    let id = t.create_group("Dormant").await;
    t.patch(&format!("/groups/{id}"), json!({"data": {"enabled": {"dirty": true, "value": false}}})).await;
    assert_eq!(t.ok("/groups?filter.searchText=dormant").await["total"], 0);
    assert_eq!(t.ok("/groups?filter.searchText=dormant&filter.includeInactive=true").await["total"], 1);
    let admins = t.ok("/groups?filter.searchText=IT%20Admins").await;
    assert_eq!(admins["records"][0]["memberCount"], 2);
    let lookup = t.ok("/groups/lookup?filter.searchText=dba").await;
    assert_eq!(lookup["records"][0]["value"], "DBAs");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn members_are_added_listed_read_and_removed() {
    let t = TestSim::spawn().await;
    let group = t.create_group("Project X").await;
    let alice = t.user_id("alice.martin").await;
    let (status, body) = t.post(&format!("/groups/{group}/users"), json!({"userId": alice})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["groupId"], group);
    assert_eq!(body["groupName"], "Project X");
    assert_eq!(body["userId"], alice);
    assert_eq!(body["userName"], "alice.martin");
    assert_eq!(body["userDomainId"], -1);

    let members = t.ok(&format!("/groups/{group}/users")).await;
    assert_eq!(members["total"], 1);
    assert_eq!(members["records"][0]["userId"], alice);
    assert_eq!(t.ok(&format!("/groups/{group}/users/{alice}")).await["userName"], "alice.martin");

    let (status, body) = t.delete(&format!("/groups/{group}/users/{alice}")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], alice);
    assert_eq!(t.ok(&format!("/groups/{group}/users")).await["total"], 0);
    let (status, body) = t.get(&format!("/groups/{group}/users/{alice}")).await;
    assert_error(status, &body, "API_MembershipNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn adding_a_member_twice_is_refused() {
    let t = TestSim::spawn().await;
    let group = t.group_id("IT Admins").await;
    let alice = t.user_id("alice.martin").await;
    let (status, body) = t.post(&format!("/groups/{group}/users"), json!({"userId": alice})).await;
    assert_error(status, &body, "API_UserAlreadyInGroup");
    assert_eq!(t.ok(&format!("/groups/{group}/users")).await["total"], 2, "nothing changed");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn removing_a_non_member_is_membership_not_found() {
    let t = TestSim::spawn().await;
    let group = t.group_id("IT Admins").await;
    let carol = t.user_id("carol.diaz").await;
    let (status, body) = t.delete(&format!("/groups/{group}/users/{carol}")).await;
    assert_error(status, &body, "API_MembershipNotFound");
    let (status, body) = t.delete(&format!("/groups/{group}/users/999999")).await;
    assert_error(status, &body, "API_UserNotFound");
    let (status, body) = t.post("/groups/999999/users", json!({"userId": carol})).await;
    assert_error(status, &body, "API_GroupNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_inactive_user_cannot_be_added_to_a_group() {
    let t = TestSim::spawn().await;
    let group = t.group_id("Helpdesk").await;
    let henry = t.user_id("henry.irwin").await;
    let (status, body) = t.post(&format!("/groups/{group}/users"), json!({"userId": henry})).await;
    assert_error(status, &body, "API_UserInactive");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn inactive_members_are_listed_only_when_asked() {
    let t = TestSim::spawn().await;
    let developers = t.group_id("Developers").await;
    assert_eq!(t.ok(&format!("/groups/{developers}/users")).await["total"], 2);
    let all = t.ok(&format!("/groups/{developers}/users?filter.includeInactiveUsersForGroup=true")).await;
    assert_eq!(all["total"], 3);
    assert!(all["records"].as_array().unwrap().iter().any(|m| m["enabled"] == false));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn replacing_members_sets_exactly_the_given_users() {
    let t = TestSim::spawn().await;
    let group = t.group_id("IT Admins").await;
    let carol = t.user_id("carol.diaz").await;
    let dave = t.user_id("dave.evans").await;
    let alice = t.user_id("alice.martin").await;
    let (status, body) =
        t.put(&format!("/groups/{group}/users"), json!({"userIds": [alice, carol, dave, carol]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let ids: Vec<i64> = t.ok(&format!("/groups/{group}/users?take=50")).await["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["userId"].as_i64().unwrap())
        .collect();
    let mut expected = vec![alice, carol, dave];
    expected.sort();
    assert_eq!(ids, expected);
    let (status, body) = t.put(&format!("/groups/{group}/users"), json!({"userIds": [alice, 999999]})).await;
    assert_error(status, &body, "API_UserNotFound");
    assert_eq!(t.ok(&format!("/groups/{group}/users")).await["total"], 3, "a refused replace changes nothing");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn synchronized_group_members_cannot_be_edited() {
    let t = TestSim::spawn().await;
    let group = t.group_id("Domain Admins").await;
    let body = t.ok(&format!("/groups/{group}")).await;
    assert_eq!(body["synchronized"], true);
    assert_eq!(body["canEditMembers"], false);
    assert_eq!(body["domainName"], "corp.example.com");
    let alice = t.user_id("alice.martin").await;
    let (status, body) = t.post(&format!("/groups/{group}/users"), json!({"userId": alice})).await;
    assert_error(status, &body, "API_CannotAddRemoveUsersFromDirectoryManagedGroups");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn deleting_a_group_removes_its_memberships_and_permissions() {
    let t = TestSim::spawn().await;
    let security = t.group_id("Security").await;
    let erin = t.user_id("erin.fischer").await;
    assert!(t.ok(&format!("/folder-permissions?filter.groupId={security}")).await["total"].as_i64().unwrap() > 0);
    let (status, _) = t.delete(&format!("/groups/{security}")).await;
    assert_eq!(status, StatusCode::OK);
    let groups = t.ok(&format!("/users/{erin}/groups")).await;
    assert!(groups["records"].as_array().unwrap().iter().all(|g| g["groupId"] != security));
    assert_eq!(t.ok(&format!("/folder-permissions?filter.groupId={security}")).await["total"], 0);
    assert_eq!(t.ok(&format!("/secret-permissions?filter.groupId={security}")).await["total"], 0);
    // The name is free again, but the id is never reused.
    let again = t.create_group("Security").await;
    assert!(again > security);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn concurrent_creates_of_one_name_let_exactly_one_through() {
    let t = TestSim::spawn().await;
    let attempts = (0..16).map(|_| t.post("/groups", json!({"name": "Race", "enabled": true})));
    let results = futures::future::join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(created, 1, "{results:?}");
    for (status, body) in results.iter().filter(|(s, _)| *s != StatusCode::OK) {
        assert_error(*status, body, "API_DuplicateGroupName");
    }
    let distinct = (0..16).map(|n| t.post("/groups", json!({"name": format!("Lane {n}"), "enabled": true})));
    let mut ids: Vec<i64> =
        futures::future::join_all(distinct).await.iter().map(|(_, b)| b["id"].as_i64().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "concurrent creates get distinct ids");
    t.sim.shutdown().await;
}
