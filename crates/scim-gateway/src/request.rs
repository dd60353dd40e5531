//! Reading a SCIM request: the media type and JSON body, the list and
//! `.search` parameters (with their limits), the conditional headers, and the
//! base URL that `Location` and `meta.location` are built on.

use crate::errors::ApiError;
use crate::jobs::Fingerprint;
use crate::settings::{GatewaySettings, Limits};
use actix_web::HttpRequest;
use actix_web::http::header;
use adapter_api::{Page, Projection};
use scim::{Filter, ScimType};
use serde_json::Value;
use std::cell::RefCell;
use std::rc::Rc;

/// The base URL of the SCIM endpoints (`https://host/scim/v2`): the configured
/// public URL, else the request's scheme and `Host` (as actix-web's `ConnectionInfo` resolves
/// them, the forwarding headers included).
///
/// Every read builds a `meta.location` on it, so each HTTP worker keeps the last one it made
/// (see [`BaseOf`]): a request from the same origin as the one before gets it without a
/// `ConnectionInfo` or a `String` of its own.
pub fn base_url(req: &HttpRequest, settings: &GatewaySettings) -> Rc<str> {
    let Some(of) = BaseOf::of(req, settings) else {
        // Forwarded, or an absolute URI: actix-web's rules, each time.
        let info = req.connection_info();
        return Rc::from(format!("{}://{}/scim/v2", info.scheme(), info.host()));
    };
    LAST_BASE.with(|last| {
        let mut last = last.borrow_mut();
        if let Some((key, base)) = last.as_ref()
            && of.is(key)
        {
            return base.clone();
        }
        let base: Rc<str> = Rc::from(of.base());
        *last = Some((of.key(), base.clone()));
        base
    })
}

thread_local! {
    /// The last base URL this thread made, and what it was made from.
    static LAST_BASE: RefCell<Option<(BaseKey, Rc<str>)>> = const { RefCell::new(None) };
}

/// What a base URL is made from, owned (the cache's key).
#[derive(Debug, PartialEq, Eq)]
enum BaseKey {
    Public(String),
    Direct { secure: bool, host: Vec<u8> },
}

/// What a request's base URL is made from, borrowed from the request or the settings.
#[derive(Debug)]
enum BaseOf<'a> {
    /// The configured public URL.
    Public(&'a str),
    /// The request's own `Host` on a connection with (`secure`) or without TLS.
    Direct { secure: bool, host: &'a str },
}

impl<'a> BaseOf<'a> {
    /// `None` when actix-web's `ConnectionInfo` would look further than the `Host` header and the
    /// connection (a `Forwarded`, `X-Forwarded-Proto` or `X-Forwarded-Host` header, an absolute
    /// URI, no readable `Host`): those requests take its own path.
    fn of(req: &'a HttpRequest, settings: &'a GatewaySettings) -> Option<Self> {
        if let Some(url) = &settings.public_url {
            return Some(Self::Public(url.as_str()));
        }
        let headers = req.headers();
        let forwarded = [
            header::FORWARDED,
            header::HeaderName::from_static("x-forwarded-proto"),
            header::HeaderName::from_static("x-forwarded-host"),
        ];
        if forwarded.iter().any(|name| headers.contains_key(name))
            || req.uri().scheme().is_some()
            || req.uri().authority().is_some()
        {
            return None;
        }
        let host = headers.get(header::HOST)?.to_str().ok()?;
        Some(Self::Direct { secure: req.app_config().secure(), host })
    }

    fn is(&self, key: &BaseKey) -> bool {
        match (self, key) {
            (Self::Public(url), BaseKey::Public(cached)) => url == cached,
            (Self::Direct { secure, host }, BaseKey::Direct { secure: s, host: h }) => {
                secure == s && host.as_bytes() == h.as_slice()
            }
            _ => false,
        }
    }

    fn key(&self) -> BaseKey {
        match self {
            Self::Public(url) => BaseKey::Public((*url).to_owned()),
            Self::Direct { secure, host } => BaseKey::Direct { secure: *secure, host: host.as_bytes().to_vec() },
        }
    }

    fn base(&self) -> String {
        match self {
            Self::Public(url) => format!("{}/scim/v2", url.trim_end_matches('/')),
            Self::Direct { secure, host } => format!("{}://{host}/scim/v2", if *secure { "https" } else { "http" }),
        }
    }
}

/// Parses a request body as a JSON object after checking its media type.
///
/// `application/scim+json` and `application/json` are accepted (a missing
/// `Content-Type` too, as several clients omit it); anything else is `415`.
///
/// # Errors
/// `415` for another media type, `400 invalidSyntax` for a body that is not a JSON object.
pub fn json_object(req: &HttpRequest, body: &[u8]) -> Result<serde_json::Map<String, Value>, ApiError> {
    check_media_type(req)?;
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            ScimType::InvalidSyntax,
            "the request body is empty; a JSON object is required",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::bad_request(ScimType::InvalidSyntax, "the request body must be a JSON object")),
        Err(e) => {
            Err(ApiError::bad_request(ScimType::InvalidSyntax, format!("the request body is not valid JSON: {e}")))
        }
    }
}

/// Checks the `Content-Type` of a request with a body.
///
/// # Errors
/// `415` for a media type other than SCIM or plain JSON.
pub fn check_media_type(req: &HttpRequest) -> Result<(), ApiError> {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else { return Ok(()) };
    let essence = value.to_str().unwrap_or_default().split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "application/scim+json" || essence == "application/json" {
        Ok(())
    } else {
        Err(ApiError::unsupported_media_type(format!(
            "unsupported media type {essence:?}; send application/scim+json or application/json"
        )))
    }
}

/// `If-None-Match`, as sent.
pub fn if_none_match(req: &HttpRequest) -> Option<String> {
    header_text(req, header::IF_NONE_MATCH)
}

/// `If-Match`, as sent (`*` included), once its syntax is checked: the worker compares it with the
/// current version where the change is applied, but a header that cannot match anything is refused
/// here, before a job exists.
///
/// # Errors
/// `400 invalidValue` for a value that is neither `*` nor a list of entity tags.
pub fn if_match(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = header_text(req, header::IF_MATCH) else {
        // A value that is not visible ASCII is not an entity tag either.
        return match req.headers().get(header::IF_MATCH) {
            Some(raw) if raw.to_str().is_err() => {
                Err(ApiError::bad_request(ScimType::InvalidValue, "If-Match must be '*' or a list of entity tags"))
            }
            _ => Ok(None),
        };
    };
    scim::etag::Precondition::parse(&value)
        .map_err(|e| ApiError::bad_request(ScimType::InvalidValue, format!("If-Match: {}", e.detail)))?;
    Ok(Some(value))
}

/// The longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 256;

/// The client's `Idempotency-Key`, scoped by connection.
///
/// # Errors
/// `400 invalidValue` for a key longer than [`MAX_IDEMPOTENCY_KEY`] or not visible ASCII: ignoring
/// it would run the request as new, which is what the client sent the key to prevent.
pub fn idempotency_key(req: &HttpRequest, connection: &str) -> Result<Option<String>, ApiError> {
    let name = header::HeaderName::from_static("idempotency-key");
    let Some(raw) = req.headers().get(&name) else { return Ok(None) };
    let key = raw.to_str().map(str::trim).ok();
    if key == Some("") {
        return Ok(None);
    }
    let key = key.unwrap_or_default();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ') {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
        ));
    }
    Ok(Some(format!("{connection}/{key}")))
}

/// The fingerprint of a request for its `Idempotency-Key`: its method, its path below the SCIM
/// base and a digest of `body`.
pub fn fingerprint(req: &HttpRequest, body: &[u8]) -> Fingerprint {
    let path = req.path();
    Fingerprint::new(req.method().as_str(), path.strip_prefix("/scim/v2").unwrap_or(path), body)
}

fn header_text(req: &HttpRequest, name: header::HeaderName) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// Whether an `If-None-Match` list matches `version` (weak comparison, RFC 9110 §13.1.2).
pub fn etag_matches(list: &str, version: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").trim_matches('"').to_owned();
    let ours = strip(version);
    list.split(',').any(|t| t.trim() == "*" || strip(t) == ours)
}

/// List parameters from a query string or a `.search` body, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListParams {
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub descending: Option<bool>,
    pub page: Page,
    pub projection: Projection,
}

/// The raw parameters, before validation.
#[derive(Debug, Default)]
struct RawParams {
    filter: Option<String>,
    sort_by: Option<String>,
    sort_order: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
    cursor: Option<String>,
    attributes: Vec<String>,
    excluded: Vec<String>,
}

/// Reads the projection parameters alone (for `GET /{type}/{id}` and writes).
///
/// # Errors
/// `400` for an unreadable query, both projections at once, or a list longer than
/// [`Limits::max_projection_names`].
pub fn projection_from_query(query: &str, limits: &Limits) -> Result<Projection, ApiError> {
    let raw = raw_from_query(query)?;
    projection(raw.attributes, raw.excluded, limits)
}

/// Reads `GET` list parameters. Names are matched case-insensitively, and
/// Delinea's `attributes[0]=id` form is accepted.
///
/// # Errors
/// `400` with the offending parameter named.
pub fn list_params_from_query(query: &str, limits: &Limits) -> Result<ListParams, ApiError> {
    validate(raw_from_query(query)?, limits)
}

fn raw_from_query(query: &str) -> Result<RawParams, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|e| ApiError::bad_request(ScimType::InvalidSyntax, format!("unreadable query string: {e}")))?;
    let mut raw = RawParams::default();
    for (name, value) in pairs {
        let lower = name.to_ascii_lowercase();
        let key = lower.split('[').next().unwrap_or_default();
        match key {
            "filter" => raw.filter = Some(value),
            "sortby" => raw.sort_by = Some(value),
            "sortorder" => raw.sort_order = Some(value),
            "startindex" => raw.start_index = Some(value),
            "count" => raw.count = Some(value),
            "cursor" => raw.cursor = Some(value),
            "attributes" => raw.attributes.extend(split_list(&value)),
            "excludedattributes" => raw.excluded.extend(split_list(&value)),
            // Unknown parameters are ignored, as RFC 7644 leaves room for extensions.
            _ => {}
        }
    }
    Ok(raw)
}

/// Reads a `POST .search` body (RFC 7644 §3.4.3).
///
/// # Errors
/// `400` for a body that is not a SearchRequest or carries invalid parameters.
pub fn list_params_from_search(body: &serde_json::Map<String, Value>, limits: &Limits) -> Result<ListParams, ApiError> {
    let get = |name: &str| body.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v);
    if let Some(schemas) = get("schemas") {
        let ok = schemas.as_array().is_some_and(|a| a.iter().any(|s| s.as_str() == Some(scim::urn::SEARCH_REQUEST)));
        if !ok {
            return Err(ApiError::bad_request(
                ScimType::InvalidSyntax,
                format!("a search request's schemas must include {}", scim::urn::SEARCH_REQUEST),
            ));
        }
    }
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(_) => Err(ApiError::bad_request(ScimType::InvalidValue, format!("{name} must be a string"))),
        }
    };
    let list = |name: &str| -> Result<Vec<String>, ApiError> {
        match get(name) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(split_list(s)),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::bad_request(ScimType::InvalidValue, format!("{name} must be an array of strings"))
                    })
                })
                .collect(),
            Some(_) => {
                Err(ApiError::bad_request(ScimType::InvalidValue, format!("{name} must be an array of strings")))
            }
        }
    };
    let raw = RawParams {
        filter: text("filter")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        start_index: text("startIndex")?,
        count: text("count")?,
        cursor: text("cursor")?,
        attributes: list("attributes")?,
        excluded: list("excludedAttributes")?,
    };
    validate(raw, limits)
}

fn split_list(value: &str) -> Vec<String> {
    value.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn projection(attributes: Vec<String>, excluded: Vec<String>, limits: &Limits) -> Result<Projection, ApiError> {
    if !attributes.is_empty() && !excluded.is_empty() {
        return Err(ApiError::bad_request(
            ScimType::InvalidSyntax,
            "send either attributes or excludedAttributes, not both",
        ));
    }
    // Projecting applies every name to every attribute of every resource answered: the lists are
    // bounded, and a name sent twice goes no further than once.
    let (attributes, excluded) =
        (distinct_names("attributes", attributes, limits)?, distinct_names("excludedAttributes", excluded, limits)?);
    // Every name must be an attribute path: checked here, before a read or a write is made, so that
    // a write is never applied only for its answer to be refused.
    scim::projection::Projection::from_lists(&attributes, &excluded)?;
    Ok(Projection { attributes, excluded_attributes: excluded })
}

/// The names of a projection list without repeats (compared case-insensitively, as attribute
/// names are: RFC 7643 §2.1), the first spelling kept.
///
/// # Errors
/// `400 invalidValue` for a list longer than [`Limits::max_projection_names`].
fn distinct_names(parameter: &str, names: Vec<String>, limits: &Limits) -> Result<Vec<String>, ApiError> {
    if names.len() > limits.max_projection_names {
        return Err(ApiError::bad_request(
            ScimType::InvalidValue,
            format!("{parameter} may name at most {} attributes", limits.max_projection_names),
        ));
    }
    let mut distinct: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !distinct.iter().any(|kept| kept.eq_ignore_ascii_case(&name)) {
            distinct.push(name);
        }
    }
    Ok(distinct)
}

fn integer(name: &str, value: &str) -> Result<i64, ApiError> {
    value
        .trim()
        .parse::<i64>()
        .map_err(|_| ApiError::bad_request(ScimType::InvalidValue, format!("{name} must be an integer, got {value:?}")))
}

fn validate(raw: RawParams, limits: &Limits) -> Result<ListParams, ApiError> {
    let filter = match raw.filter.map(|f| f.trim().to_owned()).filter(|f| !f.is_empty()) {
        Some(f) => {
            // Parsed here only to refuse an oversized, too deep or malformed filter early; the adapter
            // binds it to the schema and evaluates it.
            Filter::parse_with_limits(&f, limits.filter)?;
            Some(f)
        }
        None => None,
    };
    let descending = match raw.sort_order.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(o) if o.eq_ignore_ascii_case("ascending") => Some(false),
        Some(o) if o.eq_ignore_ascii_case("descending") => Some(true),
        Some(o) => {
            return Err(ApiError::bad_request(
                ScimType::InvalidValue,
                format!("sortOrder must be \"ascending\" or \"descending\", got {o:?}"),
            ));
        }
    };
    let count = match raw.count.as_deref() {
        // RFC 7644 §3.4.2.4: a negative count is 0; above the maximum, the maximum.
        Some(c) => integer("count", c)?.clamp(0, i64::from(limits.max_results)) as u32,
        None => limits.default_count,
    };
    let page = match raw.cursor {
        Some(cursor) => {
            if raw.start_index.is_some() {
                return Err(ApiError::bad_request(
                    ScimType::InvalidValue,
                    "send either cursor or startIndex, not both",
                ));
            }
            Page::Cursor { cursor, count: Some(count) }
        }
        None => {
            let start_index = match raw.start_index.as_deref() {
                Some(s) => integer("startIndex", s)?.max(1) as u64,
                None => 1,
            };
            Page::Index { start_index, count: Some(count) }
        }
    };
    Ok(ListParams {
        filter,
        sort_by: raw.sort_by.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()),
        descending,
        page,
        projection: projection(raw.attributes, raw.excluded, limits)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_parameters_are_read_case_insensitively_with_defaults() {
        let p = list_params_from_query("filter=userName%20eq%20%22a%22&StartIndex=11&Count=50", &Limits::default())
            .unwrap();
        assert_eq!(p.filter.as_deref(), Some("userName eq \"a\""));
        assert_eq!(p.page, Page::Index { start_index: 11, count: Some(50) });
        let p = list_params_from_query("", &Limits::default()).unwrap();
        assert_eq!(p.page, Page::Index { start_index: 1, count: Some(100) });
    }

    #[test]
    fn count_is_clamped_to_zero_and_to_the_maximum_and_start_index_to_one() {
        let p = list_params_from_query("count=-5&startIndex=0", &Limits::default()).unwrap();
        assert_eq!(p.page, Page::Index { start_index: 1, count: Some(0) });
        let p = list_params_from_query("count=100000", &Limits::default()).unwrap();
        assert_eq!(p.page, Page::Index { start_index: 1, count: Some(1000) });
    }

    #[test]
    fn a_malformed_filter_is_refused_with_invalid_filter() {
        let e = list_params_from_query("filter=userName%20eq", &Limits::default()).unwrap_err();
        assert_eq!(e.error.scim_type, Some(ScimType::InvalidFilter));
        let mut limits = Limits::default();
        limits.filter.max_length = 10;
        let e = list_params_from_query("filter=userName%20eq%20%22abcdef%22", &limits).unwrap_err();
        assert_eq!(e.error.scim_type, Some(ScimType::InvalidFilter));
    }

    #[test]
    fn delinea_indexed_attribute_parameters_are_accepted() {
        let p = list_params_from_query("attributes[0]=id&attributes[1]=userName", &Limits::default()).unwrap();
        assert_eq!(p.projection.attributes, vec!["id", "userName"]);
    }

    #[test]
    fn an_empty_cursor_asks_for_the_first_cursor_page() {
        let p = list_params_from_query("cursor=&count=10", &Limits::default()).unwrap();
        assert_eq!(p.page, Page::Cursor { cursor: String::new(), count: Some(10) });
        assert!(list_params_from_query("cursor=abc&startIndex=2", &Limits::default()).is_err());
    }

    #[test]
    fn a_search_body_is_read_like_the_query() {
        let body = serde_json::json!({
            "schemas": [scim::urn::SEARCH_REQUEST],
            "attributes": ["displayName"],
            "filter": "displayName sw \"smith\"",
            "startIndex": 1,
            "count": 10,
            "sortOrder": "descending"
        });
        let p = list_params_from_search(body.as_object().unwrap(), &Limits::default()).unwrap();
        assert_eq!(p.projection.attributes, vec!["displayName"]);
        assert_eq!(p.page, Page::Index { start_index: 1, count: Some(10) });
        assert_eq!(p.descending, Some(true));
    }

    #[test]
    fn a_projection_list_longer_than_its_bound_is_refused_with_invalid_value() {
        let limits = Limits { max_projection_names: 3, ..Limits::default() };
        let query = |parameter: &str, n: usize| {
            let names: Vec<String> = (0..n).map(|i| format!("name{i}")).collect();
            format!("{parameter}={}", names.join(","))
        };
        for parameter in ["attributes", "excludedAttributes"] {
            assert!(projection_from_query(&query(parameter, 3), &limits).is_ok(), "{parameter}: at the bound");
            let e = projection_from_query(&query(parameter, 4), &limits).unwrap_err();
            assert_eq!(e.error.scim_type, Some(ScimType::InvalidValue), "{parameter}");
            assert!(list_params_from_query(&query(parameter, 4), &limits).is_err(), "{parameter} in a list");
        }
        let body = serde_json::json!({"excludedAttributes": vec!["members.value"; 4]});
        let e = list_params_from_search(body.as_object().unwrap(), &limits).unwrap_err();
        assert_eq!(e.error.scim_type, Some(ScimType::InvalidValue), "repeats count as sent");
    }

    #[test]
    fn a_name_repeated_in_a_projection_goes_no_further_than_once_in_its_first_spelling() {
        let p =
            projection_from_query("attributes=userName,emails,USERNAME,emails,userName", &Limits::default()).unwrap();
        assert_eq!(p.attributes, vec!["userName", "emails"]);
        let body = serde_json::json!({"excludedAttributes": ["members.value", "Members.Value", "meta"]});
        let p = list_params_from_search(body.as_object().unwrap(), &Limits::default()).unwrap();
        assert_eq!(p.projection.excluded_attributes, vec!["members.value", "meta"]);
    }

    #[test]
    fn the_base_url_is_what_connection_info_gives_whatever_the_worker_made_before() {
        use actix_web::test::TestRequest;
        let requests = || {
            [
                TestRequest::get().uri("/scim/v2/Users/1").insert_header(("host", "scim.example.com")),
                TestRequest::get().uri("/scim/v2/Users/1").insert_header(("host", "other.example.com:8443")),
                TestRequest::get().uri("/scim/v2/Users/1"),
                TestRequest::get()
                    .uri("/scim/v2/Users/1")
                    .insert_header(("host", "scim.example.com"))
                    .insert_header(("x-forwarded-proto", "https")),
                TestRequest::get()
                    .uri("/scim/v2/Users/1")
                    .insert_header(("host", "scim.example.com"))
                    .insert_header(("x-forwarded-host", "front.example.com")),
                TestRequest::get()
                    .uri("/scim/v2/Users/1")
                    .insert_header(("host", "scim.example.com"))
                    .insert_header(("forwarded", "proto=https;host=edge.example.com")),
                TestRequest::get().uri("https://absolute.example.com/scim/v2/Users/1"),
                TestRequest::get().uri("/scim/v2/Users/1").insert_header(("host", "scim.example.com")),
            ]
        };
        let direct = GatewaySettings::default();
        let public = GatewaySettings {
            public_url: Some(url::Url::parse("https://public.example.com/base/").unwrap()),
            ..GatewaySettings::default()
        };
        for _ in 0..2 {
            for (settings, request) in
                requests().into_iter().map(|r| (&direct, r)).chain(requests().into_iter().map(|r| (&public, r)))
            {
                let req = request.to_http_request();
                let expected = match &settings.public_url {
                    Some(url) => format!("{}/scim/v2", url.as_str().trim_end_matches('/')),
                    None => {
                        let info = req.connection_info();
                        format!("{}://{}/scim/v2", info.scheme(), info.host())
                    }
                };
                assert_eq!(&*base_url(&req, settings), expected, "{:?}", req.headers());
            }
        }
    }

    #[test]
    fn weak_etags_match_whatever_the_weak_prefix() {
        assert!(etag_matches("W/\"3\"", "W/\"3\""));
        assert!(etag_matches("\"3\", W/\"4\"", "W/\"4\""));
        assert!(etag_matches("*", "W/\"4\""));
        assert!(!etag_matches("W/\"3\"", "W/\"4\""));
    }
}
