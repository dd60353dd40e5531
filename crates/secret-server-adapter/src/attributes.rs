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
//! manage the same user neither see nor overwrite each other's. The same holds for the `userName`
//! a connection gave a user under the `keep-secret-server-name` policy ([`USER_NAMES`]): the
//! others see Secret Server's. And for the PAM LinkedObject extension a client sets on a local user
//! or group (its correlation keys in its own identity domain). A plain `externalId` (or `userName`) entry is one stored before
//! values were scoped: it shows to the resource's creating connection (to every connection when
//! none created it) that has no value of its own, and no write claims or drops it.

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

/// The attribute-store key holding the `userName` each connection gave a user where Secret Server
/// keeps its own (the `keep-secret-server-name` policy), by connection id.
pub const USER_NAMES: &str = "$userNames";

/// The attributes each connection keeps for itself, with the key holding their values: its
/// `externalId`, the `userName` it kept, the `rights` it asked for on a permission (in its own
/// rights vocabulary), the attributes it left unassigned (`$unset`, see `mapping::UNSET`) and the
/// PAM LinkedObject extension of a local principal (its `source` and `nativeIdentifier`, the
/// client's own correlation keys; a directory principal shows its domain's, from Secret Server).
const SCOPED: [(&str, &str); 5] = [
    ("externalId", EXTERNAL_IDS),
    ("userName", USER_NAMES),
    ("rights", "$rights"),
    ("$unset", "$unsets"),
    (scim::urn::LINKED_OBJECT, "$linkedObjects"),
];

/// Whether a value of `attr` stored before values were scoped (a plain entry) shows to
/// `connection`: to the resource's creating connection, or to every connection when none created
/// it through the connector.
fn legacy_shows_to(stored: &Map<String, Value>, connection: &str) -> bool {
    match stored.get(CREATED_BY) {
        Some(Value::String(creator)) => creator == connection,
        _ => true,
    }
}

/// Prepares `attrs`, the attributes `connection` is about to store for a resource whose stored
/// attributes were `previous`: the connector's own record of who created it is carried over (a
/// client's document never holds one: any it brings is dropped), and the values each connection
/// keeps for itself (`SCOPED`: `externalId`, a kept `userName`, requested `rights`, `$unset`)
/// become this connection's, beside every other connection's, carried over untouched. Run it last,
/// after anything that puts such a value into `attrs`.
///
/// A value stored before values were scoped stays as it is, for whom it shows to (see
/// [`as_seen_by`]): nothing here can tell whose it was, so no write claims or drops it. A
/// connection that sees it and sends it unchanged changes nothing; one that sends another value
/// gets its own; one that removes it no longer sees it (a `null` of its own hides it).
pub fn carry_over(attrs: &mut Map<String, Value>, previous: Option<&str>, connection: &str) {
    attrs.shift_remove(CREATED_BY);
    let mut previous = from_text(previous);
    let shows = legacy_shows_to(&previous, connection);
    for (attr, key) in SCOPED {
        attrs.shift_remove(key);
        let mut values = match previous.shift_remove(key) {
            Some(Value::Object(values)) => values,
            _ => Map::new(),
        };
        let legacy = previous.shift_remove(attr);
        let sees_legacy = shows && legacy.is_some() && !values.contains_key(connection);
        match attrs.shift_remove(attr) {
            Some(value) if sees_legacy && legacy.as_ref() == Some(&value) => {}
            Some(value) => drop(values.insert(connection.to_owned(), value)),
            None if sees_legacy => drop(values.insert(connection.to_owned(), Value::Null)),
            None => drop(values.shift_remove(connection)),
        }
        if let Some(legacy) = legacy {
            attrs.insert(attr.to_owned(), legacy);
        }
        if !values.is_empty() {
            attrs.insert(key.to_owned(), Value::Object(values));
        }
    }
    if let Some(creator) = previous.shift_remove(CREATED_BY) {
        attrs.insert(CREATED_BY.to_owned(), creator);
    }
}

/// Turns stored attributes into what `connection` sees: its own values of the `SCOPED`
/// attributes and no other connection's (see the module's introduction).
pub fn as_seen_by(attrs: &mut Map<String, Value>, connection: &str) {
    let shows = legacy_shows_to(attrs, connection);
    for (attr, key) in SCOPED {
        let legacy = attrs.shift_remove(attr);
        let own = match attrs.shift_remove(key) {
            Some(Value::Object(mut values)) => values.shift_remove(connection),
            _ => None,
        };
        let seen = match own {
            // Removed by this connection: the value stored before scoping no longer shows to it.
            Some(Value::Null) => None,
            Some(value) => Some(value),
            None => legacy.filter(|_| shows),
        };
        if let Some(value) = seen {
            attrs.insert(attr.to_owned(), value);
        }
    }
}

/// Stored attributes as `connection` sees them (see [`as_seen_by`]).
pub fn seen_by(stored: Option<&str>, connection: &str) -> Map<String, Value> {
    let mut attrs = from_text(stored);
    as_seen_by(&mut attrs, connection);
    attrs
}

/// Every connection's values of `attr` (`externalId` or `userName`) in stored attributes, for the
/// read model's indexes, whose candidates the filter then checks against the caller's own
/// rendering.
fn scoped_values<'a>(attrs: &'a Map<String, Value>, attr: &str) -> impl Iterator<Item = &'a str> {
    let key = SCOPED.iter().find(|(a, _)| *a == attr).map_or("", |(_, key)| *key);
    let scoped = attrs.get(key).and_then(Value::as_object).into_iter().flat_map(|values| values.values());
    attrs.get(attr).into_iter().chain(scoped).filter_map(Value::as_str)
}

/// Every connection's `externalId` (see `scoped_values`).
pub fn external_ids(attrs: &Map<String, Value>) -> impl Iterator<Item = &str> {
    scoped_values(attrs, "externalId")
}

/// Every connection's kept `userName` (see `scoped_values`).
pub fn kept_user_names(attrs: &Map<String, Value>) -> impl Iterator<Item = &str> {
    scoped_values(attrs, "userName")
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
    fn a_value_stored_before_scoping_shows_to_its_creator_or_to_all_and_no_write_claims_it() {
        let created = object(json!({"externalId": "e1", "$createdBy": "okta"}));
        assert_eq!(seen_by(&created, "okta"), Some(json!("e1")));
        assert_eq!(seen_by(&created, "entra"), None);
        let unowned = object(json!({"externalId": "sp-123"}));
        assert_eq!(seen_by(&unowned, "sailpoint"), Some(json!("sp-123")));
        // Sent back unchanged (any other change of the resource): nothing moves.
        let mut okta = object(json!({"externalId": "sp-123", "nickName": "x"}));
        carry_over(&mut okta, to_text(&unowned).as_deref(), "okta");
        assert_eq!(okta, object(json!({"externalId": "sp-123", "nickName": "x"})));
        // Another value: the writer's own, the old one still shows to the others.
        let mut entra = object(json!({"externalId": "entra-1"}));
        carry_over(&mut entra, to_text(&okta).as_deref(), "entra");
        assert_eq!(
            (seen_by(&entra, "entra"), seen_by(&entra, "sailpoint")),
            (Some(json!("entra-1")), Some(json!("sp-123")))
        );
        // Removed: hidden from the writer only.
        let mut okta = object(json!({}));
        carry_over(&mut okta, to_text(&entra).as_deref(), "okta");
        assert_eq!(seen_by(&okta, "okta"), None);
        assert_eq!(seen_by(&okta, "sailpoint"), Some(json!("sp-123")));
        let mut ids: Vec<&str> = external_ids(&okta).collect();
        ids.sort_unstable();
        assert_eq!(ids, ["entra-1", "sp-123"], "a removal leaves no value in the index");
    }

    #[test]
    fn requested_rights_and_unassigned_attributes_are_each_connections_own() {
        let mut sailpoint = object(json!({"rights": ["View", "Edit"], "$unset": {"displayName": "Ops"}}));
        carry_over(&mut sailpoint, None, "sailpoint");
        let mut seen = sailpoint.clone();
        as_seen_by(&mut seen, "sailpoint");
        assert_eq!(seen, object(json!({"rights": ["View", "Edit"], "$unset": {"displayName": "Ops"}})));
        let mut seen = sailpoint.clone();
        as_seen_by(&mut seen, "okta");
        assert!(seen.is_empty(), "another connection sees the roles in its own words, and every attribute");
    }

    #[test]
    fn a_kept_user_name_is_its_connections_own_as_an_external_id_is() {
        let mut okta = object(json!({"userName": "john.doe"}));
        carry_over(&mut okta, None, "okta");
        assert_eq!(okta, object(json!({"$userNames": {"okta": "john.doe"}})));
        let mut seen = okta.clone();
        as_seen_by(&mut seen, "okta");
        assert_eq!(seen.get("userName"), Some(&json!("john.doe")));
        let mut seen = okta.clone();
        as_seen_by(&mut seen, "entra");
        assert_eq!(seen.get("userName"), None, "another connection sees Secret Server's name");
        assert_eq!(kept_user_names(&okta).collect::<Vec<_>>(), ["john.doe"]);
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
