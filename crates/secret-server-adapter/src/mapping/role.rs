//! Role ← Secret Server role, read-only: `displayName` ← `name`, `enabled` ← `enabled`. The
//! catalogue is the read model's (`State::roles`, read by every resync and refreshed whenever a
//! User's or Group's `roles` are changed). Secret Server keeps no times for a role, so `meta` has
//! the resource type and the version (a hash of the name and the flag) only.

use super::View;
use crate::meta::{etag, role_version};
use serde_json::{Value, json};

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let role = view.state.roles.get(&id)?;
    Some(json!({
        "schemas": [scim::urn::ROLE],
        "id": id.to_string(),
        "displayName": &*role.name,
        "enabled": role.enabled,
        "meta": {"resourceType": scim::ResourceKind::Role.name(), "version": etag(role_version(role))},
    }))
}
