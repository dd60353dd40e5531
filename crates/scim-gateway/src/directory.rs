//! Reads through the adapter's `Directory` service: its client (`adapter-api`), guarded by the
//! `adapter` circuit breaker. Callers see the shared domain types ([`Resource`], [`SearchQuery`],
//! [`SearchPage`]) and every failure is a `ServiceError`. Reads by id are coalesced by the client
//! (per worker thread, while a call is in flight: see `adapter_api::client`); each keeps its own
//! breaker permit and outcome here.
//!
//! The breaker counts `Unavailable` and `DeadlineExceeded` outcomes (the adapter down or too
//! slow), and answers `503` with `Retry-After` at once while it is open; any other answer,
//! including a refusal such as `404` and the adapter's own `503` about one Secret Server instance
//! (which says when to retry), shows the adapter is up.

use crate::circuit_breaker::{Admission, CircuitBreaker, Permit};
use adapter_api::{DirectoryClient, GetResource, Projection, Resource, SearchPage, SearchQuery, SearchResources};
use scim::ResourceKind;
use service_error::{ErrorKind, ServiceError};
use std::sync::Arc;
use std::time::Duration;

/// The adapter's readiness as `Health` reports it.
#[derive(Debug, Clone)]
pub struct AdapterHealth {
    pub ready: bool,
    /// Why each instance that is not ready is not.
    pub detail: String,
}

/// The `Directory` client behind the breaker.
#[derive(Debug, Clone)]
pub struct Directory {
    client: DirectoryClient,
    breaker: Arc<CircuitBreaker>,
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
        auth: adapter_api::client::AdapterAuth,
    ) -> Result<Self, ServiceError> {
        Ok(Self { client: DirectoryClient::new(url, connect_timeout, timeout, auth)?, breaker })
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
        let permit = self.admit()?;
        let request = GetResource {
            connection_id: connection.to_owned(),
            kind,
            id: id.to_owned(),
            projection: projection.clone(),
        };
        Self::outcome(permit, self.client.get(request).await)
    }

    /// A filtered, sorted, paged list.
    ///
    /// # Errors
    /// `InvalidArgument` (with `scimType`) for a bad filter, sort or cursor; `Unavailable` when the adapter cannot be reached.
    pub async fn search(&self, connection: &str, query: &SearchQuery) -> Result<SearchPage, ServiceError> {
        let permit = self.admit()?;
        let request = SearchResources { connection_id: connection.to_owned(), query: query.clone() };
        Self::outcome(permit, self.client.search(request).await)
    }

    /// The adapter's readiness (for `/readyz`); not guarded by the breaker, so that it notices recovery.
    ///
    /// # Errors
    /// When the adapter cannot be reached.
    pub async fn health(&self) -> Result<AdapterHealth, ServiceError> {
        let health = self.client.health().await?;
        let detail = health
            .instances
            .iter()
            .filter(|i| !i.ready)
            .map(|i| format!("{}: {}", i.instance, if i.detail.is_empty() { "not ready" } else { &i.detail }))
            .collect::<Vec<_>>()
            .join("; ");
        Ok(AdapterHealth { ready: health.ready, detail })
    }

    /// Each Secret Server instance's readiness and read-model size (for the console's overview);
    /// not guarded by the breaker.
    ///
    /// # Errors
    /// When the adapter cannot be reached.
    pub async fn instances(&self) -> Result<Vec<adapter_api::directory::InstanceHealth>, ServiceError> {
        Ok(self.client.health().await?.instances)
    }

    fn admit(&self) -> Result<Permit<'_>, ServiceError> {
        match self.breaker.admit() {
            Admission::Allowed(permit) => Ok(permit),
            Admission::Rejected { retry_after } => {
                Err(ServiceError::unavailable("the directory is unavailable (circuit breaker open); retry later")
                    .with_retry_after(retry_after))
            }
        }
    }

    fn outcome<T>(permit: Permit<'_>, result: Result<T, ServiceError>) -> Result<T, ServiceError> {
        match result {
            // The adapter's own `503`s always say when to retry (one Secret Server instance still
            // loading or unreachable, a replica not yet caught up, its connection store out of
            // reach): it is up and answering, which is what this breaker is about; an instance's
            // trouble must not open the breaker that every instance's reads go through. A failure
            // to reach the adapter never carries a `Retry-After`.
            Err(error) if error.kind == ErrorKind::Unavailable && error.retry_after.is_some() => {
                permit.succeeded();
                Err(error)
            }
            Err(error) if matches!(error.kind, ErrorKind::Unavailable | ErrorKind::DeadlineExceeded) => {
                permit.failed();
                tracing::warn!(error = %error, "directory call failed");
                let retry = error.retry_after.unwrap_or(1);
                Err(ServiceError::unavailable("the directory is unavailable; retry later").with_retry_after(retry))
            }
            other => {
                permit.succeeded();
                other
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::BreakerSettings;

    fn breaker() -> CircuitBreaker {
        CircuitBreaker::new("adapter", BreakerSettings { failure_threshold: 2, ..BreakerSettings::default() })
    }

    fn admit(breaker: &CircuitBreaker) -> Permit<'_> {
        match breaker.admit() {
            Admission::Allowed(permit) => permit,
            Admission::Rejected { .. } => panic!("the breaker is open"),
        }
    }

    #[test]
    fn an_instance_the_adapter_says_is_not_loaded_does_not_open_the_breaker_every_read_goes_through() {
        let breaker = breaker();
        for _ in 0..5 {
            let answered = ServiceError::unavailable("instance 'b' could not be loaded yet").with_retry_after(5);
            let error = Directory::outcome::<()>(admit(&breaker), Err(answered)).unwrap_err();
            assert!(error.detail.contains("could not be loaded"), "its reason reaches the client: {error}");
        }
        assert!(matches!(breaker.admit(), Admission::Allowed(_)), "still closed");
        for _ in 0..2 {
            let unreachable = ServiceError::unavailable("transport error");
            let _ = Directory::outcome::<()>(admit(&breaker), Err(unreachable));
        }
        assert!(matches!(breaker.admit(), Admission::Rejected { .. }), "an adapter out of reach opens it");
    }
}
