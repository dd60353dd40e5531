//! The adapter, end to end: the emulator, a job queue, a state store and the adapter on port 0,
//! driven through the real gRPC client and real provisioning jobs, with the emulator's state
//! checked through its own REST API.

mod batched_reads;
mod bursts;
mod containers;
mod doctor;
mod groups;
mod grpc_auth;
mod lifecycle;
mod permissions;
mod principals;
mod reads;
mod support;
mod users;
