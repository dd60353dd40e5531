use crate::helpers::{TestApp, chain_key, keep_all, record_n, spawn_app};
use rusqlite::Connection;
use std::time::{Duration, Instant};

async fn app_with_records(n: u64) -> TestApp {
    let app = spawn_app().await;
    record_n(&app, n).await;
    app
}

/// Raw SQL on the database file, as an intruder with file access would do it.
fn tamper(app: &TestApp, sql: &str) {
    let conn = Connection::open(app.db_path()).unwrap();
    conn.execute_batch(sql).unwrap();
}

#[tokio::test]
async fn verify_reports_an_intact_chain() {
    let app = app_with_records(10).await;
    let report = app.verify();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.records_checked, 10);
    assert_eq!(report.head.seq, 10);
    let api = app.get_json("/audit/v1/verify").await;
    assert_eq!(api["intact"], true);
    assert_eq!(api["recordsChecked"], 10);
    assert!(api["firstBroken"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_a_record_modified_in_the_database() {
    let app = app_with_records(10).await;
    tamper(&app, "DROP TRIGGER records_refuse_update; UPDATE records SET status = 500 WHERE seq = 4;");
    let report = app.verify();
    let broken = report.first_broken.expect("the edit is found");
    assert_eq!(broken.seq, 4);
    assert!(broken.reason.contains("modified"), "{}", broken.reason);
    assert_eq!(report.records_checked, 4);

    let api = app.get_json("/audit/v1/verify").await;
    assert_eq!(api["intact"], false);
    assert_eq!(api["firstBroken"]["seq"], 4);
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_an_edited_event_body_even_with_a_recomputed_looking_hash_column() {
    let app = app_with_records(5).await;
    // Editing the stored event JSON and copying another record's hash does not pass either.
    tamper(
        &app,
        "DROP TRIGGER records_refuse_update; \
         UPDATE records SET event_json = replace(event_json, 'u2', 'u9'), hash = (SELECT hash FROM records WHERE seq = 2) WHERE seq = 3;",
    );
    let broken = app.verify().first_broken.expect("the edit is found");
    assert_eq!(broken.seq, 3);
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_a_deleted_record() {
    let app = app_with_records(10).await;
    tamper(&app, "DROP TRIGGER records_refuse_delete; DELETE FROM records WHERE seq = 6;");
    let broken = app.verify().first_broken.expect("the deletion is found");
    assert_eq!(broken.seq, 6);
    assert!(broken.reason.contains("missing"), "{}", broken.reason);
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_records_removed_from_the_end() {
    let app = app_with_records(10).await;
    tamper(&app, "DROP TRIGGER records_refuse_delete; DELETE FROM records WHERE seq >= 9;");
    let broken = app.verify().first_broken.expect("the truncation is found");
    assert_eq!(broken.seq, 9);
    assert!(broken.reason.contains("head"), "{}", broken.reason);
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_reordered_records() {
    let app = app_with_records(10).await;
    tamper(
        &app,
        "DROP TRIGGER records_refuse_update; \
         UPDATE records SET seq = -3 WHERE seq = 3; \
         UPDATE records SET seq = 3 WHERE seq = 7; \
         UPDATE records SET seq = 7 WHERE seq = -3;",
    );
    let broken = app.verify().first_broken.expect("the reordering is found");
    assert_eq!(broken.seq, 3);
    assert!(broken.reason.contains("prev_hash"), "{}", broken.reason);
    app.stop().await;
}

#[tokio::test]
async fn the_database_itself_refuses_updates_and_deletes() {
    let app = app_with_records(3).await;
    let conn = Connection::open(app.db_path()).unwrap();
    let update = conn.execute("UPDATE records SET status = 500 WHERE seq = 1", []).unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = conn.execute("DELETE FROM records WHERE seq = 1", []).unwrap_err();
    assert!(delete.to_string().contains("retention"), "{delete}");
    let anchor = conn.execute("UPDATE chain_meta SET seq = 0 WHERE name = 'head'", []).unwrap_err();
    assert!(anchor.to_string().contains("forward"), "{anchor}");
    assert!(app.verify().is_intact());
    app.stop().await;
}

#[tokio::test]
async fn verify_of_a_missing_database_is_an_error_not_an_empty_chain() {
    let dir = tempfile::tempdir().unwrap();
    let error =
        audit::verify(&dir.path().join("audit/audit.db"), &chain_key(), &dir.path().join("h"), keep_all()).unwrap_err();
    assert!(matches!(error, audit::StoreError::Missing(_)), "{error}");
    assert!(!dir.path().join("audit/audit.db").exists());
}

/// Waits until the service has exported a head at `seq` or later.
async fn wait_for_exported_head(app: &TestApp, seq: u64) -> audit::ExportedHead {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(head) = audit::heads::read(&app.heads_path()).unwrap().into_iter().last().filter(|h| h.seq >= seq) {
            return head;
        }
        assert!(Instant::now() < deadline, "no head at {seq} was exported");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_running_service_exports_the_chain_head_as_it_changes_and_verify_checks_it() {
    let app = app_with_records(5).await;
    let first = wait_for_exported_head(&app, 5).await;
    assert_eq!(first.hash, app.store().stats().unwrap().head.hash);
    record_n(&app, 3).await;
    wait_for_exported_head(&app, 8).await;
    let seqs: Vec<u64> = audit::heads::read(&app.heads_path()).unwrap().iter().map(|h| h.seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "one line per change of the head: {seqs:?}");

    let report = app.verify();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.heads_checked, seqs.len() as u64);
    let api = app.get_json("/audit/v1/verify").await;
    assert_eq!(api["intact"], true);
    assert_eq!(api["headsChecked"], seqs.len());
    assert_eq!(api["keyedFrom"], 1);
    app.stop().await;
}

#[tokio::test]
async fn verify_with_another_key_finds_the_first_record_broken() {
    let app = app_with_records(3).await;
    let (other, _) = audit::ChainKey::generate();
    let report = audit::verify(&app.db_path(), &other, &app.heads_path(), keep_all()).unwrap();
    assert_eq!(report.first_broken.expect("the key does not fit").seq, 1);
    app.stop().await;
}

#[tokio::test]
async fn records_deleted_by_hand_with_the_anchor_moved_after_them_break_the_chain_at_an_exported_head() {
    let app = app_with_records(5).await;
    wait_for_exported_head(&app, 5).await;
    record_n(&app, 5).await;
    wait_for_exported_head(&app, 10).await;
    // What retention does, done by hand an hour after the records were written, not 400 days.
    tamper(
        &app,
        "INSERT INTO prune_permit VALUES (8); DELETE FROM records WHERE seq <= 8; \
         UPDATE chain_meta SET seq = 8, hash = (SELECT prev_hash FROM records WHERE seq = 9) WHERE name = 'anchor'; \
         DELETE FROM prune_permit;",
    );
    let broken = app.verify().first_broken.expect("the exported head of record 5 tells");
    assert_eq!(broken.seq, 5);
    assert!(broken.reason.contains("was removed although no retention is set"), "{}", broken.reason);
    let a_year = audit::Pruning { retention: Some(Duration::from_secs(400 * 86_400)), ..keep_all() };
    let report = audit::verify(&app.db_path(), &chain_key(), &app.heads_path(), a_year).unwrap();
    assert!(report.first_broken.unwrap().reason.contains("did not allow it yet"));
    app.stop().await;
}
