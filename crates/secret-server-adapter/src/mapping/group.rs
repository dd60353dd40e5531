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
use crate::attributes::from_text;
use scim::{ScimType, urn};
use serde_json::{Map, Value, json};
use service_error::ServiceError;

const OWNED: &[&str] = &["displayName", "members", "roles", "meta", "id", "schemas"];

pub(super) fn render(view: &View<'_>, id: i64, options: RenderOptions) -> Option<Value> {
    let rec = view.state.groups.get(&id)?;
    let mut attrs = from_text(rec.attrs.as_deref());
    super::directory_link(&mut attrs, rec.ss.domain_name.as_deref(), rec.ss.ad_guid.as_deref());
    let mut doc = start(scim::ResourceKind::Group, id, &attrs, &[urn::LINKED_OBJECT]);
    doc.insert("displayName".to_owned(), Value::String(rec.ss.name.to_string()));
    if options.members && !rec.members.is_empty() {
        let members: Vec<Value> = rec
            .members
            .iter()
            .filter(|u| view.user_visible(**u))
            .filter_map(|u| view.state.users.get(u))
            // RFC 7643 §8.7.1: `value`, `$ref` (the gateway fills it) and `type`; no `display`, so
            // that a client reading back the members it wrote sees exactly them.
            .map(|u| json!({"value": u.ss.id.to_string(), "type": "User"}))
            .collect();
        if !members.is_empty() {
            doc.insert("members".to_owned(), Value::Array(members));
        }
    }
    if let Some(roles) = super::user::roles_value(&view.state.roles, &rec.ss.roles) {
        doc.insert("roles".to_owned(), roles);
    }
    merge_attrs(&mut doc, attrs, OWNED);
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::Group, rec.meta));
    Some(Value::Object(doc))
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
