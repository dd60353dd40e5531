//! Permission rights ↔ Secret Server roles, through a connection's rights mapping.
//!
//! Decisions (documented in the crate docs):
//! - **Several rights in one request** combine to the most privileged roles, component-wise: the
//!   highest folder role and the highest secret role among the rights' mappings (folder roles rank
//!   View < Add Secret < Edit < Owner; secret roles None < List < View < Edit < Owner).
//! - **A right without a mapping** is a `400 invalidValue` naming the right and the mapped rights;
//!   never a silent default.
//! - **An empty rights set** is a `400 invalidValue`: revoking all access is a DELETE of the
//!   permission (which is what SailPoint's PAM connector does).
//! - **Reading a permission**: the rights the client last set, when they still combine to the roles
//!   Secret Server holds (an exact round trip); otherwise every right mapped exactly to those roles;
//!   otherwise the smallest set of mapped rights whose combination gives them; otherwise a synthetic
//!   right naming the roles — `"<folder role>/<secret role>"` for a folder permission (`"Owner/None"`)
//!   and the secret role's name for a secret permission — so that a permission set directly in
//!   Secret Server with unmapped roles is reported the same way every time, and sending it back is
//!   a clear `400` naming it.

use connections::{FolderRoles, RightsMapping};
use scim::ScimType;
use secret_server_api::{FolderAccessRole, SecretAccessRole};
use service_error::ServiceError;

/// The privilege rank of a folder role.
pub fn folder_rank(role: FolderAccessRole) -> u8 {
    match role {
        FolderAccessRole::View => 1,
        FolderAccessRole::AddSecret => 2,
        FolderAccessRole::Edit => 3,
        FolderAccessRole::Owner => 4,
    }
}

/// The privilege rank of a secret role.
pub fn secret_rank(role: SecretAccessRole) -> u8 {
    match role {
        SecretAccessRole::None => 0,
        SecretAccessRole::List => 1,
        SecretAccessRole::View => 2,
        SecretAccessRole::Edit => 3,
        SecretAccessRole::Owner => 4,
    }
}

fn invalid(detail: String) -> ServiceError {
    ServiceError::invalid_argument(detail).with_scim_type(ScimType::InvalidValue)
}

fn empty_rights() -> ServiceError {
    invalid("'rights' must name at least one right; delete the permission to revoke access".to_owned())
}

fn combine_folder(roles: impl IntoIterator<Item = FolderRoles>) -> Option<FolderRoles> {
    roles.into_iter().reduce(|a, b| FolderRoles {
        folder: if folder_rank(b.folder) > folder_rank(a.folder) { b.folder } else { a.folder },
        secret: if secret_rank(b.secret) > secret_rank(a.secret) { b.secret } else { a.secret },
    })
}

/// The folder roles a set of Container rights asks for.
///
/// # Errors
/// `400 invalidValue` for an empty set or a right the mapping does not know.
pub fn folder_roles_for(mapping: &RightsMapping, rights: &[String]) -> Result<FolderRoles, ServiceError> {
    let mut roles = Vec::with_capacity(rights.len());
    for right in rights {
        roles.push(mapping.folder_roles(right).map_err(|e| invalid(e.to_string()))?);
    }
    combine_folder(roles).ok_or_else(empty_rights)
}

/// The secret role a set of PrivilegedData rights asks for.
///
/// # Errors
/// `400 invalidValue` for an empty set or a right the mapping does not know.
pub fn secret_role_for(mapping: &RightsMapping, rights: &[String]) -> Result<SecretAccessRole, ServiceError> {
    let mut best: Option<SecretAccessRole> = None;
    for right in rights {
        let role = mapping.secret_role(right).map_err(|e| invalid(e.to_string()))?;
        if best.is_none_or(|b| secret_rank(role) > secret_rank(b)) {
            best = Some(role);
        }
    }
    best.ok_or_else(empty_rights)
}

fn distinct(rights: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(rights.len());
    for r in rights {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(r)) {
            out.push(r.clone());
        }
    }
    out
}

/// The Container rights to report for a folder permission holding `roles` (see the module docs);
/// `requested` are the rights the client last set, if any.
pub fn rights_for_folder(mapping: &RightsMapping, roles: FolderRoles, requested: Option<&[String]>) -> Vec<String> {
    if let Some(requested) = requested
        && !requested.is_empty()
        && folder_roles_for(mapping, requested).is_ok_and(|r| r == roles)
    {
        return distinct(requested);
    }
    let mut exact = mapping.rights_for_folder_roles(roles);
    if !exact.is_empty() {
        exact.sort();
        return exact;
    }
    // Candidates never exceed the roles held; one must reach the folder role, one the secret role.
    let below: Vec<(&String, &FolderRoles)> = mapping
        .container
        .iter()
        .filter(|(_, r)| {
            folder_rank(r.folder) <= folder_rank(roles.folder) && secret_rank(r.secret) <= secret_rank(roles.secret)
        })
        .collect();
    let by_folder = below
        .iter()
        .filter(|(_, r)| r.folder == roles.folder)
        .max_by(|a, b| secret_rank(a.1.secret).cmp(&secret_rank(b.1.secret)).then_with(|| b.0.cmp(a.0)));
    let by_secret = below
        .iter()
        .filter(|(_, r)| r.secret == roles.secret)
        .max_by(|a, b| folder_rank(a.1.folder).cmp(&folder_rank(b.1.folder)).then_with(|| b.0.cmp(a.0)));
    if let (Some(f), Some(s)) = (by_folder, by_secret) {
        let mut cover = vec![f.0.clone()];
        if f.1.secret != roles.secret {
            cover.push(s.0.clone());
        }
        cover.sort();
        return cover;
    }
    vec![format!("{}/{}", roles.folder.as_str(), roles.secret.as_str())]
}

/// The PrivilegedData rights to report for a secret permission holding `role`.
pub fn rights_for_secret(mapping: &RightsMapping, role: SecretAccessRole, requested: Option<&[String]>) -> Vec<String> {
    if let Some(requested) = requested
        && !requested.is_empty()
        && secret_role_for(mapping, requested).is_ok_and(|r| r == role)
    {
        return distinct(requested);
    }
    let mut exact = mapping.rights_for_secret_role(role);
    if !exact.is_empty() {
        exact.sort();
        return exact;
    }
    vec![role.as_str().to_owned()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rights(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn several_rights_combine_to_the_most_privileged_roles() {
        let mapping = RightsMapping::default();
        let roles = folder_roles_for(&mapping, &rights(&["View", "Owner"])).unwrap();
        assert_eq!(roles, FolderRoles { folder: FolderAccessRole::Owner, secret: SecretAccessRole::Owner });
        let mixed = folder_roles_for(&mapping, &rights(&["Add Secret", "View"])).unwrap();
        assert_eq!(mixed, FolderRoles { folder: FolderAccessRole::AddSecret, secret: SecretAccessRole::View });
    }

    #[test]
    fn an_unmapped_right_is_a_400_naming_the_right() {
        let err = folder_roles_for(&RightsMapping::default(), &rights(&["View", "Admin"])).unwrap_err();
        assert_eq!(err.http_status(), 400);
        assert_eq!(err.scim_type, Some(ScimType::InvalidValue));
        assert!(err.detail.contains("\"Admin\""), "{}", err.detail);
    }

    #[test]
    fn an_empty_rights_set_is_refused() {
        let err = secret_role_for(&RightsMapping::default(), &[]).unwrap_err();
        assert!(err.detail.contains("at least one right"));
    }

    #[test]
    fn the_rights_a_client_set_are_reported_back_while_they_still_hold() {
        let mapping = RightsMapping::default();
        let asked = rights(&["Add Secret", "View"]);
        let roles = folder_roles_for(&mapping, &asked).unwrap();
        assert_eq!(rights_for_folder(&mapping, roles, Some(&asked)), asked);
        // Changed in Secret Server since: the mapping decides again.
        let owner = FolderRoles { folder: FolderAccessRole::Owner, secret: SecretAccessRole::Owner };
        assert_eq!(rights_for_folder(&mapping, owner, Some(&asked)), vec!["Owner"]);
    }

    #[test]
    fn roles_without_an_exact_mapping_are_reported_as_the_smallest_cover() {
        let mapping = RightsMapping::default();
        let roles = FolderRoles { folder: FolderAccessRole::AddSecret, secret: SecretAccessRole::View };
        assert_eq!(rights_for_folder(&mapping, roles, None), vec!["Add Secret", "View"]);
    }

    #[test]
    fn roles_no_mapped_right_reaches_get_a_synthetic_right() {
        let mapping = RightsMapping::default();
        let roles = FolderRoles { folder: FolderAccessRole::Owner, secret: SecretAccessRole::None };
        assert_eq!(rights_for_folder(&mapping, roles, None), vec!["Owner/None"]);
        assert_eq!(rights_for_secret(&mapping, SecretAccessRole::None, None), vec!["None"]);
    }
}
