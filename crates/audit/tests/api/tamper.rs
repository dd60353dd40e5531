use crate::helpers::{TestApp, record_n, spawn_app};
use rusqlite::Connection;

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
    let report = audit::verify(&app.db_path()).unwrap();
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
    let report = audit::verify(&app.db_path()).unwrap();
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
    let broken = audit::verify(&app.db_path()).unwrap().first_broken.expect("the edit is found");
    assert_eq!(broken.seq, 3);
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_a_deleted_record() {
    let app = app_with_records(10).await;
    tamper(&app, "DROP TRIGGER records_refuse_delete; DELETE FROM records WHERE seq = 6;");
    let broken = audit::verify(&app.db_path()).unwrap().first_broken.expect("the deletion is found");
    assert_eq!(broken.seq, 6);
    assert!(broken.reason.contains("missing"), "{}", broken.reason);
    app.stop().await;
}

#[tokio::test]
async fn verify_finds_records_removed_from_the_end() {
    let app = app_with_records(10).await;
    tamper(&app, "DROP TRIGGER records_refuse_delete; DELETE FROM records WHERE seq >= 9;");
    let broken = audit::verify(&app.db_path()).unwrap().first_broken.expect("the truncation is found");
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
    let broken = audit::verify(&app.db_path()).unwrap().first_broken.expect("the reordering is found");
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
    assert!(audit::verify(&app.db_path()).unwrap().is_intact());
    app.stop().await;
}

#[tokio::test]
async fn verify_of_a_missing_database_is_an_error_not_an_empty_chain() {
    let dir = tempfile::tempdir().unwrap();
    let error = audit::verify(&dir.path().join("audit/audit.db")).unwrap_err();
    assert!(matches!(error, audit::StoreError::Missing(_)), "{error}");
    assert!(!dir.path().join("audit/audit.db").exists());
}
