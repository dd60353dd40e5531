//! Roles as Secret Server 11.7.2 documents them: `GET /roles` (with `filter.userId` and
//! `filter.groupId`), `/roles/{id}`, `/roles/{id}/groups`, a user's roles and how it holds them
//! (`/users/{id}/roles`, `/users/{userId}/roles-assigned`), a group's roles, and their changes.

use crate::helpers::TestSim;
use reqwest::StatusCode;
use serde_json::{Value, json};

const ADMINISTRATOR: i64 = 1;

fn names(page: &Value, key: &str) -> Vec<String> {
    page["records"].as_array().unwrap().iter().map(|r| r[key].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_built_in_roles_are_listed_in_the_paging_envelope() {
    let t = TestSim::spawn().await;
    let page = t.ok("/roles?take=100").await;
    assert_eq!(names(&page, "name"), ["Administrator", "User", "Basic User"]);
    assert_eq!((page["total"].as_i64(), page["success"].as_bool()), (Some(3), Some(true)));
    let admin = &page["records"][0];
    assert_eq!(
        (admin["id"].as_i64(), admin["enabled"].as_bool(), admin["isSystem"].as_bool()),
        (Some(1), Some(true), Some(true))
    );
    assert_eq!(t.ok("/roles/1").await["name"], "Administrator");
    let sorted = t.ok("/roles?sortBy[0].name=name&sortBy[0].direction=Desc&take=1").await;
    assert_eq!(names(&sorted, "name"), ["User"]);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn an_unknown_role_is_a_400_named_like_every_missing_object() {
    let t = TestSim::spawn().await;
    let (status, body) = t.get("/roles/99").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (body["message"].as_str(), body["errorCode"].as_str()),
        (Some("Role not found."), Some("API_RoleNotFound"))
    );
    let alice = t.user_id("alice.martin").await;
    let (status, body) = t.post(&format!("/users/{alice}/roles"), json!({"roleIds": [99]})).await;
    assert_eq!((status, body["errorCode"].as_str()), (StatusCode::BAD_REQUEST, Some("API_RoleNotFound")));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_api_account_and_the_demo_s_admin_hold_administrator_directly() {
    let t = TestSim::spawn().await;
    for name in [t.sim.api_username().to_owned(), "admin".to_owned()] {
        let id = t.user_id(&name).await;
        let roles = t.ok(&format!("/users/{id}/roles")).await;
        assert_eq!(names(&roles, "name"), ["Administrator"], "{name}");
        assert_eq!(roles["records"][0]["roleId"], ADMINISTRATOR);
        let assigned = t.ok(&format!("/users/{id}/roles-assigned")).await;
        assert_eq!(assigned["records"][0]["roleName"], "Administrator");
        assert_eq!(assigned["records"][0]["isDirectAssignment"], true);
        assert_eq!(assigned["records"][0]["groups"], json!([]));
    }
    let alice = t.user_id("alice.martin").await;
    assert_eq!(t.ok(&format!("/users/{alice}/roles")).await["total"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_role_given_to_a_group_is_held_by_its_members_and_roles_assigned_names_the_group() {
    let t = TestSim::spawn().await;
    let group = t.group_id("Security").await;
    let erin = t.user_id("erin.fischer").await;
    let (status, body) = t.post(&format!("/groups/{group}/roles"), json!({"roleIds": [ADMINISTRATOR]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));

    assert_eq!(names(&t.ok(&format!("/groups/{group}/roles")).await, "name"), ["Administrator"]);
    let holders = t.ok(&format!("/roles/{ADMINISTRATOR}/groups")).await;
    // Groups first, then a personal group per user holding the role directly (the API account, `admin`).
    let personal: Vec<bool> =
        holders["records"].as_array().unwrap().iter().map(|g| g["personal"].as_bool().unwrap()).collect();
    assert_eq!(personal.first(), Some(&false));
    assert!(personal[1..].iter().all(|p| *p), "{holders}");
    assert_eq!(names(&holders, "name")[0], "Security");
    assert_eq!(holders["records"][0]["groupId"], group);
    assert_eq!(holders["filter"]["includeInactiveUsersForGroup"], false, "the filter is echoed");
    let assigned = t.ok(&format!("/users/{erin}/roles-assigned")).await;
    assert_eq!(assigned["records"][0]["isDirectAssignment"], false);
    assert_eq!(assigned["records"][0]["groups"], json!([{"groupId": group, "groupName": "Security"}]));
    let by_user = t.ok(&format!("/roles?filter.userId={erin}")).await;
    assert_eq!(names(&by_user, "name"), ["Administrator"]);
    let by_group = t.ok(&format!("/roles?filter.groupId={group}")).await;
    assert_eq!(names(&by_group, "name"), ["Administrator"]);

    let (status, _) = t
        .send(
            reqwest::Method::DELETE,
            t.url(&format!("/groups/{group}/roles")),
            Some(json!({"roleIds": [ADMINISTRATOR]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.ok(&format!("/users/{erin}/roles-assigned")).await["total"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_user_s_direct_roles_are_added_replaced_and_removed() {
    let t = TestSim::spawn().await;
    let bob = t.user_id("bob.chen").await;
    assert_eq!(t.post(&format!("/users/{bob}/roles"), json!({"roleIds": [2, 3]})).await.0, StatusCode::OK);
    assert_eq!(names(&t.ok(&format!("/users/{bob}/roles")).await, "name"), ["User", "Basic User"]);
    assert_eq!(t.put(&format!("/users/{bob}/roles"), json!({"roleIds": [3]})).await.0, StatusCode::OK);
    assert_eq!(names(&t.ok(&format!("/users/{bob}/roles")).await, "name"), ["Basic User"]);
    let (status, _) =
        t.send(reqwest::Method::DELETE, t.url(&format!("/users/{bob}/roles")), Some(json!({"roleIds": [3]}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.ok(&format!("/users/{bob}/roles")).await["total"], 0);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_api_account_cannot_take_the_administrator_role_from_itself() {
    let t = TestSim::spawn().await;
    let me = t.user_id(t.sim.api_username()).await;
    let (status, body) = t
        .send(reqwest::Method::DELETE, t.url(&format!("/users/{me}/roles")), Some(json!({"roleIds": [ADMINISTRATOR]})))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["errorCode"], "API_CannotRemoveOwnAdministratorRole");
    assert_eq!(t.ok(&format!("/users/{me}/roles")).await["total"], 1);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn setting_a_password_is_recorded_as_password_last_changed() {
    let t = TestSim::spawn().await;
    let me = t.user_id(t.sim.api_username()).await;
    assert!(
        t.ok(&format!("/users/{me}")).await.get("passwordLastChanged").is_none(),
        "set by configuration, not the API"
    );
    let id = t.create_user("pw.user").await;
    let created = t.ok(&format!("/users/{id}")).await;
    assert!(created["passwordLastChanged"].is_string(), "{created}");
    let (status, _) =
        t.put(&format!("/users/{id}"), json!({"id": id, "displayName": "Renamed", "enabled": true})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        t.ok(&format!("/users/{id}")).await["passwordLastChanged"],
        created["passwordLastChanged"],
        "no password, no change"
    );
    t.sim.shutdown().await;
}
