//! `chaos`: runs the chaos harness (see the `chaos` library) and prints what it did.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The chaos harness: every role in its own process, faults, then what the clients were told
/// compared with Secret Server, SCIM reads and the audit log.
#[derive(Debug, Parser)]
struct Args {
    /// The scenario.
    #[arg(long, value_enum, default_value = "chaos")]
    scenario: chaos::Scenario,
    /// The CI form: a short load (overrides --duration and --clients).
    #[arg(long)]
    short: bool,
    /// How long the clients run.
    #[arg(long, default_value = "150s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Concurrent SCIM clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// The scim-connector binary (default: the workspace's debug build).
    #[arg(long)]
    binary: Option<PathBuf>,
    /// Keep the run's logs and data even when it passes.
    #[arg(long)]
    keep: bool,
    /// Only report successful SCIM writes without a call record in the audit log (by default they
    /// fail the run).
    #[arg(long)]
    call_records_reported_only: bool,
}

fn default_binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("debug/scim-connector")
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let (duration, clients) = if args.short { (Duration::from_secs(45), 6) } else { (args.duration, args.clients) };
    let options = chaos::Options {
        binary: args.binary.unwrap_or_else(default_binary),
        scenario: args.scenario,
        duration,
        clients,
        keep: args.keep,
        require_call_records: !args.call_records_reported_only,
    };
    match chaos::run(&options).await {
        Ok(report) => {
            println!(
                "chaos {:?}: passed in {:.0?}: {} SCIM calls, {} writes answered 2xx ({} call records), {} users, {} calls \
                 given up after retries; nothing lost, doubled or wrong, every change audited",
                options.scenario,
                report.elapsed,
                report.calls,
                report.writes_told,
                report.call_records,
                report.users,
                report.gave_up
            );
            if !report.ready_again.is_empty() {
                println!("chaos {:?}: adapters ready again after {:.1?}", options.scenario, report.ready_again);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("chaos {:?}: FAILED: {e:#}", options.scenario);
            ExitCode::FAILURE
        }
    }
}
