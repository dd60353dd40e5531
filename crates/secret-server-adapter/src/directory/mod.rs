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

use crate::core::{Caller, Core};
use crate::metrics;
use adapter_api::{GetResource, Health, InstanceHealth, Resource, SearchResources};
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

/// Most reads one `GetResources` call takes (the gateway sends at most
/// [`adapter_api::client::MAX_BATCH`]).
pub const MAX_GET_RESOURCES_ITEMS: usize = 1024;

/// The answer to a read this replica cannot vouch for: it may miss a resource another replica just
/// created, so it never answers `404` then (a client told "not found" may create it again), but a
/// retryable `503`. What it has is served as is.
fn unless_behind(fresh: bool, resource: Result<Resource, ServiceError>) -> Result<Resource, ServiceError> {
    match resource {
        Err(e) if !fresh && e.http_status() == 404 => Err(ServiceError::unavailable(
            "this adapter replica cannot confirm it has seen the latest changes yet; retry the read",
        )
        .with_retry_after(1)),
        other => other,
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

    /// Whether this replica's follower keeps changes of the caller's instance it could not apply
    /// yet (its Secret Server does not answer): its read model may miss another replica's latest.
    fn behind_on(&self, caller: &Caller) -> bool {
        self.core.freshness.as_ref().is_some_and(|f| f.behind_on(&caller.instance.name))
    }

    async fn get_inner(&self, req: pb::GetResourceRequest) -> Result<pb::GetResourceResponse, ServiceError> {
        let req = GetRequest::try_from(GetResource::try_from(req)?)?;
        tracing::Span::current().record("resource_type", req.kind.name());
        let caller = self.core.caller(&req.connection_id).await?;
        let fresh = self.catch_up().await && !self.behind_on(&caller);
        // One resource: rendered here, without a hop to a blocking thread; but a group may have
        // 100,000 members to render.
        let resource = if search::renders_a_large_group(&self.core, &caller, &req) {
            let (core, connection) = (self.core.clone(), caller.connection.id.clone());
            self.core.expensive.run(&connection, move || search::get(&core, &caller, &req)).await
        } else if req.kind == scim::ResourceKind::Group {
            let core = self.core.clone();
            blocking(move || search::get(&core, &caller, &req)).await
        } else {
            search::get(&self.core, &caller, &req)
        };
        let resource = unless_behind(fresh, resource)?;
        Ok(pb::GetResourceResponse { resource: Some(common::Resource::from(resource)) })
    }

    /// `GetResources`: each item answered as `get_inner` would answer it alone (its own caller,
    /// scope and errors), after one catch-up for the whole batch (every item began before it);
    /// the items of one instance under one read lock ([`search::get_many`]). A group is rendered
    /// on a blocking thread, alone, as in `get_inner`.
    async fn get_many_inner(&self, req: pb::GetResourcesRequest) -> Result<pb::GetResourcesResponse, ServiceError> {
        if req.items.len() > MAX_GET_RESOURCES_ITEMS {
            return Err(ServiceError::invalid_argument(format!(
                "GetResources takes at most {MAX_GET_RESOURCES_ITEMS} items; {} were sent",
                req.items.len()
            )));
        }
        let fresh = self.catch_up().await;
        let mut outcomes: Vec<Option<Result<Resource, ServiceError>>> = Vec::with_capacity(req.items.len());
        // Per item: whether its instance has changes the follower keeps for later.
        let mut behind: Vec<bool> = Vec::with_capacity(req.items.len());
        let mut slots = Vec::with_capacity(req.items.len());
        let mut reads: Vec<(Caller, GetRequest)> = Vec::with_capacity(req.items.len());
        // Most batches come from one connection: each caller is resolved once per batch.
        let mut callers: Vec<(String, Result<Caller, ServiceError>)> = Vec::new();
        for item in req.items {
            let request = match GetResource::try_from(item).and_then(GetRequest::try_from) {
                Ok(request) => request,
                Err(e) => {
                    outcomes.push(Some(Err(e)));
                    behind.push(false);
                    continue;
                }
            };
            let caller = match callers.iter().find(|(id, _)| *id == request.connection_id) {
                Some((_, caller)) => caller.clone(),
                None => {
                    let caller = self.core.caller(&request.connection_id).await;
                    callers.push((request.connection_id.clone(), caller.clone()));
                    caller
                }
            };
            behind.push(caller.as_ref().is_ok_and(|caller| self.behind_on(caller)));
            match caller {
                Err(e) => outcomes.push(Some(Err(e))),
                Ok(caller) if search::renders_a_large_group(&self.core, &caller, &request) => {
                    let (core, connection) = (self.core.clone(), caller.connection.id.clone());
                    let resource =
                        self.core.expensive.run(&connection, move || search::get(&core, &caller, &request)).await;
                    outcomes.push(Some(resource));
                }
                Ok(caller) if request.kind == scim::ResourceKind::Group => {
                    let core = self.core.clone();
                    let resource = blocking(move || search::get(&core, &caller, &request)).await;
                    outcomes.push(Some(resource));
                }
                Ok(caller) => {
                    slots.push(outcomes.len());
                    outcomes.push(None);
                    reads.push((caller, request));
                }
            }
        }
        for (slot, resource) in slots.into_iter().zip(search::get_many(&self.core, &reads)) {
            outcomes[slot] = Some(resource);
        }
        let results = outcomes
            .into_iter()
            .zip(behind)
            .map(|(outcome, behind)| {
                let outcome = outcome.unwrap_or_else(|| Err(ServiceError::internal("a read was not answered")));
                adapter_api::directory::get_resource_result(unless_behind(fresh && !behind, outcome))
            })
            .collect();
        Ok(pb::GetResourcesResponse { results })
    }

    async fn search_inner(&self, req: pb::SearchResourcesRequest) -> Result<pb::SearchResourcesResponse, ServiceError> {
        let req = SearchRequest::parse(SearchResources::try_from(req)?, self.limits())?;
        let caller = self.core.caller(&req.connection_id).await?;
        self.catch_up().await;
        let page = match search::placement(&self.core, &caller, &req) {
            // A few candidates from an index: cheaper here than a hop to a blocking thread and back.
            search::Placement::Inline => search::search(&self.core, &self.cursors, &caller, &req)?,
            search::Placement::Blocking => {
                let (core, cursors) = (self.core.clone(), self.cursors.clone());
                blocking(move || search::search(&core, &cursors, &caller, &req)).await?
            }
            // Bounded per connection, on a blocking thread (see `bounds`).
            search::Placement::Expensive => {
                let (core, cursors, connection) =
                    (self.core.clone(), self.cursors.clone(), caller.connection.id.clone());
                self.core.expensive.run(&connection, move || search::search(&core, &cursors, &caller, &req)).await?
            }
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
        Health { ready: self.core.ready(), instances }
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

    async fn get_resources(
        &self,
        request: Request<pb::GetResourcesRequest>,
    ) -> Result<Response<pb::GetResourcesResponse>, Status> {
        let span = tracing::info_span!("Directory/GetResources", items = request.get_ref().items.len());
        telemetry::set_parent_from_metadata(&span, request.metadata());
        let started = Instant::now();
        let result = self.get_many_inner(request.into_inner()).instrument(span).await;
        metrics::directory_request("GetResources", outcome(&result), started.elapsed());
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
