//! The binary's configuration, as an operator meets it: a file, environment variables and flags,
//! layered the same way for every setting, checked through `--print-config`.

use std::process::{Command, Output};

/// Runs `scim-connector` with only the given variables (none of the test process's own).
fn connector(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scim-connector"));
    command.env_clear().current_dir(dir).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the binary runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn a_variable_wins_over_the_file_and_a_flag_over_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[gateway]\nmax_body_bytes = 10\njob_timeout = \"7s\"\n").unwrap();
    let print = ["--config", "c.toml", "gateway", "--print-config"];
    let key = ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEY);
    let variable = [("SCIMC_GATEWAY_MAX_BODY_BYTES", "20"), key];

    let from_file = stdout(&connector(dir.path(), &[key], &print));
    assert!(from_file.contains("max_body_bytes: 10,"), "{from_file}");
    assert!(from_file.contains("job_deadline: 7s,"), "{from_file}");
    assert!(from_file.contains("bulk_max_operations: 1000,"), "the default where nothing is said: {from_file}");

    let from_variable = stdout(&connector(dir.path(), &variable, &print));
    assert!(from_variable.contains("max_body_bytes: 20,"), "{from_variable}");
    assert!(from_variable.contains("job_deadline: 7s,"), "the file still gives the rest: {from_variable}");

    let from_flag = stdout(&connector(dir.path(), &variable, &[&print[..], &["--max-body-bytes", "30"]].concat()));
    assert!(from_flag.contains("max_body_bytes: 30,"), "{from_flag}");
}

#[test]
fn an_invalid_variable_stops_the_start_with_one_line_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let output = connector(dir.path(), &[("SCIMC_ADAPTER_WORKERS", "many")], &["adapter", "--print-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("--workers") && stderr.contains("SCIMC_ADAPTER_WORKERS"), "{stderr}");
    assert!(stderr.contains("adapter.workers"), "{stderr}");
}

#[test]
fn an_invalid_key_in_the_file_stops_the_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), "[audit]\nretention = \"forever\"\n").unwrap();
    let output = connector(dir.path(), &[], &["--config", "c.toml", "audit", "--print-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("audit.retention"), "{stderr}");
}

#[test]
fn print_config_shows_the_primary_instance_from_the_variables_without_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SECRET_SERVER_URL", "https://vault.example.com/SecretServer"),
        ("SECRET_SERVER_USERNAME", "svc-scim"),
        ("SECRET_SERVER_PASSWORD", "hunter2-secret-server"),
        ("SECRET_SERVER_REQUEST_TIMEOUT", "45s"),
        ("REDIS_URL", "redis://:hunter2-redis@127.0.0.1:6379"),
        ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEY),
        ("SCIMC_ADAPTER_SECRET", "hunter2-adapter-secret-0123456789abcdef"),
    ];
    let printed = stdout(&connector(dir.path(), &env, &["adapter", "--print-config"]));
    assert!(printed.contains("\"svc-scim\"") && printed.contains("request_timeout: 45s"), "{printed}");
    assert!(!printed.contains("hunter2"), "{printed}");
    assert!(printed.contains("\"k1\"") && !printed.contains(&JOB_KEY[3..]), "the key's id, never the key: {printed}");
}

/// A job encryption key (`k1`, 32 bytes of base64).
pub(crate) const JOB_KEY: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

#[test]
fn a_deployed_gateway_adapter_or_audit_without_its_key_refuses_to_start_with_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    for (role, setting) in [
        ("gateway", "SCIMC_JOB_ENCRYPTION_KEYS"),
        ("adapter", "SCIMC_JOB_ENCRYPTION_KEYS"),
        ("audit", "SCIMC_AUDIT_KEY"),
    ] {
        let output = connector(dir.path(), &[], &[role, "--print-config"]);
        assert!(!output.status.success(), "{role} starts without its key");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(setting), "{role}: {stderr}");
    }
}

#[test]
fn redis_settings_are_checked_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let env = [("SCIMC_REDIS_TLS_CA_FILE", "ca.pem"), ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEY)];
    let output = connector(dir.path(), &env, &["gateway", "--print-config"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("redis_tls_ca_file"), "{stderr}");
}

#[test]
fn an_admin_token_shorter_than_32_characters_stops_the_start_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    for role in ["gateway", "audit"] {
        let output = connector(dir.path(), &[("SCIMC_ADMIN_TOKEN", "dev-admin-token")], &[role, "--print-config"]);
        assert!(!output.status.success(), "{role} started with a 15-character admin token");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("admin_token") && stderr.contains("at least 32"), "{stderr}");
    }
    std::fs::write(dir.path().join("admin-token"), "short-but-in-a-file\n").unwrap();
    let output = connector(dir.path(), &[("SCIMC_ADMIN_TOKEN_FILE", "admin-token")], &["gateway", "--print-config"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("admin_token_file"));
    let long = "0123456789abcdef0123456789abcdef";
    let output = connector(
        dir.path(),
        &[("SCIMC_ADMIN_TOKEN", long), ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEY)],
        &["gateway", "--print-config"],
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}
