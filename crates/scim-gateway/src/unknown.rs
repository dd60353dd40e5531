//! Attributes of a request body that the schema does not define (POST, PUT, PATCH values, each
//! Bulk operation): the `scim` crate screens the body ([`scim::unknown`]) and the connection's
//! [`UnknownAttributePolicy`] decides. `ignore` (the default) sends the job on without them, so
//! that the adapter never sees a key the schema does not define, names them in the call's
//! `ScimCall` audit record (names only, never values) and counts them in
//! `scim_gateway_ignored_attributes_total`; `reject` answers the `400` the validator gives.
//!
//! The names reach the audit record through the request: [`IgnoredAttributes`] lives in the
//! request's extensions, where the handler adds to it and the SCIM middleware reads it once the
//! request is answered (a Bulk request collects every operation's).

use crate::auth::Caller;
use crate::errors::ApiError;
use actix_web::{HttpMessage, HttpRequest};
use connections::UnknownAttributePolicy;
use parking_lot::Mutex;
use scim::ResourceKind;
use scim::unknown::Screened;
use serde_json::Value;
use std::sync::Arc;

/// The names of the attributes ignored while answering one SCIM request, distinct, in order.
#[derive(Debug, Clone, Default)]
pub struct IgnoredAttributes(Arc<Mutex<Vec<String>>>);

impl IgnoredAttributes {
    /// The collector of `req`, made on first use.
    pub fn of(req: &HttpRequest) -> Self {
        if let Some(ignored) = req.extensions().get::<Self>() {
            return ignored.clone();
        }
        let ignored = Self::default();
        req.extensions_mut().insert(ignored.clone());
        ignored
    }

    /// What was ignored so far.
    pub fn names(&self) -> Vec<String> {
        self.0.lock().clone()
    }

    fn add(&self, names: Vec<String>) {
        let mut all = self.0.lock();
        for name in names {
            if !all.contains(&name) {
                all.push(name);
            }
        }
    }
}

/// The body to send on: `screened`'s body when the connection ignores unknown attributes (recording
/// their names in `ignored`), or the body as it came when it had none.
///
/// # Errors
/// `400` (the validator's `invalidSyntax`, `invalidPath` or `invalidValue`, naming the first) when
/// the body has some and the connection's policy is `reject`.
pub fn admit(
    caller: &Caller,
    kind: ResourceKind,
    screened: Screened,
    ignored: &IgnoredAttributes,
) -> Result<Value, ApiError> {
    let Some(refusal) = screened.refusal().cloned() else { return Ok(screened.body) };
    match caller.connection.policies.unknown_attributes {
        UnknownAttributePolicy::Reject => Err(ApiError::from(refusal)),
        UnknownAttributePolicy::Ignore => {
            let names = screened.names();
            metrics::counter!(
                "scim_gateway_ignored_attributes_total",
                "connection" => caller.connection.id.to_string(),
                "resource_type" => kind.name(),
            )
            .increment(names.len() as u64);
            ignored.add(names);
            Ok(screened.body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;
    use connections::{AuthMethod, Connection};
    use serde_json::json;

    fn caller(policy: UnknownAttributePolicy) -> Caller {
        let mut connection: Connection =
            serde_json::from_value(json!({"id": "postman", "secretServer": "primary"})).unwrap();
        connection.policies.unknown_attributes = policy;
        Caller { connection: Arc::new(connection), method: AuthMethod::StaticToken, credential_id: "t1".into() }
    }

    fn screened(body: Value) -> Screened {
        scim::unknown::screen_resource(&scim::Schemas::standard(), ResourceKind::User, body)
    }

    #[test]
    fn an_ignoring_connection_sends_the_body_on_without_them_and_records_their_names_once() {
        let req = TestRequest::default().to_http_request();
        let ignored = IgnoredAttributes::of(&req);
        let body = admit(
            &caller(UnknownAttributePolicy::Ignore),
            ResourceKind::User,
            screened(json!({"userName": "a", "shoeSize": 44})),
            &ignored,
        )
        .unwrap();
        assert_eq!(body, json!({"userName": "a"}));
        admit(
            &caller(UnknownAttributePolicy::Ignore),
            ResourceKind::User,
            screened(json!({"userName": "b", "shoeSize": 45, "hatSize": 7})),
            &IgnoredAttributes::of(&req),
        )
        .unwrap();
        assert_eq!(IgnoredAttributes::of(&req).names(), vec!["shoeSize", "hatSize"]);
    }

    #[test]
    fn a_rejecting_connection_answers_the_validators_400() {
        let ignored = IgnoredAttributes::default();
        let error = admit(
            &caller(UnknownAttributePolicy::Reject),
            ResourceKind::User,
            screened(json!({"userName": "a", "shoeSize": 44})),
            &ignored,
        )
        .unwrap_err();
        assert_eq!(error.status().as_u16(), 400);
        assert_eq!(error.to_scim().scim_type, Some(scim::ScimType::InvalidSyntax));
        assert!(ignored.names().is_empty());
    }

    #[test]
    fn a_clean_body_passes_whatever_the_policy() {
        for policy in [UnknownAttributePolicy::Ignore, UnknownAttributePolicy::Reject] {
            let body = json!({"userName": "a"});
            let admitted =
                admit(&caller(policy), ResourceKind::User, screened(body.clone()), &IgnoredAttributes::default());
            assert_eq!(admitted.unwrap(), body);
        }
    }
}
