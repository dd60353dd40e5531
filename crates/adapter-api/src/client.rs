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
//! Reads by id are coalesced per thread ([`DirectoryClient::get`]): while a call is in flight on
//! a thread's channel, the reads that arrive on that thread wait and then go together as one
//! `GetResources` message (at most [`MAX_BATCH`]); a read that finds no call in flight is sent
//! at once, on its own, so a lone read waits for nothing. Per read, the gRPC stack's fixed costs
//! (HTTP/2 frames, the socket calls, the tasks on both sides) are shared by the batch. An adapter
//! without `GetResources` (older than the gateway during a rolling upgrade) answers
//! `Unimplemented`; the client then sends single reads, and tries a batch again a while later.
//!
//! Every call is a read, so a call that met a lost connection (the replica behind it stopped or
//! was restarted: `Unavailable` from the transport, not an answer of the adapter) is sent again on
//! a new connection, which the Service gives to a live replica: a rolling restart of the adapters
//! fails no SCIM call.

use crate::directory::{GetResource, Health, Resource, SearchPage, SearchResources};
use proto::directory::v1 as pb;
use proto::directory::v1::directory_client::DirectoryClient as GrpcClient;
use scim::ResourceKind;
use service_error::ServiceError;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tracing::Instrument;

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

/// Most reads sent together in one `GetResources` message.
pub const MAX_BATCH: usize = 64;

/// How long the client sends single reads after an adapter answered `Unimplemented` to
/// `GetResources`, before it tries a batch again (the adapter may have been upgraded since).
const BATCH_RETRY_AFTER: Duration = Duration::from_secs(30);

/// A client of the adapter's `Directory` service.
#[derive(Debug, Clone)]
pub struct DirectoryClient {
    endpoint: Endpoint,
    credentials: Credentials,
    tls: Option<transport_tls::GrpcClientTls>,
    /// Tells this client's channels apart in the per-thread cache.
    id: u64,
    /// Shared by the clones of this client.
    shared: Arc<Shared>,
}

/// What the clones of one client share: the adapter's refusal of batches, and the call counts.
#[derive(Debug, Default)]
struct Shared {
    /// When the adapter last answered `Unimplemented` to `GetResources`.
    batch_refused: Mutex<Option<Instant>>,
    single_calls: AtomicU64,
    batch_calls: AtomicU64,
    batched_reads: AtomicU64,
    refused_batches: AtomicU64,
}

/// How a client's reads by id went out so far (for benchmarks and tests): the coalescing shows
/// as `batched_reads / batch_calls`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadCalls {
    /// `GetResource` calls (a read alone, a group, or a read after a refused batch).
    pub single_calls: u64,
    /// `GetResources` calls answered.
    pub batch_calls: u64,
    /// Reads carried by those calls.
    pub batched_reads: u64,
    /// `GetResources` calls the adapter answered `Unimplemented`.
    pub refused_batches: u64,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A read waiting for its turn in this thread's next batch.
struct Pending {
    request: GetResource,
    /// The caller's span: a read sent alone carries its trace context.
    span: tracing::Span,
    reply: oneshot::Sender<Result<Resource, ServiceError>>,
}

thread_local! {
    /// This thread's channel of each `DirectoryClient`, by id.
    static CLIENTS: RefCell<HashMap<u64, Client>> = RefCell::new(HashMap::new());
    /// This thread's queue of reads of each `DirectoryClient`, by id, drained by one task.
    static BATCHERS: RefCell<HashMap<u64, mpsc::UnboundedSender<Pending>>> = RefCell::new(HashMap::new());
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
        Ok(Self {
            endpoint,
            credentials,
            tls,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            shared: Arc::new(Shared::default()),
        })
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

    /// One resource by id: coalesced with the other reads of this thread while a call is in
    /// flight (see the module docs). A group is always read alone: its members make its size
    /// unbounded, and a batch of large groups could outgrow a message.
    ///
    /// # Errors
    /// `NotFound` when absent or outside the caller's scope; `Unavailable` or `DeadlineExceeded`
    /// when the adapter cannot be reached or does not answer in time; `Internal` for an answer
    /// without a resource.
    pub async fn get(&self, request: GetResource) -> Result<Resource, ServiceError> {
        if request.kind == ResourceKind::Group {
            return self.get_one(request).await;
        }
        let (reply, answer) = oneshot::channel();
        self.enqueue(Pending { request, span: tracing::Span::current(), reply });
        answer.await.unwrap_or_else(|_| Err(ServiceError::internal("the read was dropped before it was answered")))
    }

    /// One resource by id, in a call of its own.
    ///
    /// # Errors
    /// As [`DirectoryClient::get`].
    pub async fn get_one(&self, request: GetResource) -> Result<Resource, ServiceError> {
        self.shared.single_calls.fetch_add(1, Ordering::Relaxed);
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

    /// Several resources by id in one `GetResources` call, each with its own outcome, in the order
    /// asked. An adapter without `GetResources` answers `Unimplemented` for the whole call.
    ///
    /// # Errors
    /// The call's own failure (the adapter unreachable, `Unimplemented`, more items than the
    /// adapter takes); an item's refusal is that item's `Err`.
    pub async fn get_many(
        &self,
        requests: Vec<GetResource>,
    ) -> Result<Vec<Result<Resource, ServiceError>>, ServiceError> {
        self.get_message(&crate::directory::get_resources_request(requests)).await
    }

    async fn get_message(
        &self,
        message: &pb::GetResourcesRequest,
    ) -> Result<Vec<Result<Resource, ServiceError>>, ServiceError> {
        let response = self
            .call(|mut c| {
                let message = message.clone();
                async move { c.get_resources(message).await }
            })
            .await;
        let response = match response {
            Err(status) if status.code() == tonic::Code::Unimplemented => {
                self.shared.refused_batches.fetch_add(1, Ordering::Relaxed);
                return Err(status.into());
            }
            other => other?,
        };
        self.shared.batch_calls.fetch_add(1, Ordering::Relaxed);
        self.shared.batched_reads.fetch_add(message.items.len() as u64, Ordering::Relaxed);
        if response.results.len() != message.items.len() {
            return Err(ServiceError::internal("the adapter answered a different number of reads than were asked"));
        }
        Ok(response.results.into_iter().map(crate::directory::read_outcome).collect())
    }

    /// Puts a read in this thread's queue, starting the thread's batching task on first use (or
    /// again when the runtime that ran it has gone, as between tests).
    fn enqueue(&self, pending: Pending) {
        BATCHERS.with(|batchers| {
            let mut batchers = batchers.borrow_mut();
            let pending = match batchers.get(&self.id) {
                Some(queue) => match queue.send(pending) {
                    Ok(()) => return,
                    Err(mpsc::error::SendError(pending)) => pending,
                },
                None => pending,
            };
            let (queue, reads) = mpsc::unbounded_channel();
            // The receiver is alive: it is in hand.
            let _ = queue.send(pending);
            tokio::spawn(self.clone().drive(reads));
            batchers.insert(self.id, queue);
        });
    }

    /// The batching task: takes every read waiting (at most [`MAX_BATCH`]), sends them, and only
    /// when their call has returned takes the next ones, so that the reads arriving meanwhile go
    /// together. No timer: a read that finds the task idle is sent at once.
    async fn drive(self, mut reads: mpsc::UnboundedReceiver<Pending>) {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        while reads.recv_many(&mut batch, MAX_BATCH).await > 0 {
            // A caller that has gone (its HTTP request was dropped) needs no read.
            batch.retain(|p| !p.reply.is_closed());
            self.send(&mut batch).await;
        }
    }

    /// Sends `batch` (drained): alone, together, or one call each when the adapter has no
    /// `GetResources`.
    async fn send(&self, batch: &mut Vec<Pending>) {
        match batch.len() {
            0 => {}
            1 => {
                if let Some(p) = batch.pop() {
                    let result = self.get_one(p.request).instrument(p.span).await;
                    let _ = p.reply.send(result);
                }
            }
            _ if !self.batching() => self.each_alone(batch.drain(..)),
            _ => self.send_together(batch).await,
        }
    }

    /// Sends `batch` (drained) as one `GetResources` call and hands each read its own outcome.
    async fn send_together(&self, batch: &mut Vec<Pending>) {
        let (requests, waiters): (Vec<_>, Vec<_>) = batch.drain(..).map(|p| (p.request, (p.span, p.reply))).unzip();
        // The call belongs to the first read's trace (its context goes in the metadata); the
        // others' spans are linked to it.
        let span = match waiters.first() {
            Some((first, _)) => tracing::debug_span!(parent: first, "Directory/GetResources", items = requests.len()),
            None => tracing::debug_span!("Directory/GetResources", items = requests.len()),
        };
        for (other, _) in waiters.iter().skip(1) {
            span.follows_from(other);
        }
        let message = crate::directory::get_resources_request(requests);
        match self.get_message(&message).instrument(span).await {
            Ok(results) => {
                for ((_, reply), result) in waiters.into_iter().zip(results) {
                    let _ = reply.send(result);
                }
            }
            Err(error) if error.kind == service_error::ErrorKind::Unimplemented => {
                tracing::info!("the adapter has no GetResources; reads are sent one by one for a while");
                if let Ok(mut refused) = self.shared.batch_refused.lock() {
                    *refused = Some(Instant::now());
                }
                // Back from the message: each request was made from a valid `GetResource`.
                for (item, (span, reply)) in message.items.into_iter().zip(waiters) {
                    match GetResource::try_from(item) {
                        Ok(request) => self.each_alone(std::iter::once(Pending { request, span, reply })),
                        Err(error) => {
                            let _ = reply.send(Err(error));
                        }
                    }
                }
            }
            Err(error) => {
                for (_, reply) in waiters {
                    let _ = reply.send(Err(error.clone()));
                }
            }
        }
    }

    /// Sends each read in a call of its own, concurrently, as the client did before batching.
    fn each_alone(&self, reads: impl Iterator<Item = Pending>) {
        for p in reads {
            let client = self.clone();
            tokio::spawn(async move {
                let result = client.get_one(p.request).instrument(p.span).await;
                let _ = p.reply.send(result);
            });
        }
    }

    /// Whether to send a batch: not for a while after the adapter refused one.
    fn batching(&self) -> bool {
        self.shared
            .batch_refused
            .lock()
            .map_or(true, |refused| refused.is_none_or(|at| at.elapsed() >= BATCH_RETRY_AFTER))
    }

    /// How this client's (and its clones') reads by id went out so far.
    pub fn read_calls(&self) -> ReadCalls {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        ReadCalls {
            single_calls: load(&self.shared.single_calls),
            batch_calls: load(&self.shared.batch_calls),
            batched_reads: load(&self.shared.batched_reads),
            refused_batches: load(&self.shared.refused_batches),
        }
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
    use proto::common::v1 as common;
    use proto::directory::v1::directory_server::{Directory, DirectoryServer};
    use std::sync::atomic::AtomicU32;

    /// An adapter older than `GetResources`: it answers single reads (a user whose document names
    /// the id asked) and `Unimplemented` to a batch, as tonic does for a method it does not know.
    #[derive(Default, Clone)]
    struct OldAdapter {
        singles: Arc<AtomicU32>,
        batches: Arc<AtomicU32>,
    }

    #[tonic::async_trait]
    impl Directory for OldAdapter {
        async fn get_resource(
            &self,
            request: tonic::Request<pb::GetResourceRequest>,
        ) -> Result<tonic::Response<pb::GetResourceResponse>, tonic::Status> {
            self.singles.fetch_add(1, Ordering::Relaxed);
            let id = request.into_inner().id;
            let json = format!(r#"{{"id":"{id}"}}"#).into_bytes().into();
            let resource =
                common::Resource { resource_type: common::ResourceType::User as i32, id, version: String::new(), json };
            Ok(tonic::Response::new(pb::GetResourceResponse { resource: Some(resource) }))
        }

        async fn get_resources(
            &self,
            _request: tonic::Request<pb::GetResourcesRequest>,
        ) -> Result<tonic::Response<pb::GetResourcesResponse>, tonic::Status> {
            self.batches.fetch_add(1, Ordering::Relaxed);
            Err(tonic::Status::unimplemented(""))
        }

        async fn search_resources(
            &self,
            _request: tonic::Request<pb::SearchResourcesRequest>,
        ) -> Result<tonic::Response<pb::SearchResourcesResponse>, tonic::Status> {
            Err(tonic::Status::unimplemented(""))
        }

        async fn health(
            &self,
            _request: tonic::Request<pb::HealthRequest>,
        ) -> Result<tonic::Response<pb::HealthResponse>, tonic::Status> {
            Ok(tonic::Response::new(pb::HealthResponse { ready: true, instances: vec![] }))
        }
    }

    fn user(id: usize) -> GetResource {
        GetResource {
            connection_id: "okta".into(),
            kind: ResourceKind::User,
            id: id.to_string(),
            projection: crate::Projection::default(),
        }
    }

    /// Reads `count` users at once from tasks of one thread, and the id each one got back.
    async fn read_at_once(client: &DirectoryClient, count: usize) -> Vec<(usize, String)> {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 1..=count {
            let client = client.clone();
            tasks.spawn(async move { (n, client.get(user(n)).await.expect("read").id) });
        }
        tasks.join_all().await
    }

    #[tokio::test(flavor = "current_thread")]
    async fn against_an_adapter_without_get_resources_reads_fall_back_to_single_calls_and_stay_there_a_while() {
        let old = OldAdapter::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let server = tonic::transport::Server::builder().add_service(DirectoryServer::new(old.clone()));
        let serving = tokio::spawn(server.serve_with_incoming(incoming));
        let client =
            DirectoryClient::new(&url, Duration::from_secs(5), Duration::from_secs(30), AdapterAuth::default())
                .unwrap();

        // 32 tasks queue their reads before the batching task first runs: they go as one batch,
        // which the old adapter refuses; each is then answered by a call of its own.
        for (asked, answered) in read_at_once(&client, 32).await {
            assert_eq!(answered, asked.to_string(), "each read gets its own resource");
        }
        assert_eq!(old.batches.load(Ordering::Relaxed), 1, "one batch tried");
        assert_eq!(old.singles.load(Ordering::Relaxed), 32, "then every read alone");
        // A second wave does not try a batch again so soon.
        for (asked, answered) in read_at_once(&client, 32).await {
            assert_eq!(answered, asked.to_string());
        }
        assert_eq!(old.batches.load(Ordering::Relaxed), 1, "no batch while the refusal is recent");
        assert_eq!(old.singles.load(Ordering::Relaxed), 64);
        let calls = client.read_calls();
        assert_eq!((calls.refused_batches, calls.batch_calls, calls.single_calls), (1, 0, 64));
        serving.abort();
    }

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
