//! The wire model of the Secret Server REST API v1: the request and response
//! bodies of the endpoints the connector uses, as documented (see the
//! reference notes on the Postman collection generated from Secret Server's
//! Swagger, and the PowerShell module's classes).
//!
//! Both `secret-server-client` and the emulator `secret-server-sim` speak
//! through these types, so they are tolerant on input (unknown fields are
//! ignored, most fields default) and exact on output (camelCase names as
//! Secret Server sends them).
//!
//! There is deliberately no type for a secret's field values (`items`,
//! `itemValue`, `extendedFields`): the connector never reads them.

pub mod envelope;
pub mod folders;
pub mod groups;
pub mod health;
pub mod permissions;
pub mod role_assignments;
pub mod roles;
pub mod secrets;
pub mod token;
pub mod users;

pub use envelope::{
    BadRequestBody, DeleteResult, ErrorBody, InternalErrorBody, Lookup, PagedResult, Patch, SortSpec, SuccessResult,
};
pub use folders::{Folder, FolderCreateArgs, FolderUpdateArgs, ROOT_FOLDER_ID};
pub use groups::{
    Group, GroupCreateArgs, GroupMembership, GroupPatchArgs, GroupPatchModel, GroupSummary, GroupUpdateArgs,
    MemberAddArgs, MembersPatchArgs, MembersReplaceArgs,
};
pub use health::HealthCheck;
pub use permissions::{
    FolderPermission, FolderPermissionCreateArgs, FolderPermissionUpdateArgs, SecretPermission,
    SecretPermissionCreateArgs, SecretPermissionUpdateArgs,
};
pub use role_assignments::{
    ADMINISTRATOR_ROLE, GroupAssignedRole, GroupMembershipFilter, Role, RoleAssignments, RoleGroupPage,
    RoleGroupSummary, RoleSummary, UserRoleSummary,
};
pub use roles::{FolderAccessRole, SecretAccessRole, UnknownRole};
pub use secrets::{SecretGeneral, SecretGeneralUpdate, SecretGeneralUpdateArgs, SecretSummary, ViewFieldValue};
pub use token::{TokenErrorBody, TokenResponse};
pub use users::{CurrentUser, RolePermissionName, User, UserCreateArgs, UserPatchArgs, UserSummary, UserUpdateArgs};

/// The path of the REST API under the Secret Server base URL.
pub const API_PATH: &str = "api/v1";
/// The path of the token endpoint under the Secret Server base URL (not under `api/v1`).
pub const TOKEN_PATH: &str = "oauth2/token";
/// The `message` Secret Server returns when a permission is added to a folder
/// that inherits permissions, without `breakInheritance`.
pub const PERMISSIONS_ARE_INHERITED: &str = "API_PermissionsAreInherited";

/// Delinea's published OpenAPI 3.0 document of the Secret Server REST API (version 11.7.2), cut
/// down to the operations a SCIM connector calls with every schema they reference (see
/// `spec/README.md`). Data, not code: the contract tests (`secret-server-contract`) check the
/// client's requests and the emulator's answers against it.
pub const PUBLISHED_OPENAPI: &str = include_str!("../spec/openapi-subset-11.7.2.json");
