//! Groups and their members: `/api/v1/groups`, `/api/v1/groups/{id}/users`.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{GroupQuery, MemberQuery, QueryPairs, ToQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use http::Method;
use secret_server_api::{
    DeleteResult, Group, GroupCreateArgs, GroupMembership, GroupPatchArgs, GroupSummary, MemberAddArgs,
    MembersPatchArgs, MembersReplaceArgs, PagedResult, SuccessResult,
};

impl SecretServerClient {
    /// One page of `GET /groups`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn groups_page(
        &self,
        query: &GroupQuery,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<GroupSummary>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::Groups), query.to_query().page(skip, take))).await
    }

    /// Every group matching `query`, over all pages.
    pub fn search_groups(&self, query: &GroupQuery) -> BoxStream<'static, Result<GroupSummary, ClientError>> {
        self.stream(ApiPath::fixed(Route::Groups), query.to_query())
    }

    /// `GET /groups/{id}`.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn get_group(&self, id: i64) -> Result<Group, ClientError> {
        self.send(Call::get(ApiPath::one(Route::Group, id), QueryPairs::new())).await
    }

    /// `POST /groups`. Not retried after a failure that may have been applied.
    ///
    /// # Errors
    /// [`ClientError::BadRequest`] for a taken name (no documented code says so: the caller
    /// searches for the name to know).
    pub async fn create_group(&self, args: &GroupCreateArgs) -> Result<Group, ClientError> {
        self.send(Call::json(Method::POST, ApiPath::fixed(Route::Groups), args, Idempotency::NotIdempotent)?).await
    }

    /// `PATCH /groups/{id}`: only the properties `args` marks dirty change (see
    /// [`GroupPatchArgs`]); setting them again changes nothing, so a retried call is safe.
    ///
    /// # Errors
    /// The classified [`ClientError`] (a taken name is a `BadRequest`).
    pub async fn patch_group(&self, id: i64, args: &GroupPatchArgs) -> Result<Group, ClientError> {
        self.send(Call::json(Method::PATCH, ApiPath::one(Route::Group, id), args, Idempotency::Idempotent)?).await
    }

    /// `DELETE /groups/{id}`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn delete_group(&self, id: i64) -> Result<DeleteResult, ClientError> {
        self.send(Call::delete(ApiPath::one(Route::Group, id), QueryPairs::new())).await
    }

    /// One page of a group's members, disabled users included.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn group_members_page(
        &self,
        group_id: i64,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<GroupMembership>, ClientError> {
        let query = MemberQuery { include_inactive_users: true }.to_query().page(skip, take);
        self.send_page(Call::get(ApiPath::one(Route::GroupMembers, group_id), query)).await
    }

    /// Every member of a group, disabled users included (a disabled user is
    /// still a member), over all pages.
    pub fn group_members(&self, group_id: i64) -> BoxStream<'static, Result<GroupMembership, ClientError>> {
        let query = MemberQuery { include_inactive_users: true }.to_query();
        self.stream(ApiPath::one(Route::GroupMembers, group_id), query)
    }

    /// `POST /groups/{id}/users`.
    ///
    /// # Errors
    /// The classified [`ClientError`] (a user already in the group is a
    /// `BadRequest` on Secret Server).
    pub async fn add_group_member(&self, group_id: i64, user_id: i64) -> Result<GroupMembership, ClientError> {
        let path = ApiPath::one(Route::GroupMembers, group_id);
        self.send(Call::json(Method::POST, path, &MemberAddArgs { user_id }, Idempotency::NotIdempotent)?).await
    }

    /// `DELETE /groups/{id}/users/{userId}`.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] when the user is not a member.
    pub async fn remove_group_member(&self, group_id: i64, user_id: i64) -> Result<DeleteResult, ClientError> {
        self.send(Call::delete(ApiPath::two(Route::GroupMember, group_id, user_id), QueryPairs::new())).await
    }

    /// `PUT /groups/{id}/users`: the group's members become exactly `user_ids`.
    ///
    /// # Errors
    /// The classified [`ClientError`]; [`ClientError::NotApplied`] for `success: false`.
    pub async fn replace_group_members(&self, group_id: i64, user_ids: &[i64]) -> Result<SuccessResult, ClientError> {
        let body = MembersReplaceArgs { user_ids: user_ids.to_vec() };
        let call =
            Call::json(Method::PUT, ApiPath::one(Route::GroupMembers, group_id), &body, Idempotency::Idempotent)?;
        super::applied("a replacement of the group's members", self.send(call).await?)
    }

    /// `PATCH /groups/{id}/users`: adds `added` and removes `removed` in one call. Not retried
    /// after a failure that may have been applied (adding a member twice is refused); the caller
    /// reads the members to know.
    ///
    /// # Errors
    /// The classified [`ClientError`] (a user already in the group, or not in it, is a
    /// `BadRequest` on the emulator; Secret Server documents no code for it), and
    /// [`ClientError::NotApplied`] for `success: false`.
    pub async fn patch_group_members(
        &self,
        group_id: i64,
        added: &[i64],
        removed: &[i64],
    ) -> Result<SuccessResult, ClientError> {
        let body = MembersPatchArgs { added_user_ids: added.to_vec(), remove_user_ids: removed.to_vec() };
        let path = ApiPath::one(Route::GroupMembers, group_id);
        super::applied(
            "a change of the group's members",
            self.send(Call::json(Method::PATCH, path, &body, Idempotency::NotIdempotent)?).await?,
        )
    }
}
