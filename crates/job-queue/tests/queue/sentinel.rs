//! Failover under load: a primary, a replica and three `redis-sentinel` processes (on free
//! ports, in temporary directories); jobs are submitted and run without pause while the primary
//! is killed, Sentinel promotes the replica and the old primary comes back as a replica. Every
//! job acknowledged to its submitter must run to success: none is lost.
//!
//! Needs `redis-server` and `redis-sentinel` on PATH (Debian packages of the same names); the
//! test fails without them.

use crate::support::*;
use job_queue::QueueConfig;
use redis_connect::testing::{RedisProcess, Sentinels};
use redis_connect::{RedisSettings, SentinelSettings};
use std::future::Future;
use std::time::{Duration, Instant};

const MASTER: &str = "scimq";

/// Waits until `check` holds, polling; fails naming `what` after `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !check().await {
        assert!(Instant::now() < deadline, "{what} did not happen within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}"))?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    cmd.query_async(&mut conn).await
}

async fn in_sync(replica: u16) -> bool {
    let info: String = query(replica, redis::cmd("INFO").arg("replication")).await.unwrap_or_default();
    info.contains("master_link_status:up")
}

/// Each Sentinel knows the replica and the two other Sentinels (needed to agree on a failover).
async fn sentinels_ready(sentinels: &Sentinels) -> bool {
    for port in &sentinels.ports {
        let replicas: Vec<redis::Value> =
            query(*port, redis::cmd("SENTINEL").arg("REPLICAS").arg(MASTER)).await.unwrap_or_default();
        let peers: Vec<redis::Value> =
            query(*port, redis::cmd("SENTINEL").arg("SENTINELS").arg(MASTER)).await.unwrap_or_default();
        if replicas.is_empty() || peers.len() < sentinels.ports.len() - 1 {
            return false;
        }
    }
    true
}

/// The port of the primary that the first Sentinel names.
async fn named_primary(sentinels: &Sentinels) -> Option<u16> {
    let addr: Option<(String, u16)> =
        query(sentinels.ports[0], redis::cmd("SENTINEL").arg("GET-MASTER-ADDR-BY-NAME").arg(MASTER)).await.ok()?;
    addr.map(|(_, port)| port)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_acknowledged_job_is_lost_when_sentinel_fails_the_primary_over_during_a_stream_of_jobs() {
    let started = Instant::now();
    let mut primary = RedisProcess::start(&[]);
    let replica = RedisProcess::replica_of(primary.port);
    eventually("the replica's first sync", Duration::from_secs(20), || in_sync(replica.port)).await;
    let sentinels = Sentinels::start(MASTER, primary.port, 3);
    eventually("the Sentinels' discovery of the replica and of each other", Duration::from_secs(30), || {
        sentinels_ready(&sentinels)
    })
    .await;
    let setup = started.elapsed();

    let settings = RedisSettings::sentinel(SentinelSettings {
        addresses: sentinels.addresses(),
        master_name: MASTER.to_owned(),
        username: None,
        password: None,
    });
    let config = QueueConfig {
        redis: Some(settings),
        prefix: unique_prefix("sentinel"),
        visibility_timeout: Duration::from_secs(1),
        maintenance_interval: Duration::from_millis(100),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        // Submissions wait out the failover (and the replica's return) instead of failing.
        op_timeout: Duration::from_secs(30),
        ..QueueConfig::default()
    };
    assert_eq!(config.replicas_to_wait_for(), 1, "with Sentinel a submission waits for a replica by default");
    let b = connect_or_fail(&config).await;

    const JOBS: u32 = 300;
    let stream = JobStream::start(b.queue.clone(), "failover", JOBS);
    eventually("a third of the submissions", Duration::from_secs(30), || {
        let count = stream.acknowledged();
        async move { count >= JOBS as usize / 3 }
    })
    .await;

    let failover_started = Instant::now();
    primary.kill();
    let acknowledged_before_the_kill = stream.acknowledged();
    eventually("Sentinel's promotion of the replica", Duration::from_secs(30), || async {
        named_primary(&sentinels).await == Some(replica.port)
    })
    .await;
    let failover = failover_started.elapsed();
    // The old primary comes back as a replica of the new one, which submissions wait for.
    primary.restart_as_replica_of(replica.port);

    stream
        .every_acknowledged_job_succeeds(
            "submissions wait out the failover instead of failing",
            acknowledged_before_the_kill,
        )
        .await;
    eprintln!("sentinel failover test: setup {setup:?}, failover {failover:?}, whole test {:?}", started.elapsed());
}
