//! The read model over time: resync picks up changes made directly in Secret Server, restarts keep
//! meta and attributes, redelivered jobs are idempotent, audit events, health, several replicas,
//! and Secret Server outages.

use crate::support::{Backend, CONNECTION, INSTANCE, Options, Outcome, Stack, delivered, eventually, read};
use adapter_api::job::decode_result;
use adapter_api::{JobKeys, Operation, Written};
use job_queue::{Disposition, Job, JobId, JobLease, JobStatus, TraceContext};
use pretty_assertions::assert_eq;
use prost::Message;
use scim::ResourceKind::{ContainerPermission, Group, User};
use secret_server_adapter::intents::{Intent, Intents};
use secret_server_api::{Patch, UserCreateArgs, UserPatchArgs};
use serde_json::{Value, json};
use service_error::ServiceError;
use std::time::Duration;

async fn user(stack: &Stack, name: &str) -> Value {
    stack.find(User, &format!("userName eq \"{name}\"")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resync_picks_up_changes_made_directly_in_secret_server() {
    let stack = Stack::start().await;
    let before = user(&stack, "frank.green").await;
    let frank: i64 = before["id"].as_str().unwrap().parse().unwrap();
    let patch = UserPatchArgs { display_name: Some(Patch::set("Franklin Green".into())), ..UserPatchArgs::default() };
    stack.ss.patch_user(frank, &patch).await.unwrap();
    let made = stack
        .ss
        .create_user(&UserCreateArgs {
            user_name: "made.in.ss".into(),
            password: Some("Direct-Passw0rd!".into()),
            display_name: "Made Directly".into(),
            enabled: true,
            ..UserCreateArgs::default()
        })
        .await
        .unwrap();
    let helpdesk = stack.find(Group, r#"displayName eq "Helpdesk""#).await;
    stack.ss.add_group_member(helpdesk["id"].as_str().unwrap().parse().unwrap(), made.id).await.unwrap();

    assert_eq!(user(&stack, "frank.green").await["displayName"], "Frank Green", "not before the resync");
    stack.resync().await;

    let after = user(&stack, "frank.green").await;
    assert_eq!(after["displayName"], "Franklin Green");
    assert_ne!(after["meta"]["version"], before["meta"]["version"]);
    assert_eq!(after["meta"]["created"], before["meta"]["created"]);
    assert!(after["meta"]["lastModified"].as_str().unwrap() > before["meta"]["lastModified"].as_str().unwrap());
    let made_doc = user(&stack, "made.in.ss").await;
    assert_eq!(made_doc["displayName"], "Made Directly");
    let group = stack.get(Group, helpdesk["id"].as_str().unwrap()).await.unwrap();
    assert!(
        group["members"].as_array().unwrap().iter().any(|m| m["value"].as_str() == Some(made.id.to_string().as_str()))
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_in_secret_server_shows_after_one_resync_interval() {
    let stack = Stack::start_with(Options { resync_interval: Duration::from_secs(1), ..Options::default() }).await;
    let grace: i64 = user(&stack, "grace.hall").await["id"].as_str().unwrap().parse().unwrap();
    stack.ss.set_user_enabled(grace, false).await.unwrap();
    let seen = eventually(Duration::from_secs(15), || async {
        let doc = user(&stack, "grace.hall").await;
        (doc["active"] == false).then_some(doc)
    })
    .await;
    assert!(seen.is_some(), "the periodic resync did not pick up the change");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_meta_and_attributes() {
    let mut stack = Stack::start().await;
    let created = stack
        .create(
            User,
            json!({"userName": "persistent", "externalId": "p-1", "name": {"givenName": "Per"}, "nickName": "P"}),
        )
        .await
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    let group = stack
        .create(Group, json!({"displayName": "Persistent Group", "externalId": "pg-1", "members": [{"value": id}]}))
        .await
        .json();
    let (user_before, group_before) =
        (stack.get(User, &id).await.unwrap(), stack.get(Group, group["id"].as_str().unwrap()).await.unwrap());
    let seed_before = user(&stack, "alice.martin").await;

    stack.restart_adapter().await;

    assert_eq!(stack.get(User, &id).await.unwrap(), user_before);
    assert_eq!(stack.get(Group, group["id"].as_str().unwrap()).await.unwrap(), group_before);
    assert_eq!(user(&stack, "alice.martin").await["meta"], seed_before["meta"]);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_the_snapshot_is_ready_and_serves_reads_while_secret_server_cannot_be_read() {
    let snapshots = tempfile::tempdir().unwrap();
    let options = Options { snapshot_dir: Some(snapshots.path().to_owned()), ..Options::default() };
    let mut stack = Stack::start_with(options).await;
    let created =
        stack.create(User, json!({"userName": "from.snapshot", "externalId": "snap-1", "nickName": "S"})).await.json();
    let id = created["id"].as_str().unwrap().to_owned();
    let before = stack.get(User, &id).await.unwrap();
    let seed_before = user(&stack, "alice.martin").await;
    stack.stop_adapter().await;
    assert!(secret_server_adapter::snapshot::path(snapshots.path(), INSTANCE).exists(), "written at shutdown");

    // Secret Server answers nothing: only the snapshot (and the state store) can make it ready.
    stack.sim.faults().update(|f| f.outage = true).unwrap();
    stack.start_adapter().await;

    assert_eq!(stack.get(User, &id).await.unwrap(), before, "connector-held attributes and meta are restored");
    assert_eq!(user(&stack, "alice.martin").await, seed_before);
    stack.sim.faults().clear();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_from_the_snapshot_catches_up_with_secret_server_at_once() {
    let snapshots = tempfile::tempdir().unwrap();
    let options = Options { snapshot_dir: Some(snapshots.path().to_owned()), ..Options::default() };
    let mut stack = Stack::start_with(options).await;
    let erin: i64 = user(&stack, "erin.fischer").await["id"].as_str().unwrap().parse().unwrap();
    stack.stop_adapter().await;
    let patch = UserPatchArgs { display_name: Some(Patch::set("Erin F.".into())), ..UserPatchArgs::default() };
    stack.ss.patch_user(erin, &patch).await.unwrap();

    stack.start_adapter().await;

    let seen = eventually(Duration::from_secs(15), || async {
        (user(&stack, "erin.fischer").await["displayName"] == "Erin F.").then_some(())
    })
    .await;
    assert!(seen.is_some(), "the resync after the restore did not pick up the change made while down");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_snapshot_is_discarded_and_everything_is_loaded_again() {
    let snapshots = tempfile::tempdir().unwrap();
    let options = Options { snapshot_dir: Some(snapshots.path().to_owned()), ..Options::default() };
    let mut stack = Stack::start_with(options).await;
    let seed_before = user(&stack, "alice.martin").await;
    stack.stop_adapter().await;
    let file = secret_server_adapter::snapshot::path(snapshots.path(), INSTANCE);
    let text = std::fs::read_to_string(&file).unwrap().replace("alice.martin", "alice.mallory");
    std::fs::write(&file, text).unwrap();

    stack.start_adapter().await;

    assert_eq!(user(&stack, "alice.martin").await, seed_before, "loaded from Secret Server, not the altered file");
    assert!(stack.search(User, r#"userName eq "alice.mallory""#).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_while_the_adapter_was_down_bumps_last_modified_at_the_next_load() {
    let mut stack = Stack::start().await;
    let before = user(&stack, "erin.fischer").await;
    stack.stop_adapter().await;
    let erin: i64 = before["id"].as_str().unwrap().parse().unwrap();
    let patch = UserPatchArgs { display_name: Some(Patch::set("Erin F.".into())), ..UserPatchArgs::default() };
    stack.ss.patch_user(erin, &patch).await.unwrap();
    stack.start_adapter().await;
    let after = user(&stack, "erin.fischer").await;
    assert_eq!(after["displayName"], "Erin F.");
    assert_eq!(after["meta"]["created"], before["meta"]["created"]);
    assert_ne!(after["meta"]["lastModified"], before["meta"]["lastModified"]);
    stack.stop().await;
}

fn job(id: &str, body: adapter_api::Job) -> Job {
    delivered(id, body, 1)
}

/// Job `id` delivered again, after an earlier attempt (the queue counts attempts: only a
/// redelivery can find what an earlier attempt left).
fn redelivered(id: &str, body: adapter_api::Job) -> Job {
    Job { attempt: 2, ..job(id, body) }
}

fn result_of(disposition: &Disposition) -> Result<Written, ServiceError> {
    match disposition {
        Disposition::Succeeded(bytes) | Disposition::Failed(bytes) => decode_result(bytes),
        Disposition::Retry { error, .. } => panic!("retry: {error}"),
    }
}

fn resource_id(disposition: &Disposition) -> String {
    match result_of(disposition) {
        Ok(Written::Resource(resource)) => resource.id,
        other => panic!("not a resource: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_sealed_with_a_key_the_adapter_lacks_fails_the_job_and_changes_nothing() {
    let stack = Stack::start().await;
    let body = json!({"userName": "sealed.elsewhere", "password": "Elsewhere-Pa55!"});
    let create = stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None);
    let (foreign, _) = JobKeys::generate("foreign-gateway");
    let sealed = create.seal(&foreign);
    let delivered = Job {
        id: JobId("foreign-key".to_owned()),
        ordering_key: format!("{INSTANCE}/test/foreign-key"),
        payload: sealed.payload,
        secrets: sealed.secrets,
        trace_context: Default::default(),
        attempt: 1,
        lease: JobLease::default(),
    };
    let outcome = stack.adapter().job_handler().handle(delivered).await;
    let error = match &outcome {
        Disposition::Failed(_) => result_of(&outcome).unwrap_err(),
        other => panic!("a job the adapter cannot open fails for good: {other:?}"),
    };
    assert_eq!(error.http_status(), 500);
    assert!(stack.search(User, r#"userName eq "sealed.elsewhere""#).await.is_empty(), "nothing was created");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_job_finds_its_work_done() {
    let stack = Stack::start().await;
    let handler = stack.adapter().job_handler();
    let body = json!({"userName": "twice", "displayName": "Twice"});
    let create = job("redelivered-create", stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None));
    let first = handler.handle(create.clone()).await;
    let second = handler.handle(Job { attempt: 2, ..create }).await;
    assert!(matches!(second, Disposition::Succeeded(_)), "{second:?}");
    assert_eq!(resource_id(&first), resource_id(&second));
    let matches: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        stack.ss.search_users(&secret_server_client::UserQuery::text("twice")),
    )
    .await
    .unwrap();
    assert_eq!(matches.len(), 1, "one user in Secret Server");

    // A PATCH with If-Match, delivered again after it applied, is not refused by its own change.
    let id = resource_id(&first);
    let version = stack.get(User, &id).await.unwrap()["meta"]["version"].as_str().unwrap().to_owned();
    let ops = json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Thrice"}]});
    let patch =
        job("redelivered-patch", stack.job(CONNECTION, User, Operation::Patch, &id, Some(&ops), Some(&version)));
    assert!(matches!(handler.handle(patch.clone()).await, Disposition::Succeeded(_)));
    assert!(matches!(handler.handle(Job { attempt: 2, ..patch }).await, Disposition::Succeeded(_)));

    // A member add delivered twice: one membership.
    let group = stack.create(Group, json!({"displayName": "Twice Group"})).await.id();
    let add = json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": id}]}]});
    let member = job("redelivered-member", stack.job(CONNECTION, Group, Operation::Patch, &group, Some(&add), None));
    assert!(matches!(handler.handle(member.clone()).await, Disposition::Succeeded(_)));
    assert!(matches!(handler.handle(Job { attempt: 2, ..member }).await, Disposition::Succeeded(_)));
    let members: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(stack.ss.group_members(group.parse().unwrap())).await.unwrap();
    assert_eq!(members.len(), 1);

    // A delete delivered twice: deleted both times, not 404 the second time.
    let delete = job("redelivered-delete", stack.job(CONNECTION, User, Operation::Delete, &id, None, None));
    assert!(matches!(handler.handle(delete.clone()).await, Disposition::Succeeded(_)));
    let again = handler.handle(Job { attempt: 2, ..delete }).await;
    assert_eq!(result_of(&again).unwrap(), Written::Deleted);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_create_leaves_its_intent_settled_its_done_marker_and_what_it_stored() {
    for backend in [Backend::InProcess, Backend::Redis] {
        let stack = Stack::start_with(Options { backend, ..Options::default() }).await;
        let body = json!({"userName": "settled.user", "displayName": "Settled"});
        let create = job("settled-create", stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None));
        let outcome = stack.adapter().job_handler().handle(create).await;
        let id: i64 = resource_id(&outcome).parse().unwrap();
        // The settled intent, the attributes and the meta go in one batch with the done marker.
        let intents = Intents::new(stack.state.clone(), INSTANCE);
        let intent = intents.get("settled-create").await.unwrap().expect("the intent");
        assert_eq!((intent.created, intent.settled), (Some(id), true), "{backend:?}");
        assert_eq!(intents.done("settled-create").await.unwrap().expect("the done marker").id, id);
        let attributes = secret_server_adapter::attributes::AttributeStore::new(stack.state.clone(), INSTANCE);
        let stored = attributes.get(User, id).await.unwrap().expect("the attributes");
        assert!(stored.contains(CONNECTION), "the creator is stored: {stored}");
        let meta = secret_server_adapter::meta::MetaStore::new(stack.state.clone(), INSTANCE);
        let version = stack.get(User, &id.to_string()).await.unwrap()["meta"]["version"].as_str().unwrap().to_owned();
        let persisted = meta.get(User, id).await.unwrap().expect("the meta");
        // Shown as the caller's own tag of it, keyed by the key the state store keeps.
        let key = secret_server_adapter::cursor_key::resolve(None, stack.state.as_ref()).await.unwrap();
        let tag = secret_server_adapter::meta::VersionTags::new(&key).tag(CONNECTION, persisted.version);
        assert_eq!(secret_server_adapter::meta::etag(tag), version, "{backend:?}");
        stack.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_redelivered_after_a_crash_adopts_the_user_it_made() {
    let stack = Stack::start().await;
    // As a worker that died right after Secret Server answered would leave it: the intent recorded,
    // the user made, nothing else.
    Intents::new(stack.state.clone(), INSTANCE)
        .record(
            "crashed-job",
            &Intent { kind: "User".into(), key: "crash.victim".into(), created: None, settled: false },
        )
        .await
        .unwrap();
    let made = stack
        .ss
        .create_user(&UserCreateArgs {
            user_name: "crash.victim".into(),
            password: Some("Direct-Passw0rd!".into()),
            display_name: "Half made".into(),
            enabled: true,
            ..UserCreateArgs::default()
        })
        .await
        .unwrap();
    let body = json!({"userName": "crash.victim", "displayName": "Fully Made"});
    let again = redelivered("crashed-job", stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None));
    let outcome = stack.adapter().job_handler().handle(again).await;
    assert_eq!(resource_id(&outcome), made.id.to_string());
    assert_eq!(stack.ss.get_user(made.id).await.unwrap().display_name, "Fully Made");
    // Without an intent of its own, another job gets the conflict.
    let other = stack.create(User, json!({"userName": "crash.victim"})).await;
    assert_eq!(other.err().http_status(), 409);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_cannot_be_read_adopts_the_user_it_made_instead_of_calling_it_taken() {
    let stack = Stack::start().await;
    // Secret Server makes the user; its answer reaches the adapter as `200 {}`.
    stack.sim.faults().update(|f| f.next_garbled_posts = 1).unwrap();
    let created = stack.create(User, json!({"userName": "garbled.answer", "displayName": "Made"})).await;
    let id: i64 = created.id().parse().unwrap();
    let made = stack.ss.get_user(id).await.unwrap();
    assert_eq!((made.user_name.as_str(), made.display_name.as_str()), ("garbled.answer", "Made"));
    assert_eq!(user(&stack, "garbled.answer").await["id"], id.to_string());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_create_adopts_only_what_its_job_created() {
    let stack = Stack::start().await;
    let intents = Intents::new(stack.state.clone(), INSTANCE);
    // Someone else's user, made in Secret Server directly (the read model has not seen it).
    let theirs = stack
        .ss
        .create_user(&UserCreateArgs {
            user_name: "not.mine".into(),
            password: Some("Their-Passw0rd!".into()),
            display_name: "Theirs".into(),
            enabled: true,
            ..UserCreateArgs::default()
        })
        .await
        .unwrap();
    // As earlier attempts leave it: one whose create call failed without making anything, one that
    // made another user (since renamed) under that name.
    let failed = Intent { kind: "User".into(), key: "not.mine".into(), created: None, settled: true };
    let made_another = Intent { created: Some(theirs.id + 1000), ..failed.clone() };
    for (job_id, intent) in [("failed-attempt", failed), ("made-another", made_another)] {
        intents.record(job_id, &intent).await.unwrap();
        let body = json!({"userName": "not.mine", "displayName": "Mine now", "password": "Taken-Over-9!"});
        let retried = redelivered(job_id, stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None));
        let outcome = stack.adapter().job_handler().handle(retried).await;
        let error = result_of(&outcome).unwrap_err();
        assert_eq!((error.http_status(), error.scim_type), (409, Some(scim::ScimType::Uniqueness)), "{job_id}");
    }
    let after = stack.ss.get_user(theirs.id).await.unwrap();
    assert_eq!(
        (after.display_name.as_str(), after.password_last_changed.as_deref()),
        ("Theirs", theirs.password_last_changed.as_deref())
    );

    // The same for a group.
    let group = stack
        .ss
        .create_group(&secret_server_api::GroupCreateArgs {
            name: "Not Mine".into(),
            enabled: true,
            ..Default::default()
        })
        .await
        .unwrap();
    let failed = Intent { kind: "Group".into(), key: "not mine".into(), created: None, settled: true };
    intents.record("failed-group", &failed).await.unwrap();
    let body = json!({"displayName": "Not Mine", "members": []});
    let retried = redelivered("failed-group", stack.job(CONNECTION, Group, Operation::Create, "", Some(&body), None));
    let error = result_of(&stack.adapter().job_handler().handle(retried).await).unwrap_err();
    assert_eq!(error.http_status(), 409);
    assert_eq!(stack.ss.get_group(group.id).await.unwrap().name, "Not Mine");
    stack.stop().await;
}

/// The calls to Secret Server's API in the emulator's request log (arrivals, oldest first).
fn api_calls(stack: &Stack) -> Vec<(String, String)> {
    stack.sim.request_log().into_iter().filter(|(_, path)| path.contains("/api/")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attempt_that_loses_its_lease_mid_job_makes_no_further_secret_server_call() {
    let stack = Stack::start().await;
    let id = stack.create(User, json!({"userName": "fenced.user"})).await.id();
    let lease = JobLease::new(Duration::from_secs(600));
    let body = json!({"userName": "fenced.user", "displayName": "Stale Write"});
    let replace = job("fenced-job", stack.job(CONNECTION, User, Operation::Replace, &id, Some(&body), None));
    let delivered = Job { lease: lease.clone(), ..replace };
    // Every call takes a while, so that the lease is lost while the first one is in flight.
    stack.sim.faults().update(|f| f.latency_ms = 1000).unwrap();
    stack.sim.clear_request_log();
    let handler = stack.adapter().job_handler();
    let running = tokio::spawn(async move { handler.handle(delivered).await });
    let first = eventually(Duration::from_secs(10), || async { Some(api_calls(&stack)).filter(|c| !c.is_empty()) })
        .await
        .expect("the attempt calls Secret Server");
    lease.mark_lost();
    let disposition = running.await.unwrap();
    stack.sim.faults().clear();
    assert!(matches!(disposition, Disposition::Retry { .. }), "{disposition:?}");
    assert_eq!(api_calls(&stack), first, "no call after the lease was lost");
    assert_eq!(stack.ss.get_user(id.parse().unwrap()).await.unwrap().display_name, "fenced.user");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_missing_many_records_keeps_them_until_the_next_resync_agrees() {
    let stack = Stack::start_with(Options { backend: Backend::Redis, ..Options::default() }).await;
    let mut groups = Vec::new();
    for n in 0..12 {
        let body = json!({"displayName": format!("Kept {n}"), "externalId": format!("ext-kept-{n}")});
        groups.push(stack.create(Group, body).await.id());
    }
    // Gone from Secret Server all at once: as a full read during a blip would see it.
    for id in &groups {
        stack.ss.delete_group(id.parse().unwrap()).await.unwrap();
    }
    let held = stack.adapter().resync_now().await.unwrap_err();
    assert!(format!("{held:#}").contains("the read model is kept"), "{held:#}");
    let kept = stack.get(Group, &groups[0]).await.unwrap();
    assert_eq!(kept["externalId"], "ext-kept-0", "the connector's attributes survive the doubtful read");

    // The next resync finds the same records missing: it agrees, each is confirmed gone by a read.
    stack.resync().await;
    assert_eq!(stack.get(Group, &groups[0]).await.unwrap_err().http_status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_applied_change_emits_an_audit_event_without_the_password() {
    let stack = Stack::start().await;
    let mut sub = stack.events.subscribe("audit-test", "t1").await.unwrap();
    let id = stack
        .create(User, json!({"userName": "audited", "password": "Audit-Passw0rd!", "displayName": "A"}))
        .await
        .id();
    stack.patch(User, &id, json!([{"op": "replace", "path": "displayName", "value": "B"}])).await.json();
    let mut changes = Vec::new();
    for _ in 0..20 {
        for delivery in sub.next_batch(10, Duration::from_millis(200)).await.unwrap() {
            let text = String::from_utf8_lossy(&delivery.payload).to_string();
            assert!(!text.contains("Audit-Passw0rd!"), "the password is never on the stream");
            let event = proto::audit::v1::AuditEvent::decode(delivery.payload.as_ref()).unwrap();
            if let Some(proto::audit::v1::audit_event::Kind::Change(c)) = event.kind {
                changes.push(c);
            }
        }
        if changes.len() >= 2 {
            break;
        }
    }
    assert_eq!(changes.len(), 2);
    assert_eq!((changes[0].operation.as_str(), changes[1].operation.as_str()), ("create", "patch"));
    let before: Value = serde_json::from_slice(&changes[1].before_json).unwrap();
    let after: Value = serde_json::from_slice(&changes[1].after_json).unwrap();
    assert_eq!((before["displayName"].as_str(), after["displayName"].as_str()), (Some("A"), Some("B")));
    assert_eq!(changes[1].outcome, proto::audit::v1::ChangeOutcome::Succeeded as i32);
    assert_eq!(changes[1].resource_id, id);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_endpoints_report_readiness_and_read_model_metrics() {
    let stack = Stack::start().await;
    let base = format!("http://{}", stack.adapter().http_addr().unwrap());
    let http = reqwest::Client::new();
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let report: Value = ready.json().await.unwrap();
    assert_eq!(report["checks"]["secret-server:primary"]["ok"], true);
    let metrics = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("scim_read_model_records{instance=\"primary\",type=\"User\"}"), "{metrics}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_sees_a_change_the_first_applied() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let (replica_b, grpc_b) = stack.second_replica("b").await;
    // Either replica's workers may take the job; each must come to show what the other applied.
    let id = stack.create(User, json!({"userName": "replicated", "externalId": "r-1"})).await.id();
    let read = |grpc: &adapter_api::DirectoryClient, id: String| {
        let grpc = grpc.clone();
        async move { read(&grpc, CONNECTION, User, &id).await.ok() }
    };
    let on_a = eventually(Duration::from_secs(15), || read(&stack.grpc, id.clone())).await.expect("replica a shows it");
    let on_b = eventually(Duration::from_secs(15), || read(&grpc_b, id.clone())).await.expect("replica b shows it");
    assert_eq!(on_a["externalId"], "r-1");
    assert_eq!(on_b, on_a, "the same document, meta included, on both replicas");
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_answered_through_one_replica_is_read_at_once_on_every_replica() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let (replica_b, grpc_b) = stack.second_replica("b").await;
    for n in 0..5 {
        // Either replica's workers may take each job; the read right after its answer, on each
        // replica, must show it (no waiting: a client reads right after a 201).
        let name = format!("read.at.once.{n}");
        let id = stack.create(User, json!({"userName": name, "externalId": format!("now-{n}")})).await.id();
        let on_a = read(&stack.grpc, CONNECTION, User, &id).await.expect("replica a shows it at once");
        let on_b = read(&grpc_b, CONNECTION, User, &id).await.expect("replica b shows it at once");
        assert_eq!(on_a["externalId"], format!("now-{n}"));
        assert_eq!(on_b["externalId"], format!("now-{n}"));
    }
    replica_b.shutdown().await;
    stack.stop().await;
}

/// The ids of the cursor page that `cursor` points at (4 users), through `grpc`.
async fn page_at(
    grpc: &adapter_api::DirectoryClient,
    cursor: &str,
) -> Result<(Vec<String>, String), service_error::ServiceError> {
    let query = adapter_api::SearchQuery {
        kinds: vec![User],
        page: adapter_api::Page::Cursor { cursor: cursor.to_owned(), count: Some(4) },
        ..adapter_api::SearchQuery::default()
    };
    let page = grpc.search(adapter_api::SearchResources { connection_id: CONNECTION.to_owned(), query }).await?;
    let ids = page
        .resources
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.json).expect("json")["id"].as_str().expect("id").to_owned())
        .collect();
    Ok((ids, page.next_cursor.unwrap_or_default()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_keeps_working_after_a_restart_and_on_a_second_replica_sharing_the_state() {
    let mut stack =
        Stack::start_with(Options { backend: Backend::Redis, replica_id: Some("a".into()), ..Options::default() })
            .await;
    let (first, next) = page_at(&stack.grpc, "").await.unwrap();
    assert_eq!(first.len(), 4);
    assert!(!next.is_empty(), "the emulator holds more than one page of users");
    let (second, _) = page_at(&stack.grpc, &next).await.unwrap();
    assert!(second.iter().all(|id| !first.contains(id)), "{first:?} {second:?}");

    stack.restart_adapter().await;
    let (after_restart, _) = page_at(&stack.grpc, &next).await.expect("the cursor survives a restart");
    assert_eq!(after_restart, second);

    let (replica_b, grpc_b) = stack.second_replica("b").await;
    let (on_b, _) = page_at(&grpc_b, &next).await.expect("the cursor works on another replica");
    assert_eq!(on_b, second);
    let forged = page_at(&grpc_b, &format!("{next}A")).await.unwrap_err();
    assert_eq!(forged.scim_type, Some(scim::ScimType::InvalidCursor));
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_replica_sees_the_members_the_first_added_and_removed() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let (replica_b, grpc_b) = stack.second_replica("b").await;
    let stay = stack.create(User, json!({"userName": "member.stays"})).await.id();
    let leave = stack.create(User, json!({"userName": "member.leaves"})).await.id();
    let group = stack
        .create(Group, json!({"displayName": "Replicated Members", "members": [{"value": stay}, {"value": leave}]}))
        .await
        .id();
    stack
        .patch(Group, &group, json!([{"op": "remove", "path": format!("members[value eq \"{leave}\"]")}]))
        .await
        .json();
    // Whichever replica ran the jobs, the other learnt the members from the change events alone.
    let members = |grpc: &adapter_api::DirectoryClient| {
        let (grpc, group) = (grpc.clone(), group.clone());
        async move {
            let doc = read(&grpc, CONNECTION, Group, &group).await.ok()?;
            let ids: Vec<String> =
                doc["members"].as_array()?.iter().filter_map(|m| m["value"].as_str()).map(str::to_owned).collect();
            (ids.len() == 1).then_some(ids)
        }
    };
    let on_a = eventually(Duration::from_secs(15), || members(&stack.grpc)).await.expect("replica a shows one member");
    let on_b = eventually(Duration::from_secs(15), || members(&grpc_b)).await.expect("replica b shows one member");
    assert_eq!(on_a, vec![stay.clone()]);
    assert_eq!(on_b, vec![stay]);
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_server_outage_retries_the_job_then_dead_letters_it() {
    let stack = Stack::start().await;
    stack.sim.faults().update(|f| f.outage = true).unwrap();
    let body = json!({"userName": "during.outage"});
    let create = stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None);
    let submitted = stack
        .queue
        .submit(create.submission(INSTANCE, "outage-1".into(), TraceContext::new(), &JobKeys::ephemeral()))
        .await
        .unwrap();
    let state = stack.queue.wait(&submitted.job_id, Duration::from_secs(120)).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::DeadLettered, "{state:?}");
    assert!(state.attempts >= 2);
    stack.sim.faults().clear();
    assert!(stack.search(User, r#"userName eq "during.outage""#).await.is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_main_flow_works_with_redis_for_the_queue_and_the_state() {
    let mut stack = Stack::start_with(Options { backend: Backend::Redis, ..Options::default() }).await;
    let id = stack
        .create(User, json!({"userName": "on.redis", "externalId": "redis-1", "name": {"familyName": "Redis"}}))
        .await
        .id();
    let group = stack.create(Group, json!({"displayName": "Redis Group", "members": [{"value": id}]})).await.id();
    let members: Vec<_> =
        futures::TryStreamExt::try_collect::<Vec<_>>(stack.ss.group_members(group.parse().unwrap())).await.unwrap();
    assert_eq!(members.len(), 1);
    let before = stack.get(User, &id).await.unwrap();
    stack.restart_adapter().await;
    assert_eq!(stack.get(User, &id).await.unwrap(), before, "meta and attributes survive in Redis");
    stack.delete(User, &id).await;
    assert!(!stack.ss.get_user(id.parse().unwrap()).await.unwrap().enabled);
    assert_eq!(stack.get(User, &id).await.unwrap_err().http_status(), 404);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_workers_span_continues_the_trace_the_job_carries() {
    telemetry::init_for_tests();
    let stack = Stack::start().await;
    let mut sub = stack.events.subscribe("trace-test", "t1").await.unwrap();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let body = json!({"userName": "traced"});
    let job = stack.job(CONNECTION, User, Operation::Create, "", Some(&body), None);
    let context = TraceContext::from([("traceparent".to_owned(), format!("00-{trace_id}-00f067aa0ba902b7-01"))]);
    stack.submit_in_trace(job, "traced-1", context).await.json();
    let mut seen = None;
    for _ in 0..20 {
        for delivery in sub.next_batch(10, Duration::from_millis(200)).await.unwrap() {
            let event = proto::audit::v1::AuditEvent::decode(delivery.payload.as_ref()).unwrap();
            if matches!(event.kind, Some(proto::audit::v1::audit_event::Kind::Change(_))) {
                seen = Some(event);
            }
        }
        if seen.is_some() {
            break;
        }
    }
    let event = seen.expect("the change event");
    assert_eq!(event.trace_id, trace_id);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_connection_reads_and_writes_its_own_secret_server_instance() {
    use secret_server_adapter::{AdapterDeps, AdapterSettings, InstanceSettings};
    let first = secret_server_sim::spawn(secret_server_sim::SimConfig::for_tests()).await.unwrap();
    let mut empty = secret_server_sim::SimConfig::for_tests();
    empty.seed = secret_server_sim::Seed::Empty;
    let second = secret_server_sim::spawn(empty).await.unwrap();
    let instance = |name: &str, sim: &secret_server_sim::RunningSim| {
        let client = secret_server_client::ClientConfig::new(
            url::Url::parse(&sim.base_url()).unwrap(),
            sim.api_username(),
            sim.api_password().clone(),
        )
        .allowing_http();
        InstanceSettings::new(name, client)
    };
    let backends = job_queue::connect(&job_queue::QueueConfig::default()).await.unwrap();
    let state = state_store::open(None, "test", None).await.unwrap();
    let connections = connections::ConnectionStore::new(state.clone(), Duration::from_millis(50));
    let mut on_second = crate::support::connection("on-second");
    on_second.secret_server = "secondary".into();
    connections.put(&crate::support::connection("on-first")).await.unwrap();
    connections.put(&on_second).await.unwrap();
    let settings = AdapterSettings {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        instances: vec![instance("primary", &first), instance("secondary", &second)],
        progress_bars: false,
        ..AdapterSettings::default()
    };
    let deps = AdapterDeps { queue: backends.queue.clone(), events: backends.events, state, connections };
    let adapter = secret_server_adapter::start(settings, deps).await.unwrap();
    adapter.wait_ready(Duration::from_secs(30)).await.unwrap();

    let handler = adapter.job_handler();
    let body = json!({"userName": "only.on.second"});
    let create = adapter_api::Job::new("on-second", User, Operation::Create, "", body).unwrap();
    let outcome = handler.handle(job("two-instances", create)).await;
    let id: i64 = resource_id(&outcome).parse().unwrap();
    let second_client = secret_server_client::SecretServerClient::new(instance("secondary", &second).client).unwrap();
    let first_client = secret_server_client::SecretServerClient::new(instance("primary", &first).client).unwrap();
    assert_eq!(second_client.get_user(id).await.unwrap().user_name, "only.on.second");
    let on_first: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(
        first_client.search_users(&secret_server_client::UserQuery::text("only.on.second")),
    )
    .await
    .unwrap();
    assert!(on_first.is_empty(), "nothing written to the other instance");

    let url = format!("http://{}", adapter.grpc_addr());
    let grpc =
        adapter_api::DirectoryClient::new(&url, Duration::from_secs(5), Duration::from_secs(60), adapter.client_auth())
            .unwrap();
    let count = |connection: &str| {
        let grpc = grpc.clone();
        let query = adapter_api::SearchQuery {
            kinds: vec![User],
            filter: Some(r#"userName eq "only.on.second""#.into()),
            ..Default::default()
        };
        let request = adapter_api::SearchResources { connection_id: connection.to_owned(), query };
        async move { grpc.search(request).await.unwrap().total_results }
    };
    assert_eq!((count("on-first").await, count("on-second").await), (0, 1));
    let health = grpc.health().await.unwrap();
    assert_eq!(health.instances.iter().map(|i| i.instance.as_str()).collect::<Vec<_>>(), vec!["primary", "secondary"]);
    adapter.shutdown().await;
    first.shutdown().await;
    second.shutdown().await;
}

/// The stack's events stream, failing (as unavailable) the first publish of each failed change.
#[derive(Debug)]
struct FailsFailedChangesOnce {
    inner: std::sync::Arc<dyn job_queue::EventBus>,
    failed_once: std::sync::Mutex<std::collections::HashSet<String>>,
}

#[async_trait::async_trait]
impl job_queue::EventBus for FailsFailedChangesOnce {
    async fn publish(&self, event: job_queue::Event) -> Result<job_queue::EventId, job_queue::QueueError> {
        let decoded = proto::audit::v1::AuditEvent::decode(event.payload.as_ref()).unwrap();
        if let Some(proto::audit::v1::audit_event::Kind::Change(c)) = &decoded.kind
            && c.outcome == proto::audit::v1::ChangeOutcome::Failed as i32
            && self.failed_once.lock().unwrap().insert(c.job_id.clone())
        {
            return Err(job_queue::QueueError::Unavailable("the events stream is down".into()));
        }
        self.inner.publish(event).await
    }
    async fn subscribe(
        &self,
        group: &str,
        consumer: &str,
    ) -> Result<Box<dyn job_queue::EventSubscription>, job_queue::QueueError> {
        self.inner.subscribe(group, consumer).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_jobs_audit_event_survives_a_failed_publish() {
    let mut stack = Stack::start_with(Options { backend: Backend::Redis, ..Options::default() }).await;
    let flaky = std::sync::Arc::new(FailsFailedChangesOnce {
        inner: stack.events.clone(),
        failed_once: std::sync::Mutex::new(std::collections::HashSet::new()),
    });
    stack.restart_adapter_on(flaky.clone()).await;
    let mut sub = stack.events.subscribe("failed-job-audit-test", "t1").await.unwrap();
    stack.create(User, json!({"userName": "taken.once"})).await.id();
    let refused = stack.create(User, json!({"userName": "taken.once"})).await;
    assert_eq!(refused.err().http_status(), 409);
    assert_eq!(flaky.failed_once.lock().unwrap().len(), 1, "the failed job's first publish failed");
    let mut failed = Vec::new();
    for _ in 0..50 {
        for delivery in sub.next_batch(10, Duration::from_millis(200)).await.unwrap() {
            let event = proto::audit::v1::AuditEvent::decode(delivery.payload.as_ref()).unwrap();
            if let Some(proto::audit::v1::audit_event::Kind::Change(c)) = event.kind
                && c.outcome == proto::audit::v1::ChangeOutcome::Failed as i32
            {
                failed.push(c);
            }
        }
        if !failed.is_empty() {
            break;
        }
    }
    assert_eq!(failed.len(), 1, "the failed job's event is on the stream: {failed:#?}");
    assert_eq!(failed[0].operation, "create");
    stack.stop().await;
}

/// An adapter on `stack`'s backends serving the stack's emulator as `primary` beside an instance
/// `down` nothing answers for (a port just closed), or that instance alone.
async fn adapter_with_an_unreachable_instance(
    stack: &Stack,
    with_primary: bool,
) -> secret_server_adapter::RunningAdapter {
    use secret_server_adapter::{AdapterSettings, InstanceSettings};
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let mut down = test_support::stack::client_config(&stack.sim);
    down.base_url = url::Url::parse(&format!("http://{closed}/")).unwrap();
    down.retry = secret_server_client::RetryPolicy { max_attempts: 1, ..secret_server_client::RetryPolicy::default() };
    let mut instances = vec![InstanceSettings::new("down", down)];
    if with_primary {
        instances.push(InstanceSettings::new(INSTANCE, test_support::stack::client_config(&stack.sim)));
    }
    let settings = AdapterSettings {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        instances,
        resync_interval: Duration::from_secs(3600),
        // A job for an instance whose load failed must not wait for it at all.
        job_wait_for_load: Duration::from_secs(3600),
        // One of several replicas: its follower of the others' changes must not wait for it either.
        replica_id: Some("replica-1".to_owned()),
        ..AdapterSettings::default()
    };
    let deps = stack.adapter_deps();
    secret_server_adapter::start(settings, deps).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_instance_leaves_the_adapter_ready_for_the_others_and_its_reads_say_why() {
    let stack = Stack::start().await;
    let mut down_connection = crate::support::connection("on-down");
    down_connection.secret_server = "down".to_owned();
    stack.connections.put(&down_connection).await.unwrap();
    let adapter = adapter_with_an_unreachable_instance(&stack, true).await;
    let readiness = eventually(Duration::from_secs(20), || {
        let adapter = &adapter;
        async move { Some(adapter.readiness().await).filter(|r| r.ready) }
    })
    .await
    .expect("ready once the reachable instance is loaded and the other's load failed");
    assert!(readiness.checks["secret-server:primary"].ok);
    let down = &readiness.checks["secret-server:down"];
    assert!(!down.ok && down.detail.as_deref().is_some_and(|d| d.contains("503")), "{down:?}");

    let client = crate::support::grpc_client(&adapter);
    assert!(client.health().await.unwrap().ready, "what the gateways ask says ready too");
    let frank = user(&stack, "frank.green").await;
    let served = read(&client, CONNECTION, User, frank["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(served["userName"], "frank.green", "the reachable instance is served");
    let refused = read(&client, "on-down", User, "1").await.unwrap_err();
    assert_eq!(refused.http_status(), 503, "{refused}");
    assert!(refused.detail.contains("could not be loaded"), "{refused}");
    // Its jobs go back at once, saying why, and leave the worker to the other instance.
    let job = stack.job("on-down", User, Operation::Create, "", Some(&json!({"userName": "waits.not"})), None);
    match adapter.job_handler().handle(delivered("on-down-1", job, 1)).await {
        Disposition::Retry { error, .. } => assert!(error.contains("could not be loaded"), "{error}"),
        other => panic!("a job for an instance that could not be loaded is retried later, not {other:?}"),
    }
    adapter.shutdown().await;

    // With no instance it can load, an adapter is not ready: another replica may do better.
    let alone = adapter_with_an_unreachable_instance(&stack, false).await;
    eventually(Duration::from_secs(20), || {
        let alone = &alone;
        async move {
            let failed = |c: &&telemetry::actix::CheckOutcome| c.detail.as_deref().is_some_and(|d| d.contains("503"));
            alone.readiness().await.checks.get("secret-server:down").filter(failed).cloned()
        }
    })
    .await
    .expect("its load fails");
    let readiness = alone.readiness().await;
    assert!(!readiness.ready && !readiness.checks["secret-server"].ok, "{readiness:?}");
    alone.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_applied_in_turn_by_either_replica_build_on_each_other() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let (replica_b, _grpc_b) = stack.second_replica("b").await;
    let id = stack.create(User, json!({"userName": "two.replicas"})).await.id();
    for n in 0..8 {
        // Either replica's workers may take each job; the second must start from the first's
        // result even when the other replica applied it a moment before.
        let nick = json!([{"op": "replace", "path": "nickName", "value": format!("nick-{n}")}]);
        stack.patch(User, &id, nick).await.json();
        let title = json!([{"op": "replace", "path": "title", "value": format!("title-{n}")}]);
        let after = stack.patch(User, &id, title).await.json();
        assert_eq!((&after["nickName"], &after["title"]), (&json!(format!("nick-{n}")), &json!(format!("title-{n}"))));
    }
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_freed_or_a_user_enabled_through_one_replica_is_so_at_once_through_the_other() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let (replica_b, _grpc_b) = stack.second_replica("b").await;
    let databases = crate::containers::folder_id(&stack, "\\Databases").await;
    let bob = stack.find(User, "userName eq \"bob.chen\"").await["id"].clone();
    for n in 0..8 {
        // Either replica's workers may take each job: the one that takes the second create may
        // not have learnt of the delete yet, and its read model still holds the name (the grant).
        let user = json!({"userName": format!("comes.back.{n}")});
        let first = stack.create(User, user.clone()).await.id();
        assert!(matches!(stack.delete(User, &first).await, Outcome::Ok(Written::Deleted)));
        let again = stack.create(User, user).await.json();
        assert_eq!(again["userName"], format!("comes.back.{n}"), "created again: {again}");

        let group = json!({"displayName": format!("Comes Back {n}")});
        let first = stack.create(Group, group.clone()).await.id();
        assert!(matches!(stack.delete(Group, &first).await, Outcome::Ok(Written::Deleted)));
        let again = stack.create(Group, group).await.json();
        assert_eq!(again["displayName"], format!("Comes Back {n}"), "created again: {again}");

        // A user enabled through one replica is a member to add at once through the other.
        let user = stack.create(User, json!({"userName": format!("enabled.later.{n}"), "active": false})).await.id();
        stack.patch(User, &user, json!([{"op": "replace", "path": "active", "value": true}])).await.json();
        let group = json!({"displayName": format!("Enabled Later {n}"), "members": [{"value": user}]});
        let group = stack.create(Group, group).await.json();
        assert_eq!(group["members"][0]["value"], user.as_str(), "its user is its member: {group}");

        let grant = json!({"container": {"value": databases}, "user": {"value": bob}, "rights": ["View"]});
        let first = stack.create(ContainerPermission, grant.clone()).await.id();
        assert!(matches!(stack.delete(ContainerPermission, &first).await, Outcome::Ok(Written::Deleted)));
        let again = stack.create(ContainerPermission, grant).await.json();
        assert_eq!(again["user"]["value"], bob, "granted again: {again}");
        let again = again["id"].as_str().unwrap();
        assert!(matches!(stack.delete(ContainerPermission, again).await, Outcome::Ok(Written::Deleted)));
    }
    replica_b.shutdown().await;
    stack.stop().await;
}

/// A change another replica made on instance `instance`, published as that replica would.
async fn published_change(stack: &Stack, instance: &str, id: i64) {
    published_change_of(stack, instance, User, id).await;
}

/// A change another replica made to resource `id` of `kind`, published as that replica would.
async fn published_change_of(stack: &Stack, instance: &str, kind: scim::ResourceKind, id: i64) {
    let change = audit_events::ChangeRecord {
        connection_id: CONNECTION.to_owned(),
        instance: instance.to_owned(),
        kind,
        resource_id: id.to_string(),
        operation: Operation::Patch,
        job_id: format!("elsewhere-{instance}-{id}"),
        request_id: "elsewhere".to_owned(),
        before: Value::Null,
        after: json!({"id": id}),
        members: audit_events::MemberChanges::default(),
        error: None,
    };
    change.publish(stack.events.as_ref()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_deleted_between_the_followers_two_reads_of_it_is_gone_and_holds_back_none_of_the_changes_after_it() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let group = stack.create(Group, json!({"displayName": "Deleted Meanwhile"})).await.id();
    let gid: i64 = group.parse().unwrap();
    let alice: i64 = user(&stack, "alice.martin").await["id"].as_str().unwrap().parse().unwrap();

    // Another replica deletes the group while this replica's follower reads it: the read of the
    // group finds it, the read of its roles a moment later does not.
    let base = url::Url::parse(&stack.sim.base_url()).unwrap().path().trim_end_matches('/').to_owned();
    stack.sim.faults().update(|f| f.gone_paths = vec![format!("{base}/api/v1/groups/{gid}/roles")]).unwrap();
    published_change_of(&stack, INSTANCE, Group, gid).await;
    // Then a change of the same instance's, after it.
    let renamed = UserPatchArgs { display_name: Some(Patch::set("Alice After".into())), ..UserPatchArgs::default() };
    stack.ss.patch_user(alice, &renamed).await.unwrap();
    published_change(&stack, INSTANCE, alice).await;

    let followed = eventually(Duration::from_secs(30), || {
        let stack = &stack;
        async move {
            let doc = stack.get(User, &alice.to_string()).await.ok()?;
            (doc["displayName"] == "Alice After").then_some(doc)
        }
    })
    .await;
    assert!(followed.is_some(), "the change after the group's was held back behind it");
    let gone = stack.get(Group, &group).await.unwrap_err();
    assert_eq!(gone.http_status(), 404, "the group is gone, and the instance's reads vouched for: {gone}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_a_replica_cannot_vouch_for_an_instance_a_refusal_its_read_model_gives_is_secret_servers_to_give() {
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let group = stack.create(Group, json!({"displayName": "Deleted Elsewhere"})).await.id();
    let gid: i64 = group.parse().unwrap();
    let user = stack.create(User, json!({"userName": "enabled.elsewhere", "active": false})).await.id();
    let uid: i64 = user.parse().unwrap();

    // Another replica deleted the group and enabled the user. This replica's follower cannot read
    // the group (Secret Server fails on it alone), so it keeps that change and the user's after it.
    let base = url::Url::parse(&stack.sim.base_url()).unwrap().path().trim_end_matches('/').to_owned();
    stack.ss.delete_group(gid).await.unwrap();
    stack.sim.faults().update(|f| f.broken_paths = vec![format!("{base}/api/v1/groups/{gid}")]).unwrap();
    published_change_of(&stack, INSTANCE, Group, gid).await;
    let enabled = UserPatchArgs { enabled: Some(Patch::set(true)), ..UserPatchArgs::default() };
    stack.ss.patch_user(uid, &enabled).await.unwrap();
    published_change(&stack, INSTANCE, uid).await;
    let behind = eventually(Duration::from_secs(30), || {
        let stack = &stack;
        async move { (stack.get(User, "999999").await.unwrap_err().http_status() == 503).then_some(()) }
    })
    .await;
    assert!(behind.is_some(), "the replica says it cannot vouch for the instance");
    assert_eq!(stack.get(User, &user).await.unwrap()["active"], false, "its read model still has the user inactive");

    // Its read model still holds the group's name and the user inactive: Secret Server says otherwise.
    let again = stack.create(Group, json!({"displayName": "Deleted Elsewhere", "members": [{"value": user}]})).await;
    let again = again.json();
    assert_eq!(again["displayName"], "Deleted Elsewhere", "the name is free: {again}");
    assert_eq!(again["members"][0]["value"], user.as_str(), "and the user active: {again}");
    // A name Secret Server does hold is refused as before.
    let taken = stack.create(Group, json!({"displayName": "Deleted Elsewhere"})).await;
    assert!(matches!(&taken, Outcome::Err(e) if e.http_status() == 409), "{taken:?}");

    stack.sim.faults().clear();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_follows_every_instances_changes_while_one_instance_cannot_be_read_and_catches_up_with_it_after() {
    use secret_server_adapter::{AdapterSettings, InstanceSettings};
    let stack = Stack::start_with(Options { replica_id: Some("a".into()), ..Options::default() }).await;
    let other = secret_server_sim::spawn(secret_server_sim::SimConfig::for_tests()).await.unwrap();
    let mut on_other = crate::support::connection("on-other");
    on_other.secret_server = "other".to_owned();
    stack.connections.put(&on_other).await.unwrap();
    let mut to_other = test_support::stack::client_config(&other);
    to_other.retry = secret_server_client::RetryPolicy { max_attempts: 1, ..Default::default() };
    let settings = AdapterSettings {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        instances: vec![
            InstanceSettings::new(INSTANCE, test_support::stack::client_config(&stack.sim)),
            InstanceSettings::new("other", to_other),
        ],
        resync_interval: Duration::from_secs(3600),
        replica_id: Some("b".to_owned()),
        progress_bars: false,
        ..AdapterSettings::default()
    };
    let deps = stack.adapter_deps();
    let replica_b = secret_server_adapter::start(settings, deps).await.unwrap();
    replica_b.wait_ready(Duration::from_secs(60)).await.unwrap();
    let grpc_b = crate::support::grpc_client(&replica_b);
    let alice: i64 = stack.find(User, r#"userName eq "alice.martin""#).await["id"].as_str().unwrap().parse().unwrap();

    // Changes made elsewhere: one on `other`, which stops answering before replica b reads it, then
    // one on the primary instance.
    let other_ss = crate::support::ss_client(&other);
    let renamed =
        |name: &str| UserPatchArgs { display_name: Some(Patch::set(name.into())), ..UserPatchArgs::default() };
    other_ss.patch_user(alice, &renamed("Alice on Other")).await.unwrap();
    other.faults().update(|f| f.outage = true).unwrap();
    published_change(&stack, "other", alice).await;
    stack.ss.patch_user(alice, &renamed("Alice on Primary")).await.unwrap();
    published_change(&stack, INSTANCE, alice).await;

    // Replica b reads the primary's change at once: the change it could not apply waits aside.
    let on_b = read(&grpc_b, CONNECTION, User, &alice.to_string()).await.unwrap();
    assert_eq!(on_b["displayName"], "Alice on Primary", "{on_b}");
    // Meanwhile b cannot vouch for what it holds of `other`: a read that finds nothing there is a
    // retryable 503 (a client told 404 may create it again), while the primary's is a 404.
    let unknown = read(&grpc_b, "on-other", User, "999999").await.unwrap_err();
    assert_eq!((unknown.http_status(), unknown.retry_after), (503, Some(1)), "{unknown}");
    assert_eq!(read(&grpc_b, CONNECTION, User, "999999").await.unwrap_err().http_status(), 404);
    // And once `other` answers again, the change kept for later is applied.
    other.faults().clear();
    let caught_up = eventually(Duration::from_secs(30), || {
        let grpc_b = &grpc_b;
        async move {
            let doc = read(grpc_b, "on-other", User, &alice.to_string()).await.ok()?;
            (doc["displayName"] == "Alice on Other").then_some(doc)
        }
    })
    .await;
    assert!(caught_up.is_some(), "replica b never applied the change it kept for later");
    replica_b.shutdown().await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_whose_resource_changed_elsewhere_without_an_event_reads_it_whole_before_changing_it() {
    let stack = Stack::start_with(Options { replica_id: Some("b".into()), ..Options::default() }).await;
    stack.connections.put(&crate::support::connection("okta")).await.unwrap();
    let id = stack.create(User, json!({"userName": "changed.elsewhere"})).await.id();
    let uid: i64 = id.parse().unwrap();
    // A read waits until this replica's follower has handled the create's own event.
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap().get("externalId"), None);
    // Another replica gave the user okta's externalId, and its event never came (a dead letter, a
    // trimmed stream): only the shared store says so, with the new version it persisted.
    let attributes = secret_server_adapter::attributes::AttributeStore::new(stack.state.clone(), INSTANCE);
    let stored = attributes.get(User, uid).await.unwrap();
    let mut changed = serde_json::Map::new();
    changed.insert("externalId".to_owned(), json!("okta-1"));
    secret_server_adapter::attributes::carry_over(&mut changed, stored.as_deref(), "okta");
    let changed = secret_server_adapter::attributes::to_text(&changed).unwrap();
    attributes.put(User, uid, Some(&changed)).await.unwrap();
    let metas = secret_server_adapter::meta::MetaStore::new(stack.state.clone(), INSTANCE);
    let meta = metas.get(User, uid).await.unwrap().unwrap();
    metas
        .put_many(vec![(
            User,
            uid,
            secret_server_adapter::read_model::records::Meta { version: meta.version ^ 1, ..meta },
        )])
        .await
        .unwrap();

    // A change through this replica builds on it, not on what its read model held.
    let renamed =
        stack.patch(User, &id, json!([{"op": "replace", "path": "displayName", "value": "Changed Here"}])).await;
    assert_eq!(renamed.json()["displayName"], "Changed Here");
    assert_eq!(stack.get_as("okta", User, &id).await.unwrap()["externalId"], "okta-1", "okta's externalId kept");
    stack.stop().await;
}

/// Calls in a row without an answer after which the hanging instance's circuit opens.
const HANGING_FAILURES: usize = 3;

/// An adapter of two workers on `stack`'s backends serving the stack's emulator as `primary` beside
/// `hanging`, another emulator: each call to it gets 1 s, is not repeated, and its circuit opens
/// after [`HANGING_FAILURES`] calls in a row without an answer, for a minute.
async fn adapter_with_a_hanging_instance(
    stack: &Stack,
    hanging: &secret_server_sim::RunningSim,
) -> secret_server_adapter::RunningAdapter {
    use secret_server_adapter::{AdapterSettings, InstanceSettings};
    use secret_server_client::{CircuitBreaker, RetryPolicy};
    let mut client = test_support::stack::client_config(hanging);
    client.request_timeout = Duration::from_secs(1);
    client.retry = RetryPolicy { max_attempts: 1, ..RetryPolicy::default() };
    client.circuit_breaker = Some(CircuitBreaker {
        failures: u32::try_from(HANGING_FAILURES).unwrap(),
        cooldown: Duration::from_secs(60),
        max_cooldown: Duration::from_secs(120),
    });
    let settings = AdapterSettings {
        grpc_listen: "127.0.0.1:0".parse().unwrap(),
        http_listen: None,
        instances: vec![
            InstanceSettings::new(INSTANCE, test_support::stack::client_config(&stack.sim)),
            InstanceSettings::new("hanging", client),
        ],
        workers: 2,
        resync_interval: Duration::from_secs(3600),
        progress_bars: false,
        ..AdapterSettings::default()
    };
    let deps = stack.adapter_deps();
    let adapter = secret_server_adapter::start(settings, deps).await.unwrap();
    adapter.wait_ready(Duration::from_secs(60)).await.unwrap();
    adapter
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_instance_s_jobs_are_refused_at_once_by_its_open_circuit_and_the_other_instance_s_jobs_all_succeed() {
    let mut stack = Stack::start().await;
    // Only this test's adapter, with its two workers, takes jobs from the queue.
    stack.stop_adapter().await;
    let hanging = secret_server_sim::spawn(secret_server_sim::SimConfig::for_tests()).await.unwrap();
    let mut on_hanging = crate::support::connection("on-hanging");
    on_hanging.secret_server = "hanging".to_owned();
    stack.connections.put(&on_hanging).await.unwrap();
    let adapter = adapter_with_a_hanging_instance(&stack, &hanging).await;

    // Its maintenance window begins: it still accepts connections, and answers nothing.
    hanging.faults().update(|f| f.latency_ms = 600_000).unwrap();
    hanging.clear_request_log();
    let submit = |connection: &'static str, instance: &'static str, user_name: String| {
        let job = stack.job(connection, User, Operation::Create, "", Some(&json!({"userName": user_name})), None);
        let submission = job.submission(instance, Stack::key(), TraceContext::new(), &JobKeys::ephemeral());
        async { stack.queue.submit(submission).await.unwrap().job_id }
    };
    let (mut for_hanging, mut for_primary) = (Vec::new(), Vec::new());
    for n in 0..12 {
        for_hanging.push(submit("on-hanging", "hanging", format!("waits.{n}")).await);
        if n % 3 == 0 {
            for_primary.push(submit(CONNECTION, INSTANCE, format!("served.{n}")).await);
        }
    }

    for id in &for_primary {
        let created = stack.outcome(id).await.json();
        assert!(created["userName"].as_str().is_some_and(|n| n.starts_with("served.")), "{created}");
    }
    let all_refused = eventually(Duration::from_secs(30), || async {
        let mut states = Vec::new();
        for id in &for_hanging {
            states.push(stack.queue.status(id).await.unwrap().expect("the job's state"));
        }
        let refused = |s: &job_queue::JobState| s.last_error.as_deref().is_some_and(|e| e.contains("circuit open"));
        states.iter().all(refused).then_some(states)
    })
    .await
    .expect("every job for the hanging instance is refused by its open circuit, after at most one timeout");
    for state in &all_refused {
        assert!(!state.status.is_final(), "retried once the cooldown ends, not failed: {state:?}");
    }
    let requests = hanging.request_log().len();
    // The calls counted, and the one the other worker had in flight when the circuit opened.
    assert!(
        requests <= HANGING_FAILURES + 1,
        "{requests} requests reached the hanging instance for {} jobs",
        for_hanging.len()
    );

    let resync = adapter.resync_now().await.map_err(|e| format!("{e:#}"));
    assert!(resync.as_ref().is_err_and(|e| e.contains("circuit open")), "a resync fails at once: {resync:?}");
    assert_eq!(hanging.request_log().len(), requests, "and sends it nothing");
    assert!(adapter.readiness().await.ready, "the adapter stays ready: the hanging instance's read model is kept");
    adapter.shutdown().await;
    hanging.abort().await;
    stack.stop().await;
}
