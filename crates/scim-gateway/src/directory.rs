//! The gRPC client of the adapter's `Directory` service, which answers every
//! SCIM read. Protobuf types stay in this module: callers see [`Resource`],
//! [`SearchQuery`] and [`SearchPage`], and every failure is a `ServiceError`.
//!
//! The channel connects lazily (the gateway starts before the adapter is
//! ready), carries the W3C trace context of the current span in its metadata,
//! and every call has a timeout. The `adapter` circuit breaker counts
//! `Unavailable` and `DeadlineExceeded` outcomes.
//!
//! Each HTTP worker thread gets its own channel (one HTTP/2 connection), made
//! on first use on that worker's runtime: the connection's I/O then runs on
//! the thread that serves the request, instead of hopping to a shared
//! channel's task on another runtime for every call, and the adapter sees one
//! connection per worker that it can serve in parallel. Measured with
//! `scripts/bench-gateway.sh` (docs/benchmarks.md).

use crate::circuit_breaker::{Admission, CircuitBreaker};
use bytes::Bytes;
use proto::common::v1 as common;
use proto::directory::v1 as pb;
use proto::directory::v1::directory_client::DirectoryClient;
use scim::ResourceKind;
use service_error::{ErrorKind, ServiceError};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

type Interceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;
type Client = DirectoryClient<InterceptedService<Channel, Interceptor>>;

/// One resource as the adapter answers it: already projected, with its version (a weak ETag).
#[derive(Debug, Clone)]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
    pub version: String,
    pub json: Bytes,
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
}

/// How a list is paged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// 1-based `startIndex`; `count` 0 asks for `totalResults` only.
    Index { start_index: u64, count: u32 },
    /// RFC 9865: an empty cursor asks for the first page.
    Cursor { cursor: String, count: u32 },
}

/// A list or `.search` query.
#[derive(Debug, Clone)]
pub struct SearchQuery {
    /// The types to search (one for `/Users`; the readable ones for the root `/.search`).
    pub kinds: Vec<ResourceKind>,
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: Option<bool>,
    pub page: Page,
    pub projection: Projection,
}

/// One page of results.
#[derive(Debug, Clone)]
pub struct SearchPage {
    pub total_results: u64,
    pub start_index: u64,
    pub resources: Vec<Resource>,
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

/// The adapter's readiness as `Health` reports it.
#[derive(Debug, Clone)]
pub struct AdapterHealth {
    pub ready: bool,
    pub detail: String,
}

/// The `Directory` client.
#[derive(Debug, Clone)]
pub struct Directory {
    endpoint: Endpoint,
    /// Tells this client's channels apart in the per-thread cache.
    id: u64,
    breaker: Arc<CircuitBreaker>,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's channel of each `Directory`, by id.
    static CLIENTS: RefCell<HashMap<u64, Client>> = RefCell::new(HashMap::new());
}

impl Directory {
    /// A client of the adapter at `url` (connected lazily).
    ///
    /// # Errors
    /// When `url` is not a valid URI.
    pub fn new(
        url: &str,
        connect_timeout: Duration,
        timeout: Duration,
        breaker: Arc<CircuitBreaker>,
    ) -> Result<Self, ServiceError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| ServiceError::internal(format!("invalid adapter_url {url:?}: {e}")))?
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(Self { endpoint, id: NEXT_ID.fetch_add(1, Ordering::Relaxed), breaker })
    }

    /// This thread's client (made on first use, on the current runtime).
    fn client(&self) -> Client {
        CLIENTS.with(|clients| {
            clients
                .borrow_mut()
                .entry(self.id)
                .or_insert_with(|| {
                    let interceptor: Interceptor = telemetry::grpc_client_interceptor;
                    DirectoryClient::with_interceptor(self.endpoint.connect_lazy(), interceptor)
                        .max_decoding_message_size(64 * 1024 * 1024)
                })
                .clone()
        })
    }

    /// One resource by id.
    ///
    /// # Errors
    /// `NotFound` when absent or outside the caller's scope; `Unavailable` when the adapter cannot be reached.
    pub async fn get(
        &self,
        connection: &str,
        kind: ResourceKind,
        id: &str,
        projection: &Projection,
    ) -> Result<Resource, ServiceError> {
        self.admit()?;
        let request = pb::GetResourceRequest {
            caller: Some(caller(connection)),
            resource_type: to_pb_kind(kind) as i32,
            id: id.to_owned(),
            projection: Some(to_pb_projection(projection)),
        };
        let response = self.outcome(self.client().get_resource(request).await)?;
        let resource =
            response.resource.ok_or_else(|| ServiceError::internal("the adapter answered without a resource"))?;
        from_pb_resource(resource)
    }

    /// A filtered, sorted, paged list.
    ///
    /// # Errors
    /// `InvalidArgument` (with `scimType`) for a bad filter, sort or cursor; `Unavailable` when the adapter cannot be reached.
    pub async fn search(&self, connection: &str, query: &SearchQuery) -> Result<SearchPage, ServiceError> {
        self.admit()?;
        let page = match &query.page {
            Page::Index { start_index, count } => pb::search_resources_request::Page::Index(pb::IndexPage {
                start_index: *start_index,
                count: Some(*count),
            }),
            Page::Cursor { cursor, count } => pb::search_resources_request::Page::Cursor(pb::CursorPage {
                cursor: cursor.clone(),
                count: Some(*count),
            }),
        };
        let request = pb::SearchResourcesRequest {
            caller: Some(caller(connection)),
            resource_types: query.kinds.iter().map(|k| to_pb_kind(*k) as i32).collect(),
            filter: query.filter.clone().unwrap_or_default(),
            sort_by: query.sort_by.clone().unwrap_or_default(),
            sort_order: match query.descending {
                None => pb::SortOrder::Unspecified,
                Some(false) => pb::SortOrder::Ascending,
                Some(true) => pb::SortOrder::Descending,
            } as i32,
            page: Some(page),
            projection: Some(to_pb_projection(&query.projection)),
        };
        let response = self.outcome(self.client().search_resources(request).await)?;
        Ok(SearchPage {
            total_results: response.total_results,
            start_index: response.start_index,
            resources: response.resources.into_iter().map(from_pb_resource).collect::<Result<_, _>>()?,
            next_cursor: Some(response.next_cursor).filter(|c| !c.is_empty()),
            previous_cursor: Some(response.previous_cursor).filter(|c| !c.is_empty()),
        })
    }

    /// The adapter's readiness (for `/readyz`); not guarded by the breaker, so that it notices recovery.
    ///
    /// # Errors
    /// When the adapter cannot be reached.
    pub async fn health(&self) -> Result<AdapterHealth, ServiceError> {
        let response = self.client().health(pb::HealthRequest {}).await.map_err(ServiceError::from)?.into_inner();
        let detail = response
            .instances
            .iter()
            .filter(|i| !i.ready)
            .map(|i| format!("{}: {}", i.instance, if i.detail.is_empty() { "not ready" } else { &i.detail }))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(AdapterHealth { ready: response.ready, detail })
    }

    fn admit(&self) -> Result<(), ServiceError> {
        match self.breaker.admit() {
            Admission::Allowed => Ok(()),
            Admission::Rejected { retry_after } => {
                Err(ServiceError::unavailable("the directory is unavailable (circuit breaker open); retry later")
                    .with_retry_after(retry_after))
            }
        }
    }

    fn outcome<T>(&self, result: Result<tonic::Response<T>, tonic::Status>) -> Result<T, ServiceError> {
        match result {
            Ok(response) => {
                self.breaker.record_success();
                Ok(response.into_inner())
            }
            Err(status) => {
                let error = ServiceError::from(status);
                if matches!(error.kind, ErrorKind::Unavailable | ErrorKind::DeadlineExceeded) {
                    self.breaker.record_failure();
                    tracing::warn!(error = %error, "directory call failed");
                    let retry = error.retry_after.unwrap_or(1);
                    return Err(
                        ServiceError::unavailable("the directory is unavailable; retry later").with_retry_after(retry)
                    );
                }
                self.breaker.record_success();
                Err(error)
            }
        }
    }
}

fn caller(connection: &str) -> common::Caller {
    common::Caller { connection_id: connection.to_owned() }
}

fn to_pb_projection(p: &Projection) -> pb::Projection {
    pb::Projection { attributes: p.attributes.clone(), excluded_attributes: p.excluded_attributes.clone() }
}

/// The protobuf resource type of `kind`.
pub fn to_pb_kind(kind: ResourceKind) -> common::ResourceType {
    match kind {
        ResourceKind::User => common::ResourceType::User,
        ResourceKind::Group => common::ResourceType::Group,
        ResourceKind::Container => common::ResourceType::Container,
        ResourceKind::ContainerPermission => common::ResourceType::ContainerPermission,
        ResourceKind::PrivilegedData => common::ResourceType::PrivilegedData,
        ResourceKind::PrivilegedDataPermission => common::ResourceType::PrivilegedDataPermission,
    }
}

/// The kind of a protobuf resource type; `None` for `Unspecified` or an unknown value.
pub fn from_pb_kind(value: i32) -> Option<ResourceKind> {
    Some(match common::ResourceType::try_from(value).ok()? {
        common::ResourceType::User => ResourceKind::User,
        common::ResourceType::Group => ResourceKind::Group,
        common::ResourceType::Container => ResourceKind::Container,
        common::ResourceType::ContainerPermission => ResourceKind::ContainerPermission,
        common::ResourceType::PrivilegedData => ResourceKind::PrivilegedData,
        common::ResourceType::PrivilegedDataPermission => ResourceKind::PrivilegedDataPermission,
        common::ResourceType::Unspecified => return None,
    })
}

/// Converts a protobuf resource, checking what the gateway relies on.
///
/// # Errors
/// `Internal` when the adapter sent a resource without a type or id.
pub fn from_pb_resource(r: common::Resource) -> Result<Resource, ServiceError> {
    let kind = from_pb_kind(r.resource_type)
        .ok_or_else(|| ServiceError::internal("the adapter sent a resource without a resource type"))?;
    if r.id.is_empty() {
        return Err(ServiceError::internal("the adapter sent a resource without an id"));
    }
    Ok(Resource { kind, id: r.id, version: r.version, json: Bytes::from(r.json) })
}
