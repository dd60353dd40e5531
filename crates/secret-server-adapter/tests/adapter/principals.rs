//! The adapter refuses changes to protected principals and outside a connection's principal
//! scope before anything changes, and remembers which connection created a user or group
//! across resyncs, restarts and replicas.

use crate::containers::folder_id;
use crate::support::*;
use scim::ResourceKind::{ContainerPermission, Group, User};
use secret_server_adapter::ProtectedPrincipals;
use serde_json::json;
use service_error::ErrorKind;

/// A connection that may change only what it created, with reads limited the same way.
async fn own_only(stack: &Stack, id: &str) {
    let mut c = connection(id);
    c.scope.principals =
        connections::PrincipalScope::new(connections::PrincipalReach::CreatedByConnection, vec![], true)
            .expect("a valid principal scope");
    stack.connections.put(&c).await.expect("put connection");
}

async fn user_id(stack: &Stack, name: &str) -> String {
    stack.find(User, &format!("userName eq \"{name}\"")).await["id"].as_str().unwrap().to_owned()
}

fn rename(to: &str) -> serde_json::Value {
    json!([{"op": "replace", "path": "displayName", "value": to}])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_account_is_refused_before_any_call_to_secret_server() {
    let stack = Stack::start().await;
    let api = user_id(&stack, stack.sim.api_username()).await;
    stack.sim.clear_request_log();
    let refused =
        stack.patch(User, &api, json!([{"op": "replace", "path": "password", "value": "New-Passw0rd!"}])).await;
    assert_eq!(refused.err().kind, ErrorKind::PermissionDenied);
    assert!(refused.err().detail.contains("the connector's own Secret Server API account"), "{:?}", refused.err());
    assert_eq!(stack.delete(User, &api).await.err().kind, ErrorKind::PermissionDenied);
    assert_eq!(stack.sim.request_log(), Vec::<(String, String)>::new(), "not one request reached Secret Server");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_creating_connection_is_remembered_across_a_resync_a_restart_and_on_another_replica() {
    let mut stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    own_only(&stack, "okta").await;
    let user = stack.create_as("okta", User, json!({"userName": "okta.made"})).await.json();
    let id = user["id"].as_str().unwrap().to_owned();
    assert!(user.to_string().find("createdBy").is_none(), "the record of its creator is never shown: {user}");
    let group =
        stack.create_as("okta", Group, json!({"displayName": "Okta Made", "members": [{"value": id}]})).await.id();

    stack.resync().await;
    assert!(
        stack.patch_as("okta", User, &id, rename("After Resync"), None).await.json()["displayName"] == "After Resync"
    );
    stack.restart_adapter().await;
    assert!(
        stack.patch_as("okta", User, &id, rename("After Restart"), None).await.json()["displayName"] == "After Restart"
    );
    assert!(stack.get_as("okta", Group, &group).await.is_ok(), "its group is still its own");

    let (replica_b, grpc_b) = stack.second_replica("b").await;
    let on_b = read(&grpc_b, "okta", User, &id).await.expect("the other replica knows who created it");
    assert_eq!(on_b["displayName"], "After Restart");
    replica_b.shutdown().await;

    let alice = user_id(&stack, "alice.martin").await;
    assert_eq!(stack.get_as("okta", User, &alice).await.unwrap_err().kind, ErrorKind::NotFound, "reads are limited");
    assert_eq!(stack.patch_as("okta", User, &alice, rename("x"), None).await.err().kind, ErrorKind::NotFound);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn principals_listed_for_the_instance_are_protected_and_administrators_only_while_the_switch_is_on() {
    let protected = ProtectedPrincipals {
        users: vec!["Carol.Diaz".into()],
        groups: vec!["helpdesk".into()],
        administrator_role: None,
    };
    let stack = Stack::start_with(Options { protected, ..Options::default() }).await;
    let carol = user_id(&stack, "carol.diaz").await;
    let refused = stack.patch(User, &carol, rename("Carol D.")).await;
    assert!(refused.err().detail.contains("listed among the protected principals of Secret Server instance 'primary'"));
    let helpdesk = stack.find(Group, "displayName eq \"Helpdesk\"").await["id"].as_str().unwrap().to_owned();
    assert_eq!(stack.delete(Group, &helpdesk).await.err().kind, ErrorKind::PermissionDenied);
    let dbas = stack.find(Group, "displayName eq \"DBAs\"").await["id"].as_str().unwrap().to_owned();
    let remove = json!([{"op": "remove", "path": format!("members[value eq \"{carol}\"]")}]);
    let refused = stack.patch(Group, &dbas, remove).await;
    assert!(refused.err().detail.ends_with("no connection may add it to a group or remove it from one"));
    // With the administrator switch off, the demo's admin is an ordinary user.
    let admin = user_id(&stack, "admin").await;
    assert_eq!(stack.patch(User, &admin, rename("Admin")).await.json()["displayName"], "Admin");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_group_and_its_members_are_protected_so_no_connection_can_make_itself_a_console_administrator() {
    // Helpdesk stands for the console group: frank.green may sign in to the console.
    let stack = Stack::start_with(Options { console_group: Some("helpdesk".into()), ..Options::default() }).await;
    let helpdesk = stack.find(Group, "displayName eq \"Helpdesk\"").await["id"].as_str().unwrap().to_owned();
    let mallory = stack.create(User, json!({"userName": "mallory", "password": "Mallory-Passw0rd-1"})).await.id();
    let add = json!([{"op": "add", "path": "members", "value": [{"value": mallory}]}]);
    let refused = stack.patch(Group, &helpdesk, add).await;
    assert_eq!(refused.err().kind, ErrorKind::PermissionDenied);
    assert!(
        refused.err().detail.contains("whose members may sign in to the connector's console"),
        "{:?}",
        refused.err()
    );
    assert_eq!(stack.delete(Group, &helpdesk).await.err().kind, ErrorKind::PermissionDenied);

    // A change to a member (its password, under a policy that would allow one, or anything else)
    // is refused too: whether it is a member is asked of Secret Server.
    let frank = user_id(&stack, "frank.green").await;
    let refused = stack.patch(User, &frank, rename("Frank")).await;
    assert_eq!(refused.err().kind, ErrorKind::PermissionDenied);
    assert!(refused.err().detail.contains("a member of \"helpdesk\""), "{:?}", refused.err());
    // Anyone else is changed as before.
    assert_eq!(stack.patch(User, &mallory, rename("Mallory")).await.json()["displayName"], "Mallory");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_connection_created_through_one_replica_it_may_name_at_once_through_the_other() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    own_only(&stack, "okta").await;
    let (replica_b, _grpc_b) = stack.second_replica("b").await;
    let databases = folder_id(&stack, "\\Databases").await;
    for n in 0..8 {
        // Either replica's workers may take each job: the one that takes the group's or the
        // grant's may not have learnt of the user yet. Whether the user is the connection's own
        // is kept in the shared state store, not only in the replica that created it.
        let user = stack.create_as("okta", User, json!({"userName": format!("okta.new.{n}")})).await.id();
        let group = json!({"displayName": format!("Okta New {n}"), "members": [{"value": user}]});
        let group = stack.create_as("okta", Group, group).await.json();
        assert_eq!(group["members"][0]["value"], user.as_str(), "its user is its member: {group}");

        let user = stack.create_as("okta", User, json!({"userName": format!("okta.granted.{n}")})).await.id();
        let grant = json!({"container": {"value": databases}, "user": {"value": user}, "rights": ["View"]});
        let granted = stack.create_as("okta", ContainerPermission, grant).await.json();
        assert_eq!(granted["user"]["value"], user.as_str(), "its user is granted: {granted}");
    }
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_outside_the_connections_scope_is_refused_and_left_as_it_was() {
    let stack = Stack::start().await;
    own_only(&stack, "okta").await;
    let admin = user_id(&stack, "admin").await;
    let before = stack.get(User, &admin).await.unwrap();
    assert!(!before["roles"].as_array().unwrap().is_empty(), "the demo's admin holds a role: {before}");
    let group = json!({"displayName": "Okta Admins", "members": [{"value": admin}]});
    let refused = stack.create_as("okta", Group, group).await;
    assert_eq!(refused.err().detail, format!("member {admin} is not a user"));
    // The refusal read the user again and wrote it back without its roles, a new version with it.
    assert_eq!(stack.get(User, &admin).await.unwrap(), before, "its roles and version as they were");
    stack.stop().await;
}
