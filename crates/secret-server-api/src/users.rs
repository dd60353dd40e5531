//! Users: `/api/v1/users`.

use crate::envelope::Patch;
use serde::{Deserialize, Serialize};

/// The user model (GET / POST / PUT / PATCH responses).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct User {
    pub id: i64,
    pub user_name: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    pub enabled: bool,
    pub domain_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_guid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    /// When the password was last set through the API (`UserModel.passwordLastChanged`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_last_changed: Option<String>,
    pub is_locked_out: bool,
    pub login_failures: i64,
    pub is_application_account: bool,
    pub two_factor: bool,
    pub radius_two_factor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_user_name: Option<String>,
    pub duo_two_factor: bool,
    pub fido2_two_factor: bool,
    pub oath_two_factor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix_authentication_method: Option<String>,
    /// The user's date format (`UserModel.dateOptionId`).
    pub date_option_id: i64,
    /// The user's time format (`UserModel.timeOptionId`).
    pub time_option_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_id: Option<String>,
}

/// A record of `GET /users`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserSummary {
    pub id: i64,
    pub user_name: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    pub enabled: bool,
    pub domain_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_login: Option<String>,
    pub is_locked_out: bool,
    pub login_failures: i64,
    pub is_application_account: bool,
}

/// `POST /users`.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserCreateArgs {
    pub user_name: String,
    /// Required by the published model of every user; a local user's must satisfy the password
    /// policy (a directory user signs in with its directory's password, and is sent a generated one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ad_guid: Option<String>,
    pub is_application_account: bool,
    pub two_factor: bool,
    pub radius_two_factor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_user_name: Option<String>,
    pub duo_two_factor: bool,
    pub fido2_two_factor: bool,
    pub oath_two_factor: bool,
}

impl std::fmt::Debug for UserCreateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserCreateArgs")
            .field("user_name", &self.user_name)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .field("display_name", &self.display_name)
            .field("email_address", &self.email_address)
            .field("enabled", &self.enabled)
            .field("domain_id", &self.domain_id)
            .finish_non_exhaustive()
    }
}

/// `PUT /users/{id}`. `userName` and `domainId` cannot change and are not in the body.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserUpdateArgs {
    pub id: i64,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    pub enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    pub is_locked_out: bool,
    pub login_failures: i64,
    pub is_application_account: bool,
    pub two_factor: bool,
    pub radius_two_factor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_user_name: Option<String>,
    pub duo_two_factor: bool,
    pub fido2_two_factor: bool,
    pub oath_two_factor: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix_authentication_method: Option<String>,
    pub date_option_id: i64,
    pub time_option_id: i64,
    /// The groups this user owns; applied when `isGroupOwnerUpdate` is true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_owners: Option<Vec<i64>>,
    pub is_group_owner_update: bool,
}

impl std::fmt::Debug for UserUpdateArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserUpdateArgs")
            .field("id", &self.id)
            .field("display_name", &self.display_name)
            .field("email_address", &self.email_address)
            .field("enabled", &self.enabled)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

/// `PATCH /users/{id}` (the spec's `PatchUserModel`): top-level `{dirty, value}` properties; only
/// the dirty ones change, so a patch never resets what it does not name.
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct UserPatchArgs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<Patch<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<Patch<String>>,
    /// A new password (checked against the password policy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<Patch<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_locked_out: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub login_failures: Option<Patch<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_application_account: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_two_factor: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radius_user_name: Option<Patch<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duo_two_factor: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fido2_two_factor: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oath_two_factor: Option<Patch<bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_option_id: Option<Patch<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_option_id: Option<Patch<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slack_id: Option<Patch<String>>,
}

impl std::fmt::Debug for UserPatchArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserPatchArgs")
            .field("enabled", &self.enabled)
            .field("display_name", &self.display_name)
            .field("email_address", &self.email_address)
            .field("password", &self.password.as_ref().map(|p| (p.dirty, "[redacted]")))
            .finish_non_exhaustive()
    }
}

/// `GET /users/current`: the account the token belongs to, with its role permissions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct CurrentUser {
    pub id: i64,
    pub user_name: String,
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    /// Role permissions, e.g. `Administer Users`.
    pub permissions: Vec<RolePermissionName>,
}

/// One entry of [`CurrentUser::permissions`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RolePermissionName {
    pub name: String,
}
