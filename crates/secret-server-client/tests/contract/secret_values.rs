//! The proof from the emulator's side that the client cannot read a secret's
//! values: a workload calling every client method sends exactly the requests
//! the emulator logged, and none of them reaches a value-bearing endpoint.
//! A control test shows that the log and the check do catch such requests.

use crate::helpers::{Harness, new_group, new_user, reads_secret_values};
use crate::recorder::{TestRecorder, with_recorder};
use futures::TryStreamExt;
use secret_server_api::{
    FolderCreateArgs, FolderPermissionCreateArgs, FolderPermissionUpdateArgs, FolderUpdateArgs, GroupPatchArgs, Patch,
    ROOT_FOLDER_ID, SecretPermissionCreateArgs, SecretPermissionUpdateArgs, UserPatchArgs, UserUpdateArgs,
};
use secret_server_client::telemetry::{REQUEST_DURATION_SECONDS, REQUESTS_TOTAL};
use secret_server_client::{
    FolderPermissionQuery, FolderQuery, GroupQuery, SecretPermissionQuery, SecretQuery, SecretServerClient, UserQuery,
};

/// Calls every public method of the client once, with arguments that succeed.
async fn call_every_method(c: &SecretServerClient) {
    c.healthcheck().await.unwrap();
    let me = c.current_user().await.unwrap();

    // Users.
    c.users_page(&UserQuery::everyone(), 0, 5).await.unwrap();
    let users: Vec<_> = c.search_users(&UserQuery::everyone()).try_collect().await.unwrap();
    assert!(users.len() > 1);
    let user = c.create_user(&new_user("every.method")).await.unwrap();
    c.get_user(user.id).await.unwrap();
    let update =
        UserUpdateArgs { id: user.id, display_name: "Every Method".into(), enabled: true, ..Default::default() };
    c.update_user(&update).await.unwrap();
    let patch = UserPatchArgs { display_name: Some(Patch::set("Patched".into())), ..Default::default() };
    c.patch_user(user.id, &patch).await.unwrap();
    c.set_user_enabled(user.id, true).await.unwrap();

    // Groups and members.
    c.groups_page(&GroupQuery::everyone(), 0, 5).await.unwrap();
    let _: Vec<_> = c.search_groups(&GroupQuery::everyone()).try_collect().await.unwrap();
    let group = c.create_group(&new_group("Every Method")).await.unwrap();
    c.get_group(group.id).await.unwrap();
    c.patch_group(group.id, &GroupPatchArgs::rename("Every Method 2")).await.unwrap();
    c.add_group_member(group.id, user.id).await.unwrap();
    c.group_members_page(group.id, 0, 5).await.unwrap();
    let _: Vec<_> = c.group_members(group.id).try_collect().await.unwrap();
    let _: Vec<_> = c.user_groups(user.id).try_collect().await.unwrap();
    c.remove_group_member(group.id, user.id).await.unwrap();
    c.replace_group_members(group.id, &[user.id, me.id]).await.unwrap();

    // Folders and folder permissions.
    c.folders_page(&FolderQuery::children_of(ROOT_FOLDER_ID), 0, 5).await.unwrap();
    let _: Vec<_> = c.search_folders(&FolderQuery::text("IT")).try_collect().await.unwrap();
    let folder = c
        .create_folder(&FolderCreateArgs {
            folder_name: "Every Method".into(),
            parent_folder_id: ROOT_FOLDER_ID,
            ..Default::default()
        })
        .await
        .unwrap();
    c.get_folder(folder.id).await.unwrap();
    c.update_folder(&FolderUpdateArgs {
        id: folder.id,
        folder_name: "Every Method 2".into(),
        folder_type_id: folder.folder_type_id,
        parent_folder_id: ROOT_FOLDER_ID,
        ..Default::default()
    })
    .await
    .unwrap();
    let permission = c
        .create_folder_permission(&FolderPermissionCreateArgs {
            folder_id: folder.id,
            group_id: Some(group.id),
            folder_access_role_name: "View".into(),
            secret_access_role_name: "List".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    c.get_folder_permission(permission.id).await.unwrap();
    c.update_folder_permission(&FolderPermissionUpdateArgs {
        id: permission.id,
        folder_id: folder.id,
        folder_access_role_name: "Edit".into(),
        secret_access_role_name: "View".into(),
        break_inheritance: false,
    })
    .await
    .unwrap();
    c.folder_permissions_page(&FolderPermissionQuery::folder(folder.id), 0, 5).await.unwrap();
    let _: Vec<_> = c.search_folder_permissions(&FolderPermissionQuery::group(group.id)).try_collect().await.unwrap();
    c.delete_folder_permission(permission.id).await.unwrap();
    c.delete_folder(folder.id).await.unwrap();

    // Secret metadata and secret permissions.
    c.secrets_page(&SecretQuery::default(), 0, 5).await.unwrap();
    let secrets: Vec<_> =
        c.search_secrets(&SecretQuery { include_inactive: true, ..Default::default() }).try_collect().await.unwrap();
    let _: Vec<_> = c.lookup_secrets(&SecretQuery::text("sql")).try_collect().await.unwrap();
    let secret = &secrets[0];
    c.secret_summary(secret.id).await.unwrap();
    let sp = c
        .create_secret_permission(&SecretPermissionCreateArgs {
            secret_id: secret.id,
            user_id: Some(user.id),
            group_id: None,
            secret_access_role_name: "List".into(),
        })
        .await
        .unwrap();
    c.get_secret_permission(sp.id).await.unwrap();
    c.update_secret_permission(&SecretPermissionUpdateArgs {
        id: sp.id,
        secret_id: secret.id,
        secret_access_role_name: "View".into(),
    })
    .await
    .unwrap();
    c.secret_permissions_page(&SecretPermissionQuery::secret(secret.id), 0, 5).await.unwrap();
    let _: Vec<_> = c.search_secret_permissions(&SecretPermissionQuery::user(user.id)).try_collect().await.unwrap();
    c.delete_secret_permission(sp.id).await.unwrap();

    // Deletions last.
    c.delete_group(group.id).await.unwrap();
    c.delete_user(user.id).await.unwrap();
}

#[test]
fn every_request_the_client_sends_is_logged_and_none_reads_a_secret_value() {
    let recorder = TestRecorder::default();
    with_recorder(&recorder, || async {
        let h = Harness::demo().await;
        call_every_method(&h.client).await;
        let log = h.sim.request_log();
        // Every request the client sent (its own count, by route) is in the
        // log, and the log holds nothing else: the check below sees them all.
        assert_eq!(recorder.total(REQUESTS_TOTAL), log.len() as u64, "{:#?}", recorder.counters(REQUESTS_TOTAL));
        // 44 methods, one request each, and the token.
        assert!(log.len() >= 45, "the workload is too small: {}", log.len());
        for (method, path) in &log {
            assert_eq!(reads_secret_values(path), None, "{method} {path}");
        }
        h.finish().await;
    });
}

#[tokio::test]
async fn the_check_catches_value_bearing_requests_when_something_sends_them() {
    let h = Harness::demo().await;
    let secret = h.client.search_secrets(&SecretQuery::text("web01")).try_next().await.unwrap().unwrap();
    h.sim.clear_request_log();

    // Not through the client (it cannot): a raw HTTP client with a token.
    let http = reqwest::Client::new();
    let bearer = test_support::emulator::token(&http, &h.sim).await;
    let api = format!("{}/api/v1", h.sim.base_url());
    for url in [
        format!("{api}/secrets/{}", secret.id),
        format!("{api}/secrets/{}/fields/password", secret.id),
        format!("{api}/secrets?filter.extendedFields=Username"),
    ] {
        http.get(url).bearer_auth(&bearer).send().await.unwrap();
    }
    http.post(format!("{api}/secrets/{}/restricted", secret.id))
        .bearer_auth(&bearer)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();

    let flagged: Vec<_> = h.sim.request_log().into_iter().filter(|(_, p)| reads_secret_values(p).is_some()).collect();
    assert_eq!(flagged.len(), 4, "{flagged:#?}");
    h.sim.shutdown().await;
}

#[test]
fn metrics_name_routes_by_template_and_count_every_request_and_retry() {
    let recorder = TestRecorder::default();
    with_recorder(&recorder, || async {
        let h = Harness::demo().await;
        let me = h.client.current_user().await.unwrap();
        h.sim.faults().update(|f| f.next_server_errors = 1).unwrap();
        h.client.get_user(me.id).await.unwrap();

        let requests = recorder.counters(REQUESTS_TOTAL);
        let get_user = |status: &str| {
            requests.get(&format!("{REQUESTS_TOTAL}{{route=GET /api/v1/users/{{id}},status={status}}}")).copied()
        };
        assert_eq!((get_user("500"), get_user("200")), (Some(1), Some(1)), "{requests:#?}");
        assert_eq!(requests.get(&format!("{REQUESTS_TOTAL}{{route=POST /oauth2/token,status=200}}")), Some(&1));
        // Routes are templates: no concrete id in any label.
        let id = me.id.to_string();
        assert!(requests.keys().all(|k| !k.contains(&format!("/{id}"))), "{requests:#?}");
        assert_eq!(recorder.samples(REQUEST_DURATION_SECONDS), recorder.total(REQUESTS_TOTAL));
        let retries = recorder.counters(secret_server_client::telemetry::RETRIES_TOTAL);
        assert_eq!(
            retries.into_iter().collect::<Vec<_>>(),
            [(
                format!(
                    "{}{{reason=server_error,route=GET /api/v1/users/{{id}}}}",
                    secret_server_client::telemetry::RETRIES_TOTAL
                ),
                1
            )]
        );
        h.finish().await;
    });
}
