//! Discovery (RFC 7644 §4): `/ServiceProviderConfig`, `/Schemas` and
//! `/ResourceTypes`, advertising exactly what works for the calling
//! connection: its readable resource types and their schemas, the configured
//! limits, and the authentication schemes the gateway accepts.

use crate::auth::Caller;
use crate::errors::{ApiError, ApiResult};
use crate::render;
use crate::request;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use connections::scope;
use scim::spc::{AuthenticationScheme, PaginationMethod, PaginationSupport, ServiceProviderConfig};
use scim::{ListResponse, ResourceKind};
use serde_json::Value;

/// The ServiceProviderConfig these settings amount to.
pub fn service_provider_config(state: &AppState) -> ServiceProviderConfig {
    let limits = &state.settings.limits;
    let mut schemes = vec![AuthenticationScheme::bearer_token(true), AuthenticationScheme::oauth2(false)];
    if state.settings.allow_basic {
        schemes.push(AuthenticationScheme::http_basic(false));
    }
    ServiceProviderConfig {
        documentation_uri: None,
        patch: true,
        bulk: Some(scim::bulk::BulkLimits {
            max_operations: limits.bulk_max_operations,
            max_payload_bytes: limits.bulk_max_payload_bytes,
        }),
        filter_max_results: Some(limits.max_results as usize),
        change_password: false,
        sort: true,
        etag: true,
        pagination: Some(PaginationSupport {
            cursor: true,
            index: true,
            default_method: PaginationMethod::Index,
            default_page_size: limits.default_count as usize,
            max_page_size: limits.max_results as usize,
            cursor_timeout_secs: state.settings.cursor_timeout.as_secs(),
        }),
        authentication_schemes: schemes,
    }
}

/// `GET /ServiceProviderConfig`
pub async fn spc(state: web::Data<AppState>, _caller: Caller, req: HttpRequest) -> HttpResponse {
    let base = request::base_url(&req, &state.settings);
    render::json(StatusCode::OK, &service_provider_config(&state).document(&base))
}

/// The schema URNs the connection's readable types use.
fn visible_schemas(state: &AppState, caller: &Caller) -> Vec<String> {
    let mut urns = Vec::new();
    for kind in scope::readable(&caller.connection) {
        let rt = state.schemas.resource_type(kind);
        for urn in std::iter::once(&rt.schema).chain(rt.extensions.iter().map(|e| &e.schema)) {
            if !urns.iter().any(|u: &String| u.eq_ignore_ascii_case(urn)) {
                urns.push(urn.clone());
            }
        }
    }
    urns
}

/// `GET /Schemas`
pub async fn schemas(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let base = request::base_url(&req, &state.settings);
    let visible = visible_schemas(&state, &caller);
    let docs: Vec<Value> = state
        .schemas
        .all()
        .iter()
        .filter(|s| visible.iter().any(|u| u.eq_ignore_ascii_case(&s.id)))
        .map(|s| for_connection(state.schemas.schema_document(s, &base), &caller))
        .collect();
    list_document(docs)
}

/// A schema document as the caller's connection may use it: a User's and a Group's `roles` are
/// `readOnly` for a connection whose scope names no role it may assign, and a Container's
/// `privilegedData` for one that may not read PrivilegedData (it cannot name a secret to move); what
/// it could not apply is not advertised as writable.
fn for_connection(mut doc: Value, caller: &Caller) -> Value {
    let id = doc.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
    let scope = &caller.connection.scope;
    let read_only = if (id.eq_ignore_ascii_case(scim::urn::USER) || id.eq_ignore_ascii_case(scim::urn::GROUP))
        && scope.roles.is_empty()
    {
        "roles"
    } else if id.eq_ignore_ascii_case(scim::urn::CONTAINER)
        && !scope.operations(scim::ResourceKind::PrivilegedData).read
    {
        "privilegedData"
    } else {
        return doc;
    };
    let attribute = doc
        .get_mut("attributes")
        .and_then(Value::as_array_mut)
        .and_then(|attrs| attrs.iter_mut().find(|a| a.get("name").and_then(Value::as_str) == Some(read_only)));
    if let Some(attribute) = attribute {
        attribute["mutability"] = Value::from("readOnly");
        for sub in attribute.get_mut("subAttributes").and_then(Value::as_array_mut).into_iter().flatten() {
            sub["mutability"] = Value::from("readOnly");
        }
    }
    doc
}

/// `GET /Schemas/{id}`
pub async fn schema(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = path.into_inner();
    let base = request::base_url(&req, &state.settings);
    let visible = visible_schemas(&state, &caller).iter().any(|u| u.eq_ignore_ascii_case(&id));
    match state.schemas.schema_document_by_id(&id, &base).filter(|_| visible) {
        Some(doc) => Ok(render::json(StatusCode::OK, &for_connection(doc, &caller))),
        None => Err(ApiError::not_found(format!("no such schema: {id}"))),
    }
}

/// `GET /ResourceTypes`
pub async fn resource_types(state: web::Data<AppState>, caller: Caller, req: HttpRequest) -> ApiResult<HttpResponse> {
    let base = request::base_url(&req, &state.settings);
    let docs: Vec<Value> = scope::readable(&caller.connection)
        .into_iter()
        .map(|k| state.schemas.resource_type_document(k, &base))
        .collect();
    list_document(docs)
}

/// `GET /ResourceTypes/{id}`
pub async fn resource_type(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let name = path.into_inner();
    let kind = ResourceKind::from_name(&name)
        .filter(|k| scope::readable(&caller.connection).contains(k))
        .ok_or_else(|| ApiError::not_found(format!("no such resource type: {name}")))?;
    let base = request::base_url(&req, &state.settings);
    Ok(render::json(StatusCode::OK, &state.schemas.resource_type_document(kind, &base)))
}

fn list_document(docs: Vec<Value>) -> ApiResult<HttpResponse> {
    Ok(render::json(StatusCode::OK, &ListResponse::index(docs.len() as u64, 1, docs).to_value()))
}
