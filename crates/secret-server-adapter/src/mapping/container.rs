//! Container ↔ Secret Server folder.
//!
//! | SCIM | Secret Server |
//! |---|---|
//! | `name` | `folderName` (SailPoint finds containers by `name eq`) |
//! | `displayName` | the client's own value, kept in the attribute store when it differs from `name`; `folderName` when the client never set one |
//! | `parent.value` | `parentFolderId` (absent at the root, `-1`) |
//! | `path` (read-only) | the folder path, `\Parent\Child`, from the top of the caller's scope (naming no folder outside it) |
//! | `inheritPermissions` | `inheritPermissions` (default: false at the root, true below a folder) |
//! | `privilegedData` (read-only) | references to the secrets in the folder (id, name, template), for a caller that may read PrivilegedData |
//!
//! A parent outside the caller's scope is not shown (the container looks like a root to it), and
//! neither is any folder above it in `path`: a connection limited to `\Databases\Production`
//! reads that folder's path as `\Production`.
//!
//! `displayName` is independent of `name`: a client may set, change or remove it without renaming
//! the folder, and renaming the folder leaves a `displayName` the client set as it is. One that was
//! never set follows the folder's name. A `displayName` or `inheritPermissions` removed by a PATCH
//! reads back as absent (see `mapping::UNSET`): the folder keeps its inheritance, and its
//! `displayName` is left out until the folder is renamed in Secret Server or the client sets one.
//!
//! A PATCH that moves a container and leaves `inheritPermissions` as it was gives it the default of
//! its new place (a container moved to the root cannot inherit); asking for inheritance at the root
//! explicitly is `400 invalidValue`.

use super::{View, merge_attrs, meta_value, start, stored_attrs, unassigned};
use scim::ScimType;
use secret_server_api::ROOT_FOLDER_ID;
use serde_json::{Map, Value, json};
use service_error::ServiceError;

const DISPLAY_NAME: &str = "displayName";

const OWNED: &[&str] =
    &["name", "displayName", "parent", "path", "inheritPermissions", "privilegedData", "meta", "id", "schemas"];

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let rec = view.state.folders.get(&id)?;
    let attrs = view.attrs(rec.attrs.as_deref());
    let mut doc = start(scim::ResourceKind::Container, id, &attrs, &[]);
    doc.insert("name".to_owned(), Value::String(rec.ss.name.to_string()));
    match attrs.get(DISPLAY_NAME).and_then(Value::as_str) {
        Some(own) => drop(doc.insert(DISPLAY_NAME.to_owned(), Value::String(own.to_owned()))),
        None => {
            let name = Value::String(rec.ss.name.to_string());
            if !unassigned(&attrs, DISPLAY_NAME, &name) {
                doc.insert(DISPLAY_NAME.to_owned(), name);
            }
        }
    }
    if rec.ss.parent != ROOT_FOLDER_ID
        && view.folder_visible(rec.ss.parent)
        && let Some(parent) = view.state.folders.get(&rec.ss.parent)
    {
        // `value` and `$ref` (the gateway fills it) only: the schema's `parent` has no `display`.
        doc.insert("parent".to_owned(), json!({"value": parent.ss.id.to_string()}));
    }
    doc.insert("path".to_owned(), Value::String(view.folder_path(id)));
    let inherit = Value::Bool(rec.ss.inherit_permissions);
    if !unassigned(&attrs, "inheritPermissions", &inherit) {
        doc.insert("inheritPermissions".to_owned(), inherit);
    }
    // A caller that may not read secrets learns nothing of them here either (nor finds a folder
    // by filtering on their names).
    let secrets: Vec<Value> = if view.reads(scim::ResourceKind::PrivilegedData) {
        view.state
            .secrets_in(id)
            .into_iter()
            .filter_map(|s| view.state.secrets.get(&s))
            .map(|s| json!({"value": s.ss.id.to_string(), "display": &*s.ss.name, "type": &*s.ss.template_name}))
            .collect()
    } else {
        Vec::new()
    };
    if !secrets.is_empty() {
        doc.insert("privilegedData".to_owned(), Value::Array(secrets));
    }
    merge_attrs(&mut doc, attrs, OWNED);
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::Container, view.shown(rec.meta)));
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

/// Whether `parent.value` names Secret Server's root by its folder id, `-1` (or `0`), as clients of
/// Delinea's own SCIM connector may send it. The root is not a resource (no id is issued for it), so
/// these are not other spellings of an id.
fn names_the_root(doc: &Map<String, Value>) -> bool {
    match doc.get("parent").and_then(|p| p.get("value")) {
        Some(Value::String(s)) => s == "-1" || s == "0",
        Some(Value::Number(n)) => matches!(n.as_i64(), Some(-1 | 0)),
        _ => false,
    }
}

/// Reads a validated Container document. A `displayName` equal to `name` is not stored: it is
/// what the container shows without one, and it keeps following the folder's name.
///
/// # Errors
/// `400 invalidValue` when `name` is missing or empty, or when `parent.value` is not a folder id.
pub fn fields(doc: &Value) -> Result<ContainerFields, ServiceError> {
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    let Some(name) = text("name").map(str::to_owned) else {
        return Err(invalid("a Container needs a 'name' (the folder name)".to_owned()));
    };
    let parent = if names_the_root(doc) {
        ROOT_FOLDER_ID
    } else {
        super::complex_ref(doc, "parent").map_err(invalid)?.unwrap_or(ROOT_FOLDER_ID)
    };
    let mut attrs =
        stored_attrs(doc, &["name", DISPLAY_NAME, "parent", "path", "inheritPermissions", "privilegedData"]);
    if let Some(display_name) = doc.get(DISPLAY_NAME).and_then(Value::as_str).filter(|d| !d.is_empty() && *d != name) {
        attrs.insert(DISPLAY_NAME.to_owned(), Value::String(display_name.to_owned()));
    }
    Ok(ContainerFields {
        name,
        parent: if parent == 0 { ROOT_FOLDER_ID } else { parent },
        inherit_permissions: doc.get("inheritPermissions").and_then(Value::as_bool),
        attrs,
    })
}

/// The document a PATCH applies to: the rendering, without a `displayName` that is only the
/// folder's name (the client never set one). A PATCH that leaves `displayName` alone then leaves it
/// unset, so that it keeps following a rename instead of freezing the old name.
pub fn patch_base(mut rendered: Value) -> Value {
    if let Some(doc) = rendered.as_object_mut()
        && doc.get(DISPLAY_NAME).is_some_and(|d| Some(d) == doc.get("name"))
    {
        doc.shift_remove(DISPLAY_NAME);
    }
    rendered
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_display_name_other_than_the_name_is_stored_and_an_equal_one_is_not() {
        let f = fields(&json!({"name": "ops-folder", "displayName": "Operations"})).unwrap();
        assert_eq!(f.name, "ops-folder");
        assert_eq!(f.attrs.get("displayName"), Some(&json!("Operations")));
        let f = fields(&json!({"name": "Ops", "displayName": "Ops"})).unwrap();
        assert!(f.attrs.is_empty(), "{:?}", f.attrs);
        assert!(fields(&json!({"displayName": "b"})).is_err(), "the folder name comes from 'name' only");
    }

    #[test]
    fn a_patch_starts_without_a_display_name_that_is_only_the_folder_name() {
        let base = patch_base(json!({"name": "Ops", "displayName": "Ops", "path": "\\Ops"}));
        assert_eq!(base, json!({"name": "Ops", "path": "\\Ops"}));
        let own = json!({"name": "Ops", "displayName": "Operations"});
        assert_eq!(patch_base(own.clone()), own);
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
