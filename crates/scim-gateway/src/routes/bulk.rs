//! `POST /Bulk` (RFC 7644 §3.7): the `scim` crate parses the request (limits,
//! per-operation syntax, `bulkId` dependencies); this module runs the
//! operations one at a time in dependency order, each exactly as the single
//! request would run (scope, unknown attributes, validation, job), resolving `bulkId:`
//! references (also inside `members`) as the POSTs that declare them finish,
//! and stops once `failOnErrors` operations have failed.
//!
//! Idempotency: an `Idempotency-Key` header belongs to the whole Bulk request
//! (its fingerprint is the Bulk's method, path and body); each operation's job
//! gets that key plus the operation's `bulkId` (or position). Before anything
//! runs, the operations' keys are looked up: one used by another request is
//! `422`, one whose job is still running `409`, and the others run (a job
//! already done replays its result). Without the header the request is always
//! new: no key is made up for its operations.
//!
//! Bounds: the request's own rate-limit token pays for its first operation,
//! and every further operation takes one from the connection's bucket, waiting
//! for it while it comes before the Bulk's deadline (`bulk_deadline`), `429`
//! in the operation's result when it would come later. Operations not started
//! by the deadline fail with `503` in their own result (RFC 7644 gives each
//! operation its status). The operation waiting for its job when the deadline
//! passes is answered as a single write is at its own deadline: `503`, not
//! applied, when no worker had taken its job (withdrawn, it never runs), else
//! `504` (its job goes on).
//!
//! Audit: besides the Bulk request's own record (written by the SCIM middleware), every operation
//! answered gets a `ScimCall` of its own, whatever its outcome (refused inside the gateway by
//! validation or a limit, not started by the deadline, or run as a job): its method, the route of
//! the single request it stands for, its status and `scimType`, and the request id
//! `<bulk request id>#<index>` that its job's change event carries too. They are on record before
//! the Bulk's answer leaves.

use crate::auth::{Caller, RequestId};
use crate::errors::{ApiError, ApiResult};
use crate::front_door::ClientAddress;
use crate::jobs;
use crate::render;
use crate::request;
use crate::routes::resources::{self, WriteContext};
use crate::state::AppState;
use crate::unknown::IgnoredAttributes;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use adapter_api::Written;
use bytes::Bytes;
use proto::audit::v1 as audit_pb;
use scim::ScimError;
use scim::bulk::{BulkEntry, BulkIds, BulkLimits, BulkMethod, BulkOperationResponse, BulkRequest, BulkResponse};
use service_error::{ErrorKind, ServiceError};
use tokio::time::Instant;

/// `POST /Bulk`
pub async fn bulk(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    request_id: RequestId,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let deadline = Instant::now() + state.settings.bulk_deadline;
    request::check_media_type(&req)?;
    let header_key = request::idempotency_key(&req, caller.connection.id.as_str())?;
    let limits = BulkLimits {
        max_operations: state.settings.limits.bulk_max_operations,
        max_payload_bytes: state.settings.limits.bulk_max_payload_bytes,
    };
    let bulk = BulkRequest::parse(&body, limits)?;
    let order = bulk.execution_order()?;
    let base = request::base_url(&req, &state.settings);
    let fingerprint = request::fingerprint(&req, &body);
    let keys: Vec<Option<String>> = bulk
        .operations
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            header_key.as_ref().map(|key| match &entry.bulk_id {
                Some(bulk_id) => format!("{key}/bulk/{bulk_id}"),
                None => format!("{key}/bulk/#{index}"),
            })
        })
        .collect();
    check_keys(&state, &keys, &fingerprint).await?;
    let rate_limit = caller.connection.rate_limit_or(state.settings.default_rate_limit);
    let ignored = IgnoredAttributes::of(&req);

    let mut ids = BulkIds::for_request(&bulk);
    let mut results: Vec<Option<BulkOperationResponse>> = vec![None; bulk.operations.len()];
    let mut latencies = vec![std::time::Duration::ZERO; bulk.operations.len()];
    let mut errors = 0u64;
    for (position, index) in order.into_iter().enumerate() {
        if bulk.should_stop(errors) {
            break;
        }
        let entry = &bulk.operations[index];
        if Instant::now() >= deadline {
            results[index] = Some(not_started(entry, &state));
            continue;
        }
        // The request's own token (taken by the middleware) paid for the first operation.
        if position > 0
            && let Some(limit) = rate_limit
            && let Err(retry_after) = state.rate_limiter.take_by(&caller.connection.id, limit, deadline).await
        {
            errors += 1;
            let error = ScimError::status(
                429,
                format!(
                    "rate limit of {} requests per second reached: not run (retry after {retry_after} s)",
                    limit.requests_per_second
                ),
            );
            results[index] = Some(BulkOperationResponse::error(entry, &error));
            continue;
        }
        let ctx = WriteContext {
            request_id: format!("{}#{index}", request_id.0),
            if_match: None,
            idempotency_key: keys[index].clone(),
            fingerprint: fingerprint.clone(),
            until: Some(deadline),
            ignored: ignored.clone(),
            // A Bulk operation's answer carries the location and version, never the resource.
            answer_without_members: true,
            answer_version_only: true,
        };
        let started = Instant::now();
        let outcome = run_one(&state, &caller, entry, &ids, ctx, &base).await;
        latencies[index] = started.elapsed();
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
    let records = results.iter().enumerate().filter_map(|(index, response)| {
        let call = operation_call(&caller, &req, &request_id.0, index, &bulk.operations[index], response.as_ref()?);
        Some(state.audit.scim_call(audit_pb::ScimCall { latency_micros: latencies[index].as_micros() as u64, ..call }))
    });
    futures::future::join_all(records).await;
    let body = BulkResponse { operations: results.into_iter().flatten().collect() };
    Ok(render::json(StatusCode::OK, &body.to_value()))
}

/// The audit record of one answered operation (see the module docs).
fn operation_call(
    caller: &Caller,
    req: &HttpRequest,
    request_id: &str,
    index: usize,
    entry: &BulkEntry,
    response: &BulkOperationResponse,
) -> audit_pb::ScimCall {
    let operation = entry.operation.as_ref().ok();
    let route = match operation {
        Some(op) if op.resource_id.is_some() => format!("/scim/v2/{}/{{id}}", op.kind.endpoint()),
        Some(op) => format!("/scim/v2/{}", op.kind.endpoint()),
        None => "/scim/v2/Bulk".to_owned(),
    };
    let resource_id = response
        .location
        .as_deref()
        .and_then(|location| location.rsplit('/').next())
        .map(str::to_owned)
        .or_else(|| operation.and_then(|op| op.resource_id.clone()))
        .unwrap_or_default();
    let scim_type = response.response.as_ref().and_then(|body| body.get("scimType")).and_then(|t| t.as_str());
    audit_pb::ScimCall {
        connection_id: caller.connection.id.to_string(),
        connection_name: caller.connection.display_name.clone(),
        method: response.method.or(entry.method).map(|m| m.as_str().to_owned()).unwrap_or_default(),
        route,
        resource_type: operation.map(|op| adapter_api::kind::to_proto(op.kind) as i32).unwrap_or_default(),
        resource_id,
        status: u32::from(response.status),
        latency_micros: 0,
        client_address: ClientAddress::of(req).map(|a| a.to_string()).unwrap_or_default(),
        scim_type: scim_type.unwrap_or_default().to_owned(),
        request_id: format!("{request_id}#{index}"),
        ignored_attributes: Vec::new(),
    }
}

/// The result of an operation the deadline left unstarted: `503`, nothing done.
fn not_started(entry: &BulkEntry, state: &AppState) -> BulkOperationResponse {
    let error = ScimError::from(ServiceError::new(
        ErrorKind::Unavailable,
        format!(
            "not run: the Bulk request's deadline ({} s) passed before this operation started",
            state.settings.bulk_deadline.as_secs_f64()
        ),
    ));
    BulkOperationResponse::error(entry, &error)
}

/// Checks the operations' idempotency keys before any operation runs: the key of a Bulk belongs to
/// that Bulk request, and to no other.
///
/// # Errors
/// `422` when a key's job was submitted for another request, `409` when one is still running.
async fn check_keys(state: &AppState, keys: &[Option<String>], fingerprint: &jobs::Fingerprint) -> ApiResult<()> {
    let lookups = keys.iter().flatten().map(|key| state.jobs.find(key));
    let found = futures::future::try_join_all(lookups).await?;
    let ours = fingerprint.to_string();
    if let Some(other) = found.iter().flatten().find(|job| job.fingerprint != ours) {
        return Err(ApiError::unprocessable(fingerprint.mismatch(&other.fingerprint)));
    }
    if let Some(running) = found.iter().flatten().find(|job| !job.status.is_final()) {
        return Err(jobs::still_running(&running.job_id));
    }
    Ok(())
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
