//! Binding a parsed filter to a resource type's schema: every path resolved, every comparison typed.

use super::ast::{CompValue, CompareOp, Filter};
use super::eval::{Loc, Node, Test};
use crate::error::ScimError;
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::schema::{AttrRef, Attribute, AttributeType, PathTarget, Schemas};
use crate::text::{canonical_utc, fold, parse_datetime};
use serde_json::Value;

/// A filter bound to a resource type (or to the elements of one attribute): ready to evaluate.
#[derive(Debug, Clone)]
pub struct CompiledFilter {
    pub(crate) root: Node,
}

/// Where the paths of a filter are resolved.
enum Scope<'a> {
    /// Top-level paths of a resource of `kind`.
    Resource { schemas: &'a Schemas, kind: ResourceKind },
    /// Paths relative to one element of the multi-valued (or complex) attribute `attr`, as inside
    /// `emails[...]`; `canonical` is the attribute's canonical path, the prefix of index paths.
    Element { attr: &'a Attribute, canonical: String },
}

/// A resolved path: where to read it, what it is, and its canonical name.
struct Resolved<'a> {
    loc: Loc,
    attr: &'a Attribute,
    canonical: String,
}

impl Filter {
    /// Binds this filter to resource type `kind`.
    ///
    /// # Errors
    /// `invalidFilter` for an attribute `kind` does not have, a value path on a simple attribute, an
    /// operator the attribute's type does not support (`gt` on a boolean, `co` on a number), or a
    /// value of the wrong type (`active eq "maybe"`).
    pub fn compile(&self, schemas: &Schemas, kind: ResourceKind) -> Result<CompiledFilter, ScimError> {
        let root = compile(self, &Scope::Resource { schemas, kind })?;
        Ok(CompiledFilter { root })
    }

    /// Binds this filter to the elements of attribute `attr` (the filter of a PATCH path such as
    /// `emails[type eq "work"]`, or of a member removal): paths name sub-attributes, or `value` for
    /// the elements of a simple multi-valued attribute.
    ///
    /// # Errors
    /// As [`Filter::compile`], with paths resolved against `attr`'s sub-attributes.
    pub fn compile_for_element(&self, attr: AttrRef<'_>) -> Result<CompiledFilter, ScimError> {
        let scope = Scope::Element { attr: attr.attribute, canonical: attr.parent().canonical_path() };
        let root = compile(self, &scope)?;
        Ok(CompiledFilter { root })
    }
}

fn compile(filter: &Filter, scope: &Scope<'_>) -> Result<Node, ScimError> {
    Ok(match filter {
        Filter::And(items) => Node::And(items.iter().map(|f| compile(f, scope)).collect::<Result<_, _>>()?),
        Filter::Or(items) => Node::Or(items.iter().map(|f| compile(f, scope)).collect::<Result<_, _>>()?),
        Filter::Not(inner) => Node::Not(Box::new(compile(inner, scope)?)),
        Filter::Present(path) => {
            let r = resolve(path, scope)?;
            Node::Present(r.loc)
        }
        Filter::Compare { path, op, value } => compile_compare(path, *op, value, scope)?,
        Filter::ValuePath { path, filter, then } => {
            let Scope::Resource { schemas, kind } = scope else {
                return Err(ScimError::invalid_filter("a value filter cannot contain another value filter"));
            };
            let target = match schemas.resolve(*kind, path) {
                Some(PathTarget::Attribute(a)) if a.sub_attribute.is_none() => a,
                Some(_) => {
                    return Err(ScimError::invalid_filter(format!("'{path}' cannot be followed by a value filter")));
                }
                None => return Err(unknown(path, *kind)),
            };
            if !target.attribute.is_complex() && !target.attribute.multi_valued {
                return Err(ScimError::invalid_filter(format!(
                    "'{path}' is a single-valued simple attribute; a value filter needs a multi-valued or complex one"
                )));
            }
            let element = Scope::Element { attr: target.attribute, canonical: target.canonical_path() };
            let mut inner = compile(filter, &element)?;
            if let Some(then) = then {
                inner = Node::And(vec![inner, compile(then, &element)?]);
            }
            let loc = Loc {
                ext: target.extension.map(|e| e.id.clone()),
                attr: Some(target.attribute.name.clone()),
                sub: None,
            };
            Node::Each { loc, inner: Box::new(inner) }
        }
    })
}

fn unknown(path: &AttrPath, kind: ResourceKind) -> ScimError {
    ScimError::invalid_filter(format!("'{path}' is not an attribute of {kind}"))
}

fn resolve<'a>(path: &AttrPath, scope: &Scope<'a>) -> Result<Resolved<'a>, ScimError> {
    match scope {
        Scope::Resource { schemas, kind } => match schemas.resolve(*kind, path) {
            Some(PathTarget::Attribute(a)) => Ok(Resolved {
                loc: Loc {
                    ext: a.extension.map(|e| e.id.clone()),
                    attr: Some(a.attribute.name.clone()),
                    sub: a.sub_attribute.map(|s| s.name.clone()),
                },
                attr: a.leaf(),
                canonical: a.canonical_path(),
            }),
            Some(PathTarget::Extension(_)) => Err(ScimError::invalid_filter(format!(
                "'{path}' names a whole schema extension; filter on one of its attributes"
            ))),
            None => Err(unknown(path, *kind)),
        },
        Scope::Element { attr, canonical } => {
            if path.urn.is_some() || path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "inside '{}[...]', '{path}' must be a plain sub-attribute name",
                    attr.name
                )));
            }
            if attr.is_complex() {
                let sub = attr.sub_attribute(&path.name).ok_or_else(|| {
                    ScimError::invalid_filter(format!("'{}' is not a sub-attribute of '{}'", path.name, attr.name))
                })?;
                Ok(Resolved {
                    loc: Loc { ext: None, attr: Some(sub.name.clone()), sub: None },
                    attr: sub,
                    canonical: format!("{canonical}.{}", sub.name),
                })
            } else if path.name.eq_ignore_ascii_case("value") {
                // The elements of a simple multi-valued attribute are compared as `value`.
                Ok(Resolved { loc: Loc { ext: None, attr: None, sub: None }, attr, canonical: canonical.clone() })
            } else {
                Err(ScimError::invalid_filter(format!(
                    "the elements of '{}' are simple values; refer to them as 'value', not '{}'",
                    attr.name, path.name
                )))
            }
        }
    }
}

fn compile_compare(path: &AttrPath, op: CompareOp, value: &CompValue, scope: &Scope<'_>) -> Result<Node, ScimError> {
    let mut r = resolve(path, scope)?;
    if r.attr.is_complex() {
        // A bare complex attribute means its `value` sub-attribute (RFC 7644 §3.4.2.2 for
        // multi-valued attributes; Delinea's connector does the same for `container eq "12"`).
        let Some(value_sub) = r.attr.sub_attribute("value") else {
            return Err(ScimError::invalid_filter(format!(
                "'{path}' is a complex attribute without a 'value'; compare one of its sub-attributes"
            )));
        };
        r.loc.sub = Some(value_sub.name.clone());
        r.canonical = format!("{}.{}", r.canonical, value_sub.name);
        r.attr = value_sub;
    }
    if *value == CompValue::Null {
        // RFC 7643 §2.5: null is the same as unassigned.
        return match op {
            CompareOp::Eq => Ok(Node::Not(Box::new(Node::Present(r.loc)))),
            CompareOp::Ne => Ok(Node::Present(r.loc)),
            _ => Err(ScimError::invalid_filter(format!("'{path} {}' cannot compare with null", op.as_str()))),
        };
    }
    let test_op = if op == CompareOp::Ne { CompareOp::Eq } else { op };
    let test = typed_test(path, test_op, value, r.attr)?;
    let node = Node::Cmp { loc: r.loc, test, canonical: r.canonical, kind: r.attr.kind };
    // `ne` is "not equal": true when no value equals, including when the attribute is unassigned.
    Ok(if op == CompareOp::Ne { Node::Not(Box::new(node)) } else { node })
}

fn value_text(value: &CompValue) -> Option<String> {
    match value {
        CompValue::String(s) => Some(s.clone()),
        CompValue::Number(n) => Some(n.to_string()),
        CompValue::Bool(b) => Some(b.to_string()),
        CompValue::Null => None,
    }
}

fn typed_test(path: &AttrPath, op: CompareOp, value: &CompValue, attr: &Attribute) -> Result<Test, ScimError> {
    let bad_op = |what: &str| {
        ScimError::invalid_filter(format!("'{}' cannot be used on {what} attribute '{path}'", op.as_str()))
    };
    let bad_value =
        |what: &str| ScimError::invalid_filter(format!("'{path}' expects {what}; the filter gives {value}"));
    match attr.kind {
        AttributeType::String | AttributeType::Reference | AttributeType::Binary => {
            if attr.kind == AttributeType::Binary && op.is_ordering() {
                return Err(bad_op("binary"));
            }
            let text = value_text(value).ok_or_else(|| bad_value("a string"))?;
            let case_exact = attr.case_exact || attr.kind == AttributeType::Binary;
            let operand = if case_exact { text } else { fold(&text) };
            Ok(Test::Str { op, operand, case_exact })
        }
        AttributeType::Boolean => {
            if op != CompareOp::Eq {
                return Err(bad_op("boolean"));
            }
            let operand = match value {
                CompValue::Bool(b) => *b,
                // Entra sends `[primary eq "True"]`.
                CompValue::String(s) if s.eq_ignore_ascii_case("true") => true,
                CompValue::String(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(bad_value("true or false")),
            };
            Ok(Test::Bool(operand))
        }
        AttributeType::Integer | AttributeType::Decimal => {
            if op.is_substring() {
                return Err(bad_op("numeric"));
            }
            let number = match value {
                CompValue::Number(n) => n.as_f64(),
                CompValue::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
                _ => None,
            }
            .ok_or_else(|| bad_value("a number"))?;
            let int = if number.fract() == 0.0 && number.abs() < 9.0e15 { Some(number as i64) } else { None };
            if attr.kind == AttributeType::Integer && int.is_none() && op == CompareOp::Eq {
                return Err(bad_value("an integer"));
            }
            Ok(Test::Num { op, operand: number, int })
        }
        AttributeType::DateTime => {
            let CompValue::String(text) = value else {
                return Err(bad_value("a dateTime string such as \"2011-05-13T04:42:34Z\""));
            };
            if op.is_substring() {
                // A textual match on the timestamp as stored, e.g. `meta.lastModified sw "2011-05"`.
                return Ok(Test::Str { op, operand: text.clone(), case_exact: true });
            }
            let at =
                parse_datetime(text).ok_or_else(|| bad_value("a dateTime string such as \"2011-05-13T04:42:34Z\""))?;
            Ok(Test::Date { op, operand: at, canonical: canonical_utc(at) })
        }
        AttributeType::Complex => Err(ScimError::invalid_filter(format!("'{path}' is complex and cannot be compared"))),
    }
}

impl CompiledFilter {
    /// Whether `resource` (a resource document, or an element for a filter compiled with
    /// [`Filter::compile_for_element`]) matches.
    pub fn matches(&self, resource: &Value) -> bool {
        self.root.eval(resource)
    }

    /// If this filter is exactly `value eq "<x>"` or an `or` of such (the usual member-removal
    /// filter), the compared values; lets a caller remove members without listing the group.
    pub fn equality_values(&self) -> Option<Vec<String>> {
        let mut out = Vec::new();
        self.root.collect_value_eqs(&mut out).then_some(out)
    }
}
