//! PATCH: the RFC 7644 §3.5.2 examples give the results the RFC describes; every client form gives
//! the same resource as its RFC-equivalent request; malformed PATCHes get the right `scimType`.

mod common;

use common::fixture;
use scim::patch::NoMemberLookup;
use scim::{Member, MembersChange, PatchOutcome, PatchRequest, ResourceKind, Schemas, ScimError, ScimType};
use serde_json::{Value, json};

const BABS: &str = "2819c223-7f76-453a-919d-413861904646";
const MANDY: &str = "902c246b-6245-4190-8e05-00816be7344a";
const JAMES: &str = "08e1d05d-121c-4561-8b96-473d93df9210";

fn example(name: &str) -> Value {
    fixture("rfc7644_3_5_2_patch_examples.json")[name].clone()
}

fn apply_to(kind: ResourceKind, resource: &Value, body: &Value) -> Result<PatchOutcome, ScimError> {
    let schemas = Schemas::standard();
    PatchRequest::parse(body)?.apply(&schemas, kind, resource, &NoMemberLookup)
}

fn user(resource: &Value, body: Value) -> PatchOutcome {
    apply_to(ResourceKind::User, resource, &body).unwrap_or_else(|e| panic!("{body}: {e}"))
}

fn ops(ops: Value) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": ops})
}

fn group_without_members() -> Value {
    let mut g = fixture("rfc7643_8_4_group.json");
    g.as_object_mut().unwrap().remove("members");
    g
}

fn member(id: &str, reference: Option<&str>) -> Member {
    Member { value: id.into(), kind: None, reference: reference.map(str::to_owned) }
}

fn user_ref(id: &str) -> String {
    format!("https://example.com/v2/Users/{id}")
}

// ---- RFC 7644 §3.5.2 examples ----

#[test]
fn rfc_add_member_to_a_group_is_a_delta_of_one_addition() {
    let out = apply_to(ResourceKind::Group, &group_without_members(), &example("add_member")).unwrap();
    assert_eq!(
        out.members,
        Some(MembersChange::Delta { added: vec![member(BABS, Some(&user_ref(BABS)))], removed: vec![] })
    );
    assert!(out.changed);
    assert!(out.resource.get("members").is_none(), "the member list is never rewritten");
    // With the members known, adding an existing member is no change at all.
    let out = apply_to(ResourceKind::Group, &fixture("rfc7643_8_4_group.json"), &example("add_member")).unwrap();
    assert_eq!(out.members, Some(MembersChange::default()));
    assert!(!out.changed);
}

#[test]
fn rfc_add_without_path_adds_each_attribute() {
    let out = user(&fixture("rfc7643_8_1_minimal_user.json"), example("add_without_path"));
    assert_eq!(out.resource["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
    assert_eq!(out.resource["nickName"], "Babs");
    assert!(out.changed);
    // The full user already has both values: no change (RFC 7644 §3.5.2.1).
    let out = user(&fixture("rfc7643_8_2_full_user.json"), example("add_without_path"));
    assert!(!out.changed, "{}", out.resource);
}

#[test]
fn rfc_remove_one_member_by_filter() {
    let out = apply_to(ResourceKind::Group, &group_without_members(), &example("remove_one_member")).unwrap();
    assert_eq!(out.members, Some(MembersChange::Delta { added: vec![], removed: vec![BABS.into()] }));
    let out = apply_to(ResourceKind::Group, &fixture("rfc7643_8_4_group.json"), &example("remove_one_member")).unwrap();
    assert_eq!(out.resource["members"].as_array().unwrap().len(), 1);
    assert_eq!(out.resource["members"][0]["value"], MANDY);
    assert!(out.changed);
}

#[test]
fn rfc_remove_all_members() {
    let out = apply_to(ResourceKind::Group, &group_without_members(), &example("remove_all_members")).unwrap();
    assert_eq!(out.members, Some(MembersChange::ReplaceAll(vec![])));
    let out =
        apply_to(ResourceKind::Group, &fixture("rfc7643_8_4_group.json"), &example("remove_all_members")).unwrap();
    assert_eq!(out.members, Some(MembersChange::Delta { added: vec![], removed: vec![BABS.into(), MANDY.into()] }));
    assert_eq!(out.resource["members"], json!([]));
}

#[test]
fn rfc_remove_by_complex_filter_removes_only_matching_elements() {
    let out = user(&fixture("rfc7643_8_2_full_user.json"), example("remove_by_complex_filter"));
    assert_eq!(out.resource["emails"], json!([{"value": "babs@jensen.org", "type": "home"}]));
}

#[test]
fn rfc_remove_all_then_add_equals_replace_members() {
    let a = apply_to(ResourceKind::Group, &group_without_members(), &example("remove_all_then_add_members")).unwrap();
    let b = apply_to(ResourceKind::Group, &group_without_members(), &example("replace_members")).unwrap();
    let expected =
        MembersChange::ReplaceAll(vec![member(BABS, Some(&user_ref(BABS))), member(JAMES, Some(&user_ref(JAMES)))]);
    assert_eq!(a.members, Some(expected.clone()));
    assert_eq!(b.members, Some(expected));
    let known = fixture("rfc7643_8_4_group.json");
    let a = apply_to(ResourceKind::Group, &known, &example("remove_all_then_add_members")).unwrap();
    assert_eq!(
        a.members,
        Some(MembersChange::Delta { added: vec![member(JAMES, Some(&user_ref(JAMES)))], removed: vec![MANDY.into()] })
    );
}

#[test]
fn rfc_replace_work_address_replaces_that_element() {
    let out = user(&fixture("rfc7643_8_2_full_user.json"), example("replace_work_address"));
    let addresses = out.resource["addresses"].as_array().unwrap();
    assert_eq!(addresses.len(), 2);
    assert_eq!(addresses[0]["streetAddress"], "911 Universal City Plaza");
    assert_eq!(addresses[0]["country"], "US");
    assert_eq!(addresses[1]["streetAddress"], "456 Hollywood Blvd");
}

#[test]
fn rfc_replace_work_street_changes_only_that_sub_attribute() {
    let before = fixture("rfc7643_8_2_full_user.json");
    let out = user(&before, example("replace_work_street"));
    assert_eq!(out.resource["addresses"][0]["streetAddress"], "1010 Broadway Ave");
    assert_eq!(out.resource["addresses"][0]["locality"], "Hollywood");
    assert_eq!(out.resource["addresses"][1], before["addresses"][1]);
}

#[test]
fn rfc_replace_without_path_replaces_each_attribute() {
    let out = user(&fixture("rfc7643_8_1_minimal_user.json"), example("replace_without_path"));
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), 2);
    assert_eq!(out.resource["nickName"], "Babs");
    let out = user(&fixture("rfc7643_8_2_full_user.json"), example("replace_without_path"));
    assert!(!out.changed, "same values: no change");
}

#[test]
fn rfc_replace_of_a_missing_attribute_is_an_add() {
    let out = user(
        &fixture("rfc7643_8_1_minimal_user.json"),
        ops(json!([{"op": "replace", "path": "title", "value": "Boss"}])),
    );
    assert_eq!(out.resource["title"], "Boss");
}

#[test]
fn rfc_add_on_a_multi_valued_attribute_appends_and_keeps_one_primary() {
    let out = user(
        &fixture("rfc7643_8_2_full_user.json"),
        ops(
            json!([{"op": "add", "path": "emails", "value": [{"value": "new@example.com", "type": "other", "primary": true}]}]),
        ),
    );
    let emails = out.resource["emails"].as_array().unwrap();
    assert_eq!(emails.len(), 3);
    assert_eq!(emails.iter().filter(|e| e["primary"] == true).count(), 1);
    assert_eq!(emails[2]["primary"], true);
}

#[test]
fn rfc_extension_attributes_are_patched_by_urn_path() {
    let out = user(
        &fixture("rfc7643_8_3_enterprise_user.json"),
        ops(json!([
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"},
            {"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}
        ])),
    );
    let ext = &out.resource[scim::urn::ENTERPRISE_USER];
    assert_eq!(ext["department"], "Sales");
    assert!(ext.get("manager").is_none());
    // Adding an extension attribute to a user without the extension adds the extension's URN.
    let out = user(
        &fixture("rfc7643_8_1_minimal_user.json"),
        ops(
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "7"}]),
        ),
    );
    assert_eq!(out.resource["schemas"], json!([scim::urn::USER, scim::urn::ENTERPRISE_USER]));
    assert_eq!(out.resource[scim::urn::ENTERPRISE_USER]["employeeNumber"], "7");
    // Removing the whole extension removes its URN too.
    let out = user(
        &fixture("rfc7643_8_3_enterprise_user.json"),
        ops(json!([{"op": "remove", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}])),
    );
    assert_eq!(out.resource["schemas"], json!([scim::urn::USER]));
    assert!(out.resource.get(scim::urn::ENTERPRISE_USER).is_none());
}

#[test]
fn no_op_patch_reports_no_change() {
    let before = fixture("rfc7643_8_2_full_user.json");
    let out = user(&before, ops(json!([{"op": "replace", "path": "userName", "value": "bjensen@example.com"}])));
    assert!(!out.changed);
    let out = user(&before, ops(json!([{"op": "replace", "path": "displayName", "value": "Babs"}])));
    assert!(out.changed);
}

// ---- client forms: each equals its RFC-equivalent request ----

fn same_outcome(kind: ResourceKind, resource: &Value, client: Value, rfc: Value) -> PatchOutcome {
    let a = apply_to(kind, resource, &client).unwrap_or_else(|e| panic!("client form {client}: {e}"));
    let b = apply_to(kind, resource, &rfc).unwrap_or_else(|e| panic!("rfc form {rfc}: {e}"));
    assert_eq!(a, b, "client form and RFC form differ");
    a
}

#[test]
fn entra_capitalized_op_names_mean_the_rfc_operations() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        json!({"schemas": [scim::urn::PATCH_OP], "Operations": [
            {"op": "Replace", "path": "displayName", "value": "B"},
            {"op": "Add", "path": "title", "value": "Chief"},
            {"op": "Remove", "path": "nickName"}
        ]}),
        ops(json!([
            {"op": "replace", "path": "displayName", "value": "B"},
            {"op": "add", "path": "title", "value": "Chief"},
            {"op": "remove", "path": "nickName"}
        ])),
    );
    assert!(out.resource.get("nickName").is_none());
}

#[test]
fn entra_false_string_for_active_sets_the_boolean() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        ops(json!([{"op": "Replace", "path": "active", "value": "False"}])),
        ops(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert_eq!(out.resource["active"], false);
}

#[test]
fn entra_remove_members_with_value_array_removes_only_those_members() {
    let group = fixture("rfc7643_8_4_group.json");
    let out = same_outcome(
        ResourceKind::Group,
        &group,
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": BABS}]}])),
        ops(json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\"]")}])),
    );
    assert_eq!(out.resource["members"].as_array().unwrap().len(), 1);
    assert_eq!(out.resource["members"][0]["value"], MANDY);
    let out = same_outcome(
        ResourceKind::Group,
        &group_without_members(),
        ops(json!([{"op": "Remove", "path": "members", "value": [{"value": BABS}, {"value": JAMES}]}])),
        ops(json!([{"op": "remove", "path": format!("members[value eq \"{BABS}\" or value eq \"{JAMES}\"]")}])),
    );
    assert_eq!(out.members, Some(MembersChange::Delta { added: vec![], removed: vec![BABS.into(), JAMES.into()] }));
}

#[test]
fn entra_add_members_with_null_ref_adds_by_value() {
    let out = same_outcome(
        ResourceKind::Group,
        &group_without_members(),
        ops(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": JAMES}]}])),
        ops(json!([{"op": "add", "path": "members", "value": [{"value": JAMES}]}])),
    );
    assert_eq!(out.members, Some(MembersChange::Delta { added: vec![member(JAMES, None)], removed: vec![] }));
}

#[test]
fn entra_pathless_replace_with_dotted_keys_sets_sub_attributes() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        ops(
            json!([{"op": "replace", "value": {"name.givenName": "Barb", "name.familyName": "Jensen-Smith", "active": true}}]),
        ),
        ops(json!([
            {"op": "replace", "path": "name.givenName", "value": "Barb"},
            {"op": "replace", "path": "name.familyName", "value": "Jensen-Smith"},
            {"op": "replace", "path": "active", "value": true}
        ])),
    );
    assert_eq!(out.resource["name"]["givenName"], "Barb");
    assert_eq!(out.resource["name"]["middleName"], "Jane", "other sub-attributes stay");
}

#[test]
fn entra_pathless_replace_with_urn_prefixed_keys_sets_extension_attributes() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        ops(json!([{"op": "Replace", "value": {
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": "26118915-6090-4610-87e4-49d8ca9f808d",
            "urn:ietf:params:scim:schemas:core:2.0:User:title": "Lead"
        }}])),
        ops(json!([
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "value": "42"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
             "value": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}},
            {"op": "replace", "path": "title", "value": "Lead"}
        ])),
    );
    assert_eq!(out.resource["schemas"], json!([scim::urn::USER, scim::urn::ENTERPRISE_USER]));
    assert_eq!(out.resource[scim::urn::ENTERPRISE_USER]["manager"]["value"], "26118915-6090-4610-87e4-49d8ca9f808d");
}

#[test]
fn entra_add_on_filtered_path_creates_the_missing_element() {
    let minimal = fixture("rfc7643_8_1_minimal_user.json");
    let out = same_outcome(
        ResourceKind::User,
        &minimal,
        ops(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"}])),
        ops(json!([{"op": "add", "path": "emails", "value": [{"type": "work", "value": "babs@example.com"}]}])),
    );
    assert_eq!(out.resource["emails"], json!([{"type": "work", "value": "babs@example.com"}]));
    // When the element exists, the same add sets its value.
    let out = user(
        &fixture("rfc7643_8_2_full_user.json"),
        ops(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "b2@example.com"}])),
    );
    assert_eq!(out.resource["emails"][0]["value"], "b2@example.com");
    assert_eq!(out.resource["emails"].as_array().unwrap().len(), 2);
}

#[test]
fn entra_several_adds_on_one_filtered_element_build_one_element() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_1_minimal_user.json"),
        ops(json!([
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": "addresses[type eq \"work\"].locality", "value": "Springfield"},
            {"op": "Add", "path": "addresses[type eq \"work\"].primary", "value": "True"}
        ])),
        ops(json!([{"op": "add", "path": "addresses", "value": [
            {"type": "work", "streetAddress": "1 Main St", "locality": "Springfield", "primary": true}
        ]}])),
    );
    assert_eq!(out.resource["addresses"].as_array().unwrap().len(), 1);
}

#[test]
fn entra_manager_as_a_plain_string_means_its_value() {
    same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        ops(
            json!([{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m-1"}]),
        ),
        ops(
            json!([{"op": "add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": {"value": "m-1"}}]),
        ),
    );
}

#[test]
fn okta_pathless_replace_active_false_deactivates() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        ops(json!([{"op": "replace", "value": {"active": false}}])),
        ops(json!([{"op": "replace", "path": "active", "value": false}])),
    );
    assert_eq!(out.resource["active"], false);
    assert!(out.changed);
}

#[test]
fn okta_replace_members_with_empty_array_empties_the_group() {
    let out = same_outcome(
        ResourceKind::Group,
        &group_without_members(),
        ops(json!([{"op": "replace", "path": "members", "value": []}])),
        ops(json!([{"op": "remove", "path": "members"}])),
    );
    assert_eq!(out.members, Some(MembersChange::ReplaceAll(vec![])));
    assert!(out.changed);
}

#[test]
fn okta_group_rename_with_read_only_id_in_the_value_ignores_the_id() {
    let group = group_without_members();
    let out = same_outcome(
        ResourceKind::Group,
        &group,
        ops(json!([{"op": "replace", "value": {"id": group["id"], "displayName": "Tour Leaders"}}])),
        ops(json!([{"op": "replace", "path": "displayName", "value": "Tour Leaders"}])),
    );
    assert_eq!(out.resource["id"], group["id"]);
    assert_eq!(out.resource["displayName"], "Tour Leaders");
}

#[test]
fn okta_membership_change_by_filtered_remove_and_value_array_add() {
    let out = same_outcome(
        ResourceKind::Group,
        &group_without_members(),
        ops(json!([
            {"op": "remove", "path": format!("members[value eq \"{BABS}\"]")},
            {"op": "add", "path": "members", "value": [{"value": JAMES}, {"value": MANDY}]}
        ])),
        ops(json!([
            {"op": "remove", "path": "members", "value": [{"value": BABS}]},
            {"op": "add", "path": "members", "value": [{"value": JAMES}]},
            {"op": "add", "path": "members", "value": [{"value": MANDY}]}
        ])),
    );
    assert_eq!(
        out.members,
        Some(MembersChange::Delta {
            added: vec![member(JAMES, None), member(MANDY, None)],
            removed: vec![BABS.into()]
        })
    );
}

#[test]
fn sailpoint_replace_of_complex_name_merges_sub_attributes() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_2_full_user.json"),
        ops(json!([{"op": "replace", "path": "name", "value": {"givenName": "Barbara", "familyName": "Jensen-Lee"}}])),
        ops(json!([
            {"op": "replace", "path": "name.givenName", "value": "Barbara"},
            {"op": "replace", "path": "name.familyName", "value": "Jensen-Lee"}
        ])),
    );
    assert_eq!(out.resource["name"]["formatted"], "Ms. Barbara J Jensen, III");
    assert_eq!(out.resource["name"]["familyName"], "Jensen-Lee");
}

#[test]
fn add_of_a_whole_extension_carrying_schemas_ignores_the_schemas_member() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_1_minimal_user.json"),
        ops(json!([{"op": "add", "path": scim::urn::ENTERPRISE_USER, "value": {
            "schemas": [scim::urn::ENTERPRISE_USER], "employeeNumber": "701984", "department": "Tour Operations"
        }}])),
        ops(json!([{"op": "add", "path": scim::urn::ENTERPRISE_USER, "value": {
            "employeeNumber": "701984", "department": "Tour Operations"
        }}])),
    );
    assert_eq!(out.resource["schemas"], json!([scim::urn::USER, scim::urn::ENTERPRISE_USER]));
    assert_eq!(
        out.resource[scim::urn::ENTERPRISE_USER],
        json!({"employeeNumber": "701984", "department": "Tour Operations"})
    );
}

#[test]
fn replace_of_a_whole_extension_carrying_schemas_ignores_the_schemas_member() {
    let group = group_without_members();
    let out = same_outcome(
        ResourceKind::Group,
        &group,
        ops(json!([{"op": "replace", "path": scim::urn::LINKED_OBJECT, "value": {
            "schemas": [scim::urn::LINKED_OBJECT], "source": "iiq", "nativeIdentifier": "cn=tour guides"
        }}])),
        ops(json!([{"op": "replace", "path": scim::urn::LINKED_OBJECT, "value": {
            "source": "iiq", "nativeIdentifier": "cn=tour guides"
        }}])),
    );
    assert_eq!(out.resource[scim::urn::LINKED_OBJECT]["nativeIdentifier"], "cn=tour guides");
    assert!(out.resource[scim::urn::LINKED_OBJECT].get("schemas").is_none());
}

#[test]
fn pathless_replace_with_schemas_at_the_top_and_inside_an_extension_ignores_both() {
    let out = same_outcome(
        ResourceKind::User,
        &fixture("rfc7643_8_3_enterprise_user.json"),
        ops(json!([{"op": "replace", "value": {
            "schemas": [scim::urn::USER, scim::urn::ENTERPRISE_USER],
            "nickName": "Barbie",
            scim::urn::ENTERPRISE_USER: {"schemas": [scim::urn::ENTERPRISE_USER], "department": "Sales"}
        }}])),
        ops(json!([
            {"op": "replace", "path": "nickName", "value": "Barbie"},
            {"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Sales"}
        ])),
    );
    assert_eq!(out.resource["nickName"], "Barbie");
    assert_eq!(out.resource[scim::urn::ENTERPRISE_USER]["department"], "Sales");
}

// ---- membership at scale and member lookups ----

#[test]
fn patching_a_large_group_never_touches_its_member_list() {
    struct Counting(std::cell::Cell<usize>);
    impl scim::MemberLookup for Counting {
        fn matching_member_ids(&self, _: &scim::CompiledFilter) -> Result<Vec<String>, ScimError> {
            self.0.set(self.0.get() + 1);
            Ok(vec![])
        }
    }
    let lookup = Counting(std::cell::Cell::new(0));
    let schemas = Schemas::standard();
    let body = ops(json!([
        {"op": "add", "path": "members", "value": [{"value": "new-1"}]},
        {"op": "remove", "path": "members[value eq \"old-1\"]"},
        {"op": "Remove", "path": "members", "value": [{"value": "old-2"}]}
    ]));
    let out = PatchRequest::parse(&body)
        .unwrap()
        .apply(&schemas, ResourceKind::Group, &group_without_members(), &lookup)
        .unwrap();
    assert_eq!(lookup.0.get(), 0, "removals by id need no lookup");
    assert_eq!(
        out.members,
        Some(MembersChange::Delta {
            added: vec![member("new-1", None)],
            removed: vec!["old-1".into(), "old-2".into()]
        })
    );
}

#[test]
fn remove_members_by_a_type_filter_asks_the_lookup() {
    let schemas = Schemas::standard();
    let members = vec![
        Member { value: "u1".into(), kind: Some("User".into()), reference: None },
        Member { value: "g1".into(), kind: Some("Group".into()), reference: None },
    ];
    let body = PatchRequest::parse(&ops(json!([{"op": "remove", "path": "members[type eq \"Group\"]"}]))).unwrap();
    let out = body.apply(&schemas, ResourceKind::Group, &group_without_members(), &members).unwrap();
    assert_eq!(out.members, Some(MembersChange::Delta { added: vec![], removed: vec!["g1".into()] }));
    let e = body.apply(&schemas, ResourceKind::Group, &group_without_members(), &NoMemberLookup).unwrap_err();
    assert_eq!(e.status, 501, "never silently removes nothing");
    // With the members in the document, the document answers.
    let mut group = group_without_members();
    group["members"] = json!([{"value": "u1", "type": "User"}, {"value": "g2", "type": "Group"}]);
    let out = body.apply(&schemas, ResourceKind::Group, &group, &NoMemberLookup).unwrap();
    assert_eq!(out.resource["members"], json!([{"value": "u1", "type": "User"}]));
}

#[test]
fn a_member_display_sent_by_a_client_is_dropped_and_is_no_filter_target() {
    // RFC 7643 §8.7.1 gives members `value`, `$ref` and `type`; the RFC's own PATCH example (and
    // Okta) still send `display`, which is accepted and dropped, never stored or returned.
    let out = apply_to(ResourceKind::Group, &group_without_members(), &example("add_member")).unwrap();
    let Some(MembersChange::Delta { added, .. }) = &out.members else { panic!("{:?}", out.members) };
    assert_eq!(added[0].to_value(), json!({"value": BABS, "$ref": user_ref(BABS)}));
    let mut group = group_without_members();
    group["members"] = json!([{"value": "u1", "display": "Alice"}]);
    let body =
        ops(json!([{"op": "add", "path": "members", "value": [{"value": "u2", "display": "Bob", "type": "User"}]}]));
    let out = apply_to(ResourceKind::Group, &group, &body).unwrap();
    assert_eq!(out.resource["members"], json!([{"value": "u1"}, {"value": "u2", "type": "User"}]));
    let e = patch_err(
        ResourceKind::Group,
        &group_without_members(),
        ops(json!([{"op": "remove", "path": "members[display eq \"Bob\"]"}])),
    );
    assert_eq!(e.scim_type, Some(ScimType::InvalidPath), "{e}");
}

// ---- errors ----

fn patch_err(kind: ResourceKind, resource: &Value, body: Value) -> ScimError {
    apply_to(kind, resource, &body).expect_err(&body.to_string())
}

#[test]
fn malformed_patch_bodies_get_the_right_scim_type() {
    let u = fixture("rfc7643_8_2_full_user.json");
    for (body, t) in [
        (json!([]), ScimType::InvalidSyntax),
        (
            json!({"schemas": ["urn:x"], "Operations": [{"op": "add", "path": "title", "value": "x"}]}),
            ScimType::InvalidSyntax,
        ),
        (json!({"schemas": [scim::urn::PATCH_OP]}), ScimType::InvalidSyntax),
        (json!({"Operations": []}), ScimType::InvalidSyntax),
        (ops(json!([{"op": "delete", "path": "title"}])), ScimType::InvalidSyntax),
        (ops(json!([{"op": 1, "path": "title"}])), ScimType::InvalidSyntax),
        (ops(json!(["add"])), ScimType::InvalidSyntax),
        (ops(json!([{"op": "remove"}])), ScimType::NoTarget),
        (ops(json!([{"op": "add", "path": "title"}])), ScimType::InvalidValue),
        (ops(json!([{"op": "add", "path": "emails[type eq]", "value": 1}])), ScimType::InvalidPath),
        (ops(json!([{"op": "add", "path": 7, "value": 1}])), ScimType::InvalidPath),
    ] {
        let e = PatchRequest::parse(&body)
            .and_then(|p| p.apply(&Schemas::standard(), ResourceKind::User, &u, &NoMemberLookup));
        assert_eq!(e.unwrap_err().scim_type, Some(t), "{body}");
    }
}

#[test]
fn a_member_spelled_twice_in_different_cases_is_refused_whichever_spelling_comes_first() {
    for body in [
        ops(json!([{"op": "replace", "Path": "displayName", "path": "password", "value": "Hunter-2!"}])),
        ops(json!([{"op": "replace", "path": "password", "PATH": "displayName", "value": "Hunter-2!"}])),
        ops(json!([{"op": "replace", "path": "title", "value": "a", "Value": "b"}])),
        ops(json!([{"op": "add", "OP": "remove", "path": "title", "value": "a"}])),
        json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "remove", "path": "title"}], "operations": []}),
    ] {
        let e = PatchRequest::parse(&body).expect_err(&body.to_string());
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax), "{body}");
        assert!(e.detail.contains("more than once"), "{e}");
        assert!(!e.detail.contains("Hunter-2!"), "{e}");
    }
}

#[test]
fn patch_semantic_errors_get_the_right_scim_type() {
    let u = fixture("rfc7643_8_2_full_user.json");
    for (op, t) in [
        (json!({"op": "replace", "path": "nickname.first", "value": "x"}), ScimType::InvalidPath),
        (json!({"op": "replace", "path": "unknown", "value": "x"}), ScimType::InvalidPath),
        (json!({"op": "replace", "value": {"unknown": "x"}}), ScimType::InvalidPath),
        (json!({"op": "replace", "path": "id", "value": "x"}), ScimType::Mutability),
        (json!({"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}), ScimType::Mutability),
        (json!({"op": "add", "path": "groups", "value": [{"value": "g"}]}), ScimType::Mutability),
        (json!({"op": "remove", "path": "userName"}), ScimType::Mutability),
        (json!({"op": "replace", "path": "userName", "value": null}), ScimType::Mutability),
        (json!({"op": "replace", "path": "emails[type eq \"other\"].value", "value": "x"}), ScimType::NoTarget),
        (json!({"op": "remove", "path": "emails[type eq \"other\"]"}), ScimType::NoTarget),
        (json!({"op": "add", "path": "emails[value co \"zzz\"].display", "value": "x"}), ScimType::NoTarget),
        (json!({"op": "replace", "path": "active", "value": "maybe"}), ScimType::InvalidValue),
        (json!({"op": "replace", "path": "name", "value": "x"}), ScimType::InvalidValue),
        (json!({"op": "replace", "path": "title", "value": ["a", "b"]}), ScimType::InvalidValue),
        (json!({"op": "replace", "value": "x"}), ScimType::InvalidValue),
        (json!({"op": "replace", "path": "name", "value": {"nope": "x"}}), ScimType::InvalidSyntax),
        (
            json!({"op": "add", "path": "emails", "value": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
            ScimType::InvalidValue,
        ),
        (json!({"op": "add", "path": "x509Certificates", "value": [{"value": "not base64!"}]}), ScimType::InvalidValue),
        (json!({"op": "replace", "path": "title[value eq \"x\"]", "value": "y"}), ScimType::InvalidPath),
        (json!({"op": "replace", "path": "emails[nope eq \"x\"]", "value": "y"}), ScimType::InvalidPath),
    ] {
        let e = patch_err(ResourceKind::User, &u, ops(json!([op.clone()])));
        assert_eq!(e.scim_type, Some(t), "{op}: {e}");
        assert_eq!(e.status, 400);
    }
}

#[test]
fn immutable_attributes_accept_the_same_value_and_reject_a_change() {
    let perm = json!({
        "schemas": [scim::urn::CONTAINER_PERMISSION], "id": "p1",
        "container": {"value": "12", "display": "Root"}, "user": {"value": "u1"}, "rights": ["View"]
    });
    let k = ResourceKind::ContainerPermission;
    let out =
        apply_to(k, &perm, &ops(json!([{"op": "replace", "path": "container", "value": {"value": "12"}}]))).unwrap();
    assert!(!out.changed);
    let e = patch_err(k, &perm, ops(json!([{"op": "replace", "path": "container.value", "value": "13"}])));
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = patch_err(k, &perm, ops(json!([{"op": "add", "path": "group", "value": {"value": "g1"}}])));
    assert_eq!(e.scim_type, Some(ScimType::Mutability), "{e}");
    let out = apply_to(k, &perm, &ops(json!([{"op": "add", "path": "rights", "value": ["Edit"]}]))).unwrap();
    assert_eq!(out.resource["rights"], json!(["View", "Edit"]));
    let out = apply_to(k, &perm, &ops(json!([{"op": "remove", "path": "rights[value eq \"view\"]"}]))).unwrap();
    assert!(out.resource.get("rights").is_none());
    let e = patch_err(
        ResourceKind::Group,
        &group_without_members(),
        ops(json!([{"op": "replace", "path": "members[value eq \"x\"].type", "value": "Group"}])),
    );
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
}

#[test]
fn a_failing_operation_leaves_nothing_applied_and_names_itself() {
    let u = fixture("rfc7643_8_2_full_user.json");
    let e = patch_err(
        ResourceKind::User,
        &u,
        ops(json!([{"op": "replace", "path": "title", "value": "x"}, {"op": "replace", "path": "id", "value": "y"}])),
    );
    assert!(e.detail.starts_with("operation 2"), "{}", e.detail);
}
