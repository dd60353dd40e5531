//! The in-process backend: the same semantics as the Redis one, kept in this
//! process's memory, for `scim-connector dev` without Redis and for tests.
//!
//! It passes the same conformance suite (ordering chains, idempotency,
//! retries with backoff, dead letters, leases renewed by heartbeats and
//! reclaimed after the visibility timeout, fan-out of events to consumer
//! groups). Its durability limits, by design:
//!
//! - Nothing survives the process: queued jobs, results, idempotency records,
//!   dead letters and events are lost when it exits or crashes. Use Redis
//!   wherever a change must not be lost.
//! - Only workers and submitters in the same process share a queue; there is
//!   no cross-process parallelism.
//! - A "crashed worker" can only be a task that was aborted or stalled; its job
//!   is reclaimed after the visibility timeout exactly as with Redis.
//! - Memory is bounded only by the retention settings: finished jobs live for
//!   `result_ttl`, dead letters for `dead_letter_retention`, acknowledged
//!   events for `retention`.

mod events;
mod queue;

pub use events::InProcessEventBus;
pub use queue::InProcessQueue;
