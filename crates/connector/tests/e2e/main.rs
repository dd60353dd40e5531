//! End-to-end tests: the whole connector in process (emulator, adapter, gateway, audit), driven over
//! HTTP as a SCIM client would, and checked through Secret Server's own REST API and the audit API.

mod audit_verify;
mod configuration;
mod every_operation;
mod file_connections;
mod helpers;
mod https;
mod real_clients;
mod shutdown;
mod walking_skeleton;
