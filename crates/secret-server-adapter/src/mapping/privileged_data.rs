//! PrivilegedData ↔ a Secret Server secret's metadata: `name` (and `displayName`), `container`
//! (its folder), `template`, `active`, `checkedOut`, `lastAccessed`, `lastHeartbeatStatus`. Never a
//! field value: the client has no call that reads one, and this mapping has nothing to put it in.
//!
//! Read-only: creating, changing or deleting secrets through SCIM answers `501`.

use super::{View, meta_value, start};
use crate::text::rfc3339_millis;
use serde_json::{Map, Value, json};

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let rec = view.state.secrets.get(&id)?;
    let s = &rec.ss;
    let mut doc = start(scim::ResourceKind::PrivilegedData, id, &Map::new(), &[]);
    doc.insert("name".to_owned(), Value::String(s.name.to_string()));
    doc.insert("displayName".to_owned(), Value::String(s.name.to_string()));
    // The folder's name only for a caller that may read Containers (the id for any other).
    let container = match view.state.folders.get(&s.folder).filter(|_| view.reads(scim::ResourceKind::Container)) {
        Some(f) => json!({"value": s.folder.to_string(), "display": &*f.ss.name}),
        None => json!({"value": s.folder.to_string()}),
    };
    doc.insert("container".to_owned(), container);
    doc.insert("template".to_owned(), json!({"value": s.template_id.to_string(), "display": &*s.template_name}));
    doc.insert("active".to_owned(), Value::Bool(s.active));
    doc.insert("checkedOut".to_owned(), Value::Bool(s.checked_out));
    if let Some(at) = s.last_accessed {
        doc.insert("lastAccessed".to_owned(), Value::String(rfc3339_millis(at)));
    }
    if let Some(status) = &s.heartbeat {
        doc.insert("lastHeartbeatStatus".to_owned(), Value::String(status.to_string()));
    }
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::PrivilegedData, view.shown(rec.meta)));
    Some(Value::Object(doc))
}
