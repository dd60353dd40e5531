//! Discovery documents: the shapes of RFC 7643 §8.5–8.7, with this server's content.

mod common;

use common::fixture;
use scim::spc::{AuthenticationScheme, ServiceProviderConfig};
use scim::{ResourceKind, Schemas};
use serde_json::Value;
use std::collections::BTreeSet;

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[test]
fn service_provider_config_has_the_rfc_shape() {
    let rfc = fixture("rfc7643_8_5_service_provider_config.json");
    let config = ServiceProviderConfig {
        documentation_uri: Some("http://example.com/help/scim.html".into()),
        pagination: None,
        authentication_schemes: vec![AuthenticationScheme::bearer_token(true), AuthenticationScheme::http_basic(false)],
        ..ServiceProviderConfig::default()
    };
    let doc = config.document("https://example.com/v2");
    assert_eq!(keys(&doc), keys(&rfc));
    for member in ["schemas", "documentationUri", "patch", "bulk", "sort", "etag"] {
        assert_eq!(doc[member], rfc[member], "{member}");
    }
    assert_eq!(doc["changePassword"]["supported"], false, "nothing may change a Secret Server password through SCIM");
    assert_eq!(doc["filter"]["maxResults"], 1000);
    assert_eq!(doc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    assert_eq!(doc["authenticationSchemes"][0]["primary"], true);
    assert_eq!(doc["meta"]["location"], rfc["meta"]["location"]);
    assert_eq!(doc["meta"]["resourceType"], rfc["meta"]["resourceType"]);
}

#[test]
fn service_provider_config_advertises_cursor_paging_per_rfc_9865() {
    let doc = ServiceProviderConfig::default().document("https://x/v2/");
    let p = &doc["pagination"];
    assert_eq!(p["cursor"], true);
    assert_eq!(p["index"], true);
    assert_eq!(p["defaultPaginationMethod"], "index");
    assert_eq!(p["defaultPageSize"], 100);
    assert_eq!(p["maxPageSize"], 1000);
    assert_eq!(p["cursorTimeout"], 3600);
    assert_eq!(doc["meta"]["location"], "https://x/v2/ServiceProviderConfig");
}

#[test]
fn resource_types_have_the_rfc_shape() {
    let rfc = fixture("rfc7643_8_6_resource_types.json");
    let schemas = Schemas::standard();
    for (rfc_doc, kind) in rfc.as_array().unwrap().iter().zip([ResourceKind::User, ResourceKind::Group]) {
        let doc = schemas.resource_type_document(kind, "https://example.com/v2");
        for member in ["schemas", "id", "name", "endpoint", "description", "schema", "meta"] {
            assert_eq!(doc[member], rfc_doc[member], "{kind} {member}");
        }
    }
    let user = schemas.resource_type_document(ResourceKind::User, "https://example.com/v2");
    assert_eq!(user["schemaExtensions"][0]["schema"], scim::urn::ENTERPRISE_USER);
    assert_eq!(user["schemaExtensions"][0]["required"], false, "our users need not carry the enterprise extension");
}

#[test]
fn schemas_documents_carry_rfc_attribute_characteristics() {
    let schemas = Schemas::standard();
    let user = schemas.schema_document_by_id(scim::urn::USER, "https://example.com/v2").unwrap();
    let attrs = user["attributes"].as_array().unwrap();
    let names: Vec<&str> = attrs.iter().map(|a| a["name"].as_str().unwrap()).collect();
    for expected in [
        "userName",
        "name",
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "active",
        "password",
        "emails",
        "phoneNumbers",
        "ims",
        "photos",
        "addresses",
        "groups",
        "roles",
        "x509Certificates",
    ] {
        assert!(names.contains(&expected), "User schema lacks {expected}");
    }
    // Secret Server has no entitlements: not advertised, so never stored and echoed as applied.
    assert!(!names.contains(&"entitlements"), "User schema advertises entitlements it cannot apply");
    let groups = attrs.iter().find(|a| a["name"] == "groups").unwrap();
    assert_eq!(groups["mutability"], "readOnly");
    assert_eq!(groups["subAttributes"][1]["referenceTypes"], serde_json::json!(["User", "Group"]));
    let emails = attrs.iter().find(|a| a["name"] == "emails").unwrap();
    assert_eq!(emails["subAttributes"][2]["canonicalValues"], serde_json::json!(["work", "home", "other"]));
    assert_eq!(user["meta"]["location"], format!("https://example.com/v2/Schemas/{}", scim::urn::USER));
    for kind in ResourceKind::ALL {
        let doc = schemas.schema_document_by_id(kind.schema_urn(), "https://x").unwrap();
        assert_eq!(doc["id"], kind.schema_urn());
    }
    assert!(schemas.schema_document_by_id("urn:nope", "https://x").is_none());
    let sailpoint = schemas.schema_document_by_id(&scim::urn::USER.to_lowercase(), "https://x");
    assert!(sailpoint.is_some(), "schema ids are looked up case-insensitively");
}

#[test]
fn group_members_and_container_parent_have_the_rfc_sub_attributes_only() {
    let schemas = Schemas::standard();
    let sub_names = |urn: &str, attr: &str| -> Vec<String> {
        let doc = schemas.schema_document_by_id(urn, "https://x").unwrap();
        let attrs = doc["attributes"].as_array().unwrap();
        let found = attrs.iter().find(|a| a["name"] == attr).unwrap();
        assert!(found.as_object().unwrap().keys().all(|k| !k.starts_with("x-")), "private keys are never served");
        found["subAttributes"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    };
    // RFC 7643 §8.7.1.
    assert_eq!(sub_names(scim::urn::GROUP, "members"), ["value", "$ref", "type"]);
    assert_eq!(sub_names(scim::urn::CONTAINER, "parent"), ["value", "$ref"]);
    // Where clients read a name and nobody writes one, `display` stays.
    assert!(sub_names(scim::urn::USER, "groups").contains(&"display".to_owned()));
    assert!(sub_names(scim::urn::CONTAINER_PERMISSION, "container").contains(&"display".to_owned()));
}
