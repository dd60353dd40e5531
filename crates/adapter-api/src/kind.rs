//! The one conversion between a SCIM resource kind and its protobuf value, used on every wire
//! (reads, jobs, audit events).

use proto::common::v1::ResourceType;
use scim::ResourceKind;

/// The protobuf resource type of `kind`.
pub fn to_proto(kind: ResourceKind) -> ResourceType {
    match kind {
        ResourceKind::User => ResourceType::User,
        ResourceKind::Group => ResourceType::Group,
        ResourceKind::Container => ResourceType::Container,
        ResourceKind::ContainerPermission => ResourceType::ContainerPermission,
        ResourceKind::PrivilegedData => ResourceType::PrivilegedData,
        ResourceKind::PrivilegedDataPermission => ResourceType::PrivilegedDataPermission,
        ResourceKind::Role => ResourceType::Role,
    }
}

/// The kind of a protobuf resource type value; `None` for `Unspecified` or a value this build does
/// not know.
pub fn from_proto(value: i32) -> Option<ResourceKind> {
    Some(match ResourceType::try_from(value).ok()? {
        ResourceType::User => ResourceKind::User,
        ResourceType::Group => ResourceKind::Group,
        ResourceType::Container => ResourceKind::Container,
        ResourceType::ContainerPermission => ResourceKind::ContainerPermission,
        ResourceType::PrivilegedData => ResourceKind::PrivilegedData,
        ResourceType::PrivilegedDataPermission => ResourceKind::PrivilegedDataPermission,
        ResourceType::Role => ResourceKind::Role,
        ResourceType::Unspecified => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_proto_value() {
        for kind in ResourceKind::ALL {
            assert_eq!(from_proto(to_proto(kind) as i32), Some(kind));
        }
    }

    #[test]
    fn unspecified_and_unknown_values_are_no_kind() {
        assert_eq!(from_proto(ResourceType::Unspecified as i32), None);
        assert_eq!(from_proto(99), None);
    }
}
