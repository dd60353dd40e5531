//! Evaluating a compiled filter against a JSON document.

use super::ast::CompareOp;
use crate::json::{get_ci, is_unassigned};
use crate::schema::AttributeType;
use crate::text::{
    cmp_folded, contains_folded, ends_with_folded, eq_folded, is_canonical_utc, parse_datetime, starts_with_folded,
};
use serde_json::Value;
use std::cmp::Ordering;
use time::OffsetDateTime;

/// Where a compiled path reads its values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Loc {
    /// The extension URN whose object holds the attribute; `None` at the top level.
    pub ext: Option<String>,
    /// The attribute; `None` means the evaluated value itself (an element of a simple multi-valued
    /// attribute inside a value path).
    pub attr: Option<String>,
    pub sub: Option<String>,
}

/// A typed test on one value; the operand is pre-folded when the attribute is not `caseExact`.
#[derive(Debug, Clone)]
pub(crate) enum Test {
    Str {
        op: CompareOp,
        operand: String,
        case_exact: bool,
    },
    Bool(bool),
    Num {
        op: CompareOp,
        operand: f64,
        int: Option<i64>,
    },
    /// `canonical` is the operand as `YYYY-MM-DDTHH:MM:SSZ`, when it has one: stored timestamps in
    /// that form compare as strings, without parsing.
    Date {
        op: CompareOp,
        operand: OffsetDateTime,
        canonical: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Cmp {
        loc: Loc,
        test: Test,
        canonical: String,
        kind: AttributeType,
    },
    Present(Loc),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    /// Some element of the attribute at `loc` satisfies `inner` (a value path).
    Each {
        loc: Loc,
        inner: Box<Node>,
    },
}

/// Calls `f` on each value of `v` (the elements of an array, or `v` itself) until one returns true.
fn any_item(v: &Value, f: &mut dyn FnMut(&Value) -> bool) -> bool {
    match v {
        Value::Array(items) => items.iter().any(f),
        other => f(other),
    }
}

impl Loc {
    /// Whether any value at this location in `root` satisfies `f`. Multi-valued attributes match
    /// when any element does (RFC 7644 §3.4.2.2).
    pub(crate) fn any(&self, root: &Value, f: &mut dyn FnMut(&Value) -> bool) -> bool {
        let Some(attr) = &self.attr else {
            return any_item(root, f);
        };
        let Some(obj) = root.as_object() else {
            return false;
        };
        let container = match &self.ext {
            Some(urn) => match get_ci(obj, urn).and_then(Value::as_object) {
                Some(c) => c,
                None => return false,
            },
            None => obj,
        };
        let Some(v) = get_ci(container, attr) else {
            return false;
        };
        match &self.sub {
            None => any_item(v, f),
            Some(sub) => {
                let mut in_element =
                    |e: &Value| e.as_object().and_then(|o| get_ci(o, sub)).is_some_and(|x| any_item(x, &mut *f));
                match v {
                    Value::Array(items) => items.iter().any(&mut in_element),
                    other => in_element(other),
                }
            }
        }
    }
}

fn ordering_holds(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

impl Test {
    pub(crate) fn holds(&self, v: &Value) -> bool {
        match self {
            Test::Str { op, operand, case_exact } => {
                let Some(s) = v.as_str() else { return false };
                if *case_exact {
                    match op {
                        CompareOp::Eq => s == operand,
                        CompareOp::Ne => s != operand,
                        CompareOp::Co => s.contains(operand.as_str()),
                        CompareOp::Sw => s.starts_with(operand.as_str()),
                        CompareOp::Ew => s.ends_with(operand.as_str()),
                        _ => ordering_holds(*op, s.cmp(operand.as_str())),
                    }
                } else {
                    match op {
                        CompareOp::Eq => eq_folded(s, operand),
                        CompareOp::Ne => !eq_folded(s, operand),
                        CompareOp::Co => contains_folded(s, operand),
                        CompareOp::Sw => starts_with_folded(s, operand),
                        CompareOp::Ew => ends_with_folded(s, operand),
                        _ => ordering_holds(*op, cmp_folded(s, operand)),
                    }
                }
            }
            Test::Bool(b) => match v {
                Value::Bool(x) => x == b,
                // Stored data written by a lenient client may hold "True"/"False".
                Value::String(s) => (s.eq_ignore_ascii_case("true") && *b) || (s.eq_ignore_ascii_case("false") && !*b),
                _ => false,
            },
            Test::Num { op, operand, int } => {
                let Value::Number(n) = v else { return false };
                let ord = match (int, n.as_i64()) {
                    (Some(a), Some(b)) => b.cmp(a),
                    _ => match n.as_f64().and_then(|x| x.partial_cmp(operand)) {
                        Some(o) => o,
                        None => return false,
                    },
                };
                ordering_holds(*op, ord)
            }
            Test::Date { op, operand, canonical } => {
                let Some(s) = v.as_str() else { return false };
                if let Some(c) = canonical
                    && is_canonical_utc(s)
                {
                    return ordering_holds(*op, s.cmp(c.as_str()));
                }
                let Some(at) = parse_datetime(s) else { return false };
                ordering_holds(*op, at.cmp(operand))
            }
        }
    }
}

impl Node {
    pub(crate) fn eval(&self, root: &Value) -> bool {
        match self {
            Node::Cmp { loc, test, .. } => loc.any(root, &mut |v| test.holds(v)),
            Node::Present(loc) => loc.any(root, &mut |v| !is_unassigned(v)),
            Node::And(items) => items.iter().all(|n| n.eval(root)),
            Node::Or(items) => items.iter().any(|n| n.eval(root)),
            Node::Not(inner) => !inner.eval(root),
            Node::Each { loc, inner } => loc.any(root, &mut |element| inner.eval(element)),
        }
    }

    /// Collects `x` from `value eq "x"` (case-exact) and `or`s of them; false for anything else.
    pub(crate) fn collect_value_eqs(&self, out: &mut Vec<String>) -> bool {
        match self {
            Node::Cmp {
                loc: Loc { ext: None, attr: Some(attr), sub: None },
                test: Test::Str { op: CompareOp::Eq, operand, case_exact: true },
                ..
            } if attr.eq_ignore_ascii_case("value") => {
                out.push(operand.clone());
                true
            }
            Node::Or(items) => items.iter().all(|n| n.collect_value_eqs(out)),
            _ => false,
        }
    }
}
