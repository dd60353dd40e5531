//! The one error table of the connector.
//!
//! Every error that crosses a service boundary is a [`ServiceError`]: an
//! [`ErrorKind`] (which fixes the HTTP status and the gRPC code, both from the
//! table below), an optional SCIM `scimType`, and a detail safe to show to the
//! client. The gateway renders it as an RFC 7644 error body; the adapter sends
//! it as a `tonic::Status` whose details carry the protobuf `Error`, so that
//! the `scimType` survives the gRPC hop; jobs carry it in their result.
//!
//! | kind               | HTTP | gRPC               |
//! |--------------------|------|--------------------|
//! | InvalidArgument    | 400  | InvalidArgument    |
//! | Unauthenticated    | 401  | Unauthenticated    |
//! | PermissionDenied   | 403  | PermissionDenied   |
//! | NotFound           | 404  | NotFound           |
//! | AlreadyExists      | 409  | AlreadyExists      |
//! | FailedPrecondition | 412  | FailedPrecondition |
//! | PayloadTooLarge    | 413  | OutOfRange         |
//! | ResourceExhausted  | 429  | ResourceExhausted  |
//! | Unimplemented      | 501  | Unimplemented      |
//! | Unavailable        | 503  | Unavailable        |
//! | DeadlineExceeded   | 504  | DeadlineExceeded   |
//! | Internal           | 500  | Internal           |

use prost::Message;
use proto::common::v1 as pb;
use scim::{ScimError, ScimType};
use std::fmt;
use tonic::Code;

/// An error class, from the one table shared by HTTP and gRPC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    InvalidArgument,
    Unauthenticated,
    PermissionDenied,
    NotFound,
    AlreadyExists,
    FailedPrecondition,
    PayloadTooLarge,
    ResourceExhausted,
    Unimplemented,
    Unavailable,
    DeadlineExceeded,
    Internal,
}

/// The table itself: (kind, HTTP status, gRPC code, protobuf kind).
const TABLE: [(ErrorKind, u16, Code, pb::ErrorKind); 12] = [
    (ErrorKind::InvalidArgument, 400, Code::InvalidArgument, pb::ErrorKind::InvalidArgument),
    (ErrorKind::Unauthenticated, 401, Code::Unauthenticated, pb::ErrorKind::Unauthenticated),
    (ErrorKind::PermissionDenied, 403, Code::PermissionDenied, pb::ErrorKind::PermissionDenied),
    (ErrorKind::NotFound, 404, Code::NotFound, pb::ErrorKind::NotFound),
    (ErrorKind::AlreadyExists, 409, Code::AlreadyExists, pb::ErrorKind::AlreadyExists),
    (ErrorKind::FailedPrecondition, 412, Code::FailedPrecondition, pb::ErrorKind::FailedPrecondition),
    (ErrorKind::PayloadTooLarge, 413, Code::OutOfRange, pb::ErrorKind::PayloadTooLarge),
    (ErrorKind::ResourceExhausted, 429, Code::ResourceExhausted, pb::ErrorKind::ResourceExhausted),
    (ErrorKind::Unimplemented, 501, Code::Unimplemented, pb::ErrorKind::Unimplemented),
    (ErrorKind::Unavailable, 503, Code::Unavailable, pb::ErrorKind::Unavailable),
    (ErrorKind::DeadlineExceeded, 504, Code::DeadlineExceeded, pb::ErrorKind::DeadlineExceeded),
    (ErrorKind::Internal, 500, Code::Internal, pb::ErrorKind::Internal),
];

impl ErrorKind {
    fn row(self) -> &'static (ErrorKind, u16, Code, pb::ErrorKind) {
        TABLE.iter().find(|row| row.0 == self).unwrap_or(&TABLE[11])
    }

    /// The HTTP status of this kind.
    pub fn http_status(self) -> u16 {
        self.row().1
    }

    /// The gRPC code of this kind.
    pub fn grpc_code(self) -> Code {
        self.row().2
    }

    /// The kind for an HTTP status; unknown 4xx are `InvalidArgument`, unknown 5xx `Internal`.
    pub fn from_http_status(status: u16) -> Self {
        TABLE.iter().find(|row| row.1 == status).map(|row| row.0).unwrap_or(if (400..500).contains(&status) {
            ErrorKind::InvalidArgument
        } else {
            ErrorKind::Internal
        })
    }

    /// The kind for a gRPC code; codes outside the table are `Internal`
    /// (`Cancelled` and `Aborted` are `Unavailable`: the caller may retry).
    pub fn from_grpc_code(code: Code) -> Self {
        match code {
            Code::Cancelled | Code::Aborted => ErrorKind::Unavailable,
            _ => TABLE.iter().find(|row| row.2 == code).map(|row| row.0).unwrap_or(ErrorKind::Internal),
        }
    }

    fn to_proto(self) -> pb::ErrorKind {
        self.row().3
    }

    fn from_proto(kind: pb::ErrorKind) -> Self {
        TABLE.iter().find(|row| row.3 == kind).map(|row| row.0).unwrap_or(ErrorKind::Internal)
    }

    /// True for the kinds a caller may retry as is.
    pub fn is_transient(self) -> bool {
        matches!(self, ErrorKind::Unavailable | ErrorKind::DeadlineExceeded | ErrorKind::ResourceExhausted)
    }
}

/// An error as it crosses a service boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ServiceError {
    pub kind: ErrorKind,
    pub scim_type: Option<ScimType>,
    /// Safe to show to the client: never internals, never personal data beyond what it sent.
    pub detail: String,
    /// Seconds to wait before retrying (429, 503).
    pub retry_after: Option<u32>,
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.kind)?;
        if let Some(t) = self.scim_type {
            write!(f, " ({t})")?;
        }
        write!(f, ": {}", self.detail)
    }
}

impl ServiceError {
    pub fn new(kind: ErrorKind, detail: impl Into<String>) -> Self {
        Self { kind, scim_type: None, detail: detail.into(), retry_after: None }
    }

    pub fn with_scim_type(mut self, scim_type: ScimType) -> Self {
        self.scim_type = Some(scim_type);
        self
    }

    pub fn with_retry_after(mut self, seconds: u32) -> Self {
        self.retry_after = Some(seconds);
        self
    }

    pub fn invalid_argument(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, detail)
    }
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, detail)
    }

    /// The HTTP status, from the table.
    pub fn http_status(&self) -> u16 {
        self.kind.http_status()
    }
}

impl From<ScimError> for ServiceError {
    fn from(e: ScimError) -> Self {
        Self {
            kind: ErrorKind::from_http_status(e.status),
            scim_type: e.scim_type,
            detail: e.detail,
            retry_after: None,
        }
    }
}

impl From<ServiceError> for ScimError {
    fn from(e: ServiceError) -> Self {
        ScimError { status: e.kind.http_status(), scim_type: e.scim_type, detail: e.detail }
    }
}

impl From<&ServiceError> for pb::Error {
    fn from(e: &ServiceError) -> Self {
        pb::Error {
            kind: e.kind.to_proto() as i32,
            scim_type: e.scim_type.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            detail: e.detail.clone(),
            retry_after_seconds: e.retry_after,
        }
    }
}

impl From<pb::Error> for ServiceError {
    fn from(e: pb::Error) -> Self {
        let kind = pb::ErrorKind::try_from(e.kind).map(ErrorKind::from_proto).unwrap_or(ErrorKind::Internal);
        Self { kind, scim_type: ScimType::parse(&e.scim_type), detail: e.detail, retry_after: e.retry_after_seconds }
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(e: ServiceError) -> Self {
        let details = pb::Error::from(&e).encode_to_vec();
        tonic::Status::with_details(e.kind.grpc_code(), e.detail, details.into())
    }
}

impl From<tonic::Status> for ServiceError {
    /// Reads the protobuf `Error` from the status details when the other side
    /// is one of ours; otherwise classifies by code alone.
    fn from(status: tonic::Status) -> Self {
        match pb::Error::decode(status.details()) {
            Ok(e) if e.kind != pb::ErrorKind::Unspecified as i32 => e.into(),
            _ => ServiceError::new(ErrorKind::from_grpc_code(status.code()), status.message().to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_round_trips_through_http_grpc_and_protobuf() {
        for (kind, status, code, _) in TABLE {
            assert_eq!(ErrorKind::from_http_status(status), kind);
            assert_eq!(ErrorKind::from_grpc_code(code), kind);
            assert_eq!(ErrorKind::from_proto(kind.to_proto()), kind);
        }
    }

    #[test]
    fn scim_type_survives_the_grpc_hop() {
        let sent = ServiceError::from(ScimError::invalid_filter("unexpected end of filter at 14"));
        let received = ServiceError::from(tonic::Status::from(sent.clone()));
        assert_eq!(received, sent);
        assert_eq!(received.http_status(), 400);
    }

    #[test]
    fn a_foreign_grpc_status_is_classified_by_code() {
        let received = ServiceError::from(tonic::Status::unavailable("connection refused"));
        assert_eq!(received.kind, ErrorKind::Unavailable);
        assert_eq!(received.scim_type, None);
    }

    #[test]
    fn uniqueness_is_a_conflict() {
        let e = ServiceError::from(ScimError::uniqueness("userName \"bjensen\" is taken"));
        assert_eq!((e.kind, e.http_status()), (ErrorKind::AlreadyExists, 409));
    }
}
