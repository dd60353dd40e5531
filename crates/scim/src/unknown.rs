//! Attributes a request body carries that the schema does not define: found, taken out, and named.
//!
//! Real clients send them: Microsoft's provisioning Postman collection adds a group member as
//! `{"displayName": "new User", "value": "<id>"}` (a member has no `displayName`), Entra ID's
//! attribute mappings send attributes and extensions of the client's own. RFC 7644 leaves it to
//! the server; the major SCIM servers ignore them and apply the rest, which is what a client
//! meant. The validators ([`crate::validate_create`], [`crate::validate_replace`],
//! [`crate::PatchRequest::apply`]) stay strict; the gateway screens a body here first and, by its
//! connection's policy, either sends on the body without them (naming them in its audit record)
//! or refuses it with the error the validator would have given ([`Screened::refusal`]).
//!
//! What counts as unknown is exactly what the validators refuse as unknown, found the same way
//! (case-insensitive names, URN-qualified keys, extension objects):
//! - in a resource body (`POST`, `PUT`): a key that names no attribute of the type, a key of an
//!   extension object that names no attribute of the extension, a sub-attribute a complex
//!   attribute does not have, and a URN in `schemas` that is no schema of the type (the
//!   declaration of an extension the body carries and that is ignored with it);
//! - in a PATCH body: the same inside each operation's `value` (a path-less value's keys, an
//!   extension object's keys, the sub-attributes of complex values, `members` included).
//!
//! Never unknown, so never taken out: readOnly attributes (ignored by the validators as RFC 7644
//! §3.5.1 says), the sub-attributes a schema lists as ignored (a member's `display`), `schemas`
//! inside a PATCH value. A PATCH `path` naming nothing, malformed JSON and values of the wrong type
//! are left as they are, so that they keep their errors: only unknown names are screened.

use crate::error::ScimError;
use crate::json::{get_ci, is_unassigned, key_ci};
use crate::patch::PatchPath;
use crate::path::AttrPath;
use crate::resource::ResourceKind;
use crate::schema::{AttrRef, Attribute, Mutability, PathTarget, Schema, Schemas};
use serde_json::{Map, Value};

/// One attribute (or sub-attribute, or schema URN) that the schema does not define.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownAttribute {
    /// Where it was, as the client spelled it: `shoeSize`, `members.displayName`,
    /// `urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenterCode`.
    pub name: String,
    /// The error that refuses it: what the validator answers for it.
    pub refusal: ScimError,
}

/// A body after screening.
#[derive(Debug, Clone, PartialEq)]
pub struct Screened {
    /// The body without the unknown attributes; everything else as it came.
    pub body: Value,
    /// What was taken out, in the order of the body.
    pub unknown: Vec<UnknownAttribute>,
}

impl Screened {
    /// Whether the body had nothing unknown.
    pub fn is_clean(&self) -> bool {
        self.unknown.is_empty()
    }

    /// The distinct names of what was taken out, in the order of the body (a member's
    /// `displayName` in ten members is named once).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::with_capacity(self.unknown.len());
        for u in &self.unknown {
            if !names.contains(&u.name) {
                names.push(u.name.clone());
            }
        }
        names
    }

    /// The error that refuses the body as it came (the first unknown attribute's), if any.
    pub fn refusal(&self) -> Option<&ScimError> {
        self.unknown.first().map(|u| &u.refusal)
    }
}

/// Screens a resource body (`POST`, `PUT`, a Bulk operation's `data`) of `kind`.
///
/// A body that is not an object comes back as it is: its error is the validator's.
pub fn screen_resource(schemas: &Schemas, kind: ResourceKind, mut body: Value) -> Screened {
    let mut unknown = Vec::new();
    if let Some(obj) = body.as_object_mut() {
        screen_resource_object(schemas, kind, obj, &mut unknown);
    }
    Screened { body, unknown }
}

fn screen_resource_object(
    schemas: &Schemas,
    kind: ResourceKind,
    obj: &mut Map<String, Value>,
    unknown: &mut Vec<UnknownAttribute>,
) {
    let unknown_attribute = |name: &str| UnknownAttribute {
        name: name.to_owned(),
        refusal: ScimError::invalid_syntax(format!("'{name}' is not an attribute of {kind}")),
    };
    let mut gone = Vec::new();
    for (key, value) in obj.iter_mut() {
        if key.eq_ignore_ascii_case("schemas") {
            screen_declared_schemas(schemas, kind, value, unknown);
            continue;
        }
        if let Some(ext) = schemas.extension(kind, key) {
            if let Some(inner) = value.as_object_mut() {
                inner.retain(|name, v| match ext.attribute(name) {
                    Some(attr) => {
                        screen_attribute_value(Some(ext), attr, v, unknown);
                        true
                    }
                    None => {
                        unknown.push(unknown_attribute(&format!("{}:{name}", ext.id)));
                        false
                    }
                });
            }
            continue;
        }
        let target = AttrPath::parse(key).ok().and_then(|path| schemas.resolve(kind, &path));
        match target {
            Some(PathTarget::Attribute(AttrRef { extension, attribute, sub_attribute: None })) => {
                screen_attribute_value(extension, attribute, value, unknown);
            }
            _ => {
                unknown.push(unknown_attribute(key));
                gone.push(key.clone());
            }
        }
    }
    for key in gone {
        obj.shift_remove(&key);
    }
}

/// Takes out of `schemas` the URNs that are no schema of `kind`; what is not a string (or not a
/// list) is left for the validator to refuse.
fn screen_declared_schemas(
    schemas: &Schemas,
    kind: ResourceKind,
    value: &mut Value,
    unknown: &mut Vec<UnknownAttribute>,
) {
    let Some(list) = value.as_array_mut() else { return };
    list.retain(|urn| {
        let Some(urn) = urn.as_str() else { return true };
        let known = urn.eq_ignore_ascii_case(kind.schema_urn()) || schemas.extension(kind, urn).is_some();
        if !known {
            unknown.push(UnknownAttribute {
                name: urn.to_owned(),
                refusal: ScimError::invalid_value(format!("'{urn}' is not a schema of {kind}")),
            });
        }
        known
    });
}

/// The name of an attribute as errors and screening show it.
fn qualified(ext: Option<&Schema>, attr: &Attribute) -> String {
    match ext {
        Some(e) => format!("{}:{}", e.id, attr.name),
        None => attr.name.clone(),
    }
}

/// Screens the value of a top-level attribute; readOnly ones are ignored whole by the validators,
/// so nothing in them is unknown.
fn screen_attribute_value(
    ext: Option<&Schema>,
    attr: &Attribute,
    value: &mut Value,
    unknown: &mut Vec<UnknownAttribute>,
) {
    if attr.mutability == Mutability::ReadOnly {
        return;
    }
    screen_value(attr, value, &qualified(ext, attr), unknown);
}

/// Takes unknown sub-attributes out of a value of `attr` (every element of a multi-valued one),
/// as [`crate::validate`] walks it.
fn screen_value(attr: &Attribute, value: &mut Value, name: &str, unknown: &mut Vec<UnknownAttribute>) {
    if !attr.is_complex() || is_unassigned(value) {
        return;
    }
    match value {
        Value::Array(items) if attr.multi_valued => {
            for item in items {
                screen_element(attr, item, name, unknown);
            }
        }
        single => screen_element(attr, single, name, unknown),
    }
}

/// Takes unknown sub-attributes out of one value of complex attribute `attr`.
fn screen_element(attr: &Attribute, value: &mut Value, name: &str, unknown: &mut Vec<UnknownAttribute>) {
    // An element with nothing assigned is dropped whole by the validators, unread.
    if is_unassigned(value) {
        return;
    }
    let Some(obj) = value.as_object_mut() else { return };
    obj.retain(|key, v| match attr.sub_attribute(key) {
        Some(sub) => {
            if sub.mutability != Mutability::ReadOnly {
                screen_value(sub, v, &format!("{name}.{}", sub.name), unknown);
            }
            true
        }
        None if attr.ignores_sub_attribute(key) => true,
        None => {
            unknown.push(UnknownAttribute {
                name: format!("{name}.{key}"),
                refusal: ScimError::invalid_syntax(format!("'{key}' is not a sub-attribute of '{name}'")),
            });
            false
        }
    });
}

/// Screens a PATCH body (RFC 7644 §3.5.2) of a resource of `kind`: the `value` of each operation,
/// read as [`crate::PatchRequest::apply`] reads it. An operation whose `path` is malformed or names
/// nothing is left as it is, to keep its `invalidPath`.
pub fn screen_patch(schemas: &Schemas, kind: ResourceKind, mut body: Value) -> Screened {
    let mut unknown = Vec::new();
    let operations = body
        .as_object_mut()
        .and_then(|obj| key_ci(obj, "Operations").and_then(|k| obj.get_mut(&k)))
        .and_then(Value::as_array_mut);
    for (index, op) in operations.into_iter().flatten().enumerate() {
        let Some(op) = op.as_object_mut() else { continue };
        let mut found = Vec::new();
        screen_operation(schemas, kind, op, &mut found);
        unknown.extend(found.into_iter().map(|u| UnknownAttribute {
            refusal: ScimError { detail: format!("operation {}: {}", index + 1, u.refusal.detail), ..u.refusal },
            ..u
        }));
    }
    Screened { body, unknown }
}

fn screen_operation(
    schemas: &Schemas,
    kind: ResourceKind,
    op: &mut Map<String, Value>,
    unknown: &mut Vec<UnknownAttribute>,
) {
    let is_remove = get_ci(op, "op").and_then(Value::as_str).is_some_and(|o| o.eq_ignore_ascii_case("remove"));
    let path = match get_ci(op, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match PatchPath::parse(s.trim()) {
            Ok(path) => Some(path),
            Err(_) => return,
        },
        Some(_) => return,
    };
    let Some(value) = key_ci(op, "value").and_then(|k| op.get_mut(&k)) else { return };
    let Some(path) = path else {
        if !is_remove {
            screen_pathless(schemas, kind, value, unknown);
        }
        return;
    };
    match schemas.resolve(kind, &path.attr) {
        Some(PathTarget::Extension(ext)) if path.filter.is_none() && path.sub.is_none() && !is_remove => {
            screen_extension_value(kind, ext, value, unknown);
        }
        Some(PathTarget::Attribute(a)) => screen_path_value(a, &path, is_remove, value, unknown),
        _ => {}
    }
}

/// The value of an operation whose path names attribute `a`.
fn screen_path_value(
    a: AttrRef<'_>,
    path: &PatchPath,
    is_remove: bool,
    value: &mut Value,
    unknown: &mut Vec<UnknownAttribute>,
) {
    let (ext, attr) = (a.extension, a.attribute);
    if attr.mutability == Mutability::ReadOnly || a.sub_attribute.is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return;
    }
    let name = qualified(ext, attr);
    if path.filter.is_some() {
        // `emails[type eq "work"]` takes one element; `emails[type eq "work"].value` one sub-attribute.
        match &path.sub {
            None if !is_remove => screen_element(attr, value, &name, unknown),
            Some(sub) if !is_remove => {
                if let Some(sub) = attr.sub_attribute(sub) {
                    screen_value(sub, value, &format!("{name}.{}", sub.name), unknown);
                }
            }
            _ => {}
        }
        return;
    }
    match a.sub_attribute {
        Some(sub) if !is_remove => screen_value(sub, value, &format!("{name}.{}", sub.name), unknown),
        Some(_) => {}
        // A `remove` reads its value only on a multi-valued attribute (the values to remove).
        None if is_remove && !attr.multi_valued => {}
        None => screen_value(attr, value, &name, unknown),
    }
}

/// A path-less `add` or `replace`: each key of the value is an attribute, an extension or a
/// dotted or URN-qualified path (Entra); `schemas` names a schema and is no attribute.
fn screen_pathless(schemas: &Schemas, kind: ResourceKind, value: &mut Value, unknown: &mut Vec<UnknownAttribute>) {
    let Some(obj) = value.as_object_mut() else { return };
    let mut gone = Vec::new();
    for (key, v) in obj.iter_mut() {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(ext) = schemas.extension(kind, key) {
            screen_extension_value(kind, ext, v, unknown);
            continue;
        }
        let path = match AttrPath::parse(key) {
            Ok(path) => path,
            Err(e) => {
                unknown.push(UnknownAttribute { name: key.clone(), refusal: ScimError::invalid_path(e.0) });
                gone.push(key.clone());
                continue;
            }
        };
        match schemas.resolve(kind, &path) {
            Some(PathTarget::Attribute(a)) => {
                if a.attribute.mutability == Mutability::ReadOnly
                    || a.sub_attribute.is_some_and(|s| s.mutability == Mutability::ReadOnly)
                {
                    continue;
                }
                let name = qualified(a.extension, a.attribute);
                match a.sub_attribute {
                    Some(sub) => screen_value(sub, v, &format!("{name}.{}", sub.name), unknown),
                    None => screen_value(a.attribute, v, &name, unknown),
                }
            }
            Some(PathTarget::Extension(ext)) => screen_extension_value(kind, ext, v, unknown),
            None => {
                unknown.push(UnknownAttribute {
                    name: key.clone(),
                    refusal: ScimError::invalid_path(format!("'{key}' is not an attribute of {kind}")),
                });
                gone.push(key.clone());
            }
        }
    }
    for key in gone {
        obj.shift_remove(&key);
    }
}

/// A whole extension object as a PATCH value; it may carry its own `schemas` (scim2-tester).
fn screen_extension_value(kind: ResourceKind, ext: &Schema, value: &mut Value, unknown: &mut Vec<UnknownAttribute>) {
    let Some(inner) = value.as_object_mut() else { return };
    inner.retain(|name, v| {
        if name.eq_ignore_ascii_case("schemas") {
            return true;
        }
        match ext.attribute(name) {
            Some(attr) => {
                screen_attribute_value(Some(ext), attr, v, unknown);
                true
            }
            None => {
                let qualified = format!("{}:{name}", ext.id);
                let refusal = ScimError::invalid_path(format!("'{qualified}' is not an attribute of {kind}"));
                unknown.push(UnknownAttribute { name: qualified, refusal });
                false
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ScimType;
    use serde_json::json;

    fn schemas() -> Schemas {
        Schemas::standard()
    }

    #[test]
    fn a_foreign_urn_beside_a_value_that_is_no_string_is_screened_and_the_value_left_for_the_validator() {
        // Found by the `resource` fuzz target: the guard skipped such a list, so the screened body
        // was still refused for the name it carried.
        let body = json!({"schemas": [crate::urn::USER, {"value": "x"}], "displayName": "Tour Guides"});
        let screened = screen_resource(&schemas(), ResourceKind::Group, body);
        assert_eq!(screened.unknown.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), [crate::urn::USER]);
        assert_eq!(screened.body["schemas"], json!([{"value": "x"}]));
        let refused = crate::validate_create(&schemas(), ResourceKind::Group, &screened.body).unwrap_err();
        assert!(!refused.detail.contains("is not a schema of"), "{refused}");
    }

    #[test]
    fn a_clean_user_comes_back_unchanged() {
        let body = json!({
            "schemas": [crate::urn::USER, crate::urn::ENTERPRISE_USER],
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@example.com", "type": "work"}],
            "id": "ignored-as-read-only",
            "meta": {"whatever": 1},
            crate::urn::ENTERPRISE_USER: {"employeeNumber": "7", "manager": {"value": "2"}}
        });
        let screened = screen_resource(&schemas(), ResourceKind::User, body.clone());
        assert!(screened.is_clean(), "{:?}", screened.unknown);
        assert_eq!(screened.body, body);
    }

    #[test]
    fn unknown_attributes_sub_attributes_and_extension_keys_are_taken_out_and_named() {
        let body = json!({
            "userName": "bjensen",
            "shoeSize": 44,
            "name": {"givenName": "Barbara", "nickname": "Babs"},
            "emails": [{"value": "a@example.com", "label": "x"}, {"value": "b@example.com", "label": "y"}],
            crate::urn::ENTERPRISE_USER: {"employeeNumber": "7", "costCenterCode": "c"}
        });
        let screened = screen_resource(&schemas(), ResourceKind::User, body);
        assert_eq!(
            screened.names(),
            vec![
                "shoeSize".to_owned(),
                "name.nickname".to_owned(),
                "emails.label".to_owned(),
                format!("{}:costCenterCode", crate::urn::ENTERPRISE_USER),
            ]
        );
        assert_eq!(
            screened.body,
            json!({
                "userName": "bjensen",
                "name": {"givenName": "Barbara"},
                "emails": [{"value": "a@example.com"}, {"value": "b@example.com"}],
                crate::urn::ENTERPRISE_USER: {"employeeNumber": "7"}
            })
        );
    }

    #[test]
    fn the_refusal_is_the_error_the_validator_gives() {
        for body in [
            json!({"userName": "x", "shoeSize": 44}),
            json!({"userName": "x", "name": {"nickname": "n"}}),
            json!({"userName": "x", crate::urn::ENTERPRISE_USER: {"costCenterCode": "c"}}),
            json!({"schemas": [crate::urn::USER, "urn:example:custom:2.0:User"], "userName": "x"}),
        ] {
            let screened = screen_resource(&schemas(), ResourceKind::User, body.clone());
            let validator = crate::validate_create(&schemas(), ResourceKind::User, &body).unwrap_err();
            assert_eq!(screened.refusal(), Some(&validator), "{body}");
            assert!(crate::validate_create(&schemas(), ResourceKind::User, &screened.body).is_ok(), "{body}");
        }
    }

    #[test]
    fn an_unknown_extension_and_its_declaration_in_schemas_are_ignored_together() {
        let custom = "urn:ietf:params:scim:schemas:extension:custom:2.0:User";
        let body = json!({"schemas": [crate::urn::USER, custom], "userName": "x", custom: {"badge": "7"}});
        let screened = screen_resource(&schemas(), ResourceKind::User, body);
        assert_eq!(screened.unknown.len(), 2, "the extension and its URN in schemas");
        assert_eq!(screened.names(), vec![custom.to_owned()]);
        assert_eq!(screened.body, json!({"schemas": [crate::urn::USER], "userName": "x"}));
    }

    #[test]
    fn a_members_display_is_no_unknown_attribute_but_its_display_name_is() {
        let body = json!({
            "displayName": "G",
            "members": [{"value": "1", "display": "One"}, {"value": "2", "displayName": "Two"}]
        });
        let screened = screen_resource(&schemas(), ResourceKind::Group, body);
        assert_eq!(screened.names(), vec!["members.displayName"]);
        assert_eq!(screened.body["members"], json!([{"value": "1", "display": "One"}, {"value": "2"}]));
    }

    #[test]
    fn values_of_the_wrong_type_unassigned_elements_and_bodies_that_are_no_object_are_left_to_the_validator() {
        let body = json!({"userName": "x", "name": "not an object", "emails": [{"label": null}, "a@example.com"], "active": "maybe"});
        let screened = screen_resource(&schemas(), ResourceKind::User, body.clone());
        assert!(screened.is_clean());
        assert_eq!(screened.body, body);
        assert!(screen_resource(&schemas(), ResourceKind::User, json!([1])).is_clean());
    }

    fn patch(ops: Value) -> Value {
        json!({"schemas": [crate::urn::PATCH_OP], "Operations": ops})
    }

    #[test]
    fn the_postman_member_add_loses_its_display_name_and_keeps_its_member() {
        let body =
            patch(json!([{"op": "add", "path": "members", "value": [{"displayName": "new User", "value": "42"}]}]));
        let screened = screen_patch(&schemas(), ResourceKind::Group, body);
        assert_eq!(screened.names(), vec!["members.displayName"]);
        assert_eq!(screened.body["Operations"][0]["value"], json!([{"value": "42"}]));
        let refusal = screened.refusal().unwrap();
        assert_eq!(refusal.scim_type, Some(ScimType::InvalidSyntax));
        assert_eq!(refusal.detail, "operation 1: 'displayName' is not a sub-attribute of 'members'");
    }

    #[test]
    fn path_less_values_lose_unknown_keys_and_keep_dotted_and_qualified_paths() {
        let body = patch(json!([{"op": "Replace", "value": {
            "name.givenName": "B",
            "urn:ietf:params:scim:schemas:core:2.0:User:displayName": "D",
            "schemas": [crate::urn::USER],
            "id": "7",
            "favouriteColour": "blue",
            crate::urn::ENTERPRISE_USER: {"schemas": [crate::urn::ENTERPRISE_USER], "department": "x", "floor": 3}
        }}]));
        let screened = screen_patch(&schemas(), ResourceKind::User, body);
        assert_eq!(
            screened.names(),
            vec!["favouriteColour".to_owned(), format!("{}:floor", crate::urn::ENTERPRISE_USER)]
        );
        let value = &screened.body["Operations"][0]["value"];
        assert!(value.get("favouriteColour").is_none() && value["name.givenName"] == "B" && value["id"] == "7");
        assert_eq!(
            value[crate::urn::ENTERPRISE_USER],
            json!({"schemas": [crate::urn::ENTERPRISE_USER], "department": "x"})
        );
    }

    #[test]
    fn unknown_paths_and_malformed_operations_keep_their_errors() {
        for ops in [
            json!([{"op": "add", "path": "shoeSize", "value": {"x": 1}}]),
            json!([{"op": "add", "path": "name.nickname", "value": "n"}]),
            json!([{"op": "add", "path": "emails[type eq \"work\"].label", "value": "n"}]),
            json!([{"op": "add", "path": "emails[type eq", "value": {"x": 1}}]),
            json!([{"op": "add", "path": 7, "value": {"x": 1}}]),
            json!("not a list"),
        ] {
            let body = patch(ops);
            let screened = screen_patch(&schemas(), ResourceKind::User, body.clone());
            assert!(screened.is_clean(), "{body}");
            assert_eq!(screened.body, body);
        }
    }

    #[test]
    fn filtered_values_and_removals_by_value_are_screened_like_their_elements() {
        let body = patch(json!([
            {"op": "add", "path": "emails[type eq \"work\"]", "value": {"value": "w@example.com", "label": "l"}},
            {"op": "remove", "path": "emails", "value": [{"value": "old@example.com", "label": "l"}]},
            {"op": "remove", "path": "name", "value": {"nickname": "ignored by a remove"}}
        ]));
        let screened = screen_patch(&schemas(), ResourceKind::User, body);
        assert_eq!(screened.names(), vec!["emails.label"]);
        assert_eq!(screened.unknown.len(), 2);
        assert_eq!(screened.body["Operations"][0]["value"], json!({"value": "w@example.com"}));
        assert_eq!(screened.body["Operations"][1]["value"], json!([{"value": "old@example.com"}]));
    }

    #[test]
    fn a_screened_patch_applies_where_the_original_was_refused() {
        let group = json!({"schemas": [crate::urn::GROUP], "id": "9", "displayName": "G", "members": []});
        let body =
            patch(json!([{"op": "add", "path": "members", "value": [{"displayName": "new User", "value": "42"}]}]));
        let strict = crate::PatchRequest::parse(&body).unwrap();
        let lookup = crate::patch::NoMemberLookup;
        let refused = strict.apply(&schemas(), ResourceKind::Group, &group, &lookup).unwrap_err();
        let screened = screen_patch(&schemas(), ResourceKind::Group, body);
        assert_eq!(screened.refusal(), Some(&refused));
        let outcome = crate::PatchRequest::parse(&screened.body)
            .unwrap()
            .apply(&schemas(), ResourceKind::Group, &group, &lookup)
            .unwrap();
        assert_eq!(outcome.resource["members"], json!([{"value": "42"}]));
    }

    #[test]
    fn each_patch_refusal_is_the_error_apply_gives() {
        let user = json!({
            "schemas": [crate::urn::USER], "id": "1", "userName": "bjensen",
            "emails": [{"value": "w@example.com", "type": "work"}]
        });
        let lookup = crate::patch::NoMemberLookup;
        for ops in [
            json!([{"op": "replace", "value": {"favouriteColour": "blue"}}]),
            json!([{"op": "replace", "value": {"name.givenName": "B", "bad key!": 1}}]),
            json!([{"op": "add", "path": crate::urn::ENTERPRISE_USER, "value": {"floor": 3}}]),
            json!([{"op": "add", "value": {crate::urn::ENTERPRISE_USER: {"floor": 3}}}]),
            json!([{"op": "replace", "path": "name", "value": {"nickname": "n"}}]),
            json!([{"op": "add", "path": "emails[type eq \"home\"]", "value": {"value": "h@example.com", "label": "l"}}]),
            json!([{"op": "add", "path": "displayName", "value": "D"}, {"op": "add", "path": "emails", "value": {"value": "x@example.com", "label": "l"}}]),
        ] {
            let body = patch(ops);
            let refused = crate::PatchRequest::parse(&body)
                .unwrap()
                .apply(&schemas(), ResourceKind::User, &user, &lookup)
                .unwrap_err();
            let screened = screen_patch(&schemas(), ResourceKind::User, body.clone());
            assert_eq!(screened.refusal(), Some(&refused), "{body}");
            crate::PatchRequest::parse(&screened.body)
                .unwrap()
                .apply(&schemas(), ResourceKind::User, &user, &lookup)
                .unwrap_or_else(|e| panic!("{body} screened is still refused: {e}"));
        }
    }
}
