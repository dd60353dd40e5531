use crate::helpers::{memory_bus, record_n, spawn_app, spawn_app_with};
use std::time::{Duration, Instant};

#[tokio::test]
async fn pruning_a_prefix_keeps_the_chain_verifiable_and_numbering_continues() {
    let app = spawn_app().await;
    record_n(&app, 10).await;
    let fifth = app.store().get(5).unwrap().unwrap();
    let cutoff = audit::parse_rfc3339_micros(&fifth.recorded_at).unwrap();
    let report = app.store().prune_recorded_before(cutoff).unwrap();
    assert!((1..=4).contains(&report.removed), "{report:?}");
    assert_eq!(report.anchor.seq, report.removed);
    let first = app.store().get(report.removed + 1).unwrap().unwrap();
    assert_eq!(first.prev_hash, report.anchor.hash, "the first kept record links to the anchor");
    assert!(app.store().get(report.removed).unwrap().is_none());

    let verified = app.verify();
    assert!(verified.is_intact(), "{verified:?}");
    assert_eq!(verified.records_checked, 10 - report.removed);

    record_n(&app, 2).await;
    assert_eq!(app.store().stats().unwrap().head.seq, 12);
    assert!(app.verify().is_intact());
    app.stop().await;
}

#[tokio::test]
async fn prune_from_the_command_line_removes_everything_older_and_verify_stays_green() {
    let app = spawn_app().await;
    record_n(&app, 6).await;
    let report = audit::prune(&app.db_path(), Duration::ZERO).unwrap();
    assert_eq!(report.removed, 6);
    assert_eq!(report.anchor.seq, 6);
    let verified = app.verify();
    assert!(verified.is_intact(), "{verified:?}");
    assert_eq!(verified.records_checked, 0);
    record_n(&app, 1).await;
    assert_eq!(app.seqs("").await, vec![7]);
    assert!(app.verify().is_intact());
    app.stop().await;
}

#[tokio::test]
async fn the_retention_task_removes_old_records_in_the_background() {
    let app = spawn_app_with(memory_bus(), |s| {
        s.retention = Some(Duration::from_millis(300));
        s.retention_interval = Duration::from_millis(100);
    })
    .await;
    record_n(&app, 5).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.store().stats().unwrap().records > 0 {
        assert!(Instant::now() < deadline, "retention did not run");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let verified = app.get_json("/audit/v1/verify").await;
    assert_eq!(verified["intact"], true, "{verified}");
    assert_eq!(verified["anchor"]["seq"], 5);
    app.stop().await;
}
