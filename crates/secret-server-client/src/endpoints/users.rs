//! Users: `/api/v1/users`.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{MemberQuery, QueryPairs, ToQuery, UserQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use http::Method;
use secret_server_api::{
    DeleteResult, GroupMembership, PagedResult, Patch, User, UserCreateArgs, UserPatchArgs, UserSummary, UserUpdateArgs,
};

impl SecretServerClient {
    /// One page of `GET /users`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn users_page(
        &self,
        query: &UserQuery,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<UserSummary>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::Users), query.to_query().page(skip, take))).await
    }

    /// Every user matching `query`, over all pages.
    pub fn search_users(&self, query: &UserQuery) -> BoxStream<'static, Result<UserSummary, ClientError>> {
        self.stream(ApiPath::fixed(Route::Users), query.to_query())
    }

    /// `GET /users/{id}`, active or not.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn get_user(&self, id: i64) -> Result<User, ClientError> {
        let mut query = QueryPairs::new();
        query.push("includeInactive", "true");
        self.send(Call::get(ApiPath::one(Route::User, id), query)).await
    }

    /// `POST /users`. Not retried after a failure that may have been applied:
    /// the caller reconciles by searching for the user name.
    ///
    /// # Errors
    /// [`ClientError::BadRequest`] for a taken name or a password outside the
    /// policy (with `model_state`); which one is not told by a documented code,
    /// so the caller reads Secret Server's state to know.
    pub async fn create_user(&self, args: &UserCreateArgs) -> Result<User, ClientError> {
        self.send(Call::json(Method::POST, ApiPath::fixed(Route::Users), args, Idempotency::NotIdempotent)?).await
    }

    /// `PUT /users/{id}` with `args.id`; `userName` and `domainId` cannot change.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn update_user(&self, args: &UserUpdateArgs) -> Result<User, ClientError> {
        self.send(Call::json(Method::PUT, ApiPath::one(Route::User, args.id), args, Idempotency::Idempotent)?).await
    }

    /// `PATCH /users/{id}`: only the properties marked dirty change.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn patch_user(&self, id: i64, patch: &UserPatchArgs) -> Result<User, ClientError> {
        // Every patched property carries its absolute value, so repeating the
        // call is harmless: it is retried like a PUT.
        self.send(Call::json(Method::PATCH, ApiPath::one(Route::User, id), patch, Idempotency::Idempotent)?).await
    }

    /// Enables or disables a user (`PATCH` of `enabled`).
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn set_user_enabled(&self, id: i64, enabled: bool) -> Result<User, ClientError> {
        self.patch_user(id, &UserPatchArgs { enabled: Some(Patch::set(enabled)), ..UserPatchArgs::default() }).await
    }

    /// `DELETE /users/{id}`: Secret Server keeps users for audit, so this
    /// deactivates the user.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn delete_user(&self, id: i64) -> Result<DeleteResult, ClientError> {
        self.send(Call::delete(ApiPath::one(Route::User, id), QueryPairs::new())).await
    }

    /// The groups a user belongs to (`GET /users/{id}/groups`), over all pages.
    pub fn user_groups(&self, id: i64) -> BoxStream<'static, Result<GroupMembership, ClientError>> {
        self.stream(ApiPath::one(Route::UserGroups, id), MemberQuery::default().to_query())
    }
}
