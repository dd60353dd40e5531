//! The emulator over HTTP: every endpoint, every rule, paging, persistence
//! across restarts and crashes, and fault injection. Each test spawns its own
//! emulator on port 0.

mod admin;
mod folders;
mod groups;
mod helpers;
mod paging;
mod permissions;
mod persistence;
mod roles;
mod routing;
mod secrets;
mod sign_in;
mod strictness;
mod token;
mod user_sign_in;
mod users;
