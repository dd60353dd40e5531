//! ContainerPermission ↔ Secret Server folder permission.
//!
//! `container` ↔ `folderId`; `user` or `group` ↔ `userId` or `groupId` (exactly one); `rights` ↔
//! (`folderAccessRoleName`, `secretAccessRoleName`) through the connection's rights mapping (see
//! [`super::rights`]). The rights a client sets are kept in the attribute store so that they come
//! back exactly as long as Secret Server still holds the roles they map to.

use super::rights::rights_for_folder;
use super::{View, meta_value, start, stored_attrs};
use crate::read_model::records::Principal;
use connections::FolderRoles;
use scim::ScimType;
use serde_json::{Map, Value, json};
use service_error::ServiceError;

/// The rights a client set, from the stored attributes.
pub(crate) fn requested_rights(attrs: &Map<String, Value>) -> Option<Vec<String>> {
    attrs
        .get("rights")
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect())
}

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let rec = view.state.folder_perms.get(&id)?;
    let attrs = view.attrs(rec.attrs.as_deref());
    let mut doc = start(scim::ResourceKind::ContainerPermission, id, &attrs, &[]);
    // The folder's name only for a caller that may read Containers (the id for any other).
    let folder_name = view.state.folders.get(&rec.ss.folder).filter(|_| view.reads(scim::ResourceKind::Container));
    let container = match folder_name {
        Some(f) => json!({"value": rec.ss.folder.to_string(), "display": &*f.ss.name, "name": &*f.ss.name}),
        None => json!({"value": rec.ss.folder.to_string()}),
    };
    doc.insert("container".to_owned(), container);
    let (key, principal) = view.principal_ref(rec.ss.principal);
    doc.insert(key.to_owned(), principal);
    let roles = FolderRoles { folder: rec.ss.folder_role, secret: rec.ss.secret_role };
    let rights = rights_for_folder(view.rights, roles, requested_rights(&attrs).as_deref());
    doc.insert("rights".to_owned(), Value::Array(rights.into_iter().map(Value::String).collect()));
    super::merge_attrs(&mut doc, attrs, &["container", "user", "group", "rights", "meta", "id", "schemas"]);
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::ContainerPermission, view.shown(rec.meta)));
    Some(Value::Object(doc))
}

/// What a validated permission document (Container or PrivilegedData) names.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionFields {
    /// The folder (or secret) id.
    pub target: i64,
    pub principal: Principal,
    pub rights: Vec<String>,
    /// What goes to the attribute store (the requested `rights` included).
    pub attrs: Map<String, Value>,
}

fn invalid(detail: String) -> ServiceError {
    ServiceError::invalid_argument(detail).with_scim_type(ScimType::InvalidValue)
}

/// Reads a validated permission document whose target attribute is `target` (`container` or
/// `privilegedData`).
///
/// # Errors
/// `400 invalidValue` for a missing or non-id target, neither or both of `user` and `group`, or
/// `rights` that are not strings.
pub fn fields(doc: &Value, target: &str) -> Result<PermissionFields, ServiceError> {
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    let target_id = super::complex_ref(doc, target)
        .map_err(invalid)?
        .ok_or_else(|| invalid(format!("'{target}.value' is required")))?;
    let user = super::complex_ref(doc, "user").map_err(invalid)?;
    let group = super::complex_ref(doc, "group").map_err(invalid)?;
    let principal = match (user, group) {
        (Some(u), None) => Principal::User(u),
        (None, Some(g)) => Principal::Group(g),
        (Some(_), Some(_)) => return Err(invalid("a permission names either 'user' or 'group', not both".to_owned())),
        (None, None) => return Err(invalid("a permission needs 'user.value' or 'group.value'".to_owned())),
    };
    let rights = match doc.get("rights") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| {
                r.as_str().map(|s| s.trim().to_owned()).ok_or_else(|| invalid(format!("right {r} is not a string")))
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::String(one)) => vec![one.trim().to_owned()],
        Some(other) => return Err(invalid(format!("'rights' must be a list of strings, got {other}"))),
    };
    let mut attrs = stored_attrs(doc, &[target, "user", "group"]);
    attrs.insert("rights".to_owned(), Value::Array(rights.iter().cloned().map(Value::String).collect()));
    Ok(PermissionFields { target: target_id, principal, rights, attrs })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_permission_names_exactly_one_principal() {
        let both =
            json!({"container": {"value": "1"}, "user": {"value": "2"}, "group": {"value": "3"}, "rights": ["View"]});
        assert!(fields(&both, "container").is_err());
        let neither = json!({"container": {"value": "1"}, "rights": ["View"]});
        assert!(fields(&neither, "container").is_err());
    }

    #[test]
    fn fields_keep_the_requested_rights_for_the_round_trip() {
        let doc = json!({"container": {"value": "12"}, "group": {"value": "7"}, "rights": ["View", "Edit"]});
        let f = fields(&doc, "container").unwrap();
        assert_eq!((f.target, f.principal), (12, Principal::Group(7)));
        assert_eq!(f.rights, vec!["View", "Edit"]);
        assert_eq!(f.attrs["rights"], json!(["View", "Edit"]));
    }
}
