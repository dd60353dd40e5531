//! What every end-to-end test needs: a SCIM client with the stack's bearer token, and a view of
//! Secret Server's own state through the emulator's REST API.

use connector::testing::TestStack;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use std::time::Duration;

pub(crate) const SCIM_JSON: &str = "application/scim+json";

/// A SCIM client of one of the stack's connections (the development connection unless told otherwise).
pub(crate) struct Scim<'a> {
    pub stack: &'a TestStack,
    pub http: reqwest::Client,
    token: SecretString,
}

impl<'a> Scim<'a> {
    pub(crate) fn new(stack: &'a TestStack) -> Self {
        Self::with_token(stack, stack.token.clone())
    }

    /// A client of the connection that `token` authenticates (one made through the admin API).
    pub(crate) fn with_token(stack: &'a TestStack, token: SecretString) -> Self {
        Self { stack, http: reqwest::Client::new(), token }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.scim_base_url())
    }

    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).bearer_auth(self.token.expose_secret())
    }

    pub(crate) fn post(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.with_body(self.http.post(self.url(path)), body)
    }

    pub(crate) fn put(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.with_body(self.http.put(self.url(path)), body)
    }

    /// A PATCH with `operations` wrapped in a `PatchOp` message.
    pub(crate) fn patch(&self, path: &str, operations: &Value) -> reqwest::RequestBuilder {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": operations,
        });
        self.with_body(self.http.patch(self.url(path)), &body)
    }

    pub(crate) fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.delete(self.url(path)).bearer_auth(self.token.expose_secret())
    }

    fn with_body(&self, request: reqwest::RequestBuilder, body: &Value) -> reqwest::RequestBuilder {
        request.bearer_auth(self.token.expose_secret()).header("content-type", SCIM_JSON).body(body.to_string())
    }
}

/// Secret Server's own view, through the emulator's REST API with its API account.
pub(crate) async fn secret_server_get(stack: &TestStack, path: &str) -> (u16, Value) {
    let http = reqwest::Client::new();
    let base = stack.sim.base_url();
    let access = test_support::emulator::token(&http, &stack.sim).await;
    let response = http.get(format!("{base}/api/v1{path}")).bearer_auth(access).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The audit records matching `query`, through the audit API with the admin token.
pub(crate) async fn audit_records(stack: &TestStack, query: &str) -> Vec<Value> {
    stack.audit_records(query).await
}

/// Polls `check` until it returns `Some` (the audit service records events asynchronously).
pub(crate) async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let found = test_support::poll_until(Duration::from_secs(10), Duration::from_millis(100), check).await;
    found.unwrap_or_else(|| panic!("{what} did not happen within 10 s"))
}
