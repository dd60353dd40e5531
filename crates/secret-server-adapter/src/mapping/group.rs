//! Group ↔ Secret Server group.
//!
//! `displayName` ↔ `name`; `members` ↔ the group's users, applied as deltas (one user added or
//! removed per call), never by rewriting the list. Secret Server groups hold users only: a member of
//! type `Group` is refused. Members deleted through SCIM are left out under the default deleted-user
//! policy (they do not exist for the client). `roles` are the Secret Server roles assigned to the
//! group, `value` and `display` the role's name (assigned and unassigned through
//! `/groups/{id}/roles`, never stored). `externalId` and the LinkedObject extension live in the
//! attribute store.

use super::{RenderOptions, View, merge_attrs, meta_value, start, stored_attrs};
use crate::read_model::records::GroupRec;
use scim::{ScimType, urn};
use serde_json::{Map, Value, json};
use service_error::ServiceError;
use std::io::Write;

const OWNED: &[&str] = &["displayName", "members", "roles", "meta", "id", "schemas"];

pub(super) fn render(view: &View<'_>, id: i64, options: RenderOptions) -> Option<Value> {
    let rec = view.state.groups.get(&id)?;
    let members: Vec<Value> = if options.members {
        visible_members(view, rec)
            // RFC 7643 §8.7.1: `value`, `$ref` (the gateway fills it) and `type`; no `display`, so
            // that a client reading back the members it wrote sees exactly them.
            .map(|u| json!({"value": u.to_string(), "type": "User"}))
            .collect()
    } else {
        Vec::new()
    };
    let members = (!members.is_empty()).then_some(Value::Array(members));
    Some(Value::Object(document(view, rec, members)))
}

/// [`render`], serialized: the same document, byte for byte, but its members written straight to
/// the output, never built as JSON values first (for a large group they are nearly all of it).
pub(super) fn render_json(view: &View<'_>, id: i64, options: RenderOptions) -> Option<Vec<u8>> {
    let rec = view.state.groups.get(&id)?;
    let mut list = Vec::new();
    let listed = options.members && write_members(view, rec, &mut list) > 0;
    // `members` holds its place in the document's order; its value is the list written above.
    let doc = document(view, rec, listed.then_some(Value::Null));
    let mut out = Vec::with_capacity(list.len() + 512);
    out.push(b'{');
    for (i, (key, value)) in doc.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, key).ok()?;
        out.push(b':');
        if key == "members" {
            out.extend_from_slice(&list);
        } else {
            serde_json::to_writer(&mut out, value).ok()?;
        }
    }
    out.push(b'}');
    Some(out)
}

/// The ids of the group's members the caller can see, in id order.
fn visible_members<'a>(view: &'a View<'_>, rec: &'a GroupRec) -> impl Iterator<Item = i64> + 'a {
    rec.members.iter().copied().filter(|u| view.user_visible(*u))
}

/// Writes the visible members as a JSON array (`{"value", "type"}` each, as [`render`] makes them)
/// and returns how many.
fn write_members(view: &View<'_>, rec: &GroupRec, out: &mut Vec<u8>) -> usize {
    out.reserve(rec.members.len() * 34 + 2);
    out.push(b'[');
    let mut n = 0;
    for id in visible_members(view, rec) {
        if n > 0 {
            out.push(b',');
        }
        out.extend_from_slice(br#"{"value":""#);
        let _ = write!(out, "{id}");
        out.extend_from_slice(br#"","type":"User"}"#);
        n += 1;
    }
    out.push(b']');
    n
}

/// The group's document with `members` as given (left out when `None`), in the attributes' order.
fn document(view: &View<'_>, rec: &GroupRec, members: Option<Value>) -> Map<String, Value> {
    let mut attrs = view.attrs(rec.attrs.as_deref());
    super::directory_link(&mut attrs, rec.ss.domain_name.as_deref(), rec.ss.ad_guid.as_deref());
    let mut doc = start(scim::ResourceKind::Group, rec.ss.id, &attrs, &[urn::LINKED_OBJECT]);
    doc.insert("displayName".to_owned(), Value::String(rec.ss.name.to_string()));
    if let Some(members) = members {
        doc.insert("members".to_owned(), members);
    }
    if let Some(roles) = super::user::roles_value(&view.state.roles, &rec.ss.roles) {
        doc.insert("roles".to_owned(), roles);
    }
    merge_attrs(&mut doc, attrs, OWNED);
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::Group, view.shown(rec.meta)));
    doc
}

/// What a validated Group document asks of Secret Server.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFields {
    pub name: String,
    /// Member user ids, sorted and distinct; `None` when the document has no `members`.
    pub members: Option<Vec<i64>>,
    /// The names of the roles the group is to hold; `None` when the document has no `roles`.
    pub roles: Option<Vec<String>>,
    pub attrs: Map<String, Value>,
}

fn invalid(detail: String) -> ServiceError {
    ServiceError::invalid_argument(detail).with_scim_type(ScimType::InvalidValue)
}

/// The user id of one member object.
///
/// # Errors
/// `400 invalidValue` for a member of type `Group` or a `value` that is no user id.
pub fn member_id(member: &Value) -> Result<i64, ServiceError> {
    if member.get("type").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("Group")) {
        return Err(invalid("Secret Server groups contain users only; a group cannot be a member".to_owned()));
    }
    super::ref_id(member.get("value"))
        .ok_or_else(|| invalid(format!("member {} is not a user id", member.get("value").unwrap_or(&Value::Null))))
}

/// Member ids from the `value`s of SCIM member objects.
///
/// # Errors
/// As [`member_id`].
pub fn member_ids<'a>(members: impl IntoIterator<Item = &'a Value>) -> Result<Vec<i64>, ServiceError> {
    let mut ids = members.into_iter().map(member_id).collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}

/// Reads a validated Group document.
///
/// # Errors
/// `400 invalidValue` for members that are not users.
pub fn fields(doc: &Value) -> Result<GroupFields, ServiceError> {
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    let name = doc.get("displayName").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    let members = match doc.get("members") {
        Some(Value::Array(items)) => Some(member_ids(items)?),
        _ => None,
    };
    let roles = super::user::role_names(doc.get("roles"));
    Ok(GroupFields { name, members, roles, attrs: stored_attrs(doc, &["displayName", "members", "roles"]) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Unscoped;
    use crate::read_model::records::{GroupSs, Meta, UserRec, UserSs};
    use crate::read_model::state::State;
    use connections::DeletedUserPolicy;

    fn user(id: i64, deleted: bool) -> UserRec {
        let ss = UserSs { display_name: format!("U {id}").into(), ..UserSs::local(id, &format!("u{id}")) };
        UserRec { ss, attrs: None, deleted, meta: Meta::default() }
    }

    fn state_with_group(members: Vec<i64>) -> State {
        let mut state = State::default();
        for id in 1..=5 {
            state.put_user(user(id, id == 3));
        }
        let ss = GroupSs::local(70, "Rendered \"Quoted\" é");
        let attrs = Some(r#"{"externalId":"ext-70","urn:x:ext":{"members":null,"n":1}}"#.into());
        state.put_group(GroupRec { ss, members, attrs, meta: Meta::default() });
        state
    }

    #[test]
    fn a_group_written_straight_to_bytes_is_the_rendered_document_byte_for_byte() {
        let caller = Unscoped::new();
        for members in [vec![], vec![3], vec![1, 2, 3, 4, 5, 9]] {
            let state = state_with_group(members.clone());
            let view = caller.view(&state, DeletedUserPolicy::NotFound);
            for options in [RenderOptions { members: true }, RenderOptions { members: false }] {
                let value = render(&view, 70, options).unwrap();
                let bytes = render_json(&view, 70, options).unwrap();
                assert_eq!(
                    String::from_utf8(bytes).unwrap(),
                    serde_json::to_string(&value).unwrap(),
                    "{members:?} {options:?}"
                );
            }
            let listed = render(&view, 70, RenderOptions::default()).unwrap();
            let ids: Vec<&str> =
                listed["members"].as_array().into_iter().flatten().map(|m| m["value"].as_str().unwrap()).collect();
            let expected: Vec<String> = members.iter().filter(|u| ![3, 9].contains(*u)).map(i64::to_string).collect();
            assert_eq!(ids, expected, "a deleted or unknown user is not listed");
        }
    }

    #[test]
    fn a_group_cannot_be_a_member() {
        let err = fields(&json!({"displayName": "g", "members": [{"value": "4", "type": "Group"}]})).unwrap_err();
        assert_eq!(err.http_status(), 400);
    }

    #[test]
    fn members_become_sorted_distinct_user_ids() {
        let f = fields(&json!({"displayName": " DBAs ", "members": [{"value": "9"}, {"value": "3"}, {"value": "9"}],
            "externalId": "x"}))
        .unwrap();
        assert_eq!(f.name, "DBAs");
        assert_eq!(f.members, Some(vec![3, 9]));
        assert_eq!(f.attrs.keys().collect::<Vec<_>>(), vec!["externalId"]);
    }
}
