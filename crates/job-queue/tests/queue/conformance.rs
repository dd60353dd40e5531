//! The conformance suite: every test runs against the in-process backend and
//! against Redis, and both must behave the same.

use crate::support::*;
use bytes::Bytes;
use job_queue::{Disposition, Event, JobId, JobStatus, QueueError, TraceContext, Withdrawal};
use parking_lot::Mutex;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::{Barrier, Notify};
use tokio_util::sync::CancellationToken;

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod in_process {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Kind::InProcess).await;
                }
            )*
        }
        mod redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(crate::support::Kind::Redis).await;
                }
            )*
        }
    };
}

conformance!(
    a_submitted_job_runs_and_its_result_reaches_the_waiting_submitter,
    submitting_the_same_idempotency_key_again_returns_the_first_job_and_its_result,
    a_duplicate_submitted_while_the_first_is_queued_runs_only_once,
    a_key_resubmitted_with_another_fingerprint_is_refused_and_enqueues_nothing,
    a_key_finds_its_job_fingerprint_and_status_until_it_expires,
    jobs_on_one_ordering_key_never_overlap_and_run_in_submission_order,
    jobs_on_different_ordering_keys_run_in_parallel,
    a_worker_pool_never_runs_more_jobs_at_once_than_its_concurrency,
    a_transient_failure_is_retried_with_backoff_until_it_succeeds,
    a_job_s_secrets_reach_every_attempt_beside_its_payload,
    a_job_in_backoff_blocks_later_jobs_of_its_key_but_not_other_keys,
    a_job_failing_every_attempt_is_dead_lettered_with_its_last_error,
    dead_letters_are_listed_newest_first_in_pages_found_by_job_id_and_discarded,
    a_permanent_failure_is_final_and_not_retried,
    wait_returns_the_unfinished_state_when_its_timeout_passes,
    status_of_an_unknown_job_is_none,
    a_submitter_can_reattach_by_job_id_after_the_job_finished,
    the_trace_context_travels_with_jobs_and_events,
    a_worker_aborted_mid_job_is_replaced_after_the_visibility_timeout_and_the_effect_applies_once,
    a_panicking_handler_is_retried_not_lost,
    every_consumer_group_receives_every_event,
    events_published_at_once_each_get_their_own_id_and_arrive_once,
    an_unacknowledged_event_is_delivered_again_until_acknowledged,
    events_left_by_a_vanished_consumer_go_to_another_consumer_of_its_group,
    metrics_count_depth_in_flight_retries_dead_letters_and_the_oldest_job_age,
    graceful_shutdown_lets_running_jobs_finish,
    results_and_idempotency_keys_expire_after_the_result_ttl,
    invalid_jobs_are_refused_and_nothing_is_enqueued,
    try_execute_job_runs_one_ready_job_and_reports_when_none_is_ready,
    a_running_job_sees_the_jobs_queued_behind_it_in_order_and_seeing_them_changes_nothing,
    a_queued_job_is_behind_while_an_earlier_job_of_its_key_remains_and_not_once_it_heads_the_key,
    the_same_request_sent_again_after_its_job_was_dead_lettered_runs_as_a_new_job_under_its_key,
    a_queued_job_no_worker_took_is_withdrawn_for_good_and_never_reaches_a_handler,
    a_job_a_worker_took_is_not_withdrawn_and_runs_to_its_end,
    withdrawing_the_head_of_a_key_lets_the_next_job_of_the_key_run,
    withdrawing_a_job_in_the_middle_of_its_key_keeps_the_order_of_the_others,
    a_job_the_running_job_ahead_of_it_has_seen_is_not_withdrawn_and_runs_in_its_turn,
    a_waiter_on_a_withdrawn_job_wakes_with_withdrawn,
    the_same_request_sent_again_after_its_job_was_withdrawn_runs_as_a_new_job_under_its_key,
);

/// Starts workers in the background; cancel the token (or abort the handle) to stop them.
fn spawn_workers(
    queue: Arc<dyn job_queue::JobQueue>,
    handler: Arc<dyn job_queue::JobHandler>,
    concurrency: usize,
) -> (CancellationToken, tokio::task::JoinHandle<Result<(), QueueError>>) {
    let stop = CancellationToken::new();
    let task = tokio::spawn({
        let stop = stop.clone();
        async move { queue.run_workers(handler, concurrency, stop).await }
    });
    (stop, task)
}

/// Submits `jobs` at once and returns their ids, in order.
async fn submit_all(queue: &dyn job_queue::JobQueue, jobs: impl IntoIterator<Item = job_queue::NewJob>) -> Vec<JobId> {
    futures::future::join_all(jobs.into_iter().map(|j| queue.submit(j)))
        .await
        .into_iter()
        .map(|s| s.unwrap().job_id)
        .collect()
}

async fn a_submitted_job_runs_and_its_result_reaches_the_waiting_submitter(kind: Kind) {
    let h = Harness::new(kind, "result", |_| {});
    let b = h.backends().await;
    let (stop, workers) = spawn_workers(b.queue.clone(), reversing(), 2);

    let submitted = b.queue.submit(job("idem-1", "primary/User/1", "abc")).await.unwrap();
    assert!(!submitted.duplicate);
    let state = b.queue.wait(&submitted.job_id, SOON).await.unwrap().expect("the job is known");

    assert_eq!(state.status, JobStatus::Succeeded);
    assert_eq!(state.result.as_deref(), Some(&b"cba"[..]));
    assert_eq!(state.attempts, 1);
    assert_eq!(state.ordering_key, "primary/User/1");
    assert!(state.updated_at >= state.submitted_at);
    assert_eq!(b.queue.status(&submitted.job_id).await.unwrap(), Some(state), "what wait saw is what is stored");
    stop.cancel();
    workers.await.unwrap().unwrap();
}

async fn submitting_the_same_idempotency_key_again_returns_the_first_job_and_its_result(kind: Kind) {
    let h = Harness::new(kind, "idem", |_| {});
    let b = h.backends().await;
    let first = b.queue.submit(job("same-key", "k", "one")).await.unwrap();
    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());

    let again = b.queue.submit(job("same-key", "k", "two")).await.unwrap();

    assert_eq!(again.job_id, first.job_id);
    assert!(again.duplicate);
    let state = b.queue.wait(&again.job_id, SOON).await.unwrap().unwrap();
    assert_eq!(state.result.as_deref(), Some(&b"eno"[..]), "the first job's result, not a new run");
    assert!(!b.queue.try_execute_job(reversing().as_ref()).await.unwrap(), "nothing new was enqueued");
}

async fn a_duplicate_submitted_while_the_first_is_queued_runs_only_once(kind: Kind) {
    let h = Harness::new(kind, "dup-queued", |_| {});
    let b = h.backends().await;
    let submissions = futures::future::join_all((0..8).map(|_| b.queue.submit(job("dup", "k", "x")))).await;
    let ids: HashSet<JobId> = submissions.iter().map(|s| s.as_ref().unwrap().job_id.clone()).collect();
    assert_eq!(ids.len(), 1, "every submission names the same job");
    assert_eq!(submissions.iter().filter(|s| !s.as_ref().unwrap().duplicate).count(), 1);

    let runs = Arc::new(AtomicUsize::new(0));
    let counting = handler({
        let runs = runs.clone();
        move |_| {
            runs.fetch_add(1, Ordering::SeqCst);
            Box::pin(async { Disposition::Succeeded(Bytes::new()) })
        }
    });
    while b.queue.try_execute_job(counting.as_ref()).await.unwrap() {}
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

fn fingerprinted(idempotency_key: &str, fingerprint: &str, payload: &str) -> job_queue::NewJob {
    job_queue::NewJob { fingerprint: fingerprint.to_owned(), ..job(idempotency_key, "k", payload) }
}

async fn a_key_resubmitted_with_another_fingerprint_is_refused_and_enqueues_nothing(kind: Kind) {
    let h = Harness::new(kind, "fingerprint", |_| {});
    let b = h.backends().await;
    let first = b.queue.submit(fingerprinted("key", "PATCH /Users/12 1a2b", "one")).await.unwrap();

    // While the first job waits, and after it finished: the key belongs to its first request.
    for round in ["queued", "finished"] {
        let err = b.queue.submit(fingerprinted("key", "DELETE /Users/13 3c4d", "two")).await.unwrap_err();
        match err {
            QueueError::KeyReused { existing, fingerprint } => {
                assert_eq!(existing, first.job_id, "{round}");
                assert_eq!(fingerprint, "PATCH /Users/12 1a2b", "{round}: the first request's fingerprint");
            }
            other => panic!("{round}: expected KeyReused, got {other}"),
        }
        let same = b.queue.submit(fingerprinted("key", "PATCH /Users/12 1a2b", "one")).await.unwrap();
        assert_eq!((same.job_id.clone(), same.duplicate), (first.job_id.clone(), true), "{round}");
        if round == "queued" {
            assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
        }
    }
    assert!(!b.queue.try_execute_job(reversing().as_ref()).await.unwrap(), "the refused submissions enqueued nothing");
    let state = b.queue.status(&first.job_id).await.unwrap().unwrap();
    assert_eq!(state.result.as_deref(), Some(&b"eno"[..]), "the first request's result is kept");
}

async fn a_key_finds_its_job_fingerprint_and_status_until_it_expires(kind: Kind) {
    let h = Harness::new(kind, "find", |c| c.result_ttl = Duration::from_millis(300));
    let b = h.backends().await;
    assert_eq!(b.queue.find("unused").await.unwrap(), None);
    let submitted = b.queue.submit(fingerprinted("found", "POST /Bulk 5e6f", "x")).await.unwrap();

    let found = b.queue.find("found").await.unwrap().expect("the key names its job");
    assert_eq!(found.job_id, submitted.job_id);
    assert_eq!(found.fingerprint, "POST /Bulk 5e6f");
    assert_eq!(found.status, JobStatus::Queued);

    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    assert_eq!(b.queue.find("found").await.unwrap().unwrap().status, JobStatus::Succeeded);
    let deadline = tokio::time::Instant::now() + SOON;
    while b.queue.find("found").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the key was never forgotten");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn jobs_on_one_ordering_key_never_overlap_and_run_in_submission_order(kind: Kind) {
    let h = Harness::new(kind, "order", |_| {});
    let b = h.backends().await;
    let running = Arc::new(Mutex::new(HashSet::<String>::new()));
    let order = Arc::new(Mutex::new(HashMap::<String, Vec<u32>>::new()));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let work = handler({
        let (running, order, overlaps) = (running.clone(), order.clone(), overlaps.clone());
        move |job| {
            let (running, order, overlaps) = (running.clone(), order.clone(), overlaps.clone());
            Box::pin(async move {
                if !running.lock().insert(job.ordering_key.clone()) {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                let n: u32 = std::str::from_utf8(&job.payload).unwrap().parse().unwrap();
                order.lock().entry(job.ordering_key.clone()).or_default().push(n);
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.lock().remove(&job.ordering_key);
                Disposition::Succeeded(Bytes::new())
            })
        }
    });
    let mut ids = Vec::new();
    for n in 0..20u32 {
        for key in ["User/1", "User/2", "Group/7"] {
            ids.push(b.queue.submit(job(&format!("{key}-{n}"), key, &n.to_string())).await.unwrap().job_id);
        }
    }
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 6);
    for id in &ids {
        assert_eq!(b.queue.wait(id, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
    stop.cancel();
    workers.await.unwrap().unwrap();

    assert_eq!(overlaps.load(Ordering::SeqCst), 0, "two jobs of one key ran at the same time");
    for (key, seen) in order.lock().iter() {
        assert_eq!(seen, &(0..20).collect::<Vec<_>>(), "jobs of {key} ran out of order");
    }
}

async fn jobs_on_different_ordering_keys_run_in_parallel(kind: Kind) {
    let h = Harness::new(kind, "parallel", |_| {});
    let b = h.backends().await;
    // Each handler waits for the others: this only finishes if all run at once.
    let barrier = Arc::new(Barrier::new(3));
    let work = handler({
        let barrier = barrier.clone();
        move |_| {
            let barrier = barrier.clone();
            Box::pin(async move {
                barrier.wait().await;
                Disposition::Succeeded(Bytes::new())
            })
        }
    });
    let ids = submit_all(&*b.queue, ["a", "b", "c"].map(|key| job(&format!("p-{key}"), key, ""))).await;
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 3);
    for id in &ids {
        let state = b.queue.wait(id, SOON).await.unwrap().unwrap();
        assert_eq!(state.status, JobStatus::Succeeded, "jobs of different keys did not run together");
    }
    stop.cancel();
    workers.await.unwrap().unwrap();
}

async fn a_worker_pool_never_runs_more_jobs_at_once_than_its_concurrency(kind: Kind) {
    let h = Harness::new(kind, "bounded", |_| {});
    let b = h.backends().await;
    let (running, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let work = handler({
        let (running, most) = (running.clone(), most.clone());
        move |_| {
            let (running, most) = (running.clone(), most.clone());
            Box::pin(async move {
                most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                // Hold the slot for a few turns of the scheduler, so that ends and starts interleave.
                for _ in 0..5 {
                    tokio::task::yield_now().await;
                }
                running.fetch_sub(1, Ordering::SeqCst);
                Disposition::Succeeded(Bytes::new())
            })
        }
    });
    // Waiting before the workers start, so that each ending attempt finds the next job waiting.
    let ids = submit_all(&*b.queue, (0..30).map(|n| job(&format!("bounded-{n}"), &format!("key-{n}"), ""))).await;
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 3);
    for id in &ids {
        assert_eq!(b.queue.wait(id, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
    stop.cancel();
    workers.await.unwrap().unwrap();
    assert!(most.load(Ordering::SeqCst) <= 3, "{} jobs ran at once with 3 slots", most.load(Ordering::SeqCst));
}

/// Fails the first `failures` attempts of every job, then succeeds with the attempt number.
fn flaky(failures: u32, calls: Arc<AtomicU32>) -> Arc<dyn job_queue::JobHandler> {
    handler(move |job| {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            if job.attempt <= failures {
                Disposition::Retry { error: format!("transient failure {}", job.attempt), after: None }
            } else {
                Disposition::Succeeded(Bytes::from(job.attempt.to_string()))
            }
        })
    })
}

async fn a_transient_failure_is_retried_with_backoff_until_it_succeeds(kind: Kind) {
    let h = Harness::new(kind, "retry", |c| c.max_attempts = 5);
    let b = h.backends().await;
    let calls = Arc::new(AtomicU32::new(0));
    let id = b.queue.submit(job("r", "k", "")).await.unwrap().job_id;

    assert!(b.queue.try_execute_job(flaky(2, calls.clone()).as_ref()).await.unwrap());
    let after_first = b.queue.status(&id).await.unwrap().unwrap();
    assert_eq!(after_first.status, JobStatus::Retrying);
    assert_eq!(after_first.last_error.as_deref(), Some("transient failure 1"));

    let (stop, workers) = spawn_workers(b.queue.clone(), flaky(2, calls.clone()), 1);
    let state = b.queue.wait(&id, SOON).await.unwrap().unwrap();
    stop.cancel();
    workers.await.unwrap().unwrap();

    assert_eq!(state.status, JobStatus::Succeeded);
    assert_eq!(state.attempts, 3);
    assert_eq!(state.result.as_deref(), Some(&b"3"[..]));
    assert_eq!(calls.load(Ordering::SeqCst), 3, "each attempt ran the handler once");
    assert_eq!(b.queue.status(&id).await.unwrap(), Some(state), "what wait saw is what is stored");
    assert_eq!(b.queue.metrics().await.unwrap().retries, 2);
}

async fn a_job_s_secrets_reach_every_attempt_beside_its_payload(kind: Kind) {
    let h = Harness::new(kind, "secrets", |c| c.max_attempts = 3);
    let b = h.backends().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let work = handler({
        let seen = seen.clone();
        move |job| {
            seen.lock().push((job.attempt, job.payload.clone(), job.secrets.clone()));
            Box::pin(async move {
                if job.attempt == 1 {
                    Disposition::Retry { error: "once more".into(), after: None }
                } else {
                    Disposition::Succeeded(Bytes::new())
                }
            })
        }
    });
    let with = b.queue.submit(job_with_secrets("s", "User/1", "payload", "sealed bytes")).await.unwrap().job_id;
    let without = b.queue.submit(job("n", "User/2", "plain")).await.unwrap().job_id;
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 2);
    for id in [&with, &without] {
        assert_eq!(b.queue.wait(id, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
    stop.cancel();
    workers.await.unwrap().unwrap();

    let mut seen = seen.lock().clone();
    seen.sort_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
    let secrets: Vec<(u32, &[u8], &[u8])> = seen.iter().map(|(n, p, s)| (*n, p.as_ref(), s.as_ref())).collect();
    assert_eq!(
        secrets,
        vec![
            (1, &b"payload"[..], &b"sealed bytes"[..]),
            (2, b"payload", b"sealed bytes"),
            (1, b"plain", b""),
            (2, b"plain", b""),
        ]
    );
}

async fn a_job_in_backoff_blocks_later_jobs_of_its_key_but_not_other_keys(kind: Kind) {
    let h = Harness::new(kind, "backoff-order", |c| {
        c.backoff_base = Duration::from_millis(1500);
        c.backoff_max = Duration::from_millis(1500);
    });
    let b = h.backends().await;
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let work = handler({
        let log = log.clone();
        move |job| {
            let name = String::from_utf8(job.payload.to_vec()).unwrap();
            log.lock().push(format!("{name}#{}", job.attempt));
            Box::pin(async move {
                if name == "first" && job.attempt == 1 {
                    Disposition::Retry { error: "busy".to_owned(), after: None }
                } else {
                    Disposition::Succeeded(Bytes::new())
                }
            })
        }
    });
    let first = b.queue.submit(job("1", "User/1", "first")).await.unwrap().job_id;
    let second = b.queue.submit(job("2", "User/1", "second")).await.unwrap().job_id;
    let other = b.queue.submit(job("3", "User/2", "other")).await.unwrap().job_id;
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 3);

    let other_state = b.queue.wait(&other, SOON).await.unwrap().unwrap();
    assert_eq!(other_state.status, JobStatus::Succeeded, "another key is not held up by the backoff");
    let second_now = b.queue.status(&second).await.unwrap().unwrap();
    assert_eq!(second_now.status, JobStatus::Queued, "the later job of the key waits for the one in backoff");

    assert_eq!(b.queue.wait(&second, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    stop.cancel();
    workers.await.unwrap().unwrap();
    let log = log.lock().clone();
    let pos = |entry: &str| log.iter().position(|e| e == entry).unwrap_or_else(|| panic!("{entry} missing in {log:?}"));
    assert!(pos("first#2") < pos("second#1"), "the retried job ran before the later one: {log:?}");
    assert_eq!(b.queue.status(&first).await.unwrap().unwrap().status, JobStatus::Succeeded);
}

async fn a_job_failing_every_attempt_is_dead_lettered_with_its_last_error(kind: Kind) {
    let h = Harness::new(kind, "dead", |c| c.max_attempts = 3);
    let b = h.backends().await;
    let doomed = b.queue.submit(job("d", "User/9", "doomed")).await.unwrap().job_id;
    let behind = b.queue.submit(job("e", "User/9", "fine")).await.unwrap().job_id;
    let work = handler(|job| {
        Box::pin(async move {
            if job.payload.as_ref() == b"doomed" {
                Disposition::Retry {
                    error: format!("Secret Server unreachable (attempt {})", job.attempt),
                    after: None,
                }
            } else {
                Disposition::Succeeded(Bytes::new())
            }
        })
    });
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 2);

    let state = b.queue.wait(&doomed, SOON).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::DeadLettered);
    assert_eq!(state.attempts, 3);
    assert_eq!(state.last_error.as_deref(), Some("Secret Server unreachable (attempt 3)"));
    assert_eq!(b.queue.status(&doomed).await.unwrap(), Some(state), "what wait saw is what is stored");
    let next = b.queue.wait(&behind, SOON).await.unwrap().unwrap();
    assert_eq!(next.status, JobStatus::Succeeded, "a dead letter releases its key");
    stop.cancel();
    workers.await.unwrap().unwrap();

    let metrics = b.queue.metrics().await.unwrap();
    assert_eq!(metrics.dead_letters, 1);
    assert_eq!(metrics.retries, 2, "the third failure dead-letters instead of retrying");
}

async fn dead_letters_are_listed_newest_first_in_pages_found_by_job_id_and_discarded(kind: Kind) {
    let h = Harness::new(kind, "deadlist", |c| c.max_attempts = 1);
    let b = h.backends().await;
    let failing = handler(|job| {
        Box::pin(async move { Disposition::Retry { error: format!("503 for {}", job.ordering_key), after: None } })
    });
    let mut ids = Vec::new();
    for n in 0..3 {
        // One at a time, so that the order of the dead letters is the order of submission.
        let id = b.queue.submit(job(&format!("k{n}"), &format!("User/{n}"), &format!("p{n}"))).await.unwrap().job_id;
        while b.queue.try_execute_job(failing.as_ref()).await.unwrap() {}
        assert_eq!(b.queue.status(&id).await.unwrap().unwrap().status, JobStatus::DeadLettered);
        ids.push(id);
    }

    let first = b.queue.dead_letters(None, 2).await.unwrap();
    let listed: Vec<_> = first.items.iter().map(|d| d.job_id.clone()).collect();
    assert_eq!(listed, vec![ids[2].clone(), ids[1].clone()], "newest first");
    let second = b.queue.dead_letters(first.next.as_deref(), 2).await.unwrap();
    assert_eq!(second.items.iter().map(|d| d.job_id.clone()).collect::<Vec<_>>(), vec![ids[0].clone()]);
    assert_eq!(second.next, None, "the last page says so");
    let oldest = &second.items[0];
    assert_eq!((oldest.ordering_key.as_str(), oldest.attempts, oldest.error.as_str()), ("User/0", 1, "503 for User/0"));
    assert_eq!(oldest.payload.as_ref(), b"p0");

    assert_eq!(b.queue.dead_letter(&ids[1]).await.unwrap().map(|d| d.payload), Some(Bytes::from_static(b"p1")));
    assert!(b.queue.discard_dead_letter(&ids[1]).await.unwrap());
    assert!(!b.queue.discard_dead_letter(&ids[1]).await.unwrap(), "a discarded dead letter is gone");
    assert_eq!(b.queue.dead_letter(&ids[1]).await.unwrap(), None);
    assert_eq!(b.queue.dead_letters(None, 10).await.unwrap().items.len(), 2);
    assert!(matches!(b.queue.dead_letters(Some("not a cursor"), 10).await, Err(QueueError::Invalid(_))));
}

async fn a_permanent_failure_is_final_and_not_retried(kind: Kind) {
    let h = Harness::new(kind, "failed", |_| {});
    let b = h.backends().await;
    let id = b.queue.submit(job("f", "k", "")).await.unwrap().job_id;
    let refuse = handler(|_| Box::pin(async { Disposition::Failed(Bytes::from_static(b"409 uniqueness")) }));
    assert!(b.queue.try_execute_job(refuse.as_ref()).await.unwrap());

    let state = b.queue.status(&id).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Failed);
    assert_eq!(state.result.as_deref(), Some(&b"409 uniqueness"[..]));
    assert!(!b.queue.try_execute_job(refuse.as_ref()).await.unwrap(), "not retried");
    assert_eq!(b.queue.metrics().await.unwrap().retries, 0);
}

async fn wait_returns_the_unfinished_state_when_its_timeout_passes(kind: Kind) {
    let h = Harness::new(kind, "wait-timeout", |_| {});
    let b = h.backends().await;
    let id = b.queue.submit(job("w", "k", "")).await.unwrap().job_id;
    let state = b.queue.wait(&id, Duration::from_millis(200)).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Queued);
    assert!(!state.status.is_final());
}

async fn status_of_an_unknown_job_is_none(kind: Kind) {
    let h = Harness::new(kind, "unknown", |_| {});
    let b = h.backends().await;
    let nobody = JobId("0190c4b5-0000-7000-8000-000000000000".to_owned());
    assert!(b.queue.status(&nobody).await.unwrap().is_none());
    assert!(b.queue.wait(&nobody, Duration::from_millis(100)).await.unwrap().is_none());
}

async fn a_submitter_can_reattach_by_job_id_after_the_job_finished(kind: Kind) {
    let h = Harness::new(kind, "reattach", |_| {});
    let b = h.backends().await;
    let id = b.queue.submit(job("ra", "k", "xyz")).await.unwrap().job_id;
    // The first wait gives up before any worker ran.
    assert_eq!(b.queue.wait(&id, Duration::from_millis(50)).await.unwrap().unwrap().status, JobStatus::Queued);
    let (stop, workers) = spawn_workers(b.queue.clone(), reversing(), 1);

    let later = h.another_handle().await;
    let state = later.queue.wait(&id, SOON).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Succeeded);
    assert_eq!(state.result.as_deref(), Some(&b"zyx"[..]));
    stop.cancel();
    workers.await.unwrap().unwrap();
}

async fn the_trace_context_travels_with_jobs_and_events(kind: Kind) {
    let h = Harness::new(kind, "trace", |_| {});
    let b = h.backends().await;
    let trace: TraceContext = [
        ("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned()),
        ("tracestate".to_owned(), "congo=t61rcWkgMzE".to_owned()),
    ]
    .into();
    let mut new_job = job("t", "k", "");
    new_job.trace_context = trace.clone();
    b.queue.submit(new_job).await.unwrap();
    let seen = Arc::new(Mutex::new(None));
    let record = handler({
        let seen = seen.clone();
        move |job| {
            *seen.lock() = Some(job.trace_context.clone());
            Box::pin(async { Disposition::Succeeded(Bytes::new()) })
        }
    });
    assert!(b.queue.try_execute_job(record.as_ref()).await.unwrap());
    assert_eq!(seen.lock().clone(), Some(trace.clone()));

    let mut sub = b.events.subscribe("audit", "audit-1").await.unwrap();
    b.events.publish(Event { payload: Bytes::from_static(b"e"), trace_context: trace.clone() }).await.unwrap();
    let batch = sub.next_batch(10, SOON).await.unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].trace_context, trace);
}

async fn a_worker_aborted_mid_job_is_replaced_after_the_visibility_timeout_and_the_effect_applies_once(kind: Kind) {
    let h = Harness::new(kind, "abort", |c| c.visibility_timeout = Duration::from_millis(900));
    let b = h.backends().await;
    // The effect is idempotent by job id: applying it twice changes nothing.
    let applied = Arc::new(Mutex::new(HashMap::<JobId, u32>::new()));
    let invocations = Arc::new(AtomicU32::new(0));
    let started = Arc::new(Notify::new());
    let work = handler({
        let (applied, invocations, started) = (applied.clone(), invocations.clone(), started.clone());
        move |job| {
            let (applied, invocations, started) = (applied.clone(), invocations.clone(), started.clone());
            Box::pin(async move {
                invocations.fetch_add(1, Ordering::SeqCst);
                applied.lock().entry(job.id.clone()).or_insert(1);
                if job.attempt == 1 {
                    // Effect applied, outcome not yet recorded: the worst moment to crash.
                    started.notify_one();
                    std::future::pending::<()>().await;
                }
                Disposition::Succeeded(Bytes::from_static(b"done"))
            })
        }
    });
    let id = b.queue.submit(job("c", "User/5", "")).await.unwrap().job_id;
    let (_stop, doomed) = spawn_workers(b.queue.clone(), work.clone(), 1);
    tokio::time::timeout(SOON, started.notified()).await.expect("the first worker took the job");
    doomed.abort();
    let _ = doomed.await;
    assert_eq!(b.queue.status(&id).await.unwrap().unwrap().status, JobStatus::Running);

    let (stop, workers) = spawn_workers(b.queue.clone(), work, 1);
    let state = b.queue.wait(&id, SOON).await.unwrap().unwrap();
    stop.cancel();
    workers.await.unwrap().unwrap();

    assert_eq!(state.status, JobStatus::Succeeded);
    assert_eq!(state.attempts, 2, "the redelivery counts as an attempt");
    assert_eq!(invocations.load(Ordering::SeqCst), 2);
    assert_eq!(applied.lock().get(&id), Some(&1), "the effect was applied once");
}

async fn a_panicking_handler_is_retried_not_lost(kind: Kind) {
    let h = Harness::new(kind, "panic", |_| {});
    let b = h.backends().await;
    let id = b.queue.submit(job("p", "k", "")).await.unwrap().job_id;
    let work = handler(|job| {
        Box::pin(async move {
            if job.attempt == 1 {
                panic!("handler bug");
            }
            Disposition::Succeeded(Bytes::new())
        })
    });
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 1);
    let state = b.queue.wait(&id, SOON).await.unwrap().unwrap();
    stop.cancel();
    workers.await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Succeeded);
    assert_eq!(state.attempts, 2);
    assert!(state.last_error.as_deref().unwrap().contains("handler bug"));
    assert_eq!(b.queue.status(&id).await.unwrap(), Some(state), "what wait saw is what is stored");
}

async fn every_consumer_group_receives_every_event(kind: Kind) {
    let h = Harness::new(kind, "fanout", |_| {});
    let b = h.backends().await;
    let mut audit = b.events.subscribe("audit", "audit-1").await.unwrap();
    let mut metrics = b.events.subscribe("metrics", "metrics-1").await.unwrap();
    for n in 0..5 {
        b.events
            .publish(Event { payload: Bytes::from(format!("e{n}")), trace_context: TraceContext::new() })
            .await
            .unwrap();
    }
    for sub in [&mut audit, &mut metrics] {
        let mut got = Vec::new();
        while got.len() < 5 {
            let batch = sub.next_batch(3, SOON).await.unwrap();
            assert!(!batch.is_empty(), "events missing after {got:?}");
            sub.ack(&batch.iter().map(|d| d.id.clone()).collect::<Vec<_>>()).await.unwrap();
            got.extend(batch.into_iter().map(|d| String::from_utf8(d.payload.to_vec()).unwrap()));
        }
        assert_eq!(got, ["e0", "e1", "e2", "e3", "e4"]);
        assert!(sub.next_batch(10, Duration::from_millis(100)).await.unwrap().is_empty());
    }
}

async fn events_published_at_once_each_get_their_own_id_and_arrive_once(kind: Kind) {
    let h = Harness::new(kind, "burst", |_| {});
    let b = h.backends().await;
    let mut sub = b.events.subscribe("audit", "audit-1").await.unwrap();
    // Published together, so that the Redis bus sends them in shared pipelines.
    let ids = futures::future::join_all((0..300).map(|n| {
        b.events.publish(Event { payload: Bytes::from(format!("e{n}")), trace_context: TraceContext::new() })
    }))
    .await
    .into_iter()
    .map(Result::unwrap)
    .collect::<Vec<_>>();
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 300, "every publish has an id of its own");

    let mut delivered = HashMap::new();
    while delivered.len() < 300 {
        let batch = sub.next_batch(128, SOON).await.unwrap();
        assert!(!batch.is_empty(), "events missing after {}", delivered.len());
        sub.ack(&batch.iter().map(|d| d.id.clone()).collect::<Vec<_>>()).await.unwrap();
        for d in batch {
            assert!(delivered.insert(d.id.clone(), d.payload).is_none(), "{:?} delivered twice", d.id);
        }
    }
    for (n, id) in ids.iter().enumerate() {
        assert_eq!(delivered[id].as_ref(), format!("e{n}").as_bytes(), "the id a publish got names its event");
    }
    assert!(sub.next_batch(10, Duration::from_millis(100)).await.unwrap().is_empty());
}

async fn an_unacknowledged_event_is_delivered_again_until_acknowledged(kind: Kind) {
    let h = Harness::new(kind, "unacked", |_| {});
    let b = h.backends().await;
    let mut sub = b.events.subscribe("audit", "audit-1").await.unwrap();
    b.events.publish(Event { payload: Bytes::from_static(b"once"), trace_context: TraceContext::new() }).await.unwrap();
    let first = sub.next_batch(10, SOON).await.unwrap();
    assert_eq!(first.len(), 1);

    let again = sub.next_batch(10, Duration::from_millis(100)).await.unwrap();
    assert_eq!(again.iter().map(|d| d.id.clone()).collect::<Vec<_>>(), vec![first[0].id.clone()]);

    // A restarted consumer with the same name gets it too.
    let mut restarted = b.events.subscribe("audit", "audit-1").await.unwrap();
    let after_restart = restarted.next_batch(10, Duration::from_millis(100)).await.unwrap();
    assert_eq!(after_restart.len(), 1);
    assert_eq!(after_restart[0].payload.as_ref(), b"once");

    restarted.ack(&[after_restart[0].id.clone()]).await.unwrap();
    assert!(restarted.next_batch(10, Duration::from_millis(100)).await.unwrap().is_empty());
}

async fn events_left_by_a_vanished_consumer_go_to_another_consumer_of_its_group(kind: Kind) {
    let h = Harness::new(kind, "vanished", |c| c.visibility_timeout = Duration::from_millis(500));
    let b = h.backends().await;
    let mut lost = b.events.subscribe("audit", "audit-gone").await.unwrap();
    let mut survivor = b.events.subscribe("audit", "audit-alive").await.unwrap();
    b.events
        .publish(Event { payload: Bytes::from_static(b"orphan"), trace_context: TraceContext::new() })
        .await
        .unwrap();
    assert_eq!(lost.next_batch(10, SOON).await.unwrap().len(), 1);
    drop(lost);

    let deadline = tokio::time::Instant::now() + SOON;
    let batch = loop {
        let batch = survivor.next_batch(10, Duration::from_millis(200)).await.unwrap();
        if !batch.is_empty() || tokio::time::Instant::now() > deadline {
            break batch;
        }
    };
    assert_eq!(batch.len(), 1, "the survivor takes over the vanished consumer's event");
    assert_eq!(batch[0].payload.as_ref(), b"orphan");
}

async fn metrics_count_depth_in_flight_retries_dead_letters_and_the_oldest_job_age(kind: Kind) {
    let h = Harness::new(kind, "metrics", |_| {});
    let b = h.backends().await;
    let empty = b.queue.metrics().await.unwrap();
    assert_eq!((empty.depth, empty.in_flight, empty.retries, empty.dead_letters), (0, 0, 0, 0));
    assert_eq!(empty.oldest_age, None);

    let held = b.queue.submit(job("m1", "a", "")).await.unwrap().job_id;
    b.queue.submit(job("m2", "a", "")).await.unwrap();
    b.queue.submit(job("m3", "b", "")).await.unwrap();
    let deadline = tokio::time::Instant::now() + SOON;
    loop {
        let queued = b.queue.metrics().await.unwrap();
        assert_eq!((queued.depth, queued.in_flight), (3, 0));
        if queued.oldest_age.is_some_and(|age| age >= Duration::from_millis(50)) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the oldest job's age never grew: {queued:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let started = Arc::new(Notify::new());
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
    let (stop, workers) = spawn_workers(b.queue.clone(), blocking, 1);
    tokio::time::timeout(SOON, started.notified()).await.unwrap();
    let running = b.queue.metrics().await.unwrap();
    assert_eq!((running.depth, running.in_flight), (2, 1));
    release.add_permits(3);
    b.queue.wait(&held, SOON).await.unwrap();
    stop.cancel();
    workers.await.unwrap().unwrap();
}

async fn graceful_shutdown_lets_running_jobs_finish(kind: Kind) {
    let h = Harness::new(kind, "shutdown", |_| {});
    let b = h.backends().await;
    let started = Arc::new(Notify::new());
    let slow = handler({
        let started = started.clone();
        move |_| {
            let started = started.clone();
            Box::pin(async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(300)).await;
                Disposition::Succeeded(Bytes::from_static(b"finished"))
            })
        }
    });
    let id = b.queue.submit(job("s", "k", "")).await.unwrap().job_id;
    let (stop, workers) = spawn_workers(b.queue.clone(), slow, 1);
    tokio::time::timeout(SOON, started.notified()).await.unwrap();
    stop.cancel();
    workers.await.unwrap().unwrap();
    let state = b.queue.status(&id).await.unwrap().unwrap();
    assert_eq!(state.status, JobStatus::Succeeded, "the running job finished before the workers returned");
}

async fn results_and_idempotency_keys_expire_after_the_result_ttl(kind: Kind) {
    let h = Harness::new(kind, "ttl", |c| c.result_ttl = Duration::from_millis(300));
    let b = h.backends().await;
    let first = b.queue.submit(job("ttl", "k", "a")).await.unwrap().job_id;
    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    assert!(b.queue.status(&first).await.unwrap().is_some());
    let deadline = tokio::time::Instant::now() + SOON;
    while b.queue.status(&first).await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "the result never expired");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let again = b.queue.submit(job("ttl", "k", "b")).await.unwrap();
    assert!(!again.duplicate, "the idempotency key expired with the result");
    assert_ne!(again.job_id, first);
}

async fn invalid_jobs_are_refused_and_nothing_is_enqueued(kind: Kind) {
    let h = Harness::new(kind, "invalid", |c| c.max_payload_bytes = 16);
    let b = h.backends().await;
    for bad in [job("", "k", ""), job("i", "", ""), job("i", "k", "seventeen bytes!!")] {
        let err = b.queue.submit(bad).await.unwrap_err();
        assert!(matches!(err, QueueError::Invalid(_)), "{err}");
        assert!(!err.is_transient());
    }
    let too_big = Event { payload: Bytes::from(vec![0; 17]), trace_context: TraceContext::new() };
    assert!(matches!(b.events.publish(too_big).await, Err(QueueError::Invalid(_))));
    assert_eq!(b.queue.metrics().await.unwrap().depth, 0);
    assert!(!b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
}

async fn try_execute_job_runs_one_ready_job_and_reports_when_none_is_ready(kind: Kind) {
    let h = Harness::new(kind, "step", |_| {});
    let b = h.backends().await;
    assert!(!b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    let a = b.queue.submit(job("s1", "x", "1")).await.unwrap().job_id;
    let c = b.queue.submit(job("s2", "y", "2")).await.unwrap().job_id;
    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    assert!(!b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    for id in [a, c] {
        assert_eq!(b.queue.status(&id).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
    b.queue.ping().await.unwrap();
}

async fn a_running_job_sees_the_jobs_queued_behind_it_in_order_and_seeing_them_changes_nothing(kind: Kind) {
    let h = Harness::new(kind, "following", |_| {});
    let b = h.backends().await;
    let mut ids = Vec::new();
    for n in 1..=4 {
        ids.push(b.queue.submit(job(&format!("f{n}"), "Group/7", &n.to_string())).await.unwrap().job_id);
    }
    let other = b.queue.submit(job("other", "Group/8", "9")).await.unwrap().job_id;
    // What each attempt saw behind it (asking for at most two, then for everything), and the
    // attempt itself, kept past its end.
    let seen = Arc::new(Mutex::new(HashMap::<JobId, (Vec<JobId>, Vec<(JobId, Bytes)>)>::new()));
    let kept = Arc::new(Mutex::new(Vec::<job_queue::Job>::new()));
    let work = handler({
        let (seen, kept) = (seen.clone(), kept.clone());
        move |job| {
            let (seen, kept) = (seen.clone(), kept.clone());
            Box::pin(async move {
                let two = job.following(2).await.unwrap().into_iter().map(|q| q.id).collect();
                let all = job.following(16).await.unwrap().into_iter().map(|q| (q.id, q.payload)).collect();
                seen.lock().insert(job.id.clone(), (two, all));
                let mut result = job.payload.to_vec();
                result.reverse();
                kept.lock().push(job);
                Disposition::Succeeded(Bytes::from(result))
            })
        }
    });
    for _ in 0..5 {
        assert!(b.queue.try_execute_job(work.as_ref()).await.unwrap());
    }
    assert!(!b.queue.try_execute_job(work.as_ref()).await.unwrap(), "every job ran once, the seen ones included");

    {
        let seen = seen.lock();
        for (i, id) in ids.iter().enumerate() {
            let (two, all) = &seen[id];
            let behind: Vec<JobId> = ids[i + 1..].to_vec();
            assert_eq!(two, &behind.iter().take(2).cloned().collect::<Vec<_>>(), "job {} sees the next two", i + 1);
            let payloads: Vec<(JobId, Bytes)> =
                behind.iter().enumerate().map(|(j, id)| (id.clone(), Bytes::from((i + j + 2).to_string()))).collect();
            assert_eq!(all, &payloads, "job {} sees every job behind it, in order, with its payload", i + 1);
        }
        assert_eq!(seen[&other], (Vec::new(), Vec::new()), "a job alone on its key sees nothing behind it");
    }
    for (n, id) in ids.iter().enumerate() {
        let state = b.queue.status(id).await.unwrap().unwrap();
        assert_eq!(state.status, JobStatus::Succeeded);
        let reversed = (n + 1).to_string();
        assert_eq!(state.result.as_deref(), Some(reversed.as_bytes()), "each job has its own result");
        assert_eq!(state.attempts, 1, "being seen is not an attempt");
    }
    // Only a live attempt sees: once its attempt has ended, a job sees nothing behind it, though
    // jobs are queued there (the next job of the key heads the chain now, and sees them).
    let fifth = b.queue.submit(job("f5", "Group/7", "5")).await.unwrap().job_id;
    let sixth = b.queue.submit(job("f6", "Group/7", "6")).await.unwrap().job_id;
    let ended = kept.lock().iter().find(|j| j.id == ids[3]).cloned().unwrap();
    assert_eq!(ended.following(16).await.unwrap(), Vec::new());
    assert!(b.queue.try_execute_job(work.as_ref()).await.unwrap());
    assert_eq!(seen.lock()[&fifth].0, vec![sixth.clone()]);
    let ended = kept.lock().iter().find(|j| j.id == fifth).cloned().unwrap();
    assert_eq!(ended.following(16).await.unwrap(), Vec::new(), "not after its attempt ended");
    assert!(b.queue.try_execute_job(work.as_ref()).await.unwrap());
    assert_eq!(b.queue.status(&sixth).await.unwrap().unwrap().status, JobStatus::Succeeded);
}

async fn a_queued_job_is_behind_while_an_earlier_job_of_its_key_remains_and_not_once_it_heads_the_key(kind: Kind) {
    let h = Harness::new(kind, "behind", |_| {});
    let b = h.backends().await;
    let first = b.queue.submit(job("b1", "k", "1")).await.unwrap().job_id;
    let second = b.queue.submit(job("b2", "k", "2")).await.unwrap().job_id;
    let elsewhere = b.queue.submit(job("b3", "other", "3")).await.unwrap().job_id;
    let behind = |id: JobId| {
        let queue = Arc::clone(&b.queue);
        async move { queue.status(&id).await.unwrap().unwrap().behind }
    };
    assert!(!behind(first.clone()).await, "the first job heads its key");
    assert!(behind(second.clone()).await, "the second waits for the first");
    assert!(!behind(elsewhere.clone()).await, "a job alone on its key heads it");
    // One job at a time until the first has ended: the second then heads its key, still queued.
    while !b.queue.status(&first).await.unwrap().unwrap().status.is_final() {
        assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    }
    let state = b.queue.status(&second).await.unwrap().unwrap();
    assert_eq!((state.status, state.behind), (JobStatus::Queued, false));
}

async fn the_same_request_sent_again_after_its_job_was_dead_lettered_runs_as_a_new_job_under_its_key(kind: Kind) {
    let h = Harness::new(kind, "dead-key", |c| c.max_attempts = 1);
    let b = h.backends().await;
    let outage = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let work = {
        let outage = Arc::clone(&outage);
        handler(move |_| {
            let down = outage.load(Ordering::SeqCst);
            Box::pin(async move {
                if down {
                    Disposition::Retry { error: "Secret Server unreachable".into(), after: None }
                } else {
                    Disposition::Succeeded(Bytes::from_static(b"done"))
                }
            })
        })
    };
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 1);
    let first = b.queue.submit(fingerprinted("key", "POST /Users 1a2b", "one")).await.unwrap();
    assert_eq!(b.queue.wait(&first.job_id, SOON).await.unwrap().unwrap().status, JobStatus::DeadLettered);

    // Secret Server is back; the client sends the same request with the same key.
    outage.store(false, Ordering::SeqCst);
    let again = b.queue.submit(fingerprinted("key", "POST /Users 1a2b", "one")).await.unwrap();
    assert!(!again.duplicate, "a new job, not the dead letter's answer again");
    assert_ne!(again.job_id, first.job_id);
    let state = b.queue.wait(&again.job_id, SOON).await.unwrap().unwrap();
    assert_eq!((state.status, state.result.as_deref()), (JobStatus::Succeeded, Some(&b"done"[..])));
    assert!(b.queue.dead_letter(&first.job_id).await.unwrap().is_some(), "the dead letter stays");
    // Another request with the key is still refused, and the finished job's key replays it.
    assert!(matches!(
        b.queue.submit(fingerprinted("key", "DELETE /Users/13 3c4d", "two")).await,
        Err(QueueError::KeyReused { .. })
    ));
    let replay = b.queue.submit(fingerprinted("key", "POST /Users 1a2b", "one")).await.unwrap();
    assert_eq!((replay.job_id, replay.duplicate), (again.job_id, true));
    stop.cancel();
    workers.await.unwrap().unwrap();
}

/// What [`logging`] handlers record: per job run, its payload and those of the jobs it saw behind it.
type RunLog = Arc<Mutex<Vec<(String, Vec<String>)>>>;

/// A handler that records each job's payload, and the payloads of the jobs it sees queued behind
/// it, then succeeds with its payload.
fn logging(log: RunLog) -> Arc<dyn job_queue::JobHandler> {
    handler(move |job| {
        let log = log.clone();
        Box::pin(async move {
            let behind = job.following(16).await.unwrap();
            let behind = behind.iter().map(|q| String::from_utf8(q.payload.to_vec()).unwrap()).collect();
            log.lock().push((String::from_utf8(job.payload.to_vec()).unwrap(), behind));
            Disposition::Succeeded(job.payload)
        })
    })
}

async fn a_queued_job_no_worker_took_is_withdrawn_for_good_and_never_reaches_a_handler(kind: Kind) {
    let h = Harness::new(kind, "withdraw", |_| {});
    let b = h.backends().await;
    let withdrawn = b.queue.submit(job("w1", "User/1", "withdrawn")).await.unwrap().job_id;

    assert_eq!(b.queue.withdraw(&withdrawn).await.unwrap(), Withdrawal::Withdrawn { behind: false });
    let state = b.queue.status(&withdrawn).await.unwrap().unwrap();
    assert_eq!((state.status, state.attempts, state.behind), (JobStatus::Withdrawn, 0, false));
    assert!(state.status.is_final());
    assert_eq!(
        b.queue.withdraw(&withdrawn).await.unwrap(),
        Withdrawal::Withdrawn { behind: false },
        "a repeated withdrawal says the same"
    );
    let nobody = JobId("0190c4b5-0000-7000-8000-000000000000".to_owned());
    assert_eq!(b.queue.withdraw(&nobody).await.unwrap(), Withdrawal::Unknown);

    // Workers start afterwards. The next job of the key runs, and it would have run after the
    // withdrawn one: had that one still been there, it would have reached the handler first.
    let log = Arc::new(Mutex::new(Vec::new()));
    let (stop, workers) = spawn_workers(b.queue.clone(), logging(log.clone()), 2);
    let next = b.queue.submit(job("w2", "User/1", "next")).await.unwrap().job_id;
    assert_eq!(b.queue.wait(&next, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    stop.cancel();
    workers.await.unwrap().unwrap();
    assert_eq!(log.lock().clone(), vec![("next".to_owned(), Vec::new())], "the withdrawn job never reached a handler");
    assert_eq!(b.queue.status(&withdrawn).await.unwrap().unwrap().status, JobStatus::Withdrawn);

    let metrics = b.queue.metrics().await.unwrap();
    assert_eq!((metrics.withdrawn, metrics.depth, metrics.in_flight), (1, 0, 0), "{metrics:?}");
    assert_eq!(metrics.oldest_age, None, "a withdrawn job is not waiting");
}

async fn a_job_a_worker_took_is_not_withdrawn_and_runs_to_its_end(kind: Kind) {
    let h = Harness::new(kind, "withdraw-taken", |_| {});
    let b = h.backends().await;
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let held = handler({
        let (started, release) = (started.clone(), release.clone());
        move |job| {
            let (started, release) = (started.clone(), release.clone());
            Box::pin(async move {
                started.notify_one();
                release.notified().await;
                Disposition::Succeeded(job.payload)
            })
        }
    });
    let running = b.queue.submit(job("t1", "User/2", "running")).await.unwrap().job_id;
    let (stop, workers) = spawn_workers(b.queue.clone(), held, 1);
    started.notified().await;

    assert_eq!(b.queue.withdraw(&running).await.unwrap(), Withdrawal::Taken);
    assert_eq!(b.queue.status(&running).await.unwrap().unwrap().status, JobStatus::Running, "nothing changed");
    release.notify_one();
    let state = b.queue.wait(&running, SOON).await.unwrap().unwrap();
    assert_eq!((state.status, state.result.as_deref()), (JobStatus::Succeeded, Some(&b"running"[..])));
    assert_eq!(b.queue.withdraw(&running).await.unwrap(), Withdrawal::Taken, "nor once it has ended");
    stop.cancel();
    workers.await.unwrap().unwrap();

    // A job waiting out a retry has had an attempt, which may have made part of its change.
    let retrying = b.queue.submit(job("t2", "User/2", "retrying")).await.unwrap().job_id;
    let busy = handler(|_| {
        Box::pin(async { Disposition::Retry { error: "busy".to_owned(), after: Some(Duration::from_secs(3600)) } })
    });
    assert!(b.queue.try_execute_job(busy.as_ref()).await.unwrap());
    assert_eq!(b.queue.withdraw(&retrying).await.unwrap(), Withdrawal::Taken);
    let state = b.queue.status(&retrying).await.unwrap().unwrap();
    assert_eq!((state.status, state.attempts), (JobStatus::Retrying, 1));
    assert_eq!(b.queue.metrics().await.unwrap().withdrawn, 0);
}

async fn withdrawing_the_head_of_a_key_lets_the_next_job_of_the_key_run(kind: Kind) {
    let h = Harness::new(kind, "withdraw-head", |_| {});
    let b = h.backends().await;
    let first = b.queue.submit(job("h1", "User/3", "first")).await.unwrap().job_id;
    let second = b.queue.submit(job("h2", "User/3", "second")).await.unwrap().job_id;
    assert!(b.queue.status(&second).await.unwrap().unwrap().behind);

    assert_eq!(b.queue.withdraw(&first).await.unwrap(), Withdrawal::Withdrawn { behind: false });
    let state = b.queue.status(&second).await.unwrap().unwrap();
    assert_eq!((state.status, state.behind), (JobStatus::Queued, false), "the next job heads the key now");
    let log = Arc::new(Mutex::new(Vec::new()));
    let work = logging(log.clone());
    assert!(b.queue.try_execute_job(work.as_ref()).await.unwrap());
    assert!(!b.queue.try_execute_job(work.as_ref()).await.unwrap(), "nothing else is ready");
    assert_eq!(log.lock().clone(), vec![("second".to_owned(), Vec::new())]);
    assert_eq!(b.queue.status(&second).await.unwrap().unwrap().status, JobStatus::Succeeded);
}

async fn withdrawing_a_job_in_the_middle_of_its_key_keeps_the_order_of_the_others(kind: Kind) {
    let h = Harness::new(kind, "withdraw-middle", |_| {});
    let b = h.backends().await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c", "d"] {
        ids.push(b.queue.submit(job(name, "Group/5", name)).await.unwrap().job_id);
    }

    assert_eq!(b.queue.withdraw(&ids[1]).await.unwrap(), Withdrawal::Withdrawn { behind: true });
    let state = b.queue.status(&ids[1]).await.unwrap().unwrap();
    assert_eq!((state.status, state.behind), (JobStatus::Withdrawn, true), "it keeps where it was");
    assert_eq!(b.queue.withdraw(&ids[1]).await.unwrap(), Withdrawal::Withdrawn { behind: true });
    let log = Arc::new(Mutex::new(Vec::new()));
    let work = logging(log.clone());
    while b.queue.try_execute_job(work.as_ref()).await.unwrap() {}

    let owned = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>();
    assert_eq!(
        log.lock().clone(),
        vec![("a".to_owned(), owned(&["c", "d"])), ("c".to_owned(), owned(&["d"])), ("d".to_owned(), Vec::new())],
        "the others ran in their order, and none saw the withdrawn job behind it"
    );
    for id in [&ids[0], &ids[2], &ids[3]] {
        assert_eq!(b.queue.status(id).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
}

async fn a_job_the_running_job_ahead_of_it_has_seen_is_not_withdrawn_and_runs_in_its_turn(kind: Kind) {
    let h = Harness::new(kind, "withdraw-seen", |_| {});
    let b = h.backends().await;
    let mut ids = Vec::new();
    for name in ["head", "seen", "unseen"] {
        ids.push(b.queue.submit(job(name, "Group/6", name)).await.unwrap().job_id);
    }
    // The head's attempt looks at the next job behind it (it may carry its change along, as the
    // adapter does with a burst of member changes), and holds on until released.
    let (looked, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let work = handler({
        let (looked, release, log) = (looked.clone(), release.clone(), log.clone());
        move |job| {
            let (looked, release, log) = (looked.clone(), release.clone(), log.clone());
            Box::pin(async move {
                log.lock().push(String::from_utf8(job.payload.to_vec()).unwrap());
                if job.payload.as_ref() == b"head" {
                    assert_eq!(job.following(1).await.unwrap().len(), 1);
                    looked.notify_one();
                    release.notified().await;
                }
                Disposition::Succeeded(job.payload)
            })
        }
    });
    let (stop, workers) = spawn_workers(b.queue.clone(), work, 2);
    looked.notified().await;

    assert_eq!(b.queue.withdraw(&ids[1]).await.unwrap(), Withdrawal::Taken, "its change may be on its way");
    assert_eq!(b.queue.status(&ids[1]).await.unwrap().unwrap().status, JobStatus::Queued);
    assert_eq!(b.queue.withdraw(&ids[2]).await.unwrap(), Withdrawal::Withdrawn { behind: true }, "not seen");
    release.notify_one();
    for id in &ids[..2] {
        assert_eq!(b.queue.wait(id, SOON).await.unwrap().unwrap().status, JobStatus::Succeeded);
    }
    stop.cancel();
    workers.await.unwrap().unwrap();
    assert_eq!(log.lock().clone(), ["head", "seen"]);
}

async fn a_waiter_on_a_withdrawn_job_wakes_with_withdrawn(kind: Kind) {
    let h = Harness::new(kind, "withdraw-wait", |_| {});
    let b = h.backends().await;
    let id = b.queue.submit(job("ww", "User/4", "x")).await.unwrap().job_id;
    // A waiter in this process and one in another (for Redis: woken by the done message alone,
    // the job not being watched there). Left unwoken, each would end at its timeout with the
    // queued state it read first. The timeout is shorter than the notifier's first ping (15 s), after
    // which a Redis waiter may re-read its job without being woken for it.
    let other = h.another_handle().await;
    assert_eq!(other.queue.wait(&id, Duration::from_millis(50)).await.unwrap().unwrap().status, JobStatus::Queued);
    let waiters: Vec<_> = [b.queue.clone(), other.queue.clone()]
        .into_iter()
        .map(|queue| {
            let id = id.clone();
            tokio::spawn(async move { queue.wait(&id, Duration::from_secs(10)).await })
        })
        .collect();
    // Time to park (not needed for the outcome: a waiter that had not parked yet reads the job
    // withdrawn).
    tokio::time::sleep(Duration::from_millis(100)).await;

    assert_eq!(b.queue.withdraw(&id).await.unwrap(), Withdrawal::Withdrawn { behind: false });
    for waiter in waiters {
        let state = waiter.await.unwrap().unwrap().unwrap();
        assert_eq!((state.job_id.clone(), state.status), (id.clone(), JobStatus::Withdrawn));
    }
}

async fn the_same_request_sent_again_after_its_job_was_withdrawn_runs_as_a_new_job_under_its_key(kind: Kind) {
    let h = Harness::new(kind, "withdraw-key", |_| {});
    let b = h.backends().await;
    let first = b.queue.submit(fingerprinted("key", "DELETE /Users/7 1a2b", "one")).await.unwrap();
    assert_eq!(b.queue.withdraw(&first.job_id).await.unwrap(), Withdrawal::Withdrawn { behind: false });
    let keyed = b.queue.find("key").await.unwrap().unwrap();
    assert_eq!((keyed.job_id, keyed.status), (first.job_id.clone(), JobStatus::Withdrawn));

    // The client sends the same request with the same key again: it runs, not the withdrawal again.
    let again = b.queue.submit(fingerprinted("key", "DELETE /Users/7 1a2b", "one")).await.unwrap();
    assert!(!again.duplicate, "a new job, not the withdrawn one's answer again");
    assert_ne!(again.job_id, first.job_id);
    assert!(b.queue.try_execute_job(reversing().as_ref()).await.unwrap());
    let state = b.queue.status(&again.job_id).await.unwrap().unwrap();
    assert_eq!((state.status, state.result.as_deref()), (JobStatus::Succeeded, Some(&b"eno"[..])));
    // Another request with the key is still refused, and the finished job's key replays it.
    assert!(matches!(
        b.queue.submit(fingerprinted("key", "PATCH /Users/7 3c4d", "two")).await,
        Err(QueueError::KeyReused { .. })
    ));
    let replay = b.queue.submit(fingerprinted("key", "DELETE /Users/7 1a2b", "one")).await.unwrap();
    assert_eq!((replay.job_id, replay.duplicate), (again.job_id, true));
}
