//! `scim-connector audit`: the audit service, and its offline commands (verify, export, prune).

use crate::cli::{AuditArgs, AuditCommand};
use crate::config::{Config, read_secret_file};
use crate::keys::{self, Missing};
use crate::resolve::Common;
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use std::process::ExitCode;

/// The fewest characters an admin token may have: it opens the admin API (every connection's
/// credentials) and the audit log, and is checked by a fast hash, so it must be too long to guess.
pub(crate) const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// Refuses an admin token shorter than [`MIN_ADMIN_TOKEN_CHARS`], naming `setting` in one line.
///
/// # Errors
/// A token that is too short.
pub(crate) fn check_admin_token_length(token: &SecretString, setting: &str) -> anyhow::Result<()> {
    let chars = token.expose_secret().chars().count();
    anyhow::ensure!(
        chars >= MIN_ADMIN_TOKEN_CHARS,
        "invalid setting {setting}: the admin token has {chars} characters, it needs at least \
         {MIN_ADMIN_TOKEN_CHARS} (make one with `openssl rand -hex 32`)"
    );
    Ok(())
}

/// The SHA-256 hex digests of every admin token the configuration accepts: `admin_token_sha256`,
/// and the digest of `admin_token` (or of the token in `admin_token_file`).
///
/// # Errors
/// An admin token file that cannot be read, or an admin token in clear shorter than
/// [`MIN_ADMIN_TOKEN_CHARS`].
pub(super) fn admin_token_hashes(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut hashes: Vec<String> =
        config.admin_token_sha256.iter().map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty()).collect();
    if let Some(token) = admin_token(config)? {
        let setting = if config.admin_token.is_some() { "admin_token (SCIMC_ADMIN_TOKEN)" } else { "admin_token_file" };
        check_admin_token_length(&token, setting)?;
        hashes.push(connections::credentials::sha256_hex(token.expose_secret()));
    }
    hashes.sort();
    hashes.dedup();
    Ok(hashes)
}

/// The admin token in clear, from `admin_token` or else `admin_token_file`.
///
/// # Errors
/// An admin token file that cannot be read, or is empty.
pub(super) fn admin_token(config: &Config) -> anyhow::Result<Option<SecretString>> {
    match (&config.admin_token, &config.admin_token_file) {
        (Some(token), _) => Ok(Some(token.clone())),
        (None, Some(path)) => read_secret_file(path).context("admin_token_file").map(Some),
        (None, None) => Ok(None),
    }
}

/// The audit service's settings from the resolved configuration.
///
/// # Errors
/// An admin token file that cannot be read.
pub(super) fn audit_settings(common: &Common, config: &Config) -> anyhow::Result<audit::AuditSettings> {
    Ok(audit::AuditSettings {
        data_dir: common.data_dir.clone(),
        listen: config.audit.listen,
        admin_token_sha256: admin_token_hashes(config)?,
        retention: config.audit.retention,
        head_file: config.audit.head_file.clone(),
        head_interval: config.audit.head_interval,
        batch_linger: config.audit.batch_linger,
        tls: crate::config::server_tls("audit.tls", config.audit.tls_cert.as_ref(), config.audit.tls_key.as_ref())?,
        ..audit::AuditSettings::default()
    })
}

pub(super) async fn run(common: &Common, config: &Config, args: AuditArgs, print: bool) -> anyhow::Result<ExitCode> {
    let mut settings = audit_settings(common, config)?;
    let path = settings.database_path();
    match args.command.unwrap_or(AuditCommand::Run) {
        AuditCommand::Run => {
            settings.key = Some(keys::audit_key(config, Missing::Refuse)?);
            if print {
                return Ok(super::print_config("audit", &settings));
            }
            common.require_redis("audit")?;
            let _telemetry = super::init_telemetry(common, "scim-audit")?;
            if settings.admin_token_sha256.is_empty() {
                tracing::warn!(
                    "no admin token configured (SCIMC_ADMIN_TOKEN_SHA256): the audit API refuses every request"
                );
            }
            let backends = common.queue().await?;
            audit::run(settings, backends.events, crate::shutdown::on_signal(common.shutdown_grace)).await?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify => {
            let key = keys::audit_key(config, Missing::Read(&common.data_dir))?;
            let heads = settings.heads_path();
            let heads_shown = heads.display().to_string();
            let pruning = settings.pruning();
            let report = tokio::task::spawn_blocking(move || audit::verify(&path, &key, &heads, pruning)).await??;
            match &report.first_broken {
                None => {
                    println!(
                        "audit log intact: {} records checked with the key; {} exported heads (in {heads_shown}) match",
                        report.records_checked, report.heads_checked
                    );
                    if report.unkeyed_records > 0 {
                        println!(
                            "note: the first {} records, written before the chain was keyed (up to record {}), are \
                             checked with unkeyed SHA-256: they are bound by the keyed records after them",
                            report.unkeyed_records,
                            report.keyed_from.saturating_sub(1)
                        );
                    }
                    if report.heads_checked == 0 && report.head.seq > 0 {
                        println!("note: no exported head to compare with: keep {heads_shown} (or the log's heads)");
                    }
                    Ok(ExitCode::SUCCESS)
                }
                Some(broken) => {
                    println!("audit log BROKEN at record {}: {}", broken.seq, broken.reason);
                    println!("({} records checked)", report.records_checked);
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        AuditCommand::Export(export) => {
            let filter = audit::RecordFilter {
                from: export.from.as_deref().map(parse_time).transpose().context("--from")?,
                to: export.to.as_deref().map(parse_time).transpose().context("--to")?,
                connection: export.connection.clone(),
                ..audit::RecordFilter::default()
            };
            let count = tokio::task::spawn_blocking(move || {
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                audit::export(&path, &filter, &mut out)
            })
            .await??;
            eprintln!("exported {count} records");
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Prune => {
            let retention =
                settings.retention.context("no retention configured (--retention or SCIMC_AUDIT_RETENTION)")?;
            let report = tokio::task::spawn_blocking(move || audit::prune(&path, retention)).await??;
            println!("removed {} records", report.removed);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn parse_time(text: &str) -> anyhow::Result<i64> {
    audit::parse_rfc3339_micros(text).map_err(anyhow::Error::msg)
}
