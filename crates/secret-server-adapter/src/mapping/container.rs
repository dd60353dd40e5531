//! Container ↔ Secret Server folder.
//!
//! | SCIM | Secret Server |
//! |---|---|
//! | `name`, `displayName` | `folderName` (both name the folder; a request giving two different values is refused) |
//! | `parent.value` | `parentFolderId` (absent at the root, `-1`) |
//! | `path` (read-only) | the folder path, `\Parent\Child` |
//! | `inheritPermissions` | `inheritPermissions` (default: false at the root, true below a folder) |
//! | `privilegedData` (read-only) | references to the secrets in the folder (id, name, template) |
//!
//! A parent outside the caller's scope is not shown (the container looks like a root to it).

use super::{View, merge_attrs, meta_value, start, stored_attrs};
use crate::attributes::from_text;
use scim::ScimType;
use secret_server_api::ROOT_FOLDER_ID;
use serde_json::{Map, Value, json};
use service_error::ServiceError;

const OWNED: &[&str] =
    &["name", "displayName", "parent", "path", "inheritPermissions", "privilegedData", "meta", "id", "schemas"];

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let rec = view.state.folders.get(&id)?;
    let attrs = from_text(rec.attrs.as_deref());
    let mut doc = start(scim::ResourceKind::Container, id, &attrs, &[]);
    doc.insert("name".to_owned(), Value::String(rec.ss.name.to_string()));
    doc.insert("displayName".to_owned(), Value::String(rec.ss.name.to_string()));
    if rec.ss.parent != ROOT_FOLDER_ID
        && view.folder_visible(rec.ss.parent)
        && let Some(parent) = view.state.folders.get(&rec.ss.parent)
    {
        // `value` and `$ref` (the gateway fills it) only: the schema's `parent` has no `display`.
        doc.insert("parent".to_owned(), json!({"value": parent.ss.id.to_string()}));
    }
    doc.insert("path".to_owned(), Value::String(view.state.folder_path(id)));
    doc.insert("inheritPermissions".to_owned(), Value::Bool(rec.ss.inherit_permissions));
    let secrets: Vec<Value> = view
        .state
        .secrets_in(id)
        .into_iter()
        .filter_map(|s| view.state.secrets.get(&s))
        .map(|s| json!({"value": s.ss.id.to_string(), "display": &*s.ss.name, "type": &*s.ss.template_name}))
        .collect();
    if !secrets.is_empty() {
        doc.insert("privilegedData".to_owned(), Value::Array(secrets));
    }
    merge_attrs(&mut doc, attrs, OWNED);
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::Container, rec.meta));
    Some(Value::Object(doc))
}

/// What a validated Container document asks of Secret Server.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerFields {
    pub name: String,
    /// `-1` for the root.
    pub parent: i64,
    /// `None` when the document does not say (the default depends on the parent).
    pub inherit_permissions: Option<bool>,
    pub attrs: Map<String, Value>,
}

fn invalid(detail: String) -> ServiceError {
    ServiceError::invalid_argument(detail).with_scim_type(ScimType::InvalidValue)
}

/// Reads a validated Container document.
///
/// # Errors
/// `400 invalidValue` when `name` and `displayName` disagree, when neither is given, or when
/// `parent.value` is not a folder id.
pub fn fields(doc: &Value) -> Result<ContainerFields, ServiceError> {
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let name = match (text("name"), text("displayName")) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid(format!(
                "'name' ({a:?}) and 'displayName' ({b:?}) both name the folder and must agree"
            )));
        }
        (Some(a), _) | (None, Some(a)) => a.to_owned(),
        (None, None) => return Err(invalid("a Container needs a 'name'".to_owned())),
    };
    let parent = super::complex_ref(doc, "parent").map_err(invalid)?.unwrap_or(ROOT_FOLDER_ID);
    Ok(ContainerFields {
        name,
        parent: if parent == 0 { ROOT_FOLDER_ID } else { parent },
        inherit_permissions: doc.get("inheritPermissions").and_then(Value::as_bool),
        attrs: stored_attrs(doc, &["name", "displayName", "parent", "path", "inheritPermissions", "privilegedData"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_display_name_must_agree() {
        assert!(fields(&json!({"name": "a", "displayName": "b"})).is_err());
        assert_eq!(fields(&json!({"displayName": "b"})).unwrap().name, "b");
    }

    #[test]
    fn a_container_without_parent_is_at_the_root() {
        let f = fields(&json!({"name": "Ops", "externalId": "x"})).unwrap();
        assert_eq!(f.parent, ROOT_FOLDER_ID);
        assert_eq!(f.inherit_permissions, None);
        assert_eq!(f.attrs.keys().collect::<Vec<_>>(), vec!["externalId"]);
        assert_eq!(fields(&json!({"name": "Ops", "parent": {"value": "12"}})).unwrap().parent, 12);
    }
}
