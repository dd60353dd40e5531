//! The SCIM 2.0 protocol core shared by the gateway and the adapter.
//!
//! It knows RFC 7643 (schemas, resources) and RFC 7644 (filters, PATCH,
//! projection, sorting, paging, bulk, errors) and the forms real SCIM clients
//! send; it does no I/O, so that every rule is testable in isolation and the
//! same code judges a request in the gateway and applies it in the adapter.

mod equality;
pub mod error;
pub mod filter;
mod json;
pub mod list;
pub mod patch;
pub mod path;
pub mod resource;
pub mod schema;
mod text;
pub mod validate;
pub mod urn;

pub use error::{ScimError, ScimType};
pub use filter::{CompiledFilter, Filter, FilterLimits, IndexPlan};
pub use list::ListResponse;
pub use patch::{Member, MemberLookup, MembersChange, PatchOp, PatchOperation, PatchOutcome, PatchPath, PatchRequest};
pub use path::AttrPath;
pub use resource::ResourceKind;
pub use validate::{validate_create, validate_replace};
pub use schema::{AttrRef, Attribute, AttributeType, Mutability, PathTarget, Returned, Schema, Schemas, Uniqueness};
