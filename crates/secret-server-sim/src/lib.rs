//! An emulator of the Secret Server REST API v1: the same paths under a
//! configurable base path (`/SecretServer`), the same envelopes, status codes,
//! error bodies and rules, so that `secret-server-client` and the adapter can
//! be tested against something that behaves like Secret Server without one.
//!
//! It serves `<base>/oauth2/token` and `<base>/api/v1/...` (users, groups and
//! membership, folders, folder permissions, secret metadata, secret
//! permissions), keeps its state in fast in-memory indexes persisted to a data
//! directory (snapshot plus journal, surviving `kill -9`), starts from a seed
//! (empty, a demo organisation, a JSON file, or a generated large data set),
//! injects faults switched at run time through `/_sim/faults`, and can model a server of
//! limited capacity (requests beyond N in flight queue, beyond a bound get IIS's `503`; see
//! [`capacity`]).
//!
//! Tests call [`spawn`] with [`SimConfig::for_tests`]; the `scim-connector sim`
//! command builds a [`SimConfig`] from [`Settings`] and calls [`run`], and
//! `scim-connector sim generate` calls [`generate_data_dir`]. The behaviour the
//! reference leaves open, and the choices made, are listed in the crate's
//! `README.md`.

pub mod access;
mod auth;
pub mod capacity;
pub mod config;
mod db;
pub mod error;
pub mod faults;
mod middleware;
mod persist;
mod query;
mod routes;
pub mod seed;
mod startup;
pub mod store;

pub use access::{ApiAccount, DEFAULT_API_ACCOUNT_PERMISSIONS};
pub use capacity::{Capacity, CapacityError, CapacitySettings};
pub use config::{
    HealthCheckCasing, Leniency, PasswordPolicy, PlatformConfig, Seed, Settings, SettingsError, SimConfig,
    TEST_API_PASSWORD, TEST_API_USERNAME,
};
pub use faults::{FaultError, FaultSettings, Faults};
pub use seed::{GenerateSpec, generate_data_dir};
pub use startup::{RunningSim, run, spawn};
pub use store::Counts;
