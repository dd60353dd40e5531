//! The `/ServiceProviderConfig` document (RFC 7643 §5, with RFC 9865 `pagination`).

use serde_json::{Map, Value, json};

/// An authentication scheme advertised to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationScheme {
    /// `oauthbearertoken`, `httpbasic`, `oauth2`...
    pub kind: String,
    pub name: String,
    pub description: String,
    pub spec_uri: Option<String>,
    pub documentation_uri: Option<String>,
    pub primary: bool,
}

impl AuthenticationScheme {
    /// A static bearer token (RFC 6750), the way Entra, Okta, OneLogin and SailPoint authenticate.
    pub fn bearer_token(primary: bool) -> Self {
        Self {
            kind: "oauthbearertoken".into(),
            name: "OAuth Bearer Token".into(),
            description: "Authentication scheme using the OAuth Bearer Token Standard".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6750".into()),
            documentation_uri: None,
            primary,
        }
    }

    /// OAuth 2.0 client credentials issuing bearer tokens.
    pub fn oauth2(primary: bool) -> Self {
        Self {
            kind: "oauth2".into(),
            name: "OAuth 2.0".into(),
            description: "OAuth 2.0 client credentials grant issuing bearer tokens".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc6749".into()),
            documentation_uri: None,
            primary,
        }
    }

    /// HTTP Basic (RFC 7617).
    pub fn http_basic(primary: bool) -> Self {
        Self {
            kind: "httpbasic".into(),
            name: "HTTP Basic".into(),
            description: "Authentication scheme using the HTTP Basic Standard".into(),
            spec_uri: Some("https://www.rfc-editor.org/info/rfc7617".into()),
            documentation_uri: None,
            primary,
        }
    }
}

/// The default paging method when a request names none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaginationMethod {
    Index,
    Cursor,
}

/// RFC 9865 `pagination`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaginationSupport {
    pub cursor: bool,
    pub index: bool,
    pub default_method: PaginationMethod,
    pub default_page_size: usize,
    pub max_page_size: usize,
    pub cursor_timeout_secs: u64,
}

/// What the server supports; [`ServiceProviderConfig::document`] turns it into the RFC document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderConfig {
    pub documentation_uri: Option<String>,
    pub patch: bool,
    pub bulk: Option<crate::bulk::BulkLimits>,
    /// `filter.maxResults`; `None` when filtering is not supported.
    pub filter_max_results: Option<usize>,
    pub change_password: bool,
    pub sort: bool,
    pub etag: bool,
    pub pagination: Option<PaginationSupport>,
    pub authentication_schemes: Vec<AuthenticationScheme>,
}

impl Default for ServiceProviderConfig {
    /// What this connector supports: PATCH, Bulk with the default limits, filters (up to 1000
    /// results a page), sort, ETags, index and cursor paging; no password change (nothing may
    /// touch a secret); bearer tokens.
    fn default() -> Self {
        let paging = crate::paging::PagingLimits::DEFAULT;
        Self {
            documentation_uri: None,
            patch: true,
            bulk: Some(crate::bulk::BulkLimits::DEFAULT),
            filter_max_results: Some(paging.max_count),
            change_password: false,
            sort: true,
            etag: true,
            pagination: Some(PaginationSupport {
                cursor: true,
                index: true,
                default_method: PaginationMethod::Index,
                default_page_size: paging.default_count,
                max_page_size: paging.max_count,
                cursor_timeout_secs: 3600,
            }),
            authentication_schemes: vec![AuthenticationScheme::bearer_token(true)],
        }
    }
}

impl ServiceProviderConfig {
    /// The `/ServiceProviderConfig` document, with `meta.location` under `base_url`.
    pub fn document(&self, base_url: &str) -> Value {
        let supported = |b: bool| json!({ "supported": b });
        let mut doc = Map::new();
        doc.insert("schemas".into(), json!([crate::urn::SERVICE_PROVIDER_CONFIG]));
        if let Some(uri) = &self.documentation_uri {
            doc.insert("documentationUri".into(), json!(uri));
        }
        doc.insert("patch".into(), supported(self.patch));
        doc.insert(
            "bulk".into(),
            match &self.bulk {
                Some(b) => {
                    json!({"supported": true, "maxOperations": b.max_operations, "maxPayloadSize": b.max_payload_bytes})
                }
                None => json!({"supported": false, "maxOperations": 0, "maxPayloadSize": 0}),
            },
        );
        doc.insert(
            "filter".into(),
            match self.filter_max_results {
                Some(n) => json!({"supported": true, "maxResults": n}),
                None => json!({"supported": false, "maxResults": 0}),
            },
        );
        doc.insert("changePassword".into(), supported(self.change_password));
        doc.insert("sort".into(), supported(self.sort));
        doc.insert("etag".into(), supported(self.etag));
        if let Some(p) = &self.pagination {
            doc.insert(
                "pagination".into(),
                json!({
                    "cursor": p.cursor,
                    "index": p.index,
                    "defaultPaginationMethod": match p.default_method { PaginationMethod::Index => "index", PaginationMethod::Cursor => "cursor" },
                    "defaultPageSize": p.default_page_size,
                    "maxPageSize": p.max_page_size,
                    "cursorTimeout": p.cursor_timeout_secs,
                }),
            );
        }
        let schemes: Vec<Value> = self
            .authentication_schemes
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("type".into(), json!(s.kind));
                o.insert("name".into(), json!(s.name));
                o.insert("description".into(), json!(s.description));
                if let Some(u) = &s.spec_uri {
                    o.insert("specUri".into(), json!(u));
                }
                if let Some(u) = &s.documentation_uri {
                    o.insert("documentationUri".into(), json!(u));
                }
                if s.primary {
                    o.insert("primary".into(), json!(true));
                }
                Value::Object(o)
            })
            .collect();
        doc.insert("authenticationSchemes".into(), Value::Array(schemes));
        doc.insert(
            "meta".into(),
            json!({
                "resourceType": "ServiceProviderConfig",
                "location": format!("{}/ServiceProviderConfig", base_url.trim_end_matches('/')),
            }),
        );
        Value::Object(doc)
    }
}
