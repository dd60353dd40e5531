//! Folders: `/api/v1/folders`.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{FolderQuery, QueryPairs, ToQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use http::Method;
use secret_server_api::{DeleteResult, Folder, FolderCreateArgs, FolderUpdateArgs, PagedResult};

impl SecretServerClient {
    /// One page of `GET /folders`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn folders_page(
        &self,
        query: &FolderQuery,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<Folder>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::Folders), query.to_query().page(skip, take))).await
    }

    /// Every folder matching `query` (by parent, by text), over all pages.
    pub fn search_folders(&self, query: &FolderQuery) -> BoxStream<'static, Result<Folder, ClientError>> {
        self.stream(ApiPath::fixed(Route::Folders), query.to_query())
    }

    /// `GET /folders/{id}`.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn get_folder(&self, id: i64) -> Result<Folder, ClientError> {
        self.send(Call::get(ApiPath::one(Route::Folder, id), QueryPairs::new())).await
    }

    /// `POST /folders` (`parentFolderId` `-1` for the root). Not retried
    /// after a failure that may have been applied.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn create_folder(&self, args: &FolderCreateArgs) -> Result<Folder, ClientError> {
        self.send(Call::json(Method::POST, ApiPath::fixed(Route::Folders), args, Idempotency::NotIdempotent)?).await
    }

    /// `PUT /folders/{id}` with `args.id`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn update_folder(&self, args: &FolderUpdateArgs) -> Result<Folder, ClientError> {
        self.send(Call::json(Method::PUT, ApiPath::one(Route::Folder, args.id), args, Idempotency::Idempotent)?).await
    }

    /// `DELETE /folders/{id}`.
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn delete_folder(&self, id: i64) -> Result<DeleteResult, ClientError> {
        self.send(Call::delete(ApiPath::one(Route::Folder, id), QueryPairs::new())).await
    }
}
