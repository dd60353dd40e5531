//! `GET <base>/api/v1/healthcheck` (no bearer token needed).

use serde::{Deserialize, Serialize};

/// The health probe's answer. Clients also use it to tell Secret Server from
/// the Delinea Platform.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheck {
    pub healthy: bool,
    pub database_healthy: bool,
    pub service_bus_healthy: bool,
    pub storage_account_healthy: bool,
    pub scheduled_for_deletion: bool,
}
