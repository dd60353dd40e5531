//! `scim-connector audit verify` as an operator runs it: the key from its variable, the exported
//! heads from their file, an exit code that says whether the log is intact.

use audit::record::{Columns, NewRecord, RecordKind};
use audit::{AuditStore, ChainKey};
use std::path::Path;
use std::process::{Command, Output};

const KEY: &str = "e2e-audit-chain-key-0123456789abcdef-0123";

fn verify(dir: &Path, key: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scim-connector"))
        .env_clear()
        .current_dir(dir)
        .env("SCIMC_DATA_DIR", dir.join("data"))
        .env("SCIMC_AUDIT_KEY", key)
        .args(["audit", "--audit-head-file", "heads.jsonl", "verify"])
        .output()
        .expect("the binary runs")
}

/// A database of `n` records written with the key, and its head exported to `heads.jsonl`.
fn audit_log(dir: &Path, n: u64) {
    let store =
        AuditStore::open(&AuditStore::path_in(&dir.join("data")), Some(ChainKey::from_text(KEY).unwrap())).unwrap();
    let records: Vec<NewRecord> = (1..=n)
        .map(|i| NewRecord {
            event_id: format!("e{i}"),
            occurred_at: 1_700_000_000_000_000,
            kind: RecordKind::ScimCall,
            columns: Columns { status: Some(200), ..Columns::default() },
            trace_context: Default::default(),
            event: serde_json::json!({"n": i}),
        })
        .collect();
    store.append(&records).unwrap();
    audit::heads::append(&dir.join("heads.jsonl"), &store.stats().unwrap().head).unwrap();
}

#[test]
fn audit_verify_checks_the_chain_with_the_key_and_the_exported_heads() {
    let dir = tempfile::tempdir().unwrap();
    audit_log(dir.path(), 5);
    let intact = verify(dir.path(), KEY);
    let stdout = String::from_utf8_lossy(&intact.stdout);
    assert!(intact.status.success(), "{stdout}{}", String::from_utf8_lossy(&intact.stderr));
    assert!(stdout.contains("5 records checked") && stdout.contains("1 exported heads"), "{stdout}");

    let wrong_key = verify(dir.path(), "another-key-of-enough-length-0123456789abcdef");
    assert!(!wrong_key.status.success());
    assert!(String::from_utf8_lossy(&wrong_key.stdout).contains("BROKEN at record 1"));

    let conn = rusqlite::Connection::open(AuditStore::path_in(&dir.path().join("data"))).unwrap();
    conn.execute_batch("DROP TRIGGER records_refuse_update; UPDATE records SET status = 500 WHERE seq = 3;").unwrap();
    let tampered = verify(dir.path(), KEY);
    assert!(!tampered.status.success());
    assert!(String::from_utf8_lossy(&tampered.stdout).contains("BROKEN at record 3"));
}
