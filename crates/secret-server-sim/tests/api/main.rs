//! The emulator over HTTP: every endpoint, every rule, paging, persistence
//! across restarts and crashes, and fault injection. Each test spawns its own
//! emulator on port 0.

mod helpers;
mod token;
mod users;
