//! Answers of `200` whose body says the request failed: Secret Server's boolean result
//! (`{"success": false}`) on membership and role operations is an error, never a change taken as
//! made; a page whose envelope says the search failed is an error, never an empty result.

use crate::scripted::serve;
use futures::TryStreamExt;
use secret_server_client::{ClientConfig, ClientError, FolderQuery, GroupQuery, SecretServerClient, UserQuery};

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
        // Users: a page that failed and says so; groups: one that asks to be retried; folders:
        // a warning on a page that succeeded.
        ("GET", "/SecretServer/api/v1/users") => {
            (200, r#"{"records":[],"total":0,"hasNext":false,"success":false,"severity":"Critical"}"#.to_owned())
        }
        ("GET", "/SecretServer/api/v1/groups") => {
            (200, r#"{"records":[],"total":0,"hasNext":false,"success":true,"severity":"Retry"}"#.to_owned())
        }
        ("GET", "/SecretServer/api/v1/folders") => (
            200,
            r#"{"records":[{"id":3,"folderName":"Ops","folderPath":"\\Ops","parentFolderId":-1}],"total":1,
               "hasNext":false,"success":true,"severity":"Warn"}"#
                .to_owned(),
        ),
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

#[tokio::test]
async fn a_page_that_says_the_search_failed_is_an_error_not_an_empty_result() {
    let client = client().await;
    let failed = client.search_users(&UserQuery::text("a")).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(&failed, ClientError::PageFailed { severity } if severity == "Critical"), "{failed:?}");
    assert!(!failed.is_transient());
    let page = client.users_page(&UserQuery::text("a"), 0, 10).await.unwrap_err();
    assert!(matches!(page, ClientError::PageFailed { .. }), "{page:?}");

    let retry = client.search_groups(&GroupQuery::everyone()).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(retry.is_transient(), "a page of severity Retry may be asked again: {retry:?}");
}

#[tokio::test]
async fn a_warning_on_a_page_that_succeeded_keeps_its_records() {
    let client = client().await;
    let folders = client.folders_page(&FolderQuery::default(), 0, 10).await.unwrap();
    assert_eq!(folders.records.len(), 1);
}
