//! Answers of `200` whose body says the request failed: Secret Server's boolean result
//! (`{"success": false}`) on membership and role operations is an error, never a change taken as
//! made.

use crate::scripted::serve;
use secret_server_client::{ClientConfig, ClientError, SecretServerClient};

fn answer(method: &str, target: &str) -> (u16, String) {
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("POST", "/SecretServer/oauth2/token") => {
            (200, r#"{"access_token":"t","token_type":"bearer","expires_in":1200}"#.to_owned())
        }
        // Group 7 and user 7 refuse every change; group 8 and user 8 accept (one of them without
        // saying so: no `success` states no failure).
        (_, "/SecretServer/api/v1/groups/7/users" | "/SecretServer/api/v1/users/7/roles") => {
            (200, r#"{"success":false}"#.to_owned())
        }
        (_, "/SecretServer/api/v1/groups/8/users") => (200, r#"{"success":true}"#.to_owned()),
        (_, "/SecretServer/api/v1/users/8/roles") => (200, "{}".to_owned()),
        _ => (400, r#"{"message":"unexpected request"}"#.to_owned()),
    }
}

async fn client() -> SecretServerClient {
    let server = serve(answer).await;
    let config = ClientConfig::new(server.base_url.parse().unwrap(), "scim-api", secrecy::SecretString::from("x"))
        .allowing_http();
    SecretServerClient::new(config).unwrap()
}

#[tokio::test]
async fn a_membership_change_answered_success_false_is_an_error_that_is_not_retried() {
    let client = client().await;
    let patched = client.patch_group_members(7, &[1], &[2]).await.unwrap_err();
    assert!(matches!(patched, ClientError::NotApplied { .. }), "{patched:?}");
    assert!(!patched.is_transient());
    let replaced = client.replace_group_members(7, &[1]).await.unwrap_err();
    assert!(matches!(replaced, ClientError::NotApplied { .. }), "{replaced:?}");
    assert!(client.patch_group_members(8, &[1], &[]).await.unwrap().success);
}

#[tokio::test]
async fn a_role_assignment_answered_success_false_is_an_error_and_one_without_success_is_done() {
    let client = client().await;
    for refused in [
        client.add_user_roles(7, &[2]).await,
        client.replace_user_roles(7, &[2]).await,
        client.remove_user_roles(7, &[2]).await,
    ] {
        let e = refused.unwrap_err();
        assert!(e.to_string().contains("was not applied"), "{e}");
    }
    assert!(client.add_user_roles(8, &[2]).await.unwrap().success);
}
