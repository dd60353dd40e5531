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
//! start with one, so no client can write them): `$unset` (see `mapping::UNSET`),
//! [`CREATED_BY`], the connection that created a user or group, which its principal scope and
//! password policy ask about, and [`EXTERNAL_IDS`]. Kept here, they survive resyncs and restarts
//! and every replica reads them.
//!
//! `externalId` is the provisioning client's identifier, and RFC 7643 (section 3.1) has the
//! service provider interpret it "as scoped to the provisioning domain": here, the connection.
//! Each connection's value is kept apart under [`EXTERNAL_IDS`] ([`carry_over`] on every write)
//! and a connection sees only its own ([`as_seen_by`] on every rendering), so two platforms that
//! manage the same user neither see nor overwrite each other's. A plain `externalId` entry is one
//! stored before values were scoped: it is its creator's when the resource has one (and every
//! connection's that has no value of its own when it has none) until the next write moves it.

use bytes::Bytes;
use scim::ResourceKind;
use serde_json::{Map, Value};
use state_store::{StateStore, StoreError, Write};
use std::collections::HashMap;
use std::sync::Arc;

/// The attribute-store key naming the connection that created a user or group through the
/// connector. Written when the connector creates it, carried over by every later change.
pub const CREATED_BY: &str = "$createdBy";

/// The attribute-store key holding each connection's `externalId`, as an object from connection
/// id to value.
pub const EXTERNAL_IDS: &str = "$externalIds";

/// Prepares `attrs`, the attributes `connection` is about to store for a resource whose stored
/// attributes were `previous`: the connector's own record of who created it is carried over (a
/// client's document never holds one: any it brings is dropped), and the document's `externalId`
/// becomes this connection's, beside every other connection's, carried over untouched.
pub fn carry_over(attrs: &mut Map<String, Value>, previous: Option<&str>, connection: &str) {
    attrs.shift_remove(CREATED_BY);
    attrs.shift_remove(EXTERNAL_IDS);
    let mut previous = from_text(previous);
    let creator = previous.shift_remove(CREATED_BY);
    let mut ids = match previous.shift_remove(EXTERNAL_IDS) {
        Some(Value::Object(ids)) => ids,
        _ => Map::new(),
    };
    // A value stored before values were scoped is its creator's; without a creator, the writer
    // saw it as its own (see `as_seen_by`) and its document carries it if it keeps it.
    if let (Some(legacy), Some(Value::String(creator))) = (previous.shift_remove("externalId"), &creator)
        && creator != connection
    {
        ids.entry(creator.clone()).or_insert(legacy);
    }
    match attrs.shift_remove("externalId") {
        Some(own) => ids.insert(connection.to_owned(), own),
        None => ids.shift_remove(connection),
    };
    if let Some(creator) = creator {
        attrs.insert(CREATED_BY.to_owned(), creator);
    }
    if !ids.is_empty() {
        attrs.insert(EXTERNAL_IDS.to_owned(), Value::Object(ids));
    }
}

/// Turns stored attributes into what `connection` sees: its own `externalId` and no other
/// connection's (see the module's introduction).
pub fn as_seen_by(attrs: &mut Map<String, Value>, connection: &str) {
    let legacy = attrs.shift_remove("externalId");
    let own = match attrs.shift_remove(EXTERNAL_IDS) {
        Some(Value::Object(mut ids)) => ids.shift_remove(connection),
        _ => None,
    };
    let legacy_is_ours = match attrs.get(CREATED_BY) {
        Some(Value::String(creator)) => creator == connection,
        _ => true,
    };
    if let Some(value) = own.or(legacy.filter(|_| legacy_is_ours)) {
        attrs.insert("externalId".to_owned(), value);
    }
}

/// Every connection's `externalId` of stored attributes (for the read model's index, whose
/// candidates the filter then checks against the caller's own rendering).
pub fn external_ids(attrs: &Map<String, Value>) -> impl Iterator<Item = &str> {
    let scoped = attrs.get(EXTERNAL_IDS).and_then(Value::as_object).into_iter().flat_map(|ids| ids.values());
    attrs.get("externalId").into_iter().chain(scoped).filter_map(Value::as_str)
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

    fn object(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else { panic!("not an object: {value}") };
        map
    }

    fn seen_by(stored: &Map<String, Value>, connection: &str) -> Option<Value> {
        let mut attrs = stored.clone();
        as_seen_by(&mut attrs, connection);
        assert!(!attrs.contains_key(EXTERNAL_IDS), "no connection sees the others' values");
        attrs.get("externalId").cloned()
    }

    #[test]
    fn the_creator_is_carried_over_and_a_document_cannot_bring_its_own() {
        let mut attrs = object(json!({"externalId": "e2", "$createdBy": "forged", "$externalIds": {"x": "forged"}}));
        carry_over(&mut attrs, Some(r#"{"$externalIds":{"okta":"e1"},"$createdBy":"okta"}"#), "okta");
        assert_eq!(attrs.get(CREATED_BY), Some(&json!("okta")));
        assert_eq!(attrs.get(EXTERNAL_IDS), Some(&json!({"okta": "e2"})));
        let mut attrs = object(json!({"$createdBy": "forged"}));
        carry_over(&mut attrs, None, "okta");
        assert!(attrs.is_empty());
    }

    #[test]
    fn each_connection_keeps_and_sees_its_own_external_id() {
        let mut stored = object(json!({"externalId": "entra-1"}));
        carry_over(&mut stored, None, "entra");
        let mut okta = object(json!({"externalId": "okta-9", "nickName": "Babs"}));
        carry_over(&mut okta, to_text(&stored).as_deref(), "okta");
        assert_eq!(seen_by(&okta, "entra"), Some(json!("entra-1")));
        assert_eq!(seen_by(&okta, "okta"), Some(json!("okta-9")));
        assert_eq!(seen_by(&okta, "sailpoint"), None);
        let mut ids: Vec<&str> = external_ids(&okta).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["entra-1", "okta-9"]);
        // A write without it removes the writer's own value only.
        let mut entra = object(json!({"nickName": "Babs"}));
        carry_over(&mut entra, to_text(&okta).as_deref(), "entra");
        assert_eq!(seen_by(&entra, "entra"), None);
        assert_eq!(seen_by(&entra, "okta"), Some(json!("okta-9")));
    }

    #[test]
    fn a_value_stored_before_scoping_is_the_creators_or_shared_when_there_is_none() {
        let created = object(json!({"externalId": "e1", "$createdBy": "okta"}));
        assert_eq!(seen_by(&created, "okta"), Some(json!("e1")));
        assert_eq!(seen_by(&created, "entra"), None);
        let mut attrs = object(json!({"externalId": "entra-1"}));
        carry_over(&mut attrs, to_text(&created).as_deref(), "entra");
        assert_eq!(attrs.get(EXTERNAL_IDS), Some(&json!({"okta": "e1", "entra": "entra-1"})));
        assert!(!attrs.contains_key("externalId"));
        let unowned = object(json!({"externalId": "e1"}));
        assert_eq!(seen_by(&unowned, "okta"), Some(json!("e1")));
        assert_eq!(seen_by(&unowned, "entra"), Some(json!("e1")));
        // Its next writer's document carried it as its own: the writer's it becomes.
        let mut attrs = object(json!({"externalId": "e1"}));
        carry_over(&mut attrs, to_text(&unowned).as_deref(), "entra");
        assert_eq!(seen_by(&attrs, "entra"), Some(json!("e1")));
        assert_eq!(seen_by(&attrs, "okta"), None);
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
