//! The API's errors, each answered through the connector's one error table: the kind fixes the
//! status and the `error` name of the JSON body `{"error", "detail"}`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use service_error::ErrorKind;

/// Why an API request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("a valid admin bearer token is required")]
    Unauthenticated,
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    /// The cause goes to the log; the client sees only that it failed and the trace id.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    /// The error's class in the one table.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ApiError::Unauthenticated => ErrorKind::Unauthenticated,
            ApiError::InvalidArgument(_) => ErrorKind::InvalidArgument,
            ApiError::NotFound(_) => ErrorKind::NotFound,
            ApiError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(error: crate::store::StoreError) -> Self {
        ApiError::Internal(error.into())
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(error: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {error}"))
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        // Every status in the table is a valid one; 500 only if that ever stopped being true.
        StatusCode::from_u16(self.kind().http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let detail = match self {
            ApiError::Internal(cause) => {
                let trace_id = telemetry::current_trace_id();
                tracing::error!(error = format!("{cause:#}"), "audit API request failed");
                match trace_id {
                    Some(trace_id) => format!("the request failed; trace id {trace_id}"),
                    None => "the request failed".to_owned(),
                }
            }
            other => other.to_string(),
        };
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self, ApiError::Unauthenticated) {
            response.insert_header(("WWW-Authenticate", "Bearer"));
        }
        response.json(serde_json::json!({"error": self.kind().name(), "detail": detail}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_answers_with_its_kinds_status_and_name() {
        let cases = [
            (ApiError::Unauthenticated, 401, "unauthenticated"),
            (ApiError::InvalidArgument("bad".into()), 400, "invalid_argument"),
            (ApiError::NotFound("no record 7".into()), 404, "not_found"),
            (ApiError::Internal(anyhow::anyhow!("disk full")), 500, "internal"),
        ];
        for (error, status, name) in cases {
            assert_eq!((error.status_code().as_u16(), error.kind().name()), (status, name), "{error:?}");
        }
    }
}
