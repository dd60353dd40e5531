//! The emulator's one error type and the one place that maps it to Secret
//! Server's status codes and error bodies.
//!
//! Secret Server's Swagger documents 200, 400, 403 and 500 only, so every
//! client mistake (an unknown id included) is a `400` whose `errorCode` names
//! the rule, an authentication problem is a `403 {"message"}`, and anything
//! else is a `500` whose body carries no internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use secret_server_api::{BadRequestBody, ErrorBody, InternalErrorBody};
use std::fmt;

/// The kinds of object an id can name; used for `API_<Thing>NotFound`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thing {
    User,
    Group,
    Membership,
    Folder,
    FolderPermission,
    Secret,
    SecretPermission,
    Domain,
    SecretTemplate,
    Role,
}

impl Thing {
    /// The name used in the message and the error code (`User` → `User not found.`, `API_UserNotFound`).
    pub fn as_str(self) -> &'static str {
        match self {
            Thing::User => "User",
            Thing::Group => "Group",
            Thing::Membership => "Membership",
            Thing::Folder => "Folder",
            Thing::FolderPermission => "FolderPermission",
            Thing::Secret => "Secret",
            Thing::SecretPermission => "SecretPermission",
            Thing::Domain => "Domain",
            Thing::SecretTemplate => "SecretTemplate",
            Thing::Role => "Role",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Thing::User => "User not found.",
            Thing::Group => "Group not found.",
            Thing::Membership => "Membership not found.",
            Thing::Folder => "Folder not found.",
            Thing::FolderPermission => "Folder permission not found.",
            Thing::Secret => "Secret not found.",
            Thing::SecretPermission => "Secret permission not found.",
            Thing::Domain => "Domain not found.",
            Thing::SecretTemplate => "Secret template not found.",
            Thing::Role => "Role not found.",
        }
    }
}

/// Everything that can go wrong while serving a request.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// An unknown id: `400 {"message":"User not found.","errorCode":"API_UserNotFound"}`.
    #[error("{0} {1} not found")]
    NotFound(Thing, i64),
    /// A malformed request: `400 {"message":"The request is invalid.","modelState":{field:[msg]}}`.
    #[error("the request is invalid: {}", format_model_state(.0))]
    Invalid(Vec<(String, String)>),
    /// A broken rule: `400 {"message": message, "errorCode": code}`.
    #[error("{code}: {message}")]
    Rule { code: &'static str, message: String },
    /// Missing, unknown or expired bearer token: `403 {"message"}`.
    #[error("authentication failed: {0}")]
    Authentication(String),
    /// The API account lacks a role permission, or a folder or secret permission, for what it
    /// asked: `400 {"message":"Access Denied","errorCode":"API_AccessDenied"}` (as Secret Server is
    /// seen answering), or `403 {"message":"Access Denied"}` when the emulator is configured so
    /// (`access_denied_status`; other versions answer that way). `missing` names what was lacking,
    /// for the log only: Secret Server does not say.
    #[error("access denied: {missing}")]
    AccessDenied { missing: String },
    /// A failure of the emulator itself (for example the journal could not be written).
    #[error("internal error: {0}")]
    Internal(String),
}

/// The message of an access-denied answer.
pub const ACCESS_DENIED: &str = "Access Denied";
/// The `errorCode` of an access-denied `400`.
pub const ACCESS_DENIED_CODE: &str = "API_AccessDenied";

/// Marks an access-denied answer, so that a middleware can give it the configured status.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessDeniedMarker;

impl SimError {
    /// Access denied for lack of `missing` (a role permission, or a folder or secret role).
    pub fn denied(missing: impl Into<String>) -> Self {
        SimError::AccessDenied { missing: missing.into() }
    }

    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        SimError::Invalid(vec![(field.into(), message.into())])
    }

    /// A broken rule with its error code.
    pub fn rule(code: &'static str, message: impl Into<String>) -> Self {
        SimError::Rule { code, message: message.into() }
    }
}

fn format_model_state(fields: &[(String, String)]) -> String {
    fields.iter().map(|(f, m)| format!("{f}: {m}")).collect::<Vec<_>>().join("; ")
}

impl ResponseError for SimError {
    fn status_code(&self) -> StatusCode {
        match self {
            SimError::NotFound(..) | SimError::Invalid(_) | SimError::Rule { .. } | SimError::AccessDenied { .. } => {
                StatusCode::BAD_REQUEST
            }
            SimError::Authentication(_) => StatusCode::FORBIDDEN,
            SimError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut builder = HttpResponse::build(self.status_code());
        match self {
            SimError::NotFound(thing, _) => builder.json(BadRequestBody {
                message: thing.message().to_owned(),
                error_code: Some(format!("API_{}NotFound", thing.as_str())),
                ..BadRequestBody::default()
            }),
            SimError::Invalid(fields) => {
                let mut state = serde_json::Map::new();
                for (field, message) in fields {
                    let entry = state.entry(field.clone()).or_insert_with(|| serde_json::Value::Array(Vec::new()));
                    if let serde_json::Value::Array(list) = entry {
                        list.push(serde_json::Value::String(message.clone()));
                    }
                }
                builder.json(BadRequestBody {
                    message: "The request is invalid.".to_owned(),
                    error_code: Some("API_InvalidRequest".to_owned()),
                    model_state: Some(serde_json::Value::Object(state)),
                    ..BadRequestBody::default()
                })
            }
            SimError::Rule { code, message } => builder.json(BadRequestBody {
                message: message.clone(),
                error_code: Some((*code).to_owned()),
                ..BadRequestBody::default()
            }),
            SimError::Authentication(message) => builder.json(ErrorBody { message: message.clone() }),
            SimError::AccessDenied { missing } => {
                tracing::info!(%missing, "access denied");
                // `access_denied_status = 403` turns this into a 403 (see `crate::access::restyle`).
                builder.extensions_mut().insert(AccessDeniedMarker);
                builder.json(BadRequestBody {
                    message: ACCESS_DENIED.to_owned(),
                    error_code: Some(ACCESS_DENIED_CODE.to_owned()),
                    ..BadRequestBody::default()
                })
            }
            SimError::Internal(_) => {
                // The cause goes to the log where it is handled; the body carries no internals.
                tracing::error!(error = %self, "request failed");
                // The published schema requires all four properties: present, and saying nothing.
                builder.json(InternalErrorBody {
                    message: "An error has occurred.".to_owned(),
                    exception_message: Some("An error has occurred.".to_owned()),
                    exception_type: Some("System.Exception".to_owned()),
                    stack_trace: Some(String::new()),
                })
            }
        }
    }
}

impl fmt::Display for Thing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result type of handlers and store operations.
pub type SimResult<T> = Result<T, SimError>;
