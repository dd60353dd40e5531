//! The query API: `GET /audit/v1/records` (filtered, paged), `GET /audit/v1/records/{seq}`,
//! `GET /audit/v1/export` (JSON Lines), `GET /audit/v1/verify`, plus `/healthz`, `/readyz` and
//! `/metrics`. Every `/audit/v1` route requires an admin bearer token.

mod auth;
mod error;
mod records;

pub use auth::AdminTokens;
pub use error::ApiError;

use crate::store::AuditStore;
use actix_web::web;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use telemetry::actix::Readiness;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub store: Arc<AuditStore>,
    pub tokens: Arc<AdminTokens>,
    /// Set while the consumer is subscribed and its last step succeeded.
    pub consumer_alive: Arc<AtomicBool>,
    /// The file the chain's heads are exported to, which `verify` checks.
    pub heads: std::path::PathBuf,
    /// What retention allows to be pruned, which `verify` holds pruned heads to.
    pub pruning: crate::Pruning,
}

/// Registers every route of the service.
pub fn configure(state: ApiState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg: &mut web::ServiceConfig| {
        let readiness_state = state.clone();
        cfg.app_data(web::Data::new(state))
            .configure(telemetry::actix::health_endpoints(move || {
                let state = readiness_state.clone();
                async move {
                    let store = state.store.clone();
                    let ping = web::block(move || store.ping()).await;
                    let store_check = match ping {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(error)) => Err(error.to_string()),
                        Err(error) => Err(error.to_string()),
                    };
                    let consumer_check = if state.consumer_alive.load(Ordering::SeqCst) {
                        Ok(())
                    } else {
                        Err("not subscribed to the events stream, or its last step failed".to_owned())
                    };
                    Readiness::new().check("store", store_check).check("consumer", consumer_check)
                }
            }))
            .service(
                web::scope("/audit/v1")
                    .route("/records", web::get().to(records::list))
                    .route("/records/{seq}", web::get().to(records::one))
                    .route("/export", web::get().to(records::export))
                    .route("/verify", web::get().to(records::verify)),
            );
    }
}
