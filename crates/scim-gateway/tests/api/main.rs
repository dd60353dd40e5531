//! The gateway's integration tests: the real gateway on port 0, in front of
//! the real adapter (its `start`), the Secret Server emulator, an in-process
//! job queue and events bus, and an in-memory state store.

mod helpers;

mod admin;
mod at_rest;
mod audit_backlog;
mod audit_durability;
mod auth;
mod breaker;
mod bulk;
mod conditional;
mod console;
mod console_secret_server;
mod deadline;
mod directory;
mod discovery;
mod entra;
mod errors;
mod front_door;
mod idempotency;
mod ids;
mod jwt;
mod limits;
mod oauth;
mod okta;
mod patch_response;
mod principals;
mod rate_limit;
mod recovery;
mod replicas;
mod resources;
mod role_type;
mod roles;
mod sailpoint;
mod scope;
mod secret_moves;
mod unknown_attributes;
mod validation;
