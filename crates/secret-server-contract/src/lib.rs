//! Delinea's published OpenAPI document of Secret Server (11.7.2, cut down to what a connector
//! calls; see `secret-server-api/spec/README.md`) used as a contract, for tests only.
//!
//! The client (`secret-server-client`) and the emulator (`secret-server-sim`) were written from
//! secondary sources and agree with each other; this crate holds them both to the published
//! document instead:
//!
//! - [`Spec`] reads the document, converts its OpenAPI 3.0 schemas to JSON Schema (validated with
//!   the `jsonschema` crate) and checks a request (the operation exists, its query parameters are
//!   declared and typed, its body fits) or an answer (its status is declared, its body fits);
//! - [`sample`] makes answers from the schemas, with every nullable property `null`, so that the
//!   client is shown to decode whatever the document allows;
//! - [`RecordingProxy`] sits between the client and the emulator and keeps every exchange whole;
//!   [`ScriptedVault`] answers a client with what a test computes.
//!
//! The tests in `tests/contract/` drive every client method through the proxy to the emulator and
//! check both sides, and decode the samples through every client method.

pub mod proxy;
pub mod sample;
pub mod spec;

pub use proxy::{Asked, Exchange, RecordingProxy, ScriptedVault};
pub use sample::{Fill, sample};
pub use spec::{Operation, Problem, Spec, report};
