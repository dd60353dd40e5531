//! Filters and PATCH paths from arbitrary text: parse, print, parse again (same tree), compile for
//! every resource type, evaluate, plan. Errors must be `invalidFilter` / `invalidPath` (400).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::{Filter, FilterLimits, PatchPath, ResourceKind, Schemas, ScimType};
use serde_json::json;
use std::sync::OnceLock;

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(Schemas::standard)
}

fn docs() -> &'static [serde_json::Value] {
    static D: OnceLock<Vec<serde_json::Value>> = OnceLock::new();
    D.get_or_init(|| {
        vec![
            json!({"schemas": [scim::urn::USER, scim::urn::ENTERPRISE_USER], "id": "1", "userName": "bjensen", "active": "True",
                   "name": {"givenName": "Barbara"}, "emails": [{"value": "b@example.com", "type": "work", "primary": true}, "odd"],
                   "meta": {"lastModified": "2011-05-13T04:42:34Z"}, "rights": ["View", 3, null],
                   scim::urn::ENTERPRISE_USER: {"employeeNumber": "7", "manager": {"value": "m"}},
                   "container": {"value": "12"}, "members": [{"value": "u1", "type": "User"}]}),
            json!({"id": 5, "userName": ["x"], "emails": {"value": 1}, "meta": "x", "active": 1}),
            json!([1, 2]),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let unlimited = FilterLimits { max_length: usize::MAX, max_depth: FilterLimits::DEFAULT.max_depth };
    match Filter::parse(text) {
        Ok(f) => {
            let printed = f.to_string();
            let again = Filter::parse_with_limits(&printed, unlimited);
            assert_eq!(again.as_ref(), Ok(&f), "{printed}");
            for kind in ResourceKind::ALL {
                match f.compile(schemas(), kind) {
                    Ok(c) => {
                        for d in docs() {
                            let _ = c.matches(d);
                        }
                        let _ = c.plan();
                        let _ = c.equality_values();
                    }
                    Err(e) => assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidFilter)), "{e}"),
                }
            }
            if let Some(members) = schemas().attribute(ResourceKind::Group, "members") {
                if let Ok(c) = f.compile_for_element(members) {
                    let _ = c.matches(&json!({"value": "u1", "display": "Alice"}));
                }
            }
        }
        Err(e) => assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidFilter)), "{e}"),
    }
    match PatchPath::parse(text) {
        Ok(p) => {
            let printed = p.to_string();
            let again = PatchPath::parse(&printed);
            assert_eq!(again.as_ref(), Ok(&p), "{printed}");
        }
        Err(e) => assert_eq!((e.status, e.scim_type), (400, Some(ScimType::InvalidPath)), "{e}"),
    }
});
