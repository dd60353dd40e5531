//! PATCH documents from arbitrary bytes: parse, then apply to a user, a group (with and without its
//! members) and a permission. Every failure must be a client error with a `scimType`, or the 501
//! of a member lookup that cannot list members; a success must leave a valid-looking document.
//! Screening for unknown attributes changes nothing in a body with none, and finds none in a body
//! that applies.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim::patch::NoMemberLookup;
use scim::{Member, PatchRequest, ResourceKind, Schemas};
use serde_json::{Value, json};
use std::sync::OnceLock;

fn schemas() -> &'static Schemas {
    static S: OnceLock<Schemas> = OnceLock::new();
    S.get_or_init(Schemas::standard)
}

fn targets() -> &'static [(ResourceKind, Value)] {
    static T: OnceLock<Vec<(ResourceKind, Value)>> = OnceLock::new();
    T.get_or_init(|| {
        let user = json!({
            "schemas": [scim::urn::USER, scim::urn::ENTERPRISE_USER], "id": "2819c223", "userName": "bjensen",
            "name": {"givenName": "Barbara", "familyName": "Jensen"}, "active": true,
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}, {"value": "b@home.org", "type": "home"}],
            "addresses": [{"type": "work", "streetAddress": "100 Universal City Plaza"}],
            "meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z"},
            scim::urn::ENTERPRISE_USER: {"employeeNumber": "7", "manager": {"value": "m1"}}
        });
        let group = json!({"schemas": [scim::urn::GROUP], "id": "g1", "displayName": "Tour Guides"});
        let mut with_members = group.clone();
        with_members["members"] = json!([{"value": "u1", "type": "User", "display": "Alice"}, {"value": "g2", "type": "Group"}]);
        let perm = json!({"schemas": [scim::urn::CONTAINER_PERMISSION], "id": "p1",
                          "container": {"value": "12", "display": "Root"}, "user": {"value": "u1"}, "rights": ["View"]});
        vec![
            (ResourceKind::User, user),
            (ResourceKind::Group, group),
            (ResourceKind::Group, with_members),
            (ResourceKind::ContainerPermission, perm),
        ]
    })
}

fn check(e: &scim::ScimError) {
    let allowed = (e.status == 400 && e.scim_type.is_some()) || (e.status == 501 && e.scim_type.is_none());
    assert!(allowed, "unexpected error {e}");
}

fuzz_target!(|data: &[u8]| {
    let screened: Vec<_> = match serde_json::from_slice::<Value>(data) {
        Ok(value) => targets()
            .iter()
            .map(|(kind, _)| {
                let s = scim::unknown::screen_patch(schemas(), *kind, value.clone());
                if s.is_clean() {
                    assert_eq!(s.body, value, "screening a clean body changes nothing");
                }
                s.is_clean()
            })
            .collect(),
        Err(_) => vec![true; targets().len()],
    };
    let request = match PatchRequest::from_slice(data) {
        Ok(r) => r,
        Err(e) => {
            check(&e);
            return;
        }
    };
    let lookup = vec![Member::new("u1"), Member { value: "g2".into(), kind: Some("Group".into()), reference: None }];
    for ((kind, doc), clean) in targets().iter().zip(screened) {
        for members in [&NoMemberLookup as &dyn scim::MemberLookup, &lookup] {
            match request.apply(schemas(), *kind, doc, members) {
                Ok(out) => {
                    assert!(clean, "a PATCH that applies has nothing unknown");
                    let obj = out.resource.as_object().expect("a patched resource is an object");
                    assert!(obj.contains_key("schemas"));
                    if !out.changed {
                        assert!(out.members.as_ref().is_none_or(|m| m.is_empty()));
                    }
                }
                Err(e) => check(&e),
            }
        }
    }
});
