//! Users through real jobs, checked in the emulator through its REST API.

use crate::support::{
    CONNECTION, Holder, INSTANCE, Options, Outcome, Stack, connection, delivered, emulator_with_a_disabled_role_held_by,
};
use adapter_api::{Operation, Written};
use connections::{DeletedUserPolicy, UserNameChangePolicy};
use job_queue::Disposition;
use pretty_assertions::assert_eq;
use scim::ResourceKind::User;
use secret_server_adapter::intents::{Intent, Intents};
use serde_json::{Value, json};
use service_error::ErrorKind;

fn barbara() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "userName": "bjensen",
        "externalId": "ext-bjensen",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Babs Jensen",
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@home.example.com", "type": "home"}
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "password": "Correct-Horse-9!",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"employeeNumber": "701984", "department": "Tour Operations"}
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_user_makes_it_in_secret_server_and_round_trips_unmapped_attributes() {
    let stack = Stack::start().await;
    let created = stack.create(User, barbara()).await;
    let doc = created.json();
    let id: i64 = doc["id"].as_str().unwrap().parse().unwrap();

    let ss = stack.ss.get_user(id).await.unwrap();
    assert_eq!(ss.user_name, "bjensen");
    assert_eq!(ss.display_name, "Babs Jensen");
    assert_eq!(ss.email_address.as_deref(), Some("bjensen@example.com"));
    assert!(ss.enabled);

    let read = stack.get(User, doc["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(read["externalId"], "ext-bjensen");
    assert_eq!(read["name"], json!({"givenName": "Barbara", "familyName": "Jensen"}));
    assert_eq!(read["emails"], barbara()["emails"]);
    assert_eq!(read["phoneNumbers"], barbara()["phoneNumbers"]);
    assert_eq!(read["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]["employeeNumber"], "701984");
    assert_eq!(read["active"], true);
    assert!(read.get("password").is_none(), "the password is never returned");
    assert_eq!(read["meta"]["resourceType"], "User");
    assert!(read["meta"]["version"].as_str().unwrap().starts_with("W/\""));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_user_name_is_a_409_uniqueness() {
    let stack = Stack::start().await;
    let err = stack.create(User, json!({"userName": "ALICE.martin"})).await;
    assert_eq!(err.err().http_status(), 409);
    assert_eq!(err.err().scim_type, Some(scim::ScimType::Uniqueness));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_password_gets_one_that_satisfies_the_policy() {
    let stack = Stack::start().await;
    let created = stack.create(User, json!({"userName": "no.password", "active": false})).await;
    let id: i64 = created.id().parse().unwrap();
    let ss = stack.ss.get_user(id).await.unwrap();
    assert_eq!(ss.user_name, "no.password");
    assert!(!ss.enabled);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_secret_server_refuses_is_a_400_saying_why() {
    let stack = Stack::start().await;
    let refused = stack.create(User, json!({"userName": "weak.password", "password": "abc"})).await;
    let err = refused.err();
    assert_eq!(err.http_status(), 400);
    // Secret Server's own reasons (its modelState), not its "The request is invalid.".
    assert!(err.detail.contains("at least 8 characters"), "{}", err.detail);
    assert!(!err.detail.contains("The request is invalid"), "{}", err.detail);
    let id = stack.create(User, json!({"userName": "patched.password"})).await.id();
    let refused = stack.patch(User, &id, json!([{"op": "replace", "path": "password", "value": "alllowercase"}])).await;
    assert_eq!(refused.err().http_status(), 400);
    assert!(refused.err().detail.contains("at least 3 of these kinds"), "{}", refused.err().detail);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_changes_the_mapped_fields_in_secret_server() {
    let stack = Stack::start().await;
    let id = stack.create(User, barbara()).await.id();
    let mut body = barbara();
    body["displayName"] = json!("Barbara J.");
    body["emails"] = json!([{"value": "barbara@example.com", "type": "work", "primary": true}]);
    body["active"] = json!(false);
    body["title"] = json!("Tour Guide");
    body.as_object_mut().unwrap().remove("phoneNumbers");
    let replaced = stack.replace(User, &id, body, None).await.json();
    assert_eq!(replaced["title"], "Tour Guide");
    assert!(replaced.get("phoneNumbers").is_none(), "PUT replaces every attribute");

    let ss = stack.ss.get_user(id.parse().unwrap()).await.unwrap();
    assert_eq!(
        (ss.display_name.as_str(), ss.email_address.as_deref(), ss.enabled),
        ("Barbara J.", Some("barbara@example.com"), false)
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_active_false_disables_the_user_in_secret_server() {
    let stack = Stack::start().await;
    let id = stack.create(User, barbara()).await.id();
    let patched = stack.patch(User, &id, json!([{"op": "Replace", "path": "active", "value": "False"}])).await.json();
    assert_eq!(patched["active"], false);
    assert!(!stack.ss.get_user(id.parse().unwrap()).await.unwrap().enabled);
    // Entra's path-less replace with dotted keys.
    let patched = stack
        .patch(User, &id, json!([{"op": "replace", "value": {"displayName": "B. Jensen", "name.givenName": "Barb"}}]))
        .await
        .json();
    assert_eq!(patched["name"]["givenName"], "Barb");
    assert_eq!(stack.ss.get_user(id.parse().unwrap()).await.unwrap().display_name, "B. Jensen");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_display_name_or_active_unassigns_them_without_enabling_anyone() {
    let stack = Stack::start().await;
    let id = stack.create(User, json!({"userName": "kim", "displayName": "Kim", "active": false})).await.id();
    let ss_id = id.parse().unwrap();
    let removed = stack
        .patch(User, &id, json!([{"op": "remove", "path": "displayName"}, {"op": "remove", "path": "active"}]))
        .await
        .json();
    assert_eq!((removed.get("displayName"), removed.get("active")), (None, None), "{removed}");
    let user = stack.ss.get_user(ss_id).await.unwrap();
    assert_eq!((user.display_name.as_str(), user.enabled), ("kim", false), "Secret Server needs a display name");
    // Unrelated changes leave them unassigned; setting one assigns it again.
    let other = stack.patch(User, &id, json!([{"op": "add", "path": "title", "value": "Ops"}])).await.json();
    assert_eq!((other.get("displayName"), other.get("active")), (None, None), "{other}");
    let set = stack.patch(User, &id, json!([{"op": "add", "path": "active", "value": true}])).await.json();
    assert_eq!((set.get("displayName"), set["active"].as_bool()), (None, Some(true)));
    // A change made in Secret Server itself shows.
    let renamed = secret_server_api::UserPatchArgs {
        display_name: Some(secret_server_api::Patch::set("Kim Lee".to_owned())),
        ..Default::default()
    };
    stack.ss.patch_user(ss_id, &renamed).await.unwrap();
    stack.resync().await;
    assert_eq!(stack.get(User, &id).await.unwrap()["displayName"], "Kim Lee");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_display_name_secret_server_gets_one_from_the_name_and_scim_shows_none() {
    let stack = Stack::start().await;
    let body = json!({"userName": "bjensen", "name": {"givenName": "Barbara", "familyName": "Jensen"}});
    let created = stack.create(User, body).await.json();
    assert_eq!(created.get("displayName"), None, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let ss_id = id.parse().unwrap();
    assert_eq!(stack.ss.get_user(ss_id).await.unwrap().display_name, "Barbara Jensen");

    // An unrelated change keeps both; a change of the name follows in Secret Server only.
    let other = stack.patch(User, &id, json!([{"op": "add", "path": "title", "value": "Tour Guide"}])).await.json();
    assert_eq!(other.get("displayName"), None, "{other}");
    stack.patch(User, &id, json!([{"op": "replace", "path": "name.familyName", "value": "Smith"}])).await.json();
    assert_eq!(stack.ss.get_user(ss_id).await.unwrap().display_name, "Barbara Smith");
    assert_eq!(stack.get(User, &id).await.unwrap().get("displayName"), None);

    // A replacement with name.formatted and without displayName: formatted wins.
    let formatted =
        json!({"userName": "bjensen", "name": {"formatted": "Ms. Barbara J Jensen III", "givenName": "Barbara"}});
    let replaced = stack.replace(User, &id, formatted, None).await.json();
    assert_eq!(replaced.get("displayName"), None, "{replaced}");
    assert_eq!(stack.ss.get_user(ss_id).await.unwrap().display_name, "Ms. Barbara J Jensen III");
    // One with displayName sets both; without any name, Secret Server gets the user name.
    let named = stack.replace(User, &id, json!({"userName": "bjensen", "displayName": "Babs"}), None).await.json();
    assert_eq!(named["displayName"], "Babs");
    let bare = stack.replace(User, &id, json!({"userName": "bjensen"}), None).await.json();
    assert_eq!(bare.get("displayName"), None, "{bare}");
    assert_eq!(stack.ss.get_user(ss_id).await.unwrap().display_name, "bjensen");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_user_name_is_a_mutability_error_by_default() {
    let stack = Stack::start().await;
    let id = stack.create(User, barbara()).await.id();
    let err = stack.patch(User, &id, json!([{"op": "replace", "path": "userName", "value": "babs"}])).await;
    assert_eq!(err.err().http_status(), 400);
    assert_eq!(err.err().scim_type, Some(scim::ScimType::Mutability));
    assert_eq!(stack.ss.get_user(id.parse().unwrap()).await.unwrap().user_name, "bjensen");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keep_name_policy_shows_the_clients_user_name_and_keeps_secret_servers() {
    let stack = Stack::start().await;
    let mut conn = connection("keep-name");
    conn.policies.user_name_change = UserNameChangePolicy::KeepSecretServerName;
    stack.connections.put(&conn).await.unwrap();
    let id = stack.create_as("keep-name", User, barbara()).await.id();
    let patched = stack
        .patch_as("keep-name", User, &id, json!([{"op": "replace", "path": "userName", "value": "babs"}]), None)
        .await;
    assert_eq!(patched.json()["userName"], "babs");
    assert_eq!(stack.ss.get_user(id.parse().unwrap()).await.unwrap().user_name, "bjensen");
    let found = stack.search_as("keep-name", User, r#"userName eq "BABS""#).await.unwrap();
    assert_eq!(found.iter().map(|u| &u["id"]).collect::<Vec<_>>(), [&json!(id)]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_user_name_is_the_keeping_connections_own_and_never_blocks_another_connections_changes() {
    let stack = Stack::start().await;
    let mut okta = connection("okta");
    okta.policies.user_name_change = UserNameChangePolicy::KeepSecretServerName;
    stack.connections.put(&okta).await.unwrap();
    let id = stack.create(User, barbara()).await.id();
    let rename = json!([{"op": "replace", "path": "userName", "value": "barbara.jensen"}]);
    stack.patch_as("okta", User, &id, rename, None).await.json();

    // The connection that does not keep names sees Secret Server's, finds the user by it, and
    // deprovisions it (its PATCH compares with what it sees, not with another connection's name).
    assert_eq!(stack.get(User, &id).await.unwrap()["userName"], "bjensen");
    assert_eq!(stack.search(User, r#"userName eq "barbara.jensen""#).await.len(), 0);
    assert_eq!(stack.find(User, r#"userName eq "bjensen""#).await["id"], id);
    let disabled = stack.patch(User, &id, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert_eq!(disabled.json()["userName"], "bjensen");
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap()["userName"], "barbara.jensen");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_the_connection_would_see_twice_is_refused_as_taken_and_changes_nothing() {
    let stack = Stack::start().await;
    let mut okta = connection("okta");
    okta.policies.user_name_change = UserNameChangePolicy::KeepSecretServerName;
    stack.connections.put(&okta).await.unwrap();
    let id = stack.create_as("okta", User, barbara()).await.id();

    // Another user's Secret Server name, kept for this one: two users of one name.
    let to_franks = json!([{"op": "replace", "path": "userName", "value": "Frank.Green"},
                           {"op": "replace", "path": "displayName", "value": "Not Frank"}]);
    let refused = stack.patch_as("okta", User, &id, to_franks, None).await;
    assert_eq!((refused.err().http_status(), refused.err().scim_type), (409, Some(scim::ScimType::Uniqueness)));
    let unchanged = stack.get_as("okta", User, &id).await.unwrap();
    assert_eq!((&unchanged["userName"], &unchanged["displayName"]), (&json!("bjensen"), &json!("Babs Jensen")));

    // A name it keeps for a user, created again: Secret Server does not know it, the caller would.
    stack
        .patch_as("okta", User, &id, json!([{"op": "replace", "path": "userName", "value": "babs"}]), None)
        .await
        .json();
    let again = stack.create_as("okta", User, json!({"userName": "BABS"})).await;
    assert_eq!(again.err().http_status(), 409, "{:?}", again.err());
    let found: Vec<_> =
        futures::TryStreamExt::try_collect(stack.ss.search_users(&secret_server_client::UserQuery::text("babs")))
            .await
            .unwrap();
    assert!(
        !found.iter().any(|u| u.user_name.eq_ignore_ascii_case("babs")),
        "no user was created in Secret Server: {found:?}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_deactivates_in_secret_server_and_answers_404_through_scim() {
    let stack = Stack::start().await;
    let id = stack.create(User, barbara()).await.id();
    let deleted = stack.delete(User, &id).await;
    assert!(matches!(deleted, crate::support::Outcome::Ok(adapter_api::Written::Deleted)), "{deleted:?}");

    let ss = stack.ss.get_user(id.parse().unwrap()).await.unwrap();
    assert!(!ss.enabled, "Secret Server keeps the user, deactivated");
    assert_eq!(stack.get(User, &id).await.unwrap_err().http_status(), 404);
    assert!(stack.search(User, r#"userName eq "bjensen""#).await.is_empty());
    assert_eq!(stack.delete(User, &id).await.err().http_status(), 404, "a second delete finds nothing");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inactive_policy_shows_deleted_users_as_inactive() {
    let stack = Stack::start().await;
    let mut conn = connection("show-inactive");
    conn.policies.deleted_users = DeletedUserPolicy::Inactive;
    stack.connections.put(&conn).await.unwrap();
    let id = stack.create(User, barbara()).await.id();
    stack.delete(User, &id).await;
    let shown = stack.get_as("show-inactive", User, &id).await.unwrap();
    assert_eq!(shown["active"], false);
    assert_eq!(stack.get_as(CONNECTION, User, &id).await.unwrap_err().http_status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creating_a_deleted_user_name_again_revives_the_secret_server_user() {
    let stack = Stack::start().await;
    let id = stack.create(User, barbara()).await.id();
    stack.delete(User, &id).await;
    let again =
        stack.create(User, json!({"userName": "BJensen", "displayName": "Barbara Again", "externalId": "ext-2"})).await;
    let doc = again.json();
    assert_eq!(doc["id"], id, "the same Secret Server user");
    assert_eq!(doc["externalId"], "ext-2");
    assert!(doc.get("phoneNumbers").is_none(), "the new attributes replace the old ones");
    let ss = stack.ss.get_user(id.parse().unwrap()).await.unwrap();
    assert!(ss.enabled);
    assert_eq!(ss.display_name, "Barbara Again");
    assert_eq!(stack.get(User, &id).await.unwrap()["active"], true);
    stack.stop().await;
}

/// The settings a SCIM client never manages, set in Secret Server directly.
fn unmanaged_settings() -> secret_server_api::UserPatchArgs {
    use secret_server_api::Patch;
    secret_server_api::UserPatchArgs {
        duo_two_factor: Some(Patch::set(true)),
        fido2_two_factor: Some(Patch::set(true)),
        oath_two_factor: Some(Patch::set(true)),
        two_factor: Some(Patch::set(true)),
        radius_two_factor: Some(Patch::set(true)),
        radius_user_name: Some(Patch::set("radius-kim".to_owned())),
        date_option_id: Some(Patch::set(3)),
        time_option_id: Some(Patch::set(2)),
        slack_id: Some(Patch::set("U024BE7LH".to_owned())),
        ..secret_server_api::UserPatchArgs::default()
    }
}

#[track_caller]
fn assert_unmanaged_settings_kept(user: &secret_server_api::User) {
    let kept = (
        user.duo_two_factor,
        user.fido2_two_factor,
        user.oath_two_factor,
        user.two_factor,
        user.radius_two_factor,
        user.radius_user_name.as_deref(),
        user.date_option_id,
        user.time_option_id,
        user.slack_id.as_deref(),
    );
    assert_eq!(kept, (true, true, true, true, true, Some("radius-kim"), 3, 2, Some("U024BE7LH")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_keep_the_settings_the_connector_does_not_manage() {
    let stack = Stack::start().await;
    let created = stack.create(User, json!({"userName": "kim.unmanaged", "password": "First-Horse-9!"})).await;
    let id = created.id();
    let ss_id: i64 = id.parse().unwrap();
    stack.ss.patch_user(ss_id, &unmanaged_settings()).await.unwrap();

    // A replacement with a password (once a full PUT of 11 fields), then a PATCH.
    let replaced = stack
        .replace(
            User,
            &id,
            json!({"userName": "kim.unmanaged", "displayName": "Kim U.", "password": "Second-Horse-9!"}),
            None,
        )
        .await;
    assert_eq!(replaced.json()["displayName"], "Kim U.");
    assert_unmanaged_settings_kept(&stack.ss.get_user(ss_id).await.unwrap());
    stack.patch(User, &id, json!([{"op": "replace", "path": "active", "value": false}])).await.json();
    stack.patch(User, &id, json!([{"op": "replace", "path": "displayName", "value": "Kim"}])).await.json();
    let user = stack.ss.get_user(ss_id).await.unwrap();
    assert_eq!((user.display_name.as_str(), user.enabled), ("Kim", false));
    assert_unmanaged_settings_kept(&user);

    // Deleted, then revived by a create of the same name.
    stack.patch(User, &id, json!([{"op": "replace", "path": "active", "value": true}])).await.json();
    assert!(matches!(stack.delete(User, &id).await, crate::support::Outcome::Ok(_)));
    let revived = stack.create(User, json!({"userName": "kim.unmanaged", "password": "Third-Horse-9!"})).await;
    assert_eq!(revived.id(), id);
    assert_unmanaged_settings_kept(&stack.ss.get_user(ss_id).await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_redelivered_after_its_call_went_through_finishes_the_delete() {
    let stack = Stack::start().await;
    let created = stack.create(User, json!({"userName": "half.deleted"})).await.json();
    let (id, version) =
        (created["id"].as_str().unwrap().to_owned(), created["meta"]["version"].as_str().unwrap().to_owned());
    let ss_id: i64 = id.parse().unwrap();
    // As the first attempt leaves it when Secret Server's answer is lost or the worker stops
    // between the call and the tombstone: its intent recorded, the user disabled, nothing else.
    let intent = Intent { kind: "User".into(), key: format!("delete:{id}"), created: None, settled: false };
    Intents::new(stack.state.clone(), INSTANCE).record("lost-delete", &intent).await.unwrap();
    stack.ss.delete_user(ss_id).await.unwrap();

    // With the If-Match the client sent: the version before the first attempt's own change.
    let delete = stack.job(CONNECTION, User, Operation::Delete, &id, None, Some(&version));
    let again = delivered("lost-delete", delete, 2);
    let outcome = stack.adapter().job_handler().handle(again).await;
    let Disposition::Succeeded(result) = &outcome else { panic!("the delete is done: {outcome:?}") };
    assert_eq!(adapter_api::job::decode_result(result).unwrap(), Written::Deleted);
    assert_eq!(stack.get(User, &id).await.unwrap_err().http_status(), 404, "the read model shows it deleted");
    assert!(!stack.ss.get_user(ss_id).await.unwrap().enabled);
    // Its name is free again: a create revives the same user instead of answering 409.
    let revived = stack.create(User, json!({"userName": "half.deleted"})).await;
    assert!(matches!(revived, Outcome::Ok(_)), "{revived:?}");
    assert_eq!(revived.id(), id);
    stack.stop().await;
}

/// The roles Secret Server says user `id` holds directly, by name.
async fn direct_roles(stack: &Stack, id: &str) -> Vec<String> {
    let held: Vec<_> =
        futures::TryStreamExt::try_collect(stack.ss.user_roles_assigned(id.parse().unwrap())).await.unwrap();
    held.into_iter()
        .filter(|r: &secret_server_api::UserRoleSummary| r.is_direct_assignment)
        .map(|r| r.role_name)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_that_leaves_roles_alone_keeps_a_disabled_role_the_user_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, _) = emulator_with_a_disabled_role_held_by(Holder::User("alice.martin"), dir.path()).await;
    let stack = Stack::start_on(sim, Options::default()).await;
    let alice = stack.find(User, r#"userName eq "alice.martin""#).await["id"].as_str().unwrap().to_owned();
    assert_eq!(direct_roles(&stack, &alice).await, vec!["Auditor"]);

    // Deprovisioning is not refused for a role the request does not mention.
    let patched = stack.patch(User, &alice, json!([{"op": "replace", "path": "active", "value": false}])).await;
    assert!(matches!(patched, Outcome::Ok(_)), "{patched:?}");
    assert_eq!(patched.json()["active"], false);
    assert!(!stack.ss.get_user(alice.parse().unwrap()).await.unwrap().enabled);
    assert_eq!(direct_roles(&stack, &alice).await, vec!["Auditor"], "the role is kept");
    stack.stop().await;
}

/// A connection whose scope names the role "User" (it may assign and unassign it).
async fn role_assigner(stack: &Stack, id: &str) {
    let mut c = connection(id);
    c.scope.roles = vec!["User".to_owned()];
    stack.connections.put(&c).await.unwrap();
}

/// The emulator's API account may view roles but not assign them.
fn without_role_assignment(stack: &Stack) {
    let kept = stack.sim.api_account().permissions().into_iter().filter(|p| p != "Administer Role Permissions");
    stack.sim.api_account().set_permissions(kept);
}

/// The requests that could have changed something in Secret Server (not reads, not sign-ins).
fn writes(stack: &Stack) -> Vec<(String, String)> {
    stack.sim.request_log().into_iter().filter(|(method, path)| method != "GET" && !path.contains("/oauth2/")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_the_api_account_may_not_assign_are_refused_before_a_user_is_created_or_changed() {
    let stack = Stack::start().await;
    role_assigner(&stack, "iga").await;
    let id = stack.create_as("iga", User, json!({"userName": "role.less"})).await.id();
    let granted = stack.sim.api_account().permissions();
    without_role_assignment(&stack);
    stack.sim.clear_request_log();

    let created = stack.create_as("iga", User, json!({"userName": "role.wanted", "roles": [{"value": "User"}]})).await;
    assert_eq!(created.err().kind, ErrorKind::PermissionDenied, "{created:?}");
    assert!(created.err().detail.contains("Administer Role Permissions"), "{:?}", created.err());
    let patch = json!([
        {"op": "replace", "path": "displayName", "value": "Changed Anyway"},
        {"op": "add", "path": "roles", "value": [{"value": "User"}]}
    ]);
    let patched = stack.patch_as("iga", User, &id, patch, None).await;
    assert_eq!(patched.err().kind, ErrorKind::PermissionDenied, "{patched:?}");

    assert_eq!(writes(&stack), Vec::<(String, String)>::new(), "nothing was written to Secret Server");
    assert_eq!(stack.ss.get_user(id.parse().unwrap()).await.unwrap().display_name, "role.less");
    // The name stays free: once the permission is granted, the same create succeeds.
    stack.sim.api_account().set_permissions(granted);
    let created = stack.create_as("iga", User, json!({"userName": "role.wanted", "roles": [{"value": "User"}]})).await;
    assert_eq!(created.json()["roles"], json!([{"value": "User", "display": "User"}]));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_of_a_deleted_user_s_name_outside_the_callers_reach_is_a_409_that_names_no_id() {
    let stack = Stack::start().await;
    let mut own_only = connection("own-only");
    own_only.scope.principals =
        connections::PrincipalScope::new(connections::PrincipalReach::CreatedByConnection, vec![], true).unwrap();
    stack.connections.put(&own_only).await.unwrap();
    let deleted = stack.create(User, json!({"userName": "hidden.deleted"})).await.id();
    assert!(matches!(stack.delete(User, &deleted).await, Outcome::Ok(_)));
    let live = stack.create(User, json!({"userName": "hidden.live"})).await.id();

    // The deleted user's name is answered as a live one's: taken, whoever holds it.
    for (name, id) in [("hidden.deleted", &deleted), ("hidden.live", &live)] {
        let refused = stack.create_as("own-only", User, json!({"userName": name})).await;
        let error = refused.err();
        assert_eq!(
            (error.kind, error.scim_type),
            (ErrorKind::AlreadyExists, Some(scim::ScimType::Uniqueness)),
            "{name}: {error:?}"
        );
        assert_eq!(error.detail, format!("userName {name:?} is already taken"));
        assert!(!error.detail.contains(id.as_str()), "{error:?}");
    }
    assert!(!stack.ss.get_user(deleted.parse().unwrap()).await.unwrap().enabled, "not revived");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_sees_and_finds_the_user_by_its_own_external_id_only() {
    let mut stack = Stack::start().await;
    stack.connections.put(&connection("okta")).await.unwrap();
    let id = stack.create(User, barbara()).await.id();
    stack
        .patch_as("okta", User, &id, json!([{"op": "replace", "path": "externalId", "value": "okta-00u1"}]), None)
        .await
        .json();
    stack
        .patch_as("okta", User, &id, json!([{"op": "replace", "path": "nickName", "value": "Babs"}]), None)
        .await
        .json();

    let seen = |doc: Value| (doc["externalId"].clone(), doc["nickName"].clone());
    assert_eq!(seen(stack.get(User, &id).await.unwrap()), (json!("ext-bjensen"), json!("Babs")));
    assert_eq!(seen(stack.get_as("okta", User, &id).await.unwrap()), (json!("okta-00u1"), json!("Babs")));
    let found = |connection: &'static str, value: &'static str| {
        let stack = &stack;
        async move {
            let filter = format!("externalId eq \"{value}\"");
            stack.search_as(connection, User, &filter).await.unwrap().len()
        }
    };
    assert_eq!((found(CONNECTION, "ext-bjensen").await, found(CONNECTION, "okta-00u1").await), (1, 0));
    assert_eq!((found("okta", "okta-00u1").await, found("okta", "ext-bjensen").await), (1, 0));

    // Removing its own leaves the other's, also after a restart reads them back from the store.
    stack.patch_as("okta", User, &id, json!([{"op": "remove", "path": "externalId"}]), None).await.json();
    stack.restart_adapter().await;
    assert_eq!(stack.get(User, &id).await.unwrap()["externalId"], "ext-bjensen");
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap().get("externalId"), None);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_users_linked_object_is_each_connections_own() {
    let stack = Stack::start().await;
    stack.connections.put(&connection("okta")).await.unwrap();
    let linked = "urn:ietf:params:scim:schemas:pam:1.0:LinkedObject";
    let mut body = barbara();
    body["schemas"].as_array_mut().unwrap().push(json!(linked));
    body[linked] = json!({"source": "workday", "nativeIdentifier": "W-0042"});
    let id = stack.create(User, body).await.id();
    assert_eq!(stack.get(User, &id).await.unwrap()[linked], json!({"source": "workday", "nativeIdentifier": "W-0042"}));
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap().get(linked), None, "another connection's keys");

    let own = json!([{"op": "add", "path": linked, "value": {"source": "okta", "nativeIdentifier": "00u1"}}]);
    stack.patch_as("okta", User, &id, own, None).await.json();
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap()[linked]["nativeIdentifier"], "00u1");
    assert_eq!(stack.get(User, &id).await.unwrap()[linked]["nativeIdentifier"], "W-0042", "left as it was");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attribute_one_connection_left_unassigned_still_shows_to_the_others() {
    let stack = Stack::start().await;
    stack.connections.put(&connection("okta")).await.unwrap();
    let id = stack.create(User, barbara()).await.id();
    stack.patch(User, &id, json!([{"op": "remove", "path": "displayName"}])).await.json();
    assert_eq!(stack.get(User, &id).await.unwrap().get("displayName"), None);
    let theirs = stack.get_as("okta", User, &id).await.unwrap();
    assert_eq!(theirs["displayName"], "Barbara Jensen", "okta never removed it: Secret Server's value shows");

    // Another connection's change leaves the first one's choice as it was.
    stack.patch_as("okta", User, &id, json!([{"op": "replace", "path": "title", "value": "Guide"}]), None).await.json();
    assert_eq!(stack.get(User, &id).await.unwrap().get("displayName"), None);
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap()["displayName"], "Barbara Jensen");
    stack.stop().await;
}
