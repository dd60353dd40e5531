//! The adapter's edge with Secret Server's errors: the one place where what the client reports
//! ([`ClientError`], which knows Secret Server only) becomes the connector's [`ServiceError`].
//!
//! | `ClientError` | `ServiceError` |
//! |---|---|
//! | `BadRequest` | `InvalidArgument` whose detail is the `modelState` reasons, else `message` |
//! | `NotFound` | `NotFound`, Secret Server's `message` |
//! | `RateLimited` | `ResourceExhausted` with `Retry-After` rounded up to whole seconds |
//! | `Server` | `Unavailable` with `Retry-After` rounded up to whole seconds |
//! | `Timeout`, `Connect`, `Transport`, `HtmlResponse`, `PageFailed` of severity `Retry` | `Unavailable` |
//! | `CircuitOpen` | `Unavailable` with the cooldown left as `Retry-After` (whole seconds, rounded up) |
//! | `AuthenticationFailed`, `Forbidden` | `Unavailable` (cause logged) |
//! | `UnexpectedStatus` 409 | `AlreadyExists`, `uniqueness` |
//! | `Decode`, other `UnexpectedStatus`, `NotApplied`, other `PageFailed`, `Config` | `Internal` (cause logged) |
//!
//! Failures of the connector's own account (refused credentials, permission denied) are
//! `Unavailable`: they are not the SCIM client's fault, so the SCIM client gets a short detail and
//! the cause goes to the log here.
//!
//! No error code or message decides that something already exists: Secret Server's codes for that
//! are not documented. A create that fails is followed by a read of Secret Server's state (see
//! `worker::Ctx::create_once`), which answers `409 uniqueness` when the name is taken. Transient failures were already logged with their cause by the
//! client's retry loop, so they are not logged again.

use secret_server_client::ClientError;
use service_error::{ErrorKind, ServiceError};
use std::time::Duration;

/// The connector's error for what Secret Server (or the way to it) answered.
pub fn service_error(e: ClientError) -> ServiceError {
    let reason = e.reason();
    let retry_after = e.retry_after();
    let with_retry_after = |error: ServiceError| match retry_after {
        Some(d) => error.with_retry_after(ceil_seconds(d)),
        None => error,
    };
    match e {
        ClientError::NotFound { message } => ServiceError::not_found(message),
        // The SCIM client learns why (a password that breaks the policy, an invalid e-mail),
        // not just "The request is invalid.".
        ClientError::BadRequest { .. } => ServiceError::invalid_argument(reason),
        ClientError::RateLimited { .. } => {
            with_retry_after(ServiceError::new(ErrorKind::ResourceExhausted, "Secret Server is rate limiting requests"))
        }
        ClientError::Server { .. } => with_retry_after(ServiceError::unavailable("Secret Server is unavailable")),
        ClientError::Timeout { .. }
        | ClientError::Connect { .. }
        | ClientError::Transport { .. }
        | ClientError::HtmlResponse { .. } => ServiceError::unavailable("Secret Server is unavailable"),
        ClientError::PageFailed { ref severity } if severity == "Retry" => {
            ServiceError::unavailable("Secret Server asked for a search to be retried")
        }
        // Nothing was sent: every place among the calls in flight stayed taken.
        ClientError::Busy { .. } => ServiceError::unavailable("Secret Server is busy"),
        // Nothing was sent: calls in a row got no answer, and the client's circuit breaker fails
        // calls at once until one is answered (logged by the client when it opened).
        ClientError::CircuitOpen { .. } => {
            with_retry_after(ServiceError::unavailable("Secret Server is not answering"))
        }
        // Nothing was sent: the job's attempt lost its lease while waiting; another runs it.
        ClientError::Fenced => ServiceError::unavailable("this attempt lost the job's lease"),
        ClientError::AuthenticationFailed { .. } | ClientError::Forbidden { .. } => {
            tracing::error!(error = %e, "the connector's Secret Server account was refused");
            ServiceError::unavailable("the connector's Secret Server account was refused")
        }
        ClientError::UnexpectedStatus { status: 409, message } => {
            ServiceError::new(ErrorKind::AlreadyExists, message).with_scim_type(scim::ScimType::Uniqueness)
        }
        ClientError::Decode { .. }
        | ClientError::UnexpectedStatus { .. }
        | ClientError::NotApplied { .. }
        | ClientError::PageFailed { .. }
        | ClientError::Config(_) => {
            tracing::error!(error = %e, "unexpected Secret Server client failure");
            ServiceError::internal("unexpected answer from Secret Server")
        }
    }
}

/// `Retry-After` is whole seconds: a delay is rounded up so that a retry never comes early.
fn ceil_seconds(d: Duration) -> u32 {
    u32::try_from(d.as_secs() + u64::from(d.subsec_nanos() > 0)).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scim::ScimType;

    fn bad_request(code: Option<&str>, message: &str) -> ClientError {
        ClientError::BadRequest { error_code: code.map(str::to_owned), message: message.to_owned(), model_state: None }
    }

    #[test]
    fn not_found_maps_to_not_found_with_secret_servers_message() {
        let e = service_error(ClientError::NotFound { message: "User not found.".into() });
        assert_eq!((e.kind, e.detail.as_str()), (ErrorKind::NotFound, "User not found."));
    }

    #[test]
    fn every_bad_request_is_invalid_argument_whatever_its_code_says() {
        for (code, message) in [
            (None, "A user with the name \"bjensen\" already exists."),
            (Some("API_DuplicateGroupName"), "Group name taken"),
            (Some("API_PermissionsAreInherited"), "inherited"),
        ] {
            let e = service_error(bad_request(code, message));
            assert_eq!((e.kind, e.scim_type, e.detail.as_str()), (ErrorKind::InvalidArgument, None, message));
        }
    }

    #[test]
    fn a_refused_password_maps_to_invalid_argument_saying_why() {
        let e = ClientError::BadRequest {
            error_code: Some("API_ValidationFailed".into()),
            message: "The request is invalid.".into(),
            model_state: Some(serde_json::json!({"password": [
                "The password must be at least 8 characters long.",
                "The password must contain at least 3 of these kinds of character: an upper-case letter, a lower-case letter, a digit, a symbol."
            ]})),
        };
        let s = service_error(e);
        assert_eq!(s.kind, ErrorKind::InvalidArgument);
        assert!(
            s.detail.starts_with("The password must be at least 8 characters long. The password must contain"),
            "{}",
            s.detail
        );
        assert!(!s.detail.contains("The request is invalid."), "{}", s.detail);
    }

    #[test]
    fn rate_limiting_maps_to_resource_exhausted_with_whole_seconds() {
        let e = service_error(ClientError::RateLimited { retry_after: Some(Duration::from_millis(1500)) });
        assert_eq!((e.kind, e.retry_after), (ErrorKind::ResourceExhausted, Some(2)));
        assert_eq!(e.detail, "Secret Server is rate limiting requests");
        let e = service_error(ClientError::RateLimited { retry_after: None });
        assert_eq!((e.kind, e.retry_after), (ErrorKind::ResourceExhausted, None));
    }

    #[test]
    fn a_server_error_carries_its_retry_after() {
        let e = service_error(ClientError::Server {
            status: 503,
            message: "Service Unavailable".into(),
            retry_after: Some(Duration::from_secs(30)),
        });
        assert_eq!(
            (e.kind, e.retry_after, e.detail.as_str()),
            (ErrorKind::Unavailable, Some(30), "Secret Server is unavailable")
        );
    }

    #[test]
    fn a_call_refused_by_the_open_circuit_is_unavailable_until_the_cooldown_ends() {
        let e = service_error(ClientError::CircuitOpen {
            retry_after: Duration::from_millis(8200),
            cause: "Secret Server did not answer within 30000 ms".into(),
        });
        assert_eq!(
            (e.kind, e.retry_after, e.detail.as_str()),
            (ErrorKind::Unavailable, Some(9), "Secret Server is not answering")
        );
    }

    #[test]
    fn outages_and_refused_accounts_are_unavailable_with_short_details() {
        for e in [
            ClientError::Server { status: 500, message: "NullReferenceException at ...".into(), retry_after: None },
            ClientError::Timeout { timeout: Duration::from_secs(30) },
            ClientError::Connect { message: "connection refused".into() },
            ClientError::Transport { message: "reset".into() },
            ClientError::HtmlResponse { status: 200 },
            ClientError::AuthenticationFailed { message: "Login failed.".into() },
            ClientError::Forbidden { message: "Access Denied".into() },
        ] {
            let s = service_error(e);
            assert_eq!(s.kind, ErrorKind::Unavailable);
            assert!(!s.detail.contains("Exception") && !s.detail.contains("Login failed"), "{}", s.detail);
        }
    }

    #[test]
    fn a_409_is_a_conflict_and_other_surprises_are_internal_without_their_cause() {
        let conflict = service_error(ClientError::UnexpectedStatus { status: 409, message: "Conflict".into() });
        assert_eq!((conflict.kind, conflict.scim_type), (ErrorKind::AlreadyExists, Some(ScimType::Uniqueness)));
        for e in [
            ClientError::UnexpectedStatus { status: 405, message: "Method Not Allowed".into() },
            ClientError::Decode { message: "missing field `id`".into() },
            ClientError::Config("base_url".into()),
        ] {
            let s = service_error(e);
            assert_eq!((s.kind, s.detail.as_str()), (ErrorKind::Internal, "unexpected answer from Secret Server"));
        }
    }
}
