//! Index plans: which candidates an indexed store must fetch so that evaluating the filter on them
//! gives the complete answer.

use super::ast::CompareOp;
use super::compile::CompiledFilter;
use super::eval::{Node, Test};
use crate::schema::{Attribute, AttributeType};
use crate::text::fold;
use serde_json::Value;

/// A superset of the resources matching a filter, in terms an index can answer.
///
/// Attribute paths are canonical (schema case; `emails.value`, `container.value`,
/// `urn:...:enterprise:2.0:User:employeeNumber`) and values are index keys as [`index_key`] computes
/// them, so `caseExact` is already accounted for. A store runs the plan on the indexes it has, treats
/// an `Eq` or `Prefix` on an attribute it does not index as `All`, and then evaluates
/// [`CompiledFilter::matches`] on the candidates: the plan only narrows, the filter decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexPlan {
    /// Every resource of the type is a candidate.
    All,
    /// Resources with an `attr` value whose index key equals `value`.
    Eq { attr: String, value: String },
    /// Resources with an `attr` value whose index key starts with `prefix`.
    Prefix { attr: String, prefix: String },
    /// The intersection of the plans' candidates.
    And(Vec<IndexPlan>),
    /// The union of the plans' candidates.
    Or(Vec<IndexPlan>),
}

impl IndexPlan {
    /// Whether the plan is a full scan.
    pub fn is_all(&self) -> bool {
        matches!(self, IndexPlan::All)
    }

    fn and(items: Vec<IndexPlan>) -> IndexPlan {
        let mut narrowing: Vec<IndexPlan> = Vec::new();
        for item in items {
            match item {
                IndexPlan::All => {}
                IndexPlan::And(inner) => narrowing.extend(inner),
                other => narrowing.push(other),
            }
        }
        match narrowing.len() {
            0 => IndexPlan::All,
            1 => narrowing.pop().unwrap_or(IndexPlan::All),
            _ => IndexPlan::And(narrowing),
        }
    }

    fn or(items: Vec<IndexPlan>) -> IndexPlan {
        let mut alternatives = Vec::new();
        for item in items {
            match item {
                IndexPlan::All => return IndexPlan::All,
                IndexPlan::Or(inner) => alternatives.extend(inner),
                other => alternatives.push(other),
            }
        }
        match alternatives.len() {
            0 => IndexPlan::All,
            1 => alternatives.pop().unwrap_or(IndexPlan::All),
            _ => IndexPlan::Or(alternatives),
        }
    }
}

/// The index key of one value of `attr`: the string itself when `caseExact`, else its lowercase
/// form; `"true"`/`"false"` for booleans; the decimal text of an integer. `None` for types an
/// equality index does not serve (decimal, dateTime, complex) and for values of the wrong type.
pub fn index_key(attr: &Attribute, value: &Value) -> Option<String> {
    match (attr.kind, value) {
        (AttributeType::String | AttributeType::Reference | AttributeType::Binary, Value::String(s)) => {
            Some(if attr.case_exact || attr.kind == AttributeType::Binary { s.clone() } else { fold(s) })
        }
        (AttributeType::Boolean, Value::Bool(b)) => Some(b.to_string()),
        (AttributeType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("true") => Some("true".into()),
        (AttributeType::Boolean, Value::String(s)) if s.eq_ignore_ascii_case("false") => Some("false".into()),
        (AttributeType::Integer, Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15).map(|f| f as i64))
            .map(|i| i.to_string()),
        _ => None,
    }
}

fn plan(node: &Node) -> IndexPlan {
    match node {
        Node::Cmp { test, canonical, kind, .. } => match (test, kind) {
            (
                Test::Str { op: CompareOp::Eq, operand, .. },
                AttributeType::String | AttributeType::Reference | AttributeType::Binary,
            ) => IndexPlan::Eq { attr: canonical.clone(), value: operand.clone() },
            (Test::Str { op: CompareOp::Sw, operand, .. }, AttributeType::String | AttributeType::Reference) => {
                IndexPlan::Prefix { attr: canonical.clone(), prefix: operand.clone() }
            }
            (Test::Bool(b), AttributeType::Boolean) => IndexPlan::Eq { attr: canonical.clone(), value: b.to_string() },
            (Test::Num { op: CompareOp::Eq, int: Some(i), .. }, AttributeType::Integer) => {
                IndexPlan::Eq { attr: canonical.clone(), value: i.to_string() }
            }
            _ => IndexPlan::All,
        },
        Node::Present(_) | Node::Not(_) => IndexPlan::All,
        Node::And(items) => IndexPlan::and(items.iter().map(plan).collect()),
        Node::Or(items) => IndexPlan::or(items.iter().map(plan).collect()),
        Node::Each { inner, .. } => plan(inner),
    }
}

impl CompiledFilter {
    /// The index plan of this filter (see [`IndexPlan`]).
    pub fn plan(&self) -> IndexPlan {
        plan(&self.root)
    }
}
