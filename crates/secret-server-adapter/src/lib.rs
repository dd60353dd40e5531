//! The Secret Server adapter: everything in the connector that touches Secret Server.
//!
//! It keeps a **read model** of every Secret Server instance it serves (users, groups and their
//! memberships, folders, folder permissions, secret metadata, secret permissions) in memory,
//! answers the gateway's reads from it over the gRPC `Directory` service, and runs the
//! **provisioning workers** that apply the gateway's jobs to Secret Server through
//! `secret-server-client`, writing each change through to the read model and publishing an audit
//! event. The SCIM ↔ Secret Server mapping lives in [`mapping`], one module per resource type.
//!
//! ```text
//!  gateway ──gRPC Directory──▶ directory ──▶ read_model (per instance, indexes)
//!  gateway ──job queue──▶ worker ──▶ secret-server-client ──▶ Secret Server
//!                           │  └──▶ read_model (write-through), attributes, meta (state store)
//!                           └──▶ events stream (ResourceChange audit events)
//!  startup: first load ─▶ read_model ◀─ resync every `resync_interval`
//! ```
//!
//! # Decisions
//!
//! - **Read model.** Compact records (Secret Server's fields, interned template names, member ids
//!   as sorted integer vectors, stored attributes as JSON text), never a `serde_json::Value` per
//!   resource; SCIM JSON is rendered on read, and a group's members only when the request needs
//!   them. Indexes (case-folded unless `caseExact`, as the `scim` crate folds index keys):
//!   `userName`, `externalId`, e-mail values and `displayName` of users; `displayName`,
//!   `externalId` and `members.value` of groups; folder names and `parent.value`;
//!   `container.value`, `user.value`, `group.value` of permissions and secrets; an ordered
//!   `meta.lastModified` per type. A filter's index plan picks the candidates; the `scim` crate's
//!   evaluation decides. Sorting is by `sortBy` then resource type and id, so pages are stable;
//!   cursors (RFC 9865) are offsets into that order sealed with HMAC-SHA256, under a key every
//!   replica shares and keeps across restarts (`cursor_secret`, or one kept in the state store:
//!   see [`cursor_key`]).
//! - **Staying current.** The first load reads everything, paged, several pages and groups at a
//!   time, with progress on stderr (or in the log when not a terminal); the instance is ready only
//!   after it. Workers write through. A periodic resync (default every 5 minutes) reads everything
//!   again and applies the difference, which picks up changes made directly in Secret Server;
//!   records a worker wrote while the resync was reading are left to the next one. Secret Server
//!   has no change feed, so a resync costs what a load costs (for 100,000 users and 1,000,000
//!   memberships about 10,000 requests and a few seconds); the interval trades that load on
//!   Secret Server against freshness.
//! - **Meta.** `meta.version` is a hash of what the resource is (its Secret Server fields, the ids
//!   it refers to, its stored attributes) — stable across restarts, changed exactly when the
//!   resource changes; `meta.created` is Secret Server's `created` where it has one, otherwise first
//!   sight; `meta.lastModified` is bumped whenever the version changes. Both are persisted (see
//!   [`meta`]). `meta.location` is left to the gateway, which knows the public URL.
//! - **Attribute store.** SCIM attributes Secret Server has no field for round-trip exactly through
//!   the state store, keyed by instance, resource type and id (see [`attributes`]).
//! - **Users.** `userName` cannot change in Secret Server: a change is `400 mutability`, or (per
//!   connection policy) Secret Server's name is kept and the client's is stored and shown. A
//!   `DELETE` deactivates the user and leaves a tombstone: the user answers `404` (or
//!   `active: false`, per connection policy); creating the same `userName` again revives that user
//!   with the new attributes. Without a `password`, a random one satisfying Secret Server's default
//!   policy is generated (see [`password`]).
//! - **Groups.** Membership changes are deltas, one Secret Server call per member, never a rewrite
//!   of the list; members must be existing, enabled users; groups cannot be members. A member is
//!   rendered as RFC 7643 §8.7.1 defines it, `value` and `type` (the gateway adds `$ref`), without
//!   a `display`, so that a client reads back exactly the members it wrote.
//! - **Containers.** `name` is Secret Server's `folderName` (SailPoint resolves containers by
//!   `name eq`); `displayName` is the client's own value, kept in the attribute store when it
//!   differs from `name`, and the folder's name when the client never set one (or removed it).
//!   A PUT or PATCH of either works: changing `name` renames the folder and leaves a `displayName`
//!   the client set alone; changing `displayName` never touches Secret Server. A `displayName`
//!   filter on containers is evaluated on each container (the folder-name index answers `name`).
//! - **Permissions.** `rights` go through the connection's rights mapping: several rights combine to
//!   the most privileged roles, an unmapped right is `400` naming it, an empty set is `400` (delete
//!   the permission instead); reading reports the client's own rights while they still hold, else
//!   the mapped rights, else a synthetic right naming the roles (see [`mapping::rights`]). Granting
//!   on a folder that inherits follows the connection's policy: break inheritance (default) or
//!   refuse with `400`.
//! - **PrivilegedData** is read-only (`501` on writes) and never carries a field value.
//! - **Scope.** A connection's `container_subtrees` limit Containers, ContainerPermissions,
//!   PrivilegedData and PrivilegedDataPermissions: ids outside are `404`, lists leave them out, a
//!   new parent outside is `400` like a missing one, a container at the root is `403`. Read and
//!   write permissions per type are checked again here (the gateway checks them first) with the
//!   same decision, `connections::scope`: a type the connection cannot read is `404`, an action
//!   it may not do `403`.
//! - **Principals.** Users and groups are changed only within the connection's principal scope
//!   (`connections::scope`: all, what it created, or members of listed groups), never when
//!   protected (the instance's API account, listed principals, holders of the administrator
//!   role), and passwords only as the connection's policy allows: `403` saying why, before any
//!   change (see [`principals`] and the worker's guard). The connection that created a user or
//!   group is kept in its stored attributes (`$createdBy`). A principal scope that limits reads
//!   hides the others like missing ones, in lists, references and permission grants.
//! - **Idempotency.** Jobs are delivered at least once. Creates record an intent (job → name) and
//!   adopt what an earlier delivery made; member and permission changes treat "already done" as
//!   done; deletes remember their job. `If-Match` is checked in the worker against the version after
//!   reading the target fresh from Secret Server, under the queue's per-resource ordering.
//! - **Secret Server's errors.** The client reports what Secret Server answered; [`client_error`]
//!   maps it to the connector's error table, in one place (a duplicate name is `409 uniqueness`, a
//!   refused password `400` saying why, an outage or a refused API account `503`).
//! - **Audit.** One `ResourceChange` per job (built with `audit-events`) with the mapped Secret
//!   Server fields before and after, never a password, its outcome and a group's member changes;
//!   its id derives from the job id, so a redelivery records once.
//! - **Administration.** The gRPC `Admin` service ([`admin`]), behind the same credential check as
//!   `Directory`, lets the gateway's admin API start and follow a resync ([`resync`]: phase, records
//!   read, outcome), confirm the removals one held back by naming their report, and run the preflight
//!   ([`doctor`](mod@doctor)) with the adapter's own client. Held removals are said in `/readyz` (still ready)
//!   and put on the audit trail.
//! - **Replicas.** With `replica_id` set, each adapter replica follows the events stream with its
//!   own consumer group and refreshes the resources the others changed, so reads stay consistent
//!   behind a load balancer (see [`replication`]). Without it the adapter runs as one replica.
//! - **Restarts.** With `snapshot_dir` set, the adapter writes a snapshot of each read model there
//!   (periodically and at shutdown) and a restart starts from it: ready as soon as it is read and
//!   the connector-held state is read from the state store, then it follows the events stream from
//!   where its consumer group stopped and resyncs at once (see [`snapshot`]).
//!
//! # Tests and measurements
//!
//! `tests/adapter/` starts the emulator, a job queue and a state store (in process, or Redis with a
//! unique prefix), and the adapter on port 0; it reads through the real gRPC client, writes by
//! submitting real jobs built with `adapter-api`, and checks the emulator through its own REST API. The load
//! benchmark (`examples/load_benchmark.rs`, numbers in `docs/benchmarks.md`) loads 100,000 users,
//! 10,000 groups and 1,000,000 memberships from a generated emulator and measures memory and
//! `userName eq` latency through gRPC.

pub mod admin;
pub mod attributes;
pub mod bounds;
pub mod client_error;
pub mod console_account;
pub mod core;
pub mod cursor_key;
pub mod directory;
pub mod doctor;
pub mod grpc_auth;
mod http;
pub mod instance;
pub mod intents;
pub mod mapping;
pub mod meta;
pub mod metrics;
pub mod password;
pub mod principals;
pub mod read_model;
pub mod replication;
pub mod resync;
pub mod settings;
pub mod snapshot;
mod startup;
pub mod text;
pub mod tombstones;
pub mod worker;

pub use doctor::{DoctorReport, doctor};
pub use principals::ProtectedPrincipals;
pub use read_model::confirm::RemovalBound;
pub use settings::{AdapterSettings, InstanceSettings, SettingsError, random_grpc_secret};
pub use startup::{AdapterDeps, RunningAdapter, start};
