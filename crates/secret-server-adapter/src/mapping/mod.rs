//! SCIM ↔ Secret Server, one module per resource type: how a record (Secret Server's fields plus
//! the stored attributes) renders as a SCIM document, and how a validated SCIM document becomes the
//! fields to send to Secret Server and the attributes to keep.
//!
//! Rendering is per caller: a connection's rights mapping decides the `rights` of permissions, its
//! deleted-user policy whether a user deleted through SCIM exists, and its scope which folders (and
//! what is in them) it can see, and, when its principal scope limits reads, which users and groups
//! (and the permissions granted to them).

pub mod container;
pub mod container_permission;
pub mod group;
pub mod privileged_data;
pub mod privileged_data_permission;
pub mod rights;
pub mod role;
pub mod user;

use crate::meta::etag;
use crate::principals::{StateFacts, UnseenFacts};
use crate::read_model::records::{Meta, Principal};
use crate::read_model::state::State;
use crate::text::rfc3339_millis;
use connections::scope::Principal as ScopePrincipal;
use connections::{ConnectionId, DeletedUserPolicy, RightsMapping, Scope};
use scim::ResourceKind;
use serde_json::{Map, Value, json};

/// The read model as one caller sees it.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    pub state: &'a State,
    pub rights: &'a RightsMapping,
    pub deleted_users: DeletedUserPolicy,
    /// The caller's scope, whose container subtrees limit the folders it sees (and whose principal
    /// scope, when it limits reads, the users and groups).
    pub scope: &'a Scope,
    /// The caller's connection, which its principal scope is about.
    pub connection: &'a ConnectionId,
    /// What the caller is shown of a version: its own tag (see [`crate::meta::VersionTags`]).
    pub version_tags: &'a crate::meta::VersionTags,
}

/// What a unit test's [`View`] holds besides its state: no rights mapped, no scope, connection `c`.
#[cfg(test)]
pub(crate) struct Unscoped {
    rights: RightsMapping,
    scope: Scope,
    connection: ConnectionId,
    version_tags: crate::meta::VersionTags,
}

#[cfg(test)]
impl Unscoped {
    pub(crate) fn new() -> Self {
        Self {
            rights: RightsMapping::default(),
            scope: Scope::default(),
            connection: ConnectionId::try_from("c".to_owned()).expect("a valid connection id"),
            version_tags: crate::meta::VersionTags::new(b"a unit test's key"),
        }
    }

    /// `state` as this caller sees it, deleted users as `deleted_users` says.
    pub(crate) fn view<'a>(&'a self, state: &'a State, deleted_users: DeletedUserPolicy) -> View<'a> {
        View {
            state,
            rights: &self.rights,
            deleted_users,
            scope: &self.scope,
            connection: &self.connection,
            version_tags: &self.version_tags,
        }
    }
}

/// What to leave out of a rendering because the caller will not look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RenderOptions {
    /// Render a group's `members` (the expensive part of a large group).
    pub members: bool,
}

impl Default for RenderOptions {
    fn default() -> Self {
        Self { members: true }
    }
}

impl View<'_> {
    /// A record's stored attributes as the caller sees them: its own `externalId` and no other
    /// connection's (see [`crate::attributes::as_seen_by`]).
    pub fn attrs(&self, stored: Option<&str>) -> Map<String, Value> {
        crate::attributes::seen_by(stored, self.connection.as_str())
    }

    /// Another user the caller sees named `name` (Secret Server's name, or one the caller kept
    /// under the `keep-secret-server-name` policy), case-insensitively, `except` aside.
    pub fn user_named(&self, name: &str, except: Option<i64>) -> Option<i64> {
        let wanted = crate::text::fold(name);
        self.state.idx.user_name.get(name).into_iter().filter(|id| Some(*id) != except).find(|id| {
            self.user_visible(*id)
                && self.state.users.get(id).is_some_and(|u| {
                    let attrs = self.attrs(u.attrs.as_deref());
                    let shown = attrs.get("userName").and_then(Value::as_str).unwrap_or(&u.ss.user_name);
                    crate::text::fold(shown) == wanted
                })
        })
    }

    /// Whether `folder` exists and is within the caller's scope (the decision is
    /// [`Scope::covers_folder`]'s).
    pub fn folder_visible(&self, folder: i64) -> bool {
        let parent_of = |id: i64| self.state.folders.get(&id).map(|f| f.ss.parent);
        self.state.folders.contains_key(&folder) && self.scope.covers_folder(folder, parent_of)
    }

    /// A folder's path (`\Parent\Child`) as the caller may see it: from the topmost folder of
    /// the caller's scope that holds it (the root, for a caller without container subtrees), so
    /// that it names no folder outside the scope. Computed from the tree, so that a rename shows in
    /// every descendant at once.
    pub fn folder_path(&self, id: i64) -> String {
        let mut names = Vec::new();
        let mut at = id;
        // The depth bound guards against a cycle in data changed mid-resync.
        for _ in 0..256 {
            let Some(folder) = self.state.folders.get(&at) else { break };
            names.push(&*folder.ss.name);
            let parent = folder.ss.parent;
            if parent == secret_server_api::ROOT_FOLDER_ID || !self.folder_visible(parent) {
                break;
            }
            at = parent;
        }
        names.reverse();
        let mut path = String::new();
        for name in names {
            path.push('\\');
            path.push_str(name);
        }
        path
    }

    /// Whether a user exists for this caller (a user deleted through SCIM is gone under the default
    /// policy; one outside a principal scope that limits reads is not seen).
    pub fn user_visible(&self, id: i64) -> bool {
        self.state.users.get(&id).is_some_and(|u| !(u.deleted && self.deleted_users == DeletedUserPolicy::NotFound))
            && self.scope.shows(self.connection, ScopePrincipal::User(id), &StateFacts(self.state))
    }

    /// Whether a group exists for this caller (one outside a principal scope that limits reads is
    /// not seen).
    pub fn group_visible(&self, id: i64) -> bool {
        self.state.groups.contains_key(&id)
            && self.scope.shows(self.connection, ScopePrincipal::Group(id), &StateFacts(self.state))
    }

    /// Whether the caller's scope lets it read resources of `kind`. What one resource says about
    /// another follows it: a Container's `privilegedData` and the name of a permission's secret are
    /// shown only to a caller that may read PrivilegedData, a folder's name only to one that may read
    /// Containers, a principal's display only to one that may read its type.
    pub fn reads(&self, kind: ResourceKind) -> bool {
        self.scope.operations(kind).read
    }

    /// Whether the caller's principal scope lets it see `principal` (always, unless the scope
    /// limits reads), whether or not the read model holds it. What a permission of `principal`
    /// needs to be seen: a principal outside a scope that limits reads is not named by any
    /// resource the caller reads, not even by its id.
    ///
    /// A user deleted through SCIM (gone for the caller under the default policy) does not hide
    /// its permissions: Secret Server keeps them, and the caller must be able to find and revoke
    /// them.
    pub fn principal_shown(&self, principal: Principal) -> bool {
        self.scope.shows(self.connection, principal.into(), &StateFacts(self.state))
    }

    /// [`View::principal_shown`] for a principal the read model has not seen yet (read from Secret
    /// Server for the job at hand), created through the connector by `creator`, as its stored
    /// attributes say.
    pub fn unseen_principal_shown(&self, principal: Principal, creator: Option<&str>) -> bool {
        let facts = UnseenFacts { state: StateFacts(self.state), unseen: principal.into(), creator };
        self.scope.shows(self.connection, principal.into(), &facts)
    }

    /// Whether the caller can see resource `id` of `kind`. A permission is seen when its folder
    /// (or its secret's folder) is, and its principal too ([`View::principal_shown`]).
    pub fn visible(&self, kind: ResourceKind, id: i64) -> bool {
        let s = self.state;
        match kind {
            ResourceKind::User => self.user_visible(id),
            ResourceKind::Group => self.group_visible(id),
            ResourceKind::Container => self.folder_visible(id),
            ResourceKind::ContainerPermission => s
                .folder_perms
                .get(&id)
                .is_some_and(|p| self.folder_visible(p.ss.folder) && self.principal_shown(p.ss.principal)),
            ResourceKind::PrivilegedData => s.secrets.get(&id).is_some_and(|x| self.folder_visible(x.ss.folder)),
            ResourceKind::PrivilegedDataPermission => s.secret_perms.get(&id).is_some_and(|p| {
                s.secrets.get(&p.ss.secret).is_some_and(|x| self.folder_visible(x.ss.folder))
                    && self.principal_shown(p.ss.principal)
            }),
            // The catalogue is the same for every caller that may read the type.
            ResourceKind::Role => s.roles.contains_key(&id),
        }
    }

    /// The full SCIM document of a visible resource (every attribute that is returned by default),
    /// or `None` when the caller cannot see it.
    pub fn render(&self, kind: ResourceKind, id: i64, options: RenderOptions) -> Option<Value> {
        if !self.visible(kind, id) {
            return None;
        }
        match kind {
            ResourceKind::User => user::render(self, id),
            ResourceKind::Group => group::render(self, id, options),
            ResourceKind::Container => container::render(self, id),
            ResourceKind::ContainerPermission => container_permission::render(self, id),
            ResourceKind::PrivilegedData => privileged_data::render(self, id),
            ResourceKind::PrivilegedDataPermission => privileged_data_permission::render(self, id),
            ResourceKind::Role => role::render(self, id),
        }
    }

    /// [`View::render`], serialized to JSON. A user is written straight to bytes (see
    /// [`user::render_json`]: reads by id are mostly users, and building the tree first was a good
    /// part of a read's cost), and so are a group's members (see [`group::render_json`]: for a
    /// large group, they are what an answer costs).
    pub fn render_json(&self, kind: ResourceKind, id: i64, options: RenderOptions) -> Option<Vec<u8>> {
        match kind {
            ResourceKind::User => self.visible(kind, id).then(|| user::render_json(self, id)).flatten(),
            ResourceKind::Group => self.visible(kind, id).then(|| group::render_json(self, id, options)).flatten(),
            _ => {
                let doc = self.render(kind, id, options)?;
                let mut json = Vec::with_capacity(512);
                serde_json::to_writer(&mut json, &doc).is_ok().then_some(json)
            }
        }
    }

    /// The version (`W/"..."`) of a resource as the caller is shown it (its own tag), visible or not.
    pub fn version(&self, kind: ResourceKind, id: i64) -> Option<String> {
        self.state.meta(kind, id).map(|m| etag(self.tag(m.version)))
    }

    /// The caller's tag of `version` (see [`crate::meta::VersionTags`]).
    pub fn tag(&self, version: u64) -> u64 {
        self.version_tags.tag(self.connection.as_str(), version)
    }

    /// `meta` as the caller is shown it: its version replaced by the caller's tag.
    pub fn shown(&self, meta: Meta) -> Meta {
        Meta { version: self.tag(meta.version), ..meta }
    }

    /// `{"value", "display"}` for a principal of a permission (one the caller's scope shows: see
    /// [`View::visible`]); the name only of a principal the caller can see (not of a user deleted
    /// through SCIM under the default policy).
    pub(crate) fn principal_ref(&self, principal: Principal) -> (&'static str, Value) {
        match principal {
            Principal::User(u) => {
                let mut r = json!({"value": u.to_string()});
                let shown = self.user_visible(u) && self.reads(ResourceKind::User);
                if let Some(user) = self.state.users.get(&u).filter(|_| shown) {
                    r["display"] = Value::String(user.ss.display_name.to_string());
                }
                ("user", r)
            }
            Principal::Group(g) => {
                let mut r = json!({"value": g.to_string()});
                let shown = self.group_visible(g) && self.reads(ResourceKind::Group);
                if let Some(group) = self.state.groups.get(&g).filter(|_| shown) {
                    r["display"] = Value::String(group.ss.name.to_string());
                }
                ("group", r)
            }
        }
    }
}

/// The `meta` object. `location` is left to the gateway, which knows the public base URL.
pub fn meta_value(kind: ResourceKind, meta: Meta) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": rfc3339_millis(meta.created),
        "lastModified": rfc3339_millis(meta.modified),
        "version": etag(meta.version),
    })
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it (the writers that skip the
/// `Value` tree must give the same bytes as the tree serialized).
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Appends `value` as compact JSON, as `serde_json` serializes it inside a document.
pub(crate) fn write_value(out: &mut Vec<u8>, value: &Value) {
    // Writing into a `Vec` cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// Appends [`meta_value`] serialized, without building it.
pub(crate) fn write_meta(out: &mut Vec<u8>, kind: ResourceKind, meta: Meta) {
    out.extend_from_slice(br#"{"resourceType":"#);
    write_str(out, kind.name());
    out.extend_from_slice(br#","created":""#);
    crate::text::write_rfc3339_millis(out, meta.created);
    out.extend_from_slice(br#"","lastModified":""#);
    crate::text::write_rfc3339_millis(out, meta.modified);
    // `etag`, `W/"<16 hex digits>"`, as a JSON string.
    out.extend_from_slice(br#"","version":"W/\""#);
    out.extend_from_slice(&crate::meta::version_hex(meta.version));
    out.extend_from_slice(br#"\""}"#);
}

/// The PAM LinkedObject extension of a directory user or group, from Secret Server: `source` the
/// name of its domain, `nativeIdentifier` the directory's identifier (`adGuid`), over whatever is
/// stored for them (a client's own values stay for a local principal, which has neither).
pub(crate) fn directory_link(attrs: &mut Map<String, Value>, domain: Option<&str>, native_id: Option<&str>) {
    if domain.is_none() && native_id.is_none() {
        return;
    }
    let link = attrs.entry(scim::urn::LINKED_OBJECT.to_owned()).or_insert_with(|| Value::Object(Map::new()));
    if !link.is_object() {
        *link = Value::Object(Map::new());
    }
    if let Some(link) = link.as_object_mut() {
        for (name, value) in [("source", domain), ("nativeIdentifier", native_id)] {
            if let Some(value) = value {
                link.insert(name.to_owned(), Value::String(value.to_owned()));
            }
        }
    }
}

/// Starts a document: `schemas` (the core URN plus the extensions `attrs` carries), `id`, and
/// `externalId` when stored.
pub(crate) fn start(
    kind: ResourceKind,
    id: i64,
    attrs: &Map<String, Value>,
    extensions: &[&str],
) -> Map<String, Value> {
    let mut doc = Map::new();
    let mut schemas = vec![Value::String(kind.schema_urn().to_owned())];
    for urn in extensions {
        if attrs.contains_key(*urn) {
            schemas.push(Value::String((*urn).to_owned()));
        }
    }
    doc.insert("schemas".to_owned(), Value::Array(schemas));
    doc.insert("id".to_owned(), Value::String(id.to_string()));
    if let Some(ext) = attrs.get("externalId") {
        doc.insert("externalId".to_owned(), ext.clone());
    }
    doc
}

/// Copies the stored attributes into `doc`, except `externalId` (already placed) and those the
/// mapping owns.
pub(crate) fn merge_attrs(doc: &mut Map<String, Value>, attrs: Map<String, Value>, owned: &[&str]) {
    for (key, value) in attrs {
        if key == "externalId" || key.starts_with('$') || owned.iter().any(|o| o.eq_ignore_ascii_case(&key)) {
            continue;
        }
        doc.insert(key, value);
    }
}

/// The attributes of a validated document to keep in the attribute store: everything but the
/// attributes Secret Server holds (`mapped`) and those nobody stores (`schemas`, `id`, `meta`).
pub(crate) fn stored_attrs(doc: &Map<String, Value>, mapped: &[&str]) -> Map<String, Value> {
    doc.iter()
        .filter(|(k, _)| {
            !["schemas", "id", "meta", "password"].iter().any(|x| x.eq_ignore_ascii_case(k))
                && !mapped.iter().any(|m| m.eq_ignore_ascii_case(k))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The attribute-store key that records the attributes a client left unassigned although Secret
/// Server always holds a value for them (a user's `displayName` and `active`, a folder's
/// `inheritPermissions`) or the rendering would fall back to one (a container's `displayName`):
/// `{"<attribute>": <the value Secret Server held when it was unassigned>}`. The rendering leaves
/// such an attribute out while Secret Server still holds that value, so that a client's PATCH
/// `remove` reads back as unassigned (RFC 7644 §3.5.2.2); a change made in Secret Server since
/// shows again, and a replace or a PATCH that sets the attribute assigns it again. (`merge_attrs` never copies `$` keys.)
pub(crate) const UNSET: &str = "$unset";

/// Whether the rendering leaves out attribute `name`, whose Secret Server value is `current`.
pub(crate) fn unassigned(attrs: &Map<String, Value>, name: &str, current: &Value) -> bool {
    attrs.get(UNSET).and_then(|u| u.get(name)).is_some_and(|held| held == current)
}

/// Which of `names` a PATCH leaves unassigned: those absent from its result `doc` that it removed
/// (present in `base`, the document it applied to) or that were unassigned already (`previous`
/// attributes).
///
/// A PATCH `remove` unassigns them. Of a create or a replace, only one without a user's
/// `displayName` does (`user::UserFields::attrs_after_write`): without the others it gets Secret
/// Server's value (the server's default, RFC 7643 §2.2), so that a client that never sends `active`
/// still reads it.
fn left_unassigned<'n>(
    names: &[&'n str],
    doc: &Map<String, Value>,
    base: &Map<String, Value>,
    previous: &Map<String, Value>,
) -> Vec<&'n str> {
    let was_unset = |n: &str| previous.get(UNSET).and_then(|u| u.get(n)).is_some();
    names.iter().copied().filter(|n| !doc.contains_key(*n) && (base.contains_key(*n) || was_unset(n))).collect()
}

/// After a PATCH from `base` to `doc`: records in `attrs` (the attributes to store) which of
/// `names` it leaves unassigned, each with the value Secret Server now holds for it (`held`).
pub(crate) fn mark_unassigned(
    attrs: &mut Map<String, Value>,
    names: &[&str],
    (doc, base): (&Value, &Value),
    previous: &Map<String, Value>,
    held: impl Fn(&str) -> Value,
) {
    let empty = Map::new();
    let (doc, base) = (doc.as_object().unwrap_or(&empty), base.as_object().unwrap_or(&empty));
    let unset: Map<String, Value> =
        left_unassigned(names, doc, base, previous).into_iter().map(|name| (name.to_owned(), held(name))).collect();
    attrs.shift_remove(UNSET);
    if !unset.is_empty() {
        attrs.insert(UNSET.to_owned(), Value::Object(unset));
    }
}

/// The integer id a SCIM reference carries: the id exactly as issued (`"12"`; not `"012"`, `"+12"`
/// or `"12 "`: see `adapter_api::id`), or the same number as a JSON integer (`12`, from a lenient
/// client; a JSON number has one spelling).
pub(crate) fn ref_id(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::String(s) => adapter_api::id::parse(s),
        Value::Number(n) => n.as_i64().filter(|id| *id > 0),
        _ => None,
    }
}

/// `doc[attr].value` as an id: `Ok(None)` when the attribute is absent, `Err(text)` when it holds
/// something that is not an id.
pub(crate) fn complex_ref(doc: &Map<String, Value>, attr: &str) -> Result<Option<i64>, String> {
    let Some(value) = doc.get(attr).filter(|v| !v.is_null()) else { return Ok(None) };
    let inner = value.get("value");
    match inner {
        None | Some(Value::Null) => Ok(None),
        Some(v) => ref_id(Some(v)).map(Some).ok_or_else(|| format!("'{attr}.value' must be an id, got {v}")),
    }
}
