//! ContainerPermissions and PrivilegedDataPermissions: rights mapping, inheritance policy,
//! SailPoint's rights Add/Remove/Set, checked in the emulator.

use crate::containers::folder_id;
use crate::support::{CONNECTION, Options, Stack, connection};
use connections::InheritedFolderPolicy;
use futures::TryStreamExt;
use pretty_assertions::assert_eq;
use scim::ResourceKind::{ContainerPermission, Group, PrivilegedData, PrivilegedDataPermission, User};
use secret_server_adapter::ProtectedPrincipals;
use secret_server_api::{FolderPermissionCreateArgs, UserCreateArgs};
use secret_server_client::SecretPermissionQuery;
use serde_json::{Value, json};
use service_error::ErrorKind;

async fn id_of(stack: &Stack, kind: scim::ResourceKind, filter: &str) -> String {
    stack.find(kind, filter).await["id"].as_str().unwrap().to_owned()
}

/// The (folder role, secret role) `principal` holds on a folder, read from the emulator.
async fn ss_folder_roles(
    stack: &Stack,
    folder: &str,
    user: Option<&str>,
    group: Option<&str>,
) -> Option<(String, String)> {
    crate::support::ss_folder_permissions(stack, folder)
        .await
        .into_iter()
        .find(|p| {
            p.user_id.map(|u| u.to_string()).as_deref() == user && p.group_id.map(|g| g.to_string()).as_deref() == group
        })
        .map(|p| (p.folder_access_role_name, p.secret_access_role_name))
}

fn rights(doc: &Value) -> Vec<String> {
    doc["rights"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grant_view_on_a_container_creates_the_folder_permission() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let bob = id_of(&stack, User, r#"userName eq "bob.chen""#).await;
    let created = stack
        .create(
            ContainerPermission,
            json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["View"]}),
        )
        .await
        .json();
    assert_eq!(rights(&created), vec!["View"]);
    assert_eq!(created["container"]["display"], "Databases");
    assert_eq!(ss_folder_roles(&stack, &databases, Some(&bob), None).await, Some(("View".into(), "View".into())));
    // SailPoint's lookup of the permission it just made.
    let found = stack
        .find(ContainerPermission, &format!("container.value eq \"{databases}\" and user.value eq \"{bob}\""))
        .await;
    assert_eq!(found["id"], created["id"]);
    let again = stack
        .create(
            ContainerPermission,
            json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["Edit"]}),
        )
        .await;
    assert_eq!(again.err().http_status(), 409);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sailpoint_rights_add_remove_and_set_change_the_roles() {
    let stack = Stack::start().await;
    let helpdesk = folder_id(&stack, "\\Helpdesk").await;
    let dbas = id_of(&stack, Group, r#"displayName eq "DBAs""#).await;
    let id = stack
        .create(
            ContainerPermission,
            json!({"container": {"value": helpdesk}, "group": {"value": dbas}, "rights": ["View"]}),
        )
        .await
        .id();
    let added =
        stack.patch(ContainerPermission, &id, json!([{"op": "add", "path": "rights", "value": ["Edit"]}])).await.json();
    assert_eq!(rights(&added), vec!["View", "Edit"]);
    assert_eq!(ss_folder_roles(&stack, &helpdesk, None, Some(&dbas)).await, Some(("Edit".into(), "Edit".into())));
    let removed = stack
        .patch(ContainerPermission, &id, json!([{"op": "remove", "path": "rights[value eq \"Edit\"]"}]))
        .await
        .json();
    assert_eq!(rights(&removed), vec!["View"]);
    assert_eq!(ss_folder_roles(&stack, &helpdesk, None, Some(&dbas)).await, Some(("View".into(), "View".into())));
    let set = stack
        .patch(ContainerPermission, &id, json!([{"op": "replace", "path": "rights", "value": ["Owner"]}]))
        .await
        .json();
    assert_eq!(rights(&set), vec!["Owner"]);
    assert_eq!(ss_folder_roles(&stack, &helpdesk, None, Some(&dbas)).await, Some(("Owner".into(), "Owner".into())));
    let emptied = stack.patch(ContainerPermission, &id, json!([{"op": "remove", "path": "rights"}])).await;
    assert_eq!(emptied.err().http_status(), 400, "revoking is a DELETE");
    stack.delete(ContainerPermission, &id).await;
    assert_eq!(ss_folder_roles(&stack, &helpdesk, None, Some(&dbas)).await, None);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmapped_right_is_a_400_naming_it_and_changes_nothing() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let bob = id_of(&stack, User, r#"userName eq "bob.chen""#).await;
    let refused = stack
        .create(
            ContainerPermission,
            json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["Admin"]}),
        )
        .await;
    assert_eq!(refused.err().http_status(), 400);
    assert!(refused.err().detail.contains("\"Admin\""), "{}", refused.err().detail);
    assert_eq!(ss_folder_roles(&stack, &databases, Some(&bob), None).await, None);
    // With the right mapped on the connection, the same request works.
    let mut conn = connection("mapped");
    conn.rights.container.insert(
        "Admin".into(),
        connections::FolderRoles {
            folder: secret_server_api::FolderAccessRole::Owner,
            secret: secret_server_api::SecretAccessRole::Owner,
        },
    );
    stack.connections.put(&conn).await.unwrap();
    let created = stack
        .create_as(
            "mapped",
            ContainerPermission,
            json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["Admin"]}),
        )
        .await
        .json();
    assert_eq!(rights(&created), vec!["Admin"]);
    assert_eq!(ss_folder_roles(&stack, &databases, Some(&bob), None).await, Some(("Owner".into(), "Owner".into())));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn granting_on_an_inheriting_folder_breaks_inheritance_or_is_refused_by_policy() {
    let stack = Stack::start().await;
    let windows = folder_id(&stack, "\\IT\\Windows Servers").await;
    let bob = id_of(&stack, User, r#"userName eq "bob.chen""#).await;
    let body = json!({"container": {"value": windows}, "user": {"value": bob}, "rights": ["View"]});

    let mut refusing = connection("refusing");
    refusing.policies.inherited_folder = InheritedFolderPolicy::Refuse;
    stack.connections.put(&refusing).await.unwrap();
    let refused = stack.create_as("refusing", ContainerPermission, body.clone()).await;
    assert_eq!(refused.err().http_status(), 400);
    assert!(stack.ss.get_folder(windows.parse().unwrap()).await.unwrap().inherit_permissions);

    stack.create(ContainerPermission, body).await.json();
    let folder = stack.ss.get_folder(windows.parse().unwrap()).await.unwrap();
    assert!(!folder.inherit_permissions, "inheritance broke");
    assert_eq!(ss_folder_roles(&stack, &windows, Some(&bob), None).await, Some(("View".into(), "View".into())));
    // The copies of the inherited permissions show through SCIM too.
    let it_admins = id_of(&stack, Group, r#"displayName eq "IT Admins""#).await;
    let copied = stack
        .find(ContainerPermission, &format!("container.value eq \"{windows}\" and group.value eq \"{it_admins}\""))
        .await;
    assert_eq!(rights(&copied), vec!["Owner"]);
    assert_eq!(stack.get(scim::ResourceKind::Container, &windows).await.unwrap()["inheritPermissions"], false);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_without_a_mapped_right_are_reported_as_a_synthetic_right() {
    let stack = Stack::start().await;
    let production = folder_id(&stack, "\\Databases\\Production").await;
    let erin = id_of(&stack, User, r#"userName eq "erin.fischer""#).await;
    let perm = stack
        .find(ContainerPermission, &format!("container.value eq \"{production}\" and user.value eq \"{erin}\""))
        .await;
    assert_eq!(rights(&perm), vec!["View/None"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_permissions_are_granted_changed_and_revoked_in_secret_server() {
    let stack = Stack::start().await;
    let secret = id_of(&stack, PrivilegedData, r#"name eq "web02 deploy""#).await;
    let carol = id_of(&stack, User, r#"userName eq "carol.diaz""#).await;
    let created = stack
        .create(
            PrivilegedDataPermission,
            json!({"privilegedData": {"value": secret}, "user": {"value": carol}, "rights": ["List"]}),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(rights(&created), vec!["List"]);
    let ss_role = |stack: &Stack| {
        let client = stack.ss.clone();
        let (secret, carol) = (secret.clone(), carol.clone());
        async move {
            let perms: Vec<_> = client
                .search_secret_permissions(&SecretPermissionQuery::secret(secret.parse().unwrap()))
                .try_collect()
                .await
                .unwrap();
            perms
                .into_iter()
                .find(|p| p.user_id.map(|u| u.to_string()) == Some(carol.clone()))
                .map(|p| p.secret_access_role_name)
        }
    };
    assert_eq!(ss_role(&stack).await.as_deref(), Some("List"));
    stack
        .patch(PrivilegedDataPermission, &id, json!([{"op": "replace", "path": "rights", "value": ["Edit", "View"]}]))
        .await
        .json();
    assert_eq!(ss_role(&stack).await.as_deref(), Some("Edit"));
    stack.delete(PrivilegedDataPermission, &id).await;
    assert_eq!(ss_role(&stack).await, None);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_a_permission_changes_its_rights_but_never_its_target() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let it = folder_id(&stack, "\\IT").await;
    let bob = id_of(&stack, User, r#"userName eq "bob.chen""#).await;
    let id = stack
        .create(
            ContainerPermission,
            json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["View"]}),
        )
        .await
        .id();
    let replaced = stack
        .replace(
            ContainerPermission,
            &id,
            json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["Edit"]}),
            None,
        )
        .await
        .json();
    assert_eq!(rights(&replaced), vec!["Edit"]);
    assert_eq!(ss_folder_roles(&stack, &databases, Some(&bob), None).await, Some(("Edit".into(), "Edit".into())));
    let moved = stack
        .replace(
            ContainerPermission,
            &id,
            json!({"container": {"value": it}, "user": {"value": bob}, "rights": ["Edit"]}),
            None,
        )
        .await;
    assert_eq!((moved.err().http_status(), moved.err().scim_type), (400, Some(scim::ScimType::Mutability)));

    let secret = id_of(&stack, PrivilegedData, r#"name eq "sql-staging sa""#).await;
    let perm = stack
        .create(
            PrivilegedDataPermission,
            json!({"privilegedData": {"value": secret}, "user": {"value": bob}, "rights": ["View"]}),
        )
        .await
        .id();
    let replaced = stack
        .replace(
            PrivilegedDataPermission,
            &perm,
            json!({"privilegedData": {"value": secret}, "user": {"value": bob}, "rights": ["Owner"]}),
            None,
        )
        .await
        .json();
    assert_eq!(rights(&replaced), vec!["Owner"]);
    let perms: Vec<_> = stack
        .ss
        .search_secret_permissions(&SecretPermissionQuery::secret(secret.parse().unwrap()))
        .try_collect()
        .await
        .unwrap();
    let role = perms.iter().find(|p| p.user_id.map(|u| u.to_string()).as_deref() == Some(bob.as_str())).unwrap();
    assert_eq!(role.secret_access_role_name, "Owner");
    stack.stop().await;
}

/// The permissions `connection` finds with `filter`, by id.
async fn permission_ids(stack: &Stack, connection: &str, kind: scim::ResourceKind, filter: &str) -> Vec<String> {
    let found = stack.search_as(connection, kind, filter).await.unwrap();
    found.iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_of_a_principal_hidden_by_the_scope_is_not_found_and_cannot_be_changed_or_revoked() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let dbas = id_of(&stack, Group, r#"displayName eq "DBAs""#).await;
    let developers = id_of(&stack, Group, r#"displayName eq "Developers""#).await;
    let api = id_of(&stack, User, &format!("userName eq \"{}\"", stack.sim.api_username())).await;
    let mut portal = connection("dba-portal");
    portal.scope.principals =
        connections::PrincipalScope::new(connections::PrincipalReach::GroupMembers, vec![dbas.parse().unwrap()], true)
            .unwrap();
    stack.connections.put(&portal).await.unwrap();

    // The folder's permissions as the connection lists them: only the one of the group it sees.
    let on_databases = format!("container.value eq \"{databases}\"");
    assert_eq!(permission_ids(&stack, CONNECTION, ContainerPermission, &on_databases).await.len(), 3);
    let dbas_perm = id_of(&stack, ContainerPermission, &format!("{on_databases} and group.value eq \"{dbas}\"")).await;
    assert_eq!(permission_ids(&stack, "dba-portal", ContainerPermission, &on_databases).await, vec![dbas_perm]);
    let of_api = format!("user.value eq \"{api}\"");
    assert_eq!(permission_ids(&stack, "dba-portal", ContainerPermission, &of_api).await, Vec::<String>::new());

    // The permission of a group it cannot see is the 404 of a missing one, for reads and changes.
    let hidden =
        id_of(&stack, ContainerPermission, &format!("{on_databases} and group.value eq \"{developers}\"")).await;
    assert_eq!(stack.get_as("dba-portal", ContainerPermission, &hidden).await.unwrap_err().http_status(), 404);
    let owner = json!([{"op": "replace", "path": "rights", "value": ["Owner"]}]);
    let raised = stack.patch_as("dba-portal", ContainerPermission, &hidden, owner, None).await;
    assert_eq!(raised.err().http_status(), 404);
    assert_eq!(stack.delete_as("dba-portal", ContainerPermission, &hidden).await.err().http_status(), 404);
    let held = ss_folder_roles(&stack, &databases, None, Some(&developers)).await;
    assert_eq!(held, Some(("View".into(), "List".into())), "Secret Server's permission is as it was");

    // The same for a secret's permissions: Dave is not a member of DBAs.
    let reporting = id_of(&stack, PrivilegedData, r#"name eq "sql-prod reporting""#).await;
    let dave = id_of(&stack, User, r#"userName eq "dave.evans""#).await;
    let on_reporting = format!("privilegedData.value eq \"{reporting}\"");
    let daves = id_of(&stack, PrivilegedDataPermission, &format!("{on_reporting} and user.value eq \"{dave}\"")).await;
    let seen = permission_ids(&stack, "dba-portal", PrivilegedDataPermission, &on_reporting).await;
    assert_eq!(seen.len(), 1, "the DBAs' permission only: {seen:?}");
    assert!(!seen.contains(&daves));
    assert_eq!(stack.get_as("dba-portal", PrivilegedDataPermission, &daves).await.unwrap_err().http_status(), 404);
    assert_eq!(stack.delete_as("dba-portal", PrivilegedDataPermission, &daves).await.err().http_status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permissions_of_protected_principals_cannot_be_changed_or_revoked() {
    let protected = ProtectedPrincipals { groups: vec!["DBAs".into()], ..ProtectedPrincipals::default() };
    let stack = Stack::start_with(Options { protected, ..Options::default() }).await;
    let databases = folder_id(&stack, "\\Databases").await;
    let on_databases = format!("container.value eq \"{databases}\"");
    let view = || json!([{"op": "replace", "path": "rights", "value": ["View"]}]);

    // The connector's own API account: refused from the read model, before any call.
    let api = id_of(&stack, User, &format!("userName eq \"{}\"", stack.sim.api_username())).await;
    let apis = id_of(&stack, ContainerPermission, &format!("{on_databases} and user.value eq \"{api}\"")).await;
    stack.sim.clear_request_log();
    let refused = stack.patch(ContainerPermission, &apis, view()).await;
    assert_eq!(refused.err().kind, ErrorKind::PermissionDenied);
    assert!(refused.err().detail.contains("the connector's own Secret Server API account"), "{:?}", refused.err());
    assert_eq!(stack.delete(ContainerPermission, &apis).await.err().kind, ErrorKind::PermissionDenied);
    assert_eq!(stack.sim.request_log(), Vec::<(String, String)>::new(), "not one request reached Secret Server");
    let held = ss_folder_roles(&stack, &databases, Some(&api), None).await;
    assert_eq!(held, Some(("Owner".into(), "Owner".into())));

    // A group listed for the instance.
    let dbas = id_of(&stack, Group, r#"displayName eq "DBAs""#).await;
    let dbas_perm = id_of(&stack, ContainerPermission, &format!("{on_databases} and group.value eq \"{dbas}\"")).await;
    let refused = stack.patch(ContainerPermission, &dbas_perm, view()).await;
    assert!(refused.err().detail.contains("listed among the protected principals"), "{:?}", refused.err());
    assert_eq!(stack.delete(ContainerPermission, &dbas_perm).await.err().kind, ErrorKind::PermissionDenied);
    assert_eq!(ss_folder_roles(&stack, &databases, None, Some(&dbas)).await, Some(("Owner".into(), "Owner".into())));

    // A holder of the administrator role, asked of Secret Server; its permission was made there.
    let helpdesk = folder_id(&stack, "\\Helpdesk").await;
    let admin = id_of(&stack, User, r#"userName eq "admin""#).await;
    let made = stack
        .ss
        .create_folder_permission(&FolderPermissionCreateArgs {
            folder_id: helpdesk.parse().unwrap(),
            user_id: Some(admin.parse().unwrap()),
            group_id: None,
            folder_access_role_name: "View".into(),
            secret_access_role_name: "View".into(),
            break_inheritance: false,
        })
        .await
        .unwrap();
    stack.resync().await;
    let admins = made.id.to_string();
    let owner = json!([{"op": "replace", "path": "rights", "value": ["Owner"]}]);
    let refused = stack.patch(ContainerPermission, &admins, owner).await;
    assert!(refused.err().detail.contains("holds Secret Server's \"Administrator\" role"), "{:?}", refused.err());
    assert_eq!(stack.delete(ContainerPermission, &admins).await.err().kind, ErrorKind::PermissionDenied);
    assert_eq!(ss_folder_roles(&stack, &helpdesk, Some(&admin), None).await, Some(("View".into(), "View".into())));

    // A secret's permission of the API account.
    let web01 = id_of(&stack, PrivilegedData, r#"name eq "web01 root""#).await;
    let filter = format!("privilegedData.value eq \"{web01}\" and user.value eq \"{api}\"");
    let apis = id_of(&stack, PrivilegedDataPermission, &filter).await;
    assert_eq!(stack.delete(PrivilegedDataPermission, &apis).await.err().kind, ErrorKind::PermissionDenied);
    let refused = stack.patch(PrivilegedDataPermission, &apis, view()).await;
    assert_eq!(refused.err().kind, ErrorKind::PermissionDenied);
    assert!(stack.ss.get_secret_permission(apis.parse().unwrap()).await.is_ok(), "still granted in Secret Server");
    stack.stop().await;
}

/// A grant of `right` to `user` on `target`, named by attribute `on` (`container` or `privilegedData`).
fn grant(on: &str, target: &str, user: &str, right: &str) -> Value {
    let mut doc = json!({"user": {"value": user}, "rights": [right]});
    doc[on] = json!({"value": target});
    doc
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_grant_leaves_no_record_of_a_principal_the_read_model_had_not_seen() {
    let stack = Stack::start().await;
    let databases = folder_id(&stack, "\\Databases").await;
    let windows = folder_id(&stack, "\\IT\\Windows Servers").await;
    let web02 = id_of(&stack, PrivilegedData, r#"name eq "web02 deploy""#).await;
    let mut refusing = connection("refusing");
    refusing.policies.inherited_folder = InheritedFolderPolicy::Refuse;
    stack.connections.put(&refusing).await.unwrap();
    let dbas = id_of(&stack, Group, r#"displayName eq "DBAs""#).await;
    let mut portal = connection("dba-portal");
    portal.scope.principals =
        connections::PrincipalScope::new(connections::PrincipalReach::GroupMembers, vec![dbas.parse().unwrap()], true)
            .unwrap();
    stack.connections.put(&portal).await.unwrap();
    // Users made in Secret Server behind the adapter's back: its read model has not seen them.
    let made = |name: &'static str, enabled: bool| {
        let client = stack.ss.clone();
        async move {
            let args = UserCreateArgs {
                user_name: name.into(),
                password: Some("Direct-Passw0rd!".into()),
                display_name: name.into(),
                enabled,
                ..UserCreateArgs::default()
            };
            client.create_user(&args).await.unwrap().id.to_string()
        }
    };
    // Whether the read model holds a record of `user` (a GET through the adapter finds it).
    let recorded = |user: String| {
        let stack = &stack;
        async move { stack.get(User, &user).await.is_ok() }
    };

    let mapped = made("unmapped.right", true).await;
    let refused = stack.create(ContainerPermission, grant("container", &databases, &mapped, "Admin")).await;
    assert_eq!(refused.err().http_status(), 400, "a right the connection does not map");
    let refused = stack.create(PrivilegedDataPermission, grant("privilegedData", &web02, &mapped, "Admin")).await;
    assert_eq!(refused.err().http_status(), 400);
    assert!(!recorded(mapped.clone()).await, "the read model has no record of the user");

    let inheriting = made("inheriting.folder", true).await;
    let refused =
        stack.create_as("refusing", ContainerPermission, grant("container", &windows, &inheriting, "View")).await;
    assert_eq!(refused.err().http_status(), 400, "a folder that inherits, under a policy that refuses");
    let refused = stack
        .create_as("refusing", PrivilegedDataPermission, grant("privilegedData", &web02, &inheriting, "View"))
        .await;
    assert_eq!(refused.err().http_status(), 400);
    assert!(!recorded(inheriting).await);

    let inactive = made("inactive.user", false).await;
    let refused = stack.create(ContainerPermission, grant("container", &databases, &inactive, "View")).await;
    assert!(refused.err().detail.contains("inactive"), "{:?}", refused.err());
    assert!(!recorded(inactive).await);

    let hidden = made("hidden.user", true).await;
    let refused =
        stack.create_as("dba-portal", ContainerPermission, grant("container", &databases, &hidden, "View")).await;
    assert!(refused.err().detail.contains("there is no user"), "{:?}", refused.err());
    assert!(!recorded(hidden).await);

    // A grant that is made records its principal.
    let created = stack.create(ContainerPermission, grant("container", &databases, &mapped, "View")).await.json();
    assert_eq!(created["user"]["display"], "unmapped.right");
    assert_eq!(stack.get(User, &mapped).await.unwrap()["userName"], "unmapped.right");
    stack.stop().await;
}
