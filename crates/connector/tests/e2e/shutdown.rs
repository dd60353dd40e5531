//! Prompt shutdown: the `scim-connector` binary, run as one role on Redis, exits on SIGTERM within
//! its grace period whatever the state of Redis and Secret Server. An adapter whose Secret Server
//! never answers releases its job in flight, which another worker then takes at once (well before
//! the job's visibility timeout); the gateway and the audit service stop with Redis gone. And the
//! other way out: a gateway killed (SIGKILL) right after answering a call leaves that call on record.

use adapter_api::{Job, JobKeys};
use async_trait::async_trait;
use connections::{Connection, ConnectionStore};
use job_queue::{Disposition, JobHandler, JobStatus, QueueConfig};
use redis_connect::testing::RedisProcess;
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const JOB_KEYS: &str = "k1:AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
const ADAPTER_SECRET: &str = "a-shared-secret-of-the-gateway-and-the-adapter";
const GRACE: &str = "4s";
/// A generous bound on the exit: the grace period, and time for a loaded machine to notice it.
const EXIT_WITHIN: Duration = Duration::from_secs(20);

/// A child process killed when dropped (a failed test leaves nothing running).
struct Role(Child);

impl Drop for Role {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Role {
    fn start(data_dir: &std::path::Path, redis_url: &str, prefix: &str, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scim-connector"));
        command
            .env_clear()
            .env("SCIMC_DATA_DIR", data_dir)
            .env("REDIS_URL", redis_url)
            .env("SCIMC_REDIS_PREFIX", prefix)
            .env("SCIMC_SHUTDOWN_GRACE", GRACE)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        Self(command.spawn().expect("the binary runs"))
    }

    fn running(&mut self) -> bool {
        self.0.try_wait().expect("the process can be waited for").is_none()
    }

    /// Sends SIGTERM and returns how long the process took to exit (panics past `EXIT_WITHIN`).
    fn terminate(&mut self) -> Duration {
        let sent = Instant::now();
        let status = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status().expect("kill runs");
        assert!(status.success());
        while self.running() {
            assert!(sent.elapsed() < EXIT_WITHIN, "still running {EXIT_WITHIN:?} after SIGTERM (grace {GRACE})");
            std::thread::sleep(Duration::from_millis(50));
        }
        sent.elapsed()
    }
}

/// Waits until something accepts connections on `addr`.
async fn listening(addr: SocketAddr, role: &mut Role) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(addr).await.is_err() {
        assert!(role.running(), "the role exited while starting");
        assert!(Instant::now() < deadline, "nothing listens on {addr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Takes a job and says so.
struct Recorder(AtomicBool);

#[async_trait]
impl JobHandler for Recorder {
    async fn handle(&self, _job: job_queue::Job) -> Disposition {
        self.0.store(true, Ordering::SeqCst);
        Disposition::Succeeded(bytes::Bytes::new())
    }
}

#[tokio::test]
async fn an_adapter_whose_secret_server_never_answers_exits_on_sigterm_and_its_job_goes_to_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = test_support::unique_prefix("shutdown");
    let redis = test_support::redis_settings();
    // A Secret Server that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}/SecretServer", silent.local_addr().unwrap());
    let state = state_store::open(Some(&redis), &prefix, None).await.unwrap();
    let connection: Connection =
        serde_json::from_value(serde_json::json!({"id": "shutdown", "secretServer": "primary"})).unwrap();
    ConnectionStore::new(state, Duration::from_secs(1)).put(&connection).await.unwrap();
    // Long visibility: the job can only come back so soon because it was released.
    let config = QueueConfig {
        redis: Some(redis),
        prefix: prefix.clone(),
        visibility_timeout: Duration::from_secs(120),
        ..QueueConfig::default()
    };
    let queue = job_queue::connect(&config).await.unwrap().queue;
    let keys = JobKeys::parse(JOB_KEYS).unwrap();
    let job = Job::new(
        "shutdown",
        scim::ResourceKind::User,
        adapter_api::Operation::Create,
        "",
        serde_json::json!({
            "userName": "released.at.shutdown"
        }),
    )
    .unwrap();
    let submitted =
        queue.submit(job.submission("primary", "shutdown-test".into(), Default::default(), &keys)).await.unwrap();

    let health = free_addr();
    let mut adapter = Role::start(
        dir.path(),
        &test_support::redis_url(),
        &prefix,
        &["adapter", "--adapter-listen", "127.0.0.1:0", "--http-listen", &health.to_string()],
        &[
            ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEYS),
            ("SCIMC_ADAPTER_SECRET", ADAPTER_SECRET),
            ("SECRET_SERVER_URL", &silent_url),
            ("SECRET_SERVER_USERNAME", "svc"),
            ("SECRET_SERVER_PASSWORD", "pw"),
            ("SECRET_SERVER_ALLOW_INSECURE_HTTP", "true"),
        ],
    );
    listening(health, &mut adapter).await;
    // In flight: taken by the adapter's worker, which waits on a Secret Server that never answers.
    let deadline = Instant::now() + Duration::from_secs(30);
    while queue.status(&submitted.job_id).await.unwrap().map(|s| s.status) != Some(JobStatus::Running) {
        assert!(Instant::now() < deadline, "the adapter never took the job");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    adapter.terminate();

    let other = Recorder(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !other.0.load(Ordering::SeqCst) {
        assert!(Instant::now() < deadline, "the released job did not come back before its visibility timeout");
        if !queue.try_execute_job(&other).await.unwrap() {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    drop(silent);
}

#[tokio::test]
async fn the_gateway_and_the_audit_service_exit_on_sigterm_with_redis_gone() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    for role in ["gateway", "audit"] {
        let dir = tempfile::tempdir().unwrap();
        let mut redis = RedisProcess::start(&[]);
        let addr = free_addr();
        let (args, env): (Vec<String>, Vec<(&str, &str)>) = match role {
            "gateway" => (
                vec!["gateway".into(), "--gateway-listen".into(), addr.to_string()],
                vec![
                    ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEYS),
                    ("SCIMC_ADAPTER_SECRET", ADAPTER_SECRET),
                    ("SCIMC_ADAPTER_URL", "http://127.0.0.1:9"),
                ],
            ),
            _ => (
                vec!["audit".into(), "--audit-listen".into(), addr.to_string()],
                vec![("SCIMC_AUDIT_KEY", "an-audit-chain-key-of-at-least-thirty-two-bytes")],
            ),
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut process = Role::start(dir.path(), &redis.url(), "shutdown", &args, &env);
        listening(addr, &mut process).await;
        redis.kill();
        if role == "gateway" {
            // A refused call with Redis gone: its summary is an audit event to put on record at shutdown.
            let answer = reqwest::Client::new()
                .get(format!("http://{addr}/scim/v2/Users"))
                .bearer_auth("scimc_not-a-token")
                .timeout(Duration::from_secs(60))
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_client_error() || answer.status().is_server_error());
        }
        let took = process.terminate();
        assert!(took < EXIT_WITHIN, "{role} took {took:?}");
    }
}

#[tokio::test]
async fn a_call_answered_by_a_gateway_killed_right_after_is_on_the_events_stream() {
    use secrecy::ExposeSecret;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let prefix = test_support::unique_prefix("killed-gateway");
    let redis = test_support::redis_settings();
    let state = state_store::open(Some(&redis), &prefix, None).await.unwrap();
    let mut connection: Connection =
        serde_json::from_value(serde_json::json!({"id": "killed", "secretServer": "primary"})).unwrap();
    let issued = connections::credentials::issue_token(None, None);
    connection.credentials.bearer_tokens.push(issued.credential.clone());
    ConnectionStore::new(state, Duration::from_secs(1)).put(&connection).await.unwrap();
    let config = QueueConfig { redis: Some(redis), prefix: prefix.clone(), ..QueueConfig::default() };
    let events = job_queue::connect(&config).await.unwrap().events;
    let mut sub = events.subscribe("killed-gateway-test", "t").await.unwrap();

    let addr = free_addr();
    let mut gateway = Role::start(
        dir.path(),
        &test_support::redis_url(),
        &prefix,
        &["gateway", "--gateway-listen", &addr.to_string()],
        &[
            ("SCIMC_JOB_ENCRYPTION_KEYS", JOB_KEYS),
            ("SCIMC_ADAPTER_SECRET", ADAPTER_SECRET),
            // No adapter: the call is answered 503, an authenticated call on record like any other.
            ("SCIMC_ADAPTER_URL", "http://127.0.0.1:9"),
        ],
    );
    listening(addr, &mut gateway).await;
    let answer = reqwest::Client::new()
        .get(format!("http://{addr}/scim/v2/Users/1"))
        .bearer_auth(issued.token.expose_secret())
        .send()
        .await
        .unwrap();
    let request_id = answer.headers()["x-request-id"].to_str().unwrap().to_owned();
    // Killed at once (SIGKILL): nothing the gateway held only in memory survives.
    gateway.0.kill().unwrap();
    gateway.0.wait().unwrap();

    let batch = sub.next_batch(100, Duration::from_secs(1)).await.unwrap();
    let calls: Vec<String> = batch
        .iter()
        .filter_map(|d| match <proto::audit::v1::AuditEvent as prost::Message>::decode(d.payload.as_ref()).ok()?.kind {
            Some(proto::audit::v1::audit_event::Kind::ScimCall(call)) => Some(call.request_id),
            _ => None,
        })
        .collect();
    assert!(calls.contains(&request_id), "the answered call {request_id} is on the stream: {calls:?}");
}
