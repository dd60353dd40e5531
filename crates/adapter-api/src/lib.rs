//! The adapter's API: everything the gateway (and any other client) needs to talk to the
//! Secret Server adapter, and everything the adapter needs to understand what it is sent, in one
//! place, in the way each service is paired with its API-model and client crate.
//!
//! - [`job`]: the provisioning job contract. The gateway builds a [`Job`] and submits it on the
//!   queue with its ordering key ([`Job::submission`]), its passwords sealed with [`JobKeys`]
//!   ([`sealing`]); an adapter worker opens and validates it ([`Job::open`]) and hands back a
//!   [`Written`] or an error, which the gateway decodes ([`job::decode_result`]).
//! - [`directory`]: the `Directory` gRPC service's domain model (requests, resources, pages,
//!   health), converted to and from the generated types at the edge on both sides, and
//!   [`DirectoryClient`], its client.
//! - [`admin`]: the `Admin` gRPC service's domain model (a resync's state, held removals, a
//!   preflight report) and [`AdminClient`], its client.
//! - [`dead_letter`]: a dead-lettered job as an administrator inspects and replays it
//!   ([`DeadJob`]), never with a password.
//! - [`id`]: resource ids, read exactly as the connector issues them (one reader for the gateway
//!   and the adapter).
//! - [`kind`] and [`Operation`]: the one conversion of SCIM resource kinds and provisioning
//!   operations to their protobuf values, used by every wire (reads, jobs, audit events).
//!
//! Generated protobuf types do not leave this crate's conversions: callers see domain types and
//! `ServiceError`s only.

pub mod admin;
pub mod client;
pub mod dead_letter;
pub mod directory;
pub mod id;
pub mod job;
pub mod kind;
pub mod operation;
pub mod sealing;

pub use admin::AdminClient;
pub use client::DirectoryClient;
pub use dead_letter::DeadJob;
pub use directory::{
    GetResource, Health, InstanceHealth, Page, Projection, Resource, SearchPage, SearchQuery, SearchResources,
};
pub use job::{Job, Written};
pub use operation::Operation;
pub use sealing::{JobKeys, KeyError, SealedJob};
