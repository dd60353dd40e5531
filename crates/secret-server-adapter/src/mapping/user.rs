//! User ↔ Secret Server user.
//!
//! | SCIM | Secret Server |
//! |---|---|
//! | `id` | `id` |
//! | `userName` | `userName` (immutable in Secret Server) |
//! | `displayName` | `displayName`; Secret Server requires one, so a document without `displayName` gives it `name.formatted`, else `name.givenName` and `name.familyName` (those present, with a space), else the user name; the SCIM representation still has no `displayName` then |
//! | the primary `emails` value | `emailAddress` |
//! | `active` | `enabled` (and not deleted through SCIM); enabled on create when absent |
//! | `groups` (read-only) | the groups the user is a member of |
//! | `roles` | the Secret Server roles assigned to the user directly, `value` and `display` the role's name (assigned and unassigned through `/users/{id}/roles`; roles held through a group are not listed) |
//! | `password` (write-only) | sent on create and replace, never stored, never returned |
//!
//! `entitlements` are not advertised (Secret Server has none) and never stored.
//!
//! Everything else (`externalId`, `name`, phone numbers, addresses, the Enterprise and LinkedObject
//! extensions, every `emails` entry with its `type` and `primary`) lives in the attribute store. The
//! stored `emails` are rendered with the primary entry's value taken from Secret Server, so a change
//! made there shows; a user that came from Secret Server alone gets one `work` entry.
//!
//! A `displayName` or `active` the client left unassigned (removed, or absent from its document)
//! reads back as absent while Secret Server keeps the value the connector gave it (see
//! `mapping::UNSET`): a user created or replaced without `displayName` (the README's `bjensen`,
//! with only a `name`) is "Barbara Jensen" in Secret Server, whose administrators need a readable
//! name, and has no `displayName` in SCIM, where the client set none. Leaving `active` unassigned
//! never enables or disables anyone: an update without it keeps the user's state, and a create
//! without it enables the user, which reads back as `active: true` (the server's default).

use super::{
    UNSET, View, merge_attrs, meta_value, start, stored_attrs, unassigned, write_meta, write_str, write_value,
};
use scim::urn;
use secrecy::SecretString;
use serde_json::{Map, Value, json};
use std::io::Write;

/// Attributes the mapping owns (never copied from the attribute store as they are).
const OWNED: &[&str] = &[
    "userName",
    "displayName",
    "active",
    "emails",
    "groups",
    "roles",
    "entitlements",
    "password",
    "meta",
    "id",
    "schemas",
];

/// The attributes a document gives that are never stored: Secret Server holds them (or, for
/// `entitlements`, nothing could apply them).
const NOT_STORED: &[&str] = &["userName", "displayName", "active", "groups", "roles", "entitlements"];

/// A user's `roles`: the roles it holds directly, by name, in name order.
pub fn roles_value(
    view_roles: &std::collections::BTreeMap<i64, crate::read_model::records::RoleSs>,
    held: &[i64],
) -> Option<Value> {
    let names = role_names_held(view_roles, held);
    (!names.is_empty()).then(|| Value::Array(names.into_iter().map(|n| json!({"value": n, "display": n})).collect()))
}

/// The names of the roles held (`held`, ids), in the order `roles` lists them.
fn role_names_held<'a>(
    view_roles: &'a std::collections::BTreeMap<i64, crate::read_model::records::RoleSs>,
    held: &[i64],
) -> Vec<&'a str> {
    let mut names: Vec<&str> = held.iter().filter_map(|id| view_roles.get(id)).map(|r| &*r.name).collect();
    names.sort_unstable_by_key(|n| n.to_lowercase());
    names
}

/// The emails to show: the stored entries with the primary's value from Secret Server.
fn emails(stored: Option<&Value>, ss_email: Option<&str>) -> Option<Value> {
    let mut items: Vec<Value> = stored.and_then(Value::as_array).cloned().unwrap_or_default();
    if items.is_empty() {
        return ss_email.map(|e| json!([{"value": e, "type": "work", "primary": true}]));
    }
    with_primary_from_secret_server(&mut items, ss_email);
    (!items.is_empty()).then_some(Value::Array(items))
}

/// Gives the primary entry of non-empty stored `items` (the first when none is marked) Secret
/// Server's address, or removes it when Secret Server has none; the others stay as stored.
fn with_primary_from_secret_server(items: &mut Vec<Value>, ss_email: Option<&str>) {
    let primary = items.iter().position(|e| e.get("primary") == Some(&Value::Bool(true))).unwrap_or(0);
    match ss_email {
        Some(email) => {
            if let Some(obj) = items.get_mut(primary).and_then(Value::as_object_mut) {
                obj.insert("value".to_owned(), Value::String(email.to_owned()));
            }
        }
        // Removed in Secret Server: the primary entry goes; others stay.
        None => {
            items.remove(primary);
        }
    }
}

pub(super) fn render(view: &View<'_>, id: i64) -> Option<Value> {
    let rec = view.state.users.get(&id)?;
    let mut attrs = view.attrs(rec.attrs.as_deref());
    super::directory_link(&mut attrs, rec.ss.domain_name.as_deref(), rec.ss.ad_guid.as_deref());
    let mut doc = start(scim::ResourceKind::User, id, &attrs, &[urn::ENTERPRISE_USER, urn::LINKED_OBJECT]);
    let user_name = attrs.get("userName").and_then(Value::as_str).unwrap_or(&rec.ss.user_name).to_owned();
    doc.insert("userName".to_owned(), Value::String(user_name));
    let display_name = Value::String(rec.ss.display_name.to_string());
    if !unassigned(&attrs, "displayName", &display_name) {
        doc.insert("displayName".to_owned(), display_name);
    }
    let active = Value::Bool(rec.ss.enabled && !rec.deleted);
    if !unassigned(&attrs, "active", &active) {
        doc.insert("active".to_owned(), active);
    }
    if let Some(emails) = emails(attrs.get("emails"), rec.ss.email.as_deref()) {
        doc.insert("emails".to_owned(), emails);
    }
    let groups: Vec<Value> = view
        .state
        .groups_of(id)
        .iter()
        .filter(|g| view.group_visible(**g))
        .filter_map(|g| view.state.groups.get(g))
        .map(|g| json!({"value": g.ss.id.to_string(), "display": &*g.ss.name, "type": "direct"}))
        .collect();
    merge_attrs(&mut doc, attrs, OWNED);
    if !groups.is_empty() {
        doc.insert("groups".to_owned(), Value::Array(groups));
    }
    if let Some(roles) = roles_value(&view.state.roles, &rec.ss.roles) {
        doc.insert("roles".to_owned(), roles);
    }
    doc.insert("meta".to_owned(), meta_value(scim::ResourceKind::User, view.shown(rec.meta)));
    Some(Value::Object(doc))
}

/// [`render`], serialized: the same document, byte for byte (the test module checks it against
/// [`render`] over varied users), written straight to the output. Building the document as a
/// `Value` tree first cost an allocation per attribute name and value, and reads by id are mostly
/// users; only the stored attributes, which the connector keeps as JSON text, are still parsed.
pub(super) fn render_json(view: &View<'_>, id: i64) -> Option<Vec<u8>> {
    let rec = view.state.users.get(&id)?;
    let mut attrs = view.attrs(rec.attrs.as_deref());
    super::directory_link(&mut attrs, rec.ss.domain_name.as_deref(), rec.ss.ad_guid.as_deref());
    // Sized for a typical user up front: growing from empty reallocates four or five times.
    let mut out = Vec::with_capacity(768 + rec.attrs.as_ref().map_or(0, |a| a.len()));
    out.extend_from_slice(br#"{"schemas":["#);
    write_str(&mut out, scim::ResourceKind::User.schema_urn());
    for extension in [urn::ENTERPRISE_USER, urn::LINKED_OBJECT] {
        if attrs.contains_key(extension) {
            out.push(b',');
            write_str(&mut out, extension);
        }
    }
    out.extend_from_slice(br#"],"id":""#);
    let _ = write!(out, "{id}");
    out.push(b'"');
    if let Some(external_id) = attrs.get("externalId") {
        out.extend_from_slice(br#","externalId":"#);
        write_value(&mut out, external_id);
    }
    out.extend_from_slice(br#","userName":"#);
    write_str(&mut out, attrs.get("userName").and_then(Value::as_str).unwrap_or(&rec.ss.user_name));
    // As `unassigned` decides, without making the `Value` it compares with.
    let held = |name: &str| attrs.get(UNSET).and_then(|u| u.get(name));
    if held("displayName").is_none_or(|h| h.as_str() != Some(&*rec.ss.display_name)) {
        out.extend_from_slice(br#","displayName":"#);
        write_str(&mut out, &rec.ss.display_name);
    }
    let active = rec.ss.enabled && !rec.deleted;
    if held("active").is_none_or(|h| h.as_bool() != Some(active)) {
        out.extend_from_slice(if active { br#","active":true"# } else { br#","active":false"# });
    }
    write_emails(&mut out, attrs.get_mut("emails"), rec.ss.email.as_deref());
    for (key, value) in &attrs {
        if key == "externalId" || key.starts_with('$') || OWNED.iter().any(|o| o.eq_ignore_ascii_case(key)) {
            continue;
        }
        out.push(b',');
        write_str(&mut out, key);
        out.push(b':');
        write_value(&mut out, value);
    }
    let mut groups = view
        .state
        .groups_of(id)
        .iter()
        .filter(|g| view.group_visible(**g))
        .filter_map(|g| view.state.groups.get(g))
        .peekable();
    if groups.peek().is_some() {
        out.extend_from_slice(br#","groups":["#);
        for (i, group) in groups.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = write!(out, r#"{{"value":"{}","display":"#, group.ss.id);
            write_str(&mut out, &group.ss.name);
            out.extend_from_slice(br#","type":"direct"}"#);
        }
        out.push(b']');
    }
    let roles = role_names_held(&view.state.roles, &rec.ss.roles);
    if !roles.is_empty() {
        out.extend_from_slice(br#","roles":["#);
        for (i, name) in roles.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"value":"#);
            write_str(&mut out, name);
            out.extend_from_slice(br#","display":"#);
            write_str(&mut out, name);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.extend_from_slice(br#","meta":"#);
    write_meta(&mut out, scim::ResourceKind::User, view.shown(rec.meta));
    out.push(b'}');
    Some(out)
}

/// Writes `,"emails":[...]` as [`emails`] gives them, if it gives any: the `stored` entries
/// (changed in place, they are the caller's copy) with the primary's value from Secret Server.
fn write_emails(out: &mut Vec<u8>, stored: Option<&mut Value>, ss_email: Option<&str>) {
    match stored {
        Some(Value::Array(items)) if !items.is_empty() => {
            with_primary_from_secret_server(items, ss_email);
            if !items.is_empty() {
                out.extend_from_slice(br#","emails":"#);
                // Writing into a `Vec` cannot fail.
                let _ = serde_json::to_writer(&mut *out, &*items);
            }
        }
        _ => {
            if let Some(email) = ss_email {
                out.extend_from_slice(br#","emails":[{"value":"#);
                write_str(out, email);
                out.extend_from_slice(br#","type":"work","primary":true}]"#);
            }
        }
    }
}

/// What a validated User document asks of Secret Server.
pub struct UserFields {
    pub user_name: String,
    /// The client's `displayName`; `None` when the document has none (see
    /// [`UserFields::secret_server_display_name`]).
    pub display_name: Option<String>,
    /// The display name the document's `name` gives: `formatted`, else `givenName` and
    /// `familyName`; `None` when it gives neither.
    pub name_display: Option<String>,
    pub email: Option<String>,
    /// `None` when the document has none: enabled on create, unchanged on update.
    pub active: Option<bool>,
    /// Never stored, never logged.
    pub password: Option<SecretString>,
    /// The names of the roles the user is to hold directly (`roles[].value`, trimmed, duplicates
    /// removed); `None` when the document has no `roles` (no role changes on create).
    pub roles: Option<Vec<String>>,
    /// What goes to the attribute store.
    pub attrs: Map<String, Value>,
}

impl std::fmt::Debug for UserFields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserFields")
            .field("user_name", &self.user_name)
            .field("active", &self.active)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish_non_exhaustive()
    }
}

impl UserFields {
    /// The display name to give Secret Server, which requires one: the client's `displayName`,
    /// else the one its `name` gives, else the user name (`ss_user_name`, Secret Server's, which
    /// is what Secret Server would pick itself).
    pub fn secret_server_display_name(&self, ss_user_name: &str) -> String {
        self.display_name.clone().or_else(|| self.name_display.clone()).unwrap_or_else(|| ss_user_name.to_owned())
    }

    /// The attributes to store after a create or a replace that Secret Server now holds
    /// `held_display_name` for: the document's, and, when it has no `displayName`, the mark that
    /// the client left it unassigned, so that the SCIM representation shows only what the client
    /// set while Secret Server shows the display name derived for it.
    pub fn attrs_after_write(&self, held_display_name: &str) -> Map<String, Value> {
        let mut attrs = self.attrs.clone();
        if self.display_name.is_none() {
            mark_display_name_unassigned(&mut attrs, held_display_name);
        }
        attrs
    }
}

/// Records in `attrs` (the attributes to store, after a create or a replace) that the client left
/// `displayName` unassigned while Secret Server holds `held` for it.
pub fn mark_display_name_unassigned(attrs: &mut Map<String, Value>, held: &str) {
    attrs.insert(UNSET.to_owned(), json!({"displayName": held}));
}

/// The display name a User's `name` gives: `formatted`, else `givenName` and `familyName` (those
/// present, with a space).
fn display_name_from(name: Option<&Value>) -> Option<String> {
    let part =
        |key: &str| name.and_then(|n| n.get(key)).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
    if let Some(formatted) = part("formatted") {
        return Some(formatted.to_owned());
    }
    let parts: Vec<&str> = [part("givenName"), part("familyName")].into_iter().flatten().collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The primary e-mail: the entry marked primary, else the first with a value.
fn primary_email(doc: &Map<String, Value>) -> Option<String> {
    let items = doc.get("emails")?.as_array()?;
    let primary = items.iter().find(|e| e.get("primary") == Some(&Value::Bool(true)));
    primary
        .or_else(|| items.iter().find(|e| e.get("value").is_some()))
        .and_then(|e| e.get("value"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The role names a document's `roles` give (a User's or a Group's).
pub(crate) fn role_names(roles: Option<&Value>) -> Option<Vec<String>> {
    let items = roles?.as_array()?;
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    for name in items.iter().filter_map(|r| r.get("value")).filter_map(Value::as_str).map(str::trim) {
        if !name.is_empty() && !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_owned());
        }
    }
    Some(names)
}

/// Reads a validated (normalized) User document.
pub fn fields(doc: &Value) -> UserFields {
    let empty = Map::new();
    let doc = doc.as_object().unwrap_or(&empty);
    let user_name = doc.get("userName").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
    let display_name =
        doc.get("displayName").and_then(Value::as_str).map(str::trim).filter(|d| !d.is_empty()).map(str::to_owned);
    UserFields {
        email: primary_email(doc),
        active: doc.get("active").and_then(Value::as_bool),
        password: doc.get("password").and_then(Value::as_str).filter(|p| !p.is_empty()).map(SecretString::from),
        attrs: stored_attrs(doc, NOT_STORED),
        roles: role_names(doc.get("roles")),
        name_display: display_name_from(doc.get("name")),
        user_name,
        display_name,
    }
}

/// The mapped Secret Server fields of a user, as an audit event's before/after (no password).
pub fn audit_fields(user_name: &str, display_name: &str, email: Option<&str>, enabled: bool) -> Value {
    json!({"userName": user_name, "displayName": display_name, "emailAddress": email, "enabled": enabled})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::Unscoped;
    use crate::read_model::records::{GroupRec, GroupSs, Meta, RoleSs, UserRec, UserSs};
    use crate::read_model::state::State;
    use connections::DeletedUserPolicy;
    use proptest::prelude::*;

    /// Text that needs every kind of care: quotes, backslashes, control characters, non-ASCII.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[a-zA-Z0-9 ._@-]{0,12}", "[\"\\\\\u{0}-\u{1f}\u{7f}é€😀/<>a-z]{0,8}", Just(String::new()),]
    }

    /// Any JSON value a client could have stored, a few levels deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((text(), inner), 0..4)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// One stored `emails` entry: the usual shapes, and some a lenient client could leave.
    fn email_entry() -> impl Strategy<Value = Value> {
        prop_oneof![
            (text(), prop::option::of("work|home|other"), prop::option::of(any::<bool>())).prop_map(
                |(value, kind, primary)| {
                    let mut e = Map::new();
                    e.insert("value".to_owned(), Value::String(value));
                    if let Some(kind) = kind {
                        e.insert("type".to_owned(), Value::String(kind));
                    }
                    if let Some(primary) = primary {
                        e.insert("primary".to_owned(), Value::Bool(primary));
                    }
                    Value::Object(e)
                }
            ),
            (prop::option::of(any::<bool>()), text())
                .prop_map(|(primary, display)| json!({"primary": primary, "display": display})),
            json_value(),
        ]
    }

    /// The stored attributes of a user: each usual one present or absent, owned names a client
    /// could not store but an older version might have, the connector's own `$` keys, and others.
    fn stored_attrs_of(display: String, active: bool) -> impl Strategy<Value = Option<Map<String, Value>>> {
        let unset = prop_oneof![
            Just(None),
            Just(Some(json!({"displayName": display}))),
            Just(Some(json!({"active": active}))),
            Just(Some(json!({"displayName": display, "active": active}))),
            Just(Some(json!({"displayName": "someone else", "active": !active}))),
        ];
        (
            (
                prop::option::of(prop_oneof![text().prop_map(Value::String), json_value()]),
                prop::option::of(text()),
                prop::option::of(json_value()),
                prop::option::of(prop_oneof![
                    prop::collection::vec(email_entry(), 0..4).prop_map(Value::Array),
                    json_value(),
                ]),
                prop::option::of(json_value()),
                prop::option::of(json_value()),
            ),
            (unset, prop::option::of(text()), prop::collection::vec((text(), json_value()), 0..3), any::<u8>()),
        )
            .prop_map(
                |((external_id, user_name, name, emails, enterprise, linked), (unset, creator, others, order))| {
                    let mut attrs = Map::new();
                    let mut put = |key: &str, value: Option<Value>| {
                        if let Some(value) = value {
                            attrs.insert(key.to_owned(), value);
                        }
                    };
                    put("name", name);
                    put("externalId", external_id);
                    put("emails", emails);
                    put(urn::ENTERPRISE_USER, enterprise);
                    put(UNSET, unset);
                    put(crate::attributes::CREATED_BY, creator.map(Value::String));
                    put(urn::LINKED_OBJECT, linked);
                    put("userName", user_name.map(Value::String));
                    if order & 1 == 1 {
                        put("Groups", Some(json!([{"value": "1"}])));
                        put("META", Some(json!({"version": "x"})));
                    }
                    for (key, value) in others {
                        put(&key, Some(value));
                    }
                    if order & 2 == 2 {
                        attrs = std::mem::take(&mut attrs).into_iter().rev().collect();
                    }
                    (!attrs.is_empty() || order & 4 == 4).then_some(attrs)
                },
            )
    }

    /// A user with everything that varies: its Secret Server fields, stored attributes, groups
    /// (some with names that need escapes), roles (names differing only in case among them) and
    /// times.
    #[derive(Debug, Clone)]
    struct Case {
        ss: UserSs,
        deleted: bool,
        attrs: Option<Map<String, Value>>,
        groups: Vec<i64>,
        meta: Meta,
        policy: DeletedUserPolicy,
    }

    fn case() -> impl Strategy<Value = Case> {
        (
            (text(), text(), prop::option::of(text()), any::<bool>(), any::<bool>()),
            (prop::option::of(text()), prop::option::of(text()), prop::collection::btree_set(1i64..=6, 0..6)),
            (prop::collection::btree_set(1i64..=4, 0..4), -62_135_596_800_000i64..253_402_300_799_999, any::<u64>()),
            any::<bool>(),
        )
            .prop_flat_map(
                |(
                    (user_name, display, email, enabled, deleted),
                    (domain, guid, roles),
                    (groups, at, version),
                    inactive,
                )| {
                    let display_name = display.clone();
                    stored_attrs_of(display, enabled && !deleted).prop_map(move |attrs| Case {
                        ss: UserSs {
                            email: email.clone().map(Into::into),
                            enabled,
                            roles: roles.iter().copied().collect(),
                            domain_name: domain.clone().map(Into::into),
                            ad_guid: guid.clone().map(Into::into),
                            display_name: display_name.clone().into(),
                            ..UserSs::local(42, &user_name)
                        },
                        deleted,
                        attrs,
                        groups: groups.iter().copied().collect(),
                        meta: Meta { created: at, modified: at.saturating_add(1_234_567), version },
                        policy: if inactive { DeletedUserPolicy::Inactive } else { DeletedUserPolicy::NotFound },
                    })
                },
            )
    }

    fn state_of(case: &Case) -> State {
        let mut state = State::default();
        for (id, name) in
            [(1, "Admins"), (2, "b-role"), (3, "B-Role"), (4, "é \"quoted\""), (5, "a\u{1}b"), (6, "Zeta")]
        {
            state.roles.insert(id, RoleSs { id, name: name.into(), enabled: true });
        }
        let attrs = case.attrs.as_ref().and_then(crate::attributes::to_text);
        state.put_user(UserRec { ss: case.ss.clone(), attrs, deleted: case.deleted, meta: case.meta });
        for (id, name) in [(1, "Ops"), (2, "Dev \"core\" \\ é"), (3, "line\nbreak"), (4, "")] {
            let members = if case.groups.contains(&id) { vec![42] } else { vec![] };
            state.put_group(GroupRec { ss: GroupSs::local(id, name), members, attrs: None, meta: Meta::default() });
        }
        state
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_user_written_straight_to_bytes_is_the_rendered_document_byte_for_byte(case in case()) {
            let state = state_of(&case);
            let caller = Unscoped::new();
            let view = caller.view(&state, case.policy);
            let reference = render(&view, 42).map(|doc| serde_json::to_string(&doc).unwrap());
            let written = view.render_json(scim::ResourceKind::User, 42, crate::mapping::RenderOptions::default());
            let visible = view.user_visible(42);
            prop_assert_eq!(written.map(|b| String::from_utf8(b).unwrap()), reference.filter(|_| visible));
        }
    }

    #[test]
    fn a_user_written_straight_to_bytes_has_every_part_of_the_document() {
        let mut state = State::default();
        state.roles.insert(7, RoleSs { id: 7, name: "Auditor".into(), enabled: true });
        let ss = UserSs {
            email: Some("b@example.com".into()),
            roles: Box::new([7]),
            ad_guid: Some("guid-1".into()),
            domain_name: Some("corp".into()),
            ..UserSs::local(42, "bjensen")
        };
        let attrs = json!({"externalId": "e-1", urn::ENTERPRISE_USER: {"employeeNumber": "7"},
            "emails": [{"value": "old@example.com", "type": "work", "primary": true}, {"value": "h@example.com"}]});
        let attrs = crate::attributes::to_text(attrs.as_object().unwrap());
        state.put_user(UserRec { ss, attrs, deleted: false, meta: Meta { created: 0, modified: 1, version: 255 } });
        state.put_group(GroupRec {
            ss: GroupSs::local(9, "Ops"),
            members: vec![42],
            attrs: None,
            meta: Meta::default(),
        });
        let caller = Unscoped::new();
        let view = caller.view(&state, DeletedUserPolicy::NotFound);
        let bytes = view.render_json(scim::ResourceKind::User, 42, crate::mapping::RenderOptions::default()).unwrap();
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["schemas"], json!([urn::USER, urn::ENTERPRISE_USER, urn::LINKED_OBJECT]));
        assert_eq!(doc["emails"][0]["value"], "b@example.com");
        assert_eq!(doc["groups"], json!([{"value": "9", "display": "Ops", "type": "direct"}]));
        assert_eq!(doc["roles"], json!([{"value": "Auditor", "display": "Auditor"}]));
        assert_eq!(doc[urn::LINKED_OBJECT], json!({"source": "corp", "nativeIdentifier": "guid-1"}));
        assert_eq!(doc["meta"]["version"], crate::meta::etag(view.tag(255)), "the caller's tag of the version");
        assert_eq!(doc["meta"]["lastModified"], "1970-01-01T00:00:00.001Z");
        assert_eq!(String::from_utf8(bytes).unwrap(), serde_json::to_string(&render(&view, 42).unwrap()).unwrap());
    }

    #[test]
    fn stored_emails_show_secret_servers_address_as_the_primary() {
        let stored = json!([
            {"value": "old@example.com", "type": "work", "primary": true},
            {"value": "home@example.com", "type": "home"}
        ]);
        let shown = emails(Some(&stored), Some("new@example.com")).unwrap();
        assert_eq!(shown[0]["value"], "new@example.com");
        assert_eq!(shown[1]["value"], "home@example.com");
    }

    #[test]
    fn a_secret_server_user_gets_one_primary_work_email() {
        assert_eq!(
            emails(None, Some("a@example.com")).unwrap(),
            json!([{"value": "a@example.com", "type": "work", "primary": true}])
        );
        assert_eq!(emails(None, None), None);
    }

    #[test]
    fn fields_keep_unmapped_attributes_and_never_the_password() {
        let doc = json!({
            "schemas": [urn::USER],
            "userName": "bjensen",
            "externalId": "e-1",
            "name": {"givenName": "Barbara"},
            "password": "Secret-Passw0rd!",
            "emails": [{"value": "b@example.com", "type": "work", "primary": true}],
            "active": false
        });
        let f = fields(&doc);
        assert_eq!(f.user_name, "bjensen");
        assert_eq!(f.display_name, None);
        assert_eq!(f.secret_server_display_name("bjensen"), "Barbara");
        assert_eq!(f.email.as_deref(), Some("b@example.com"));
        assert_eq!(f.active, Some(false));
        assert!(f.password.is_some());
        let keys: Vec<&str> = f.attrs.keys().map(String::as_str).collect();
        assert_eq!(keys, vec!["externalId", "name", "emails"]);
        assert!(!format!("{f:?}").contains("Passw0rd"));
    }

    #[test]
    fn secret_servers_display_name_comes_from_what_the_client_gave() {
        let shown = |doc: Value| fields(&doc).secret_server_display_name("ss-name");
        let name = json!({"formatted": "Ms. Barbara J Jensen III", "givenName": "Barbara", "familyName": "Jensen"});
        assert_eq!(shown(json!({"userName": "bjensen", "displayName": "Babs", "name": name})), "Babs");
        assert_eq!(shown(json!({"userName": "bjensen", "name": name})), "Ms. Barbara J Jensen III");
        assert_eq!(
            shown(json!({"userName": "bjensen", "name": {"givenName": "Barbara", "familyName": "Jensen"}})),
            "Barbara Jensen"
        );
        assert_eq!(
            shown(json!({"userName": "bjensen", "name": {"familyName": " Jensen ", "formatted": " "}})),
            "Jensen"
        );
        assert_eq!(shown(json!({"userName": "bjensen"})), "ss-name");
    }

    #[test]
    fn a_write_without_display_name_stores_that_the_client_left_it_unassigned() {
        let without = fields(&json!({"userName": "bjensen", "name": {"givenName": "Barbara", "familyName": "Jensen"}}));
        let attrs = without.attrs_after_write("Barbara Jensen");
        assert_eq!(attrs[UNSET], json!({"displayName": "Barbara Jensen"}));
        assert!(super::super::unassigned(&attrs, "displayName", &json!("Barbara Jensen")));
        let with = fields(&json!({"userName": "bjensen", "displayName": "Babs"}));
        assert!(!with.attrs_after_write("Babs").contains_key(UNSET));
    }
}
