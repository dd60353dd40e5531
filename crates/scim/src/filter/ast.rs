//! The filter syntax tree and its canonical printed form.

use crate::path::AttrPath;
use serde_json::Number;
use std::fmt;

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3), `pr` aside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CompareOp {
    /// Every operator.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator's canonical (lowercase) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// Parses an operator name, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|op| op.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether this is an ordering operator (`gt ge lt le`).
    pub fn is_ordering(self) -> bool {
        matches!(self, CompareOp::Gt | CompareOp::Ge | CompareOp::Lt | CompareOp::Le)
    }

    /// Whether this is a substring operator (`co sw ew`).
    pub fn is_substring(self) -> bool {
        matches!(self, CompareOp::Co | CompareOp::Sw | CompareOp::Ew)
    }
}

/// A comparison value (RFC 7644 `compValue`): `false / null / true / number / string`.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::Null => f.write_str("null"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::String(s) => {
                // JSON string syntax is the filter's string syntax (RFC 7644 §3.4.2.2).
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
        }
    }
}

/// A parsed filter (RFC 7644 §3.4.2.2).
///
/// `And` and `Or` hold two or more operands: a chain `a and b and c` is one `And` of three, while
/// parentheses keep their grouping (`a and (b and c)` is an `And` whose second operand is an `And`),
/// so that printing and parsing again gives back the same tree.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`.
    Compare {
        path: AttrPath,
        op: CompareOp,
        value: CompValue,
    },
    /// `path pr`.
    Present(AttrPath),
    And(Vec<Filter>),
    Or(Vec<Filter>),
    /// `not (filter)`.
    Not(Box<Filter>),
    /// `path[filter]`, optionally followed by a test on a sub-attribute of the matching element
    /// (`emails[type eq "work"].value co "@example.com"`). Paths inside the brackets and in `then`
    /// are relative to the element.
    ValuePath {
        path: AttrPath,
        filter: Box<Filter>,
        then: Option<Box<Filter>>,
    },
}

impl Filter {
    /// `path op value`.
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Self {
        Filter::Compare { path, op, value }
    }

    /// The depth of the tree (a single comparison is 1).
    pub fn depth(&self) -> usize {
        match self {
            Filter::Compare { .. } | Filter::Present(_) => 1,
            Filter::And(v) | Filter::Or(v) => 1 + v.iter().map(Filter::depth).max().unwrap_or(0),
            Filter::Not(f) => 1 + f.depth(),
            Filter::ValuePath { filter, then, .. } => 1 + filter.depth().max(then.as_ref().map_or(0, |t| t.depth())),
        }
    }
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Filter::Compare { path, op, value } => write!(f, "{path} {} {value}", op.as_str()),
            Filter::Present(path) => write!(f, "{path} pr"),
            Filter::And(items) => join(f, items, "and", |c| matches!(c, Filter::And(_) | Filter::Or(_))),
            // `and` binds tighter than `or`, so only a nested `or` needs its parentheses back.
            Filter::Or(items) => join(f, items, "or", |c| matches!(c, Filter::Or(_))),
            Filter::Not(inner) => write!(f, "not ({inner})"),
            Filter::ValuePath { path, filter, then } => {
                write!(f, "{path}[{filter}]")?;
                if let Some(then) = then {
                    write!(f, ".{then}")?;
                }
                Ok(())
            }
        }
    }
}

fn join(f: &mut fmt::Formatter<'_>, items: &[Filter], word: &str, wrap: impl Fn(&Filter) -> bool) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            write!(f, " {word} ")?;
        }
        if wrap(item) {
            write!(f, "({item})")?;
        } else {
            write!(f, "{item}")?;
        }
    }
    Ok(())
}
