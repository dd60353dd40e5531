//! `/Me` (RFC 7644 §3.11): the callers are services (connections), not
//! people with a user record, so every method answers `501`, as the RFC allows.

use crate::auth::Caller;
use crate::errors::ApiError;
use service_error::ErrorKind;

/// Any method on `/Me`.
///
/// # Errors
/// Always `501`.
pub async fn me(caller: Caller) -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::new(
        ErrorKind::Unimplemented,
        format!("/Me is not supported: connection {} is a service, not a user", caller.connection.id),
    ))
}
