//! Fault injection, switchable at run time (`GET|PUT|PATCH|DELETE /_sim/faults`
//! or [`crate::RunningSim::faults`]), applied by a middleware to every request
//! under the base path (the admin endpoints are never faulted, so a fault can
//! always be switched off).
//!
//! Per request, in order: the added latency; then an outage answers `503`
//! (an IIS-style HTML page); then the deterministic counters
//! (`nextServerErrors`, `nextTooManyRequests`) answer the next N requests, and the
//! paths of `gonePaths` answer the not-found error of an object deleted since, those of
//! `brokenPaths` `500`; then
//! the rates draw: `500` with Secret Server's error body, `429` with
//! `Retry-After`, or `200` with an HTML body (as Secret Server does for some
//! errors).

use crate::auth::Tokens;
use crate::error::{SimError, Thing};
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, RETRY_AFTER};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};
use parking_lot::RwLock;
use secret_server_api::InternalErrorBody;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The fault switches. Rates are fractions of requests (0.0 to 1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct FaultSettings {
    /// Fraction of requests answered `500` with an error body.
    pub server_error_rate: f64,
    /// Fraction of requests answered `429` with `Retry-After`.
    pub too_many_requests_rate: f64,
    /// The `Retry-After` of injected `429`s, in seconds.
    pub retry_after_seconds: u64,
    /// Latency added to every request, in milliseconds.
    pub latency_ms: u64,
    /// Fraction of requests answered `200` with an HTML body.
    pub html_rate: f64,
    /// Every request fails with `503`.
    pub outage: bool,
    /// The next N requests are answered `500` (counts down).
    pub next_server_errors: u32,
    /// The next N requests are answered `429` (counts down).
    pub next_too_many_requests: u32,
    /// The next N `POST`s to the API (the token endpoint aside) are carried out, then answered
    /// `200 {}` (counts down): the change is made and its answer unreadable, as when a proxy
    /// mangles it.
    pub next_garbled_posts: u32,
    /// Paths (as requested, e.g. `/api/v1/groups/7/roles`) answered with the API's not-found error
    /// for the object they name (`API_GroupNotFound`, as Secret Server answers for an id it does
    /// not know), as for an object deleted between two reads of it: the first read found it, the
    /// next one does not.
    pub gone_paths: Vec<String>,
    /// Paths (as requested) answered `500` with Secret Server's error body, every time: one object
    /// that cannot be read while the rest of the server answers.
    pub broken_paths: Vec<String>,
    /// The next N requests to the broken paths pass (counts down): a call that succeeds, then the
    /// same call failing.
    pub broken_paths_after: u32,
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            server_error_rate: 0.0,
            too_many_requests_rate: 0.0,
            retry_after_seconds: 1,
            latency_ms: 0,
            html_rate: 0.0,
            outage: false,
            next_server_errors: 0,
            next_too_many_requests: 0,
            next_garbled_posts: 0,
            gone_paths: Vec::new(),
            broken_paths: Vec::new(),
            broken_paths_after: 0,
        }
    }
}

/// A fault setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FaultError {
    pub field: &'static str,
    pub message: String,
}

impl FaultSettings {
    /// Checks the ranges: rates within 0..=1, `retryAfterSeconds` ≤ 3600, `latencyMs` ≤ 600000.
    ///
    /// # Errors
    /// The first setting out of range.
    pub fn validate(&self) -> Result<(), FaultError> {
        for (field, rate) in [
            ("serverErrorRate", self.server_error_rate),
            ("tooManyRequestsRate", self.too_many_requests_rate),
            ("htmlRate", self.html_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(FaultError { field, message: format!("{rate} is not a rate between 0 and 1") });
            }
        }
        if self.retry_after_seconds > 3600 {
            return Err(FaultError { field: "retryAfterSeconds", message: "must be at most 3600".to_owned() });
        }
        if self.latency_ms > 600_000 {
            return Err(FaultError { field: "latencyMs", message: "must be at most 600000".to_owned() });
        }
        Ok(())
    }
}

/// What the middleware does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Pass,
    Outage,
    ServerError,
    TooManyRequests(u64),
    Html,
    /// Carried out, then answered `200 {}`.
    Garbled,
    /// Answered with the not-found error of the object the path names (a route's `404` when it
    /// names none).
    Gone(Option<(Thing, i64)>),
}

/// The live fault switches, shared by the middleware, the admin endpoint and tests.
#[derive(Debug)]
pub struct Faults {
    settings: RwLock<FaultSettings>,
    tokens: Arc<Tokens>,
}

impl Faults {
    pub(crate) fn new(tokens: Arc<Tokens>) -> Self {
        Self { settings: RwLock::new(FaultSettings::default()), tokens }
    }

    /// The current settings.
    pub fn get(&self) -> FaultSettings {
        self.settings.read().clone()
    }

    /// Replaces the settings.
    ///
    /// # Errors
    /// A setting out of range (nothing changes then).
    pub fn set(&self, settings: FaultSettings) -> Result<(), FaultError> {
        settings.validate()?;
        *self.settings.write() = settings;
        Ok(())
    }

    /// Changes some settings.
    ///
    /// # Errors
    /// A setting out of range (nothing changes then).
    pub fn update(&self, change: impl FnOnce(&mut FaultSettings)) -> Result<(), FaultError> {
        let mut next = self.get();
        change(&mut next);
        self.set(next)
    }

    /// Switches every fault off.
    pub fn clear(&self) {
        *self.settings.write() = FaultSettings::default();
    }

    /// Every access token issued so far expires now (refresh tokens too with `refresh_too`).
    pub fn expire_tokens(&self, refresh_too: bool) {
        self.tokens.expire_all(refresh_too);
    }

    fn decide(&self, garblable: bool, path: &str) -> (Duration, Action) {
        let mut s = self.settings.write();
        let latency = Duration::from_millis(s.latency_ms);
        let action = if s.outage {
            Action::Outage
        } else if let Some(gone) = s.gone_paths.iter().find(|p| p.as_str() == path) {
            Action::Gone(gone_thing(gone))
        } else if s.broken_paths.iter().any(|p| p.as_str() == path) {
            if s.broken_paths_after > 0 {
                s.broken_paths_after -= 1;
                Action::Pass
            } else {
                Action::ServerError
            }
        } else if s.next_server_errors > 0 {
            s.next_server_errors -= 1;
            Action::ServerError
        } else if s.next_too_many_requests > 0 {
            s.next_too_many_requests -= 1;
            Action::TooManyRequests(s.retry_after_seconds)
        } else if garblable && s.next_garbled_posts > 0 {
            s.next_garbled_posts -= 1;
            Action::Garbled
        } else if draw(s.server_error_rate) {
            Action::ServerError
        } else if draw(s.too_many_requests_rate) {
            Action::TooManyRequests(s.retry_after_seconds)
        } else if draw(s.html_rate) {
            Action::Html
        } else {
            Action::Pass
        };
        (latency, action)
    }
}

/// The object a path names (its first segment after the API version, and the id after it), for
/// the not-found error of [`FaultSettings::gone_paths`].
fn gone_thing(path: &str) -> Option<(Thing, i64)> {
    let mut segments = path.split('/').skip_while(|s| *s != "api").skip(2);
    let thing = match segments.next()? {
        "users" => Thing::User,
        "groups" => Thing::Group,
        "folders" => Thing::Folder,
        "folder-permissions" => Thing::FolderPermission,
        "secrets" => Thing::Secret,
        "secret-permissions" => Thing::SecretPermission,
        "roles" => Thing::Role,
        _ => return None,
    };
    Some((thing, segments.next()?.parse().ok()?))
}

fn draw(rate: f64) -> bool {
    rate > 0.0 && (rate >= 1.0 || rand::random::<f64>() < rate)
}

/// The HTML page of an outage (what IIS shows when the application pool is down).
const OUTAGE_HTML: &str = "<!DOCTYPE html><html><head><title>Service Unavailable</title></head>\
<body><h1>Service Unavailable</h1><p>HTTP Error 503. The service is unavailable.</p></body></html>";
/// The HTML Secret Server answers with status 200 for some error conditions.
const ERROR_HTML: &str = "<!DOCTYPE html><html><head><title>Secret Server</title></head>\
<body><h1>An error has occurred</h1><p>Please contact your administrator.</p></body></html>";

/// The middleware. Requests under `/_sim` (the admin endpoints) pass untouched.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn inject<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let faults = req.app_data::<web::Data<Faults>>().cloned();
    let Some(faults) = faults.filter(|_| !req.path().starts_with("/_sim")) else {
        return next.call(req).await.map(ServiceResponse::map_into_boxed_body);
    };
    let garblable = req.method() == actix_web::http::Method::POST && !req.path().ends_with("/oauth2/token");
    let (latency, action) = faults.decide(garblable, req.path());
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = match action {
        Action::Pass => return next.call(req).await.map(ServiceResponse::map_into_boxed_body),
        Action::Garbled => {
            let done = next.call(req).await?;
            tracing::debug!(path = done.request().path(), "fault injected: answer garbled");
            let (req, _) = done.into_parts();
            return Ok(ServiceResponse::new(req, HttpResponse::Ok().json(serde_json::json!({}))));
        }
        Action::Outage => HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
            .body(OUTAGE_HTML),
        Action::ServerError => HttpResponse::InternalServerError().json(InternalErrorBody {
            message: "An error has occurred.".to_owned(),
            exception_message: Some("Injected fault (secret-server-sim).".to_owned()),
            exception_type: Some("System.Exception".to_owned()),
            // The published schema requires all four properties; there is no stack to show.
            stack_trace: Some(String::new()),
        }),
        Action::TooManyRequests(seconds) => HttpResponse::TooManyRequests()
            .insert_header((RETRY_AFTER, seconds.to_string()))
            .json(serde_json::json!({ "message": "Too many requests. Try again later." })),
        Action::Html => HttpResponse::Ok().insert_header((CONTENT_TYPE, "text/html; charset=utf-8")).body(ERROR_HTML),
        Action::Gone(Some((thing, id))) => SimError::NotFound(thing, id).error_response(),
        Action::Gone(None) => HttpResponse::NotFound().json(serde_json::json!({
            "message": format!("No HTTP resource was found that matches the request URI '{}'.", req.uri())
        })),
    };
    tracing::debug!(?action, path = req.path(), "fault injected");
    Ok(req.into_response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults() -> Faults {
        Faults::new(Arc::new(Tokens::new(Duration::from_secs(60), true)))
    }

    #[test]
    fn counters_answer_exactly_the_next_requests() {
        let f = faults();
        f.update(|s| s.next_server_errors = 2).unwrap();
        assert_eq!(f.decide(false, "/api/v1/users").1, Action::ServerError);
        assert_eq!(f.decide(false, "/api/v1/users").1, Action::ServerError);
        assert_eq!(f.decide(false, "/api/v1/users").1, Action::Pass);
    }

    #[test]
    fn a_gone_path_answers_not_found_for_the_object_it_names_and_other_paths_pass() {
        let f = faults();
        f.update(|s| s.gone_paths = vec!["/SecretServer/api/v1/groups/7/roles".to_owned()]).unwrap();
        assert_eq!(f.decide(false, "/SecretServer/api/v1/groups/7/roles").1, Action::Gone(Some((Thing::Group, 7))));
        assert_eq!(f.decide(false, "/SecretServer/api/v1/groups/7").1, Action::Pass);
        assert_eq!(f.decide(false, "/SecretServer/api/v1/groups/7/roles").1, Action::Gone(Some((Thing::Group, 7))));
        assert_eq!(gone_thing("/api/v1/folder-permissions/12"), Some((Thing::FolderPermission, 12)));
        assert_eq!(gone_thing("/api/v1/oauth2/token"), None);
    }

    #[test]
    fn a_broken_path_fails_every_time_and_other_paths_pass() {
        let f = faults();
        f.update(|s| s.broken_paths = vec!["/api/v1/users/3".to_owned()]).unwrap();
        for _ in 0..3 {
            assert_eq!(f.decide(false, "/api/v1/users/3").1, Action::ServerError);
        }
        assert_eq!(f.decide(false, "/api/v1/users/4").1, Action::Pass);

        f.update(|s| s.broken_paths_after = 1).unwrap();
        assert_eq!(f.decide(false, "/api/v1/users/4").1, Action::Pass, "another path does not count");
        assert_eq!(f.decide(false, "/api/v1/users/3").1, Action::Pass, "the first passes");
        assert_eq!(f.decide(false, "/api/v1/users/3").1, Action::ServerError, "the next fails");
    }

    #[test]
    fn an_outage_wins_over_everything() {
        let f = faults();
        f.set(FaultSettings { outage: true, server_error_rate: 1.0, ..FaultSettings::default() }).unwrap();
        assert_eq!(f.decide(false, "/api/v1/users").1, Action::Outage);
        f.clear();
        assert_eq!(f.decide(false, "/api/v1/users").1, Action::Pass);
    }

    #[test]
    fn a_full_rate_always_fires_and_out_of_range_rates_are_refused() {
        let f = faults();
        f.update(|s| {
            s.too_many_requests_rate = 1.0;
            s.retry_after_seconds = 7;
        })
        .unwrap();
        assert_eq!(f.decide(false, "/api/v1/users").1, Action::TooManyRequests(7));
        assert!(f.update(|s| s.html_rate = 1.5).is_err());
        assert_eq!(f.get().html_rate, 0.0, "a refused update changes nothing");
    }
}
