//! Containers (folders) and PrivilegedData (secret metadata) through real jobs and reads.

use crate::support::Stack;
use futures::TryStreamExt;
use pretty_assertions::assert_eq;
use scim::ResourceKind::{Container, ContainerPermission, PrivilegedData, PrivilegedDataPermission, User};
use secret_server_api::{FolderPermissionUpdateArgs, SecretPermissionUpdateArgs};
use secret_server_client::{FolderPermissionQuery, SecretPermissionQuery};
use serde_json::json;

pub(crate) async fn folder_id(stack: &Stack, path: &str) -> String {
    let found = stack.search(Container, "").await;
    found.iter().find(|c| c["path"] == path).unwrap_or_else(|| panic!("no container {path}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_container_under_a_parent_makes_the_folder_in_secret_server() {
    let stack = Stack::start().await;
    let it = folder_id(&stack, "\\IT").await;
    let created = stack
        .create(Container, json!({"name": "Printers", "parent": {"value": it}, "externalId": "c-ext"}))
        .await
        .json();
    assert_eq!(created["path"], "\\IT\\Printers");
    assert_eq!(created["parent"], json!({"value": it}), "no `display`: the schema's parent has value and $ref only");
    assert_eq!(created["inheritPermissions"], true, "a subfolder inherits unless told otherwise");
    assert_eq!(created["externalId"], "c-ext");
    let folder = stack.ss.get_folder(created["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
    assert_eq!(folder.folder_name, "Printers");
    assert_eq!(folder.parent_folder_id.to_string(), it);
    assert!(folder.inherit_permissions);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_container_does_not_inherit_and_a_sibling_name_is_unique() {
    let stack = Stack::start().await;
    let created = stack.create(Container, json!({"name": "Vendors", "displayName": "Vendors"})).await.json();
    assert!(created.get("parent").is_none());
    let folder = stack.ss.get_folder(created["id"].as_str().unwrap().parse().unwrap()).await.unwrap();
    assert_eq!((folder.parent_folder_id, folder.inherit_permissions), (-1, false));
    let again = stack.create(Container, json!({"name": "vendors"})).await;
    assert_eq!(again.err().http_status(), 409);
    let inherit_at_root = stack.create(Container, json!({"name": "X", "inheritPermissions": true})).await;
    assert_eq!(inherit_at_root.err().http_status(), 400);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_renames_and_moves_a_container() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let id = stack.create(Container, json!({"name": "Scratch"})).await.id();
    let moved = stack
        .patch(
            Container,
            &id,
            json!([{"op": "replace", "value": {"name": "Archive", "displayName": "Archive", "parent": {"value": databases}}}]),
        )
        .await
        .json();
    assert_eq!(moved["path"], "\\Databases\\Archive");
    let folder = stack.ss.get_folder(id.parse().unwrap()).await.unwrap();
    assert_eq!((folder.folder_name.as_str(), folder.parent_folder_id.to_string()), ("Archive", databases));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_name_is_the_clients_own_and_name_is_the_folder_name() {
    let stack = Stack::start().await;
    // Created with both: the folder takes `name`, `displayName` is kept as given.
    let created = stack.create(Container, json!({"name": "ops-vault", "displayName": "Operations vault"})).await.json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (created["name"].as_str(), created["displayName"].as_str()),
        (Some("ops-vault"), Some("Operations vault"))
    );
    assert_eq!(stack.ss.get_folder(id.parse().unwrap()).await.unwrap().folder_name, "ops-vault");
    // Renaming the folder leaves the client's displayName alone; SailPoint finds it by `name eq`.
    let renamed = stack.patch(Container, &id, json!([{"op": "replace", "path": "name", "value": "ops"}])).await.json();
    assert_eq!((renamed["name"].as_str(), renamed["displayName"].as_str()), (Some("ops"), Some("Operations vault")));
    assert_eq!(stack.ss.get_folder(id.parse().unwrap()).await.unwrap().folder_name, "ops");
    assert_eq!(stack.find(Container, "name eq \"ops\"").await["id"], id.as_str());
    assert_eq!(stack.find(Container, "displayName eq \"operations vault\"").await["id"], id.as_str());
    // Changing displayName never touches Secret Server.
    stack.sim.clear_request_log();
    let relabelled =
        stack.patch(Container, &id, json!([{"op": "replace", "path": "displayName", "value": "Ops"}])).await.json();
    assert_eq!(relabelled["displayName"], "Ops");
    assert!(stack.sim.request_log().iter().all(|(method, _)| method != "PUT"), "no folder update for a label");
    // Removed, it is unassigned: absent, through renames.
    let removed = stack.patch(Container, &id, json!([{"op": "remove", "path": "displayName"}])).await.json();
    assert_eq!(removed.get("displayName"), None, "{removed}");
    let after = stack.patch(Container, &id, json!([{"op": "replace", "path": "name", "value": "ops-2"}])).await.json();
    assert_eq!((after["name"].as_str(), after.get("displayName")), (Some("ops-2"), None));
    // A PUT sets both; one without displayName brings back the default.
    let put = stack.replace(Container, &id, json!({"name": "ops-3", "displayName": "Three"}), None).await.json();
    assert_eq!((put["name"].as_str(), put["displayName"].as_str()), (Some("ops-3"), Some("Three")));
    let put = stack.replace(Container, &id, json!({"name": "ops-3"}), None).await.json();
    assert_eq!(put["displayName"], "ops-3");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_parent_moves_to_the_root_where_nothing_inherits() {
    let stack = Stack::start().await;
    let it = folder_id(&stack, "\\IT").await;
    let id = stack.create(Container, json!({"name": "Loose", "parent": {"value": it}})).await.id();
    let moved = stack.patch(Container, &id, json!([{"op": "remove", "path": "parent"}])).await.json();
    assert_eq!((moved["path"].as_str(), moved["inheritPermissions"].as_bool()), (Some("\\Loose"), Some(false)));
    let folder = stack.ss.get_folder(id.parse().unwrap()).await.unwrap();
    assert_eq!((folder.parent_folder_id, folder.inherit_permissions), (-1, false));
    // Asking for inheritance at the root is still refused (a replace by the value it already had
    // reads as untouched, and follows the move).
    let back = stack
        .create(Container, json!({"name": "Nested", "parent": {"value": it}, "inheritPermissions": false}))
        .await
        .id();
    let refused = stack
        .patch(
            Container,
            &back,
            json!([{"op": "remove", "path": "parent"}, {"op": "replace", "path": "inheritPermissions", "value": true}]),
        )
        .await;
    assert_eq!(refused.err().http_status(), 400);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_inherit_permissions_unassigns_it_and_keeps_the_folders_inheritance() {
    let stack = Stack::start().await;
    let it = folder_id(&stack, "\\IT").await;
    let id = stack.create(Container, json!({"name": "Keep", "parent": {"value": it}})).await.id();
    let removed = stack.patch(Container, &id, json!([{"op": "remove", "path": "inheritPermissions"}])).await.json();
    assert_eq!(removed.get("inheritPermissions"), None, "{removed}");
    assert!(stack.ss.get_folder(id.parse().unwrap()).await.unwrap().inherit_permissions);
    let set =
        stack.patch(Container, &id, json!([{"op": "add", "path": "inheritPermissions", "value": false}])).await.json();
    assert_eq!(set["inheritPermissions"], false);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_created_without_display_name_follows_its_folder_name() {
    let stack = Stack::start().await;
    let id = stack.create(Container, json!({"name": "Scratch"})).await.id();
    assert_eq!(stack.get(Container, &id).await.unwrap()["displayName"], "Scratch");
    let renamed =
        stack.patch(Container, &id, json!([{"op": "replace", "path": "name", "value": "Archive"}])).await.json();
    assert_eq!(renamed["displayName"], "Archive", "a displayName never set is not frozen at the old name");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_container_removes_an_empty_folder_and_refuses_a_full_one() {
    let stack = Stack::start().await;
    let id = stack.create(Container, json!({"name": "Empty"})).await.id();
    stack.delete(Container, &id).await;
    assert!(stack.ss.get_folder(id.parse().unwrap()).await.unwrap_err().is_not_found());
    let it = folder_id(&stack, "\\IT").await;
    let refused = stack.delete(Container, &it).await;
    assert_eq!(refused.err().http_status(), 400);
    assert!(stack.ss.get_folder(it.parse().unwrap()).await.is_ok());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_lists_its_secrets_as_privileged_data_references() {
    let stack = Stack::start().await;
    let windows = folder_id(&stack, "\\IT\\Windows Servers").await;
    let doc = stack.get(Container, &windows).await.unwrap();
    let names: Vec<&str> =
        doc["privilegedData"].as_array().unwrap().iter().map(|p| p["display"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 2, "{doc}");
    assert!(names.contains(&"DC01 Administrator"));
    assert_eq!(doc["privilegedData"][0]["type"], "Windows Account");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn privileged_data_is_metadata_only_and_read_only() {
    let stack = Stack::start().await;
    let windows = folder_id(&stack, "\\IT\\Windows Servers").await;
    let secrets = stack.search(PrivilegedData, &format!("container.value eq \"{windows}\"")).await;
    assert_eq!(secrets.len(), 2);
    let doc = &secrets[0];
    assert_eq!(doc["template"]["display"], "Windows Account");
    assert_eq!(doc["active"], true);
    let text = doc.to_string().to_ascii_lowercase();
    for forbidden in ["password\"", "itemvalue", "items", "extendedfields"] {
        assert!(!text.contains(forbidden), "{forbidden} in {text}");
    }
    let mut conn = crate::support::connection("writes-secrets");
    conn.scope.resource_types.insert("PrivilegedData".into(), connections::Operations::ALL);
    stack.connections.put(&conn).await.unwrap();
    let refused = stack.create_as("writes-secrets", PrivilegedData, json!({"name": "new secret"})).await;
    assert_eq!(refused.err().http_status(), 501);
    let denied = stack.create(PrivilegedData, json!({"name": "new secret"})).await;
    assert_eq!(denied.err().http_status(), 403, "the default scope reads secrets only");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_container_renames_and_sets_inheritance() {
    let stack = Stack::start().await;
    let it = folder_id(&stack, "\\IT").await;
    let id = stack.create(Container, json!({"name": "Labs", "parent": {"value": it}})).await.id();
    let replaced = stack
        .replace(Container, &id, json!({"name": "Lab", "parent": {"value": it}, "inheritPermissions": false}), None)
        .await
        .json();
    assert_eq!(replaced["path"], "\\IT\\Lab");
    assert_eq!(replaced["inheritPermissions"], false);
    let folder = stack.ss.get_folder(id.parse().unwrap()).await.unwrap();
    assert_eq!((folder.folder_name.as_str(), folder.inherit_permissions), ("Lab", false));
    // Breaking inheritance copied the parent's permissions onto the folder; they show through SCIM.
    let perms = stack.search(scim::ResourceKind::ContainerPermission, &format!("container.value eq \"{id}\"")).await;
    assert!(!perms.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_cannot_read_privileged_data_learns_no_secret_name_through_containers_or_permissions() {
    let stack = Stack::start().await;
    let mut blind = crate::support::connection("no-secrets");
    blind.scope.resource_types.remove("PrivilegedData");
    stack.connections.put(&blind).await.unwrap();
    let windows = folder_id(&stack, "\\IT\\Windows Servers").await;

    let doc = stack.get_as("no-secrets", Container, &windows).await.unwrap();
    assert_eq!(doc.get("privilegedData"), None, "{doc}");
    let found = stack.search_as("no-secrets", Container, "privilegedData.display co \"DC01\"").await.unwrap();
    assert_eq!(found, Vec::<serde_json::Value>::new(), "a filter finds no secret by its name");
    assert_eq!(stack.search(Container, "privilegedData.display co \"DC01\"").await.len(), 1, "one that may read");

    let web01 = stack.find(PrivilegedData, "name eq \"web01 root\"").await["id"].as_str().unwrap().to_owned();
    let filter = format!("privilegedData.value eq \"{web01}\"");
    let perms = stack.search_as("no-secrets", PrivilegedDataPermission, &filter).await.unwrap();
    assert!(!perms.is_empty());
    for perm in &perms {
        assert_eq!(perm["privilegedData"], json!({"value": web01}), "the id only: {perm}");
    }
    let named = stack.search(PrivilegedDataPermission, &filter).await;
    assert_eq!(named[0]["privilegedData"]["display"], "web01 root", "one that may read sees the name");
    stack.stop().await;
}

/// The folder Secret Server says secret `id` is in.
async fn ss_folder_of(stack: &Stack, id: &str) -> String {
    stack.ss.secret_summary(id.parse().unwrap()).await.unwrap().folder_id.to_string()
}

/// The id of the PrivilegedData called `name`.
async fn secret_id(stack: &Stack, name: &str) -> String {
    stack.find(PrivilegedData, &format!("name eq \"{name}\"")).await["id"].as_str().unwrap().to_owned()
}

/// The emulator's id of the connector's API account.
async fn api_account(stack: &Stack) -> i64 {
    let api = stack.find(User, &format!("userName eq \"{}\"", stack.sim.api_username())).await;
    api["id"].as_str().unwrap().parse().unwrap()
}

/// Leaves the API account only View on secret `id`, in Secret Server (its own permission on it):
/// Secret Server then refuses to move it (a move needs Edit on the secret).
async fn api_account_only_views_secret(stack: &Stack, id: &str) {
    let api = api_account(stack).await;
    let query = SecretPermissionQuery::secret(id.parse().unwrap());
    let perms: Vec<_> = stack.ss.search_secret_permissions(&query).try_collect().await.unwrap();
    let own = perms.iter().find(|p| p.user_id == Some(api)).expect("the API account's permission on the secret");
    let args =
        SecretPermissionUpdateArgs { id: own.id, secret_id: own.secret_id, secret_access_role_name: "View".into() };
    stack.ss.update_secret_permission(&args).await.unwrap();
}

/// Leaves the API account only View on folder `id` and its secrets, in Secret Server: Secret Server
/// then refuses to move a secret into it (Add Secret) or one that inherits from it (Edit).
async fn api_account_only_views_folder(stack: &Stack, id: &str) {
    let api = api_account(stack).await;
    let query = FolderPermissionQuery::folder(id.parse().unwrap());
    let perms: Vec<_> = stack.ss.search_folder_permissions(&query).try_collect().await.unwrap();
    let own = perms.iter().find(|p| p.user_id == Some(api)).expect("the API account's permission on the folder");
    let args = FolderPermissionUpdateArgs {
        id: own.id,
        folder_id: own.folder_id,
        folder_access_role_name: "View".into(),
        secret_access_role_name: "View".into(),
        break_inheritance: false,
    };
    stack.ss.update_folder_permission(&args).await.unwrap();
}

/// A PATCH renaming container `id` to "Renamed" and moving `secrets` into it.
fn rename_and_move_in(secrets: &[&str]) -> serde_json::Value {
    let values: Vec<_> = secrets.iter().map(|s| json!({"value": s})).collect();
    json!([
        {"op": "replace", "path": "name", "value": "Renamed"},
        {"op": "add", "path": "privilegedData", "value": values},
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_with_a_move_secret_server_refuses_moves_nothing_and_renames_nothing() {
    let stack = Stack::start().await;
    let landing = stack.create(Container, json!({"name": "Landing"})).await.id();
    let (first, second) = (secret_id(&stack, "web02 deploy").await, secret_id(&stack, "sql-prod reporting").await);
    assert!(first.parse::<i64>().unwrap() < second.parse::<i64>().unwrap(), "the first is moved first");
    let (first_in, second_in) = (ss_folder_of(&stack, &first).await, ss_folder_of(&stack, &second).await);
    api_account_only_views_secret(&stack, &second).await;

    let refused = stack.patch(Container, &landing, rename_and_move_in(&[&first, &second])).await;
    assert_eq!(refused.err().http_status(), 400, "{:?}", refused.err());
    let detail = &refused.err().detail;
    assert!(detail.starts_with(&format!("Secret Server refused to move privileged data {second} ")), "{detail}");
    assert!(detail.ends_with("the secrets moved before it were moved back, and nothing was changed"), "{detail}");

    // Secret Server: the first secret is back where it was, the second never left, no rename.
    assert_eq!(ss_folder_of(&stack, &first).await, first_in);
    assert_eq!(ss_folder_of(&stack, &second).await, second_in);
    assert_eq!(stack.ss.get_folder(landing.parse().unwrap()).await.unwrap().folder_name, "Landing");
    // And the read model agrees.
    let doc = stack.get(Container, &landing).await.unwrap();
    assert_eq!((doc["name"].as_str(), doc.get("privilegedData")), (Some("Landing"), None), "{doc}");
    assert_eq!(stack.get(PrivilegedData, &first).await.unwrap()["container"]["value"], first_in.as_str());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_move_names_the_secret_that_could_not_be_moved_back() {
    let stack = Stack::start().await;
    let landing = stack.create(Container, json!({"name": "Landing"})).await.id();
    // The first secret has its own permissions (the API account owns it) and leaves a folder the
    // API account may then only view: it moves out, but Secret Server refuses it back. The
    // second inherits from such a folder: Secret Server refuses to move it at all.
    let (first, second) =
        (secret_id(&stack, "sql-prod reporting").await, secret_id(&stack, "Password reset portal").await);
    assert!(first.parse::<i64>().unwrap() < second.parse::<i64>().unwrap(), "the first is moved first");
    let (first_in, second_in) = (ss_folder_of(&stack, &first).await, ss_folder_of(&stack, &second).await);
    api_account_only_views_folder(&stack, &first_in).await;
    api_account_only_views_folder(&stack, &second_in).await;

    let refused = stack.patch(Container, &landing, rename_and_move_in(&[&first, &second])).await;
    assert_eq!(refused.err().http_status(), 400, "{:?}", refused.err());
    let detail = &refused.err().detail;
    assert!(detail.starts_with(&format!("Secret Server refused to move privileged data {second} ")), "{detail}");
    let stuck = format!("privileged data {first} could not be moved back to container {first_in}");
    assert!(detail.contains(&stuck), "{detail}");

    // What the error says is what Secret Server and the read model hold; the folder is unchanged.
    assert_eq!(ss_folder_of(&stack, &first).await, landing);
    assert_eq!(ss_folder_of(&stack, &second).await, second_in);
    assert_eq!(stack.ss.get_folder(landing.parse().unwrap()).await.unwrap().folder_name, "Landing");
    assert_eq!(stack.get(PrivilegedData, &first).await.unwrap()["container"]["value"], landing.as_str());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_cannot_read_containers_or_principals_learns_their_names_through_no_other_resource() {
    let stack = Stack::start().await;
    let mut blind = crate::support::connection("permissions-only");
    for kind in ["Container", "User", "Group"] {
        blind.scope.resource_types.remove(kind);
    }
    stack.connections.put(&blind).await.unwrap();

    let perms = stack.search_as("permissions-only", ContainerPermission, "container.value pr").await.unwrap();
    assert!(!perms.is_empty());
    for perm in &perms {
        assert_eq!(perm["container"].as_object().unwrap().len(), 1, "the folder's id only: {perm}");
        let principal = perm.get("user").or_else(|| perm.get("group")).unwrap();
        assert_eq!(principal.get("display"), None, "the principal's id only: {perm}");
    }
    let secret = stack.search_as("permissions-only", PrivilegedData, "name eq \"web01 root\"").await.unwrap();
    assert_eq!(secret[0]["container"].get("display"), None, "{}", secret[0]);

    // A connection that may read them sees the names.
    let named = stack.search(ContainerPermission, "container.value pr").await;
    assert!(named[0]["container"]["display"].is_string(), "{}", named[0]);
    assert!(stack.find(PrivilegedData, "name eq \"web01 root\"").await["container"]["display"].is_string());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_cannot_inherit_again_when_that_drops_a_protected_principal_s_own_permission() {
    let protected = secret_server_adapter::ProtectedPrincipals { groups: vec!["DBAs".into()], ..Default::default() };
    let stack = Stack::start_with(crate::support::Options { protected, ..Default::default() }).await;
    let it = folder_id(&stack, "\\IT").await;
    // A folder of its own, where the protected group got a permission \IT does not give it.
    let id = stack
        .create(Container, json!({"name": "Own", "parent": {"value": it}, "inheritPermissions": false}))
        .await
        .id();
    let dbas =
        stack.find(scim::ResourceKind::Group, r#"displayName eq "DBAs""#).await["id"].as_str().unwrap().to_owned();
    stack
        .ss
        .create_folder_permission(&secret_server_api::FolderPermissionCreateArgs {
            folder_id: id.parse().unwrap(),
            user_id: None,
            group_id: Some(dbas.parse().unwrap()),
            folder_access_role_name: "Owner".into(),
            secret_access_role_name: "Owner".into(),
            break_inheritance: false,
        })
        .await
        .unwrap();
    let own = || async { crate::support::ss_folder_permissions(&stack, &id).await.len() };
    let before = own().await;

    let inherit = json!([{"op": "replace", "path": "inheritPermissions", "value": true}]);
    let refused = stack.patch(Container, &id, inherit.clone()).await;
    assert_eq!(refused.err().kind, service_error::ErrorKind::PermissionDenied, "{refused:?}");
    assert!(refused.err().detail.contains("protected principal"), "{:?}", refused.err());
    assert!(!stack.ss.get_folder(id.parse().unwrap()).await.unwrap().inherit_permissions);
    assert_eq!(own().await, before, "the folder keeps its own permissions");

    // A folder whose own permissions its parent gives alike inherits again.
    let alike = stack
        .create(Container, json!({"name": "Alike", "parent": {"value": it}, "inheritPermissions": false}))
        .await
        .id();
    assert_eq!(stack.patch(Container, &alike, inherit).await.json()["inheritPermissions"], true);
    stack.stop().await;
}
