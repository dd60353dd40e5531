//! `/api/v1/users`: search, lookup, get, create, update, patch, delete (deactivate), a user's groups.

use crate::helpers::{TestSim, assert_error, assert_invalid};
use reqwest::StatusCode;
use secret_server_sim::{PasswordPolicy, SimConfig};
use serde_json::json;

#[tokio::test]
async fn create_returns_the_user_model_and_get_reads_it_back() {
    let t = TestSim::spawn().await;
    let (status, created) = t
        .post(
            "/users",
            json!({"userName": "zoe.new", "password": "Str0ng-Password!", "displayName": "Zoe New",
                   "emailAddress": "zoe@example.com", "enabled": true, "isApplicationAccount": false}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["domainId"], -1, "local users have domainId -1");
    assert!(created.get("password").is_none(), "a password is never returned");
    let created_at = created["created"].as_str().unwrap();
    assert!(created_at.ends_with('Z') && created_at.len() == 20, "ISO 8601 UTC: {created_at}");
    let read = t.ok(&format!("/users/{id}")).await;
    assert_eq!(read, created);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn pascal_case_bodies_are_read_like_json_net_does() {
    let t = TestSim::spawn().await;
    let (status, body) = t
        .post("/users", json!({"UserName": "pascal", "Password": "Str0ng-Password!", "DisplayName": "Pascal Case", "Enabled": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Pascal Case");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn user_names_are_unique_case_insensitively() {
    let t = TestSim::spawn().await;
    let (status, body) =
        t.post("/users", json!({"userName": "ALICE.MARTIN", "password": "Str0ng-Password!", "enabled": true})).await;
    assert_error(status, &body, "API_DuplicateUserName");
    assert!(body["message"].as_str().unwrap().contains("ALICE.MARTIN"), "the message names the duplicate");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_same_user_name_may_exist_in_another_domain() {
    let t = TestSim::spawn().await;
    let domain_user = json!({"userName": "alice.martin", "domainId": 1, "enabled": true, "password": "x"});
    let (status, body) = t.post("/users", domain_user).await;
    assert_eq!(status, StatusCode::OK, "a domain user's password is not held to the policy: {body}");
    assert_eq!(body["domainId"], 1);
    let (status, body) = t.post("/users", json!({"userName": "bob.domain", "domainId": 1, "enabled": true})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the published model requires a password of every user: {body}");
    let (status, body) =
        t.post("/users", json!({"userName": "x", "domainId": 77, "enabled": true, "password": "x"})).await;
    assert_error(status, &body, "API_DomainNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_configured_password_policy_replaces_the_default() {
    let config = SimConfig { password_policy: PasswordPolicy::strict(), ..SimConfig::for_tests() };
    let t = TestSim::spawn_with(config).await;
    let (status, body) =
        t.post("/users", json!({"userName": "uuid.pass", "password": "9f1c2e4a-0d3b-4c5e-8f7a-6b5c4d3e2f1a"})).await;
    assert_invalid(status, &body, "password");
    assert_eq!(body["modelState"]["password"], json!(["The password must contain an upper-case letter."]));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_local_user_needs_a_password_that_meets_the_policy() {
    let t = TestSim::spawn().await;
    let (status, body) = t.post("/users", json!({"userName": "nopass", "enabled": true})).await;
    assert_invalid(status, &body, "password");
    let (status, body) = t.post("/users", json!({"userName": "weak", "password": "short", "enabled": true})).await;
    assert_invalid(status, &body, "password");
    // The default policy: 8 characters, 3 of the 4 kinds; one message per broken rule.
    assert_eq!(body["modelState"]["password"].as_array().unwrap().len(), 2, "{body}");
    let (status, body) =
        t.post("/users", json!({"userName": "lower.digits", "password": "abcdefgh1234", "enabled": true})).await;
    assert_invalid(status, &body, "password");
    assert!(body["modelState"]["password"][0].as_str().unwrap().contains("at least 3 of"), "{body}");
    // A UUID (lower-case letters, digits, dashes) has three kinds: scim2-tester's random passwords pass.
    let (status, body) = t
        .post(
            "/users",
            json!({"userName": "uuid.pass", "password": "9f1c2e4a-0d3b-4c5e-8f7a-6b5c4d3e2f1a", "enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = t.post("/users", json!({"userName": "", "password": "Str0ng-Password!"})).await;
    assert_invalid(status, &body, "userName");
    let (status, body) = t
        .post("/users", json!({"userName": "bad.mail", "password": "Str0ng-Password!", "emailAddress": "not-an-email"}))
        .await;
    assert_invalid(status, &body, "emailAddress");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn malformed_bodies_are_400_and_change_nothing() {
    let t = TestSim::spawn().await;
    let before = t.ok("/users?filter.includeInactive=true").await["total"].clone();
    let response = t
        .http
        .post(t.url("/users"))
        .bearer_auth(&t.token)
        .header("content-type", "application/json")
        .body("{\"userName\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, body) = t.post("/users", json!({"userName": "typed", "enabled": "yes"})).await;
    assert_invalid(status, &body, "body");
    assert_eq!(t.ok("/users?filter.includeInactive=true").await["total"], before);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn update_replaces_fields_but_refuses_a_changed_user_name_or_domain() {
    let t = TestSim::spawn().await;
    let id = t.create_user("upd.user").await;
    let (status, body) = t
        .put(
            &format!("/users/{id}"),
            json!({"id": id, "displayName": "Updated", "emailAddress": "u@example.com", "enabled": true}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["displayName"], "Updated");
    assert_eq!(body["userName"], "upd.user");

    let (status, body) =
        t.put(&format!("/users/{id}"), json!({"id": id, "userName": "renamed", "enabled": true})).await;
    assert_invalid(status, &body, "userName");
    let (status, body) = t.put(&format!("/users/{id}"), json!({"id": id, "domainId": 1, "enabled": true})).await;
    assert_invalid(status, &body, "domainId");
    let (status, body) = t.put(&format!("/users/{id}"), json!({"id": id + 1000, "enabled": true})).await;
    assert_invalid(status, &body, "id");
    // The same userName (any case) is not a change.
    let (status, _) = t.put(&format!("/users/{id}"), json!({"id": id, "userName": "UPD.USER", "enabled": true})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = t.put(&format!("/users/{id}"), json!({"id": id, "password": "weak", "enabled": true})).await;
    assert_invalid(status, &body, "password");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn patch_changes_only_dirty_properties() {
    let t = TestSim::spawn().await;
    let id = t.create_user("patchy").await;
    let (status, body) = t
        .patch(
            &format!("/users/{id}"),
            json!({"enabled": {"dirty": true, "value": false}, "displayName": {"dirty": false, "value": "Ignored"}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["enabled"], false);
    assert_eq!(body["displayName"], "patchy");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn delete_deactivates_and_searches_leave_inactive_users_out() {
    let t = TestSim::spawn().await;
    let id = t.create_user("leaver").await;
    let (status, body) = t.delete(&format!("/users/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"id": id, "objectType": "User", "responseCodes": []}));
    let user = t.ok(&format!("/users/{id}")).await;
    assert_eq!(user["enabled"], false, "GET by id returns inactive users");
    let active = t.ok("/users?filter.searchText=leaver").await;
    assert_eq!(active["total"], 0);
    let all = t.ok("/users?filter.searchText=leaver&filter.includeInactive=true").await;
    assert_eq!(all["total"], 1);
    // Secret Server refuses to delete an inactive user, as it answers for an unknown one.
    let (status, body) = t.delete(&format!("/users/{id}")).await;
    assert_error(status, &body, "API_UserNotFound");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn unknown_user_ids_are_400_user_not_found() {
    let t = TestSim::spawn().await;
    for (status, body) in [
        t.get("/users/999999").await,
        t.put("/users/999999", json!({"enabled": true})).await,
        t.patch("/users/999999", json!({})).await,
        t.delete("/users/999999").await,
        t.get("/users/999999/groups").await,
    ] {
        assert_eq!(body["message"], "User not found.");
        assert_error(status, &body, "API_UserNotFound");
    }
    let (status, body) = t.get("/users/abc").await;
    assert_invalid(status, &body, "id");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn search_matches_user_name_display_name_and_email() {
    let t = TestSim::spawn().await;
    let by_name = t.ok("/users?filter.searchText=alice").await;
    assert_eq!(by_name["total"], 1);
    assert_eq!(by_name["records"][0]["userName"], "alice.martin");
    let by_display = t.ok("/users?filter.searchText=Chen").await;
    assert_eq!(by_display["records"][0]["userName"], "bob.chen");
    let by_mail = t.ok("/users?filter.searchText=corp.example.com").await;
    assert_eq!(by_mail["records"][0]["domainName"], "corp.example.com");
    let only_names = t.ok("/users?filter.searchText=example&filter.searchFields=userName").await;
    assert_eq!(only_names["total"], 0);
    let by_domain = t.ok("/users?filter.domainId=1").await;
    assert_eq!(by_domain["total"], 1);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn lookup_returns_id_and_user_name() {
    let t = TestSim::spawn().await;
    let body = t.ok("/users/lookup?filter.searchText=bob").await;
    let id = t.user_id("bob.chen").await;
    assert_eq!(body["records"], json!([{"id": id, "value": "bob.chen"}]));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn current_is_the_api_account_with_its_permissions() {
    let t = TestSim::spawn().await;
    let me = t.ok("/users/current").await;
    assert_eq!(me["userName"], t.sim.api_username());
    // The published CurrentUserModel has no isApplicationAccount: the user model has.
    let account = t.ok(&format!("/users/{}", me["id"])).await;
    assert_eq!(account["isApplicationAccount"], true);
    assert!(me.get("isApplicationAccount").is_none(), "only the published CurrentUserModel's properties: {me}");
    assert!(me["permissions"].as_array().unwrap().iter().any(|p| p["name"] == "Administer Users"));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_stub_is_an_enabled_local_user() {
    let t = TestSim::spawn().await;
    let stub = t.ok("/users/stub").await;
    assert_eq!(
        (stub["id"].clone(), stub["enabled"].clone(), stub["domainId"].clone()),
        (json!(0), json!(true), json!(-1))
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_users_groups_are_listed_added_replaced_and_removed() {
    let t = TestSim::spawn().await;
    let carol = t.user_id("carol.diaz").await;
    let groups = t.ok(&format!("/users/{carol}/groups")).await;
    let names: Vec<_> = groups["records"].as_array().unwrap().iter().map(|g| g["groupName"].clone()).collect();
    assert_eq!(names, vec![json!("DBAs"), json!("Developers")]);
    assert_eq!(groups["records"][0]["userId"], carol);

    let security = t.group_id("Security").await;
    let helpdesk = t.group_id("Helpdesk").await;
    let (status, body) = t.post(&format!("/users/{carol}/groups"), json!({"groupIds": [security]})).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    assert_eq!(t.ok(&format!("/users/{carol}/groups")).await["total"], 3);

    let (status, _) = t.put(&format!("/users/{carol}/groups"), json!({"groupIds": [helpdesk]})).await;
    assert_eq!(status, StatusCode::OK);
    let after = t.ok(&format!("/users/{carol}/groups")).await;
    assert_eq!(after["total"], 1);
    assert_eq!(after["records"][0]["groupName"], "Helpdesk");

    let (status, _) = t.delete(&format!("/users/{carol}/groups?groupIds={helpdesk}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.ok(&format!("/users/{carol}/groups")).await["total"], 0);
    let (status, body) = t.delete(&format!("/users/{carol}/groups?groupIds={helpdesk}")).await;
    assert_error(status, &body, "API_MembershipNotFound");
    t.sim.shutdown().await;
}
