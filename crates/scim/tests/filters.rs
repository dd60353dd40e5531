//! Filters: every RFC 7644 §3.4.2.2 example gives the result the RFC describes, plus the client
//! forms, typed comparisons, errors and index plans.

mod common;

use common::{fixture, fixture_lines};
use scim::filter::{CompValue, CompareOp, IndexPlan};
use scim::schema::{AttrRef, Attribute};
use scim::{AttrPath, Filter, FilterLimits, ResourceKind, Schemas, ScimType};
use serde_json::{Value, json};

const BJENSEN_ID: &str = "2819c223-7f76-453a-919d-413861904646";

/// Five users covering every branch of the RFC examples.
fn users() -> Vec<Value> {
    let full = fixture("rfc7643_8_2_full_user.json");
    let mut enterprise = fixture("rfc7643_8_3_enterprise_user.json");
    enterprise["id"] = json!("d");
    enterprise["userName"] = json!("Jdoe");
    enterprise["userType"] = json!("Contractor");
    enterprise["externalId"] = json!("d-ext");
    enterprise["emails"] = json!([{"value": "jdoe@example.com", "type": "work"}]);
    enterprise.as_object_mut().unwrap().remove("title");
    vec![
        full,
        json!({"schemas": [scim::urn::USER], "id": "b", "userName": "BJensen", "userType": "Employee",
               "emails": [{"value": "b@example.org", "type": "home"}],
               "meta": {"lastModified": "2011-05-13T04:42:35Z"}}),
        json!({"schemas": [scim::urn::USER], "id": "c", "userName": "jsmith", "name": {"familyName": "O'Malley"},
               "userType": "Intern", "title": "Intern Lead", "ims": [{"value": "js@foo.com", "type": "xmpp"}],
               "meta": {"lastModified": "2011-05-13T04:42:33Z"}}),
        enterprise,
        json!({"schemas": [scim::urn::USER], "id": "e", "userName": "zed"}),
    ]
}

fn matching(filter: &str, kind: ResourceKind, docs: &[Value]) -> Vec<String> {
    let schemas = Schemas::standard();
    let compiled = Filter::parse(filter).unwrap().compile(&schemas, kind).unwrap();
    docs.iter().filter(|d| compiled.matches(d)).map(|d| d["id"].as_str().unwrap().to_owned()).collect()
}

fn user_ids(filter: &str) -> Vec<String> {
    matching(filter, ResourceKind::User, &users())
}

fn err(filter: &str) -> scim::ScimError {
    let schemas = Schemas::standard();
    match Filter::parse(filter) {
        Err(e) => e,
        Ok(f) => f.compile(&schemas, ResourceKind::User).expect_err(filter),
    }
}

#[test]
fn every_rfc_example_filter_parses_prints_and_parses_back_the_same() {
    let schemas = Schemas::standard();
    let examples = fixture_lines("rfc7644_3_4_2_2_filters.txt");
    assert_eq!(examples.len(), 17);
    for text in examples {
        let f = Filter::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let printed = f.to_string();
        assert_eq!(Filter::parse(&printed).unwrap(), f, "{text} printed as {printed}");
        f.compile(&schemas, ResourceKind::User).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn every_rfc_example_filter_selects_what_the_rfc_describes() {
    let a = BJENSEN_ID;
    let expected: [(&str, Vec<&str>); 17] = [
        (r#"userName eq "bjensen""#, vec!["b"]),
        (r#"name.familyName co "O'Malley""#, vec!["c"]),
        (r#"userName sw "J""#, vec!["c", "d"]),
        (r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#, vec!["c", "d"]),
        ("title pr", vec![a, "c"]),
        (r#"meta.lastModified gt "2011-05-13T04:42:34Z""#, vec!["b"]),
        (r#"meta.lastModified ge "2011-05-13T04:42:34Z""#, vec![a, "b", "d"]),
        (r#"meta.lastModified lt "2011-05-13T04:42:34Z""#, vec!["c"]),
        (r#"meta.lastModified le "2011-05-13T04:42:34Z""#, vec![a, "c", "d"]),
        (r#"title pr and userType eq "Employee""#, vec![a]),
        (r#"title pr or userType eq "Intern""#, vec![a, "c"]),
        (r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#, vec!["d"]),
        (r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#, vec![a, "b"]),
        (
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            vec!["c", "e"],
        ),
        (r#"userType eq "Employee" and (emails.type eq "work")"#, vec![a]),
        (r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#, vec![a]),
        (
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            vec![a, "c", "d"],
        ),
    ];
    let examples = fixture_lines("rfc7644_3_4_2_2_filters.txt");
    for ((filter, ids), example) in expected.iter().zip(&examples) {
        assert_eq!(filter, example, "the table follows the fixture");
        assert_eq!(user_ids(filter), *ids, "{filter}");
    }
}

#[test]
fn attribute_names_operators_and_keywords_are_case_insensitive() {
    assert_eq!(user_ids(r#"USERNAME EQ "bjensen""#), ["b"]);
    assert_eq!(user_ids(r#"Emails[Type Eq "work" AND Value CO "@EXAMPLE.COM"] Or TITLE PR"#).len(), 3);
    assert_eq!(user_ids(r#"NOT (userName Pr)"#), Vec::<String>::new());
}

#[test]
fn case_exact_attributes_compare_exactly() {
    assert_eq!(user_ids(r#"id eq "B""#), Vec::<String>::new());
    assert_eq!(user_ids(r#"id eq "b""#), ["b"]);
    assert_eq!(user_ids(r#"externalId eq "701984""#), [BJENSEN_ID]);
}

#[test]
fn a_value_path_followed_by_a_sub_attribute_test_checks_the_same_element() {
    assert_eq!(user_ids(r#"emails[type eq "work"].value co "bjensen""#), [BJENSEN_ID]);
    // The home address of bjensen is jensen.org; the work one is not.
    assert_eq!(user_ids(r#"emails[type eq "work"].value ew "jensen.org""#), Vec::<String>::new());
    assert_eq!(user_ids(r#"emails[type eq "home"].value ew "jensen.org""#), [BJENSEN_ID]);
}

#[test]
fn entra_primary_eq_string_true_compares_as_a_boolean() {
    assert_eq!(user_ids(r#"emails[primary eq "True"].value eq "bjensen@example.com""#), [BJENSEN_ID]);
}

#[test]
fn entra_unquoted_external_id_is_a_string() {
    assert_eq!(user_ids("externalId eq 701984"), [BJENSEN_ID]);
    let f = Filter::parse("externalId eq jyoung").unwrap();
    assert_eq!(f, Filter::compare(AttrPath::new("externalId"), CompareOp::Eq, CompValue::String("jyoung".into())));
}

#[test]
fn a_bare_complex_attribute_means_its_value() {
    let perms = vec![
        json!({"id": "p1", "container": {"value": "12", "display": "Root"}, "user": {"value": "u1"}, "rights": ["View"]}),
        json!({"id": "p2", "container": {"value": "13"}, "group": {"value": "g1"}, "rights": ["Edit", "View"]}),
    ];
    let kind = ResourceKind::ContainerPermission;
    assert_eq!(matching(r#"container eq "12""#, kind, &perms), ["p1"]);
    assert_eq!(matching("container eq 12", kind, &perms), ["p1"]);
    assert_eq!(matching(r#"container.value eq "13" and group.value eq "g1""#, kind, &perms), ["p2"]);
    assert_eq!(matching(r#"rights eq "edit""#, kind, &perms), ["p2"]);
    assert_eq!(matching(r#"rights[value eq "view"]"#, kind, &perms), ["p1", "p2"]);
    let groups = vec![fixture("rfc7643_8_4_group.json")];
    assert_eq!(matching(&format!(r#"members eq "{BJENSEN_ID}""#), ResourceKind::Group, &groups).len(), 1);
}

#[test]
fn extension_attributes_are_reached_by_their_urn() {
    let f = r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#;
    assert_eq!(user_ids(f), ["d"]);
    assert_eq!(user_ids(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "tour""#), ["d"]);
}

#[test]
fn null_means_unassigned() {
    assert_eq!(user_ids("title eq null"), ["b", "d", "e"]);
    assert_eq!(user_ids("title ne null"), [BJENSEN_ID, "c"]);
}

#[test]
fn integer_and_decimal_attributes_compare_as_numbers() {
    let attr: Attribute = serde_json::from_value(json!({
        "name": "stats", "type": "complex", "multiValued": true,
        "subAttributes": [{"name": "logins", "type": "integer"}, {"name": "score", "type": "decimal"}]
    }))
    .unwrap();
    let at = AttrRef { extension: None, attribute: &attr, sub_attribute: None };
    let check = |filter: &str, element: Value| {
        Filter::parse(filter).unwrap().compile_for_element(at).unwrap().matches(&element)
    };
    assert!(check("logins gt 9", json!({"logins": 10})));
    assert!(!check("logins gt 10", json!({"logins": 10})));
    assert!(check("logins eq 10.0", json!({"logins": 10})));
    assert!(check("score le 2.5", json!({"score": 2.25})));
    assert!(check("score gt 1e-3", json!({"score": 0.01})));
    assert!(check(r#"logins ge "7""#, json!({"logins": 7})));
    let e = Filter::parse("logins co 1").unwrap().compile_for_element(at).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    let e = Filter::parse("logins eq 1.5").unwrap().compile_for_element(at).unwrap_err();
    assert!(e.detail.contains("integer"), "{}", e.detail);
}

#[test]
fn date_times_compare_as_instants_across_offsets() {
    assert_eq!(user_ids(r#"meta.lastModified eq "2011-05-13T06:42:34+02:00""#), [BJENSEN_ID, "d"]);
    assert_eq!(user_ids(r#"meta.lastModified sw "2011-05-13T04:42:3""#).len(), 4);
}

#[test]
fn type_errors_are_invalid_filter_and_name_the_attribute() {
    for (filter, needle) in [
        ("active gt true", "active"),
        (r#"active eq "maybe""#, "active"),
        (r#"meta.lastModified gt "yesterday""#, "lastModified"),
        (r#"x509Certificates.value lt "abc""#, "x509Certificates"),
        (r#"nickname.first eq "x""#, "nickname.first"),
        (r#"unknownAttribute eq "x""#, "unknownAttribute"),
        (r#"name eq "x""#, "name"),
        (r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User eq "x""#, "extension"),
        (r#"emails[type eq "work"][value eq "x"]"#, "position"),
        (r#"emails[emails[type eq "work"]]"#, "another value filter"),
        (r#"userName[value eq "x"]"#, "userName"),
        (r#"emails[nope eq "x"]"#, "nope"),
        ("title gt null", "null"),
    ] {
        let e = err(filter);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        assert_eq!(e.status, 400);
        assert!(e.detail.contains(needle), "{filter}: {}", e.detail);
    }
}

#[test]
fn syntax_errors_say_where_the_filter_is_wrong() {
    for (filter, needle) in [
        (r#"userName equals "x""#, "position 9"),
        (r#"userName eq"#, "position 11"),
        (r#"(userName eq "x""#, "position 16"),
        (r#"userName eq "x")"#, "position 15"),
        (r#"userName eq "x" and"#, "position 19"),
        (r#"emails[type eq "work""#, "position 21"),
        ("", "empty"),
        ("   ", "empty"),
        (r#"userName eq "x" userName eq "y""#, "position 16"),
        ("not userName pr", "position 4"),
        (r#"emails[type eq "work"]."#, "position 23"),
    ] {
        let e = err(filter);
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter), "{filter}");
        assert!(e.detail.contains(needle), "{filter:?}: {}", e.detail);
    }
}

#[test]
fn length_and_depth_are_bounded() {
    let limits = FilterLimits { max_length: 64, max_depth: 4 };
    let long = format!(r#"userName eq "{}""#, "x".repeat(100));
    assert!(Filter::parse_with_limits(&long, limits).unwrap_err().detail.contains("limit is 64"));
    let deep = format!("{}title pr{}", "(".repeat(5), ")".repeat(5));
    let e = Filter::parse_with_limits(&deep, limits).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
    assert!(e.detail.contains("deeper than 4"), "{}", e.detail);
    let ok = format!("{}title pr{}", "(".repeat(3), ")".repeat(3));
    assert!(Filter::parse_with_limits(&ok, limits).is_ok());
    let very_deep = format!("{}title pr{}", "not (".repeat(100_000), ")".repeat(100_000));
    assert!(Filter::parse_with_limits(&very_deep, FilterLimits { max_length: usize::MAX, max_depth: 32 }).is_err());
}

#[test]
fn index_plans_use_equality_and_prefix_and_respect_case_exact() {
    let schemas = Schemas::standard();
    let plan = |f: &str| Filter::parse(f).unwrap().compile(&schemas, ResourceKind::User).unwrap().plan();
    let eq = |attr: &str, value: &str| IndexPlan::Eq { attr: attr.into(), value: value.into() };
    assert_eq!(plan(r#"USERNAME eq "BJensen""#), eq("userName", "bjensen"));
    assert_eq!(plan(r#"externalId eq "AbC""#), eq("externalId", "AbC"));
    assert_eq!(plan(r#"userName sw "Bj""#), IndexPlan::Prefix { attr: "userName".into(), prefix: "bj".into() });
    assert_eq!(plan(r#"emails[type eq "work"].value co "x""#), eq("emails.type", "work"));
    assert_eq!(
        plan(r#"emails[type eq "work"].value eq "A@x""#),
        IndexPlan::And(vec![eq("emails.type", "work"), eq("emails.value", "a@x")])
    );
    assert_eq!(plan(r#"meta.lastModified gt "2011-05-13T04:42:34Z""#), IndexPlan::All);
    assert_eq!(
        plan(r#"userName eq "a" or userName eq "b""#),
        IndexPlan::Or(vec![eq("userName", "a"), eq("userName", "b")])
    );
    assert_eq!(plan(r#"userName eq "a" or title pr"#), IndexPlan::All);
    assert_eq!(plan(r#"title pr and active eq true"#), eq("active", "true"));
    assert_eq!(plan(r#"not (userName eq "a")"#), IndexPlan::All);
    assert_eq!(plan(r#"userName ne "a""#), IndexPlan::All);
    assert_eq!(
        plan(r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7""#),
        eq("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", "7")
    );
    let perm =
        Filter::parse(r#"container eq "12""#).unwrap().compile(&schemas, ResourceKind::ContainerPermission).unwrap();
    assert_eq!(perm.plan(), eq("container.value", "12"));
}

#[test]
fn member_removal_filters_expose_their_ids() {
    let schemas = Schemas::standard();
    let members = schemas.attribute(ResourceKind::Group, "members").unwrap();
    let f = Filter::parse(r#"value eq "a" or value eq "b""#).unwrap().compile_for_element(members).unwrap();
    assert_eq!(f.equality_values(), Some(vec!["a".to_owned(), "b".to_owned()]));
    let f = Filter::parse(r#"type eq "User""#).unwrap().compile_for_element(members).unwrap();
    assert_eq!(f.equality_values(), None);
    // RFC 7643 §8.7.1: a member has no `display` to filter on.
    assert!(Filter::parse(r#"display eq "a""#).unwrap().compile_for_element(members).is_err());
}
