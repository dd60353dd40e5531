//! The client's errors: what Secret Server answered (its status class, `errorCode`, `message`,
//! `modelState` reasons and `Retry-After`) or how the transport failed, classified so that callers
//! can decide without reading messages: permanent (bad request, not found, refused credentials),
//! or transient (rate limited, server error, timeout, connection failure, an HTML page where JSON
//! was expected). What a caller makes of them (the connector's SCIM errors) is the caller's
//! business: the adapter maps them at its edge.

use std::time::Duration;

/// Everything a call to Secret Server can fail with.
///
/// `Display` never shows a password, a token, a stack trace or a response
/// body beyond Secret Server's own short `message`.
///
/// Not `#[non_exhaustive]`: a caller that maps every class (the adapter does) should be made to
/// decide about a new one, not fall into a wildcard.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ClientError {
    /// The client's configuration is invalid (raised by `SecretServerClient::new`).
    #[error("invalid Secret Server client configuration: {0}")]
    Config(String),

    /// `400` with Secret Server's error body (other than "not found"). A validation failure says
    /// only "The request is invalid." in `message`; the reasons are in `model_state` (see
    /// [`ClientError::reason`]).
    #[error("Secret Server rejected the request: {}{}", bad_request_reason(message, model_state.as_ref()), error_code.as_deref().map(|c| format!(" ({c})")).unwrap_or_default())]
    BadRequest { error_code: Option<String>, message: String, model_state: Option<serde_json::Value> },

    /// A `400` or `404` whose `errorCode` / `message` says the object does not exist (a `404` that
    /// does not say so is [`ClientError::UnexpectedStatus`]: the endpoint is missing).
    #[error("not found in Secret Server: {message}")]
    NotFound { message: String },

    /// The token endpoint refused the API account's credentials.
    #[error("Secret Server refused the API account's credentials: {message}")]
    AuthenticationFailed { message: String },

    /// A `403` that survived a token renewal: the account lacks a permission.
    #[error("Secret Server denied the API account access: {message}")]
    Forbidden { message: String },

    /// `429`; `retry_after` is the server's `Retry-After` when it sent one.
    #[error("Secret Server is rate limiting the client{}", retry_after.map(|d| format!(" (retry after {} s)", d.as_secs_f64().ceil())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },

    /// A `5xx`. `message` is Secret Server's short `message` only, never its
    /// `exceptionMessage` or `stackTrace`.
    #[error("Secret Server failed with {status}: {message}")]
    Server { status: u16, message: String, retry_after: Option<Duration> },

    /// No complete answer within the per-request timeout.
    #[error("Secret Server did not answer within {} ms", timeout.as_millis())]
    Timeout { timeout: Duration },

    /// The connection could not be established (refused, DNS, TLS): nothing was sent.
    #[error("cannot connect to Secret Server: {message}")]
    Connect { message: String },

    /// The connection failed after the request may have been sent.
    #[error("the connection to Secret Server failed mid-request: {message}")]
    Transport { message: String },

    /// A `200` whose body is an HTML page, as Secret Server sends for some errors.
    #[error("Secret Server answered {status} with an HTML page instead of JSON")]
    HtmlResponse { status: u16 },

    /// A `2xx` whose JSON does not match the expected model.
    #[error("cannot decode Secret Server's answer: {message}")]
    Decode { message: String },

    /// No place among the requests in flight to Secret Server freed up within the client's
    /// `max_queue_wait`: nothing was sent.
    #[error("Secret Server is busy: no place among the requests in flight within {} ms", waited.as_millis())]
    Busy { waited: Duration },

    /// The circuit breaker is open (see [`crate::CircuitBreaker`]): calls in a row got no answer
    /// from Secret Server (`cause` is how the last of them ended), so calls fail at once, nothing
    /// sent, for `retry_after` more (until one call probes the server).
    #[error("Secret Server is not answering, circuit open ({cause}): call not sent; next try in {} s", retry_after.as_secs_f64().ceil())]
    CircuitOpen { retry_after: Duration, cause: String },

    /// The caller's fence (see [`crate::fence`]) no longer held when the call's turn came:
    /// nothing was sent.
    #[error("the call was not sent: the caller lost its right to call (fence)")]
    Fenced,

    /// A `2xx` whose body says the change was not made (`{"success": false}` from a membership or
    /// role operation): the call is not taken as done.
    #[error("Secret Server answered that {operation} was not applied (success: false)")]
    NotApplied { operation: &'static str },

    /// A page of a search whose envelope says the search failed (`success: false`, or a
    /// `severity` of `Retry`, `Critical` or `Fatal`): its records are not all there is. Transient
    /// when the severity is `Retry`.
    #[error("Secret Server answered a page of a search as failed (severity {severity})")]
    PageFailed { severity: String },

    /// A status this client has no class for (e.g. `405`, `409`, `3xx`).
    #[error("Secret Server answered with unexpected status {status}: {message}")]
    UnexpectedStatus { status: u16, message: String },
}

impl ClientError {
    /// True when the same call may succeed later as is: rate limiting, server
    /// errors, timeouts, connection failures, HTML answers, a page whose severity is `Retry`, and a
    /// call that was not sent (busy, fenced, circuit open).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClientError::RateLimited { .. }
                | ClientError::Server { .. }
                | ClientError::Timeout { .. }
                | ClientError::Connect { .. }
                | ClientError::Transport { .. }
                | ClientError::HtmlResponse { .. }
                | ClientError::Busy { .. }
                | ClientError::Fenced
                | ClientError::CircuitOpen { .. }
        ) || matches!(self, ClientError::PageFailed { severity } if severity == "Retry")
    }

    /// Why Secret Server refused a request, in its own words: for a `400`, the `modelState`
    /// messages when it sent some (each field's messages, in order, without repeats), else its
    /// `message`; for the other classes, the `Display` text.
    pub fn reason(&self) -> String {
        match self {
            ClientError::BadRequest { message, model_state, .. } => bad_request_reason(message, model_state.as_ref()),
            other => other.to_string(),
        }
    }

    /// True for `NotFound`.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::NotFound { .. })
    }

    /// The delay Secret Server asked for (`Retry-After` on a 429 or 503), or what is left of the
    /// circuit breaker's cooldown.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::RateLimited { retry_after } | ClientError::Server { retry_after, .. } => *retry_after,
            ClientError::CircuitOpen { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// True when the call was never sent, so Secret Server cannot have acted on it: no place among
    /// the requests in flight (`Busy`), the caller's fence no longer held (`Fenced`), or the circuit
    /// breaker refused it (`CircuitOpen`).
    pub fn never_sent(&self) -> bool {
        matches!(self, ClientError::Busy { .. } | ClientError::Fenced | ClientError::CircuitOpen { .. })
    }
}

/// The `modelState` messages of a `400` (`{"args.password": ["..."], "email": "..."}`) joined with
/// spaces, or `message` when there are none; bounded, as every server text kept in an error is.
fn bad_request_reason(message: &str, model_state: Option<&serde_json::Value>) -> String {
    let mut reasons: Vec<&str> = Vec::new();
    if let Some(fields) = model_state.and_then(serde_json::Value::as_object) {
        for value in fields.values() {
            let texts: Vec<&str> = match value {
                serde_json::Value::String(s) => vec![s.as_str()],
                serde_json::Value::Array(items) => items.iter().filter_map(serde_json::Value::as_str).collect(),
                _ => Vec::new(),
            };
            for text in texts.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
                if !reasons.contains(&text) {
                    reasons.push(text);
                }
            }
        }
    }
    if reasons.is_empty() { message.to_owned() } else { crate::classify::truncate(reasons.join(" ")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_request(code: Option<&str>, message: &str) -> ClientError {
        ClientError::BadRequest { error_code: code.map(str::to_owned), message: message.to_owned(), model_state: None }
    }

    #[test]
    fn transient_classes_are_exactly_the_retryable_ones() {
        let transient = [
            ClientError::RateLimited { retry_after: None },
            ClientError::Server { status: 500, message: String::new(), retry_after: None },
            ClientError::Timeout { timeout: Duration::from_secs(1) },
            ClientError::Connect { message: String::new() },
            ClientError::Transport { message: String::new() },
            ClientError::HtmlResponse { status: 200 },
            ClientError::CircuitOpen { retry_after: Duration::from_secs(1), cause: String::new() },
        ];
        let permanent = [
            bad_request(None, "x"),
            ClientError::NotFound { message: String::new() },
            ClientError::AuthenticationFailed { message: String::new() },
            ClientError::Forbidden { message: String::new() },
            ClientError::Decode { message: String::new() },
            ClientError::UnexpectedStatus { status: 405, message: String::new() },
            ClientError::Config(String::new()),
        ];
        assert!(transient.iter().all(ClientError::is_transient));
        assert!(!permanent.iter().any(ClientError::is_transient));
    }

    #[test]
    fn a_refused_password_says_why_in_its_reason() {
        let e = ClientError::BadRequest {
            error_code: Some("API_ValidationFailed".into()),
            message: "The request is invalid.".into(),
            model_state: Some(serde_json::json!({"password": [
                "The password must be at least 8 characters long.",
                "The password must contain at least 3 of these kinds of character: an upper-case letter, a lower-case letter, a digit, a symbol."
            ]})),
        };
        assert!(e.to_string().contains("at least 8 characters"), "{e}");
        let reason = e.reason();
        assert!(
            reason.starts_with("The password must be at least 8 characters long. The password must contain"),
            "{reason}"
        );
        assert!(!reason.contains("The request is invalid."), "{reason}");
    }

    #[test]
    fn a_bad_request_without_model_state_keeps_its_message() {
        let e = bad_request(Some("API_PermissionsAreInherited"), "The folder inherits its permissions.");
        assert_eq!(e.reason(), "The folder inherits its permissions.");
        let odd = ClientError::BadRequest {
            error_code: None,
            message: "The request is invalid.".into(),
            model_state: Some(serde_json::json!({"email": "Invalid e-mail.", "x": ["Invalid e-mail."], "n": 3})),
        };
        assert_eq!(odd.reason(), "Invalid e-mail.", "strings and arrays, repeats once, other values ignored");
    }

    #[test]
    fn retry_after_is_the_servers_delay_on_a_429_or_a_5xx_only() {
        let delay = Some(Duration::from_millis(1500));
        assert_eq!(ClientError::RateLimited { retry_after: delay }.retry_after(), delay);
        assert_eq!(
            ClientError::Server { status: 503, message: String::new(), retry_after: delay }.retry_after(),
            delay
        );
        assert_eq!(ClientError::Timeout { timeout: Duration::from_secs(1) }.retry_after(), None);
    }

    #[test]
    fn a_refusal_of_the_open_circuit_says_so_was_never_sent_and_carries_the_cooldown_left() {
        let e = ClientError::CircuitOpen {
            retry_after: Duration::from_millis(7200),
            cause: "Secret Server did not answer within 30000 ms".into(),
        };
        assert_eq!(e.retry_after(), Some(Duration::from_millis(7200)));
        assert!(e.never_sent() && e.is_transient());
        let shown = e.to_string();
        assert!(
            shown.contains("circuit open") && shown.contains("within 30000 ms") && shown.contains("8 s"),
            "{shown}"
        );
        assert!(!ClientError::Timeout { timeout: Duration::from_secs(1) }.never_sent(), "a timeout may have been sent");
    }

    #[test]
    fn not_found_is_told_apart_from_other_refusals() {
        assert!(ClientError::NotFound { message: "User not found.".into() }.is_not_found());
        assert!(!bad_request(None, "x").is_not_found());
        assert!(!ClientError::Forbidden { message: String::new() }.is_not_found());
    }

    #[test]
    fn display_names_the_class_and_server_message_only() {
        let e = ClientError::Server { status: 503, message: "Service Unavailable".into(), retry_after: None };
        assert_eq!(e.to_string(), "Secret Server failed with 503: Service Unavailable");
        let e = bad_request(Some("API_PermissionsAreInherited"), "API_PermissionsAreInherited");
        assert!(e.to_string().ends_with("(API_PermissionsAreInherited)"));
    }
}
