//! A connection's rights mapping: the access rights its SCIM client speaks
//! (`rights` of ContainerPermission and PrivilegedDataPermission) to Secret
//! Server's role names, and back.

use secret_server_api::{FolderAccessRole, SecretAccessRole};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The pair of roles a folder permission carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FolderRoles {
    pub folder: FolderAccessRole,
    pub secret: SecretAccessRole,
}

/// A right the connection's mapping does not know. Never defaulted: the
/// request fails with a 400 naming the right.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no rights mapping for {right:?} on {target}; mapped rights are: {known}")]
pub struct UnmappedRight {
    pub right: String,
    pub target: &'static str,
    pub known: String,
}

/// Client right name → Secret Server roles, separately for Containers
/// (folder permissions) and PrivilegedData (secret permissions). Right names
/// compare case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RightsMapping {
    pub container: BTreeMap<String, FolderRoles>,
    pub privileged_data: BTreeMap<String, SecretAccessRole>,
}

impl Default for RightsMapping {
    /// The identity mapping on Secret Server's own role names, which is what
    /// SailPoint's PAM connector sends when its Permissions list is `View`, `Edit`...
    fn default() -> Self {
        use FolderAccessRole as F;
        use SecretAccessRole as S;
        let container = [
            ("View", F::View, S::View),
            ("Edit", F::Edit, S::Edit),
            ("Add Secret", F::AddSecret, S::None),
            ("Owner", F::Owner, S::Owner),
        ]
        .into_iter()
        .map(|(name, folder, secret)| (name.to_owned(), FolderRoles { folder, secret }))
        .collect();
        let privileged_data = [("List", S::List), ("View", S::View), ("Edit", S::Edit), ("Owner", S::Owner)]
            .into_iter()
            .map(|(name, role)| (name.to_owned(), role))
            .collect();
        Self { container, privileged_data }
    }
}

impl RightsMapping {
    /// The right names configured for Containers.
    pub fn container_rights(&self) -> impl Iterator<Item = &str> {
        self.container.keys().map(String::as_str)
    }

    /// The roles for one Container right.
    ///
    /// # Errors
    /// [`UnmappedRight`] when the right is not in the mapping.
    pub fn folder_roles(&self, right: &str) -> Result<FolderRoles, UnmappedRight> {
        self.container.iter().find(|(name, _)| name.eq_ignore_ascii_case(right.trim())).map(|(_, r)| *r).ok_or_else(
            || UnmappedRight {
                right: right.to_owned(),
                target: "Container",
                known: self.container.keys().cloned().collect::<Vec<_>>().join(", "),
            },
        )
    }

    /// The role for one PrivilegedData right.
    ///
    /// # Errors
    /// [`UnmappedRight`] when the right is not in the mapping.
    pub fn secret_role(&self, right: &str) -> Result<SecretAccessRole, UnmappedRight> {
        self.privileged_data
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(right.trim()))
            .map(|(_, r)| *r)
            .ok_or_else(|| UnmappedRight {
                right: right.to_owned(),
                target: "PrivilegedData",
                known: self.privileged_data.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    /// The Container rights whose mapping is exactly `roles` (for reads).
    pub fn rights_for_folder_roles(&self, roles: FolderRoles) -> Vec<String> {
        self.container.iter().filter(|(_, r)| **r == roles).map(|(name, _)| name.clone()).collect()
    }

    /// The PrivilegedData rights whose mapping is exactly `role` (for reads).
    pub fn rights_for_secret_role(&self, role: SecretAccessRole) -> Vec<String> {
        self.privileged_data.iter().filter(|(_, r)| **r == role).map(|(name, _)| name.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unmapped_right_is_an_error_naming_the_right() {
        let err = RightsMapping::default().folder_roles("Admin").unwrap_err();
        assert_eq!(err.right, "Admin");
        assert!(err.to_string().contains("\"Admin\""));
    }

    #[test]
    fn rights_match_case_insensitively_and_map_back() {
        let mapping = RightsMapping::default();
        let roles = mapping.folder_roles("add secret").unwrap();
        assert_eq!(roles.folder, FolderAccessRole::AddSecret);
        assert_eq!(mapping.rights_for_folder_roles(roles), vec!["Add Secret".to_owned()]);
    }

    #[test]
    fn a_custom_mapping_can_send_several_rights_to_one_role() {
        let mut mapping = RightsMapping::default();
        mapping.privileged_data.insert("Admin".into(), SecretAccessRole::Owner);
        mapping.privileged_data.insert("PowerUser".into(), SecretAccessRole::Owner);
        let mut back = mapping.rights_for_secret_role(SecretAccessRole::Owner);
        back.sort();
        assert_eq!(back, vec!["Admin", "Owner", "PowerUser"]);
    }
}
