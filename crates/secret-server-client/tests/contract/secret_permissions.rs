//! Secret permissions: search by secret, user or group; create; get; update; delete.

use crate::helpers::{Harness, new_user};
use futures::TryStreamExt;
use secret_server_api::{SecretAccessRole, SecretPermission, SecretPermissionCreateArgs, SecretPermissionUpdateArgs};
use secret_server_client::{GroupQuery, SecretPermissionQuery, SecretQuery, UserQuery};

async fn secret_id(h: &Harness, name: &str) -> i64 {
    let found = h.client.search_secrets(&SecretQuery::text(name)).try_collect::<Vec<_>>().await.unwrap();
    found.into_iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no secret {name}")).id
}

async fn permissions(h: &Harness, query: SecretPermissionQuery) -> Vec<SecretPermission> {
    h.client.search_secret_permissions(&query).try_collect().await.unwrap()
}

#[tokio::test]
async fn search_by_secret_group_and_user_finds_the_seeded_permissions() {
    let h = Harness::demo().await;
    let web01 = secret_id(&h, "web01 root").await;
    let mut on_web01: Vec<(String, String)> = permissions(&h, SecretPermissionQuery::secret(web01))
        .await
        .into_iter()
        .map(|p| (p.group_name.or(p.user_name).unwrap_or_default(), p.secret_access_role_name))
        .collect();
    on_web01.sort();
    let expected = [("IT Admins", "Owner"), ("Security", "View"), ("scim-api", "Owner")];
    assert_eq!(on_web01, expected.map(|(who, role)| (who.to_owned(), role.to_owned())));

    let dbas = h.client.search_groups(&GroupQuery::text("DBAs")).try_next().await.unwrap().unwrap();
    let by_group = permissions(&h, SecretPermissionQuery::group(dbas.id)).await;
    assert!(by_group.iter().all(|p| p.group_id == Some(dbas.id)) && !by_group.is_empty());

    let dave = h.client.search_users(&UserQuery::text("dave.evans")).try_next().await.unwrap().unwrap();
    let by_user = permissions(&h, SecretPermissionQuery::user(dave.id)).await;
    assert_eq!(by_user.len(), 1);
    assert_eq!(by_user[0].secret_access_role_name, "View");

    let page = h.client.secret_permissions_page(&SecretPermissionQuery::secret(web01), 0, 1).await.unwrap();
    assert_eq!((page.total, page.records.len(), page.has_next), (3, 1, true), "two groups and the API account");
    h.finish().await;
}

#[tokio::test]
async fn create_get_update_and_delete_a_secret_permission() {
    let h = Harness::demo().await;
    let secret = secret_id(&h, "web02 deploy").await;
    let user = h.client.create_user(&new_user("secret.reader")).await.unwrap();
    let args = SecretPermissionCreateArgs {
        secret_id: secret,
        user_id: Some(user.id),
        group_id: None,
        secret_access_role_name: SecretAccessRole::List.to_string(),
    };
    let created = h.client.create_secret_permission(&args).await.unwrap();
    assert!(created.id > 0);
    assert_eq!(
        (created.secret_id, created.user_id, created.secret_access_role_name.as_str()),
        (secret, Some(user.id), "List")
    );
    assert_eq!(h.client.get_secret_permission(created.id).await.unwrap().secret_id, secret);

    let update =
        SecretPermissionUpdateArgs { id: created.id, secret_id: secret, secret_access_role_name: "View".to_owned() };
    assert_eq!(h.client.update_secret_permission(&update).await.unwrap().secret_access_role_name, "View");
    let mine = permissions(&h, SecretPermissionQuery::user(user.id)).await;
    assert_eq!((mine.len(), mine[0].secret_access_role_name.as_str()), (1, "View"));

    assert_eq!(h.client.delete_secret_permission(created.id).await.unwrap().id, created.id);
    assert!(h.client.get_secret_permission(created.id).await.unwrap_err().is_not_found());
    assert!(permissions(&h, SecretPermissionQuery::user(user.id)).await.is_empty());
    h.finish().await;
}
