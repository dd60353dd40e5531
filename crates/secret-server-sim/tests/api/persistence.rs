//! State in the data directory survives a clean restart, an abort without the final snapshot,
//! a torn journal line and a real `kill -9`; seeds apply only to a fresh directory.

use crate::helpers::TestSim;
use reqwest::StatusCode;
use secret_server_sim::{GenerateSpec, Seed, SimConfig, generate_data_dir, spawn};
use serde_json::json;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

fn config(dir: &Path) -> SimConfig {
    SimConfig { data_dir: Some(dir.to_owned()), ..SimConfig::for_tests() }
}

/// Makes a few changes of every kind; returns (user, group, folder, permission, deleted group).
async fn mutate(t: &TestSim) -> (i64, i64, i64, i64, i64) {
    let user = t.create_user("persisted.user").await;
    let group = t.create_group("Persisted Group").await;
    let (status, _) = t.post(&format!("/groups/{group}/users"), json!({"userId": user})).await;
    assert_eq!(status, StatusCode::OK);
    let folder = t.create_folder("Persisted Folder", -1, false).await;
    let (status, perm) = t
        .post("/folder-permissions", json!({"folderId": folder, "groupId": group, "folderAccessRoleName": "Edit", "secretAccessRoleName": "View"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{perm}");
    let (status, _) = t.post(&format!("/groups/{group}/roles"), json!({"roleIds": [2]})).await;
    assert_eq!(status, StatusCode::OK);
    let doomed = t.create_group("Doomed").await;
    assert_eq!(t.delete(&format!("/groups/{doomed}")).await.0, StatusCode::OK);
    let (status, _) =
        t.patch(&format!("/users/{user}"), json!({"displayName": {"dirty": true, "value": "Renamed Once"}})).await;
    assert_eq!(status, StatusCode::OK);
    (user, group, folder, perm["id"].as_i64().unwrap(), doomed)
}

async fn verify(t: &TestSim, (user, group, folder, perm, doomed): (i64, i64, i64, i64, i64)) {
    assert_eq!(t.ok(&format!("/users/{user}")).await["displayName"], "Renamed Once");
    assert_eq!(t.ok(&format!("/groups/{group}/users/{user}")).await["groupName"], "Persisted Group");
    assert_eq!(t.ok(&format!("/folders/{folder}")).await["folderPath"], "\\Persisted Folder");
    assert_eq!(t.ok(&format!("/folder-permissions/{perm}")).await["folderAccessRoleName"], "Edit");
    assert_eq!(t.ok(&format!("/groups/{group}/roles")).await["records"][0]["name"], "User", "role assignments persist");
    assert_eq!(t.get(&format!("/groups/{doomed}")).await.0, StatusCode::BAD_REQUEST, "the deletion persisted");
    let next = t.create_group("After Restart").await;
    assert!(next > doomed, "ids are never reused: {next} after {doomed}");
}

#[tokio::test]
async fn state_survives_a_clean_restart_and_the_seed_is_not_applied_again() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestSim::spawn_with(config(dir.path())).await;
    let ids = mutate(&t).await;
    let counts = t.sim.counts();
    t.sim.shutdown().await;
    assert!(dir.path().join("snapshot.json").exists());

    let t = TestSim::spawn_with(config(dir.path())).await;
    assert_eq!(t.sim.counts(), counts, "the demo seed was not loaded a second time");
    verify(&t, ids).await;
    t.sim.shutdown().await;
}

#[tokio::test]
async fn state_survives_an_abort_without_the_final_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestSim::spawn_with(config(dir.path())).await;
    let ids = mutate(&t).await;
    t.sim.abort().await;

    let t = TestSim::spawn_with(config(dir.path())).await;
    verify(&t, ids).await;
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_torn_last_journal_line_is_dropped_and_the_rest_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestSim::spawn_with(config(dir.path())).await;
    let ids = mutate(&t).await;
    t.sim.abort().await;
    let mut journal = std::fs::OpenOptions::new().append(true).open(dir.path().join("journal.jsonl")).unwrap();
    journal.write_all(br#"{"seq":99999,"changes":[{"op":"putGroup","id":"#).unwrap();
    drop(journal);

    let t = TestSim::spawn_with(config(dir.path())).await;
    verify(&t, ids).await;
    t.sim.shutdown().await;
    let text = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
    assert!(!text.contains("99999"), "the torn line is gone");
}

#[tokio::test]
async fn compaction_keeps_the_journal_short_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestSim::spawn_with(SimConfig { compact_after: 5, ..config(dir.path()) }).await;
    let journal = dir.path().join("journal.jsonl");
    let snapshot_len = std::fs::metadata(dir.path().join("snapshot.json")).unwrap().len();
    // A journal is compacted once it holds `compact_after` records and has grown as large as the
    // snapshot: create groups until it has, and a few more.
    let mut ids = Vec::new();
    while std::fs::metadata(&journal).unwrap().len() < snapshot_len {
        ids.push(t.create_group(&format!("Compacted {}", ids.len())).await);
        assert!(ids.len() < 10_000, "the journal grows with each change");
    }
    for _ in 0..5 {
        ids.push(t.create_group(&format!("Compacted {}", ids.len())).await);
    }
    // Compaction runs in the background: wait for the journal to be restarted.
    let mut lines = usize::MAX;
    for _ in 0..100 {
        lines = std::fs::read_to_string(&journal).unwrap().lines().count();
        if lines < ids.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(lines < ids.len(), "the journal was compacted ({lines} lines after {} changes)", ids.len());
    t.sim.abort().await;

    let t = TestSim::spawn_with(config(dir.path())).await;
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(t.ok(&format!("/groups/{id}")).await["name"], format!("Compacted {n}"));
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn two_emulators_cannot_share_a_data_directory() {
    let dir = tempfile::tempdir().unwrap();
    let t = TestSim::spawn_with(config(dir.path())).await;
    let second = spawn(config(dir.path())).await;
    let message = format!("{:#}", second.expect_err("the directory is locked"));
    assert!(message.contains("in use"), "{message}");
    t.sim.shutdown().await;
}

#[tokio::test]
async fn a_seed_file_is_loaded_into_a_fresh_directory_and_bad_seeds_name_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(
        &seed,
        r#"{"users":[{"userName":"sam"}],"groups":[{"name":"Crew","members":["sam"]}],
            "folders":[{"path":"\\Ops\\Keys","permissions":[{"group":"Crew","folderAccessRoleName":"View","secretAccessRoleName":"List"},
                {"apiAccount":true,"folderAccessRoleName":"Owner","secretAccessRoleName":"Owner"}]}],
            "secrets":[{"name":"ops key","folder":"\\Ops\\Keys","template":"Password"}]}"#,
    )
    .unwrap();
    let t = TestSim::spawn_with(SimConfig { seed: Seed::File(seed.clone()), ..config(&dir.path().join("data")) }).await;
    let crew = t.group_id("Crew").await;
    assert_eq!(t.ok(&format!("/groups/{crew}/users")).await["records"][0]["userName"], "sam");
    let keys = t.folder_id("\\Ops\\Keys").await;
    assert_eq!(
        t.ok(&format!("/folder-permissions?filter.folderId={keys}")).await["total"],
        2,
        "Crew and the API account"
    );
    assert_eq!(t.ok(&format!("/secrets?filter.folderId={keys}")).await["records"][0]["name"], "ops key");
    t.sim.shutdown().await;

    std::fs::write(&seed, r#"{"groups":[{"name":"Crew","members":["nobody"]}]}"#).unwrap();
    let err = spawn(SimConfig { seed: Seed::File(seed), ..SimConfig::for_tests() }).await.expect_err("a bad seed");
    assert!(format!("{err:#}").contains("groups[0].members[0]"), "{err:#}");
}

#[tokio::test]
async fn a_generated_data_directory_is_served_with_the_api_account_added() {
    let dir = tempfile::tempdir().unwrap();
    let spec = GenerateSpec {
        users: 500,
        groups: 40,
        memberships: 2_000,
        folders: 60,
        permissions_per_folder: 2,
        secrets: 100,
        rng_seed: 3,
    };
    let counts = generate_data_dir(&spec, dir.path(), false).unwrap();
    assert_eq!((counts.users, counts.memberships, counts.folders), (500, 2_000, 60));
    let again = generate_data_dir(&spec, dir.path(), false).expect_err("a directory with state is not overwritten");
    assert!(format!("{again:#}").contains("already holds state"));

    let t = TestSim::spawn_with(config(dir.path())).await;
    assert_eq!(t.sim.counts().users, 501, "the generated users and the API account");
    assert_eq!(t.sim.counts().memberships, 2_000);
    t.sim.shutdown().await;
    generate_data_dir(&spec, dir.path(), true).expect("--replace overwrites");
}

const CHILD_DIR_VAR: &str = "SECRET_SERVER_SIM_CHILD_DATA_DIR";

/// The child process of the `kill -9` test: serves on the data directory until killed.
#[tokio::test]
#[ignore = "the child process of state_survives_kill_9_of_the_process; run by that test"]
async fn sim_child_process() {
    let dir = std::env::var(CHILD_DIR_VAR).expect("run by state_survives_kill_9_of_the_process");
    let sim = spawn(config(Path::new(&dir))).await.unwrap();
    println!("SIM-LISTENING {}", sim.addr());
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn state_survives_kill_9_of_the_process() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["persistence::sim_child_process", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_VAR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let addr = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest prints "test <name> ... " on the same line first.
        .find_map(|line| line.split_once("SIM-LISTENING ").map(|(_, addr)| addr.trim().to_owned()))
        .expect("the child reports its address");

    // Talk to the child over HTTP with the same helpers, by pointing a config at its address.
    // reqwest is built without a default TLS provider; under nextest this test runs alone in its
    // process, so nothing else has installed one yet.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let base = format!("http://{addr}/SecretServer");
    let grant = test_support::emulator::grant_at(
        &http,
        &base,
        secret_server_sim::TEST_API_USERNAME,
        secret_server_sim::TEST_API_PASSWORD,
    )
    .await;
    let token = test_support::emulator::access_token(&grant);
    let created: serde_json::Value = test_support::json_of(
        http.post(format!("{base}/api/v1/groups"))
            .bearer_auth(&token)
            .json(&json!({"name": "Survivor", "enabled": true})),
    )
    .await;
    let id = created["id"].as_i64().unwrap();

    child.kill().unwrap(); // SIGKILL: no shutdown, no final snapshot.
    child.wait().unwrap();

    let t = TestSim::spawn_with(config(dir.path())).await;
    assert_eq!(t.ok(&format!("/groups/{id}")).await["name"], "Survivor");
    t.sim.shutdown().await;
}
