//! Roles and who holds them, read only: `/api/v1/roles`, `/api/v1/roles/{id}`,
//! `/api/v1/roles/{id}/groups`, `/api/v1/users/{id}/roles`, `/api/v1/users/{userId}/roles-assigned`
//! and `/api/v1/groups/{id}/roles`. The adapter asks them which principals are Secret Server's
//! administrators; no call here changes a role assignment.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{QueryPairs, RoleQuery, ToQuery};
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use secret_server_api::{PagedResult, Role, RoleGroupSummary, RoleSummary, UserRoleSummary};

impl SecretServerClient {
    /// One page of `GET /roles`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn roles_page(&self, query: &RoleQuery, skip: i64, take: i64) -> Result<PagedResult<Role>, ClientError> {
        self.send(Call::get(ApiPath::fixed(Route::Roles), query.to_query().page(skip, take))).await
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
}
