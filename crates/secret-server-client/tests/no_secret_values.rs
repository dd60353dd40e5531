//! Proof over the client's source that it cannot read a secret's field
//! values: every path is a template in `route.rs`, the only secrets templates
//! are the metadata ones, and no code names the value-bearing endpoints
//! (a secret by id alone, its fields, its restricted view) or the
//! `filter.extendedFields` search option.
//!
//! The contract suite proves the same from the other side: every request it
//! makes is in the emulator's log, and none of them reaches those endpoints.

use std::path::{Path, PathBuf};

/// The source files of the crate, read at run time so that a new module is
/// covered without editing this test.
fn source_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<(PathBuf, String)>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path, text));
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out
}

/// The code of a file without its comments: docs may name what the code
/// must not do.
fn code_only(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            // `//` inside a string literal (a URL) is code; this crate has
            // none outside tests, and a line comment always starts a token.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The code before the unit-test module: tests render sample paths but send nothing.
fn without_unit_tests(code: &str) -> &str {
    code.find("#[cfg(test)]\nmod tests").map_or(code, |at| &code[..at])
}

/// The string literals of `code`, skipping char literals and lifetimes.
fn string_literals(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut literals = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '"' => {
                let mut literal = String::new();
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    if let Some(&c) = chars.get(i) {
                        literal.push(c);
                    }
                    i += 1;
                }
                literals.push(literal);
            }
            '\'' if chars.get(i + 1) == Some(&'\\') => {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
            }
            '\'' if chars.get(i + 2) == Some(&'\'') => i += 2,
            _ => {}
        }
        i += 1;
    }
    literals
}

fn file_name(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(path).display().to_string()
}

#[test]
fn the_scan_reads_the_modules_that_build_requests() {
    let files: Vec<String> = source_files().iter().map(|(p, _)| file_name(p)).collect();
    for expected in ["src/route.rs", "src/client.rs", "src/query.rs", "src/endpoints/secrets.rs"] {
        assert!(files.iter().any(|f| f == expected), "{expected} not scanned: {files:?}");
    }
    // The same modules, fixed at compile time: the test cannot pass on an empty tree.
    for text in [
        include_str!("../src/route.rs"),
        include_str!("../src/client.rs"),
        include_str!("../src/query.rs"),
        include_str!("../src/endpoints/secrets.rs"),
    ] {
        assert!(text.contains("Route::") || text.contains("QueryPairs"));
    }
}

#[test]
fn no_code_names_a_value_bearing_endpoint_or_option() {
    let needles = ["/fields", "restricted", "extendedfields", "extended_fields", "itemvalue", "item_value"];
    for (path, text) in source_files() {
        let code = code_only(&text).to_ascii_lowercase();
        for needle in needles {
            assert!(!code.contains(needle), "{} mentions {needle:?} in code", file_name(&path));
        }
        assert!(!code.contains("fn get_secret("), "{} has a method fetching a secret", file_name(&path));
    }
}

#[test]
fn every_path_is_a_route_template_and_the_secrets_ones_are_metadata_only() {
    let mut templates = Vec::new();
    for (path, text) in source_files() {
        let code = code_only(&text);
        let code = without_unit_tests(&code);
        let in_route_module = file_name(&path) == "src/route.rs";
        for literal in string_literals(code) {
            let is_path = literal.starts_with("api/") || literal.starts_with("oauth2/") || literal.contains("secrets/");
            if is_path && !in_route_module {
                panic!("{} builds a path {literal:?} outside route.rs", file_name(&path));
            }
            if is_path || literal.starts_with("api/v1") {
                templates.push(literal);
            }
        }
    }
    assert!(templates.len() >= 15, "too few templates found: {templates:?}");
    let secrets: Vec<&str> =
        templates.iter().map(String::as_str).filter(|t| t.split('/').any(|s| s == "secrets")).collect();
    let mut sorted = secrets.clone();
    sorted.sort_unstable();
    // `general` is only written to (a move), and its answer is decoded into a model without the
    // fields' values (`secret_server_api::SecretGeneral`).
    assert_eq!(
        sorted,
        ["api/v1/secrets/lookup", "api/v1/secrets/{id}/general", "api/v1/secrets/{id}/summary", "api/v2/secrets"]
    );
}

#[test]
fn the_literal_scanner_skips_escapes_chars_and_lifetimes() {
    let code = r#"f("a\"b", '"', '\'', x::<'static>, "api/v1/users")"#;
    assert_eq!(string_literals(code), ["a\"b", "api/v1/users"]);
    assert_eq!(
        code_only("let x = 1; // api/v1/secrets/{id}\n/// doc\nlet y = \"//\";"),
        "let x = 1; \n\nlet y = \"//\";"
    );
}
