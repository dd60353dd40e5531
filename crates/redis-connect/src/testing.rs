//! Test support for the crates that run against Redis (feature `testing`): a private
//! `redis-server` on a free port (with AOF, TLS, or as a replica), `redis-sentinel` processes
//! watching it, and certificates made at test time with `rcgen` (never committed).
//!
//! Each process runs in a temporary directory and is killed when its handle drops. A missing
//! binary fails the test that needs it, loudly: tests never skip.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Waits until something accepts connections on `port` (a process starting), up to 20 s.
fn wait_for_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start listening on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(binary: &str, args: &[String], package: &str) -> Child {
    Command::new(binary).args(args).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap_or_else(|e| {
        panic!("this test starts its own {binary}, which must be on PATH (Debian package {package}): {e}")
    })
}

/// A private `redis-server`.
#[derive(Debug)]
pub struct RedisProcess {
    /// The port it listens on (the TLS port when it speaks TLS only).
    pub port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
    child: Option<Child>,
}

impl RedisProcess {
    /// A server on a free port, with the given extra arguments (`--appendonly yes`...).
    pub fn start(extra: &[&str]) -> Self {
        let port = free_port();
        let mut args: Vec<String> = ["--port", &port.to_string()].map(str::to_owned).to_vec();
        args.extend(extra.iter().map(|a| (*a).to_owned()));
        Self::start_with(port, args)
    }

    /// A server with AOF on and fsync at every write, so that it survives being killed.
    pub fn with_aof() -> Self {
        Self::start(&["--appendonly", "yes", "--appendfsync", "always"])
    }

    /// A server that speaks TLS only, with `pki`'s server certificate; when `client_certificates`
    /// it requires a client certificate signed by `pki`'s CA.
    pub fn with_tls(pki: &TestPki, client_certificates: bool) -> Self {
        let port = free_port();
        let auth = if client_certificates { "yes" } else { "no" };
        let mut args: Vec<String> =
            ["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", auth].map(str::to_owned).to_vec();
        for (flag, path) in [
            ("--tls-cert-file", &pki.server_cert),
            ("--tls-key-file", &pki.server_key),
            ("--tls-ca-cert-file", &pki.ca),
        ] {
            args.push(flag.to_owned());
            args.push(path.display().to_string());
        }
        Self::start_with(port, args)
    }

    /// A replica of the server on `primary_port`.
    pub fn replica_of(primary_port: u16) -> Self {
        Self::start(&["--replicaof", &format!("127.0.0.1 {primary_port}")])
    }

    fn start_with(port: u16, mut args: Vec<String>) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        // A replica's full sync starts at once (diskless sync waits 5 s by default for more replicas).
        args.extend(
            [
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "no",
                "--repl-diskless-sync-delay",
                "0",
                "--dir",
            ]
            .map(str::to_owned),
        );
        args.push(dir.path().display().to_string());
        let mut redis = Self { port, dir, args, child: None };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        self.child = Some(spawn("redis-server", &self.args, "redis-server"));
        wait_for_port(self.port, "redis-server");
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The server's directory (its AOF, its log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Kills the server without letting it save anything (`SIGKILL`).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Starts the server again on the same port and directory, as a replica of the server on
    /// `primary_port` (a failed primary rejoining after a failover, as an orchestrator restarts
    /// it: Sentinel alone would notice it only at its next 10-second look).
    pub fn restart_as_replica_of(&mut self, primary_port: u16) {
        self.kill();
        if let Some(at) = self.args.iter().position(|a| a == "--replicaof") {
            self.args.drain(at..at + 2);
        }
        self.args.extend(["--replicaof".to_owned(), format!("127.0.0.1 {primary_port}")]);
        self.spawn();
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `redis-sentinel` processes monitoring one primary under a name, with a quorum of two and
/// short timeouts, so that a failover takes a second or two.
#[derive(Debug)]
pub struct Sentinels {
    /// The ports they listen on.
    pub ports: Vec<u16>,
    /// The name of the monitored group.
    pub master_name: String,
    _dir: tempfile::TempDir,
    children: Vec<Child>,
}

impl Sentinels {
    /// Starts `count` Sentinels monitoring the primary on `primary_port` as `master_name`.
    pub fn start(master_name: &str, primary_port: u16, count: usize) -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut ports = Vec::new();
        let mut children = Vec::new();
        for n in 0..count {
            let port = free_port();
            // Sentinel rewrites its configuration file as it learns: one writable file each.
            let config = dir.path().join(format!("sentinel-{n}.conf"));
            let text = format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {dir}\n\
                 sentinel monitor {master_name} 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds {master_name} 500\n\
                 sentinel failover-timeout {master_name} 5000\n\
                 sentinel parallel-syncs {master_name} 1\n",
                dir = dir.path().display()
            );
            std::fs::write(&config, text).expect("the Sentinel configuration is written");
            children.push(spawn("redis-sentinel", &[config.display().to_string()], "redis-sentinel"));
            wait_for_port(port, "redis-sentinel");
            ports.push(port);
        }
        Self { ports, master_name: master_name.to_owned(), _dir: dir, children }
    }

    /// Their addresses, as the `redis_sentinels` setting takes them.
    pub fn addresses(&self) -> Vec<String> {
        self.ports.iter().map(|port| format!("127.0.0.1:{port}")).collect()
    }
}

impl Drop for Sentinels {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Certificates made for one test, in a temporary directory: a CA with a server certificate
/// (`localhost`, `127.0.0.1`) and a client certificate, and a second CA, unknown to the server,
/// with a client certificate of its own.
#[derive(Debug)]
pub struct TestPki {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA nobody trusts.
    pub unknown_ca: PathBuf,
    /// A client certificate signed by the unknown CA.
    pub unknown_client_cert: PathBuf,
    pub unknown_client_key: PathBuf,
}

struct Issued {
    cert: String,
    key: String,
}

fn ca(name: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    let key = rcgen::KeyPair::generate().expect("a CA key");
    let cert = params.self_signed(&key).expect("a self-signed CA certificate");
    (rcgen::Issuer::new(params, key), cert.pem())
}

fn issue(
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
    names: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> Issued {
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>()).expect("parameters");
    params.distinguished_name.push(rcgen::DnType::CommonName, names.first().copied().unwrap_or("client"));
    params.extended_key_usages = vec![usage];
    let key = rcgen::KeyPair::generate().expect("a key");
    let cert = params.signed_by(&key, issuer).expect("a certificate signed by the CA");
    Issued { cert: cert.pem(), key: key.serialize_pem() }
}

impl TestPki {
    /// Makes every certificate and writes them as PEM files.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("a PEM file is written");
            path
        };
        let (issuer, ca_pem) = ca("redis-connect test CA");
        let server = issue(&issuer, &["localhost", "127.0.0.1"], rcgen::ExtendedKeyUsagePurpose::ServerAuth);
        let client = issue(&issuer, &["scim-connector"], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        let (unknown, unknown_pem) = ca("an unknown CA");
        let stranger = issue(&unknown, &["stranger"], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        Self {
            ca: write("ca.pem", &ca_pem),
            server_cert: write("server.pem", &server.cert),
            server_key: write("server.key", &server.key),
            client_cert: write("client.pem", &client.cert),
            client_key: write("client.key", &client.key),
            unknown_ca: write("unknown-ca.pem", &unknown_pem),
            unknown_client_cert: write("stranger.pem", &stranger.cert),
            unknown_client_key: write("stranger.key", &stranger.key),
            _dir: dir,
        }
    }
}

impl Default for TestPki {
    fn default() -> Self {
        Self::new()
    }
}
