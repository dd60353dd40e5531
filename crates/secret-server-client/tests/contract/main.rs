//! Contract tests: the real client against the emulator (`secret-server-sim`),
//! one module per resource, every client method, asserting the effect; then
//! retries under injected faults, the token's life, and the proof from the
//! emulator's request log that no request read a secret's values.

mod circuit_breaker;
mod faults;
mod folder_permissions;
mod folders;
mod groups;
mod helpers;
mod recorder;
mod roles;
mod scripted;
mod secret_permissions;
mod secret_values;
mod secrets;
mod short_shapes;
mod sign_in;
mod stated_failures;
mod system;
mod telemetry;
mod tls;
mod token;
mod users;
