//! Secret permissions: `/api/v1/secret-permissions`.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{QueryPairs, SecretPermissionQuery, ToQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use http::Method;
use secret_server_api::{
    DeleteResult, PagedResult, SecretPermission, SecretPermissionCreateArgs, SecretPermissionUpdateArgs,
};

impl SecretServerClient {
    /// One page of `GET /secret-permissions`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn secret_permissions_page(
        &self,
        query: &SecretPermissionQuery,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<SecretPermission>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::SecretPermissions), query.to_query().page(skip, take))).await
    }

    /// Every secret permission matching `query` (by secret, user or group),
    /// over all pages.
    pub fn search_secret_permissions(
        &self,
        query: &SecretPermissionQuery,
    ) -> BoxStream<'static, Result<SecretPermission, ClientError>> {
        self.stream(ApiPath::fixed(Route::SecretPermissions), query.to_query())
    }

    /// `GET /secret-permissions/{id}`.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn get_secret_permission(&self, id: i64) -> Result<SecretPermission, ClientError> {
        self.send(Call::get(ApiPath::one(Route::SecretPermission, id), QueryPairs::new())).await
    }

    /// `POST /secret-permissions`: exactly one of `user_id` / `group_id`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn create_secret_permission(
        &self,
        args: &SecretPermissionCreateArgs,
    ) -> Result<SecretPermission, ClientError> {
        let path = ApiPath::fixed(Route::SecretPermissions);
        self.send(Call::json(Method::POST, path, args, Idempotency::NotIdempotent)?).await
    }

    /// `PUT /secret-permissions/{id}` with `args.id`: the role changes.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn update_secret_permission(
        &self,
        args: &SecretPermissionUpdateArgs,
    ) -> Result<SecretPermission, ClientError> {
        let path = ApiPath::one(Route::SecretPermission, args.id);
        self.send(Call::json(Method::PUT, path, args, Idempotency::Idempotent)?).await
    }

    /// `DELETE /secret-permissions/{id}`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn delete_secret_permission(&self, id: i64) -> Result<DeleteResult, ClientError> {
        self.send(Call::delete(ApiPath::one(Route::SecretPermission, id), QueryPairs::new())).await
    }
}
