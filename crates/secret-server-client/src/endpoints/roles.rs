//! Roles and who holds them: `/api/v1/roles`, `/api/v1/roles/{id}`, `/api/v1/roles/{id}/groups`,
//! `/api/v1/users/{id}/roles` (read, add, replace, remove), `/api/v1/users/{userId}/roles-assigned`
//! and `/api/v1/groups/{id}/roles` (read, add, remove; replace under `/api/v2`). The adapter asks
//! them which principals are Secret Server's administrators, and assigns the roles a SCIM client
//! asks for (role assignments are by role id, in a `roleIds` body: `RoleAssignments`).
//!
//! Every assignment call is idempotent in effect: adding a role held already, or removing one not
//! held, changes nothing, so a retried call is safe. An answer of `success: false` is an error
//! ([`ClientError::NotApplied`]), never a change taken as made.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{QueryPairs, RoleQuery, ToQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use reqwest::Method;
use secret_server_api::{
    PagedResult, Role, RoleAssignments, RoleGroupSummary, RoleSummary, SuccessResult, UserRoleSummary,
};

impl SecretServerClient {
    /// One page of `GET /roles`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn roles_page(&self, query: &RoleQuery, skip: i64, take: i64) -> Result<PagedResult<Role>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::Roles), query.to_query().page(skip, take))).await
    }

    /// Every role matching `query`, over all pages.
    pub fn search_roles(&self, query: &RoleQuery) -> BoxStream<'static, Result<Role, ClientError>> {
        self.stream(ApiPath::fixed(Route::Roles), query.to_query())
    }

    /// `GET /roles/{id}`.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn get_role(&self, id: i64) -> Result<Role, ClientError> {
        self.send(Call::get(ApiPath::one(Route::Role, id), QueryPairs::new())).await
    }

    /// Every group that holds role `role_id`, over all pages (`GET /roles/{id}/groups`).
    pub fn role_groups(&self, role_id: i64) -> BoxStream<'static, Result<RoleGroupSummary, ClientError>> {
        self.stream(ApiPath::one(Route::RoleGroups, role_id), QueryPairs::new())
    }

    /// Every role a user holds, directly or through a group (`GET /users/{id}/roles`).
    pub fn user_roles(&self, user_id: i64) -> BoxStream<'static, Result<RoleSummary, ClientError>> {
        self.stream(ApiPath::one(Route::UserRoles, user_id), QueryPairs::new())
    }

    /// Every role a user holds with how it holds it: directly, and through which of its groups
    /// (`GET /users/{userId}/roles-assigned`).
    pub fn user_roles_assigned(&self, user_id: i64) -> BoxStream<'static, Result<UserRoleSummary, ClientError>> {
        self.stream(ApiPath::one(Route::UserRolesAssigned, user_id), QueryPairs::new())
    }

    /// Every role a group holds (`GET /groups/{id}/roles`).
    pub fn group_roles(&self, group_id: i64) -> BoxStream<'static, Result<RoleSummary, ClientError>> {
        self.stream(ApiPath::one(Route::GroupRoles, group_id), QueryPairs::new())
    }

    /// Refused with [`ClientError::NotApplied`] when Secret Server answers `success: false`.
    async fn assign(&self, method: Method, path: ApiPath, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        let body = RoleAssignments { role_ids: role_ids.to_vec() };
        super::applied("a role assignment", self.send(Call::json(method, path, &body, Idempotency::Idempotent)?).await?)
    }

    /// `POST /users/{id}/roles`: the user also holds `role_ids` directly.
    ///
    /// # Errors
    /// The classified [`ClientError`] (an unknown role or user is a `BadRequest`).
    pub async fn add_user_roles(&self, user_id: i64, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        self.assign(Method::POST, ApiPath::one(Route::UserRoles, user_id), role_ids).await
    }

    /// `PUT /users/{id}/roles`: the user's direct roles become exactly `role_ids`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn replace_user_roles(&self, user_id: i64, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        self.assign(Method::PUT, ApiPath::one(Route::UserRoles, user_id), role_ids).await
    }

    /// `DELETE /users/{id}/roles` with a `RoleRemovals` body: the user no longer holds `role_ids`
    /// directly (roles held through a group stay).
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn remove_user_roles(&self, user_id: i64, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        self.assign(Method::DELETE, ApiPath::one(Route::UserRoles, user_id), role_ids).await
    }

    /// `POST /groups/{id}/roles`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn add_group_roles(&self, group_id: i64, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        self.assign(Method::POST, ApiPath::one(Route::GroupRoles, group_id), role_ids).await
    }

    /// `PUT /v2/groups/{id}/roles`: the group's roles become exactly `role_ids`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn replace_group_roles(&self, group_id: i64, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        self.assign(Method::PUT, ApiPath::one(Route::GroupRolesV2, group_id), role_ids).await
    }

    /// `DELETE /groups/{id}/roles` with a `RoleRemovals` body.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn remove_group_roles(&self, group_id: i64, role_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        self.assign(Method::DELETE, ApiPath::one(Route::GroupRoles, group_id), role_ids).await
    }
}
