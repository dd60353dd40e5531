//! TLS of every hop the connector serves or dials itself: the HTTPS listeners (gateway, its
//! metrics listener, the audit API, the adapter's health listener, the emulator), and the gRPC hop
//! from the gateway to the adapter with client certificates.
//!
//! Everything is read from PEM files, and the files are re-read when they change: cert-manager and
//! Kubernetes rotate a mounted secret in place (often by swapping a symlink), so the files are
//! polled by content every few seconds ([`DEFAULT_POLL_INTERVAL`]) rather than watched with
//! inotify, which misses a swapped symlink's target. A change is applied only once every file
//! reads and the key matches the certificate: a half-written rotation keeps the previous
//! certificate until the second file lands. New handshakes use what was read last; connections
//! already open are left alone.
//!
//! Only TLS 1.2 and 1.3 are spoken, with the `ring` provider.

mod client;
mod files;
mod reload;
mod server;

pub use client::{ClientTlsFiles, GrpcClientTls, TlsConnector};
pub use files::TlsError;
pub use server::{GrpcServerTls, MutualTlsFiles, ServerTls, ServerTlsFiles, TlsConnection};

use std::sync::Arc;
use std::time::Duration;

/// How often certificate files are checked for a change.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(2);

/// The protocol versions every endpoint speaks: TLS 1.3 and 1.2, nothing older.
pub const PROTOCOL_VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The crypto provider of every configuration (`ring`, as the rest of the workspace).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

#[cfg(feature = "testing")]
pub mod testing;
