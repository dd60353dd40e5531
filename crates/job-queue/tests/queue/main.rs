//! The job queue's integration tests: the conformance suite against both
//! backends, the Redis-only tests (crash, restart, TLS, ACL, trimming), and a
//! Sentinel failover under load. Tests that need Redis (or `redis-server` and
//! `redis-sentinel` on PATH) fail when it is not there; they never skip.

mod conformance;
mod redis_only;
mod sentinel;
mod support;
