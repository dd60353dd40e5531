//! What a provisioning job asks for, and its protobuf value.

use proto::provisioning::v1 as pb;
use std::fmt;

/// What a write asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// `POST`: the payload is the SCIM resource.
    Create,
    /// `PUT`: the payload is the SCIM resource.
    Replace,
    /// `PATCH`: the payload is the PatchOp message (RFC 7644 §3.5.2).
    Patch,
    /// `DELETE`: no payload.
    Delete,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 4] = [Operation::Create, Operation::Replace, Operation::Patch, Operation::Delete];

    /// The name used in metrics and audit events: `create`, `replace`, `patch`, `delete`.
    pub fn name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Replace => "replace",
            Operation::Patch => "patch",
            Operation::Delete => "delete",
        }
    }

    /// The protobuf value.
    pub fn to_proto(self) -> pb::Operation {
        match self {
            Operation::Create => pb::Operation::Create,
            Operation::Replace => pb::Operation::Replace,
            Operation::Patch => pb::Operation::Patch,
            Operation::Delete => pb::Operation::Delete,
        }
    }

    /// The operation of a protobuf value; `None` for `Unspecified` or an unknown value.
    pub fn from_proto(value: i32) -> Option<Self> {
        Some(match pb::Operation::try_from(value).ok()? {
            pb::Operation::Create => Operation::Create,
            pb::Operation::Replace => Operation::Replace,
            pb::Operation::Patch => Operation::Patch,
            pb::Operation::Delete => Operation::Delete,
            pb::Operation::Unspecified => return None,
        })
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_round_trips_through_its_proto_value() {
        for operation in Operation::ALL {
            assert_eq!(Operation::from_proto(operation.to_proto() as i32), Some(operation));
        }
        assert_eq!(Operation::from_proto(0), None);
        assert_eq!(Operation::from_proto(42), None);
    }
}
