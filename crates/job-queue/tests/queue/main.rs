//! The job queue's integration tests: the conformance suite against both
//! backends, and the Redis-only tests (crash, restart, TLS, ACL, trimming).
//! Tests that need Redis fail when it is not reachable; they never skip.

mod conformance;
mod own_redis;
mod redis_only;
mod support;
