//! What a connection may do with each resource type, checked before anything
//! is read or submitted.
//!
//! A type a connection cannot read is invisible: its endpoint answers `404`
//! as if it did not exist, and the root `/.search` and `/ResourceTypes` leave
//! it out. A readable type the connection may not change answers `403` to a
//! write, naming what is not allowed. Which objects of a readable type are
//! visible (the folder subtrees of Containers and their permissions) is
//! enforced by the adapter where the data is, from the same connection
//! record: ids outside the scope answer `404` and lists leave them out.

use crate::errors::ApiError;
use connections::{Connection, Operations};
use scim::ResourceKind;

/// What a request does to a resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Create,
    Update,
    Delete,
}

impl Action {
    fn allowed(self, ops: Operations) -> bool {
        match self {
            Action::Read => ops.read,
            Action::Create => ops.create,
            Action::Update => ops.update,
            Action::Delete => ops.delete,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Create => "create",
            Action::Update => "update",
            Action::Delete => "delete",
        }
    }
}

/// Whether `connection` may do `action` on `kind`.
///
/// # Errors
/// `404` when the type is outside the connection's scope, `403` when the
/// type is visible but the action is not allowed.
pub fn require(connection: &Connection, kind: ResourceKind, action: Action) -> Result<(), ApiError> {
    let ops = connection.scope.operations(kind);
    if !ops.read {
        return Err(ApiError::not_found(format!("no such resource type: {}", kind.endpoint())));
    }
    if action.allowed(ops) {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "connection {} may not {} {} resources",
            connection.id,
            action.verb(),
            kind.name()
        )))
    }
}

/// The resource types `connection` may read, in discovery order.
pub fn readable(connection: &Connection) -> Vec<ResourceKind> {
    ResourceKind::ALL.into_iter().filter(|k| connection.scope.operations(*k).read).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_error::ErrorKind;

    fn connection(scope: serde_json::Value) -> Connection {
        serde_json::from_value(serde_json::json!({"id": "c", "secretServer": "primary", "scope": scope})).unwrap()
    }

    #[test]
    fn a_type_outside_the_scope_is_not_found_even_for_reads() {
        let c = connection(serde_json::json!({"resourceTypes": {"User": {"read": true}}}));
        let e = require(&c, ResourceKind::Group, Action::Read).unwrap_err();
        assert_eq!(e.error.kind, ErrorKind::NotFound);
        assert_eq!(readable(&c), vec![ResourceKind::User]);
    }

    #[test]
    fn a_read_only_type_refuses_writes_with_403() {
        let c = connection(serde_json::json!({"resourceTypes": {"User": {"read": true}}}));
        assert!(require(&c, ResourceKind::User, Action::Read).is_ok());
        let e = require(&c, ResourceKind::User, Action::Create).unwrap_err();
        assert_eq!(e.error.kind, ErrorKind::PermissionDenied);
        assert!(e.error.detail.contains("may not create User"));
    }

    #[test]
    fn the_default_scope_keeps_privileged_data_read_only() {
        let c: Connection = serde_json::from_value(serde_json::json!({"id": "c", "secretServer": "p"})).unwrap();
        assert!(require(&c, ResourceKind::PrivilegedData, Action::Read).is_ok());
        assert!(require(&c, ResourceKind::PrivilegedData, Action::Update).is_err());
        assert!(require(&c, ResourceKind::ContainerPermission, Action::Create).is_ok());
    }
}
