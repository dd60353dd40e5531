//! The attribute store: the SCIM attributes Secret Server has no field for (`externalId`, `name`,
//! phone numbers, the Enterprise and LinkedObject extensions, the e-mail entries beyond the primary
//! address, a permission's requested `rights`...), kept by the connector so that they round-trip
//! exactly.
//!
//! One entry per resource, as a compact JSON object, in the state store namespace
//! `attrs:<instance>:<ResourceType>` keyed by the Secret Server id: Redis in production (shared by
//! every adapter replica), SQLite or memory in `dev`. The read model holds the same text in memory
//! and parses it only to render or to index.
//!
//! Keys starting with `$` are the connector's own and never rendered (a SCIM attribute name cannot
//! start with one, so no client can write them): `$unset` (see `mapping::UNSET`) and
//! [`CREATED_BY`], the connection that created a user or group, which its principal scope and
//! password policy ask about. Kept here, it survives resyncs and restarts and every replica reads
//! it.

use bytes::Bytes;
use scim::ResourceKind;
use serde_json::{Map, Value};
use state_store::{StateStore, StoreError, Write};
use std::collections::HashMap;
use std::sync::Arc;

/// The attribute-store key naming the connection that created a user or group through the
/// connector. Written when the connector creates it, carried over by every later change.
pub const CREATED_BY: &str = "$createdBy";

/// Carries the connector's own record of who created a resource from its `previous` stored
/// attributes into `attrs` (the attributes about to be stored), which a client's document never
/// holds.
pub fn keep_creator(attrs: &mut Map<String, Value>, previous: Option<&str>) {
    attrs.shift_remove(CREATED_BY);
    if let Some(creator) = from_text(previous).get(CREATED_BY).cloned() {
        attrs.insert(CREATED_BY.to_owned(), creator);
    }
}

/// The persisted attributes of one instance.
#[derive(Debug, Clone)]
pub struct AttributeStore {
    state: Arc<dyn StateStore>,
    instance: String,
}

/// Compact JSON text of an attribute object; `None` when there is nothing to keep.
pub fn to_text(attrs: &Map<String, Value>) -> Option<Box<str>> {
    if attrs.is_empty() {
        return None;
    }
    serde_json::to_string(attrs).ok().map(String::into_boxed_str)
}

/// The attribute object of a stored text (empty when absent or unreadable).
pub fn from_text(text: Option<&str>) -> Map<String, Value> {
    match text.map(serde_json::from_str::<Value>) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    }
}

impl AttributeStore {
    /// The attribute store of instance `instance`.
    pub fn new(state: Arc<dyn StateStore>, instance: &str) -> Self {
        Self { state, instance: instance.to_owned() }
    }

    fn namespace(&self, kind: ResourceKind) -> String {
        format!("attrs:{}:{}", self.instance, kind.name())
    }

    /// Every stored attribute object of `kind`, by id.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn load_all(&self, kind: ResourceKind) -> Result<HashMap<i64, Box<str>>, StoreError> {
        let entries = self.state.load_all(&self.namespace(kind)).await?;
        let mut out = HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            match (adapter_api::id::parse(&key), std::str::from_utf8(&value)) {
                (Some(id), Ok(text)) if text.starts_with('{') => {
                    out.insert(id, text.into());
                }
                _ => tracing::warn!(kind = kind.name(), key = %key, "skipping an unreadable attribute entry"),
            }
        }
        Ok(out)
    }

    /// The stored attributes of one resource.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn get(&self, kind: ResourceKind, id: i64) -> Result<Option<Box<str>>, StoreError> {
        let value = self.state.get(&self.namespace(kind), &id.to_string()).await?;
        Ok(value.and_then(|v| String::from_utf8(v.to_vec()).ok()).map(String::into_boxed_str))
    }

    /// The write that stores one resource's attributes, for a batch.
    pub fn put_write(&self, kind: ResourceKind, id: i64, attrs: &str) -> Write {
        Write::Put { namespace: self.namespace(kind), key: id.to_string(), value: Bytes::from(attrs.to_owned()) }
    }

    /// Stores (or, for `None`, removes) one resource's attributes.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn put(&self, kind: ResourceKind, id: i64, attrs: Option<&str>) -> Result<(), StoreError> {
        match attrs {
            Some(text) => self.state.put(&self.namespace(kind), &id.to_string(), Bytes::from(text.to_owned())).await,
            None => self.state.delete(&self.namespace(kind), &id.to_string()).await.map(|_| ()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_empty_attribute_object_is_not_stored() {
        assert_eq!(to_text(&Map::new()), None);
    }

    #[test]
    fn the_creator_is_carried_over_and_a_document_cannot_bring_its_own() {
        let Value::Object(mut attrs) = json!({"externalId": "e2", "$createdBy": "forged"}) else { unreachable!() };
        keep_creator(&mut attrs, Some(r#"{"externalId":"e1","$createdBy":"okta"}"#));
        assert_eq!(attrs.get(CREATED_BY), Some(&json!("okta")));
        keep_creator(&mut attrs, None);
        assert_eq!(attrs.get(CREATED_BY), None);
    }

    #[test]
    fn attribute_text_round_trips_in_order() {
        let Value::Object(map) = json!({"externalId": "e1", "name": {"givenName": "Barbara"}}) else { unreachable!() };
        let text = to_text(&map).unwrap();
        assert_eq!(&*text, r#"{"externalId":"e1","name":{"givenName":"Barbara"}}"#);
        assert_eq!(from_text(Some(&text)), map);
        assert!(from_text(Some("not json")).is_empty());
    }
}
