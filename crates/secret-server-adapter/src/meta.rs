//! `meta.created`, `meta.lastModified` and `meta.version`.
//!
//! Secret Server keeps no modification time and no version, so the adapter derives them:
//! - the **version** is a hash of what the resource *is*: the Secret Server fields it owns, the
//!   ids it refers to (a group's members and which of them were deleted through SCIM, a user's
//!   groups, a folder's secrets) and its stored SCIM attributes. It is the same after a restart and changes exactly when one of those does. The
//!   display names of *other* objects shown inside a resource (a user's `groups[].display`, a
//!   permission's `container.display`, `path`) are not part of it: renaming a group does not change
//!   the version of every user in it.
//! - **created** is Secret Server's `created` where it has one (users, groups, secrets), otherwise
//!   the time the adapter first saw the resource; **lastModified** is bumped whenever the version
//!   changes, whether through the adapter's own workers or a change picked up by a resync.
//!
//! Both times and the version are persisted in the state store, namespace
//! `meta:<instance>:<ResourceType>`, key the Secret Server id, so that they survive restarts and
//! a change made while the adapter was down still bumps `lastModified` at the next load.

use crate::read_model::records::{FolderPermRec, FolderRec, GroupRec, Meta, RoleSs, SecretPermRec, SecretRec, UserRec};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use scim::ResourceKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use state_store::{StateStore, StoreError, Write};
use std::collections::HashMap;
use std::sync::Arc;

/// A stable hash over length-prefixed fields.
struct VersionHasher(Sha256);

impl VersionHasher {
    fn new(kind: ResourceKind) -> Self {
        let mut h = Sha256::new();
        h.update(kind.name().as_bytes());
        Self(h)
    }

    fn str(&mut self, s: &str) -> &mut Self {
        self.0.update((s.len() as u64).to_le_bytes());
        self.0.update(s.as_bytes());
        self
    }

    fn opt(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => {
                self.0.update([1]);
                self.str(s)
            }
            None => {
                self.0.update([0]);
                self
            }
        }
    }

    fn int(&mut self, i: i64) -> &mut Self {
        self.0.update(i.to_le_bytes());
        self
    }

    fn flag(&mut self, b: bool) -> &mut Self {
        self.0.update([u8::from(b)]);
        self
    }

    fn ids(&mut self, ids: &[i64]) -> &mut Self {
        self.int(ids.len() as i64);
        for id in ids {
            self.0.update(id.to_le_bytes());
        }
        self
    }

    fn finish(self) -> u64 {
        let digest = self.0.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

fn principal(h: &mut VersionHasher, p: crate::read_model::records::Principal) {
    match p {
        crate::read_model::records::Principal::User(u) => h.str("user").int(u),
        crate::read_model::records::Principal::Group(g) => h.str("group").int(g),
    };
}

/// A user's version; `groups` are the groups it belongs to (sorted).
pub fn user_version(rec: &UserRec, groups: &[i64]) -> u64 {
    let mut h = VersionHasher::new(ResourceKind::User);
    h.str(&rec.ss.user_name)
        .str(&rec.ss.display_name)
        .opt(rec.ss.email.as_deref())
        .flag(rec.ss.enabled)
        .flag(rec.deleted)
        .opt(rec.attrs.as_deref())
        .ids(groups);
    // Only when there are any: a user without roles keeps the version it had before roles counted.
    if !rec.ss.roles.is_empty() {
        h.str("roles").ids(&rec.ss.roles);
    }
    directory(&mut h, rec.ss.domain_name.as_deref(), rec.ss.ad_guid.as_deref());
    h.finish()
}

/// A directory principal's domain and identifier, when it has them (a local one keeps its version).
fn directory(h: &mut VersionHasher, domain: Option<&str>, native_id: Option<&str>) {
    if domain.is_some() || native_id.is_some() {
        h.str("directory").opt(domain).opt(native_id);
    }
}

/// A group's version; `deleted_members` are the members deleted through SCIM (hidden from the
/// members list under the default policy, so part of what the group looks like).
pub fn group_version(rec: &GroupRec, digest: MemberDigest) -> u64 {
    let mut h = VersionHasher::new(ResourceKind::Group);
    h.str(&rec.ss.name).flag(rec.ss.enabled).opt(rec.attrs.as_deref());
    for set in [digest.members, digest.deleted] {
        h.int(set.count as i64).int(set.sum as i64);
    }
    // Only when there are any: a group without roles keeps the version it had before groups had them.
    if !rec.ss.roles.is_empty() {
        h.str("roles").ids(&rec.ss.roles);
    }
    directory(&mut h, rec.ss.domain_name.as_deref(), rec.ss.ad_guid.as_deref());
    h.finish()
}

/// An order-independent digest of a set of ids (their number and the wrapping sum of a 64-bit mix
/// of each), kept current one id at a time: a group's version then costs the same to compute for
/// ten members as for a hundred thousand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IdSetDigest {
    pub count: u64,
    pub sum: u64,
}

impl IdSetDigest {
    /// The digest of `ids` (distinct).
    pub fn of(ids: impl IntoIterator<Item = i64>) -> Self {
        let mut d = Self::default();
        for id in ids {
            d.insert(id);
        }
        d
    }

    /// Adds `id` (not in the set yet).
    pub fn insert(&mut self, id: i64) {
        self.count += 1;
        self.sum = self.sum.wrapping_add(mix(id));
    }

    /// Takes `id` (in the set) out.
    pub fn remove(&mut self, id: i64) {
        self.count = self.count.saturating_sub(1);
        self.sum = self.sum.wrapping_sub(mix(id));
    }
}

/// splitmix64's finalizer: neighbouring ids give unrelated values, so that sums of different sets
/// do not meet by accident.
fn mix(id: i64) -> u64 {
    let mut z = (id as u64).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// What a group's version takes of its members: all of them, and the deleted users among them
/// (hidden from the group under `DeletedUserPolicy::NotFound`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemberDigest {
    pub members: IdSetDigest,
    pub deleted: IdSetDigest,
}

/// A folder's version; `secrets` are the ids of the secrets in it (sorted).
pub fn folder_version(rec: &FolderRec, secrets: &[i64]) -> u64 {
    let mut h = VersionHasher::new(ResourceKind::Container);
    h.str(&rec.ss.name).int(rec.ss.parent).flag(rec.ss.inherit_permissions).opt(rec.attrs.as_deref()).ids(secrets);
    h.finish()
}

/// A folder permission's version.
pub fn folder_perm_version(rec: &FolderPermRec) -> u64 {
    let mut h = VersionHasher::new(ResourceKind::ContainerPermission);
    h.int(rec.ss.folder);
    principal(&mut h, rec.ss.principal);
    h.str(rec.ss.folder_role.as_str()).str(rec.ss.secret_role.as_str()).opt(rec.attrs.as_deref());
    h.finish()
}

/// A secret's version (its metadata, never a field value).
pub fn secret_version(rec: &SecretRec) -> u64 {
    let s = &rec.ss;
    let mut h = VersionHasher::new(ResourceKind::PrivilegedData);
    h.str(&s.name)
        .int(s.folder)
        .int(s.template_id)
        .str(&s.template_name)
        .flag(s.active)
        .flag(s.checked_out)
        .int(s.last_accessed.unwrap_or(0))
        .opt(s.heartbeat.as_deref());
    h.finish()
}

/// A secret permission's version.
pub fn secret_perm_version(rec: &SecretPermRec) -> u64 {
    let mut h = VersionHasher::new(ResourceKind::PrivilegedDataPermission);
    h.int(rec.ss.secret);
    principal(&mut h, rec.ss.principal);
    h.str(rec.ss.role.as_str()).opt(rec.attrs.as_deref());
    h.finish()
}

/// A role's version: computed when asked, never stored (a role has nothing but what Secret Server
/// says of it).
pub fn role_version(role: &RoleSs) -> u64 {
    let mut h = VersionHasher::new(ResourceKind::Role);
    h.int(role.id).str(&role.name).flag(role.enabled);
    h.finish()
}

/// What each connection is shown of a resource's version: a tag of its own.
///
/// A version hashes everything stored for a resource, every connection's own values among them
/// (`externalId`, a kept `userName`, the `rights` asked for: see [`crate::attributes`]). Shown as
/// it is, it would let one connection test guesses of another's values offline: hash the resource
/// it reads with a guess in the other's place and compare. Each connection is shown instead a
/// keyed hash (HMAC-SHA-256) of the version and its own id: one version gives a connection one
/// tag, a new version a new tag, and the tag says nothing of the values without the key. The key is
/// derived from the cursor key ([`crate::cursor_key`]), which every replica shares and keeps across
/// restarts, so a connection's tag is the same on every replica and after a restart; rotating that
/// key changes every tag once (a client holding an old one is answered `412` and reads again).
///
/// Left as they are: the version itself (kept in the state store, compared between replicas) and a
/// role's, which hashes nothing of any connection's.
#[derive(Clone)]
pub struct VersionTags(Hmac<Sha256>);

impl VersionTags {
    /// The tags keyed by a key derived from `cursor_key` (the two uses never share an input).
    pub fn new(cursor_key: &[u8]) -> Self {
        // HMAC takes a key of any length (a long one is hashed first): this cannot fail.
        let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(cursor_key).expect("HMAC takes a key of any length");
        derive.update(b"scim-connector meta.version tags");
        let key = derive.finalize().into_bytes();
        Self(<Hmac<Sha256> as Mac>::new_from_slice(&key).expect("HMAC takes a key of any length"))
    }

    /// Connection `connection`'s tag of `version`.
    pub fn tag(&self, connection: &str, version: u64) -> u64 {
        let mut mac = self.0.clone();
        mac.update(&(connection.len() as u64).to_le_bytes());
        mac.update(connection.as_bytes());
        mac.update(&version.to_le_bytes());
        let digest = mac.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        u64::from_be_bytes(first)
    }
}

impl std::fmt::Debug for VersionTags {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VersionTags(..)")
    }
}

/// The weak entity tag of a version, as `meta.version` and the `ETag` header carry it:
/// `W/"<16 lower-case hex digits>"`.
pub fn etag(version: u64) -> String {
    let mut tag = String::with_capacity(20);
    tag.push_str("W/\"");
    tag.extend(version_hex(version).iter().map(|&b| char::from(b)));
    tag.push('"');
    tag
}

/// A version's 16 lower-case hex digits, written digit by digit (every read writes one;
/// `format!`'s padded hex was a visible part of a read's rendering).
pub(crate) fn version_hex(version: u64) -> [u8; 16] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0; 16];
    for (i, digit) in digits.iter_mut().enumerate() {
        *digit = HEX[((version >> (60 - 4 * i)) & 0xf) as usize];
    }
    digits
}

/// The persisted form of a [`Meta`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct StoredMeta {
    /// created, Unix milliseconds
    c: i64,
    /// lastModified, Unix milliseconds
    m: i64,
    /// version, hex
    #[serde(with = "hex_u64")]
    v: u64,
}

mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes the version as 16 hex digits.
    pub(super) fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    /// Reads the version from hex digits.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = String::deserialize(d)?;
        u64::from_str_radix(&text, 16).map_err(serde::de::Error::custom)
    }
}

/// Where an instance's meta is persisted.
#[derive(Debug, Clone)]
pub struct MetaStore {
    state: Arc<dyn StateStore>,
    instance: String,
}

impl MetaStore {
    /// The meta store of instance `instance`.
    pub fn new(state: Arc<dyn StateStore>, instance: &str) -> Self {
        Self { state, instance: instance.to_owned() }
    }

    fn namespace(&self, kind: ResourceKind) -> String {
        format!("meta:{}:{}", self.instance, kind.name())
    }

    /// Every persisted meta of `kind`, by id. Entries that do not parse are skipped with a warning
    /// (the resource then gets fresh times rather than failing the load).
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn load_all(&self, kind: ResourceKind) -> Result<HashMap<i64, Meta>, StoreError> {
        let entries = self.state.load_all(&self.namespace(kind)).await?;
        let mut out = HashMap::with_capacity(entries.len());
        for (key, value) in entries {
            match (adapter_api::id::parse(&key), serde_json::from_slice::<StoredMeta>(&value)) {
                (Some(id), Ok(m)) => {
                    out.insert(id, Meta { created: m.c, modified: m.m, version: m.v });
                }
                _ => tracing::warn!(kind = kind.name(), key = %key, "skipping an unreadable meta entry"),
            }
        }
        Ok(out)
    }

    /// The persisted meta of one resource.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn get(&self, kind: ResourceKind, id: i64) -> Result<Option<Meta>, StoreError> {
        let Some(bytes) = self.state.get(&self.namespace(kind), &id.to_string()).await? else { return Ok(None) };
        Ok(serde_json::from_slice::<StoredMeta>(&bytes).ok().map(|m| Meta {
            created: m.c,
            modified: m.m,
            version: m.v,
        }))
    }

    /// Persists many metas (one round trip per kind and chunk).
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn put_many(&self, mut entries: Vec<(ResourceKind, i64, Meta)>) -> Result<(), StoreError> {
        // Encoded a chunk at a time: a first load persists hundreds of thousands of entries.
        const CHUNK: usize = 10_000;
        entries.sort_unstable_by_key(|(kind, id, _)| (*kind, *id));
        for chunk in entries.chunk_by(|a, b| a.0 == b.0) {
            let namespace = self.namespace(chunk[0].0);
            for part in chunk.chunks(CHUNK) {
                let mut encoded = Vec::with_capacity(part.len());
                for (_, id, meta) in part {
                    let stored = StoredMeta { c: meta.created, m: meta.modified, v: meta.version };
                    let bytes = serde_json::to_vec(&stored).map_err(|e| StoreError::Backend(e.to_string()))?;
                    encoded.push((id.to_string(), Bytes::from(bytes)));
                }
                self.state.put_many(&namespace, encoded).await?;
            }
        }
        Ok(())
    }

    /// The writes that persist `entries` (a few: one per entry), for a batch.
    ///
    /// # Errors
    /// When a meta cannot be encoded.
    pub fn writes(&self, entries: &[(ResourceKind, i64, Meta)]) -> Result<Vec<Write>, StoreError> {
        entries
            .iter()
            .map(|(kind, id, meta)| {
                let stored = StoredMeta { c: meta.created, m: meta.modified, v: meta.version };
                let bytes = serde_json::to_vec(&stored).map_err(|e| StoreError::Backend(e.to_string()))?;
                Ok(Write::Put { namespace: self.namespace(*kind), key: id.to_string(), value: Bytes::from(bytes) })
            })
            .collect()
    }

    /// Forgets the meta of a resource that no longer exists.
    ///
    /// # Errors
    /// When the state store fails.
    pub async fn delete(&self, kind: ResourceKind, id: i64) -> Result<(), StoreError> {
        self.state.delete(&self.namespace(kind), &id.to_string()).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::records::{GroupSs, UserSs};

    #[test]
    fn an_etag_is_the_version_in_sixteen_hex_digits_as_format_writes_it() {
        let mut version: u64 = 1;
        for _ in 0..10_000 {
            assert_eq!(etag(version), format!("W/\"{version:016x}\""));
            version = version.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        }
        for version in [0, 1, 0xf, 0x10, u64::MAX, u64::MAX >> 4] {
            assert_eq!(etag(version), format!("W/\"{version:016x}\""));
        }
    }

    fn user(display: &str) -> UserRec {
        UserRec {
            ss: UserSs {
                display_name: display.into(),
                email: Some("b@example.com".into()),
                ..UserSs::local(4, "bjensen")
            },
            attrs: None,
            deleted: false,
            meta: Meta::default(),
        }
    }

    #[test]
    fn a_version_is_a_pure_function_of_the_content() {
        assert_eq!(user_version(&user("Barbara"), &[1, 2]), user_version(&user("Barbara"), &[1, 2]));
        assert_ne!(user_version(&user("Barbara"), &[1, 2]), user_version(&user("Babs"), &[1, 2]));
        assert_ne!(user_version(&user("Barbara"), &[1, 2]), user_version(&user("Barbara"), &[1]));
    }

    #[test]
    fn the_version_ignores_the_meta_it_is_stored_in() {
        let mut later = user("Barbara");
        later.meta = Meta { created: 5, modified: 9, version: 77 };
        assert_eq!(user_version(&later, &[]), user_version(&user("Barbara"), &[]));
    }

    #[test]
    fn group_members_are_part_of_the_group_version() {
        let g =
            |members: Vec<i64>| GroupRec { ss: GroupSs::local(1, "DBAs"), members, attrs: None, meta: Meta::default() };
        let d = |members: &[i64], deleted: &[i64]| MemberDigest {
            members: IdSetDigest::of(members.iter().copied()),
            deleted: IdSetDigest::of(deleted.iter().copied()),
        };
        assert_ne!(group_version(&g(vec![1]), d(&[1], &[])), group_version(&g(vec![1, 2]), d(&[1, 2], &[])));
        assert_ne!(group_version(&g(vec![1, 2]), d(&[1, 2], &[])), group_version(&g(vec![1, 2]), d(&[1, 2], &[2])));
    }

    #[test]
    fn a_member_digest_kept_one_id_at_a_time_is_the_digest_of_the_set() {
        let mut kept = IdSetDigest::of([3, 1]);
        kept.insert(7);
        kept.remove(1);
        kept.insert(2);
        assert_eq!(kept, IdSetDigest::of([2, 3, 7]), "order and history do not matter");
        assert_ne!(IdSetDigest::of([1, 2]), IdSetDigest::of([3]), "different sets differ");
    }

    #[test]
    fn a_connection_is_shown_a_tag_of_its_own_for_each_version_under_each_key() {
        let tags = VersionTags::new(b"the cursor key");
        assert_eq!(tags.tag("okta", 7), VersionTags::new(b"the cursor key").tag("okta", 7), "stable");
        assert_ne!(tags.tag("okta", 7), tags.tag("entra", 7), "one version, a tag per connection");
        assert_ne!(tags.tag("okta", 7), tags.tag("okta", 8), "a new version, a new tag");
        assert_ne!(tags.tag("okta", 7), VersionTags::new(b"another key").tag("okta", 7), "keyed");
        assert_ne!(tags.tag("okta", 7), 7, "never the version itself");
        // The connection id is length-prefixed: no two (id, version) pairs share an input.
        assert_ne!(tags.tag("a", 7), tags.tag("a\u{0}", 7));
    }

    #[test]
    fn etags_are_weak_and_fixed_width() {
        assert_eq!(etag(0xab), "W/\"00000000000000ab\"");
    }

    #[test]
    fn stored_meta_round_trips_through_its_text_form() {
        let stored = StoredMeta { c: 1, m: 2, v: u64::MAX };
        let text = serde_json::to_string(&stored).unwrap();
        assert_eq!(text, r#"{"c":1,"m":2,"v":"ffffffffffffffff"}"#);
        assert_eq!(serde_json::from_str::<StoredMeta>(&text).unwrap(), stored);
    }
}
