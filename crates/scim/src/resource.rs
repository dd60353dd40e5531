//! The resource types this connector serves, and their names on the wire.

use std::fmt;

/// A SCIM resource type served by the connector: the two core types, the four PAM types, and the
/// read-only catalogue of Secret Server's roles (what a User's or Group's `roles` name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    User,
    Group,
    Container,
    ContainerPermission,
    PrivilegedData,
    PrivilegedDataPermission,
    Role,
}

impl ResourceKind {
    /// Every kind, in the order discovery documents list them.
    pub const ALL: [ResourceKind; 7] = [
        ResourceKind::User,
        ResourceKind::Group,
        ResourceKind::Container,
        ResourceKind::ContainerPermission,
        ResourceKind::PrivilegedData,
        ResourceKind::PrivilegedDataPermission,
        ResourceKind::Role,
    ];

    /// The endpoint path segment, e.g. `"Users"` for `/Users`.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
            ResourceKind::Container => "Containers",
            ResourceKind::ContainerPermission => "ContainerPermissions",
            ResourceKind::PrivilegedData => "PrivilegedData",
            ResourceKind::PrivilegedDataPermission => "PrivilegedDataPermissions",
            ResourceKind::Role => "Roles",
        }
    }

    /// The ResourceType id and `meta.resourceType` value, e.g. `"User"`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
            ResourceKind::Container => "Container",
            ResourceKind::ContainerPermission => "ContainerPermission",
            ResourceKind::PrivilegedData => "PrivilegedData",
            ResourceKind::PrivilegedDataPermission => "PrivilegedDataPermission",
            ResourceKind::Role => "Role",
        }
    }

    /// The URN of the kind's core schema.
    pub fn schema_urn(self) -> &'static str {
        match self {
            ResourceKind::User => crate::urn::USER,
            ResourceKind::Group => crate::urn::GROUP,
            ResourceKind::Container => crate::urn::CONTAINER,
            ResourceKind::ContainerPermission => crate::urn::CONTAINER_PERMISSION,
            ResourceKind::PrivilegedData => crate::urn::PRIVILEGED_DATA,
            ResourceKind::PrivilegedDataPermission => crate::urn::PRIVILEGED_DATA_PERMISSION,
            ResourceKind::Role => crate::urn::ROLE,
        }
    }

    /// Whether the type is read-only for every client: its resources are listed and read, never
    /// created, replaced, patched or deleted (a Role is Secret Server's to define).
    pub fn is_read_only(self) -> bool {
        self == ResourceKind::Role
    }

    /// The kind served at an endpoint segment (`"users"`, `"Users"`...), case-insensitively.
    ///
    /// Delinea's 2019 documentation spells the secret endpoints `PrivilegeData` and
    /// `PrivilegeDataPermissions`; both spellings are accepted so that clients configured from it work.
    pub fn from_endpoint(segment: &str) -> Option<Self> {
        let segment = segment.trim_matches('/');
        if segment.eq_ignore_ascii_case("PrivilegeData") {
            return Some(ResourceKind::PrivilegedData);
        }
        if segment.eq_ignore_ascii_case("PrivilegeDataPermissions") {
            return Some(ResourceKind::PrivilegedDataPermission);
        }
        Self::ALL.into_iter().find(|k| k.endpoint().eq_ignore_ascii_case(segment))
    }

    /// The kind whose ResourceType id is `name` (`"User"`, `"group"`...), case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name().eq_ignore_ascii_case(name))
    }

    /// The kind whose core schema is `urn`, case-insensitively.
    pub fn from_schema_urn(urn: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.schema_urn().eq_ignore_ascii_case(urn))
    }
}

impl fmt::Display for ResourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_its_endpoint_name_and_schema() {
        for kind in ResourceKind::ALL {
            assert_eq!(ResourceKind::from_endpoint(kind.endpoint()), Some(kind));
            assert_eq!(ResourceKind::from_endpoint(&kind.endpoint().to_lowercase()), Some(kind));
            assert_eq!(ResourceKind::from_name(kind.name()), Some(kind));
            assert_eq!(ResourceKind::from_schema_urn(kind.schema_urn()), Some(kind));
        }
    }

    #[test]
    fn delinea_legacy_privilege_data_spelling_is_accepted() {
        assert_eq!(ResourceKind::from_endpoint("PrivilegeData"), Some(ResourceKind::PrivilegedData));
        assert_eq!(
            ResourceKind::from_endpoint("privilegedatapermissions"),
            Some(ResourceKind::PrivilegedDataPermission)
        );
        assert_eq!(ResourceKind::from_endpoint("Secrets"), None);
    }
}
