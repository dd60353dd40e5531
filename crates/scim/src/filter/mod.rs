//! Filters (RFC 7644 §3.4.2.2): parse, print, bind to a resource type, evaluate, and plan index use.
//!
//! ```
//! use scim::{Filter, ResourceKind, Schemas};
//! use serde_json::json;
//!
//! let schemas = Schemas::standard();
//! let filter = Filter::parse(r#"userName eq "BJensen" and emails[type eq "work"]"#).unwrap();
//! let compiled = filter.compile(&schemas, ResourceKind::User).unwrap();
//! let user = json!({"userName": "bjensen", "emails": [{"type": "work", "value": "b@example.com"}]});
//! assert!(compiled.matches(&user));
//! ```
//!
//! Parsing is syntax only; [`Filter::compile`] checks every attribute against the resource type's
//! schema (unknown attributes and type mismatches are `invalidFilter`) and fixes how each comparison
//! runs: the attribute's type (string, boolean, integer, decimal, dateTime, reference, binary), its
//! `caseExact`, and the `value` sub-attribute for a bare complex attribute (`container eq "12"`).
//! The compiled form evaluates a document with no further lookups, and [`CompiledFilter::plan`]
//! tells an indexed store which candidates to fetch.

mod ast;
mod compile;
mod eval;
mod lexer;
mod parser;
mod plan;

pub use ast::{CompValue, CompareOp, Filter};
pub use compile::CompiledFilter;
pub use plan::{IndexPlan, index_key};

use crate::error::ScimError;

/// Bounds on filters accepted from clients, so that a hostile filter costs bounded time and stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterLimits {
    /// The longest filter accepted, in bytes.
    pub max_length: usize,
    /// The deepest nesting accepted (parentheses, `not`, value paths).
    pub max_depth: usize,
}

impl FilterLimits {
    /// 16 KiB (room for a hundred `id eq "<uuid>"` alternatives) and 32 levels.
    pub const DEFAULT: FilterLimits = FilterLimits { max_length: 16 * 1024, max_depth: 32 };
}

impl Default for FilterLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Filter {
    /// Parses a filter with the default [`FilterLimits`].
    ///
    /// # Errors
    /// `invalidFilter`, with the position of the problem, for anything outside the grammar or the limits.
    pub fn parse(input: &str) -> Result<Filter, ScimError> {
        Self::parse_with_limits(input, FilterLimits::DEFAULT)
    }

    /// Parses a filter with explicit limits.
    ///
    /// # Errors
    /// `invalidFilter`, with the position of the problem, for anything outside the grammar or the limits.
    pub fn parse_with_limits(input: &str, limits: FilterLimits) -> Result<Filter, ScimError> {
        if input.len() > limits.max_length {
            return Err(ScimError::invalid_filter(format!(
                "the filter is {} bytes long; the limit is {}",
                input.len(),
                limits.max_length
            )));
        }
        let tokens = lexer::tokenize(input)?;
        parser::Parser::new(&tokens, input.len(), limits.max_depth).parse_all()
    }
}

/// Parses a PATCH path into its attribute, value filter and trailing sub-attribute.
pub(crate) fn parse_patch_path(
    input: &str,
    limits: FilterLimits,
) -> Result<(crate::path::AttrPath, Option<Filter>, Option<String>), ScimError> {
    if input.len() > limits.max_length {
        return Err(ScimError::invalid_path(format!(
            "the path is {} bytes long; the limit is {}",
            input.len(),
            limits.max_length
        )));
    }
    let tokens = lexer::tokenize(input)?;
    parser::Parser::new(&tokens, input.len(), limits.max_depth).parse_patch_path()
}

impl std::str::FromStr for Filter {
    type Err = ScimError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Filter::parse(s)
    }
}
