//! The one error table of the connector.
//!
//! Every error that crosses a service boundary is a [`ServiceError`]: an
//! [`ErrorKind`] (which fixes the HTTP status and the gRPC code, both from the
//! table below), an optional SCIM `scimType`, and a detail safe to show to the
//! client. The gateway renders it as an RFC 7644 error body; the adapter sends
//! it as a `tonic::Status` whose details carry the protobuf `Error`, so that
//! the `scimType` survives the gRPC hop; jobs carry it in their result.
//!
//! | kind               | HTTP | gRPC               | name                  |
//! |--------------------|------|--------------------|-----------------------|
//! | InvalidArgument    | 400  | InvalidArgument    | `invalid_argument`    |
//! | Unauthenticated    | 401  | Unauthenticated    | `unauthenticated`     |
//! | PermissionDenied   | 403  | PermissionDenied   | `permission_denied`   |
//! | NotFound           | 404  | NotFound           | `not_found`           |
//! | AlreadyExists      | 409  | AlreadyExists      | `already_exists`      |
//! | FailedPrecondition | 412  | FailedPrecondition | `failed_precondition` |
//! | PayloadTooLarge    | 413  | OutOfRange         | `payload_too_large`   |
//! | ResourceExhausted  | 429  | ResourceExhausted  | `resource_exhausted`  |
//! | Unimplemented      | 501  | Unimplemented      | `unimplemented`       |
//! | Unavailable        | 503  | Unavailable        | `unavailable`         |
//! | DeadlineExceeded   | 504  | DeadlineExceeded   | `deadline_exceeded`   |
//! | Internal           | 500  | Internal           | `internal`            |
//!
//! The table is exhaustive by construction: each column is a `match` on every kind, with no
//! fallback, and [`ErrorKind::ALL`] lists the kinds for the tests that walk it. The name is the
//! kind in JSON bodies that are not SCIM ones (the audit API's `{"error", "detail"}`).

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

impl ErrorKind {
    /// Every kind, in the table's order.
    pub const ALL: [ErrorKind; 12] = [
        ErrorKind::InvalidArgument,
        ErrorKind::Unauthenticated,
        ErrorKind::PermissionDenied,
        ErrorKind::NotFound,
        ErrorKind::AlreadyExists,
        ErrorKind::FailedPrecondition,
        ErrorKind::PayloadTooLarge,
        ErrorKind::ResourceExhausted,
        ErrorKind::Unimplemented,
        ErrorKind::Unavailable,
        ErrorKind::DeadlineExceeded,
        ErrorKind::Internal,
    ];

    // The table is written as matches without a wildcard arm, so that a new kind does not compile
    // until it has its HTTP status, gRPC code, protobuf kind and name.

    /// The HTTP status of this kind.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::InvalidArgument => 400,
            ErrorKind::Unauthenticated => 401,
            ErrorKind::PermissionDenied => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::AlreadyExists => 409,
            ErrorKind::FailedPrecondition => 412,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::ResourceExhausted => 429,
            ErrorKind::Unimplemented => 501,
            ErrorKind::Unavailable => 503,
            ErrorKind::DeadlineExceeded => 504,
            ErrorKind::Internal => 500,
        }
    }

    /// The gRPC code of this kind.
    pub fn grpc_code(self) -> Code {
        match self {
            ErrorKind::InvalidArgument => Code::InvalidArgument,
            ErrorKind::Unauthenticated => Code::Unauthenticated,
            ErrorKind::PermissionDenied => Code::PermissionDenied,
            ErrorKind::NotFound => Code::NotFound,
            ErrorKind::AlreadyExists => Code::AlreadyExists,
            ErrorKind::FailedPrecondition => Code::FailedPrecondition,
            ErrorKind::PayloadTooLarge => Code::OutOfRange,
            ErrorKind::ResourceExhausted => Code::ResourceExhausted,
            ErrorKind::Unimplemented => Code::Unimplemented,
            ErrorKind::Unavailable => Code::Unavailable,
            ErrorKind::DeadlineExceeded => Code::DeadlineExceeded,
            ErrorKind::Internal => Code::Internal,
        }
    }

    /// The kind's name in JSON error bodies that are not SCIM ones (`"not_found"`).
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "invalid_argument",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::PermissionDenied => "permission_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::AlreadyExists => "already_exists",
            ErrorKind::FailedPrecondition => "failed_precondition",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::ResourceExhausted => "resource_exhausted",
            ErrorKind::Unimplemented => "unimplemented",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::DeadlineExceeded => "deadline_exceeded",
            ErrorKind::Internal => "internal",
        }
    }

    /// The kind for an HTTP status; unknown 4xx are `InvalidArgument`, anything else unknown is
    /// `Internal`.
    pub fn from_http_status(status: u16) -> Self {
        match status {
            400 => ErrorKind::InvalidArgument,
            401 => ErrorKind::Unauthenticated,
            403 => ErrorKind::PermissionDenied,
            404 => ErrorKind::NotFound,
            409 => ErrorKind::AlreadyExists,
            412 => ErrorKind::FailedPrecondition,
            413 => ErrorKind::PayloadTooLarge,
            429 => ErrorKind::ResourceExhausted,
            501 => ErrorKind::Unimplemented,
            503 => ErrorKind::Unavailable,
            504 => ErrorKind::DeadlineExceeded,
            // The other 4xx: the client's mistake, of a class the table does not name.
            402 | 405..=408 | 410 | 411 | 414..=428 | 430..=499 => ErrorKind::InvalidArgument,
            _ => ErrorKind::Internal,
        }
    }

    /// The kind for a gRPC code. `Cancelled` and `Aborted` are `Unavailable` (the caller may
    /// retry); `Ok`, `Unknown` and `DataLoss`, which no service of ours sends, are `Internal`.
    pub fn from_grpc_code(code: Code) -> Self {
        match code {
            Code::InvalidArgument => ErrorKind::InvalidArgument,
            Code::Unauthenticated => ErrorKind::Unauthenticated,
            Code::PermissionDenied => ErrorKind::PermissionDenied,
            Code::NotFound => ErrorKind::NotFound,
            Code::AlreadyExists => ErrorKind::AlreadyExists,
            Code::FailedPrecondition => ErrorKind::FailedPrecondition,
            Code::OutOfRange => ErrorKind::PayloadTooLarge,
            Code::ResourceExhausted => ErrorKind::ResourceExhausted,
            Code::Unimplemented => ErrorKind::Unimplemented,
            Code::Unavailable | Code::Cancelled | Code::Aborted => ErrorKind::Unavailable,
            Code::DeadlineExceeded => ErrorKind::DeadlineExceeded,
            Code::Internal | Code::Ok | Code::Unknown | Code::DataLoss => ErrorKind::Internal,
        }
    }

    fn to_proto(self) -> pb::ErrorKind {
        match self {
            ErrorKind::InvalidArgument => pb::ErrorKind::InvalidArgument,
            ErrorKind::Unauthenticated => pb::ErrorKind::Unauthenticated,
            ErrorKind::PermissionDenied => pb::ErrorKind::PermissionDenied,
            ErrorKind::NotFound => pb::ErrorKind::NotFound,
            ErrorKind::AlreadyExists => pb::ErrorKind::AlreadyExists,
            ErrorKind::FailedPrecondition => pb::ErrorKind::FailedPrecondition,
            ErrorKind::PayloadTooLarge => pb::ErrorKind::PayloadTooLarge,
            ErrorKind::ResourceExhausted => pb::ErrorKind::ResourceExhausted,
            ErrorKind::Unimplemented => pb::ErrorKind::Unimplemented,
            ErrorKind::Unavailable => pb::ErrorKind::Unavailable,
            ErrorKind::DeadlineExceeded => pb::ErrorKind::DeadlineExceeded,
            ErrorKind::Internal => pb::ErrorKind::Internal,
        }
    }

    fn from_proto(kind: pb::ErrorKind) -> Self {
        match kind {
            pb::ErrorKind::InvalidArgument => ErrorKind::InvalidArgument,
            pb::ErrorKind::Unauthenticated => ErrorKind::Unauthenticated,
            pb::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
            pb::ErrorKind::NotFound => ErrorKind::NotFound,
            pb::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
            pb::ErrorKind::FailedPrecondition => ErrorKind::FailedPrecondition,
            pb::ErrorKind::PayloadTooLarge => ErrorKind::PayloadTooLarge,
            pb::ErrorKind::ResourceExhausted => ErrorKind::ResourceExhausted,
            pb::ErrorKind::Unimplemented => ErrorKind::Unimplemented,
            pb::ErrorKind::Unavailable => ErrorKind::Unavailable,
            pb::ErrorKind::DeadlineExceeded => ErrorKind::DeadlineExceeded,
            pb::ErrorKind::Internal | pb::ErrorKind::Unspecified => ErrorKind::Internal,
        }
    }

    /// True for the kinds a caller may retry as is.
    pub fn is_transient(self) -> bool {
        match self {
            ErrorKind::Unavailable | ErrorKind::DeadlineExceeded | ErrorKind::ResourceExhausted => true,
            ErrorKind::InvalidArgument
            | ErrorKind::Unauthenticated
            | ErrorKind::PermissionDenied
            | ErrorKind::NotFound
            | ErrorKind::AlreadyExists
            | ErrorKind::FailedPrecondition
            | ErrorKind::PayloadTooLarge
            | ErrorKind::Unimplemented
            | ErrorKind::Internal => false,
        }
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

    /// The table as the style guide and the crate docs state it, written out independently of the
    /// code: (kind, HTTP status, gRPC code, name).
    const EXPECTED: [(ErrorKind, u16, Code, &str); 12] = [
        (ErrorKind::InvalidArgument, 400, Code::InvalidArgument, "invalid_argument"),
        (ErrorKind::Unauthenticated, 401, Code::Unauthenticated, "unauthenticated"),
        (ErrorKind::PermissionDenied, 403, Code::PermissionDenied, "permission_denied"),
        (ErrorKind::NotFound, 404, Code::NotFound, "not_found"),
        (ErrorKind::AlreadyExists, 409, Code::AlreadyExists, "already_exists"),
        (ErrorKind::FailedPrecondition, 412, Code::FailedPrecondition, "failed_precondition"),
        (ErrorKind::PayloadTooLarge, 413, Code::OutOfRange, "payload_too_large"),
        (ErrorKind::ResourceExhausted, 429, Code::ResourceExhausted, "resource_exhausted"),
        (ErrorKind::Unimplemented, 501, Code::Unimplemented, "unimplemented"),
        (ErrorKind::Unavailable, 503, Code::Unavailable, "unavailable"),
        (ErrorKind::DeadlineExceeded, 504, Code::DeadlineExceeded, "deadline_exceeded"),
        (ErrorKind::Internal, 500, Code::Internal, "internal"),
    ];

    #[test]
    fn all_lists_every_kind_once_in_the_tables_order() {
        // No wildcard: a new kind does not compile here until it has a place, and that place must
        // be its index in ALL.
        let place = |kind: ErrorKind| match kind {
            ErrorKind::InvalidArgument => 0,
            ErrorKind::Unauthenticated => 1,
            ErrorKind::PermissionDenied => 2,
            ErrorKind::NotFound => 3,
            ErrorKind::AlreadyExists => 4,
            ErrorKind::FailedPrecondition => 5,
            ErrorKind::PayloadTooLarge => 6,
            ErrorKind::ResourceExhausted => 7,
            ErrorKind::Unimplemented => 8,
            ErrorKind::Unavailable => 9,
            ErrorKind::DeadlineExceeded => 10,
            ErrorKind::Internal => 11,
        };
        for (index, kind) in ErrorKind::ALL.into_iter().enumerate() {
            assert_eq!(place(kind), index, "{kind:?}");
        }
        assert_eq!(ErrorKind::ALL, EXPECTED.map(|row| row.0));
    }

    #[test]
    fn every_kind_has_its_http_status_grpc_code_and_name() {
        for (kind, status, code, name) in EXPECTED {
            assert_eq!((kind.http_status(), kind.grpc_code(), kind.name()), (status, code, name), "{kind:?}");
        }
    }

    #[test]
    fn every_kind_round_trips_through_http_grpc_and_protobuf() {
        for kind in ErrorKind::ALL {
            assert_eq!(ErrorKind::from_http_status(kind.http_status()), kind);
            assert_eq!(ErrorKind::from_grpc_code(kind.grpc_code()), kind);
            assert_eq!(ErrorKind::from_proto(kind.to_proto()), kind);
            let sent = ServiceError::new(kind, "detail").with_retry_after(3);
            assert_eq!(ServiceError::from(pb::Error::from(&sent)), sent, "{kind:?}");
            assert_eq!(ServiceError::from(tonic::Status::from(sent.clone())), sent, "{kind:?}");
        }
    }

    #[test]
    fn every_protobuf_kind_but_unspecified_is_one_kind_and_unspecified_is_internal() {
        let kinds: Vec<ErrorKind> =
            (1..).map_while(|n| pb::ErrorKind::try_from(n).ok()).map(ErrorKind::from_proto).collect();
        assert_eq!(kinds, ErrorKind::ALL);
        assert_eq!(ErrorKind::from_proto(pb::ErrorKind::Unspecified), ErrorKind::Internal);
    }

    #[test]
    fn statuses_and_codes_outside_the_table_have_a_safe_kind() {
        for status in [402, 405, 406, 408, 410, 415, 422, 428, 431, 451, 499] {
            assert_eq!(ErrorKind::from_http_status(status), ErrorKind::InvalidArgument, "{status}");
        }
        for status in [0, 200, 302, 399, 502, 505, 599, 600] {
            assert_eq!(ErrorKind::from_http_status(status), ErrorKind::Internal, "{status}");
        }
        for code in [Code::Cancelled, Code::Aborted] {
            assert_eq!(ErrorKind::from_grpc_code(code), ErrorKind::Unavailable, "{code:?}");
        }
        for code in [Code::Ok, Code::Unknown, Code::DataLoss] {
            assert_eq!(ErrorKind::from_grpc_code(code), ErrorKind::Internal, "{code:?}");
        }
    }

    #[test]
    fn only_unavailable_deadline_exceeded_and_resource_exhausted_are_transient() {
        let transient: Vec<ErrorKind> = ErrorKind::ALL.into_iter().filter(|k| k.is_transient()).collect();
        assert_eq!(transient, [ErrorKind::ResourceExhausted, ErrorKind::Unavailable, ErrorKind::DeadlineExceeded]);
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
