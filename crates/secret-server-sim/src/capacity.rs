//! A capacity model, so that a client's concurrency can be measured against a server of limited
//! capacity as a real Secret Server is: IIS hands a bounded number of requests to the application
//! at once, queues the rest, and answers `503` with an HTML page of its own once its queue is full.
//!
//! With [`CapacitySettings::in_flight`] `N > 0`, at most `N` requests (under the base path; the
//! `/_sim` endpoints are never held) are served at once, each holding its slot for
//! [`CapacitySettings::latency_ms`] plus its own handling; the next ones wait in a queue of at most
//! [`CapacitySettings::queue_length`] requests, in arrival order; beyond that a request is refused
//! at once with `503`, `Content-Type: text/html` and the `Microsoft-HTTPAPI/2.0` server header of
//! HTTP.sys's queue-full page (no `Retry-After`: HTTP.sys sends none). Counters of served, queued
//! and refused requests and the most in flight at once are read at `GET /_sim/capacity`.
//!
//! Off by default (`in_flight: 0`): nothing waits and nothing is counted. Set at start
//! ([`crate::SimConfig::capacity`], the `sim.capacity.*` settings) or at run time (`PUT
//! /_sim/capacity`, [`crate::RunningSim::capacity`]). A change applies to requests that arrive
//! after it; those already admitted finish under the model they were admitted by.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, SERVER};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The capacity model's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct CapacitySettings {
    /// Requests served at once; `0` switches the model off (no bound, nothing counted).
    pub in_flight: usize,
    /// How long each request holds its slot before it is handled, in milliseconds.
    pub latency_ms: u64,
    /// Requests that may wait for a slot; one more is refused with `503`.
    pub queue_length: usize,
}

/// A capacity setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CapacityError {
    pub field: &'static str,
    pub message: String,
}

impl CapacitySettings {
    /// `in_flight` requests at once, `latency_ms` each, and a queue of `queue_length`.
    pub fn new(in_flight: usize, latency_ms: u64, queue_length: usize) -> Self {
        Self { in_flight, latency_ms, queue_length }
    }

    /// Whether the model is on.
    pub fn is_on(&self) -> bool {
        self.in_flight > 0
    }

    /// Checks the ranges: `inFlight` ≤ 100,000, `latencyMs` ≤ 600,000, `queueLength` ≤ 1,000,000.
    ///
    /// # Errors
    /// The first setting out of range.
    pub fn validate(&self) -> Result<(), CapacityError> {
        if self.in_flight > 100_000 {
            return Err(CapacityError { field: "inFlight", message: "must be at most 100000".to_owned() });
        }
        if self.latency_ms > 600_000 {
            return Err(CapacityError { field: "latencyMs", message: "must be at most 600000".to_owned() });
        }
        if self.queue_length > 1_000_000 {
            return Err(CapacityError { field: "queueLength", message: "must be at most 1000000".to_owned() });
        }
        Ok(())
    }
}

/// The counters since the model was last set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityCounters {
    /// Requests admitted to a slot and handled.
    pub served: u64,
    /// Requests that had to wait for a slot (each also counts as served once handled).
    pub queued: u64,
    /// Requests refused with `503` because the queue was full.
    pub refused: u64,
    /// The most requests in flight at once.
    pub max_in_flight: usize,
    /// Requests in flight now.
    pub in_flight: usize,
    /// Requests waiting now.
    pub waiting: usize,
}

/// What `GET /_sim/capacity` answers: the settings and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CapacityReport {
    #[serde(flatten)]
    pub settings: CapacitySettings,
    pub counters: CapacityCounters,
}

/// One setting of the model, with its slots and counters: replaced whole when the settings change.
#[derive(Debug, Default)]
struct Gate {
    settings: CapacitySettings,
    slots: Option<Arc<Semaphore>>,
    served: AtomicU64,
    queued: AtomicU64,
    refused: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    waiting: AtomicUsize,
    /// Requests in flight or waiting (from arrival until the answer is ready).
    inside: AtomicUsize,
}

impl Gate {
    fn new(settings: CapacitySettings) -> Self {
        Self {
            settings,
            slots: settings.is_on().then(|| Arc::new(Semaphore::new(settings.in_flight))),
            ..Self::default()
        }
    }

    fn counters(&self) -> CapacityCounters {
        CapacityCounters {
            served: self.served.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
            max_in_flight: self.max_in_flight.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

/// The live capacity model, shared by the middleware, the admin endpoint and tests.
#[derive(Debug, Default)]
pub struct Capacity {
    gate: RwLock<Arc<Gate>>,
}

/// Whether a request may go on: with the slot it holds (`None` when the model is off).
enum Admission {
    Admitted { slot: Option<tokio::sync::OwnedSemaphorePermit>, latency: Duration },
    Refused,
}

impl Capacity {
    /// A model with these settings.
    ///
    /// # Errors
    /// A setting out of range.
    pub fn new(settings: CapacitySettings) -> Result<Self, CapacityError> {
        settings.validate()?;
        Ok(Self { gate: RwLock::new(Arc::new(Gate::new(settings))) })
    }

    /// The current settings.
    pub fn get(&self) -> CapacitySettings {
        self.gate.read().settings
    }

    /// The settings and the counters since they were set.
    pub fn report(&self) -> CapacityReport {
        let gate = self.gate.read().clone();
        CapacityReport { settings: gate.settings, counters: gate.counters() }
    }

    /// Replaces the settings and starts the counters again.
    ///
    /// # Errors
    /// A setting out of range (nothing changes then).
    pub fn set(&self, settings: CapacitySettings) -> Result<(), CapacityError> {
        settings.validate()?;
        *self.gate.write() = Arc::new(Gate::new(settings));
        Ok(())
    }

    /// Waits for a slot (cancellation-safe: a request dropped while waiting leaves the queue).
    ///
    /// A request counts as inside from its arrival until its answer is ready, so that at most
    /// `in_flight + queue_length` are ever inside: one more is refused.
    async fn admit(&self) -> (Arc<Gate>, Admission) {
        let gate = self.gate.read().clone();
        let Some(slots) = gate.slots.clone() else {
            return (gate, Admission::Admitted { slot: None, latency: Duration::ZERO });
        };
        let latency = Duration::from_millis(gate.settings.latency_ms);
        if gate.inside.fetch_add(1, Ordering::AcqRel) >= gate.settings.in_flight + gate.settings.queue_length {
            gate.inside.fetch_sub(1, Ordering::AcqRel);
            gate.refused.fetch_add(1, Ordering::Relaxed);
            return (gate, Admission::Refused);
        }
        // Leaves `inside` if the request is dropped before it holds a slot.
        let mut arrival = Arrival { gate: &gate, admitted: false };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                gate.queued.fetch_add(1, Ordering::Relaxed);
                let waiting = Waiting(&gate.waiting);
                waiting.0.fetch_add(1, Ordering::AcqRel);
                let slot = slots.acquire_owned().await;
                drop(waiting);
                match slot {
                    Ok(slot) => slot,
                    // The semaphore is never closed; were it, the request is served unbounded.
                    Err(_) => return (gate.clone(), Admission::Admitted { slot: None, latency }),
                }
            }
        };
        arrival.admitted = true;
        drop(arrival);
        let now = gate.in_flight.fetch_add(1, Ordering::AcqRel) + 1;
        gate.max_in_flight.fetch_max(now, Ordering::AcqRel);
        (gate.clone(), Admission::Admitted { slot: Some(slot), latency })
    }
}

/// A request between its arrival and its slot: leaves `inside` if dropped before it has one.
struct Arrival<'a> {
    gate: &'a Gate,
    admitted: bool,
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if !self.admitted {
            self.gate.inside.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Leaves the queue's count when the waiting request is admitted or dropped.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Holds a slot until the answer is ready (or the request is dropped).
struct InFlight {
    gate: Arc<Gate>,
    slot: Option<tokio::sync::OwnedSemaphorePermit>,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.slot.is_some() {
            self.gate.in_flight.fetch_sub(1, Ordering::AcqRel);
            self.gate.inside.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// HTTP.sys's page when its queue for the application pool is full (`503`, `text/html`).
const QUEUE_FULL_HTML: &str = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\"\"http://www.w3.org/TR/html4/strict.dtd\">\r\n\
<HTML><HEAD><TITLE>Service Unavailable</TITLE>\r\n\
<META HTTP-EQUIV=\"Content-Type\" Content=\"text/html; charset=us-ascii\"></HEAD>\r\n\
<BODY><h2>Service Unavailable</h2>\r\n<hr><p>HTTP Error 503. The service is unavailable.</p>\r\n</BODY></HTML>\r\n";

/// The middleware. Requests under `/_sim` (the admin endpoints) pass untouched.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn admit<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let capacity = req.app_data::<web::Data<Capacity>>().cloned();
    let Some(capacity) = capacity.filter(|_| !req.path().starts_with("/_sim")) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let (gate, admission) = capacity.admit().await;
    match admission {
        Admission::Refused => {
            tracing::debug!(path = req.path(), "capacity: queue full, refused");
            let response = HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
                .insert_header((CONTENT_TYPE, "text/html; charset=us-ascii"))
                .insert_header((SERVER, "Microsoft-HTTPAPI/2.0"))
                .body(QUEUE_FULL_HTML);
            Ok(req.into_response(response))
        }
        Admission::Admitted { slot, latency } => {
            let counted = slot.is_some();
            let _held = InFlight { gate: gate.clone(), slot };
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let response = next.call(req).await.map(ServiceResponse::map_into_boxed_body);
            if counted {
                gate.served.fetch_add(1, Ordering::Relaxed);
            }
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default_and_out_of_range_settings_are_refused() {
        let capacity = Capacity::default();
        assert!(!capacity.get().is_on());
        assert!(capacity.set(CapacitySettings::new(0, 700_000, 0)).is_err());
        assert_eq!(capacity.get(), CapacitySettings::default(), "a refused setting changes nothing");
    }

    #[tokio::test]
    async fn beyond_the_slots_requests_wait_and_beyond_the_queue_they_are_refused() {
        let capacity = Capacity::new(CapacitySettings::new(2, 0, 1)).unwrap();
        let (_, first) = capacity.admit().await;
        let (_, second) = capacity.admit().await;
        assert!(matches!(first, Admission::Admitted { slot: Some(_), .. }));
        assert!(matches!(second, Admission::Admitted { slot: Some(_), .. }));
        let mut third = Box::pin(capacity.admit());
        assert!(futures_poll_once(third.as_mut()).is_none(), "the third waits");
        assert_eq!(capacity.report().counters.waiting, 1);
        let (_, fourth) = capacity.admit().await;
        assert!(matches!(fourth, Admission::Refused), "the queue of one is full");
        drop(first);
        let (_, third) = third.await;
        assert!(matches!(third, Admission::Admitted { slot: Some(_), .. }));
        let counters = capacity.report().counters;
        assert_eq!((counters.queued, counters.refused, counters.waiting), (1, 1, 0));
    }

    #[tokio::test]
    async fn a_request_dropped_while_waiting_leaves_the_queue() {
        let capacity = Capacity::new(CapacitySettings::new(1, 0, 1)).unwrap();
        let (_, _held) = capacity.admit().await;
        let mut waiting = Box::pin(capacity.admit());
        assert!(futures_poll_once(waiting.as_mut()).is_none());
        drop(waiting);
        assert_eq!(capacity.report().counters.waiting, 0);
        let mut next = Box::pin(capacity.admit());
        assert!(futures_poll_once(next.as_mut()).is_none(), "the freed queue place is taken again, not refused");
    }

    /// Polls a future once with a no-op waker: `Some` when it is ready.
    fn futures_poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> Option<F::Output> {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.poll(&mut cx) {
            std::task::Poll::Ready(out) => Some(out),
            std::task::Poll::Pending => None,
        }
    }
}
