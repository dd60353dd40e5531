//! The HTTP surface: one module per resource, registered under the base path
//! (`<base>/oauth2/token`, `<base>/api/v1/...`), plus the emulator's own admin
//! endpoints under `/_sim`.
//!
//! Paths are registered lower-case because [`crate::middleware::normalize_path`]
//! lower-cases every request path first. Specific paths (`/users/lookup`) are
//! registered before the `{id}` ones, which only match integers.

mod admin;
mod folder_permissions;
mod folders;
mod groups;
mod health;
mod platform;
mod roles;
mod secret_permissions;
mod secrets;
mod token;
mod users;

use crate::config::PasswordPolicy;
use crate::error::{SimError, SimResult};
use actix_web::{HttpRequest, HttpResponse, web};
use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// What handlers need to know about the configuration.
#[derive(Debug)]
pub(crate) struct RuntimeConfig {
    /// The base path as configured (normalized, original case), for span names.
    pub base_path: String,
    pub api_username: String,
    pub api_password: SecretString,
    pub password_policy: PasswordPolicy,
    /// User licences (enabled users who are not application accounts); `None`: no limit.
    pub user_licenses: Option<u64>,
    /// Where the emulator is more lenient than Secret Server.
    pub leniency: crate::config::Leniency,
    /// The casing of the health check's properties.
    pub health_check_casing: crate::config::HealthCheckCasing,
}

/// Registers every route under `base` (already normalized and lower-cased), and the emulated
/// platform under `/platform` when `platform` is set.
pub(crate) fn configure(
    cfg: &mut web::ServiceConfig,
    base: &str,
    platform: Option<web::Data<crate::config::PlatformConfig>>,
) {
    if let Some(platform) = platform {
        cfg.service(platform::scope().app_data(platform));
    }
    cfg.service(admin::scope()).service(
        web::scope(base)
            .service(web::resource("/oauth2/token").route(web::post().to(token::token)))
            .service(
                web::scope("/api/v1")
                    .configure(health::configure)
                    .configure(users::configure)
                    .configure(groups::configure)
                    .configure(folders::configure)
                    .configure(folder_permissions::configure)
                    .configure(secrets::configure)
                    .configure(secret_permissions::configure)
                    .configure(roles::configure),
            )
            .service(web::scope("/api/v2").configure(secrets::configure_v2).configure(roles::configure_v2)),
    );
}

/// The answer to a path no route matches: `404` with Web API's message.
pub(crate) async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "message": format!("No HTTP resource was found that matches the request URI '{}'.", req.uri())
    }))
}

/// A path segment that is not an integer id: a `400` naming the segment.
pub(crate) fn path_error(err: actix_web::error::PathError, _req: &HttpRequest) -> actix_web::Error {
    SimError::invalid("id", format!("The request is invalid: {err}.")).into()
}

/// Json.NET matches property names case-insensitively; PowerShell and C# clients send PascalCase
/// (`DisplayName`, `DomainId`). Keys are brought to camelCase by lower-casing their first letter.
fn camel_case_keys(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let mut chars = k.chars();
                    let key = match chars.next() {
                        Some(first) => first.to_lowercase().chain(chars).collect(),
                        None => k,
                    };
                    (key, camel_case_keys(v))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(camel_case_keys).collect()),
        other => other,
    }
}

/// Parses a JSON object body with camelCase-normalized keys.
///
/// # Errors
/// An empty body, invalid JSON, or a body that is not an object.
pub(crate) fn body_value(bytes: &[u8]) -> SimResult<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SimError::invalid("body", "A request body is required."));
    }
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| SimError::invalid("body", format!("The body is not valid JSON: {e}.")))?;
    if !value.is_object() {
        return Err(SimError::invalid("body", "The body must be a JSON object."));
    }
    Ok(camel_case_keys(value))
}

/// Parses a JSON object body into `T`.
///
/// # Errors
/// As [`body_value`], or a field of the wrong type.
pub(crate) fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> SimResult<T> {
    serde_json::from_value(body_value(bytes)?).map_err(|e| SimError::invalid("body", format!("{e}.")))
}

/// A lower-cased, non-empty `filter.searchText`.
pub(crate) fn search_text(query: &crate::query::Query) -> Option<String> {
    query.get("filter.searchtext").map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pascal_case_keys_become_camel_case() {
        let v = body_value(br#"{"DisplayName":"A","DomainId":3,"data":{"Name":{"Dirty":true}}}"#).unwrap();
        assert_eq!(v["displayName"], "A");
        assert_eq!(v["domainId"], 3);
        assert_eq!(v["data"]["name"]["dirty"], true);
    }

    #[test]
    fn empty_and_non_object_bodies_are_refused() {
        assert!(body_value(b"  ").is_err());
        assert!(body_value(b"[1]").is_err());
        assert!(body_value(b"{not json").is_err());
    }
}
