//! Users other than the API account sign in: local users with the password they were created or
//! reset with, domain users with `domain` naming their domain and the password set through
//! `/_sim/users/{id}/password`; what such a user may then read of itself.

use crate::helpers::TestSim;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "Valid-Passw0rd!";

/// A password grant: the status and the body.
async fn grant(t: &TestSim, username: &str, password: &str, domain: Option<&str>) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "password"), ("username", username), ("password", password)];
    form.extend(domain.map(|d| ("domain", d)));
    let response = t.http.post(format!("{}/oauth2/token", t.sim.base_url())).form(&form).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A GET with another user's token.
async fn get_as(t: &TestSim, token: &str, path: &str) -> (StatusCode, Value) {
    let response = t.http.get(t.url(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_local_user_signs_in_with_the_password_it_was_created_with_and_reads_itself() {
    let t = TestSim::spawn().await;
    let id = t.create_user("olga.local").await;
    let group = t.create_group("Console Admins").await;
    let (status, body) = t.post(&format!("/users/{id}/groups"), json!({"groupIds": [group]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, body) = grant(&t, "OLGA.local", PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    let (status, me) = get_as(&t, &token, "/users/current").await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["id"], id);
    assert_eq!(me["userName"], "olga.local");
    assert_eq!(me["permissions"], json!([]), "a plain user holds no administrative role permission");

    let (status, groups) = get_as(&t, &token, &format!("/users/{id}/groups")).await;
    assert_eq!(status, StatusCode::OK, "{groups}");
    assert!(groups["records"].as_array().unwrap().iter().any(|g| g["groupName"] == "Console Admins"), "{groups}");
    let (status, _) = get_as(&t, &token, &format!("/users/{id}")).await;
    assert_eq!(status, StatusCode::OK, "a user reads its own record");

    let api_account = t.user_id(t.sim.api_username()).await;
    let (status, _) = get_as(&t, &token, &format!("/users/{api_account}/groups")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "another user's groups need View Users");
    let (status, _) = get_as(&t, &token, "/users").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "searching users needs View Users");
    let response = t.http.get(t.root("/_sim/state")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "the emulator's own endpoints are the API account's");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_reset_password_replaces_the_old_one() {
    let t = TestSim::spawn().await;
    let id = t.create_user("reset.me").await;
    let patch = json!({"password": {"dirty": true, "value": "Another-Passw0rd!"}});
    let (status, body) = t.patch(&format!("/users/{id}"), patch).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(grant(&t, "reset.me", PASSWORD, None).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(grant(&t, "reset.me", "Another-Passw0rd!", None).await.0, StatusCode::OK);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_domain_user_signs_in_only_with_its_domain() {
    let t = TestSim::spawn().await;
    let create = json!({"userName": "dora.domain", "domainId": 1, "enabled": true, "password": "Sent-Passw0rd!"});
    let (status, body) = t.post("/users", create).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let id = body["id"].as_i64().unwrap();
    assert_eq!(grant(&t, "dora.domain", "Dir-Passw0rd!", Some("corp.example.com")).await.0, StatusCode::BAD_REQUEST);
    let sent = grant(&t, "dora.domain", "Sent-Passw0rd!", Some("corp.example.com")).await.0;
    assert_eq!(sent, StatusCode::BAD_REQUEST, "the password the create carried is not the directory's");

    let (status, body) = t
        .send(Method::POST, t.root(&format!("/_sim/users/{id}/password")), Some(json!({"password": "Dir-Passw0rd!"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    assert_eq!(grant(&t, "dora.domain", "Dir-Passw0rd!", Some("CORP.example.com")).await.0, StatusCode::OK);
    for domain in [None, Some("other.example.com")] {
        let (status, body) = grant(&t, "dora.domain", "Dir-Passw0rd!", domain).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{domain:?}");
        assert_eq!(body["message"], "Login failed.", "{domain:?}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn wrong_passwords_disabled_and_locked_out_users_are_refused_as_the_token_endpoint_does() {
    let t = TestSim::spawn().await;
    let disabled = t.create_user("dis.abled").await;
    let locked = t.create_user("locked.out").await;
    t.create_user("right.user").await;
    let off = json!({"enabled": {"dirty": true, "value": false}});
    assert_eq!(t.patch(&format!("/users/{disabled}"), off).await.0, StatusCode::OK);
    let lock = json!({"isLockedOut": {"dirty": true, "value": true}});
    assert_eq!(t.patch(&format!("/users/{locked}"), lock).await.0, StatusCode::OK);

    let cases = [
        ("right.user", "wrong-Passw0rd!", "Login failed."),
        ("nobody.here", PASSWORD, "Login failed."),
        ("dis.abled", PASSWORD, "Login failed. The account is disabled."),
        ("locked.out", PASSWORD, "Login failed. The account is locked out."),
        ("dis.abled", "wrong-Passw0rd!", "Login failed."),
    ];
    for (user, password, message) in cases {
        let (status, body) = grant(&t, user, password, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{user}");
        assert_eq!(body["message"], message, "{user}");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn the_api_account_still_signs_in_with_any_domain_and_keeps_its_permissions() {
    let t = TestSim::spawn().await;
    let (status, _) =
        grant(&t, t.sim.api_username(), secret_server_sim::TEST_API_PASSWORD, Some("corp.example.com")).await;
    assert_eq!(status, StatusCode::OK);
    let me = t.ok("/users/current").await;
    assert!(me["permissions"].as_array().unwrap().iter().any(|p| p["name"] == "Administer Users"), "{me}");
    t.sim.shutdown().await;
}
