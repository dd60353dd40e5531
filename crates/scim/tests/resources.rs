//! Resource validation: the RFC 7643 §8 examples validate; client quirks normalize; malformed
//! resources are rejected with the right `scimType`; replace enforces immutability.

mod common;

use common::fixture;
use scim::{ResourceKind, Schemas, ScimType, validate_create, validate_replace};
use serde_json::{Value, json};

fn create(kind: ResourceKind, v: &Value) -> Result<Value, scim::ScimError> {
    validate_create(&Schemas::standard(), kind, v)
}

#[test]
fn rfc_example_resources_validate_and_lose_only_read_only_attributes() {
    for (name, kind) in [
        ("rfc7643_8_1_minimal_user.json", ResourceKind::User),
        ("rfc7643_8_2_full_user.json", ResourceKind::User),
        ("rfc7643_8_3_enterprise_user.json", ResourceKind::User),
        ("rfc7643_8_4_group.json", ResourceKind::Group),
    ] {
        let input = fixture(name);
        let out = create(kind, &input).unwrap_or_else(|e| panic!("{name}: {e}"));
        for read_only in ["id", "meta", "groups"] {
            assert!(out.get(read_only).is_none(), "{name}: {read_only} is readOnly and dropped");
        }
        for (key, value) in input.as_object().unwrap() {
            if ["id", "meta", "groups"].contains(&key.as_str()) {
                continue;
            }
            if kind == ResourceKind::Group && key == "members" {
                // RFC 7643 §8.7.1 gives a member no `display`: the one the RFC example sends is dropped.
                assert_eq!(out["members"].as_array().unwrap().len(), value.as_array().unwrap().len());
                assert!(out["members"][0].get("display").is_none());
                continue;
            }
            if key == scim::urn::ENTERPRISE_USER {
                // The manager's displayName is readOnly: the server fills it in.
                let mut expected = value.clone();
                expected["manager"].as_object_mut().unwrap().remove("displayName");
                assert_eq!(out[key], expected);
                continue;
            }
            assert_eq!(&out[key], value, "{name}: {key} kept as sent");
        }
    }
}

#[test]
fn the_password_is_kept_for_the_adapter_but_is_never_returned() {
    let out = create(ResourceKind::User, &fixture("rfc7643_8_2_full_user.json")).unwrap();
    assert_eq!(out["password"], "t1meMa$heen");
    let projected = scim::projection::Projection::default().apply(&Schemas::standard(), ResourceKind::User, &out);
    assert!(projected.get("password").is_none());
}

#[test]
fn attribute_names_come_out_in_schema_case_and_schemas_is_rebuilt() {
    let out = create(
        ResourceKind::User,
        &json!({"USERNAME": "bjensen", "Name": {"GIVENNAME": "Barbara"}, "EMAILS": [{"VALUE": "b@x", "Primary": "True"}],
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"}}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "schemas": [scim::urn::USER, scim::urn::ENTERPRISE_USER],
            "userName": "bjensen",
            "name": {"givenName": "Barbara"},
            "emails": [{"value": "b@x", "primary": true}],
            scim::urn::ENTERPRISE_USER: {"employeeNumber": "7"}
        })
    );
}

#[test]
fn entra_true_false_strings_become_booleans() {
    let out = create(ResourceKind::User, &json!({"userName": "a", "active": "False"})).unwrap();
    assert_eq!(out["active"], false);
}

#[test]
fn okta_group_created_with_empty_members_is_valid() {
    let out =
        create(ResourceKind::Group, &json!({"schemas": [scim::urn::GROUP], "displayName": "Push", "members": []}))
            .unwrap();
    assert!(out.get("members").is_none(), "an empty list is unassigned");
}

#[test]
fn member_type_is_a_closed_set_spelled_canonically() {
    let out =
        create(ResourceKind::Group, &json!({"displayName": "g", "members": [{"value": "1", "type": "user"}]})).unwrap();
    assert_eq!(out["members"][0]["type"], "User");
    let e = create(ResourceKind::Group, &json!({"displayName": "g", "members": [{"value": "1", "type": "Robot"}]}))
        .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    // Open canonical lists (emails.type) accept other values.
    create(ResourceKind::User, &json!({"userName": "a", "emails": [{"value": "x", "type": "pager"}]})).unwrap();
}

#[test]
fn pam_resources_validate_with_their_rules() {
    let ok = create(
        ResourceKind::ContainerPermission,
        &json!({"schemas": [scim::urn::CONTAINER_PERMISSION], "container": {"value": "12"}, "user": {"value": "u1"}, "rights": ["View"]}),
    )
    .unwrap();
    assert_eq!(ok["rights"], json!(["View"]));
    for bad in [
        json!({"container": {"value": "12"}, "rights": ["View"]}),
        json!({"container": {"value": "12"}, "user": {"value": "u"}, "group": {"value": "g"}}),
        json!({"user": {"value": "u"}}),
        json!({"container": {"display": "x"}, "user": {"value": "u"}}),
    ] {
        let e = create(ResourceKind::ContainerPermission, &bad).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "{bad}");
    }
    let c = create(
        ResourceKind::Container,
        &json!({"name": "Finance", "parent": "7", "inheritPermissions": "true", "path": "\\x"}),
    )
    .unwrap();
    assert_eq!(
        c,
        json!({"schemas": [scim::urn::CONTAINER], "name": "Finance", "parent": {"value": "7"}, "inheritPermissions": true})
    );
    let pd =
        create(ResourceKind::PrivilegedData, &json!({"name": "db", "template": {"value": "6"}, "checkedOut": true}))
            .unwrap();
    assert!(pd.get("checkedOut").is_none(), "readOnly metadata is the server's");
}

#[test]
fn malformed_resources_get_the_right_scim_type() {
    for (kind, body, t) in [
        (ResourceKind::User, json!([]), ScimType::InvalidSyntax),
        (ResourceKind::User, json!("x"), ScimType::InvalidSyntax),
        (ResourceKind::User, json!({"userName": "a", "shoeSize": 9}), ScimType::InvalidSyntax),
        (ResourceKind::User, json!({"userName": "a", "name": {"nick": "x"}}), ScimType::InvalidSyntax),
        (ResourceKind::User, json!({"userName": "a", "userName ": "b"}), ScimType::InvalidSyntax),
        (ResourceKind::User, json!({"userName": "a", "USERNAME": "b"}), ScimType::InvalidSyntax),
        (
            ResourceKind::User,
            json!({"userName": "a", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"x": 1}}),
            ScimType::InvalidSyntax,
        ),
        (
            ResourceKind::Group,
            json!({"displayName": "g", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {}}),
            ScimType::InvalidSyntax,
        ),
        (ResourceKind::User, json!({}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": ""}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": 7}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": "a", "active": "yes"}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": "a", "title": ["a"]}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": "a", "name": ["x"]}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": "a", "name": "Babs"}), ScimType::InvalidValue),
        (
            ResourceKind::User,
            json!({"userName": "a", "emails": [{"value": "x", "primary": true}, {"value": "y", "primary": true}]}),
            ScimType::InvalidValue,
        ),
        (ResourceKind::User, json!({"userName": "a", "x509Certificates": [{"value": "%%%"}]}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": "a", "schemas": ["urn:other"]}), ScimType::InvalidValue),
        (ResourceKind::User, json!({"userName": "a", "schemas": "x"}), ScimType::InvalidValue),
        (
            ResourceKind::Group,
            json!({"displayName": "g", "members": [{"display": "no value"}]}),
            ScimType::InvalidValue,
        ),
        (
            ResourceKind::PrivilegedData,
            json!({"name": "s", "lastAccessed": "x", "template": "x", "active": 1}),
            ScimType::InvalidValue,
        ),
    ] {
        let e = create(kind, &body).expect_err(&body.to_string());
        assert_eq!(e.scim_type, Some(t), "{body}: {e}");
        assert_eq!(e.status, 400);
    }
}

#[test]
fn replace_keeps_read_only_attributes_and_rejects_changes_to_immutable_ones() {
    let schemas = Schemas::standard();
    let current = fixture("rfc7643_8_2_full_user.json");
    let out = validate_replace(&schemas, ResourceKind::User, &json!({"userName": "bjensen", "id": "forged"}), &current)
        .unwrap();
    assert_eq!(out["id"], current["id"]);
    assert_eq!(out["meta"], current["meta"]);
    assert_eq!(out["groups"], current["groups"]);
    assert!(out.get("emails").is_none(), "PUT replaces: omitted attributes are gone");

    let perm = json!({"id": "p1", "container": {"value": "12", "display": "Root"}, "user": {"value": "u1"}, "rights": ["View"]});
    let kind = ResourceKind::ContainerPermission;
    let same = validate_replace(
        &schemas,
        kind,
        &json!({"container": {"value": "12"}, "user": {"value": "u1"}, "rights": ["Edit"]}),
        &perm,
    )
    .unwrap();
    assert_eq!(same["rights"], json!(["Edit"]));
    let kept = validate_replace(&schemas, kind, &json!({"rights": ["Edit"]}), &perm).unwrap();
    assert_eq!(kept["container"], perm["container"], "an omitted immutable attribute keeps its value");
    assert_eq!(kept["user"], perm["user"]);
    let e = validate_replace(&schemas, kind, &json!({"container": {"value": "13"}, "user": {"value": "u1"}}), &perm)
        .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let pd = json!({"id": "s1", "name": "db", "template": {"value": "6", "display": "Password"}});
    let e = validate_replace(
        &schemas,
        ResourceKind::PrivilegedData,
        &json!({"name": "db", "template": {"value": "7"}}),
        &pd,
    )
    .unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::Mutability));
    let e = validate_replace(&schemas, ResourceKind::User, &json!({"displayName": "x"}), &current).unwrap_err();
    assert_eq!(e.scim_type, Some(ScimType::InvalidValue), "PUT must carry required attributes");
}
