//! Resource JSON from arbitrary bytes: validate as every resource type (normalizing twice gives the
//! same document; a resource replaces itself), project it, version it; screen it for unknown
//! attributes (a valid body has none; a screened body is never refused for a name it carries); and
//! the same bytes as a Bulk request and a `/.search` body. Every failure must be a client error with a `scimType`
//! (or the 413 of a Bulk request over its limits, or the 409 of circular `bulkId`s).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::bulk::{BulkIds, BulkLimits, BulkRequest};
use scim::projection::Projection;
use scim::search::{QueryLimits, SearchRequest};
use scim::unknown::screen_resource;
use scim::{ResourceKind, Schemas, validate_create, validate_replace};
use std::sync::OnceLock;

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(Schemas::standard)
}

fn client_error(e: &scim::ScimError) {
    assert!(e.status == 400 && e.scim_type.is_some(), "unexpected error {e}");
}

/// Whether `e` refuses a name the schema does not define (what screening takes out).
fn refuses_a_name(e: &scim::ScimError) -> bool {
    ["is not an attribute of", "is not a sub-attribute of", "is not a schema of"].iter().any(|s| e.detail.contains(s))
}

fuzz_target!(|data: &[u8]| {
    let limits = BulkLimits { max_operations: 50, max_payload_bytes: 64 * 1024 };
    match BulkRequest::parse(data, limits) {
        Ok(bulk) => match bulk.execution_order() {
            Ok(order) => {
                assert_eq!(order.len(), bulk.operations.len());
                let ids = BulkIds::for_request(&bulk);
                for entry in &bulk.operations {
                    if let Ok(op) = &entry.operation {
                        if let Some(d) = &op.data {
                            let _ = ids.resolve_value(d);
                        }
                    }
                }
            }
            Err(e) => assert_eq!(e.status, 409),
        },
        Err(e) => assert!(e.status == 413 || (e.status == 400 && e.scim_type.is_some()), "{e}"),
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    match SearchRequest::parse(&value).and_then(|s| s.into_query(&QueryLimits::default())) {
        Ok(q) => {
            let _ = q.fingerprint();
        }
        Err(e) => client_error(&e),
    }
    let projection = Projection::parse(
        Some("userName,name.givenName,emails.value,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
        None,
    )
    .expect("a fixed projection parses");
    for kind in ResourceKind::ALL {
        let screened = screen_resource(schemas(), kind, value.clone());
        if screened.is_clean() {
            assert_eq!(screened.body, value, "screening a clean body changes nothing");
        }
        if let Err(e) = validate_create(schemas(), kind, &screened.body) {
            assert!(!refuses_a_name(&e), "a screened body is refused for a name: {e}");
        }
        match validate_create(schemas(), kind, &value) {
            Ok(doc) => {
                assert!(screened.is_clean(), "a valid body has nothing unknown: {:?}", screened.unknown);
                let again = validate_create(schemas(), kind, &doc).expect("a normalized resource validates");
                assert_eq!(again, doc, "normalization is idempotent");
                validate_replace(schemas(), kind, &doc, &doc).expect("a resource replaces itself");
                let _ = Projection::default().apply(schemas(), kind, &doc);
                let _ = projection.apply(schemas(), kind, &doc);
                let _ = scim::etag::version_of(&doc);
            }
            Err(e) => client_error(&e),
        }
        let _ = projection.apply(schemas(), kind, &value);
    }
});
