//! The SCIM gateway: the HTTP front-end that SailPoint, Entra ID, Okta and
//! OneLogin talk to. It is stateless and scales out: it authenticates each
//! request to a *connection* (static bearer token, OAuth2 client-credentials
//! token, or HTTP Basic), enforces the connection's scope and rate limit,
//! answers reads through the adapter's gRPC `Directory`, submits writes as
//! provisioning jobs on the queue and waits for their results (both through
//! the adapter's API crate, `adapter-api`: its client and its job contract),
//! runs Bulk requests, serves discovery, and hosts the admin API that manages
//! connections (with a CLI over it).
//!
//! Routes: `/scim/v2/...` (SCIM, credentials required), `/oauth2/token`
//! (client credentials), `/admin/v1/...` (admin token required), and
//! `/healthz`, `/readyz`, `/metrics`, which are open by design for probes and
//! scrapers (with `metrics_listen`, `/metrics` and the details of `/readyz`
//! move to a listener of their own). Every error, including actix-web's own
//! 404, 405, 413 and 415, is an RFC 7644 error body served as
//! `application/scim+json`.
//!
//! Decisions (see each module for the reasons):
//! - writes are answered only once the worker applied them (or failed); after
//!   `job_deadline`, a job no worker took is withdrawn (`503`, not applied) and
//!   one a worker took is `504` naming the job; `If-Match` travels with the
//!   job and is checked where the change is applied;
//! - one circuit breaker per Secret Server instance pauses writes when it
//!   keeps failing (`503` + `Retry-After` at once), one for the adapter
//!   pauses reads; both close by themselves after a successful probe;
//! - what a connection may do with each resource type is decided by
//!   [`connections::scope`], as in the adapter: a type it cannot read is
//!   `404` (and left out of discovery), an action it may not do `403`;
//! - rate limits are token buckets per replica ([`rate_limit`]);
//! - credentials are stored only as hashes, and verified credentials are
//!   cached in-process for a bounded time, re-checked against the connection
//!   record on every use ([`connections::verify`]);
//! - refusals are cheap and come first ([`auth`]): failed authentication is
//!   throttled per client address and per credential identifier before any
//!   password hash ([`throttle`]), a repeated wrong credential is refused from
//!   memory, password hashes run a bounded number at once, and refusals reach
//!   the audit trail as periodic summaries ([`auth_failures`]), not one event
//!   each; the client's address comes from `X-Forwarded-For` only behind a
//!   trusted proxy, and a caller's trace context and request id are believed
//!   only once it is authenticated ([`front_door`]);
//! - a call's `ScimCall` audit event is on record before its answer leaves:
//!   appended to the events stream with the events of concurrent calls, or
//!   written to a spool on disk when the stream cannot take it ([`audit`]);
//! - attributes of a request body that the schema does not define are ignored
//!   (and named in the audit record) or refused, by the connection's policy
//!   ([`unknown`]); the adapter never sees them.

pub mod admin_client;
pub mod admin_model;
pub mod audit;
pub mod auth;
pub mod auth_failures;
pub mod circuit_breaker;
pub mod cli;
pub mod console;
pub mod directory;
pub mod errors;
pub mod front_door;
pub mod jobs;
pub mod jwt;
pub mod rate_limit;
pub mod render;
pub mod request;
pub mod routes;
pub mod settings;
pub mod startup;
pub mod state;
pub mod throttle;
pub mod unknown;

pub use admin_client::AdminClient;
pub use auth_failures::SummarySettings;
pub use cli::{AdminCommand, run};
pub use front_door::TrustedProxies;
pub use settings::{AuditBacklogPolicy, AuditSettings, BreakerSettings, GatewaySettings, Limits};
pub use startup::{GatewayDeps, RunningGateway, start};
pub use throttle::{FailureAllowance, ThrottleSettings};
