//! Groups and membership through real jobs, checked in the emulator.

use crate::support::{
    CONNECTION, Holder, INSTANCE, Options, Stack, connection, delivered, emulator_with_a_disabled_role_held_by,
};
use adapter_api::Operation;
use adapter_api::job::decode_result;
use futures::TryStreamExt;
use job_queue::Disposition;
use pretty_assertions::assert_eq;
use scim::ResourceKind::{Group, User};
use secret_server_adapter::ProtectedPrincipals;
use secret_server_adapter::intents::Intents;
use secret_server_api::{GroupCreateArgs, Patch, UserCreateArgs, UserPatchArgs};
use secret_server_client::GroupQuery;
use serde_json::{Value, json};
use service_error::ErrorKind;
use std::time::Duration;

async fn user_id(stack: &Stack, name: &str) -> String {
    stack.find(User, &format!("userName eq \"{name}\"")).await["id"].as_str().unwrap().to_owned()
}

/// The member ids of a group, read from the emulator.
async fn ss_members(stack: &Stack, group: &str) -> Vec<String> {
    let mut ids: Vec<String> = stack
        .ss
        .group_members(group.parse().unwrap())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.user_id.to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

fn member_ids(doc: &Value) -> Vec<String> {
    sorted(
        doc["members"]
            .as_array()
            .map(|m| m.iter().map(|x| x["value"].as_str().unwrap().to_owned()).collect())
            .unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_group_with_members_adds_them_in_secret_server() {
    let stack = Stack::start().await;
    let (alice, bob) = (user_id(&stack, "alice.martin").await, user_id(&stack, "bob.chen").await);
    let created = stack
        .create(
            Group,
            json!({"displayName": "Auditors", "externalId": "g-ext", "members": [{"value": alice}, {"value": bob, "type": "User"}]}),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap();
    assert_eq!(created["externalId"], "g-ext");
    assert_eq!(member_ids(&created), sorted(vec![alice.clone(), bob.clone()]));
    assert_eq!(stack.ss.get_group(id.parse().unwrap()).await.unwrap().name, "Auditors");
    assert_eq!(ss_members(&stack, id).await, sorted(vec![alice.clone(), bob]));
    // The user shows the group.
    let user = stack.get(User, &alice).await.unwrap();
    assert!(user["groups"].as_array().unwrap().iter().any(|g| g["value"] == id), "{user}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_read_back_exactly_as_written_without_a_display() {
    let stack = Stack::start().await;
    let alice = user_id(&stack, "alice.martin").await;
    let id = stack.create(Group, json!({"displayName": "Readers"})).await.id();
    // RFC 7643 §8.7.1: a member is `value`, `$ref` (the gateway adds it) and `type`. A `display`
    // the client sends is dropped; none is made up on the way back.
    let patched = stack
        .patch(
            Group,
            &id,
            json!([{"op": "add", "path": "members", "value": [{"value": alice, "type": "User", "display": "A"}]}]),
        )
        .await
        .json();
    assert_eq!(patched["members"], json!([{"value": alice, "type": "User"}]));
    assert_eq!(stack.get(Group, &id).await.unwrap()["members"], json!([{"value": alice, "type": "User"}]));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_answered_with_its_version_only_renders_nothing_and_carries_the_version_a_read_shows() {
    let stack = Stack::start().await;
    let alice = user_id(&stack, "alice.martin").await;
    let id = stack.create(Group, json!({"displayName": "Versioned"})).await.id();
    let add = json!({"Operations": [{"op": "add", "path": "members", "value": [{"value": alice}]}]});
    let job = stack
        .job(crate::support::CONNECTION, Group, adapter_api::Operation::Patch, &id, Some(&add), None)
        .with_answer_version_only(true);
    let written = match stack.submit(job, "version-only-1").await {
        crate::support::Outcome::Ok(adapter_api::Written::Resource(resource)) => resource,
        other => panic!("expected a resource, got {other:?}"),
    };
    assert!(written.json.is_empty(), "nothing rendered");
    assert_eq!(written.id, id);
    assert!(!written.version.is_empty());
    let read = stack.get(Group, &id).await.unwrap();
    assert_eq!(read["meta"]["version"], written.version.as_str());
    assert_eq!(member_ids(&read), vec![alice]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_members_costs_one_membership_call_per_patch_never_a_rewrite_of_the_list() {
    let stack = Stack::start().await;
    let ids =
        [user_id(&stack, "alice.martin").await, user_id(&stack, "bob.chen").await, user_id(&stack, "carol.diaz").await];
    let id = stack
        .create(Group, json!({"displayName": "Rotation", "members": [{"value": ids[0]}, {"value": ids[1]}]}))
        .await
        .id();
    stack.sim.clear_request_log();
    // Entra: add with a value array, remove with a value array on path `members`.
    stack.patch(Group, &id, json!([{"op": "Add", "path": "members", "value": [{"value": ids[2]}]}])).await.json();
    stack.patch(Group, &id, json!([{"op": "Remove", "path": "members", "value": [{"value": ids[0]}]}])).await.json();
    // RFC: remove by filter.
    let after = stack
        .patch(Group, &id, json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[1])}]))
        .await
        .json();
    assert_eq!(member_ids(&after), vec![ids[2].clone()]);
    assert_eq!(ss_members(&stack, &id).await, vec![ids[2].clone()]);
    let calls: Vec<(String, String)> =
        stack.sim.request_log().into_iter().filter(|(m, p)| m != "GET" && p.contains("/users")).collect();
    assert_eq!(calls.len(), 3, "one membership call per PATCH: {calls:?}");
    assert!(calls.iter().all(|(m, _)| m == "PATCH"), "never a rewrite of the list: {calls:?}");

    // Several members added and removed by one PATCH: still one call.
    stack.sim.clear_request_log();
    let ops = json!([
        {"op": "add", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]},
        {"op": "remove", "path": "members", "value": [{"value": ids[2]}]},
    ]);
    let after = stack.patch(Group, &id, ops).await.json();
    let mut expected = vec![ids[0].clone(), ids[1].clone()];
    expected.sort();
    let mut shown = member_ids(&after);
    shown.sort();
    assert_eq!(shown, expected);
    let mut in_ss = ss_members(&stack, &id).await;
    in_ss.sort();
    assert_eq!(in_ss, expected);
    let writes: Vec<_> = stack.sim.request_log().into_iter().filter(|(m, _)| m != "GET").collect();
    assert_eq!(writes.len(), 1, "three member changes, one call: {writes:?}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_replace_members_with_an_empty_list_empties_the_group() {
    let stack = Stack::start().await;
    let alice = user_id(&stack, "alice.martin").await;
    let id = stack.create(Group, json!({"displayName": "Temp", "members": [{"value": alice}]})).await.id();
    let after = stack.patch(Group, &id, json!([{"op": "replace", "path": "members", "value": []}])).await.json();
    assert!(after.get("members").is_none());
    assert!(ss_members(&stack, &id).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_group_renames_and_sets_exactly_the_members() {
    let stack = Stack::start().await;
    let (alice, bob) = (user_id(&stack, "alice.martin").await, user_id(&stack, "bob.chen").await);
    let id = stack.create(Group, json!({"displayName": "Old name", "members": [{"value": alice}]})).await.id();
    stack.sim.clear_request_log();
    let replaced =
        stack.replace(Group, &id, json!({"displayName": "New name", "members": [{"value": bob}]}), None).await.json();
    assert_eq!(replaced["displayName"], "New name");
    assert_eq!(stack.ss.get_group(id.parse().unwrap()).await.unwrap().name, "New name");
    assert_eq!(ss_members(&stack, &id).await, vec![bob]);
    // Renamed by a PATCH of the name alone: a PUT would have to carry back the owners and every
    // other property of the group the connector does not manage.
    let group_writes: Vec<(String, String)> = stack
        .sim
        .request_log()
        .into_iter()
        .filter(|(m, p)| m != "GET" && p.ends_with(&format!("/groups/{id}")))
        .collect();
    assert_eq!(group_writes, [("PATCH".to_owned(), format!("/SecretServer/api/v1/groups/{id}"))]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_group_removes_it_from_secret_server() {
    let stack = Stack::start().await;
    let id = stack.create(Group, json!({"displayName": "Short lived"})).await.id();
    stack.delete(Group, &id).await;
    assert!(stack.ss.get_group(id.parse().unwrap()).await.unwrap_err().is_not_found());
    assert_eq!(stack.get(Group, &id).await.unwrap_err().http_status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_member_or_an_inactive_user_is_refused_before_anything_changes() {
    let stack = Stack::start().await;
    let dbas = stack.find(Group, r#"displayName eq "DBAs""#).await;
    let dbas_id = dbas["id"].as_str().unwrap();
    let err =
        stack.create(Group, json!({"displayName": "Nested", "members": [{"value": dbas_id, "type": "Group"}]})).await;
    assert_eq!(err.err().http_status(), 400);
    let henry = user_id(&stack, "henry.irwin").await; // disabled in the demo seed
    let err = stack.patch(Group, dbas_id, json!([{"op": "add", "path": "members", "value": [{"value": henry}]}])).await;
    assert_eq!(err.err().http_status(), 400);
    assert!(err.err().detail.contains("inactive"), "{}", err.err().detail);
    let err = stack.create(Group, json!({"displayName": "DBAs"})).await;
    assert_eq!(err.err().http_status(), 409);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_filter_finds_the_groups_of_a_user() {
    let stack = Stack::start().await;
    let carol = user_id(&stack, "carol.diaz").await;
    let names: Vec<String> = stack
        .search(Group, &format!("members.value eq \"{carol}\""))
        .await
        .iter()
        .map(|g| g["displayName"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sorted(names), vec!["DBAs".to_owned(), "Developers".to_owned()]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_member_hides_it_from_the_group_and_changes_the_group_version() {
    let stack = Stack::start().await;
    let user = stack.create(User, json!({"userName": "leaving.soon"})).await.id();
    let group = stack.create(Group, json!({"displayName": "Leavers", "members": [{"value": user}]})).await.json();
    let id = group["id"].as_str().unwrap();
    stack.delete(User, &user).await;
    let after = stack.get(Group, id).await.unwrap();
    assert!(after.get("members").is_none(), "{after}");
    assert_ne!(after["meta"]["version"], group["meta"]["version"]);
    assert_eq!(ss_members(&stack, id).await, vec![user], "Secret Server keeps the deactivated member");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replacing_members_also_removes_one_added_directly_in_secret_server() {
    let stack = Stack::start().await;
    let (alice, bob) = (user_id(&stack, "alice.martin").await, user_id(&stack, "bob.chen").await);
    let id = stack.create(Group, json!({"displayName": "Exact", "members": [{"value": alice}]})).await.id();
    // Added behind the connector's back, before any resync.
    stack.ss.add_group_member(id.parse().unwrap(), bob.parse().unwrap()).await.unwrap();
    let replaced =
        stack.patch(Group, &id, json!([{"op": "replace", "path": "members", "value": [{"value": alice}]}])).await;
    assert_eq!(member_ids(&replaced.json()), vec![alice.clone()]);
    assert_eq!(ss_members(&stack, &id).await, vec![alice]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_member_already_added_directly_in_secret_server_counts_it_done_and_adds_the_others() {
    let stack = Stack::start().await;
    let (alice, bob) = (user_id(&stack, "alice.martin").await, user_id(&stack, "bob.chen").await);
    let id = stack.create(Group, json!({"displayName": "Partly There"})).await.id();
    // Added behind the connector's back: Secret Server refuses to add her twice.
    stack.ss.add_group_member(id.parse().unwrap(), alice.parse().unwrap()).await.unwrap();
    let ops = json!([{"op": "add", "path": "members", "value": [{"value": alice}, {"value": bob}]}]);
    let mut shown = member_ids(&stack.patch(Group, &id, ops).await.json());
    shown.sort();
    let mut both = vec![alice, bob];
    both.sort();
    assert_eq!(shown, both);
    let mut in_ss = ss_members(&stack, &id).await;
    in_ss.sort();
    assert_eq!(in_ss, both);
    stack.stop().await;
}

/// The names of the groups Secret Server has whose name contains `text`.
async fn ss_group_names(stack: &Stack, text: &str) -> Vec<String> {
    let found: Vec<_> = stack.ss.search_groups(&GroupQuery::text(text)).try_collect().await.unwrap();
    sorted(found.into_iter().map(|g| g.name).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_connection_can_create_or_rename_a_group_to_the_console_group_s_name_to_make_itself_a_console_administrator()
{
    // The console group is configured but does not exist in Secret Server (yet, or any more).
    let console = "SCIM Console Admins";
    let stack = Stack::start_with(Options { console_group: Some(console.into()), ..Options::default() }).await;
    let mallory = stack.create(User, json!({"userName": "mallory", "password": "Mallory-Passw0rd-1"})).await.id();
    let tmp = stack.create(Group, json!({"displayName": "tmp"})).await.id();
    let add = json!([{"op": "add", "path": "members", "value": [{"value": mallory}]}]);
    stack.patch(Group, &tmp, add).await.json();

    let rename = json!([{"op": "replace", "path": "displayName", "value": "scim console admins"}]);
    let refused = stack.patch(Group, &tmp, rename).await;
    assert_eq!(refused.err().kind, ErrorKind::PermissionDenied, "{:?}", refused.err());
    assert!(refused.err().detail.contains("may sign in to the connector's console"), "{:?}", refused.err());
    let replaced =
        stack.replace(Group, &tmp, json!({"displayName": console, "members": [{"value": mallory}]}), None).await;
    assert_eq!(replaced.err().kind, ErrorKind::PermissionDenied, "{:?}", replaced.err());
    let created = stack.create(Group, json!({"displayName": console, "members": [{"value": mallory}]})).await;
    assert_eq!(created.err().kind, ErrorKind::PermissionDenied, "{:?}", created.err());

    assert_eq!(stack.ss.get_group(tmp.parse().unwrap()).await.unwrap().name, "tmp");
    assert_eq!(stack.get(Group, &tmp).await.unwrap()["displayName"], "tmp");
    assert_eq!(ss_group_names(&stack, "Console").await, Vec::<String>::new(), "no group of that name was made");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_cannot_be_created_or_renamed_to_the_name_of_a_listed_protected_group() {
    let protected = ProtectedPrincipals { groups: vec!["Vault Owners".into()], ..ProtectedPrincipals::default() };
    let stack = Stack::start_with(Options { protected, ..Options::default() }).await;
    let created = stack.create(Group, json!({"displayName": "vault owners"})).await;
    assert_eq!(created.err().kind, ErrorKind::PermissionDenied, "{:?}", created.err());
    let id = stack.create(Group, json!({"displayName": "Owners to be"})).await.id();
    let rename = json!([{"op": "replace", "path": "displayName", "value": "Vault Owners"}]);
    assert_eq!(stack.patch(Group, &id, rename).await.err().kind, ErrorKind::PermissionDenied);
    assert_eq!(ss_group_names(&stack, "Owners").await, vec!["Owners to be".to_owned()]);
    stack.stop().await;
}

/// Disables user `id` directly in Secret Server, behind the read model's back (which still shows
/// it enabled until the next resync).
async fn disable_in_secret_server(stack: &Stack, id: &str) {
    let disable = UserPatchArgs { enabled: Some(Patch::set(false)), ..UserPatchArgs::default() };
    stack.ss.patch_user(id.parse().unwrap(), &disable).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_added_before_secret_server_refused_the_rest_are_in_the_failed_changes_audit_event_and_on_every_replica()
 {
    use futures::StreamExt;
    use prost::Message;
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let (replica_b, grpc_b) = stack.second_replica("b").await;
    let group = stack.create(Group, json!({"displayName": "Half Filled"})).await.id();
    // More users than one call to Secret Server takes (500); then one disabled in Secret Server
    // since, which the read model does not know (the last id: the calls take members in the order
    // of their ids).
    let made: Vec<i64> =
        futures::stream::iter(0..500)
            .map(|n| {
                let stack = &stack;
                async move {
                    stack.create(User, json!({"userName": format!("filler.{n}")})).await.id().parse::<i64>().unwrap()
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
    let disabled = stack.create(User, json!({"userName": "disabled.meanwhile"})).await.id();
    // Both replicas hold it enabled (a read waits until its replica has followed the create).
    stack.get(User, &disabled).await.unwrap();
    crate::support::read(&grpc_b, CONNECTION, User, &disabled).await.unwrap();
    disable_in_secret_server(&stack, &disabled).await;
    let mut events = stack.events.subscribe("partial-members", "t1").await.unwrap();
    let mut members: Vec<Value> = made.iter().map(|id| json!({"value": id.to_string()})).collect();
    members.push(json!({"value": disabled}));

    let refused = stack.patch(Group, &group, json!([{"op": "add", "path": "members", "value": members}])).await;

    assert_eq!(refused.err().http_status(), 400, "Secret Server refused the second call: {:?}", refused.err());
    assert_eq!(ss_members(&stack, &group).await.len(), 500, "the first call's members are in the group");
    let mut failed = None;
    for _ in 0..50 {
        let batch = events.next_batch(500, Duration::from_millis(200)).await.unwrap();
        events.ack(&batch.iter().map(|d| d.id.clone()).collect::<Vec<_>>()).await.unwrap();
        for delivery in batch {
            let event = proto::audit::v1::AuditEvent::decode(delivery.payload.as_ref()).unwrap();
            if let Some(proto::audit::v1::audit_event::Kind::Change(c)) = event.kind
                && c.resource_id == group
                && c.outcome == proto::audit::v1::ChangeOutcome::Failed as i32
            {
                failed = Some(c);
            }
        }
        if failed.is_some() {
            break;
        }
    }
    let failed = failed.expect("the failed change's audit event");
    assert_eq!(failed.members_added.len(), 500, "it lists the members added before the refusal");
    let on_b = crate::support::eventually(Duration::from_secs(30), || {
        let grpc_b = &grpc_b;
        let group = &group;
        async move {
            let doc = crate::support::read(grpc_b, CONNECTION, Group, group).await.ok()?;
            (doc["members"].as_array().map(Vec::len) == Some(500)).then_some(doc)
        }
    })
    .await;
    assert!(on_b.is_some(), "the other replica shows the members Secret Server has");
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_another_replica_added_that_this_one_has_not_seen_are_read_whole_and_shown() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let group = stack.create(Group, json!({"displayName": "Joined Elsewhere"})).await.id();
    // Users made in Secret Server since this replica's last resync, which another replica learnt
    // of and added to the group.
    let mut made = Vec::new();
    for n in 0..3 {
        let args = UserCreateArgs {
            user_name: format!("joined.elsewhere.{n}"),
            password: Some("Joined-Passw0rd!".into()),
            display_name: format!("Joined {n}"),
            enabled: true,
            ..UserCreateArgs::default()
        };
        made.push(stack.ss.create_user(&args).await.unwrap().id);
    }
    stack.ss.patch_group_members(group.parse().unwrap(), &made, &[]).await.unwrap();
    let change = audit_events::ChangeRecord {
        connection_id: CONNECTION.to_owned(),
        instance: INSTANCE.to_owned(),
        kind: Group,
        resource_id: group.clone(),
        operation: Operation::Patch,
        job_id: "elsewhere-joined".to_owned(),
        request_id: "elsewhere".to_owned(),
        before: Value::Null,
        after: json!({"membersAdded": made}),
        members: audit_events::MemberChanges { added: made.iter().map(i64::to_string).collect(), removed: Vec::new() },
        error: None,
    };
    change.publish(stack.events.as_ref()).await.unwrap();

    let shown = crate::support::eventually(Duration::from_secs(30), || {
        let stack = &stack;
        let group = &group;
        async move {
            let doc = stack.get(Group, group).await.ok()?;
            (doc["members"].as_array().map(Vec::len) == Some(3)).then_some(doc)
        }
    })
    .await;
    let shown = shown.expect("the group shows the members the other replica added");
    let mut shown: Vec<i64> =
        shown["members"].as_array().unwrap().iter().map(|m| m["value"].as_str().unwrap().parse().unwrap()).collect();
    shown.sort_unstable();
    made.sort_unstable();
    assert_eq!(shown, made);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_fails_after_adding_members_says_which_in_an_event_of_its_own_and_the_retry_adds_the_rest() {
    use futures::StreamExt;
    use prost::Message;
    let stack = Stack::start().await;
    let group = stack.create(Group, json!({"displayName": "Filled Twice"})).await.id();
    let made: Vec<i64> = futures::stream::iter(0..501)
        .map(|n| {
            let ss = &stack.ss;
            async move {
                let args = UserCreateArgs {
                    user_name: format!("joiner.{n}"),
                    password: Some("Joiner-Passw0rd!".into()),
                    display_name: format!("Joiner {n}"),
                    enabled: true,
                    ..UserCreateArgs::default()
                };
                ss.create_user(&args).await.unwrap().id
            }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    // Secret Server takes the first call (500 members) and fails the second.
    let base = url::Url::parse(&stack.sim.base_url()).unwrap().path().trim_end_matches('/').to_owned();
    stack
        .sim
        .faults()
        .update(|f| {
            f.broken_paths = vec![format!("{base}/api/v1/groups/{group}/users")];
            f.broken_paths_after = 1;
        })
        .unwrap();
    let mut events = stack.events.subscribe("attempt-members", "t1").await.unwrap();
    let members: Vec<Value> = made.iter().map(|id| json!({"value": id.to_string()})).collect();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": members}]});
    let job = stack.job(CONNECTION, Group, Operation::Patch, &group, Some(&patch), None);
    let handler = stack.adapter().job_handler();

    let first = handler.handle(delivered("filled-twice", job.clone(), 1)).await;

    assert!(matches!(first, Disposition::Retry { .. }), "a failure worth retrying: {first:?}");
    let mut attempt = None;
    for _ in 0..50 {
        for delivery in events.next_batch(100, Duration::from_millis(200)).await.unwrap() {
            let event = proto::audit::v1::AuditEvent::decode(delivery.payload.as_ref()).unwrap();
            if event.event_id == "filled-twice:patch:attempt-1" {
                attempt = Some(event);
            }
        }
        if attempt.is_some() {
            break;
        }
    }
    let Some(proto::audit::v1::audit_event::Kind::Change(change)) = attempt.expect("the attempt's own event").kind
    else {
        panic!("a change event")
    };
    assert_eq!(change.outcome, proto::audit::v1::ChangeOutcome::Failed as i32);
    assert_eq!(change.members_added.len(), 500, "the members its first call added");

    stack.sim.faults().clear();
    let second = handler.handle(delivered("filled-twice", job, 2)).await;
    assert!(matches!(second, Disposition::Succeeded(_)), "{second:?}");
    assert_eq!(ss_members(&stack, &group).await.len(), 501);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_whose_member_secret_server_refuses_leaves_the_group_as_it_was() {
    let stack = Stack::start().await;
    let user = stack.create(User, json!({"userName": "disabled.meanwhile"})).await.id();
    let id = stack.create(Group, json!({"displayName": "Before"})).await.id();
    disable_in_secret_server(&stack, &user).await;

    let replaced = stack.replace(Group, &id, json!({"displayName": "After", "members": [{"value": user}]}), None).await;
    assert_eq!(replaced.err().http_status(), 400, "{:?}", replaced.err());
    let ops = json!([
        {"op": "replace", "path": "displayName", "value": "After"},
        {"op": "add", "path": "members", "value": [{"value": user}]},
    ]);
    assert_eq!(stack.patch(Group, &id, ops).await.err().http_status(), 400);

    assert_eq!(stack.ss.get_group(id.parse().unwrap()).await.unwrap().name, "Before");
    assert_eq!(stack.get(Group, &id).await.unwrap()["displayName"], "Before");
    assert!(ss_members(&stack, &id).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rename_to_another_group_s_name_is_409_uniqueness_and_changes_nothing() {
    let stack = Stack::start().await;
    let alice = user_id(&stack, "alice.martin").await;
    let id = stack.create(Group, json!({"displayName": "Mine"})).await.id();
    // One the read model knows, and one made directly in Secret Server since the last resync.
    let made = GroupCreateArgs { name: "Made Directly".into(), enabled: true, ..GroupCreateArgs::default() };
    stack.ss.create_group(&made).await.unwrap();
    for taken in ["dbas", "made directly"] {
        let ops = json!([
            {"op": "replace", "path": "displayName", "value": taken},
            {"op": "add", "path": "members", "value": [{"value": alice}]},
        ]);
        let refused = stack.patch(Group, &id, ops).await;
        assert_eq!(
            (refused.err().http_status(), refused.err().scim_type),
            (409, Some(scim::ScimType::Uniqueness)),
            "{taken}: {:?}",
            refused.err()
        );
    }
    assert_eq!(stack.ss.get_group(id.parse().unwrap()).await.unwrap().name, "Mine");
    assert!(ss_members(&stack, &id).await.is_empty(), "no member was added");
    // Its own name in another case is no other group's.
    let renamed = stack.patch(Group, &id, json!([{"op": "replace", "path": "displayName", "value": "MINE"}])).await;
    assert_eq!(renamed.json()["displayName"], "MINE");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_member_secret_server_refuses_leaves_no_group_behind_so_it_can_be_sent_again() {
    let stack = Stack::start().await;
    let user = stack.create(User, json!({"userName": "disabled.before.joining"})).await.id();
    disable_in_secret_server(&stack, &user).await;
    let body = json!({"displayName": "Joiners", "members": [{"value": user}]});

    let refused = stack.create(Group, body.clone()).await;
    assert_eq!(refused.err().http_status(), 400, "{:?}", refused.err());
    assert!(refused.err().detail.contains("inactive"), "Secret Server's refusal: {:?}", refused.err());
    assert_eq!(ss_group_names(&stack, "Joiners").await, Vec::<String>::new(), "the group made for it is gone");
    assert!(stack.search(Group, r#"displayName eq "Joiners""#).await.is_empty());

    // Sent again, it is refused alike (not 409): and its job's intent says it made nothing.
    let create = stack.job(CONNECTION, Group, Operation::Create, "", Some(&body), None);
    let handler = stack.adapter().job_handler();
    let again = handler.handle(delivered("refused-member", create.clone(), 1)).await;
    let error = match &again {
        Disposition::Failed(bytes) => decode_result(bytes).unwrap_err(),
        other => panic!("a refused member fails the job: {other:?}"),
    };
    assert_eq!(error.http_status(), 400, "{error:?}");
    let intent = Intents::new(stack.state.clone(), INSTANCE).get("refused-member").await.unwrap().expect("intent");
    assert_eq!((intent.created, intent.settled), (None, true));

    // A group an earlier attempt of the job made (its intent says so) goes too when a later
    // attempt is refused for good.
    let earlier = stack
        .ss
        .create_group(&GroupCreateArgs { name: "Joiners".into(), enabled: true, ..GroupCreateArgs::default() })
        .await
        .unwrap();
    let made = secret_server_adapter::intents::Intent {
        kind: "Group".into(),
        key: "joiners".into(),
        created: Some(earlier.id),
        settled: true,
    };
    Intents::new(stack.state.clone(), INSTANCE).record("made-earlier", &made).await.unwrap();
    let refused = handler.handle(delivered("made-earlier", create.clone(), 2)).await;
    assert!(matches!(refused, Disposition::Failed(_)), "{refused:?}");
    assert_eq!(
        ss_group_names(&stack, "Joiners").await,
        Vec::<String>::new(),
        "the group its first attempt made is gone"
    );

    // Once the user is enabled again, a retry of the job creates the group with its member.
    let enable = UserPatchArgs { enabled: Some(Patch::set(true)), ..UserPatchArgs::default() };
    stack.ss.patch_user(user.parse().unwrap(), &enable).await.unwrap();
    let retried = handler.handle(delivered("refused-member", create, 2)).await;
    assert!(matches!(retried, Disposition::Succeeded(_)), "{retried:?}");
    let made = stack.find(Group, r#"displayName eq "Joiners""#).await;
    assert_eq!(ss_members(&stack, made["id"].as_str().unwrap()).await, vec![user]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_that_leaves_roles_alone_keeps_a_disabled_role_the_group_holds() {
    let dir = tempfile::tempdir().unwrap();
    let (sim, group) = emulator_with_a_disabled_role_held_by(Holder::FirstGroup, dir.path()).await;
    let stack = Stack::start_on(sim, Options::default()).await;

    let renamed = json!([{"op": "replace", "path": "displayName", "value": "Renamed With Its Role"}]);
    let patched = stack.patch(Group, &group.to_string(), renamed).await;
    assert_eq!(patched.json()["displayName"], "Renamed With Its Role");
    let held: Vec<_> = stack.ss.group_roles(group).try_collect().await.unwrap();
    assert_eq!(held.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), vec!["Auditor"], "the role is kept");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_groups_external_id_is_its_connections_and_another_cannot_overwrite_it() {
    let stack = Stack::start().await;
    stack.connections.put(&connection("okta")).await.unwrap();
    let body = json!({"displayName": "Tour Guides", "externalId": "entra-g1"});
    let id = stack.create(Group, body).await.id();
    stack
        .patch_as("okta", Group, &id, json!([{"op": "add", "path": "externalId", "value": "okta-g9"}]), None)
        .await
        .json();
    assert_eq!(stack.get(Group, &id).await.unwrap()["externalId"], "entra-g1");
    assert_eq!(stack.get_as("okta", Group, &id).await.unwrap()["externalId"], "okta-g9");
    assert_eq!(stack.search_as("okta", Group, r#"externalId eq "entra-g1""#).await.unwrap().len(), 0);
    stack.stop().await;
}
