//! `/{ResourceType}` and `/{ResourceType}/{id}`: get, list, create, replace,
//! patch and delete, for the six resource types as each connection's scope
//! allows.
//!
//! Reads go to the adapter over gRPC. Writes are checked against the scope,
//! screened for attributes the schema does not define (ignored or refused by
//! the connection's policy: [`crate::unknown`]), validated with the `scim`
//! crate (create: schema, types, required, readOnly ignored; PATCH: the
//! PatchOp syntax; replace: the body's shape, since immutability needs the
//! current state, which the worker checks), and submitted as jobs. The operations here are also what each Bulk operation
//! runs. A successful PATCH is answered `200` with the resource, or `204` with its `ETag` on a
//! connection whose `patchResponse` policy is `noContent` (unless the request asks for a projection).

use crate::auth::{Caller, RequestId};
use crate::errors::{ApiError, ApiResult};
use crate::jobs::{Fingerprint, Write};
use crate::render;
use crate::request;
use crate::settings::Limits;
use crate::state::AppState;
use crate::unknown::{self, IgnoredAttributes};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use adapter_api::{Job, Operation, Written};
use bytes::Bytes;
use connections::PatchResponsePolicy;
use connections::scope::{self, Action};
use scim::{ResourceKind, ScimType};
use serde_json::Value;

/// The resource type an endpoint segment names; unknown segments are `404`.
///
/// # Errors
/// `404` for a segment that is not a resource endpoint.
pub fn kind_of(segment: &str) -> Result<ResourceKind, ApiError> {
    ResourceKind::from_endpoint(segment).ok_or_else(|| ApiError::not_found(format!("no such endpoint: /{segment}")))
}

/// Refuses any write to a read-only resource type (Role) with `405`, before scope or body: the
/// type has no write whatever the connection may do (RFC 7644 names no status for it; RFC 9110's
/// `405` says exactly that the method is not supported by the target, as actix says it for
/// `/Schemas`).
fn require_writable(kind: ResourceKind) -> ApiResult<()> {
    if kind.is_read_only() {
        return Err(ApiError::method_not_allowed(format!(
            "{} resources are read-only: they are defined in Secret Server and only listed and read here",
            kind.name()
        )));
    }
    Ok(())
}

/// What a write needs besides its body.
#[derive(Debug, Clone)]
pub struct WriteContext {
    pub request_id: String,
    pub if_match: Option<String>,
    pub idempotency_key: Option<String>,
    /// Where the names of the attributes the request's body carried and that were ignored go,
    /// for the request's audit record.
    pub ignored: IgnoredAttributes,
    /// The request the idempotency key belongs to.
    pub fingerprint: Fingerprint,
    /// When the answer is due at the latest (a Bulk request's deadline), besides the job deadline.
    pub until: Option<tokio::time::Instant>,
    /// The answer leaves a group's members out (the request's projection excluded them), so the
    /// worker need not render them.
    pub answer_without_members: bool,
    /// The answer carries no resource (a PATCH answered `204`, a Bulk operation), so the worker
    /// renders nothing and sends the version only.
    pub answer_version_only: bool,
}

/// Whether `projection` leaves a Group's `members` out of the answer: `excludedAttributes` names
/// them, or `attributes` names others and not them (nor a sub-attribute of theirs).
fn leaves_members_out(projection: &adapter_api::Projection) -> bool {
    let group_prefix = format!("{}:", scim::urn::GROUP.to_ascii_lowercase());
    let path = |name: &String| {
        let name = name.to_ascii_lowercase();
        name.strip_prefix(&group_prefix).map(str::to_owned).unwrap_or(name)
    };
    projection.excluded_attributes.iter().any(|n| path(n) == "members")
        || (!projection.attributes.is_empty()
            && !projection.attributes.iter().map(path).any(|p| p == "members" || p.starts_with("members.")))
}

/// A write's context and the projection of its answer, read from the request's headers and query.
struct Asked {
    ctx: WriteContext,
    projection: adapter_api::Projection,
}

impl Asked {
    /// Reads and checks everything a write asks besides its body (`If-Match`, `Idempotency-Key`,
    /// `attributes` and `excludedAttributes`): a request refused for any of them is refused before
    /// its job exists, so that it leaves no change behind.
    fn from_request(
        req: &HttpRequest,
        caller: &Caller,
        request_id: &RequestId,
        body: &[u8],
        limits: &Limits,
    ) -> ApiResult<Self> {
        let projection = request::projection_from_query(req.query_string(), limits)?;
        let ctx = WriteContext {
            request_id: request_id.0.clone(),
            if_match: request::if_match(req)?,
            idempotency_key: request::idempotency_key(req, caller.connection.id.as_str())?,
            fingerprint: request::fingerprint(req, body),
            until: None,
            ignored: IgnoredAttributes::of(req),
            answer_without_members: leaves_members_out(&projection),
            answer_version_only: false,
        };
        Ok(Self { ctx, projection })
    }

    /// Whether a successful PATCH is answered `204 No Content`: the connection's policy says so
    /// and the request asks for no projection (one that does is answered with it, `200`).
    fn patch_answers_no_content(&self, caller: &Caller) -> bool {
        caller.connection.policies.patch_response == PatchResponsePolicy::NoContent
            && self.projection.attributes.is_empty()
            && self.projection.excluded_attributes.is_empty()
    }
}

/// `GET /{type}/{id}`
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_of(&segment)?;
    scope::require(&caller.connection, kind, Action::Read)?;
    let projection = request::projection_from_query(req.query_string(), &state.settings.limits)?;
    let resource = state.directory.get(caller.connection.id.as_str(), kind, &id, &projection).await?;
    if let Some(list) = request::if_none_match(&req)
        && request::etag_matches(&list, &resource.version)
    {
        return Ok(render::not_modified(&resource));
    }
    Ok(render::resource(StatusCode::OK, &state.schemas, &request::base_url(&req, &state.settings), &resource))
}

/// `GET /{type}`
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let kind = kind_of(&path)?;
    scope::require(&caller.connection, kind, Action::Read)?;
    let params = request::list_params_from_query(req.query_string(), &state.settings.limits)?;
    super::search::run(&state, &caller, &req, vec![kind], params).await
}

/// `POST /{type}`
pub async fn post(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
    request_id: RequestId,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let kind = kind_of(&path)?;
    require_writable(kind)?;
    let asked = Asked::from_request(&req, &caller, &request_id, &body, &state.settings.limits)?;
    let object = request::json_object(&req, &body)?;
    let written = create(&state, &caller, kind, Value::Object(object), asked.ctx).await?;
    respond(&state, &caller, &req, StatusCode::CREATED, written, &asked.projection).await
}

/// `PUT /{type}/{id}`
pub async fn put(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    request_id: RequestId,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_of(&segment)?;
    require_writable(kind)?;
    let asked = Asked::from_request(&req, &caller, &request_id, &body, &state.settings.limits)?;
    let object = request::json_object(&req, &body)?;
    let written = replace(&state, &caller, kind, &id, Value::Object(object), asked.ctx).await?;
    respond(&state, &caller, &req, StatusCode::OK, written, &asked.projection).await
}

/// `PATCH /{type}/{id}`
pub async fn patch(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    request_id: RequestId,
    body: Bytes,
) -> ApiResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_of(&segment)?;
    require_writable(kind)?;
    let mut asked = Asked::from_request(&req, &caller, &request_id, &body, &state.settings.limits)?;
    let object = request::json_object(&req, &body)?;
    let no_content = asked.patch_answers_no_content(&caller);
    asked.ctx.answer_version_only = no_content;
    let written = modify(&state, &caller, kind, &id, Value::Object(object), asked.ctx).await?;
    if no_content {
        return Ok(render::no_content(&written));
    }
    respond(&state, &caller, &req, StatusCode::OK, written, &asked.projection).await
}

/// `DELETE /{type}/{id}`
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<(String, String)>,
    request_id: RequestId,
) -> ApiResult<HttpResponse> {
    let (segment, id) = path.into_inner();
    let kind = kind_of(&segment)?;
    require_writable(kind)?;
    let asked = Asked::from_request(&req, &caller, &request_id, &[], &state.settings.limits)?;
    remove(&state, &caller, kind, &id, asked.ctx).await?;
    Ok(HttpResponse::NoContent().finish())
}

async fn respond(
    state: &AppState,
    caller: &Caller,
    req: &HttpRequest,
    status: StatusCode,
    written: Written,
    projection: &adapter_api::Projection,
) -> ApiResult<HttpResponse> {
    match written {
        Written::Resource(mut resource) => {
            if resource.json.is_empty() {
                // A result rendered for a `204` (a request replayed with its Idempotency-Key after
                // the connection's patchResponse policy changed): read the resource to answer it.
                let everything = adapter_api::Projection::default();
                resource = state
                    .directory
                    .get(caller.connection.id.as_str(), resource.kind, &resource.id, &everything)
                    .await?;
            }
            let base = request::base_url(req, &state.settings);
            if projection.attributes.is_empty() && projection.excluded_attributes.is_empty() {
                return Ok(render::resource(status, &state.schemas, &base, &resource));
            }
            // RFC 7644 §3.9: attributes / excludedAttributes apply to the answer of a write too. They
            // were checked before the write (`Asked`), so this cannot refuse a write already applied.
            let parsed =
                scim::projection::Projection::from_lists(&projection.attributes, &projection.excluded_attributes)?;
            let doc: Value = serde_json::from_slice(&resource.json).unwrap_or(Value::Null);
            let projected = parsed.apply(&state.schemas, resource.kind, &doc);
            let resource = adapter_api::Resource { json: Bytes::from(projected.to_string()), ..resource };
            Ok(render::resource(status, &state.schemas, &base, &resource))
        }
        Written::Deleted => Ok(HttpResponse::NoContent().finish()),
    }
}

/// Creates a resource: scope, unknown attributes, validation, job.
///
/// # Errors
/// `403`/`404` from the scope, `400` from the connection's unknown-attribute policy or from
/// validation, the job's own error.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    body: Value,
    ctx: WriteContext,
) -> ApiResult<Written> {
    require_writable(kind)?;
    scope::require(&caller.connection, kind, Action::Create)?;
    let body = unknown::admit(caller, kind, scim::unknown::screen_resource(&state.schemas, kind, body), &ctx.ignored)?;
    let doc = scim::validate_create(&state.schemas, kind, &body)?;
    submit(state, caller, kind, Operation::Create, "", doc, ctx).await
}

/// Replaces a resource (`PUT`).
///
/// # Errors
/// As [`create`], and `400` for a body's `id` other than the URL's: `mutability` for another
/// string, `invalidValue` for a value that is not a string (a number, even of the same digits, is
/// no id); a `null` id is unassigned. Other immutability is checked by the worker against the
/// current state.
pub async fn replace(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    body: Value,
    ctx: WriteContext,
) -> ApiResult<Written> {
    require_writable(kind)?;
    scope::require(&caller.connection, kind, Action::Update)?;
    for sent in members_named(&body, "id") {
        match sent {
            Value::String(sent) if sent != id => {
                return Err(ApiError::bad_request(
                    ScimType::Mutability,
                    format!("the body's id {sent:?} is not the id in the URL ({id:?}); id is readOnly"),
                ));
            }
            // Unassigned (RFC 7643 §2.5), or the resource's own id.
            Value::Null | Value::String(_) => {}
            // An id is a string, compared exactly as issued: `999` is not `"999"` (nor any other
            // id), and a value the readOnly check cannot compare must not slip past it.
            _ => {
                return Err(ApiError::bad_request(
                    ScimType::InvalidValue,
                    format!(
                        "the body's id is {}; an id is a string (the id in the URL, {id:?})",
                        scim::json_type_name(sent)
                    ),
                ));
            }
        }
    }
    if members_named(&body, "schemas").any(|schemas| !schemas.is_array()) {
        return Err(ApiError::bad_request(ScimType::InvalidSyntax, "'schemas' must be an array of schema URNs"));
    }
    let body = unknown::admit(caller, kind, scim::unknown::screen_resource(&state.schemas, kind, body), &ctx.ignored)?;
    submit(state, caller, kind, Operation::Replace, id, body, ctx).await
}

/// The members of `body` called `name` in any spelling: attribute names are case-insensitive
/// (RFC 7643 §2.1), so `ID` is `id`, and one object may carry several spellings of a name.
fn members_named<'b>(body: &'b Value, name: &'b str) -> impl Iterator<Item = &'b Value> {
    body.as_object().into_iter().flatten().filter(move |(key, _)| key.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

/// Applies a PATCH.
///
/// # Errors
/// `400` for a body that is not a valid PatchOp, else as [`create`].
pub async fn modify(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    body: Value,
    ctx: WriteContext,
) -> ApiResult<Written> {
    require_writable(kind)?;
    scope::require(&caller.connection, kind, Action::Update)?;
    scim::PatchRequest::parse(&body)?;
    let body = unknown::admit(caller, kind, scim::unknown::screen_patch(&state.schemas, kind, body), &ctx.ignored)?;
    submit(state, caller, kind, Operation::Patch, id, body, ctx).await
}

/// Deletes a resource.
///
/// # Errors
/// As [`create`].
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    id: &str,
    ctx: WriteContext,
) -> ApiResult<Written> {
    require_writable(kind)?;
    scope::require(&caller.connection, kind, Action::Delete)?;
    submit(state, caller, kind, Operation::Delete, id, Value::Null, ctx).await
}

async fn submit(
    state: &AppState,
    caller: &Caller,
    kind: ResourceKind,
    operation: Operation,
    resource_id: &str,
    payload: Value,
    ctx: WriteContext,
) -> ApiResult<Written> {
    let job = Job::new(caller.connection.id.to_string(), kind, operation, resource_id, payload)?
        .with_if_match(ctx.if_match.as_deref())
        .with_request_id(ctx.request_id)
        .with_answer_without_members(ctx.answer_without_members)
        .with_answer_version_only(ctx.answer_version_only);
    let instance = caller.connection.secret_server.clone();
    let breaker = state.instance_breaker(&instance);
    let write = Write { job, instance, idempotency_key: ctx.idempotency_key, fingerprint: ctx.fingerprint };
    state.jobs.run(write, &breaker, ctx.until).await
}

#[cfg(test)]
mod tests {
    use super::leaves_members_out;
    use adapter_api::Projection;

    fn projection(attributes: &[&str], excluded: &[&str]) -> Projection {
        Projection {
            attributes: attributes.iter().map(|s| (*s).to_owned()).collect(),
            excluded_attributes: excluded.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn members_are_left_out_of_a_write_s_answer_only_when_the_projection_says_so() {
        assert!(!leaves_members_out(&projection(&[], &[])));
        assert!(leaves_members_out(&projection(&[], &["members"])));
        assert!(leaves_members_out(&projection(&[], &["urn:ietf:params:scim:schemas:core:2.0:Group:Members"])));
        assert!(!leaves_members_out(&projection(&[], &["members.display"])));
        assert!(leaves_members_out(&projection(&["displayName"], &[])));
        assert!(!leaves_members_out(&projection(&["displayName", "members.value"], &[])));
        assert!(!leaves_members_out(&projection(&["Members"], &[])));
    }
}
