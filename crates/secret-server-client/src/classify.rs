//! Turning an HTTP answer into a body to decode or a classified [`ClientError`].
//!
//! Pure functions of status, headers and body, so that every class is unit
//! tested without a server.

use crate::error::ClientError;
use crate::retry::parse_retry_after;
use http::{HeaderMap, StatusCode, header};
use secret_server_api::{BadRequestBody, TokenErrorBody};
use serde::de::DeserializeOwned;
use std::time::SystemTime;

/// Longest server message kept in an error: enough to read, too short to
/// carry a dump.
const MAX_MESSAGE_CHARS: usize = 300;

/// Which endpoint answered: the token endpoint reports refused credentials
/// with a `400`, the API reports a rejected token with a `403`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Token,
    Api,
}

/// Classifies an answer; `Ok` is a JSON body to decode.
///
/// # Errors
/// The [`ClientError`] class of every non-success answer, and `HtmlResponse`
/// for a success whose body is an HTML page. A `401`/`403` from the API is
/// `Forbidden`: the caller renews its token once before reporting it.
pub(crate) fn classify(
    endpoint: Endpoint,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<(), ClientError> {
    let code = status.as_u16();
    if status.is_success() {
        return if is_html(headers, body) { Err(ClientError::HtmlResponse { status: code }) } else { Ok(()) };
    }
    let retry_after =
        headers.get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, now));
    let fallback = || status.canonical_reason().unwrap_or("no reason given").to_owned();
    match (endpoint, code) {
        (Endpoint::Token, 400 | 401 | 403) => {
            let body: TokenErrorBody = json_or_default(headers, body);
            let message = body.message.or(body.error_description).or(body.error).unwrap_or_else(fallback);
            Err(ClientError::AuthenticationFailed { message: truncate(message) })
        }
        (Endpoint::Api, 401 | 403) => {
            let message = json_or_default::<BadRequestBody>(headers, body).message;
            Err(ClientError::Forbidden { message: non_empty_or(message, fallback) })
        }
        (_, 400) => {
            let body: BadRequestBody = json_or_default(headers, body);
            let message = non_empty_or(body.message, fallback);
            if says_not_found(body.error_code.as_deref(), &message) {
                Err(ClientError::NotFound { message })
            } else {
                Err(ClientError::BadRequest { error_code: body.error_code, message, model_state: body.model_state })
            }
        }
        // The published API declares no `404`: one that does not say an object is missing (Web
        // API's "No HTTP resource was found that matches the request URI", a proxy's page, no
        // body) means the endpoint is not there, and must not read as "the object is gone".
        (_, 404) => {
            let body: BadRequestBody = json_or_default(headers, body);
            if says_not_found(body.error_code.as_deref(), &body.message) {
                Err(ClientError::NotFound { message: truncate(body.message) })
            } else {
                Err(ClientError::UnexpectedStatus { status: code, message: non_empty_or(body.message, fallback) })
            }
        }
        (_, 429) => Err(ClientError::RateLimited { retry_after }),
        (_, 500..=599) => {
            // Only `message`: a 500 body may carry `exceptionMessage` and
            // `stackTrace`, which must not reach logs or callers.
            let message = json_or_default::<BadRequestBody>(headers, body).message;
            Err(ClientError::Server { status: code, message: non_empty_or(message, fallback), retry_after })
        }
        _ => {
            let message = json_or_default::<BadRequestBody>(headers, body).message;
            Err(ClientError::UnexpectedStatus { status: code, message: non_empty_or(message, fallback) })
        }
    }
}

/// Decodes a success body.
///
/// # Errors
/// [`ClientError::Decode`] with serde's description (never the body).
pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ClientError> {
    match serde_json::from_slice(body) {
        Ok(value) => Ok(value),
        // Secret Server writes what it has no value for as `null`, on the properties the published
        // document marks nullable (`secretAccessRoleId`, the health booleans, ...) and, as a .NET
        // serializer does, on strings and lists it never marks. Every model field has a default,
        // so a `null` is read as the property left out: one null must not fail a whole page. The
        // common answer has none and is decoded once.
        Err(first) => {
            let mut value: serde_json::Value = serde_json::from_slice(body)
                .map_err(|_| ClientError::Decode { message: truncate(first.to_string()) })?;
            if !remove_nulls(&mut value) {
                return Err(ClientError::Decode { message: truncate(first.to_string()) });
            }
            serde_json::from_value(value).map_err(|e| ClientError::Decode { message: truncate(e.to_string()) })
        }
    }
}

/// Removes every `null` member of every object in `value`; true when there was one.
fn remove_nulls(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::Object(map) => {
            let before = map.len();
            map.retain(|_, v| !v.is_null());
            let mut removed = map.len() != before;
            for v in map.values_mut() {
                removed |= remove_nulls(v);
            }
            removed
        }
        serde_json::Value::Array(items) => items.iter_mut().fold(false, |removed, v| remove_nulls(v) | removed),
        _ => false,
    }
}

/// Secret Server answers some errors with `200` and an HTML page (its login
/// or error page). JSON never starts with `<`.
fn is_html(headers: &HeaderMap, body: &[u8]) -> bool {
    let html_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/html"));
    html_type || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<')
}

fn json_or_default<T: DeserializeOwned + Default>(headers: &HeaderMap, body: &[u8]) -> T {
    if is_html(headers, body) {
        return T::default();
    }
    serde_json::from_slice(body).unwrap_or_default()
}

fn says_not_found(error_code: Option<&str>, message: &str) -> bool {
    error_code.is_some_and(|c| c.to_ascii_lowercase().ends_with("notfound"))
        || message.to_ascii_lowercase().contains("not found")
}

fn non_empty_or(message: String, fallback: impl FnOnce() -> String) -> String {
    if message.trim().is_empty() { fallback() } else { truncate(message) }
}

pub(crate) fn truncate(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use std::time::Duration;

    fn json_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
        h
    }

    fn api(status: u16, body: &str) -> Result<(), ClientError> {
        classify(
            Endpoint::Api,
            StatusCode::from_u16(status).unwrap(),
            &json_headers(),
            body.as_bytes(),
            SystemTime::now(),
        )
    }

    #[test]
    fn success_with_json_is_ok() {
        assert_eq!(api(200, r#"{"id":1}"#), Ok(()));
    }

    #[test]
    fn success_with_an_html_page_is_an_html_response() {
        assert_eq!(api(200, "\r\n  <!DOCTYPE html><html>Login</html>"), Err(ClientError::HtmlResponse { status: 200 }));
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        let r = classify(Endpoint::Api, StatusCode::OK, &h, b"oops", SystemTime::now());
        assert_eq!(r, Err(ClientError::HtmlResponse { status: 200 }));
    }

    #[test]
    fn bad_request_keeps_code_message_and_model_state() {
        let body = r#"{"message":"The request is invalid.","errorCode":"API_ValidationFailed",
                       "modelState":{"args.password":["Password does not meet the policy."]},"extra":1}"#;
        match api(400, body) {
            Err(ClientError::BadRequest { error_code, message, model_state }) => {
                assert_eq!(error_code.as_deref(), Some("API_ValidationFailed"));
                assert_eq!(message, "The request is invalid.");
                assert!(model_state.unwrap()["args.password"][0].as_str().unwrap().contains("policy"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_request_saying_not_found_is_not_found() {
        let r = api(400, r#"{"message":"User not found.","errorCode":"API_UserNotFound"}"#);
        assert_eq!(r, Err(ClientError::NotFound { message: "User not found.".into() }));
        let r = api(400, r#"{"message":"Folder not found."}"#);
        assert!(matches!(r, Err(ClientError::NotFound { .. })));
        assert!(matches!(api(404, r#"{"message":"User not found."}"#), Err(ClientError::NotFound { .. })));
    }

    #[test]
    fn a_404_that_names_no_missing_object_is_a_missing_endpoint_not_a_missing_object() {
        let routing = r#"{"message":"No HTTP resource was found that matches the request URI '/api/v1/users/7/roles-assigned'."}"#;
        for body in [routing, "", "<html><body>404 - File or directory not found.</body></html>"] {
            let r = api(404, body);
            assert!(matches!(r, Err(ClientError::UnexpectedStatus { status: 404, .. })), "{body}: {r:?}");
        }
    }

    #[test]
    fn api_403_is_forbidden_with_the_servers_message() {
        let r = api(403, r#"{"message":"Authentication failed."}"#);
        assert_eq!(r, Err(ClientError::Forbidden { message: "Authentication failed.".into() }));
    }

    #[test]
    fn token_endpoint_refusal_is_authentication_failed_in_either_body_shape() {
        let t = |body: &str| {
            classify(Endpoint::Token, StatusCode::BAD_REQUEST, &json_headers(), body.as_bytes(), SystemTime::now())
        };
        assert_eq!(
            t(r#"{"message":"Login failed."}"#),
            Err(ClientError::AuthenticationFailed { message: "Login failed.".into() })
        );
        assert_eq!(
            t(r#"{"error":"invalid_grant","error_description":"bad password"}"#),
            Err(ClientError::AuthenticationFailed { message: "bad password".into() })
        );
        assert_eq!(t(""), Err(ClientError::AuthenticationFailed { message: "Bad Request".into() }));
    }

    #[test]
    fn server_error_never_carries_the_stack_trace() {
        let body = r#"{"message":"An error has occurred.","exceptionMessage":"Object reference not set",
                       "exceptionType":"System.NullReferenceException","stackTrace":"at Thycotic.Foo()"}"#;
        let e = api(500, body).unwrap_err();
        assert_eq!(e, ClientError::Server { status: 500, message: "An error has occurred.".into(), retry_after: None });
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("NullReference") && !shown.contains("Thycotic.Foo"), "{shown}");
    }

    #[test]
    fn rate_limit_and_unavailable_carry_retry_after() {
        let mut h = json_headers();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        let r = classify(Endpoint::Api, StatusCode::TOO_MANY_REQUESTS, &h, b"", SystemTime::now());
        assert_eq!(r, Err(ClientError::RateLimited { retry_after: Some(Duration::from_secs(2)) }));
        let r = classify(Endpoint::Token, StatusCode::SERVICE_UNAVAILABLE, &h, b"<html>down</html>", SystemTime::now());
        assert_eq!(
            r,
            Err(ClientError::Server {
                status: 503,
                message: "Service Unavailable".into(),
                retry_after: Some(Duration::from_secs(2))
            })
        );
    }

    #[test]
    fn unknown_statuses_are_unexpected() {
        assert!(matches!(api(405, ""), Err(ClientError::UnexpectedStatus { status: 405, .. })));
        assert!(matches!(api(302, ""), Err(ClientError::UnexpectedStatus { status: 302, .. })));
    }

    #[test]
    fn long_messages_are_truncated_on_a_char_boundary() {
        let long = format!(r#"{{"message":"{}"}}"#, "é".repeat(1000));
        let Err(ClientError::BadRequest { message, .. }) = api(400, &long) else { panic!() };
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn a_null_reads_as_the_property_left_out_and_fails_nothing() {
        let page: secret_server_api::PagedResult<secret_server_api::FolderPermission> = decode(
            br#"{"records":[{"id":3,"folderId":4,"secretAccessRoleId":null,"userId":null,"groupId":9,"userName":null}],
                 "total":1,"hasNext":null}"#,
        )
        .unwrap();
        let p = &page.records[0];
        assert_eq!((p.id, p.secret_access_role_id, p.user_id, p.group_id), (3, 0, None, Some(9)));
        assert!(!page.has_next);
    }

    #[test]
    fn a_body_that_does_not_fit_the_model_is_a_decode_error() {
        let e = decode::<secret_server_api::User>(br#"{"id":"not-a-number-secretish"}"#).unwrap_err();
        assert!(matches!(e, ClientError::Decode { .. }));
    }

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    #[test]
    fn documented_error_payloads_are_classified() {
        let at = |status: u16, name: &str| {
            classify(
                Endpoint::Api,
                StatusCode::from_u16(status).unwrap(),
                &json_headers(),
                &fixture(name),
                SystemTime::now(),
            )
        };
        assert!(matches!(at(400, "error-400.json"),
            Err(ClientError::BadRequest { error_code: Some(c), .. }) if c == "API_PermissionsAreInherited"));
        assert!(matches!(
            at(400, "error-400-model-state.json"),
            Err(ClientError::BadRequest { model_state: Some(_), .. })
        ));
        assert!(matches!(at(400, "error-400-not-found.json"), Err(ClientError::NotFound { .. })));
        assert!(matches!(at(403, "error-403.json"), Err(ClientError::Forbidden { .. })));
        assert!(matches!(at(500, "error-500.json"), Err(ClientError::Server { status: 500, .. })));
        assert_eq!(at(200, "error-200.html"), Err(ClientError::HtmlResponse { status: 200 }));
        let token = |name: &str| {
            classify(Endpoint::Token, StatusCode::BAD_REQUEST, &json_headers(), &fixture(name), SystemTime::now())
        };
        assert!(matches!(token("token-error-message.json"), Err(ClientError::AuthenticationFailed { .. })));
        assert!(matches!(token("token-error-oauth.json"), Err(ClientError::AuthenticationFailed { .. })));
    }
}
