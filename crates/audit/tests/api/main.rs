//! The audit service end to end: spawned on port 0 with its own data directory and events bus,
//! fed through the bus, queried over HTTP.

mod auth;
mod export;
mod helpers;
mod ingest;
mod query;
mod redis;
mod retention;
mod tamper;
