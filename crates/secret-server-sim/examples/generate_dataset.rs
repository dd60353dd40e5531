//! Generates the large data set into a temporary data directory and
//! reports how long generation, the snapshot and a cold start take:
//! `cargo run --release -p secret-server-sim --example generate_dataset [users groups memberships folders]`.

use secret_server_sim::{GenerateSpec, SimConfig, generate_data_dir, spawn};
use std::time::Instant;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse()).collect::<Result<_, _>>()?;
    let mut spec = GenerateSpec::default();
    if let [users, groups, memberships, folders, ..] = args[..] {
        spec = GenerateSpec { users, groups, memberships, folders, ..spec };
    }
    let dir = tempfile::tempdir()?;
    let started = Instant::now();
    let counts = generate_data_dir(&spec, dir.path(), false)?;
    let generated = started.elapsed();
    let snapshot = std::fs::metadata(dir.path().join("snapshot.json"))?.len();
    let started = Instant::now();
    let sim = spawn(SimConfig { data_dir: Some(dir.path().to_owned()), ..SimConfig::for_tests() }).await?;
    let loaded = started.elapsed();
    sim.shutdown().await;
    println!("{counts:?}");
    println!(
        "generate + snapshot: {generated:.2?}; snapshot {:.1} MiB; cold start (load + replay): {loaded:.2?}",
        snapshot as f64 / 1048576.0
    );
    Ok(())
}
