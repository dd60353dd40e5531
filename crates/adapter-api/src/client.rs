//! The gRPC client of the adapter's `Directory` service. Callers see the domain types of
//! [`crate::directory`]; every failure is a `ServiceError` (the gateway wraps this client in its
//! circuit breaker, which counts `Unavailable` and `DeadlineExceeded`).
//!
//! The channel connects lazily (the gateway starts before the adapter is ready), carries the W3C
//! trace context of the current span in its metadata, and every call has a timeout.
//!
//! Each thread gets its own channel (one HTTP/2 connection), made on first use on that thread's
//! runtime: the connection's I/O then runs on the thread that serves the request, instead of
//! hopping to a shared channel's task on another runtime for every call, and the adapter sees one
//! connection per gateway worker that it can serve in parallel. Measured with
//! `scripts/bench-gateway.sh` (docs/benchmarks.md).

use crate::directory::{GetResource, Health, Resource, SearchPage, SearchResources};
use proto::directory::v1 as pb;
use proto::directory::v1::directory_client::DirectoryClient as GrpcClient;
use service_error::ServiceError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

type Interceptor = fn(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status>;
type Client = GrpcClient<InterceptedService<Channel, Interceptor>>;

/// Largest answer accepted: a page of big groups is large.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A client of the adapter's `Directory` service.
#[derive(Debug, Clone)]
pub struct DirectoryClient {
    endpoint: Endpoint,
    /// Tells this client's channels apart in the per-thread cache.
    id: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's channel of each `DirectoryClient`, by id.
    static CLIENTS: RefCell<HashMap<u64, Client>> = RefCell::new(HashMap::new());
}

impl DirectoryClient {
    /// A client of the adapter at `url`, connected lazily; `timeout` bounds every call.
    ///
    /// # Errors
    /// `Internal` when `url` is not a valid URI.
    pub fn new(url: &str, connect_timeout: Duration, timeout: Duration) -> Result<Self, ServiceError> {
        let endpoint = Endpoint::from_shared(url.to_owned())
            .map_err(|e| ServiceError::internal(format!("invalid adapter_url {url:?}: {e}")))?
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        Ok(Self { endpoint, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }

    /// This thread's client (made on first use, on the current runtime).
    fn client(&self) -> Client {
        CLIENTS.with(|clients| {
            clients
                .borrow_mut()
                .entry(self.id)
                .or_insert_with(|| {
                    let interceptor: Interceptor = telemetry::grpc_client_interceptor;
                    GrpcClient::with_interceptor(self.endpoint.connect_lazy(), interceptor)
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                })
                .clone()
        })
    }

    /// One resource by id.
    ///
    /// # Errors
    /// `NotFound` when absent or outside the caller's scope; `Unavailable` or `DeadlineExceeded`
    /// when the adapter cannot be reached or does not answer in time; `Internal` for an answer
    /// without a resource.
    pub async fn get(&self, request: GetResource) -> Result<Resource, ServiceError> {
        let response = self.client().get_resource(pb::GetResourceRequest::from(request)).await?.into_inner();
        let resource =
            response.resource.ok_or_else(|| ServiceError::internal("the adapter answered without a resource"))?;
        Resource::try_from(resource)
    }

    /// A filtered, sorted, paged list.
    ///
    /// # Errors
    /// `InvalidArgument` (with `scimType`) for a bad filter, sort or cursor; `Unavailable` or
    /// `DeadlineExceeded` when the adapter cannot be reached or does not answer in time.
    pub async fn search(&self, request: SearchResources) -> Result<SearchPage, ServiceError> {
        let response = self.client().search_resources(pb::SearchResourcesRequest::from(request)).await?;
        SearchPage::try_from(response.into_inner())
    }

    /// The adapter's readiness and that of each Secret Server instance.
    ///
    /// # Errors
    /// When the adapter cannot be reached.
    pub async fn health(&self) -> Result<Health, ServiceError> {
        Ok(self.client().health(pb::HealthRequest {}).await?.into_inner().into())
    }
}
