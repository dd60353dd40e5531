//! A private `redis-server` in a temporary directory, for the tests that
//! restart or reconfigure Redis and so cannot use the shared one.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) struct OwnRedis {
    pub port: u16,
    /// Where the AOF lives; it outlives a restart and goes with the server.
    _dir: tempfile::TempDir,
    args: Vec<String>,
    child: Option<Child>,
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl OwnRedis {
    /// Starts `redis-server` with AOF on and fsync at every write.
    pub(crate) fn with_aof() -> Self {
        let port = free_port();
        let args =
            ["--port", &port.to_string(), "--appendonly", "yes", "--appendfsync", "always"].map(str::to_owned).to_vec();
        Self::start(port, args)
    }

    /// Starts `redis-server` listening with TLS only.
    pub(crate) fn with_tls(cert: &Path, key: &Path, ca: &Path) -> Self {
        let port = free_port();
        let mut args: Vec<String> =
            ["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no"].map(str::to_owned).to_vec();
        for (flag, path) in [("--tls-cert-file", cert), ("--tls-key-file", key), ("--tls-ca-cert-file", ca)] {
            args.push(flag.to_owned());
            args.push(path.display().to_string());
        }
        Self::start(port, args)
    }

    fn start(port: u16, mut args: Vec<String>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        args.extend(
            ["--bind", "127.0.0.1", "--save", "", "--daemonize", "no", "--protected-mode", "no", "--dir"]
                .map(str::to_owned),
        );
        args.push(dir.path().display().to_string());
        let mut redis = Self { port, _dir: dir, args, child: None };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("this test starts its own redis-server, which must be on PATH: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start listening on {}", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the server without letting it save anything (`kill -9`).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Starts the server again on the same port and directory.
    pub(crate) fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
