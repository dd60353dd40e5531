//! Tests only Redis can take: a worker process killed mid-job, Redis killed
//! and restarted under load, TLS with client certificates, an ACL user confined
//! to the prefix, stream trimming that keeps unfinished jobs, dead letters
//! that keep no secrets, and a worker group deleted under running workers.

use crate::support::*;
use bytes::Bytes;
use job_queue::{
    Disposition, Event, JobQueue, JobStatus, QueueConfig, QueueError, RedisJobQueue, TraceContext, connect,
};
use redis_connect::RedisSettings;
use redis_connect::testing::{RedisProcess, TestPki, free_port};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use test_support::at_rest::{contains, values_under};
use tokio_util::sync::CancellationToken;

fn redis_config(url: String, test: &str) -> QueueConfig {
    QueueConfig {
        redis: Some(RedisSettings::url(url)),
        prefix: unique_prefix(test),
        visibility_timeout: Duration::from_secs(1),
        maintenance_interval: Duration::from_millis(100),
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(200),
        ..QueueConfig::default()
    }
}

async fn admin() -> redis::aio::MultiplexedConnection {
    test_support::at_rest::connection().await
}

/// The crash test's worker: applies the job's effect idempotently (a marker
/// per job, counted when first set), then, in the doomed child process, says
/// so and hangs until it is killed.
async fn apply_effect(prefix: &str, job: &job_queue::Job) -> redis::RedisResult<()> {
    let mut conn = admin().await;
    redis::cmd("INCR").arg(format!("{prefix}:invocations")).query_async::<i64>(&mut conn).await?;
    let first: bool =
        redis::cmd("SET").arg(format!("{prefix}:effect:{}", job.id)).arg(1).arg("NX").query_async(&mut conn).await?;
    if first {
        redis::cmd("INCR").arg(format!("{prefix}:effects")).query_async::<i64>(&mut conn).await?;
    }
    Ok(())
}

const CHILD_PREFIX: &str = "JOB_QUEUE_CRASH_TEST_CHILD_PREFIX";

/// Runs in two roles: as the test (no environment variable), and as the
/// worker process that the test starts and kills (with it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_process_killed_mid_job_is_replaced_and_the_effect_applies_once() {
    const TEST: &str = "redis_only::a_worker_process_killed_mid_job_is_replaced_and_the_effect_applies_once";
    if let Ok(prefix) = std::env::var(CHILD_PREFIX) {
        let config = QueueConfig { prefix: prefix.clone(), ..redis_config(redis_url(), "child") };
        let backends = connect_or_fail(&config).await;
        let work = handler(move |job| {
            let prefix = prefix.clone();
            Box::pin(async move {
                apply_effect(&prefix, &job).await.unwrap();
                let mut conn = admin().await;
                redis::cmd("RPUSH")
                    .arg(format!("{prefix}:started"))
                    .arg(&job.id.0)
                    .query_async::<i64>(&mut conn)
                    .await
                    .unwrap();
                // Effect applied, outcome not recorded: here the process is killed.
                std::future::pending::<Disposition>().await
            })
        });
        let stop = CancellationToken::new();
        let _ = tokio::time::timeout(Duration::from_secs(60), backends.queue.run_workers(work, 1, stop)).await;
        panic!("the crash test's worker process was not killed");
    }

    let config = redis_config(redis_url(), "crash");
    let prefix = config.prefix.clone();
    let b = connect_or_fail(&config).await;
    let id = b.queue.submit(job("crash-1", "primary/User/77", "")).await.unwrap().job_id;

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_PREFIX, &prefix)
        .env("REDIS_URL", redis_url())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut conn = admin().await;
    let started: Option<(String, String)> =
        redis::cmd("BLPOP").arg(format!("{prefix}:started")).arg(30).query_async(&mut conn).await.unwrap();
    assert_eq!(started.map(|(_, id)| id), Some(id.0.clone()), "the worker process took the job");
    child.kill().unwrap(); // SIGKILL: no cleanup, no acknowledgment
    child.wait().unwrap();
    assert_eq!(b.queue.status(&id).await.unwrap().unwrap().status, JobStatus::Running);

    let effect_prefix = prefix.clone();
    let work = handler(move |job| {
        let prefix = effect_prefix.clone();
        Box::pin(async move {
            apply_effect(&prefix, &job).await.unwrap();
            Disposition::Succeeded(Bytes::from_static(b"applied"))
        })
    });
    let stop = CancellationToken::new();
    let workers = tokio::spawn({
        let (queue, stop) = (b.queue.clone(), stop.clone());
        async move { queue.run_workers(work, 1, stop).await }
    });
    let state = b.queue.wait(&id, SOON).await.unwrap().unwrap();
    stop.cancel();
    workers.await.unwrap().unwrap();

    assert_eq!(state.status, JobStatus::Succeeded);
    assert_eq!(state.attempts, 2, "redelivered once after the visibility timeout");
    let count = |name: &str| {
        let key = format!("{prefix}:{name}");
        let mut conn = conn.clone();
        async move { redis::cmd("GET").arg(key).query_async::<i64>(&mut conn).await.unwrap() }
    };
    assert_eq!(count("invocations").await, 2, "the handler ran in both workers");
    assert_eq!(count("effects").await, 1, "the effect was applied once");
    delete_prefix(&redis_url(), &prefix);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_submission_is_lost_when_redis_is_killed_and_restarted_with_aof() {
    let mut redis = RedisProcess::with_aof();
    let config = QueueConfig { op_timeout: Duration::from_secs(30), ..redis_config(redis.url(), "restart") };
    let b = connect_or_fail(&config).await;
    const JOBS: u32 = 300;
    let stream = JobStream::start(b.queue.clone(), "restart", JOBS);
    while stream.acknowledged() < JOBS as usize / 3 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.kill();
    let acknowledged_before_the_kill = stream.acknowledged();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart();

    stream
        .every_acknowledged_job_succeeds(
            "submissions wait out the restart instead of failing",
            acknowledged_before_the_kill,
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_runs_over_tls_with_a_client_certificate_and_refuses_an_untrusted_server() {
    let pki = TestPki::new();
    let redis = RedisProcess::with_tls(&pki, true);
    let tls = |ca: &std::path::Path, test: &str| {
        let mut settings = RedisSettings::url(format!("rediss://localhost:{}", redis.port));
        settings.tls.ca_file = Some(ca.to_owned());
        settings.tls.cert_file = Some(pki.client_cert.clone());
        settings.tls.key_file = Some(pki.client_key.clone());
        QueueConfig { redis: Some(settings), op_timeout: Duration::from_secs(2), ..redis_config(String::new(), test) }
    };

    let b = connect_or_fail(&tls(&pki.ca, "tls")).await;
    let id = b.queue.submit(job("tls", "k", "over tls")).await.unwrap().job_id;
    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    assert_eq!(b.queue.wait(&id, SOON).await.unwrap().unwrap().result.as_deref(), Some(&b"slt revo"[..]));
    b.events.publish(Event { payload: Bytes::from_static(b"e"), trace_context: TraceContext::new() }).await.unwrap();

    let refused = connect(&tls(&pki.unknown_ca, "tls-untrusted")).await.expect_err("a server the CA did not sign");
    assert!(matches!(refused, QueueError::Unavailable(_)), "{refused}");
}

fn host_port(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    rest.split('/').next().unwrap_or(rest).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acl_user_confined_to_the_prefix_can_run_the_whole_queue() {
    let config = redis_config(redis_url(), "acl");
    let prefix = config.prefix.clone();
    let user = format!("{prefix}-user");
    let mut admin = admin().await;
    // Keys and channels outside the prefix are forbidden: any stray name fails the test.
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg(&user)
        .arg("reset")
        .arg("on")
        .arg(">s3cret-Pa55")
        .arg(format!("~{prefix}:*"))
        .arg(format!("&{prefix}:*"))
        .arg("+@all")
        .query_async::<()>(&mut admin)
        .await
        .unwrap();
    let url = format!("redis://{user}:s3cret-Pa55@{}", host_port(&redis_url()));
    let confined = QueueConfig { redis: Some(RedisSettings::url(url)), ..config.clone() };
    let outcome = async {
        let b = connect_or_fail(&confined).await;
        let id = b.queue.submit(job("acl", "k", "abc")).await.unwrap().job_id;
        let stop = CancellationToken::new();
        let workers = tokio::spawn({
            let (queue, stop) = (b.queue.clone(), stop.clone());
            async move { queue.run_workers(reversing(), 2, stop).await }
        });
        let state = b.queue.wait(&id, SOON).await.unwrap().unwrap();
        b.queue.metrics().await.unwrap();
        let mut sub = b.events.subscribe("audit", "a1").await.unwrap();
        b.events
            .publish(Event { payload: Bytes::from_static(b"e"), trace_context: TraceContext::new() })
            .await
            .unwrap();
        let batch = sub.next_batch(10, SOON).await.unwrap();
        sub.ack(&[batch[0].id.clone()]).await.unwrap();
        stop.cancel();
        workers.await.unwrap().unwrap();
        state
    };
    let state = tokio::time::timeout(Duration::from_secs(60), outcome).await;

    let wrong = QueueConfig {
        redis: Some(RedisSettings::url(format!("redis://{user}:wrong-Pa55@{}", host_port(&redis_url())))),
        op_timeout: Duration::from_secs(1),
        ..config.clone()
    };
    let refused = connect(&wrong).await.expect_err("a wrong password is refused");
    redis::cmd("ACL").arg("DELUSER").arg(&user).query_async::<i64>(&mut admin).await.unwrap();
    delete_prefix(&redis_url(), &prefix);

    let state = state.expect("the confined user ran the queue");
    assert_eq!(state.status, JobStatus::Succeeded);
    assert!(!refused.to_string().contains("wrong-Pa55"), "errors never echo the password: {refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trimming_drops_finished_entries_but_never_an_unfinished_job() {
    let config = QueueConfig { retention: Duration::ZERO, ..redis_config(redis_url(), "trim") };
    let prefix = config.prefix.clone();
    let queue = RedisJobQueue::connect(&config).await.unwrap_or_else(|e| panic!("Redis is required: {e}"));
    let mut admin = admin().await;
    let ready = format!("{prefix}:q:{}:ready", config.queue);
    let xlen = |conn: &mut redis::aio::MultiplexedConnection| {
        let (mut conn, ready) = (conn.clone(), ready.clone());
        async move { redis::cmd("XLEN").arg(ready).query_async::<u64>(&mut conn).await.unwrap() }
    };

    let mut finished = Vec::new();
    for n in 0..300 {
        finished.push(queue.submit(job(&format!("f{n}"), &format!("k{n}"), "")).await.unwrap().job_id);
    }
    while queue.try_execute_job(reversing().as_ref()).await.unwrap() {}

    // One job running (delivered, unacknowledged), one not yet read.
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let started = Arc::new(tokio::sync::Notify::new());
    let blocking = handler({
        let (release, started) = (release.clone(), started.clone());
        move |_| {
            let (release, started) = (release.clone(), started.clone());
            Box::pin(async move {
                started.notify_one();
                release.acquire().await.unwrap().forget();
                Disposition::Succeeded(Bytes::new())
            })
        }
    });
    let running = queue.submit(job("running", "r", "")).await.unwrap().job_id;
    let stop = CancellationToken::new();
    let workers = tokio::spawn({
        let (queue, stop) = (queue.clone(), stop.clone());
        async move { queue.run_workers(blocking, 1, stop).await }
    });
    tokio::time::timeout(SOON, started.notified()).await.unwrap();
    let unread = queue.submit(job("unread", "u", "")).await.unwrap().job_id;

    let before = xlen(&mut admin).await;
    queue.trim().await.unwrap();
    let after = xlen(&mut admin).await;
    assert!(after <= before - 100, "finished entries were trimmed: {before} -> {after}");

    release.add_permits(2);
    for id in [&running, &unread] {
        assert_eq!(queue.wait(id, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
    stop.cancel();
    workers.await.unwrap().unwrap();
    assert_eq!(queue.status(&finished[0]).await.unwrap().unwrap().status, JobStatus::Succeeded);
    delete_prefix(&redis_url(), &prefix);
}

/// While jobs are waiting, workers read and start them in one script call; an entry in the ready
/// stream that names no job (written by hand, say) is acknowledged there and the jobs behind it run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_start_a_burst_of_waiting_jobs_and_acknowledge_an_entry_that_names_no_job() {
    let config = redis_config(redis_url(), "burst");
    let prefix = config.prefix.clone();
    let queue = RedisJobQueue::connect(&config).await.unwrap_or_else(|e| panic!("Redis is required: {e}"));
    let mut admin = admin().await;
    let ready = format!("{prefix}:q:{}:ready", config.queue);
    let _: String =
        redis::cmd("XADD").arg(&ready).arg("*").arg("note").arg("no job").query_async(&mut admin).await.unwrap();
    let mut ids = Vec::new();
    for n in 0..40 {
        ids.push(queue.submit(job(&format!("b{n}"), &format!("k{}", n % 8), &format!("p{n}"))).await.unwrap().job_id);
    }
    let stop = CancellationToken::new();
    let workers = tokio::spawn({
        let (queue, stop) = (queue.clone(), stop.clone());
        async move { queue.run_workers(reversing(), 4, stop).await }
    });
    for (n, id) in ids.iter().enumerate() {
        let state = queue.wait(id, SOON).await.unwrap().unwrap();
        let expected: String = format!("p{n}").chars().rev().collect();
        assert_eq!((state.status, state.result.as_deref()), (JobStatus::Succeeded, Some(expected.as_bytes())));
    }
    stop.cancel();
    workers.await.unwrap().unwrap();
    let pending: Vec<redis::Value> =
        redis::cmd("XPENDING").arg(&ready).arg("workers").query_async(&mut admin).await.unwrap();
    assert_eq!(pending.first(), Some(&redis::Value::Int(0)), "every entry acknowledged, the stray one included");
    delete_prefix(&redis_url(), &prefix);
}

/// A busy worker records an attempt's outcome and reads the next waiting jobs in one script call.
/// When the read fails there (the worker group was deleted, by hand say), the outcome still counts
/// in full: acknowledged, announced to its waiter, no longer counted as unfinished; and the workers
/// recreate the group for the next job.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_recorded_as_the_worker_group_vanishes_still_closes_its_job() {
    let config = redis_config(redis_url(), "nogroup");
    let prefix = config.prefix.clone();
    let queue = RedisJobQueue::connect(&config).await.unwrap_or_else(|e| panic!("Redis is required: {e}"));
    let ready = format!("{prefix}:q:{}:ready", config.queue);
    let work = handler({
        let ready = ready.clone();
        move |job| {
            let ready = ready.clone();
            Box::pin(async move {
                if job.payload.as_ref() == b"delete the group" {
                    let mut admin = admin().await;
                    let _: i64 = redis::cmd("XGROUP")
                        .arg("DESTROY")
                        .arg(&ready)
                        .arg("workers")
                        .query_async(&mut admin)
                        .await
                        .unwrap();
                }
                Disposition::Succeeded(job.payload)
            })
        }
    });
    let stop = CancellationToken::new();
    // One slot: the reader is not blocked on the stream while the job runs, so the job's own
    // cycle is the first to read after the group is gone.
    let workers = tokio::spawn({
        let (queue, stop) = (queue.clone(), stop.clone());
        async move { queue.run_workers(work, 1, stop).await }
    });
    let first = queue.submit(job("vanish-1", "k1", "delete the group")).await.unwrap().job_id;
    assert_eq!(queue.wait(&first, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    let second = queue.submit(job("vanish-2", "k2", "after")).await.unwrap().job_id;
    assert_eq!(queue.wait(&second, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    stop.cancel();
    workers.await.unwrap().unwrap();
    let metrics = queue.metrics().await.unwrap();
    assert_eq!((metrics.depth, metrics.in_flight), (0, 0), "both jobs closed: {metrics:?}");
    delete_prefix(&redis_url(), &prefix);
}

/// Once a `wait` has subscribed to the done channel, later submissions are
/// watched and their waits skip the first status read; a job that finished
/// before its `wait` began must still be reported, as must one finishing after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wait_reports_a_watched_job_that_finished_before_or_after_it_began() {
    let config = redis_config(redis_url(), "watched");
    let prefix = config.prefix.clone();
    let queue = RedisJobQueue::connect(&config).await.unwrap_or_else(|e| panic!("Redis is required: {e}"));
    let first = queue.submit(job("w-0", "User/1", "zero")).await.unwrap().job_id;
    assert_eq!(queue.wait(&first, Duration::from_millis(50)).await.unwrap().unwrap().status, JobStatus::Queued);
    assert!(queue.try_execute_job(reversing().as_ref()).await.unwrap());

    // Finished before the wait: its notification reached nobody.
    let early = queue.submit(job("w-1", "User/1", "one")).await.unwrap().job_id;
    assert!(queue.try_execute_job(reversing().as_ref()).await.unwrap());
    let state = queue.wait(&early, SOON).await.unwrap().unwrap();
    assert_eq!((state.status, state.result.as_deref()), (JobStatus::Succeeded, Some(&b"eno"[..])));

    // Finished while the wait is parked.
    let late = queue.submit(job("w-2", "User/1", "two")).await.unwrap().job_id;
    let waiting = tokio::spawn({
        let (queue, late) = (queue.clone(), late.clone());
        async move { queue.wait(&late, SOON).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(queue.try_execute_job(reversing().as_ref()).await.unwrap());
    let state = waiting.await.unwrap().unwrap().unwrap();
    assert_eq!((state.status, state.result.as_deref()), (JobStatus::Succeeded, Some(&b"owt"[..])));
    assert_eq!(queue.status(&late).await.unwrap(), Some(state), "what wait saw is what is stored");

    // A wait that times out on a watched job still reports its current state.
    let queued = queue.submit(job("w-3", "User/1", "three")).await.unwrap().job_id;
    assert_eq!(queue.wait(&queued, Duration::from_millis(50)).await.unwrap().unwrap().status, JobStatus::Queued);
    delete_prefix(&redis_url(), &prefix);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_keep_the_payload_and_the_last_error_but_never_the_secrets() {
    const SECRET: &str = "sealed-secret-bytes";
    let config = QueueConfig { max_attempts: 2, ..redis_config(redis_url(), "dead-list") };
    let prefix = config.prefix.clone();
    let queue = RedisJobQueue::connect(&config).await.unwrap_or_else(|e| panic!("Redis is required: {e}"));
    let id = queue.submit(job_with_secrets("dl", "Group/3", "the payload", SECRET)).await.unwrap().job_id;
    assert!(contains(&values_under(&prefix).await, SECRET.as_bytes()), "an unfinished job keeps its secrets");
    let failing = handler(|job| {
        Box::pin(async move { Disposition::Retry { error: format!("503 on attempt {}", job.attempt), after: None } })
    });
    let stop = CancellationToken::new();
    let workers = tokio::spawn({
        let (queue, stop) = (queue.clone(), stop.clone());
        async move { queue.run_workers(failing, 1, stop).await }
    });
    assert_eq!(queue.wait(&id, SOON).await.unwrap().unwrap().status, JobStatus::DeadLettered);
    stop.cancel();
    workers.await.unwrap().unwrap();

    let dead = queue.dead_letters(None, 10).await.unwrap().items;
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].job_id, id);
    assert_eq!(dead[0].ordering_key, "Group/3");
    assert_eq!(dead[0].attempts, 2);
    assert_eq!(dead[0].error, "503 on attempt 2");
    assert_eq!(dead[0].payload.as_ref(), b"the payload");
    assert!(
        !contains(&values_under(&prefix).await, SECRET.as_bytes()),
        "neither the dead letter nor the finished job's record keeps the secrets"
    );
    delete_prefix(&redis_url(), &prefix);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_redis_fails_loudly_instead_of_falling_back() {
    let config = QueueConfig {
        op_timeout: Duration::from_millis(300),
        ..redis_config(format!("redis://127.0.0.1:{}", free_port()), "unreachable")
    };
    let err = connect(&config).await.expect_err("nothing listens there");
    assert!(matches!(err, QueueError::Unavailable(_)), "{err}");
    assert!(err.is_transient());
}
