//! The harness's command line, before it starts anything. (These tests also make `cargo test` build
//! the `chaos` binary with the tests' features, which `scripts/test.sh` then runs.)

use std::process::Command;

#[test]
fn a_connector_binary_that_does_not_exist_is_refused_with_how_to_build_it() {
    let missing = std::env::temp_dir().join(format!("chaos-cli-{}", std::process::id())).join("scim-connector");

    let output = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["--short", "--scenario", "chaos", "--binary"])
        .arg(&missing)
        .output()
        .expect("the chaos binary runs");

    assert!(!output.status.success(), "the run fails");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("does not exist"), "it says why: {stderr}");
    assert!(stderr.contains("cargo build -p connector"), "and how to build it: {stderr}");
}

#[test]
fn an_unknown_scenario_is_refused_with_the_known_ones() {
    let output = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args(["--scenario", "meteor"])
        .output()
        .expect("the chaos binary runs");

    assert_eq!(output.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("chaos") && stderr.contains("rolling"), "it lists the scenarios: {stderr}");
}
