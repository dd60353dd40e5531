//! The harness: the emulator (demo organisation) behind a recording proxy, a client pointed at the
//! proxy, and [`every_client_method`], which calls each public method of the client at least once.

use futures::TryStreamExt;
use secret_server_api::{
    FolderAccessRole, FolderCreateArgs, FolderPermissionCreateArgs, FolderPermissionUpdateArgs, FolderUpdateArgs,
    GroupCreateArgs, GroupPatchArgs, Patch, ROOT_FOLDER_ID, SecretAccessRole, SecretPermissionCreateArgs,
    SecretPermissionUpdateArgs, UserCreateArgs, UserPatchArgs, UserUpdateArgs,
};
use secret_server_client::{
    ClientConfig, FolderPermissionQuery, FolderQuery, GroupQuery, RetryPolicy, RoleQuery, SecretPermissionQuery,
    SecretQuery, SecretServerClient, UserQuery,
};
use secret_server_contract::{Exchange, RecordingProxy};
use secret_server_sim::{RunningSim, SimConfig};
use std::time::Duration;

/// The emulator's base path, as the client's base URL carries it.
pub(crate) const BASE_PATH: &str = "/SecretServer";

pub(crate) struct Harness {
    pub sim: RunningSim,
    pub proxy: RecordingProxy,
    pub client: SecretServerClient,
}

impl Harness {
    pub(crate) async fn start() -> Self {
        let sim = secret_server_sim::spawn(SimConfig::for_tests()).await.expect("the emulator starts");
        let proxy = RecordingProxy::start(&format!("http://{}", sim.addr())).await.expect("the proxy starts");
        let mut config = ClientConfig::new(
            proxy.url(BASE_PATH).parse().expect("the proxy's URL parses"),
            sim.api_username(),
            sim.api_password().clone(),
        )
        .allowing_http();
        config.retry =
            RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(5), max_delay: Duration::from_millis(50) };
        let client = SecretServerClient::new(config).expect("the client builds");
        Self { sim, proxy, client }
    }

    /// The exchanges with the REST API (the token endpoint is not part of the document).
    pub(crate) fn api_exchanges(&self) -> Vec<Exchange> {
        self.proxy.exchanges().into_iter().filter(|e| e.path_under(BASE_PATH).starts_with("/api/")).collect()
    }

    pub(crate) async fn stop(self) {
        self.proxy.stop().await;
        self.sim.shutdown().await;
    }
}

/// The operations of the document the client uses; [`every_client_method`] must reach each one.
/// A new client method that reaches another operation belongs here (and in `decoding`).
pub(crate) const OPERATIONS_THE_CLIENT_USES: &[&str] = &[
    "GET /v1/healthcheck",
    "GET /v1/users/current",
    "GET /v1/users",
    "POST /v1/users",
    "GET /v1/users/{id}",
    "PUT /v1/users/{id}",
    "PATCH /v1/users/{id}",
    "DELETE /v1/users/{id}",
    "GET /v1/users/{id}/groups",
    "GET /v1/groups",
    "POST /v1/groups",
    "GET /v1/groups/{id}",
    "PATCH /v1/groups/{id}",
    "DELETE /v1/groups/{id}",
    "GET /v1/groups/{id}/users",
    "POST /v1/groups/{id}/users",
    "PUT /v1/groups/{id}/users",
    "PATCH /v1/groups/{id}/users",
    "DELETE /v1/groups/{id}/users/{userId}",
    "GET /v1/roles",
    "GET /v1/roles/{id}",
    "GET /v1/roles/{id}/groups",
    "GET /v1/users/{id}/roles",
    "GET /v1/users/{userId}/roles-assigned",
    "POST /v1/users/{id}/roles",
    "PUT /v1/users/{id}/roles",
    "DELETE /v1/users/{id}/roles",
    "GET /v1/groups/{id}/roles",
    "POST /v1/groups/{id}/roles",
    "PUT /v2/groups/{id}/roles",
    "DELETE /v1/groups/{id}/roles",
    "GET /v1/folders",
    "POST /v1/folders",
    "GET /v1/folders/{id}",
    "PUT /v1/folders/{id}",
    "DELETE /v1/folders/{id}",
    "GET /v1/folder-permissions",
    "POST /v1/folder-permissions",
    "GET /v1/folder-permissions/{id}",
    "PUT /v1/folder-permissions/{id}",
    "DELETE /v1/folder-permissions/{id}",
    "GET /v2/secrets",
    "GET /v1/secrets/lookup",
    "GET /v1/secrets/{id}/summary",
    "PATCH /v1/secrets/{id}/general",
    "GET /v1/secret-permissions",
    "POST /v1/secret-permissions",
    "GET /v1/secret-permissions/{id}",
    "PUT /v1/secret-permissions/{id}",
    "DELETE /v1/secret-permissions/{id}",
];

/// A password the emulator's default policy accepts.
const PASSWORD: &str = "Contract-Passw0rd!";

/// Calls every public method of the client at least once, with every filter of every query, and
/// checks that each call succeeded: what is being checked is what crossed the wire.
pub(crate) async fn every_client_method(client: &SecretServerClient) {
    client.healthcheck().await.expect("healthcheck");
    let me = client.current_user().await.expect("current_user");

    // Users.
    client.users_page(&UserQuery::everyone(), 0, 5).await.expect("users_page");
    let query = UserQuery { search_text: Some("a".into()), include_inactive: true, domain_id: Some(-1) };
    let _: Vec<_> = client.search_users(&query).try_collect().await.expect("search_users");
    let created = client
        .create_user(&UserCreateArgs {
            user_name: "contract.user".into(),
            password: Some(PASSWORD.into()),
            display_name: "Contract User".into(),
            email_address: Some("contract.user@example.com".into()),
            enabled: true,
            ..UserCreateArgs::default()
        })
        .await
        .expect("create_user");
    // A directory user (domain 1 of the demo organisation): the published model requires a
    // password of it too, which the request check below holds the body to.
    client
        .create_user(&UserCreateArgs {
            user_name: "contract.directory.user".into(),
            password: Some(PASSWORD.into()),
            display_name: "Contract Directory User".into(),
            enabled: true,
            domain_id: Some(1),
            ad_guid: Some("2f0c1a4e-6b8d-4c1e-9a3f-0d5e7b9c1a2b".into()),
            ..UserCreateArgs::default()
        })
        .await
        .expect("create_user (directory)");
    client.get_user(created.id).await.expect("get_user");
    client
        .update_user(&UserUpdateArgs {
            id: created.id,
            display_name: "Contract User, updated".into(),
            email_address: Some("contract.updated@example.com".into()),
            enabled: true,
            ..UserUpdateArgs::default()
        })
        .await
        .expect("update_user");
    let patch = UserPatchArgs {
        display_name: Some(Patch::set("Contract User, patched".into())),
        email_address: Some(Patch::set("contract.patched@example.com".into())),
        ..UserPatchArgs::default()
    };
    client.patch_user(created.id, &patch).await.expect("patch_user");
    let _: Vec<_> = client.user_groups(me.id).try_collect().await.expect("user_groups");

    // Groups and members.
    client.groups_page(&GroupQuery::everyone(), 0, 5).await.expect("groups_page");
    let query = GroupQuery { search_text: Some("a".into()), include_inactive: true, domain_id: Some(-1) };
    let _: Vec<_> = client.search_groups(&query).try_collect().await.expect("search_groups");
    let group = client
        .create_group(&GroupCreateArgs { name: "Contract Group".into(), enabled: true, ..GroupCreateArgs::default() })
        .await
        .expect("create_group");
    client.get_group(group.id).await.expect("get_group");
    client.patch_group(group.id, &GroupPatchArgs::rename("Contract Group 2")).await.expect("patch_group");
    client.add_group_member(group.id, created.id).await.expect("add_group_member");
    client.group_members_page(group.id, 0, 5).await.expect("group_members_page");
    let _: Vec<_> = client.group_members(group.id).try_collect().await.expect("group_members");
    client.remove_group_member(group.id, created.id).await.expect("remove_group_member");
    client.replace_group_members(group.id, &[created.id]).await.expect("replace_group_members");
    client.patch_group_members(group.id, &[], &[created.id]).await.expect("patch_group_members (remove)");
    client.patch_group_members(group.id, &[created.id], &[]).await.expect("patch_group_members (add)");

    // Role assignments (2 is the built-in role "User").
    client.add_user_roles(created.id, &[2]).await.expect("add_user_roles");
    client.replace_user_roles(created.id, &[2, 3]).await.expect("replace_user_roles");
    client.remove_user_roles(created.id, &[3]).await.expect("remove_user_roles");
    // Role reads: who holds which role (the administrator check rests on them).
    let every_role = RoleQuery { user_id: None, group_id: None, include_inactive: true };
    client.roles_page(&every_role, 0, 5).await.expect("roles_page");
    for query in [every_role, RoleQuery { user_id: Some(created.id), ..RoleQuery::default() }] {
        let _: Vec<_> = client.search_roles(&query).try_collect().await.expect("search_roles");
    }
    client.get_role(2).await.expect("get_role");
    let _: Vec<_> = client.role_groups(2).try_collect().await.expect("role_groups");
    let _: Vec<_> = client.user_roles(created.id).try_collect().await.expect("user_roles");
    let _: Vec<_> = client.user_roles_assigned(created.id).try_collect().await.expect("user_roles_assigned");
    client.add_group_roles(group.id, &[2]).await.expect("add_group_roles");
    let _: Vec<_> = client.group_roles(group.id).try_collect().await.expect("group_roles");
    client.replace_group_roles(group.id, &[3]).await.expect("replace_group_roles");
    client.remove_group_roles(group.id, &[3]).await.expect("remove_group_roles");

    // Folders.
    client.folders_page(&FolderQuery::children_of(ROOT_FOLDER_ID), 0, 5).await.expect("folders_page");
    let _: Vec<_> = client.search_folders(&FolderQuery::text("a")).try_collect().await.expect("search_folders");
    let folder = client
        .create_folder(&FolderCreateArgs { folder_name: "Contract Folder".into(), ..FolderCreateArgs::default() })
        .await
        .expect("create_folder");
    client.get_folder(folder.id).await.expect("get_folder");
    let child = client
        .create_folder(&FolderCreateArgs {
            folder_name: "Contract Child".into(),
            parent_folder_id: folder.id,
            inherit_permissions: true,
            ..FolderCreateArgs::default()
        })
        .await
        .expect("create_folder (child)");
    client
        .update_folder(&FolderUpdateArgs {
            id: child.id,
            folder_name: "Contract Child, renamed".into(),
            folder_type_id: 1,
            parent_folder_id: folder.id,
            inherit_permissions: true,
            ..FolderUpdateArgs::default()
        })
        .await
        .expect("update_folder");

    // Folder permissions.
    client
        .folder_permissions_page(&FolderPermissionQuery::folder(folder.id), 0, 5)
        .await
        .expect("folder_permissions_page");
    for query in [FolderPermissionQuery::user(me.id), FolderPermissionQuery::group(group.id)] {
        let _: Vec<_> =
            client.search_folder_permissions(&query).try_collect().await.expect("search_folder_permissions");
    }
    let permission = client
        .create_folder_permission(&FolderPermissionCreateArgs {
            folder_id: child.id,
            group_id: Some(group.id),
            folder_access_role_name: FolderAccessRole::View.to_string(),
            secret_access_role_name: SecretAccessRole::List.to_string(),
            break_inheritance: true,
            ..FolderPermissionCreateArgs::default()
        })
        .await
        .expect("create_folder_permission");
    client.get_folder_permission(permission.id).await.expect("get_folder_permission");
    client
        .update_folder_permission(&FolderPermissionUpdateArgs {
            id: permission.id,
            folder_id: child.id,
            folder_access_role_name: FolderAccessRole::Edit.to_string(),
            secret_access_role_name: SecretAccessRole::View.to_string(),
            break_inheritance: false,
        })
        .await
        .expect("update_folder_permission");
    client.delete_folder_permission(permission.id).await.expect("delete_folder_permission");
    client.delete_folder(child.id).await.expect("delete_folder");

    // Secrets (metadata) and their permissions.
    let every_filter = SecretQuery {
        folder_id: Some(1),
        search_text: Some("a".into()),
        include_inactive: true,
        include_sub_folders: true,
    };
    client.secrets_page(&every_filter, 0, 5).await.expect("secrets_page");
    let secrets: Vec<_> = client.search_secrets(&SecretQuery::default()).try_collect().await.expect("search_secrets");
    let _: Vec<_> = client.lookup_secrets(&every_filter).try_collect().await.expect("lookup_secrets");
    let secret = secrets.first().expect("the demo organisation has secrets");
    client.secret_summary(secret.id).await.expect("secret_summary");
    let moved = client.move_secret(secret.id, folder.id).await.expect("move_secret");
    assert_eq!(moved.folder_id(), Some(folder.id), "the answer names the new folder");
    client.move_secret(secret.id, secret.folder_id).await.expect("move_secret (back)");
    client
        .secret_permissions_page(&SecretPermissionQuery::secret(secret.id), 0, 5)
        .await
        .expect("secret_permissions_page");
    for query in [SecretPermissionQuery::user(me.id), SecretPermissionQuery::group(group.id)] {
        let _: Vec<_> =
            client.search_secret_permissions(&query).try_collect().await.expect("search_secret_permissions");
    }
    let granted = client
        .create_secret_permission(&SecretPermissionCreateArgs {
            secret_id: secret.id,
            group_id: Some(group.id),
            secret_access_role_name: SecretAccessRole::View.to_string(),
            ..SecretPermissionCreateArgs::default()
        })
        .await
        .expect("create_secret_permission");
    client.get_secret_permission(granted.id).await.expect("get_secret_permission");
    client
        .update_secret_permission(&SecretPermissionUpdateArgs {
            id: granted.id,
            secret_id: secret.id,
            secret_access_role_name: SecretAccessRole::Edit.to_string(),
        })
        .await
        .expect("update_secret_permission");
    client.delete_secret_permission(granted.id).await.expect("delete_secret_permission");

    // What is left: disable, delete, in that order.
    client.delete_group(group.id).await.expect("delete_group");
    client.set_user_enabled(created.id, false).await.expect("set_user_enabled");
    client.set_user_enabled(created.id, true).await.expect("set_user_enabled");
    client.delete_user(created.id).await.expect("delete_user");
}
