//! `GET <base>/api/v1/healthcheck` (no bearer token needed).

use serde::{Deserialize, Serialize};

/// The health probe's answer. Clients also use it to tell Secret Server from the Delinea Platform.
///
/// The published document writes the properties in camelCase (`healthy`), Delinea's Python SDK
/// reads `Healthy`; which casing a vault sends is not settled, so both are read. The document
/// marks every property but `healthy` nullable: `None` is "not reported", not "unhealthy".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HealthCheck {
    #[serde(alias = "Healthy")]
    pub healthy: bool,
    #[serde(alias = "DatabaseHealthy", skip_serializing_if = "Option::is_none")]
    pub database_healthy: Option<bool>,
    #[serde(alias = "ServiceBusHealthy", skip_serializing_if = "Option::is_none")]
    pub service_bus_healthy: Option<bool>,
    #[serde(alias = "StorageAccountHealthy", skip_serializing_if = "Option::is_none")]
    pub storage_account_healthy: Option<bool>,
    #[serde(alias = "ScheduledForDeletion", skip_serializing_if = "Option::is_none")]
    pub scheduled_for_deletion: Option<bool>,
    #[serde(alias = "ReadOnlyMode")]
    pub read_only_mode: bool,
}
