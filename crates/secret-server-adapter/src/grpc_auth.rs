//! Who may call the gRPC `Directory` service: the gateway, proven by the shared secret in every
//! call's metadata (unless the listener verifies client certificates instead, see
//! [`crate::AdapterSettings::grpc_client_ca`]). A call without it is `Unauthenticated` before any
//! of its fields (`connection_id` among them) is read.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The metadata key of the shared secret, as `Bearer <secret>`.
pub const METADATA_KEY: &str = "authorization";

/// Checks the shared secret of every call.
#[derive(Clone)]
pub struct RequireSecret {
    /// The expected `Bearer <secret>`, hashed: compared in constant time whatever the length presented.
    expected: Option<[u8; 32]>,
}

impl std::fmt::Debug for RequireSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireSecret").field("required", &self.expected.is_some()).finish()
    }
}

fn digest(value: &[u8]) -> [u8; 32] {
    Sha256::digest(value).into()
}

impl RequireSecret {
    /// Requires `secret` in every call; `None` lets every call through (the listener then
    /// verifies client certificates).
    pub fn new(secret: Option<&SecretString>) -> Self {
        Self { expected: secret.map(|s| digest(format!("Bearer {}", s.expose_secret()).as_bytes())) }
    }
}

impl tonic::service::Interceptor for RequireSecret {
    fn call(&mut self, request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        let Some(expected) = &self.expected else { return Ok(request) };
        let presented = request.metadata().get(METADATA_KEY).map(|v| digest(v.as_bytes()));
        match presented {
            Some(presented) if bool::from(presented.ct_eq(expected)) => Ok(request),
            _ => Err(tonic::Status::unauthenticated("the adapter accepts calls from the gateway only")),
        }
    }
}

/// The caller's side, for tools and tests that use the generated client directly (the gateway
/// uses `adapter_api::DirectoryClient`): adds the shared secret to every call.
#[derive(Clone)]
pub struct PresentSecret {
    value: Option<tonic::metadata::AsciiMetadataValue>,
}

impl std::fmt::Debug for PresentSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PresentSecret").field("present", &self.value.is_some()).finish()
    }
}

impl PresentSecret {
    /// Presents `secret` (nothing for `None`).
    pub fn new(secret: Option<&SecretString>) -> Self {
        Self { value: secret.and_then(|s| format!("Bearer {}", s.expose_secret()).parse().ok()) }
    }
}

impl tonic::service::Interceptor for PresentSecret {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.value {
            request.metadata_mut().insert(METADATA_KEY, value.clone());
        }
        Ok(request)
    }
}
