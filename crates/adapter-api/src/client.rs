//! The gRPC client of the adapter's `Directory` service. Callers see the domain types of
//! [`crate::directory`]; every failure is a `ServiceError` (the gateway wraps this client in its
//! circuit breaker, which counts `Unavailable` and `DeadlineExceeded`).
//!
//! The channel connects lazily (the gateway starts before the adapter is ready), carries the W3C
//! trace context of the current span in its metadata, and every call has a timeout.
//!
//! The adapter serves the gateway only: each call carries the shared secret ([`AdapterAuth`]),
//! and with `https://` the channel speaks TLS, verifying the adapter's certificate against the
//! configured CA and presenting the gateway's own certificate (`transport_tls`).
//!
//! Each thread gets its own channel (one HTTP/2 connection), made on first use on that thread's
//! runtime: the connection's I/O then runs on the thread that serves the request, instead of
//! hopping to a shared channel's task on another runtime for every call, and the adapter sees one
//! connection per gateway worker that it can serve in parallel. Measured with
//! `scripts/bench-gateway.sh` (docs/benchmarks.md). Behind a Service that balances connections
//! over several adapter replicas, the gateway's threads' connections spread over them.
//!
//! Every call is a read, so a call that met a lost connection (the replica behind it stopped or
//! was restarted: `Unavailable` from the transport, not an answer of the adapter) is sent again on
//! a new connection, which the Service gives to a live replica: a rolling restart of the adapters
//! fails no SCIM call.

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

type Client = GrpcClient<InterceptedService<Channel, Credentials>>;

/// How the gateway proves itself to the adapter, and reaches it.
#[derive(Clone, Default)]
pub struct AdapterAuth {
    /// The shared secret every call carries (`authorization: Bearer <secret>`).
    pub secret: Option<secrecy::SecretString>,
    /// TLS to the adapter (required for an `https://` URL): its CA, and the gateway's certificate.
    pub tls: Option<transport_tls::GrpcClientTls>,
}

impl std::fmt::Debug for AdapterAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdapterAuth").field("secret", &self.secret.is_some()).field("tls", &self.tls.is_some()).finish()
    }
}

/// Adds the trace context and the shared secret to every call.
#[derive(Clone)]
pub(crate) struct Credentials {
    authorization: Option<tonic::metadata::AsciiMetadataValue>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials").field("secret", &self.authorization.is_some()).finish()
    }
}

impl tonic::service::Interceptor for Credentials {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let mut request = telemetry::grpc_client_interceptor(request)?;
        if let Some(value) = &self.authorization {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// How many times a read that met a lost connection is sent again.
pub const RETRIES_ON_A_LOST_CONNECTION: u32 = 4;

/// Whether `status` says the connection was lost before the adapter answered: `Unavailable` from
/// the transport, or `Cancelled` for a call that a closing connection dropped before sending it
/// (hyper's "operation was canceled"; not the call's own timeout), without the error details every
/// answer of the adapter carries (its own `Unavailable`, an instance still loading, is an answer
/// and is not retried here).
fn lost_connection(status: &tonic::Status) -> bool {
    let dropped = status.code() == tonic::Code::Cancelled && !status.message().contains("Timeout");
    (status.code() == tonic::Code::Unavailable || dropped) && status.details().is_empty()
}

/// Largest answer accepted: a page of big groups is large.
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A client of the adapter's `Directory` service.
#[derive(Debug, Clone)]
pub struct DirectoryClient {
    endpoint: Endpoint,
    credentials: Credentials,
    tls: Option<transport_tls::GrpcClientTls>,
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
    /// `Internal` when `url` is not a valid URI, when an `https://` URL comes without TLS settings
    /// or TLS settings with an `http://` URL, or when the secret is not valid in metadata.
    pub fn new(
        url: &str,
        connect_timeout: Duration,
        timeout: Duration,
        auth: AdapterAuth,
    ) -> Result<Self, ServiceError> {
        let (endpoint, credentials, tls) = endpoint(url, connect_timeout, timeout, auth)?;
        Ok(Self { endpoint, credentials, tls, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) })
    }

    /// This thread's client (made on first use, on the current runtime).
    fn client(&self) -> Client {
        CLIENTS.with(|clients| {
            clients
                .borrow_mut()
                .entry(self.id)
                .or_insert_with(|| {
                    let channel = match &self.tls {
                        Some(tls) => self.endpoint.connect_with_connector_lazy(tls.connector()),
                        None => self.endpoint.connect_lazy(),
                    };
                    GrpcClient::with_interceptor(channel, self.credentials.clone())
                        .max_decoding_message_size(MAX_MESSAGE_BYTES)
                })
                .clone()
        })
    }

    /// Runs `call` on this thread's client, again (up to [`RETRIES_ON_A_LOST_CONNECTION`] times)
    /// when the connection was lost before the adapter answered.
    async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, tonic::Status>
    where
        F: FnMut(Client) -> Fut,
        Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let mut left = RETRIES_ON_A_LOST_CONNECTION;
        loop {
            match call(self.client()).await {
                Err(status) if left > 0 && lost_connection(&status) => {
                    // The channel notices the closed connection and reconnects in the meantime.
                    let attempt = RETRIES_ON_A_LOST_CONNECTION - left;
                    left -= 1;
                    tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
                }
                other => return other.map(tonic::Response::into_inner),
            }
        }
    }

    /// One resource by id.
    ///
    /// # Errors
    /// `NotFound` when absent or outside the caller's scope; `Unavailable` or `DeadlineExceeded`
    /// when the adapter cannot be reached or does not answer in time; `Internal` for an answer
    /// without a resource.
    pub async fn get(&self, request: GetResource) -> Result<Resource, ServiceError> {
        let request = pb::GetResourceRequest::from(request);
        let response = self
            .call(|mut c| {
                let request = request.clone();
                async move { c.get_resource(request).await }
            })
            .await?;
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
        let request = pb::SearchResourcesRequest::from(request);
        let response = self
            .call(|mut c| {
                let request = request.clone();
                async move { c.search_resources(request).await }
            })
            .await?;
        SearchPage::try_from(response)
    }

    /// The adapter's readiness and that of each Secret Server instance.
    ///
    /// # Errors
    /// When the adapter cannot be reached.
    pub async fn health(&self) -> Result<Health, ServiceError> {
        Ok(self.call(|mut c| async move { c.health(pb::HealthRequest {}).await }).await?.into())
    }
}

/// The endpoint, credentials and TLS of a client of the adapter at `url` (see
/// [`DirectoryClient::new`]); shared with [`crate::admin::AdminClient`].
pub(crate) fn endpoint(
    url: &str,
    connect_timeout: Duration,
    timeout: Duration,
    auth: AdapterAuth,
) -> Result<(Endpoint, Credentials, Option<transport_tls::GrpcClientTls>), ServiceError> {
    let https = url.starts_with("https://");
    if https != auth.tls.is_some() {
        return Err(ServiceError::internal(if https {
            format!("adapter_url {url:?} is https:// but no CA to verify the adapter is configured (adapter_tls_ca)")
        } else {
            format!("adapter_url {url:?} must be https:// when TLS to the adapter is configured")
        }));
    }
    let authorization = auth
        .secret
        .map(|s| {
            use secrecy::ExposeSecret;
            format!("Bearer {}", s.expose_secret()).parse::<tonic::metadata::AsciiMetadataValue>()
        })
        .transpose()
        .map_err(|_| ServiceError::internal("the adapter secret has characters not allowed in gRPC metadata"))?;
    let endpoint = Endpoint::from_shared(url.to_owned())
        .map_err(|e| ServiceError::internal(format!("invalid adapter_url {url:?}: {e}")))?
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok((endpoint, Credentials { authorization }, auth.tls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transport_failure_is_a_lost_connection_and_an_answer_of_the_adapter_is_not() {
        assert!(lost_connection(&tonic::Status::unavailable("connection reset")));
        assert!(lost_connection(&tonic::Status::cancelled("operation was canceled")));
        assert!(!lost_connection(&tonic::Status::cancelled("Timeout expired")), "the call's own timeout");
        let answered: tonic::Status = ServiceError::unavailable("instance 'primary' is loading").into();
        assert!(!lost_connection(&answered), "the adapter's own answer carries its error details");
        assert!(!lost_connection(&tonic::Status::deadline_exceeded("slow")), "a slow call may have run: not repeated");
    }
}
