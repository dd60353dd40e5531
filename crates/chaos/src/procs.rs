//! The processes of a run: a Redis server with an append-only file, and each role of the
//! `scim-connector` binary (emulator, adapters, gateway, audit), each on free ports, with its logs
//! in the run's directory. They can be killed (`SIGKILL`), stopped (`SIGTERM`, waiting for the
//! exit) and started again on the same ports and data.

use anyhow::{Context, bail};
use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// A free port on the loopback interface.
///
/// # Errors
/// When no port can be bound.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?.local_addr()?.port())
}

/// One process the harness runs, restartable with the same command line.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    program: PathBuf,
    args: Vec<String>,
    env: BTreeMap<String, String>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    /// A process of `program` with `args` and `env` (nothing else of the harness's environment but
    /// `PATH`), logging to `<dir>/<name>.log`; not started.
    pub fn new(name: &str, program: &Path, args: &[&str], env: &[(&str, String)], dir: &Path) -> Self {
        Self {
            name: name.to_owned(),
            program: program.to_owned(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            env: env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect(),
            log: dir.join(format!("{name}.log")),
            child: None,
        }
    }

    /// Starts it (its log appended to).
    ///
    /// # Errors
    /// When the program cannot be started.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log)?;
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(&self.env)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        self.child = Some(command.spawn().with_context(|| format!("cannot start {}", self.name))?);
        Ok(())
    }

    /// `kill -9`: no chance to finish anything.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// `SIGTERM`, then waits for the exit (a `SIGKILL` after `grace`).
    ///
    /// # Errors
    /// When the signal cannot be sent.
    pub async fn stop(&mut self, grace: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if let Some(pid) = child.id() {
            let status = Command::new("kill").arg("-TERM").arg(pid.to_string()).status().await?;
            if !status.success() {
                bail!("kill -TERM {pid} ({}) failed", self.name);
            }
        }
        if tokio::time::timeout(grace, child.wait()).await.is_err() {
            eprintln!("chaos: {} did not exit within {grace:?} of SIGTERM; killed", self.name);
            let _ = child.kill().await;
        }
        Ok(())
    }

    /// The last lines of its log (for a failure report).
    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// Waits until `url` answers 2xx.
///
/// # Errors
/// When `patience` passes first.
pub async fn wait_http_ok(http: &reqwest::Client, url: &str, patience: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if http.get(url).send().await.is_ok_and(|r| r.status().is_success()) {
            return Ok(());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("{url} did not answer 2xx within {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until something accepts connections on `port`.
///
/// # Errors
/// When `patience` passes first.
pub async fn wait_port(port: u16, patience: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + patience;
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        if tokio::time::Instant::now() > deadline {
            bail!("nothing listens on port {port} after {patience:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A Redis server with an append-only file synced at every write, so that a `kill -9` loses no
/// acknowledged write.
pub fn redis(dir: &Path, port: u16) -> anyhow::Result<Proc> {
    let data = dir.join("redis");
    std::fs::create_dir_all(&data)?;
    let data = data.to_str().context("the run directory is not UTF-8")?.to_owned();
    let port = port.to_string();
    Ok(Proc::new(
        "redis",
        Path::new("redis-server"),
        &[
            "--port",
            &port,
            "--bind",
            "127.0.0.1",
            "--dir",
            &data,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ],
        &[],
        dir,
    ))
}
