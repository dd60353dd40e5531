//! The gRPC `Directory` service: the gateway's reads, answered from the read model.
//!
//! Each call is converted into a domain request at the boundary (the shared model of
//! `adapter-api`, then parsed with the `scim` crate), and its answer back from one. A get, and a
//! search the indexes narrow to a few candidates, run in place; any other search runs on a
//! blocking thread (a filter that needs evaluation over 100,000 users is CPU work and must not
//! stall the runtime's workers), in one of its connection's few slots for such work
//! ([`crate::bounds`]: beyond them, `429`), so that one connection cannot starve the others. Every call turns its `ServiceError` into a `tonic::Status` carrying the protobuf `Error`,
//! so that the `scimType` survives the hop. The span of each call is parented to the trace
//! context in the request's metadata.

pub mod request;
pub mod search;

use crate::core::Core;
use crate::metrics;
use adapter_api::{GetResource, Health, InstanceHealth, SearchResources};
use proto::common::v1 as common;
use proto::directory::v1 as pb;
use proto::directory::v1::directory_server::Directory;
use request::{GetRequest, SearchRequest};
use scim::paging::{CursorCodec, PagingLimits};
use service_error::ServiceError;
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};
use tracing::Instrument;

/// The service.
#[derive(Debug, Clone)]
pub struct DirectoryService {
    core: Arc<Core>,
    cursors: Arc<CursorCodec>,
}

impl DirectoryService {
    /// The service over `core`, sealing cursors with `cursors`.
    pub fn new(core: Arc<Core>, cursors: CursorCodec) -> Self {
        Self { core, cursors: Arc::new(cursors) }
    }

    fn limits(&self) -> PagingLimits {
        PagingLimits {
            default_count: self.core.settings.default_page_size as usize,
            max_count: self.core.settings.max_page_size as usize,
        }
    }
}

fn outcome<T>(result: &Result<T, ServiceError>) -> &'static str {
    match result {
        Ok(_) => "ok",
        Err(e) if e.kind.is_transient() => "unavailable",
        Err(e) if e.http_status() >= 500 => "error",
        Err(_) => "refused",
    }
}

/// Runs CPU-bound read work off the runtime's worker threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ServiceError> + Send + 'static,
) -> Result<T, ServiceError> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(f)).await.unwrap_or_else(|e| {
        tracing::error!(error = %e, "a read task failed");
        Err(ServiceError::internal("the read failed"))
    })
}

impl DirectoryService {
    /// With several replicas: waits until this one has seen the changes the others made before
    /// the read began (see [`crate::replication`]); false when it cannot tell (Redis does not
    /// answer) or its follower stays behind.
    async fn catch_up(&self) -> bool {
        if let Some(freshness) = &self.core.freshness
            && !freshness.catch_up(self.core.events.as_ref()).await
        {
            crate::metrics::read_behind();
            return false;
        }
        true
    }

    async fn get_inner(&self, req: pb::GetResourceRequest) -> Result<pb::GetResourceResponse, ServiceError> {
        let req = GetRequest::try_from(GetResource::try_from(req)?)?;
        tracing::Span::current().record("resource_type", req.kind.name());
        let caller = self.core.caller(&req.connection_id).await?;
        let fresh = self.catch_up().await;
        // One resource: rendered here, without a hop to a blocking thread; but a group may have
        // 100,000 members to render.
        let resource = if req.kind == scim::ResourceKind::Group {
            let core = self.core.clone();
            blocking(move || search::get(&core, &caller, &req)).await
        } else {
            search::get(&self.core, &caller, &req)
        };
        // A replica that cannot vouch for its read model may miss a resource another replica just
        // created: it never answers `404` then (a client told "not found" may create it again),
        // but a retryable `503`. What it has is served as is.
        let resource = match resource {
            Err(e) if !fresh && e.http_status() == 404 => {
                return Err(ServiceError::unavailable(
                    "this adapter replica cannot confirm it has seen the latest changes yet; retry the read",
                )
                .with_retry_after(1));
            }
            other => other?,
        };
        Ok(pb::GetResourceResponse { resource: Some(common::Resource::from(resource)) })
    }

    async fn search_inner(&self, req: pb::SearchResourcesRequest) -> Result<pb::SearchResourcesResponse, ServiceError> {
        let req = SearchRequest::parse(SearchResources::try_from(req)?, self.limits())?;
        let caller = self.core.caller(&req.connection_id).await?;
        self.catch_up().await;
        let page = if search::served_by_index(&self.core, &req) {
            // A few candidates from an index: cheaper here than a hop to a blocking thread and back.
            search::search(&self.core, &self.cursors, &caller, &req)?
        } else {
            // Bounded per connection, on a blocking thread (see `bounds`).
            let (core, cursors, connection) = (self.core.clone(), self.cursors.clone(), caller.connection.id.clone());
            self.core.expensive.run(&connection, move || search::search(&core, &cursors, &caller, &req)).await?
        };
        tracing::Span::current().record("total", page.total_results).record("returned", page.resources.len());
        Ok(page.into())
    }

    fn health_inner(&self) -> Health {
        let mut instances: Vec<InstanceHealth> = self
            .core
            .instances
            .values()
            .map(|i| {
                let loaded = i.is_loaded();
                let error = i.last_error();
                InstanceHealth {
                    instance: i.name.clone(),
                    ready: loaded,
                    loaded,
                    detail: error.unwrap_or_else(|| if loaded { "loaded".to_owned() } else { "loading".to_owned() }),
                    records: i.record_count(),
                }
            })
            .collect();
        instances.sort_by(|a, b| a.instance.cmp(&b.instance));
        Health { ready: instances.iter().all(|i| i.ready), instances }
    }
}

#[tonic::async_trait]
impl Directory for DirectoryService {
    async fn get_resource(
        &self,
        request: Request<pb::GetResourceRequest>,
    ) -> Result<Response<pb::GetResourceResponse>, Status> {
        let span = tracing::info_span!("Directory/GetResource", resource_type = tracing::field::Empty);
        telemetry::set_parent_from_metadata(&span, request.metadata());
        let started = Instant::now();
        let result = self.get_inner(request.into_inner()).instrument(span).await;
        metrics::directory_request("GetResource", outcome(&result), started.elapsed());
        result.map(Response::new).map_err(Status::from)
    }

    async fn search_resources(
        &self,
        request: Request<pb::SearchResourcesRequest>,
    ) -> Result<Response<pb::SearchResourcesResponse>, Status> {
        let span = tracing::info_span!(
            "Directory/SearchResources",
            total = tracing::field::Empty,
            returned = tracing::field::Empty
        );
        telemetry::set_parent_from_metadata(&span, request.metadata());
        let started = Instant::now();
        let result = self.search_inner(request.into_inner()).instrument(span).await;
        metrics::directory_request("SearchResources", outcome(&result), started.elapsed());
        result.map(Response::new).map_err(Status::from)
    }

    async fn health(&self, _request: Request<pb::HealthRequest>) -> Result<Response<pb::HealthResponse>, Status> {
        Ok(Response::new(self.health_inner().into()))
    }
}
