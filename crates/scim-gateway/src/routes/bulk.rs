//! `POST /Bulk` (RFC 7644 §3.7): the `scim` crate parses the request (limits,
//! per-operation syntax, `bulkId` dependencies); this module runs the
//! operations one at a time in dependency order, each exactly as the single
//! request would run (scope, validation, job), resolving `bulkId:`
//! references (also inside `members`) as the POSTs that declare them finish,
//! and stops once `failOnErrors` operations have failed.
//!
//! Idempotency: with an `Idempotency-Key` header each operation's key is that
//! key plus the operation's `bulkId` (or position); without one, a POST's key
//! is the SHA-256 of the request body plus its `bulkId`, so that a client
//! retrying the same Bulk request after a timeout does not create twice.
//! Other operations get fresh keys: applying the same change again is
//! harmless, and remembering it could hide a later, intended repetition.

use crate::auth::{Caller, RequestId};
use crate::errors::{ApiError, ApiResult};
use crate::render;
use crate::request;
use crate::routes::resources::{self, WriteContext};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use adapter_api::Written;
use bytes::Bytes;
use scim::bulk::{BulkEntry, BulkIds, BulkLimits, BulkMethod, BulkOperationResponse, BulkRequest, BulkResponse};
use sha2::{Digest, Sha256};

/// `POST /Bulk`
pub async fn bulk(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    request_id: RequestId,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    request::check_media_type(&req)?;
    let limits = BulkLimits {
        max_operations: state.settings.limits.bulk_max_operations,
        max_payload_bytes: state.settings.limits.bulk_max_payload_bytes,
    };
    let bulk = BulkRequest::parse(&body, limits)?;
    let order = bulk.execution_order()?;
    let base = request::base_url(&req, &state.settings);
    let header_key = request::idempotency_key(&req, caller.connection.id.as_str())?;
    let body_hash = hex::encode(Sha256::digest(&body));

    let mut ids = BulkIds::for_request(&bulk);
    let mut results: Vec<Option<BulkOperationResponse>> = vec![None; bulk.operations.len()];
    let mut errors = 0u64;
    for index in order {
        if bulk.should_stop(errors) {
            break;
        }
        let entry = &bulk.operations[index];
        let idempotency_key = match (&header_key, entry.method, &entry.bulk_id) {
            (Some(key), _, Some(bulk_id)) => Some(format!("{key}/bulk/{bulk_id}")),
            (Some(key), _, None) => Some(format!("{key}/bulk/#{index}")),
            (None, Some(BulkMethod::Post), Some(bulk_id)) => {
                Some(format!("{}/bulk/{body_hash}/{bulk_id}", caller.connection.id))
            }
            _ => None,
        };
        let ctx = WriteContext { request_id: format!("{}#{index}", request_id.0), if_match: None, idempotency_key };
        let outcome = run_one(&state, &caller, entry, &ids, ctx, &base).await;
        let response = match outcome {
            Ok((response, created_id)) => {
                if let (Some(bulk_id), Some(id)) = (&entry.bulk_id, created_id) {
                    ids.created(bulk_id, id);
                }
                response
            }
            Err(error) => {
                errors += 1;
                if let Some(bulk_id) = &entry.bulk_id {
                    ids.failed(bulk_id);
                }
                BulkOperationResponse::error(entry, &error.to_scim())
            }
        };
        results[index] = Some(response);
    }
    let body = BulkResponse { operations: results.into_iter().flatten().collect() };
    Ok(render::json(StatusCode::OK, &body.to_value()))
}

/// Runs one operation; returns its response and, for a POST, the created id.
async fn run_one(
    state: &AppState,
    caller: &Caller,
    entry: &BulkEntry,
    ids: &BulkIds,
    mut ctx: WriteContext,
    base: &str,
) -> Result<(BulkOperationResponse, Option<String>), ApiError> {
    let op = entry.operation.as_ref().map_err(|e| ApiError::from(e.clone()))?;
    let data = op.data.as_ref().map(|d| ids.resolve_value(d)).transpose()?;
    let id = op.resource_id.as_deref().map(|i| ids.resolve_id(i)).transpose()?;
    if let Some(version) = &op.version {
        // As `If-Match` on a single request: a version that cannot match is refused before the job.
        scim::etag::Precondition::parse(version)
            .map_err(|e| ApiError::bad_request(scim::ScimType::InvalidValue, format!("version: {}", e.detail)))?;
    }
    ctx.if_match = op.version.clone();
    let need_id = || {
        id.clone().ok_or_else(|| {
            ApiError::from(scim::ScimError::invalid_path(format!("{} needs a resource id in its path", op.method)))
        })
    };
    let need_data = || {
        data.clone().ok_or_else(|| ApiError::from(scim::ScimError::invalid_syntax(format!("{} needs data", op.method))))
    };
    let (written, status) = match op.method {
        BulkMethod::Post => (resources::create(state, caller, op.kind, need_data()?, ctx).await?, StatusCode::CREATED),
        BulkMethod::Put => {
            (resources::replace(state, caller, op.kind, &need_id()?, need_data()?, ctx).await?, StatusCode::OK)
        }
        BulkMethod::Patch => {
            (resources::modify(state, caller, op.kind, &need_id()?, need_data()?, ctx).await?, StatusCode::OK)
        }
        BulkMethod::Delete => {
            (resources::remove(state, caller, op.kind, &need_id()?, ctx).await?, StatusCode::NO_CONTENT)
        }
    };
    let mut response = BulkOperationResponse {
        method: Some(op.method),
        bulk_id: entry.bulk_id.clone(),
        version: None,
        location: None,
        status: status.as_u16(),
        response: None,
    };
    let mut created = None;
    match written {
        Written::Resource(resource) => {
            response.location = Some(render::location(base, &resource));
            response.version = Some(resource.version.clone()).filter(|v| !v.is_empty());
            if op.method == BulkMethod::Post {
                created = Some(resource.id.clone());
            }
        }
        Written::Deleted => {
            response.status = StatusCode::NO_CONTENT.as_u16();
            if let Some(id) = &id {
                response.location = Some(format!("{base}/{}/{id}", op.kind.endpoint()));
            }
        }
    }
    Ok((response, created))
}
