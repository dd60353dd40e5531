//! The Redis Streams backend (Redis 6.2+ or Valkey, standalone or a
//! Sentinel-managed primary; not Redis Cluster).
//!
//! # Layout
//!
//! With `base = <prefix>:q:<queue>`:
//!
//! | key | type | holds |
//! |---|---|---|
//! | `base:ready` | stream, group `workers` | one entry per runnable job (the head of its chain) |
//! | `base:job:<digest>` | hash | id, idempotency key, fingerprint, status, ordering key, payload, secrets (while unfinished), trace context, attempts, result, last error, owner, `seen` (by an earlier job's attempt: not withdrawable), `withdrawn` (`head` or `behind`) |
//! | `base:key:<ordering key>` | list | the chain: unfinished jobs of one ordering key, oldest first |
//! | `base:delayed` | sorted set | jobs waiting out a retry backoff, by due time |
//! | `base:opened` | hash | unfinished jobs counted per second of submission (depth) |
//! | `base:oldest` | sorted set | those seconds by earliest submission time (oldest job's age) |
//! | `base:stats` | hash | the retry and withdrawal counters |
//! | `base:dead` | stream | dead letters: id, ordering key, attempts, last error, payload (never the secrets) |
//! | `base:done` | pub/sub channel | the final state of the jobs a batch finished |
//! | `<prefix>:ev:<events>` | stream, one group per subscriber | events |
//!
//! Every state change is one Lua script (see `scripts.rs`), so a crash between
//! two commands cannot leave a job half-moved.
//!
//! # Life of a job
//!
//! A job id is `<UUIDv7>.<digest>`, the digest being 32 hex digits of the
//! SHA-256 of the idempotency key; the job's hash is keyed by the digest, so it
//! is also the idempotency record (a second submission with the key finds it;
//! the script refuses two keys that share a digest). The record keeps the
//! submission's fingerprint: a second submission with the key and another
//! fingerprint is refused (`QueueError::KeyReused`) in the same script, and
//! [`JobQueue::find`](crate::JobQueue::find) reads it back by key.
//!
//! `submit` stores the job and appends it to its
//! chain; a job at the head of its chain gets a `ready` entry. Workers read
//! entries with `XREADGROUP BLOCK` (a new job wakes them at once), start the
//! attempt (owner, attempt counter; while jobs are waiting, one script reads
//! and starts them without blocking, in one round trip), run the handler while renewing the lease
//! (`XCLAIM … JUSTID` resets the entry's idle time), then record the outcome
//! and `XACK` in one script, which also reads and starts the next waiting jobs
//! for the slots the finished attempts free (one call per cycle of a busy
//! worker process, not two). A final outcome expires the job hash (and so its
//! idempotency record) after `result_ttl`, releases the next job of the chain and
//! publishes on `base:done`, which wakes the submitters waiting on that job. A
//! transient failure puts the job in `base:delayed`; the scheduler of any
//! worker process moves it back to `ready` when due (sleeping until then, not
//! polling). An entry idle for the visibility timeout is taken over with
//! `XAUTOCLAIM`, which counts as an attempt; after `max_attempts` the job goes
//! to `base:dead` with its last error.
//!
//! A job still `queued` with no attempt started, and not `seen` by the running
//! attempt of an earlier job of its key (`Job::following` marks what it shows), may be withdrawn
//! ([`JobQueue::withdraw`](crate::JobQueue::withdraw)), in one script: it leaves
//! its chain (a head releases the next job as a final outcome does), its
//! `ready` entry, if it has one, is deleted and acknowledged, and it becomes
//! final as `withdrawn` (the field `withdrawn` says whether it was the `head` or
//! `behind`), expiring after `result_ttl` and published on `base:done` like any
//! final job. A worker whose blocking read returned the entry just before finds
//! the job final when it starts the attempt, acknowledges the entry and skips it.
//! The withdrawal is acknowledged, like a submission, once `wait_replicas`
//! replicas hold it: one lost in a failover would bring back a job its submitter
//! was told never runs.
//!
//! # Retention
//!
//! Workers trim `ready` and the events stream with `XTRIM MINID ~` at the
//! oldest of: the retention cutoff, each group's oldest pending entry and each
//! group's last delivered entry. So trimming never drops an entry that is
//! unfinished, not yet read, or not acknowledged by every group.
//!
//! # Durability
//!
//! A submission is acknowledged after its script ran. It survives a Redis
//! restart when Redis persists it before replying: `appendonly yes` with
//! `appendfsync always` (the restart test runs that way). With the default
//! `appendfsync everysec`, up to a second of acknowledged submissions can be
//! lost with the host. Each call retries with backoff for `op_timeout` while
//! the connection is down; repeating a submission is safe, since the script
//! recognises its own job id.
//!
//! Replication to a replica is asynchronous, so a failover (Sentinel promoting
//! a replica) can lose what the old primary had not sent yet. With
//! `wait_replicas` (1 by default with Sentinel) a submission is acknowledged
//! only once that many replicas hold it (`WAIT`, sent on the same connection
//! right after the script, in one round trip); Sentinel promotes the replica
//! with the most data, so no acknowledged job is lost. While fewer replicas
//! answer, submissions retry until `op_timeout` and then fail as unavailable:
//! the submitter was told nothing was acknowledged. Outcomes are not waited
//! for: one lost in a failover makes the job run again (delivery is at least
//! once), which is safe.

mod batch;
mod conn;
mod events;
mod keys;
mod notifier;
mod queue;
mod reply;
mod scripts;
mod state;
mod workers;

pub use events::RedisEventBus;
pub use queue::{DeadLetter, RedisJobQueue};
