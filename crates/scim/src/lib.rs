//! The SCIM 2.0 protocol core shared by the gateway and the adapter.
//!
//! It knows RFC 7643 (schemas, resources), RFC 7644 (filters, PATCH, projection, sorting, paging,
//! bulk, errors), RFC 9865 (cursor paging) and the forms real SCIM clients send; it does no I/O, so
//! that every rule is testable in isolation and the same code judges a request in the gateway and
//! applies it in the adapter. Resources are `serde_json::Value` objects handled through the schemas.
//!
//! # What the other crates use
//!
//! | need | API |
//! |---|---|
//! | resource types and endpoints | [`ResourceKind`] (`endpoint()`, `name()`, `schema_urn()`, `from_endpoint()`, `ALL`) |
//! | schemas, discovery documents | [`Schemas::standard()`] (share it in an `Arc`); [`Schemas::attribute`] / [`Schemas::resolve`] for case-insensitive, URN-qualified paths; `schemas_list_document`, `schema_document_by_id`, `resource_types_list_document`, `resource_type_document_by_name` |
//! | POST / PUT bodies | [`validate_create`], [`validate_replace`] (normalized document or a [`ScimError`]) |
//! | attributes the schema does not define | [`unknown::screen_resource`], [`unknown::screen_patch`] → [`unknown::Screened`] (the body without them, their names, the error that refuses them) |
//! | filters | [`Filter::parse`] (bounded by [`FilterLimits`]), `Display` (canonical, parses back), [`Filter::compile`] → [`CompiledFilter::matches`] and [`CompiledFilter::plan`] → [`IndexPlan`]; [`filter::index_key`] is how an index must key values |
//! | PATCH | [`PatchRequest::parse`] / [`PatchRequest::from_slice`], [`PatchRequest::apply`] → [`PatchOutcome`] (document, `changed`, [`MembersChange`]); [`MemberLookup`] resolves member removals by other filters |
//! | list responses | [`search::ListQuery`] from query pairs or a [`search::SearchRequest`]; [`projection::Projection`]; [`sort::SortSpec`] → [`sort::BoundSort`]; [`paging::PageRequest`], [`paging::index_window`], [`paging::CursorCodec`]; [`ListResponse`] |
//! | versions | [`etag::ETag::weak`], [`etag::version_of`], [`etag::check_if_match`], [`etag::if_none_match_hits`] |
//! | Bulk | [`bulk::BulkRequest::parse`] (limits → 413), [`bulk::BulkRequest::execution_order`] (cycles → 409), [`bulk::BulkIds`], [`bulk::BulkResponse`] |
//! | discovery | [`spc::ServiceProviderConfig::document`]; [`urn`] constants and [`urn::MEDIA_TYPE`] |
//! | errors | [`ScimError`] carries every RFC 7644 and RFC 9865 `scimType` and its HTTP status; `to_body()` is the RFC 7644 §3.12 body |
//!
//! # Decisions
//!
//! - **Unknown attributes** in a POST/PUT body are rejected by the validators (`invalidSyntax`),
//!   never silently dropped; readOnly ones are ignored as RFC 7644 §3.5.1 says. In PATCH, an unknown
//!   path (or path-less value key) is `invalidPath`. A caller that tolerates unknown attributes
//!   screens the body first with [`unknown`], which takes them out and names them (the gateway does,
//!   by its connection's policy, and audits the names). In `attributes`/`excludedAttributes`
//!   unknown names are ignored.
//! - **Missing `schemas`** in PATCH, `.search` and Bulk bodies is tolerated; a present one must name
//!   the message URN.
//! - **Group membership** never travels as a rewritten list: PATCH yields a delta (or "replace all
//!   with this set"), so a group of 100,000 members costs the same to change as one of ten. A member
//!   removal by a filter other than `value eq` asks a [`MemberLookup`] (the adapter's index), or uses
//!   the `members` in the document when the caller passed them.
//! - **Filters** on unknown attributes are `invalidFilter`; a bare complex attribute means its
//!   `value`; `ne` is true when no value equals (including when the attribute is unassigned).
//!
//! # Fuzzing
//!
//! The parsers run under `cargo fuzz` from the `fuzz/` crate at the repository root (a separate
//! crate with its own `[workspace]`, so the main workspace stays on stable). cargo-fuzz needs
//! nightly features; on a stable toolchain set `RUSTC_BOOTSTRAP=1`:
//!
//! ```text
//! cargo install --locked cargo-fuzz
//! cd fuzz
//! RUSTC_BOOTSTRAP=1 cargo fuzz run filter -- -max_total_time=600
//! RUSTC_BOOTSTRAP=1 cargo fuzz run patch -- -max_total_time=600
//! RUSTC_BOOTSTRAP=1 cargo fuzz run resource -- -max_total_time=600
//! ```
//!
//! `filter` parses, prints, re-parses, compiles and evaluates arbitrary filter text; `patch` parses
//! and applies arbitrary PatchOp bodies to RFC example resources; `resource` validates arbitrary
//! JSON as each resource type and projects it. Each asserts its invariants (print → parse round
//! trip, every error carries a `scimType` with a 4xx status) and must never panic. CI builds every
//! target and runs each for a minute from its seeds (`scripts/fuzz-smoke.sh`); results of the long
//! runs are recorded in `docs/fuzzing.md`.
//!
//! # Benchmarks
//!
//! `cargo bench -p scim` runs the criterion benchmarks in `benches/` (filters over 100,000 users,
//! PATCH, projection); the numbers are in `docs/benchmarks.md`, section "scim core".

pub mod bulk;
mod equality;
pub mod error;
pub mod etag;
pub mod filter;
mod json;
pub mod list;
pub mod paging;
pub mod password;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod search;
pub mod sort;
pub mod spc;
mod text;
pub mod unknown;
pub mod urn;
pub mod validate;

pub use error::{ErrorBody, ScimError, ScimType};
pub use filter::{CompiledFilter, Filter, FilterLimits, IndexPlan};
/// A JSON value's type in words (`a number`, `an array`), for error details that never quote the value.
pub use json::type_name as json_type_name;
pub use list::ListResponse;
pub use patch::{Member, MemberLookup, MembersChange, PatchOp, PatchOperation, PatchOutcome, PatchPath, PatchRequest};
pub use path::AttrPath;
pub use resource::ResourceKind;
pub use schema::{AttrRef, Attribute, AttributeType, Mutability, PathTarget, Returned, Schema, Schemas, Uniqueness};
pub use urn::MEDIA_TYPE;
pub use validate::{validate_create, validate_replace};
