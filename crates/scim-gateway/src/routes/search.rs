//! Lists and `POST /.search` (RFC 7644 §3.4.2, §3.4.3), at the root (every
//! type the connection may read) and per resource type. The adapter filters,
//! sorts, pages and projects; the gateway checks the parameters and their
//! limits first and renders the `ListResponse`.

use crate::auth::Caller;
use crate::errors::ApiResult;
use crate::render;
use crate::request::{self, ListParams};
use crate::routes::resources::kind_of;
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse, web};
use adapter_api::{Page, SearchPage, SearchQuery};
use bytes::Bytes;
use connections::scope::{self, Action};
use scim::ResourceKind;

/// `POST /.search`
pub async fn root(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let object = request::json_object(&req, &body)?;
    let params = request::list_params_from_search(&object, &state.settings.limits)?;
    let kinds = scope::readable(&caller.connection);
    run(&state, &caller, &req, kinds, params).await
}

/// `POST /{type}/.search`
pub async fn typed(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let kind = kind_of(&path)?;
    scope::require(&caller.connection, kind, Action::Read)?;
    let object = request::json_object(&req, &body)?;
    let params = request::list_params_from_search(&object, &state.settings.limits)?;
    run(&state, &caller, &req, vec![kind], params).await
}

/// Runs a validated query and renders its page.
///
/// # Errors
/// The adapter's error (a filter it cannot bind, an invalid cursor...), or `503`.
pub async fn run(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    kinds: Vec<ResourceKind>,
    params: ListParams,
) -> ApiResult<HttpResponse> {
    let cursor_paging = matches!(params.page, Page::Cursor { .. });
    if kinds.is_empty() {
        // No readable type: an empty list (never "no types", which the adapter reads as "every type").
        let empty = SearchPage {
            total_results: 0,
            start_index: 1,
            resources: Vec::new(),
            next_cursor: None,
            previous_cursor: None,
        };
        return Ok(render::list(&state.schemas, &request::base_url(req, &state.settings), &empty, cursor_paging));
    }
    let query = SearchQuery {
        kinds,
        filter: params.filter,
        sort_by: params.sort_by,
        descending: params.descending,
        page: params.page,
        projection: params.projection,
    };
    let page = state.directory.search(caller.connection.id.as_str(), &query).await?;
    Ok(render::list(&state.schemas, &request::base_url(req, &state.settings), &page, cursor_paging))
}
