//! The recovery tools of the admin API and its CLI, on Redis and the emulator: dead letters
//! (list, inspect without a password, replay, discard), a resync started and followed, removals
//! held back and confirmed, and the preflight run in the adapter; and the adapter's admin gRPC
//! service refusing a caller without the shared secret.

use crate::helpers::*;
use job_queue::{EventSubscription, JobId, JobStatus};
use reqwest::Method;
use scim_gateway::AdminCommand;
use scim_gateway::cli::DeadLetterCommand;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::Duration;

const PASSWORD: &str = "Dead-Letter-Passw0rd!";
const SOON: Duration = Duration::from_secs(20);

fn on_redis() -> Options {
    Options { redis: true, ..Options::default() }
}

/// The admin actions on the events stream until `wanted` are all there: (actor, action, detail).
async fn admin_actions(sub: &mut Box<dyn EventSubscription>, wanted: &[&str]) -> Vec<(String, String, String)> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + SOON;
    while !wanted.iter().all(|w| seen.iter().any(|(_, action, _): &(String, String, String)| action == w)) {
        assert!(tokio::time::Instant::now() < deadline, "not on the events stream: {wanted:?}, only {seen:?}");
        for (_, event) in next_audit_events(sub, 50, Duration::from_millis(100)).await {
            if let Some(proto::audit::v1::audit_event::Kind::Admin(a)) = event.kind {
                seen.push((a.actor, a.action, a.detail));
            }
        }
    }
    seen
}

async fn resync_until_idle(app: &TestApp) -> Value {
    eventually("the resync ends", SOON, || async {
        let state: Value =
            app.admin(Method::GET, "/secret-servers/primary/resync").send().await.unwrap().json().await.unwrap();
        (state["state"] == "idle" && state["outcome"].is_string()).then_some(state)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_failing_every_attempt_is_listed_inspected_without_its_password_replayed_and_another_discarded() {
    let app = spawn_app_with(on_redis()).await;
    let mut audit = app.events.subscribe("recovery-test", "t1").await.unwrap();
    app.sim.faults().update(|f| f.outage = true).unwrap();
    let user = json!({"schemas": [scim::urn::USER], "userName": "dead.letter", "password": PASSWORD});
    let res = app.scim(Method::POST, "/Users").header("content-type", SCIM).json(&user).send().await.unwrap();
    assert_eq!(res.status(), 503, "every attempt failed");
    let group = json!({"schemas": [scim::urn::GROUP], "displayName": "Dead Letters"});
    let res = app.scim(Method::POST, "/Groups").header("content-type", SCIM).json(&group).send().await.unwrap();
    assert_eq!(res.status(), 503);

    let listed: Value = app.admin(Method::GET, "/dead-letters").send().await.unwrap().json().await.unwrap();
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{listed}");
    let (group_letter, user_letter) = (&items[0], &items[1]);
    assert_eq!(group_letter["resourceType"], "Group", "newest first: {listed}");
    assert_eq!(
        (&user_letter["connection"], &user_letter["resourceType"], &user_letter["operation"], &user_letter["attempts"]),
        (&json!("test"), &json!("User"), &json!("create"), &json!(3))
    );
    assert!(!user_letter["lastError"].as_str().unwrap().is_empty());
    assert!(user_letter["deadLetteredAt"].is_string());
    let user_id = user_letter["id"].as_str().unwrap().to_owned();
    let group_id = group_letter["id"].as_str().unwrap().to_owned();

    let shown = app.admin(Method::GET, &format!("/dead-letters/{user_id}")).send().await.unwrap();
    assert_eq!(shown.status(), 200);
    let text = shown.text().await.unwrap();
    assert!(!text.contains(PASSWORD) && !text.to_lowercase().contains("\"password\""), "no password field: {text}");
    let shown: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(shown["payload"]["userName"], "dead.letter");
    assert_eq!(shown["withheld"], json!(["/password"]));

    app.sim.faults().clear();
    let refused = app.admin(Method::POST, &format!("/dead-letters/{user_id}/replay")).send().await.unwrap();
    let body = scim_error(refused, 409).await;
    assert!(body["detail"].as_str().unwrap().contains("password"), "{body}");
    let replayed: Value = app
        .admin(Method::POST, &format!("/dead-letters/{user_id}/replay"))
        .json(&json!({"withoutPassword": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let job = JobId(replayed["jobId"].as_str().unwrap().to_owned());
    let state = app.deps.queue.wait(&job, SOON).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Succeeded, "the replay succeeds once the fault is gone");
    let found: Value = app.get("/Users?filter=userName%20eq%20%22dead.letter%22").await.json().await.unwrap();
    assert_eq!(found["totalResults"], 1, "{found}");

    let res = app.admin(Method::DELETE, &format!("/dead-letters/{group_id}")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    scim_error(app.admin(Method::GET, &format!("/dead-letters/{group_id}")).send().await.unwrap(), 404).await;
    scim_error(app.admin(Method::GET, "/dead-letters/no-such-job").send().await.unwrap(), 404).await;
    let listed: Value = app.admin(Method::GET, "/dead-letters").send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["items"], json!([]), "replayed and discarded letters leave the list");

    let actions = admin_actions(&mut audit, &["replay-dead-letter", "discard-dead-letter"]).await;
    let replay = actions.iter().find(|(_, action, _)| action == "replay-dead-letter").unwrap();
    assert!(replay.0.starts_with("admin:"), "the administrator is on record: {replay:?}");
    assert!(replay.2.contains("without its password"), "{replay:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_work_from_the_cli_on_the_in_process_queue() {
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    app.sim.faults().update(|f| f.outage = true).unwrap();
    let group = json!({"schemas": [scim::urn::GROUP], "displayName": "Dead On Arrival"});
    let res = app.scim(Method::POST, "/Groups").header("content-type", SCIM).json(&group).send().await.unwrap();
    assert_eq!(res.status(), 503);
    app.sim.faults().clear();
    let client = scim_gateway::AdminClient::new(&app.base, token.clone()).unwrap();
    let listed = client.dead_letters(None, None).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    let id = listed.items[0].id.clone();
    let list = AdminCommand::DeadLetters { command: DeadLetterCommand::List { count: Some(10), after: None } };
    assert!(scim_gateway::run(list, &app.base, &token).await.unwrap());
    let replay = AdminCommand::DeadLetters { command: DeadLetterCommand::Replay { id, without_password: false } };
    assert!(scim_gateway::run(replay, &app.base, &token).await.unwrap(), "a job without a password replays as it was");
    let found = eventually("the replayed group exists", SOON, || async {
        let found: Value =
            app.get("/Groups?filter=displayName%20eq%20%22Dead%20On%20Arrival%22").await.json().await.unwrap();
        (found["totalResults"] == 1).then_some(found)
    })
    .await;
    assert_eq!(found["Resources"][0]["displayName"], "Dead On Arrival");
    assert!(client.dead_letters(None, None).await.unwrap().items.is_empty());
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_is_followed_to_its_outcome_and_held_removals_are_reported_audited_and_confirmed() {
    let app = spawn_app_with(on_redis()).await;
    let mut audit = app.events.subscribe("recovery-test", "t1").await.unwrap();
    let started = app.admin(Method::POST, "/secret-servers/primary/resync").send().await.unwrap();
    assert_eq!(started.status(), 202);
    let done = resync_until_idle(&app).await;
    assert_eq!(done["outcome"], "succeeded", "{done}");
    assert!(done["read"]["User"].as_u64().unwrap() > 0, "records read per type: {done}");
    assert!(done["startedAt"].is_string() && done["finishedAt"].is_string());

    let mut groups = Vec::new();
    for n in 0..12 {
        let body = json!({"schemas": [scim::urn::GROUP], "displayName": format!("Held {n}"), "externalId": format!("held-{n}")});
        let res = app.scim(Method::POST, "/Groups").header("content-type", SCIM).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 201);
        groups.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
    }
    // Gone from Secret Server all at once, beyond the bound a resync may drop on its own.
    let ss = secret_server_client::SecretServerClient::new(test_support::stack::client_config(&app.sim)).unwrap();
    for id in &groups {
        ss.delete_group(id.parse().unwrap()).await.unwrap();
    }
    app.admin(Method::POST, "/secret-servers/primary/resync").send().await.unwrap();
    let held = resync_until_idle(&app).await;
    assert_eq!(held["outcome"], "removals-held", "{held}");
    let report = &held["heldRemovals"];
    assert_eq!(report["count"], 12, "{held}");
    assert!(report["sample"].as_array().unwrap().contains(&json!(format!("Group/{}", groups[0]))), "{held}");
    let report_id = report["reportId"].as_str().unwrap().to_owned();
    assert_eq!(app.get(&format!("/Groups/{}", groups[0])).await.status(), 200, "the read model is kept");
    let ready = app.adapter.as_ref().unwrap().readiness().await;
    assert!(ready.ready, "still ready: the read model is kept");
    let note = &ready.checks["secret-server:primary:removals-held"];
    assert!(note.detail.as_deref().unwrap().contains(&report_id), "{note:?}");

    let wrong = app
        .admin(Method::POST, "/secret-servers/primary/resync/confirm")
        .json(&json!({"reportId": "0000000000000000"}))
        .send()
        .await
        .unwrap();
    scim_error(wrong, 409).await;
    let confirmed = app
        .admin(Method::POST, "/secret-servers/primary/resync/confirm")
        .json(&json!({"reportId": report_id, "count": 12}))
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), 202);
    let applied = resync_until_idle(&app).await;
    assert_eq!(applied["outcome"], "succeeded", "{applied}");
    assert!(applied["removed"].as_u64().unwrap() >= 12, "{applied}");
    assert!(applied.get("heldRemovals").is_none(), "{applied}");
    assert_eq!(app.get(&format!("/Groups/{}", groups[0])).await.status(), 404, "gone from SCIM reads");

    let actions = admin_actions(&mut audit, &["resync-removals-held", "confirm-removals", "start-resync"]).await;
    let held_event = actions.iter().find(|(_, action, _)| action == "resync-removals-held").unwrap();
    assert!(held_event.2.contains(&report_id), "{held_event:?}");
    let confirm = actions.iter().find(|(_, action, _)| action == "confirm-removals").unwrap();
    assert!(confirm.0.starts_with("admin:") && confirm.2.contains(&report_id), "{confirm:?}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_resync_follows_it_to_success_and_an_unknown_instance_is_404() {
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    let resync = AdminCommand::Resync { name: "primary".into(), confirm_removals: None, no_wait: false };
    assert!(scim_gateway::run(resync, &app.base, &token).await.unwrap(), "the resync succeeded");
    for (method, path) in [
        (Method::POST, "/secret-servers/nowhere/resync"),
        (Method::GET, "/secret-servers/nowhere/resync"),
        (Method::POST, "/secret-servers/nowhere/doctor"),
        (Method::POST, "/secret-servers/nowhere/test"),
    ] {
        scim_error(app.admin(method, path).send().await.unwrap(), 404).await;
    }
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_through_the_admin_api_passes_against_the_emulator_and_names_a_removed_permission() {
    let app = spawn_app().await;
    let token = SecretString::from(ADMIN_TOKEN);
    let report: Value =
        app.admin(Method::POST, "/secret-servers/primary/doctor").send().await.unwrap().json().await.unwrap();
    assert_eq!(report["passed"], true, "{report}");
    assert_eq!(report["missingPermissions"], json!([]));
    let quick: Value =
        app.admin(Method::POST, "/secret-servers/primary/test").send().await.unwrap().json().await.unwrap();
    assert_eq!(quick["passed"], true, "{quick}");
    let names: Vec<&str> = quick["checks"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["reachable", "TLS", "sign-in", "read users", "latency"]);
    let doctor = AdminCommand::Doctor { name: "primary".into() };
    assert!(scim_gateway::run(doctor, &app.base, &token).await.unwrap());

    let kept: Vec<String> =
        app.sim.api_account().permissions().into_iter().filter(|p| p != "Administer Groups").collect();
    app.sim.api_account().set_permissions(kept);
    let report: Value =
        app.admin(Method::POST, "/secret-servers/primary/doctor").send().await.unwrap().json().await.unwrap();
    assert_eq!(report["passed"], false, "{report}");
    assert_eq!(report["missingPermissions"], json!(["Administer Groups"]));
    let doctor = AdminCommand::Doctor { name: "primary".into() };
    assert!(!scim_gateway::run(doctor, &app.base, &token).await.unwrap(), "the CLI exits non-zero");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_grpc_call_without_the_shared_secret_is_refused() {
    let app = spawn_app().await;
    let client = |secret: Option<SecretString>| {
        let auth = adapter_api::client::AdapterAuth { secret, tls: None };
        adapter_api::AdminClient::new(&app.adapter_url, Duration::from_secs(2), SOON, auth).unwrap()
    };
    for refused in [client(None), client(Some(SecretString::from("not-the-secret")))] {
        let err = refused.resync("primary").await.unwrap_err();
        assert_eq!(err.kind, service_error::ErrorKind::Unauthenticated, "{err}");
        let err = refused.doctor("primary", true).await.unwrap_err();
        assert_eq!(err.kind, service_error::ErrorKind::Unauthenticated, "{err}");
        let err = refused.confirm_removals("primary", "x", None, "intruder").await.unwrap_err();
        assert_eq!(err.kind, service_error::ErrorKind::Unauthenticated, "{err}");
        let err = refused.start_resync("primary", "intruder").await.unwrap_err();
        assert_eq!(err.kind, service_error::ErrorKind::Unauthenticated, "{err}");
    }
    let state = client(app.adapter_secret.clone()).resync("primary").await.unwrap();
    assert_eq!(state.instance, "primary");
    app.shutdown().await;
}
