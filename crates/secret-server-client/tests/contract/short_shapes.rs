//! Secret Server versions that answer a folder-permission create or update
//! with the short five-field model (no `id`, no `folderId`): the client
//! completes the answer from its arguments and, for the missing `id`, by
//! searching the folder for the principal's permission.

use crate::scripted::serve;
use secret_server_api::{FolderPermissionCreateArgs, FolderPermissionUpdateArgs};
use secret_server_client::{ClientConfig, SecretServerClient};

const SHORT: &str = r#"{"folderAccessRoleId":1,"folderAccessRoleName":"View","groupId":7,"secretAccessRoleId":2,"secretAccessRoleName":"View"}"#;

fn answer(method: &str, target: &str) -> (u16, String) {
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        ("POST", "/SecretServer/oauth2/token") => {
            (200, r#"{"access_token":"t","token_type":"bearer","expires_in":1200}"#.to_owned())
        }
        ("POST", "/SecretServer/api/v1/folder-permissions") => (200, SHORT.to_owned()),
        ("PUT", "/SecretServer/api/v1/folder-permissions/777") => (200, SHORT.to_owned()),
        ("GET", "/SecretServer/api/v1/folder-permissions") => (
            200,
            r#"{"records":[
                {"id":776,"folderId":12,"groupId":8,"groupName":"Other","folderAccessRoleName":"Owner","secretAccessRoleName":"Owner"},
                {"id":777,"folderId":12,"groupId":7,"groupName":"Auditors","folderAccessRoleId":1,"folderAccessRoleName":"View","secretAccessRoleId":2,"secretAccessRoleName":"View"}
               ],"total":2,"skip":0,"take":1000,"hasNext":false}"#
                .to_owned(),
        ),
        _ => (400, r#"{"message":"unexpected request"}"#.to_owned()),
    }
}

#[tokio::test]
async fn a_short_create_answer_is_completed_by_searching_for_the_new_permission() {
    let server = serve(answer).await;
    let config = ClientConfig::new(server.base_url.parse().unwrap(), "scim-api", secrecy::SecretString::from("x"))
        .allowing_http();
    let client = SecretServerClient::new(config).unwrap();
    let args = FolderPermissionCreateArgs {
        folder_id: 12,
        group_id: Some(7),
        folder_access_role_name: "View".into(),
        secret_access_role_name: "View".into(),
        ..Default::default()
    };
    let created = client.create_folder_permission(&args).await.unwrap();
    assert_eq!((created.id, created.folder_id, created.group_id), (777, 12, Some(7)));
    assert_eq!(created.group_name.as_deref(), Some("Auditors"));

    let received = server.received.lock().unwrap().clone();
    let search = received.iter().find(|r| r.request_line.starts_with("GET ")).expect("a search after the create");
    assert!(search.request_line.contains("filter.folderId=12") && search.request_line.contains("filter.groupId=7"));
}

#[tokio::test]
async fn a_short_update_answer_is_completed_from_the_arguments() {
    let server = serve(answer).await;
    let config = ClientConfig::new(server.base_url.parse().unwrap(), "scim-api", secrecy::SecretString::from("x"))
        .allowing_http();
    let client = SecretServerClient::new(config).unwrap();
    let args = FolderPermissionUpdateArgs {
        id: 777,
        folder_id: 12,
        folder_access_role_name: "View".into(),
        secret_access_role_name: "View".into(),
        break_inheritance: false,
    };
    let updated = client.update_folder_permission(&args).await.unwrap();
    assert_eq!((updated.id, updated.folder_id, updated.group_id), (777, 12, Some(7)));
    let received = server.received.lock().unwrap().clone();
    let put = received.iter().find(|r| r.request_line.starts_with("PUT ")).unwrap();
    assert_eq!(put.header("authorization"), Some("bearer t"));
    assert!(put.body.contains(r#""folderAccessRoleName":"View""#), "{}", put.body);
}
