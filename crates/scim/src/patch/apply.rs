//! Applying a PATCH request to a resource document, with schema-driven semantics (RFC 7644 §3.5.2).

use super::members::{Member, MemberLookup, MembersChange};
use super::{PatchOp, PatchOperation, PatchPath, PatchRequest};
use crate::equality::{element_equal, values_equal};
use crate::error::{ScimError, ScimType};
use crate::filter::{CompValue, CompareOp, CompiledFilter, Filter};
use crate::json::{get_ci, get_ci_mut, is_unassigned, remove_ci, set_ci, type_name};
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::schema::{AttrRef, Attribute, Mutability, PathTarget, Schema, Schemas};
use crate::validate::{check_resource, normalize_value, rebuild_schemas};
use serde_json::{Map, Value};

/// The result of applying a PATCH.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOutcome {
    /// The patched document. A Group's `members` are in it only if they were in the input.
    pub resource: Value,
    /// Whether the PATCH changed anything (the document or the membership); a no-op PATCH must not
    /// bump the resource's version.
    pub changed: bool,
    /// For a Group whose membership the PATCH touched: the change, as a delta. When the input
    /// carried `members`, it is the exact delta against them; otherwise it may name members that
    /// already are (or are not) members, which the store applies as no-ops.
    pub members: Option<MembersChange>,
}

impl PatchRequest {
    /// Applies every operation in order to `resource` (a document of `kind`); all or nothing.
    ///
    /// For a Group, pass the document without `members` (the change comes back as
    /// [`PatchOutcome::members`]), or with them for a small group. `lookup` resolves member
    /// removals by a filter other than `value eq` when the document has no `members`.
    ///
    /// # Errors
    /// `invalidPath` for a path naming no attribute of `kind`; `noTarget` for a value filter that
    /// matches nothing where the RFC requires a match; `invalidValue` for a value of the wrong type;
    /// `mutability` for a change to a readOnly or (already set) immutable attribute, or for removing a
    /// required one; `invalidSyntax` for an unknown sub-attribute in a value.
    pub fn apply(
        &self,
        schemas: &Schemas,
        kind: ResourceKind,
        resource: &Value,
        lookup: &dyn MemberLookup,
    ) -> Result<PatchOutcome, ScimError> {
        let Some(original) = resource.as_object() else {
            return Err(ScimError::invalid_syntax(format!("the {kind} to patch must be an object")));
        };
        let mut doc = original.clone();
        let known_members = if kind == ResourceKind::Group {
            remove_ci(&mut doc, "members").map(|v| match v {
                Value::Array(items) => items.iter().filter_map(Member::from_value).collect::<Vec<_>>(),
                _ => Vec::new(),
            })
        } else {
            None
        };
        let mut engine = Engine { schemas, kind, doc, members: None, known_members, lookup };
        for (i, op) in self.operations.iter().enumerate() {
            engine.apply_op(op).map_err(|e| ScimError { detail: format!("operation {}: {}", i + 1, e.detail), ..e })?;
        }
        engine.finish(original)
    }
}

struct Engine<'a> {
    schemas: &'a Schemas,
    kind: ResourceKind,
    doc: Map<String, Value>,
    members: Option<MembersChange>,
    known_members: Option<Vec<Member>>,
    lookup: &'a dyn MemberLookup,
}

fn name_of(ext: Option<&Schema>, attr: &Attribute) -> String {
    match ext {
        Some(e) => format!("{}:{}", e.id, attr.name),
        None => attr.name.clone(),
    }
}

fn read_only(name: &str) -> ScimError {
    ScimError::mutability(format!("'{name}' is readOnly"))
}

/// Clears `primary` on every element but `keep` when `keep` is primary (RFC 7643 §2.4: at most one).
fn enforce_single_primary(items: &mut [Value], keep: usize) {
    let keep_is_primary = items.get(keep).and_then(|v| v.get("primary")) == Some(&Value::Bool(true));
    if !keep_is_primary {
        return;
    }
    for (i, item) in items.iter_mut().enumerate() {
        if i != keep
            && let Some(o) = item.as_object_mut()
            && o.get("primary") == Some(&Value::Bool(true))
        {
            o.shift_remove("primary");
        }
    }
}

/// The element a filter of `and`-ed equalities describes (`type eq "work" and primary eq true`),
/// for Entra's `add` on a filtered path that matches nothing.
fn element_from_filter(attr: &Attribute, filter: &Filter) -> Result<Option<Value>, ScimError> {
    fn collect(
        attr: &Attribute,
        f: &Filter,
        out: &mut Map<String, Value>,
        scalar: &mut Option<Value>,
    ) -> Result<bool, ScimError> {
        match f {
            Filter::And(items) => {
                for item in items {
                    if !collect(attr, item, out, scalar)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Filter::Compare { path: AttrPath { urn: None, name, sub: None }, op: CompareOp::Eq, value } => {
                let json = match value {
                    CompValue::String(s) => Value::String(s.clone()),
                    CompValue::Bool(b) => Value::Bool(*b),
                    CompValue::Number(n) => Value::Number(n.clone()),
                    CompValue::Null => return Ok(false),
                };
                if attr.is_complex() {
                    let Some(sub) = attr.sub_attribute(name) else { return Ok(false) };
                    if let Some(v) = normalize_value(sub, &json, &format!("{}.{}", attr.name, sub.name))? {
                        out.insert(sub.name.clone(), v);
                    }
                } else {
                    *scalar = normalize_value(attr, &json, &attr.name)?.and_then(|v| match v {
                        Value::Array(mut items) => items.pop(),
                        other => Some(other),
                    });
                }
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    let mut out = Map::new();
    let mut scalar = None;
    if !collect(attr, filter, &mut out, &mut scalar)? {
        return Ok(None);
    }
    Ok(if attr.is_complex() { (!out.is_empty()).then_some(Value::Object(out)) } else { scalar })
}

impl Engine<'_> {
    fn is_members(&self, ext: Option<&Schema>, attr: &Attribute) -> bool {
        self.kind == ResourceKind::Group && ext.is_none() && attr.name == "members"
    }

    fn get(&self, ext: Option<&Schema>, name: &str) -> Option<&Value> {
        let container = match ext {
            None => &self.doc,
            Some(e) => get_ci(&self.doc, &e.id)?.as_object()?,
        };
        get_ci(container, name).filter(|v| !is_unassigned(v))
    }

    /// The object holding `ext`'s attributes (the document itself for core attributes), created
    /// when an extension gets its first attribute.
    fn container_mut(&mut self, ext: Option<&Schema>) -> Option<&mut Map<String, Value>> {
        let Some(e) = ext else { return Some(&mut self.doc) };
        let key = crate::json::key_ci(&self.doc, &e.id).unwrap_or_else(|| e.id.clone());
        let slot = self.doc.entry(key).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        slot.as_object_mut()
    }

    /// Stores `result` as the attribute's new value after the mutability and required checks.
    fn commit(&mut self, ext: Option<&Schema>, attr: &Attribute, result: Option<Value>) -> Result<(), ScimError> {
        let name = name_of(ext, attr);
        let result = result.filter(|v| !is_unassigned(v));
        let current = self.get(ext, &attr.name);
        if attr.mutability == Mutability::Immutable
            && let Some(current) = current
            && !values_equal(attr, current, result.as_ref().unwrap_or(&Value::Null))
        {
            return Err(ScimError::mutability(format!("'{name}' is immutable and already set")));
        }
        if attr.is_complex() && !attr.multi_valued {
            let empty = Map::new();
            let before = current.and_then(Value::as_object).unwrap_or(&empty);
            let after = result.as_ref().and_then(Value::as_object).unwrap_or(&empty);
            for sub in &attr.sub_attributes {
                let (b, a) = (get_ci(before, &sub.name), get_ci(after, &sub.name));
                if sub.mutability == Mutability::Immutable
                    && b.is_some_and(|b| !is_unassigned(b))
                    && !values_equal(sub, b.unwrap_or(&Value::Null), a.unwrap_or(&Value::Null))
                {
                    return Err(ScimError::mutability(format!("'{name}.{}' is immutable and already set", sub.name)));
                }
                if sub.required && !after.is_empty() && a.is_none_or(is_unassigned) {
                    return Err(ScimError::mutability(format!("'{name}.{}' is required", sub.name)));
                }
            }
        }
        if attr.required && result.is_none() {
            return Err(ScimError::mutability(format!("'{name}' is required and cannot be removed")));
        }
        match result {
            Some(v) => {
                if let Some(container) = self.container_mut(ext) {
                    set_ci(container, &attr.name, v);
                }
            }
            None => {
                if let Some(e) = ext {
                    if let Some(Value::Object(o)) = get_ci_mut(&mut self.doc, &e.id) {
                        remove_ci(o, &attr.name);
                        if o.values().all(is_unassigned) {
                            remove_ci(&mut self.doc, &e.id);
                        }
                    }
                } else {
                    remove_ci(&mut self.doc, &attr.name);
                }
            }
        }
        Ok(())
    }

    fn apply_op(&mut self, op: &PatchOperation) -> Result<(), ScimError> {
        match &op.path {
            None => self.apply_pathless(op.op, op.value.as_ref().unwrap_or(&Value::Null)),
            Some(path) => self.apply_path(op.op, path, op.value.as_ref()),
        }
    }

    /// A path-less `add`/`replace`: each key of the value is an attribute (or a dotted or
    /// URN-prefixed path, as Entra sends); readOnly attributes are ignored, as PUT ignores them.
    fn apply_pathless(&mut self, op: PatchOp, value: &Value) -> Result<(), ScimError> {
        let Some(obj) = value.as_object() else {
            return Err(ScimError::invalid_value(format!(
                "'{op}' without a path needs an object value, not {}",
                type_name(value)
            )));
        };
        let schemas = self.schemas;
        for (key, v) in obj {
            if key.eq_ignore_ascii_case("schemas") {
                continue;
            }
            if let Some(ext) = schemas.extension(self.kind, key) {
                self.apply_extension_value(op, ext, v)?;
                continue;
            }
            let path = AttrPath::parse(key).map_err(|e| ScimError::invalid_path(e.0))?;
            match schemas.resolve(self.kind, &path) {
                Some(PathTarget::Attribute(a)) => {
                    if a.attribute.mutability == Mutability::ReadOnly
                        || a.sub_attribute.is_some_and(|s| s.mutability == Mutability::ReadOnly)
                    {
                        continue;
                    }
                    self.apply_attr(op, a, Some(v))?;
                }
                Some(PathTarget::Extension(ext)) => self.apply_extension_value(op, ext, v)?,
                None => return Err(ScimError::invalid_path(format!("'{key}' is not an attribute of {}", self.kind))),
            }
        }
        Ok(())
    }

    fn apply_extension_value(&mut self, op: PatchOp, ext: &Schema, v: &Value) -> Result<(), ScimError> {
        let Some(inner) = v.as_object() else {
            return Err(ScimError::invalid_value(format!("'{}' needs an object value, not {}", ext.id, type_name(v))));
        };
        for (name, iv) in inner {
            // A whole extension object may carry its own `schemas` (scim2-tester sends the
            // extension as a resource would): it names the schema, it is not an attribute.
            if name.eq_ignore_ascii_case("schemas") {
                continue;
            }
            let attr = ext.attribute(name).ok_or_else(|| {
                ScimError::invalid_path(format!("'{}:{name}' is not an attribute of {}", ext.id, self.kind))
            })?;
            if attr.mutability == Mutability::ReadOnly {
                continue;
            }
            self.apply_attr(op, AttrRef { extension: Some(ext), attribute: attr, sub_attribute: None }, Some(iv))?;
        }
        Ok(())
    }

    fn apply_path(&mut self, op: PatchOp, path: &PatchPath, value: Option<&Value>) -> Result<(), ScimError> {
        let target = self
            .schemas
            .resolve(self.kind, &path.attr)
            .ok_or_else(|| ScimError::invalid_path(format!("'{}' is not an attribute of {}", path.attr, self.kind)))?;
        let a = match target {
            PathTarget::Extension(ext) => {
                if path.filter.is_some() || path.sub.is_some() {
                    return Err(ScimError::invalid_path(format!("'{path}' filters a whole schema extension")));
                }
                return match op {
                    PatchOp::Remove => {
                        remove_ci(&mut self.doc, &ext.id);
                        Ok(())
                    }
                    _ => self.apply_extension_value(op, ext, value.unwrap_or(&Value::Null)),
                };
            }
            PathTarget::Attribute(a) => a,
        };
        let name = a.canonical_path();
        if a.attribute.mutability == Mutability::ReadOnly
            || a.sub_attribute.is_some_and(|s| s.mutability == Mutability::ReadOnly)
        {
            return Err(read_only(&name));
        }
        let Some(filter) = &path.filter else {
            return self.apply_attr(op, a, value);
        };
        if !a.attribute.multi_valued && !a.attribute.is_complex() {
            return Err(ScimError::invalid_path(format!(
                "'{name}' is single-valued and simple; it cannot take a value filter"
            )));
        }
        let sub = match &path.sub {
            None => None,
            Some(s) => {
                let sub = a
                    .attribute
                    .sub_attribute(s)
                    .ok_or_else(|| ScimError::invalid_path(format!("'{s}' is not a sub-attribute of '{name}'")))?;
                if sub.mutability == Mutability::ReadOnly {
                    return Err(read_only(&format!("{name}.{}", sub.name)));
                }
                Some(sub)
            }
        };
        let compiled =
            filter.compile_for_element(a).map_err(|e| ScimError::invalid_path(format!("in '{path}': {}", e.detail)))?;
        if self.is_members(a.extension, a.attribute) {
            return self.members_filtered(op, filter, &compiled, sub, value);
        }
        self.apply_filtered(op, a, filter, &compiled, sub, value)
    }

    /// An operation on an attribute (or one sub-attribute of it) without a value filter.
    fn apply_attr(&mut self, op: PatchOp, a: AttrRef<'_>, value: Option<&Value>) -> Result<(), ScimError> {
        let (ext, attr) = (a.extension, a.attribute);
        if self.is_members(ext, attr) {
            if a.sub_attribute.is_some() {
                return Err(ScimError::mutability(
                    "a member's sub-attributes cannot change; remove the member and add it again",
                ));
            }
            return self.members_plain(op, value);
        }
        match a.sub_attribute {
            None => self.apply_whole(op, ext, attr, value),
            Some(sub) => self.apply_sub_everywhere(op, ext, attr, sub, value),
        }
    }

    fn apply_whole(
        &mut self,
        op: PatchOp,
        ext: Option<&Schema>,
        attr: &Attribute,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = name_of(ext, attr);
        let current = self.get(ext, &attr.name).cloned();
        let result = match op {
            PatchOp::Add | PatchOp::Replace => {
                let Some(new) = normalize_value(attr, value.unwrap_or(&Value::Null), &name)? else {
                    // Adding nothing changes nothing; replacing with nothing unassigns.
                    return if op == PatchOp::Add { Ok(()) } else { self.commit(ext, attr, None) };
                };
                if attr.multi_valued && op == PatchOp::Add {
                    let mut items = match current {
                        Some(Value::Array(items)) => items,
                        _ => Vec::new(),
                    };
                    for element in new.as_array().cloned().unwrap_or_default() {
                        // RFC 7644 §3.5.2.1: a value already present is not added again.
                        if !items.iter().any(|it| element_equal(attr, it, &element)) {
                            items.push(element);
                            let last = items.len() - 1;
                            enforce_single_primary(&mut items, last);
                        }
                    }
                    Some(Value::Array(items))
                } else if attr.is_complex() && !attr.multi_valued {
                    // Add and replace on a single complex attribute both merge sub-attributes
                    // (RFC 7644 §3.5.2.1 and §3.5.2.3); SailPoint relies on it for `name`.
                    let mut merged = current.and_then(|c| c.as_object().cloned()).unwrap_or_default();
                    if let Value::Object(new) = new {
                        for (k, v) in new {
                            set_ci(&mut merged, &k, v);
                        }
                    }
                    Some(Value::Object(merged))
                } else {
                    Some(new)
                }
            }
            PatchOp::Remove => match value.filter(|v| !v.is_null()) {
                // Entra: `remove` on `members` (or any multi-valued attribute) with a value array
                // removes those values only.
                Some(v) if attr.multi_valued => self.without_values(ext, attr, v)?,
                _ => None,
            },
        };
        self.commit(ext, attr, result)
    }

    /// The attribute's current values minus those in `v` (matched on `value` for complex elements).
    fn without_values(&self, ext: Option<&Schema>, attr: &Attribute, v: &Value) -> Result<Option<Value>, ScimError> {
        let name = name_of(ext, attr);
        let gone = normalize_value(attr, v, &name)?.and_then(|v| v.as_array().cloned()).unwrap_or_default();
        let Some(Value::Array(items)) = self.get(ext, &attr.name).cloned() else {
            return Ok(None);
        };
        let value_sub = attr.sub_attribute("value");
        let kept: Vec<Value> = items
            .into_iter()
            .filter(|it| {
                !gone.iter().any(|g| match (value_sub, g.get("value"), it.get("value")) {
                    (Some(vs), Some(gv), Some(iv)) => values_equal(vs, gv, iv),
                    _ => element_equal(attr, g, it),
                })
            })
            .collect();
        Ok(Some(Value::Array(kept)))
    }

    /// `name.givenName` (one complex value) or `emails.display` (every element).
    fn apply_sub_everywhere(
        &mut self,
        op: PatchOp,
        ext: Option<&Schema>,
        attr: &Attribute,
        sub: &Attribute,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let name = format!("{}.{}", name_of(ext, attr), sub.name);
        let new = match op {
            PatchOp::Remove => None,
            PatchOp::Add | PatchOp::Replace => normalize_value(sub, value.unwrap_or(&Value::Null), &name)?,
        };
        let set = |element: &mut Map<String, Value>| match &new {
            Some(v) => set_ci(element, &sub.name, v.clone()),
            None => {
                remove_ci(element, &sub.name);
            }
        };
        let current = self.get(ext, &attr.name).cloned();
        let result = if attr.multi_valued {
            let mut items = match current {
                Some(Value::Array(items)) => items,
                _ => Vec::new(),
            };
            if items.is_empty() {
                if let Some(v) = &new {
                    let mut element = Map::new();
                    element.insert(sub.name.clone(), v.clone());
                    items.push(Value::Object(element));
                }
            } else {
                for item in &mut items {
                    if let Some(o) = item.as_object_mut() {
                        set(o);
                    }
                }
                items.retain(|it| !is_unassigned(it));
            }
            Some(Value::Array(items))
        } else {
            let mut element = current.and_then(|c| c.as_object().cloned()).unwrap_or_default();
            set(&mut element);
            Some(Value::Object(element))
        };
        self.commit(ext, attr, result)
    }

    fn apply_filtered(
        &mut self,
        op: PatchOp,
        a: AttrRef<'_>,
        filter: &Filter,
        compiled: &CompiledFilter,
        sub: Option<&Attribute>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        let (ext, attr) = (a.extension, a.attribute);
        let name = name_of(ext, attr);
        let mut items = match self.get(ext, &attr.name).cloned() {
            Some(Value::Array(items)) => items,
            Some(single) if !attr.multi_valued => vec![single],
            _ => Vec::new(),
        };
        let matched: Vec<usize> =
            (0..items.len()).filter(|i| items.get(*i).is_some_and(|it| compiled.matches(it))).collect();
        let no_target = || ScimError::no_target(format!("no value of '{name}' matches [{filter}]"));
        // The new content for a matched (or created) element.
        let sub_value = match (op, sub) {
            (PatchOp::Remove, _) | (_, None) => None,
            (_, Some(s)) => normalize_value(s, value.unwrap_or(&Value::Null), &format!("{name}.{}", s.name))?,
        };
        let element_value = match (op, sub) {
            (PatchOp::Add | PatchOp::Replace, None) => {
                let v = value.unwrap_or(&Value::Null);
                normalize_value(&single_shape(attr), v, &name)?
            }
            _ => None,
        };
        match op {
            PatchOp::Add if matched.is_empty() => {
                let Some(mut element) = element_from_filter(attr, filter)? else {
                    return Err(no_target());
                };
                match (sub, element.as_object_mut()) {
                    (Some(s), Some(o)) => {
                        if let Some(v) = &sub_value {
                            set_ci(o, &s.name, v.clone());
                        }
                    }
                    (None, Some(o)) => {
                        if let Some(Value::Object(extra)) = &element_value {
                            for (k, v) in extra {
                                set_ci(o, k, v.clone());
                            }
                        }
                    }
                    (_, None) => {}
                }
                items.push(element);
                let last = items.len() - 1;
                enforce_single_primary(&mut items, last);
            }
            PatchOp::Add | PatchOp::Replace => {
                if matched.is_empty() {
                    return Err(no_target());
                }
                for &i in &matched {
                    let Some(item) = items.get_mut(i) else { continue };
                    match sub {
                        Some(s) => {
                            if let Some(o) = item.as_object_mut() {
                                match &sub_value {
                                    Some(v) => set_ci(o, &s.name, v.clone()),
                                    None => {
                                        remove_ci(o, &s.name);
                                    }
                                }
                            }
                        }
                        None if op == PatchOp::Add => {
                            if let (Some(o), Some(Value::Object(extra))) = (item.as_object_mut(), &element_value) {
                                for (k, v) in extra {
                                    set_ci(o, k, v.clone());
                                }
                            }
                        }
                        None => *item = element_value.clone().unwrap_or(Value::Null),
                    }
                    enforce_single_primary(&mut items, i);
                }
                items.retain(|it| !is_unassigned(it));
            }
            PatchOp::Remove => {
                if matched.is_empty() {
                    return Err(no_target());
                }
                match sub {
                    Some(s) => {
                        for &i in &matched {
                            if let Some(o) = items.get_mut(i).and_then(Value::as_object_mut) {
                                remove_ci(o, &s.name);
                            }
                        }
                        items.retain(|it| !is_unassigned(it));
                    }
                    None => {
                        let mut index = 0;
                        items.retain(|_| {
                            let keep = !matched.contains(&index);
                            index += 1;
                            keep
                        });
                    }
                }
            }
        }
        let result = if attr.multi_valued { Some(Value::Array(items)) } else { items.into_iter().next() };
        self.commit(ext, attr, result)
    }

    fn state(&mut self) -> &mut MembersChange {
        self.members.get_or_insert_with(MembersChange::default)
    }

    fn parse_members(&self, value: Option<&Value>) -> Result<Vec<Member>, ScimError> {
        let Some(attr) = self.schemas.top_level(self.kind, "members") else { return Ok(Vec::new()) };
        let normalized = normalize_value(attr, value.unwrap_or(&Value::Null), "members")?;
        Ok(normalized
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(Member::from_value)
            .collect())
    }

    /// `add`/`replace`/`remove` on `members` without a filter.
    fn members_plain(&mut self, op: PatchOp, value: Option<&Value>) -> Result<(), ScimError> {
        match op {
            PatchOp::Add => {
                let list = self.parse_members(value)?;
                self.state().add(list);
            }
            PatchOp::Replace => {
                let list = self.parse_members(value)?;
                self.state().replace_all(list);
            }
            PatchOp::Remove => match value.filter(|v| !v.is_null()) {
                Some(v) => {
                    let ids = self.parse_members(Some(v))?.into_iter().map(|m| m.value).collect();
                    self.state().remove(ids);
                }
                None => self.state().replace_all(Vec::new()),
            },
        }
        Ok(())
    }

    /// `members[...]`: removal by filter, or Entra-style `add` creating the member the filter names.
    fn members_filtered(
        &mut self,
        op: PatchOp,
        filter: &Filter,
        compiled: &CompiledFilter,
        sub: Option<&Attribute>,
        value: Option<&Value>,
    ) -> Result<(), ScimError> {
        if sub.is_some() || op == PatchOp::Replace {
            return Err(ScimError::mutability(
                "a member's sub-attributes cannot change; remove the member and add it again",
            ));
        }
        let Some(attr) = self.schemas.top_level(self.kind, "members") else { return Ok(()) };
        if op == PatchOp::Add {
            let Some(mut element) = element_from_filter(attr, filter)? else {
                return Err(ScimError::no_target(format!("[{filter}] does not name a member to add")));
            };
            if let (Some(o), Some(Value::Object(extra))) = (element.as_object_mut(), value) {
                for (k, v) in extra {
                    set_ci(o, k, v.clone());
                }
            }
            let list = self.parse_members(Some(&Value::Array(vec![element])))?;
            self.state().add(list);
            return Ok(());
        }
        let ids = match compiled.equality_values() {
            Some(ids) => ids,
            None => self.matching_member_ids(compiled)?,
        };
        self.state().remove(ids);
        Ok(())
    }

    /// The ids of the members (as of the operations so far) that `compiled` matches.
    fn matching_member_ids(&mut self, compiled: &CompiledFilter) -> Result<Vec<String>, ScimError> {
        let matching = |list: &[Member]| -> Vec<String> {
            list.iter().filter(|m| compiled.matches(&m.to_value())).map(|m| m.value.clone()).collect()
        };
        let state = self.members.clone().unwrap_or_default();
        Ok(match (&state, &self.known_members) {
            (MembersChange::ReplaceAll(set), _) => matching(set),
            (MembersChange::Delta { .. }, Some(known)) => {
                let mut now = known.clone();
                state.apply_to(&mut now);
                matching(&now)
            }
            (MembersChange::Delta { added, removed }, None) => {
                let mut ids = self.lookup.matching_member_ids(compiled)?;
                let gone: std::collections::HashSet<&String> = removed.iter().collect();
                ids.retain(|id| !gone.contains(id));
                ids.extend(matching(added));
                ids
            }
        })
    }

    fn finish(mut self, original: &Map<String, Value>) -> Result<PatchOutcome, ScimError> {
        check_resource(self.schemas, self.kind, &self.doc).map_err(|e| match e.scim_type {
            Some(ScimType::InvalidValue) => ScimError::mutability(e.detail),
            _ => e,
        })?;
        rebuild_schemas(self.schemas, self.kind, &mut self.doc);
        let mut changed = !same_except(&self.doc, original, &["schemas", "members"]);
        let mut members = self.members;
        if let Some(known) = self.known_members {
            let mut list = known.clone();
            if let Some(change) = &members {
                change.apply_to(&mut list);
                members = Some(change.relative_to(&known));
            }
            self.doc.insert("members".into(), Value::Array(list.iter().map(Member::to_value).collect()));
        }
        if members.as_ref().is_some_and(|m| !m.is_empty()) {
            changed = true;
        }
        let doc = crate::validate::order(self.schemas, self.kind, self.doc);
        Ok(PatchOutcome { resource: Value::Object(doc), changed, members })
    }
}

/// Whether two documents are equal apart from the members named in `ignored` (case-insensitively).
fn same_except(a: &Map<String, Value>, b: &Map<String, Value>, ignored: &[&str]) -> bool {
    let counted =
        |m: &Map<String, Value>| m.keys().filter(|k| !ignored.iter().any(|i| k.eq_ignore_ascii_case(i))).count();
    counted(a) == counted(b)
        && a.iter()
            .filter(|(k, _)| !ignored.iter().any(|i| k.eq_ignore_ascii_case(i)))
            .all(|(k, v)| b.get(k) == Some(v))
}

/// The same attribute as single-valued: the shape of one of its elements.
fn single_shape(attr: &Attribute) -> Attribute {
    Attribute { multi_valued: false, ..attr.clone() }
}
