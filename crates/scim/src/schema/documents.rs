//! The discovery documents served at `/Schemas` and `/ResourceTypes` (RFC 7643 §6, §7, RFC 7644 §4).

use super::{Schema, Schemas};
use crate::list::ListResponse;
use crate::resource::ResourceKind;
use crate::urn;
use serde_json::{Map, Value, json};

fn trim(base_url: &str) -> &str {
    base_url.trim_end_matches('/')
}

impl Schemas {
    /// The representation of one schema, with `meta.location` under `base_url`.
    pub fn schema_document(&self, schema: &Schema, base_url: &str) -> Value {
        let mut doc = Map::new();
        doc.insert("schemas".into(), json!([urn::SCHEMA]));
        doc.insert("id".into(), json!(schema.id));
        doc.insert("name".into(), json!(schema.name));
        doc.insert("description".into(), json!(schema.description));
        doc.insert("attributes".into(), serde_json::to_value(&schema.attributes).unwrap_or(Value::Array(vec![])));
        doc.insert(
            "meta".into(),
            json!({"resourceType": "Schema", "location": format!("{}/Schemas/{}", trim(base_url), schema.id)}),
        );
        Value::Object(doc)
    }

    /// `GET /Schemas/{urn}`: the schema with that id (case-insensitive), or `None` (404).
    pub fn schema_document_by_id(&self, id: &str, base_url: &str) -> Option<Value> {
        self.schema(id).map(|s| self.schema_document(s, base_url))
    }

    /// `GET /Schemas`: every schema as a `ListResponse`.
    pub fn schemas_list_document(&self, base_url: &str) -> Value {
        let docs: Vec<Value> = self.all().iter().map(|s| self.schema_document(s, base_url)).collect();
        ListResponse::index(docs.len() as u64, 1, docs).to_value()
    }

    /// The representation of one resource type, with `meta.location` under `base_url`.
    pub fn resource_type_document(&self, kind: ResourceKind, base_url: &str) -> Value {
        let rt = self.resource_type(kind);
        let extensions: Vec<Value> =
            rt.extensions.iter().map(|e| json!({"schema": e.schema, "required": e.required})).collect();
        json!({
            "schemas": [urn::RESOURCE_TYPE],
            "id": kind.name(),
            "name": kind.name(),
            "endpoint": format!("/{}", kind.endpoint()),
            "description": rt.description,
            "schema": rt.schema,
            "schemaExtensions": extensions,
            "meta": {
                "resourceType": "ResourceType",
                "location": format!("{}/ResourceTypes/{}", trim(base_url), kind.name()),
            }
        })
    }

    /// `GET /ResourceTypes/{name}`: the resource type called `name` (case-insensitive), or `None`.
    pub fn resource_type_document_by_name(&self, name: &str, base_url: &str) -> Option<Value> {
        ResourceKind::from_name(name).map(|k| self.resource_type_document(k, base_url))
    }

    /// `GET /ResourceTypes`: every resource type as a `ListResponse`.
    pub fn resource_types_list_document(&self, base_url: &str) -> Value {
        let docs: Vec<Value> =
            ResourceKind::ALL.into_iter().map(|k| self.resource_type_document(k, base_url)).collect();
        ListResponse::index(docs.len() as u64, 1, docs).to_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_resource_type_lists_both_extensions_and_its_location() {
        let s = Schemas::standard();
        let doc = s.resource_type_document_by_name("user", "https://scim.example.com/v2/").unwrap();
        assert_eq!(doc["endpoint"], "/Users");
        assert_eq!(doc["schema"], urn::USER);
        assert_eq!(doc["schemaExtensions"][0]["schema"], urn::ENTERPRISE_USER);
        assert_eq!(doc["schemaExtensions"][1]["schema"], urn::LINKED_OBJECT);
        assert_eq!(doc["meta"]["location"], "https://scim.example.com/v2/ResourceTypes/User");
    }

    #[test]
    fn schema_document_spells_out_every_characteristic() {
        let s = Schemas::standard();
        let doc = s.schema_document_by_id(urn::USER, "https://x/v2").unwrap();
        let user_name = &doc["attributes"][0];
        assert_eq!(user_name["name"], "userName");
        assert_eq!(user_name["type"], "string");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(user_name["returned"], "default");
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(doc["meta"]["location"], format!("https://x/v2/Schemas/{}", urn::USER));
        let members = s.schema_document_by_id(urn::GROUP, "https://x/v2").unwrap();
        let text = members.to_string();
        assert!(!text.contains("x-strict"), "private keys are never served");
    }

    #[test]
    fn lists_carry_every_schema_and_resource_type() {
        let s = Schemas::standard();
        let schemas = s.schemas_list_document("https://x");
        assert_eq!(schemas["totalResults"], 9);
        let types = s.resource_types_list_document("https://x");
        assert_eq!(types["totalResults"], 7);
        assert_eq!(types["Resources"][5]["endpoint"], "/PrivilegedDataPermissions");
        assert_eq!(types["Resources"][6]["endpoint"], "/Roles");
    }
}
