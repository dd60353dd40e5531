//! Helpers shared by the integration tests: fixture loading.

#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

/// The path of a fixture file.
pub(crate) fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("fixtures").join(name)
}

/// A JSON fixture.
pub(crate) fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// A text fixture's non-empty, non-comment lines.
pub(crate) fn fixture_lines(name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"));
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}
