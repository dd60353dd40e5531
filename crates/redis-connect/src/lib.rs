//! How a process of the connector reaches Redis, in one place for the job queue, the events
//! stream and the state store: [`RedisSettings`] says where (a URL, or the primary that Redis
//! Sentinel names), as whom (ACL user and password) and how to trust it (a CA bundle and an
//! optional client certificate for TLS); [`Redis`] is built from them once, and hands out
//! [`Connection`]s and clients of the current primary.
//!
//! - **TLS**: `rediss://` URLs (or `rediss://` Sentinel addresses) verify the server against the
//!   system's trust store, or against `tls.ca_file` when set; `tls.cert_file` and `tls.key_file`
//!   present a client certificate to servers that require one (`tls-auth-clients yes`).
//!   Verification cannot be turned off.
//! - **Sentinel**: the client asks the Sentinels for the primary of the monitored group at every
//!   (re)connection, and a [`Connection`] whose calls fail (the connection drops, or the server
//!   answers `READONLY` as a demoted primary) asks again and moves to the new primary. Calls that
//!   fail meanwhile fail: their callers retry (the job queue does, with backoff, for as long as
//!   its `op_timeout`).
//! - **Secrets** (a password, a URL that may carry one) never appear in `Debug` or in errors.
//!
//! The `testing` feature adds what the Redis tests of the workspace share: private
//! `redis-server` and `redis-sentinel` processes and certificates made at test time.

mod connect;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use connect::{Connection, Redis};
pub use settings::{DEFAULT_SENTINEL_PORT, Endpoint, RedisSettings, SentinelSettings, SettingsError, TlsFiles};
