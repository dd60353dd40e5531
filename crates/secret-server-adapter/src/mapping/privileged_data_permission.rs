//! PrivilegedDataPermission ↔ Secret Server secret permission: `privilegedData` ↔ `secretId`,
//! `user` or `group`, `rights` ↔ `secretAccessRoleName` through the connection's rights mapping.
//! Documents are read with [`super::container_permission::fields`] (target `privilegedData`).
//!
//! The secret's name (`privilegedData.display` and `.name`) is shown only to a caller that may read
//! PrivilegedData; any other sees its id alone.

use super::container_permission::requested_rights;
use super::rights::rights_for_secret;
use super::{View, meta_value, start};
use serde_json::{Value, json};

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let rec = view.state.secret_perms.get(&id)?;
    let attrs = view.attrs(rec.attrs.as_deref());
    let mut doc = start(scim::ResourceKind::PrivilegedDataPermission, id, &attrs, &[]);
    let secret = if view.reads(scim::ResourceKind::PrivilegedData) {
        let name = view.state.secrets.get(&rec.ss.secret).map(|s| s.ss.name.to_string()).unwrap_or_default();
        json!({"value": rec.ss.secret.to_string(), "display": name, "name": name})
    } else {
        json!({"value": rec.ss.secret.to_string()})
    };
    doc.insert("privilegedData".to_owned(), secret);
    let (key, principal) = view.principal_ref(rec.ss.principal);
    doc.insert(key.to_owned(), principal);
    let rights = rights_for_secret(view.rights, rec.ss.role, requested_rights(&attrs).as_deref());
    doc.insert("rights".to_owned(), Value::Array(rights.into_iter().map(Value::String).collect()));
    super::merge_attrs(&mut doc, attrs, &["privilegedData", "user", "group", "rights", "meta", "id", "schemas"]);
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::PrivilegedDataPermission, view.shown(rec.meta)));
    Some(Value::Object(doc))
}
