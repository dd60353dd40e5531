//! Secrets, metadata only: search (`GET /v2/secrets`, as 11.x documents it), summary
//! (`GET /secrets/{id}/summary`) and lookup (`GET /secrets/lookup`); and moving a secret to
//! another folder (`PATCH /secrets/{id}/general` with `data.folder` only).
//!
//! There is deliberately no way to fetch a secret itself, its fields, or
//! its restricted view: those answers carry the secret's values.

use crate::client::{Call, SecretServerClient};
use crate::error::ClientError;
use crate::query::{QueryPairs, SecretQuery, ToQuery};
use crate::retry::Idempotency;
use crate::route::{ApiPath, Route};
use futures::stream::BoxStream;
use http::Method;
use secret_server_api::{Lookup, PagedResult, SecretGeneral, SecretGeneralUpdateArgs, SecretSummary};

impl SecretServerClient {
    /// One page of `GET /v2/secrets` (metadata records).
    ///
    /// # Errors
    /// The classified [`ClientError`].
    pub async fn secrets_page(
        &self,
        query: &SecretQuery,
        skip: i64,
        take: i64,
    ) -> Result<PagedResult<SecretSummary>, ClientError> {
        self.send_page(Call::get(ApiPath::fixed(Route::Secrets), query.to_query().page(skip, take))).await
    }

    /// The metadata of every secret matching `query` (by folder, with or
    /// without subfolders, by text, active or not), over all pages.
    pub fn search_secrets(&self, query: &SecretQuery) -> BoxStream<'static, Result<SecretSummary, ClientError>> {
        self.stream(ApiPath::fixed(Route::Secrets), query.to_query())
    }

    /// `GET /secrets/{id}/summary`: one secret's metadata.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown id.
    pub async fn secret_summary(&self, id: i64) -> Result<SecretSummary, ClientError> {
        self.send(Call::get(ApiPath::one(Route::SecretSummary, id), QueryPairs::new())).await
    }

    /// `GET /secrets/lookup`: `{id, value}` (the name) of every secret
    /// matching `query`, over all pages.
    pub fn lookup_secrets(&self, query: &SecretQuery) -> BoxStream<'static, Result<Lookup, ClientError>> {
        self.stream(ApiPath::fixed(Route::SecretsLookup), query.to_query())
    }

    /// `PATCH /secrets/{id}/general` with only `data.folder`: moves the secret to `folder_id`
    /// (`-1`: the root). The answer is read for the secret's id, name and folder; the published
    /// model's field values have no place in [`SecretGeneral`]. Idempotent: the same folder again
    /// changes nothing.
    ///
    /// # Errors
    /// [`ClientError::NotFound`] for an unknown secret; the classified [`ClientError`] otherwise
    /// (an unknown folder or a missing right is a `BadRequest` or `AccessDenied`).
    pub async fn move_secret(&self, id: i64, folder_id: i64) -> Result<SecretGeneral, ClientError> {
        let body = SecretGeneralUpdateArgs::move_to(folder_id);
        let path = ApiPath::one(Route::SecretGeneral, id);
        self.send(Call::json(Method::PATCH, path, &body, Idempotency::Idempotent)?).await
    }
}
