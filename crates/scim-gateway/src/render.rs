//! Writing SCIM responses: one resource with its `ETag` (and `Location` on
//! `201`), `204` with the `ETag` alone (a PATCH on a connection whose
//! `patchResponse` policy is `noContent`), or a `ListResponse`. `meta.location` and the `$ref` of references
//! (`members`, `groups`, `parent`, `container`, `user`...) are added here
//! because only the gateway knows the public base URL.

use crate::errors::SCIM_CONTENT_TYPE;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use adapter_api::{Resource, SearchPage, Written};
use scim::{Attribute, ResourceKind, Schemas};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The URL of one resource.
pub fn location(base: &str, resource: &Resource) -> String {
    format!("{base}/{}/{}", resource.kind.endpoint(), resource.id)
}

/// The resource's JSON with `meta.location` set (when `meta` was returned at all) and the `$ref`
/// of every reference that has a `value` but no `$ref`.
pub fn document(schemas: &Schemas, base: &str, resource: &Resource) -> Value {
    serde_json::from_slice(&document_bytes(schemas, base, resource)).unwrap_or_else(|_| Value::Object(Map::new()))
}

/// [`document`], written straight to bytes (this is the hot path of every read). The adapter's
/// JSON is spliced, never parsed into a tree: its top-level members are copied as they came but
/// for `meta`, which gets `location` appended, and the attributes that carry references, whose
/// elements get `$ref` appended. A document that is not a JSON object is returned as it came.
pub fn document_bytes(schemas: &Schemas, base: &str, resource: &Resource) -> Vec<u8> {
    let mut out = Vec::with_capacity(resource.json.len() + 256);
    match write_document(&mut out, schemas, base, resource) {
        Ok(()) => out,
        Err(_) => resource.json.to_vec(),
    }
}

/// Appends the resource's document to `out` (see [`document_bytes`]).
///
/// # Errors
/// When the adapter's JSON is not an object; `out` may then hold part of the document.
fn write_document(out: &mut Vec<u8>, schemas: &Schemas, base: &str, resource: &Resource) -> serde_json::Result<()> {
    let Members(members) = serde_json::from_slice(&resource.json)?;
    out.push(b'{');
    for (i, (Text(key), raw)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        if key == "meta" {
            write_with_member(out, raw, "location", |out| write_url(out, base, resource.kind, &resource.id));
        } else if let Some(target) = reference_attribute(schemas, resource.kind, key) {
            write_references(out, target, base, raw)?;
        } else {
            out.extend_from_slice(raw.get().as_bytes());
        }
    }
    out.push(b'}');
    Ok(())
}

/// The top-level members of a JSON object, in order, each left unparsed.
struct Members<'a>(Vec<(Text<'a>, &'a RawValue)>);

/// A JSON string (a member's name, a reference's `value` or `type`), borrowed from the document
/// unless it holds escapes. (`Cow<str>`'s own `Deserialize` always makes a `String`: an
/// allocation per member of every document read, before this type.)
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(Visit)
    }
}

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(12));
                while let Some((k, v)) = map.next_entry::<Text<'de>, &'de RawValue>()? {
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Visit)
    }
}

/// A JSON string (keys, URLs: serializing a str cannot fail).
fn write_str(out: &mut Vec<u8>, text: &str) {
    let _ = serde_json::to_writer(&mut *out, text);
}

/// The URL of resource `id` of `kind` below `base` as a JSON string: the bytes
/// `write_str(&format!("{base}/{endpoint}/{id}"))` gives, without that `String` (JSON escapes
/// each character on its own, so the parts can be escaped one by one).
fn write_url(out: &mut Vec<u8>, base: &str, kind: ResourceKind, id: &str) {
    out.push(b'"');
    write_str_contents(out, base);
    out.push(b'/');
    write_str_contents(out, kind.endpoint());
    out.push(b'/');
    write_str_contents(out, id);
    out.push(b'"');
}

/// [`write_str`] without the quotes.
fn write_str_contents(out: &mut Vec<u8>, text: &str) {
    let opening = out.len();
    write_str(out, text);
    out.pop();
    out.remove(opening);
}

/// Writes the object `raw` with its member `name` set to the string `value` writes: in place when
/// the object has it, else last. Anything but an object is written as it came.
fn write_with_member(out: &mut Vec<u8>, raw: &RawValue, name: &str, value: impl Fn(&mut Vec<u8>)) {
    let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(raw.get()) else {
        out.extend_from_slice(raw.get().as_bytes());
        return;
    };
    write_members_with(out, &members, name, value);
}

fn write_members_with(out: &mut Vec<u8>, members: &[(Text<'_>, &RawValue)], name: &str, value: impl Fn(&mut Vec<u8>)) {
    out.push(b'{');
    let mut set = false;
    for (i, (Text(key), raw)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_str(out, key);
        out.push(b':');
        if !set && key == name {
            value(out);
            set = true;
        } else {
            out.extend_from_slice(raw.get().as_bytes());
        }
    }
    if !set {
        if !members.is_empty() {
            out.push(b',');
        }
        write_str(out, name);
        out.push(b':');
        value(out);
    }
    out.push(b'}');
}

/// The attribute called `key` (core, or an extension object) when it may hold references.
fn reference_attribute<'s>(schemas: &'s Schemas, kind: ResourceKind, key: &str) -> Option<RefTarget<'s>> {
    if let Some(attr) = schemas.core(kind).attribute(key) {
        return attr.sub_attribute("$ref").is_some().then_some(RefTarget::Attribute(attr));
    }
    let ext = schemas.extension(kind, key)?;
    ext.attributes.iter().any(|a| a.sub_attribute("$ref").is_some()).then_some(RefTarget::Extension(ext))
}

#[derive(Clone, Copy)]
enum RefTarget<'s> {
    Attribute(&'s Attribute),
    Extension(&'s scim::Schema),
}

/// The resource types a reference attribute's `$ref` may name (none: its `$ref` is left alone),
/// in the order the schema lists them.
fn reference_kinds(attr: &Attribute) -> Kinds {
    let mut kinds = Kinds::default();
    if let Some(r) = attr.sub_attribute("$ref") {
        for kind in r.reference_types.iter().filter_map(|t| ResourceKind::from_name(t)) {
            kinds.push(kind);
        }
    }
    kinds
}

/// A few resource kinds, held inline: the reference attributes of a document are looked up on
/// every read, and the schemas name one or two types for each.
struct Kinds {
    inline: [ResourceKind; 4],
    len: usize,
    /// All of them, when they do not fit inline.
    more: Vec<ResourceKind>,
}

impl Default for Kinds {
    fn default() -> Self {
        Self { inline: [ResourceKind::User; 4], len: 0, more: Vec::new() }
    }
}

impl Kinds {
    fn push(&mut self, kind: ResourceKind) {
        if self.len < self.inline.len() {
            self.inline[self.len] = kind;
        } else {
            if self.more.is_empty() {
                self.more.extend_from_slice(&self.inline);
            }
            self.more.push(kind);
        }
        self.len += 1;
    }

    fn as_slice(&self) -> &[ResourceKind] {
        if self.more.is_empty() { &self.inline[..self.len] } else { &self.more }
    }
}

/// Writes a reference attribute (or an extension object holding some) with the missing `$ref`s set.
fn write_references(out: &mut Vec<u8>, target: RefTarget<'_>, base: &str, raw: &RawValue) -> serde_json::Result<()> {
    match target {
        RefTarget::Attribute(attr) => write_reference_value(out, attr, reference_kinds(attr).as_slice(), base, raw),
        RefTarget::Extension(ext) => {
            let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(raw.get()) else {
                out.extend_from_slice(raw.get().as_bytes());
                return Ok(());
            };
            out.push(b'{');
            for (i, (Text(key), raw)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                match ext.attributes.iter().find(|a| a.name == *key && a.sub_attribute("$ref").is_some()) {
                    Some(attr) => write_reference_value(out, attr, reference_kinds(attr).as_slice(), base, raw)?,
                    None => out.extend_from_slice(raw.get().as_bytes()),
                }
            }
            out.push(b'}');
            Ok(())
        }
    }
}

/// One reference, or an array of them.
fn write_reference_value(
    out: &mut Vec<u8>,
    attr: &Attribute,
    kinds: &[ResourceKind],
    base: &str,
    raw: &RawValue,
) -> serde_json::Result<()> {
    if kinds.is_empty() {
        out.extend_from_slice(raw.get().as_bytes());
        return Ok(());
    }
    if raw.get().starts_with('[') {
        // Element by element as the array is read, without collecting them first.
        let mut de = serde_json::Deserializer::from_str(raw.get());
        de.deserialize_seq(Elements { out, attr, kinds, base })?;
        de.end()?;
    } else {
        write_reference_element(out, attr, kinds, base, raw);
    }
    Ok(())
}

/// Writes the elements of a reference array as [`write_reference_element`] does, as they are read.
struct Elements<'o, 'a> {
    out: &'o mut Vec<u8>,
    attr: &'a Attribute,
    kinds: &'a [ResourceKind],
    base: &'a str,
}

impl<'de> Visitor<'de> for Elements<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.out.push(b'[');
        let mut first = true;
        while let Some(item) = seq.next_element::<&'de RawValue>()? {
            if !first {
                self.out.push(b',');
            }
            first = false;
            write_reference_element(self.out, self.attr, self.kinds, self.base, item);
        }
        self.out.push(b']');
        Ok(())
    }
}

/// One element of a reference attribute: `$ref` is set from its `value` and the resource type its
/// `type` names (or the only one the attribute allows), unless it has one already.
fn write_reference_element(out: &mut Vec<u8>, attr: &Attribute, kinds: &[ResourceKind], base: &str, raw: &RawValue) {
    // A group's member as the adapter writes it, thousands to an answer: its `$ref` is appended
    // without parsing it (the same bytes the general path below writes for it).
    if let Some(id) = plain_user_member(raw.get())
        && kinds.contains(&ResourceKind::User)
    {
        let text = raw.get();
        out.extend_from_slice(&text.as_bytes()[..text.len() - 1]);
        out.extend_from_slice(b",\"$ref\":");
        write_url(out, base, ResourceKind::User, id);
        out.push(b'}');
        return;
    }
    let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(raw.get()) else {
        out.extend_from_slice(raw.get().as_bytes());
        return;
    };
    let field = |name: &str| members.iter().find(|(Text(k), _)| k == name).map(|(_, v)| *v);
    let text = |name: &str| field(name).and_then(|v| serde_json::from_str::<Text<'_>>(v.get()).ok()).map(|t| t.0);
    let has_ref = field("$ref").is_some_and(|r| r.get() != "null");
    let target = (!has_ref).then(|| text("value")).flatten().and_then(|id| {
        let kind = match text("type").as_deref().and_then(ResourceKind::from_name) {
            Some(k) if kinds.contains(&k) => Some(k),
            _ if kinds.len() == 1 => Some(kinds[0]),
            // A user's `groups` are groups, whatever their `type` (direct, indirect) says.
            _ if attr.name == "groups" && kinds.contains(&ResourceKind::Group) => Some(ResourceKind::Group),
            _ => None,
        }?;
        Some((kind, id))
    });
    match target {
        Some((kind, id)) => write_members_with(out, &members, "$ref", |out| write_url(out, base, kind, &id)),
        None => out.extend_from_slice(raw.get().as_bytes()),
    }
}

/// The user id of a reference written exactly `{"value":"<digits>","type":"User"}`, the form the
/// adapter gives a group's members.
fn plain_user_member(text: &str) -> Option<&str> {
    let id = text.strip_prefix(r#"{"value":""#)?.strip_suffix(r#"","type":"User"}"#)?;
    (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit())).then_some(id)
}

/// One resource: `200` (or `201` with `Location`) with its `ETag`.
pub fn resource(status: StatusCode, schemas: &Schemas, base: &str, resource: &Resource) -> HttpResponse {
    let mut res = HttpResponse::build(status);
    res.insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE));
    if !resource.version.is_empty() {
        res.insert_header((header::ETAG, resource.version.clone()));
    }
    if status == StatusCode::CREATED {
        res.insert_header((header::LOCATION, location(base, resource)));
    }
    res.body(document_bytes(schemas, base, resource))
}

/// `204 No Content` for a successful write answered without its resource (a PATCH on a connection
/// whose `patchResponse` policy is `noContent`, RFC 7644 §3.5.2): the resource's `ETag` when it
/// has one, and no body.
pub fn no_content(written: &Written) -> HttpResponse {
    let mut res = HttpResponse::NoContent();
    if let Written::Resource(resource) = written
        && !resource.version.is_empty()
    {
        res.insert_header((header::ETAG, resource.version.clone()));
    }
    res.finish()
}

/// `304 Not Modified` for a conditional GET.
pub fn not_modified(resource: &Resource) -> HttpResponse {
    let mut res = HttpResponse::NotModified();
    res.insert_header((header::ETAG, resource.version.clone()));
    res.finish()
}

/// A `ListResponse`: index paging carries `startIndex`, cursor paging the cursors (RFC 9865).
/// The members are those of [`scim::ListResponse`], in its order; the resources are spliced in as
/// [`document_bytes`] writes them, so that a page is never parsed into a tree.
pub fn list(schemas: &Schemas, base: &str, page: &SearchPage, cursor_paging: bool) -> HttpResponse {
    let size: usize = page.resources.iter().map(|r| r.json.len() + 256).sum();
    let mut out = Vec::with_capacity(size + 192);
    out.extend_from_slice(b"{\"schemas\":[");
    write_str(&mut out, scim::urn::LIST_RESPONSE);
    out.extend_from_slice(b"],\"totalResults\":");
    out.extend_from_slice(page.total_results.to_string().as_bytes());
    if !cursor_paging {
        out.extend_from_slice(b",\"startIndex\":");
        out.extend_from_slice(page.start_index.max(1).to_string().as_bytes());
    }
    out.extend_from_slice(b",\"itemsPerPage\":");
    out.extend_from_slice(page.resources.len().to_string().as_bytes());
    if cursor_paging {
        for (name, cursor) in [("nextCursor", &page.next_cursor), ("previousCursor", &page.previous_cursor)] {
            if let Some(cursor) = cursor {
                out.push(b',');
                write_str(&mut out, name);
                out.push(b':');
                write_str(&mut out, cursor);
            }
        }
    }
    out.extend_from_slice(b",\"Resources\":[");
    for (i, resource) in page.resources.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let mark = out.len();
        if write_document(&mut out, schemas, base, resource).is_err() {
            // Never splice what is not an object into the page.
            out.truncate(mark);
            out.extend_from_slice(b"{}");
        }
    }
    out.extend_from_slice(b"]}");
    HttpResponse::build(StatusCode::OK).insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).body(out)
}

/// Any SCIM JSON body.
pub fn json(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status).insert_header((header::CONTENT_TYPE, SCIM_CONTENT_TYPE)).body(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;
    use serde_json::json;

    /// The splice as it was before the documents' member names were borrowed and the URLs
    /// written in place: the reference the tests compare [`write_document`] with, byte for byte.
    mod reference {
        use super::super::{RefTarget, plain_user_member, reference_attribute, write_str};
        use adapter_api::Resource;
        use scim::{Attribute, ResourceKind, Schemas};
        use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
        use serde_json::value::RawValue;
        use std::borrow::Cow;

        fn location(base: &str, resource: &Resource) -> String {
            format!("{base}/{}/{}", resource.kind.endpoint(), resource.id)
        }

        pub(super) fn write_document(
            out: &mut Vec<u8>,
            schemas: &Schemas,
            base: &str,
            resource: &Resource,
        ) -> serde_json::Result<()> {
            let Members(members) = serde_json::from_slice(&resource.json)?;
            out.push(b'{');
            for (i, (key, raw)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                if key == "meta" {
                    write_with_member(out, raw, "location", &location(base, resource));
                } else if let Some(target) = reference_attribute(schemas, resource.kind, key) {
                    write_references(out, target, base, raw)?;
                } else {
                    out.extend_from_slice(raw.get().as_bytes());
                }
            }
            out.push(b'}');
            Ok(())
        }

        struct Members<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

        impl<'de> Deserialize<'de> for Members<'de> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Visit;
                impl<'de> Visitor<'de> for Visit {
                    type Value = Members<'de>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a JSON object")
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(12));
                        while let Some((k, v)) = map.next_entry::<Cow<'de, str>, &'de RawValue>()? {
                            out.push((k, v));
                        }
                        Ok(Members(out))
                    }
                }
                d.deserialize_map(Visit)
            }
        }

        fn write_with_member(out: &mut Vec<u8>, raw: &RawValue, name: &str, value: &str) {
            let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(raw.get()) else {
                out.extend_from_slice(raw.get().as_bytes());
                return;
            };
            write_members_with(out, &members, name, value);
        }

        fn write_members_with(out: &mut Vec<u8>, members: &[(Cow<'_, str>, &RawValue)], name: &str, value: &str) {
            out.push(b'{');
            let mut set = false;
            for (i, (key, raw)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, key);
                out.push(b':');
                if !set && key == name {
                    write_str(out, value);
                    set = true;
                } else {
                    out.extend_from_slice(raw.get().as_bytes());
                }
            }
            if !set {
                if !members.is_empty() {
                    out.push(b',');
                }
                write_str(out, name);
                out.push(b':');
                write_str(out, value);
            }
            out.push(b'}');
        }

        fn reference_kinds(attr: &Attribute) -> Vec<ResourceKind> {
            attr.sub_attribute("$ref")
                .map(|r| r.reference_types.iter().filter_map(|t| ResourceKind::from_name(t)).collect())
                .unwrap_or_default()
        }

        fn write_references(
            out: &mut Vec<u8>,
            target: RefTarget<'_>,
            base: &str,
            raw: &RawValue,
        ) -> serde_json::Result<()> {
            match target {
                RefTarget::Attribute(attr) => write_reference_value(out, attr, &reference_kinds(attr), base, raw),
                RefTarget::Extension(ext) => {
                    let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(raw.get()) else {
                        out.extend_from_slice(raw.get().as_bytes());
                        return Ok(());
                    };
                    out.push(b'{');
                    for (i, (key, raw)) in members.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        write_str(out, key);
                        out.push(b':');
                        match ext.attributes.iter().find(|a| a.name == *key && a.sub_attribute("$ref").is_some()) {
                            Some(attr) => write_reference_value(out, attr, &reference_kinds(attr), base, raw)?,
                            None => out.extend_from_slice(raw.get().as_bytes()),
                        }
                    }
                    out.push(b'}');
                    Ok(())
                }
            }
        }

        fn write_reference_value(
            out: &mut Vec<u8>,
            attr: &Attribute,
            kinds: &[ResourceKind],
            base: &str,
            raw: &RawValue,
        ) -> serde_json::Result<()> {
            if kinds.is_empty() {
                out.extend_from_slice(raw.get().as_bytes());
                return Ok(());
            }
            if raw.get().starts_with('[') {
                let items: Vec<&RawValue> = serde_json::from_str(raw.get())?;
                out.push(b'[');
                for (i, item) in items.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_reference_element(out, attr, kinds, base, item);
                }
                out.push(b']');
            } else {
                write_reference_element(out, attr, kinds, base, raw);
            }
            Ok(())
        }

        fn write_reference_element(
            out: &mut Vec<u8>,
            attr: &Attribute,
            kinds: &[ResourceKind],
            base: &str,
            raw: &RawValue,
        ) {
            // A group's member as the adapter writes it, thousands to an answer: its `$ref` is appended
            // without parsing it (the same bytes the general path below writes for it).
            if let Some(id) = plain_user_member(raw.get())
                && kinds.contains(&ResourceKind::User)
            {
                let text = raw.get();
                out.extend_from_slice(&text.as_bytes()[..text.len() - 1]);
                out.extend_from_slice(b",\"$ref\":");
                write_str(out, &format!("{base}/{}/{id}", ResourceKind::User.endpoint()));
                out.push(b'}');
                return;
            }
            let Ok(Members(members)) = serde_json::from_str::<Members<'_>>(raw.get()) else {
                out.extend_from_slice(raw.get().as_bytes());
                return;
            };
            let field = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
            let text = |name: &str| field(name).and_then(|v| serde_json::from_str::<Cow<'_, str>>(v.get()).ok());
            let has_ref = field("$ref").is_some_and(|r| r.get() != "null");
            let uri = (!has_ref).then(|| text("value")).flatten().and_then(|id| {
                let kind = match text("type").as_deref().and_then(ResourceKind::from_name) {
                    Some(k) if kinds.contains(&k) => Some(k),
                    _ if kinds.len() == 1 => Some(kinds[0]),
                    // A user's `groups` are groups, whatever their `type` (direct, indirect) says.
                    _ if attr.name == "groups" && kinds.contains(&ResourceKind::Group) => Some(ResourceKind::Group),
                    _ => None,
                }?;
                Some(format!("{base}/{}/{id}", kind.endpoint()))
            });
            match uri {
                Some(uri) => write_members_with(out, &members, "$ref", &uri),
                None => out.extend_from_slice(raw.get().as_bytes()),
            }
        }
    }

    /// Text that needs care: quotes, backslashes, control characters, non-ASCII, digits alone.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof!["[0-9]{1,4}", "[a-zA-Z ._/-]{0,8}", "[\"\\\\\u{0}-\u{1f}é😀a-z0-9]{0,6}"]
    }

    /// A reference element as the adapter writes it, or as a client may have stored it.
    fn reference() -> impl Strategy<Value = Value> {
        let kind = prop_oneof![
            Just(None),
            Just(Some(json!("User"))),
            Just(Some(json!("Group"))),
            Just(Some(json!("direct"))),
            Just(Some(json!("Container"))),
            Just(Some(json!(7)))
        ];
        let value = prop_oneof![text().prop_map(Value::String), Just(json!(42)), Just(Value::Null)];
        let existing = prop_oneof![Just(None), Just(Some(Value::Null)), text().prop_map(|t| Some(Value::String(t)))];
        prop_oneof![
            "[0-9]{1,6}".prop_map(|id| json!({"value": id, "type": "User"})),
            (prop::option::of(value), kind, existing, prop::option::of(text()), any::<bool>()).prop_map(
                |(value, kind, existing, display, ref_first)| {
                    let mut e = Map::new();
                    if ref_first && let Some(r) = &existing {
                        e.insert("$ref".to_owned(), r.clone());
                    }
                    if let Some(value) = value {
                        e.insert("value".to_owned(), value);
                    }
                    if let Some(display) = display {
                        e.insert("display".to_owned(), Value::String(display));
                    }
                    if let Some(kind) = kind {
                        e.insert("type".to_owned(), kind);
                    }
                    if !ref_first && let Some(r) = existing {
                        e.insert("$ref".to_owned(), r);
                    }
                    Value::Object(e)
                }
            ),
            text().prop_map(Value::String),
        ]
    }

    fn references() -> impl Strategy<Value = Value> {
        prop_oneof![prop::collection::vec(reference(), 0..4).prop_map(Value::Array), reference()]
    }

    /// A document of any type, with the attributes that carry references for some type.
    fn document_case() -> impl Strategy<Value = (ResourceKind, String, Vec<u8>)> {
        let meta = prop_oneof![
            Just(None),
            Just(Some(json!({"resourceType": "User", "version": "W/\"1\""}))),
            Just(Some(json!({"location": "old", "resourceType": "User"}))),
            Just(Some(json!({}))),
            Just(Some(json!("not an object"))),
        ];
        (
            prop::sample::select(ResourceKind::ALL.to_vec()),
            text(),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "members",
                        "groups",
                        "manager",
                        "container",
                        "user",
                        "group",
                        "parent",
                        "userName",
                        scim::urn::ENTERPRISE_USER,
                        "Members",
                        "é\"key",
                    ]),
                    references(),
                ),
                0..5,
            ),
            meta,
            any::<bool>(),
        )
            .prop_map(|(kind, id, attributes, meta, manager)| {
                let mut doc = Map::new();
                doc.insert("schemas".to_owned(), json!([kind.schema_urn()]));
                doc.insert("id".to_owned(), Value::String(id.clone()));
                for (name, value) in attributes {
                    let value = if name == scim::urn::ENTERPRISE_USER && manager {
                        json!({"employeeNumber": "7", "manager": value})
                    } else {
                        value
                    };
                    doc.insert(name.to_owned(), value);
                }
                if let Some(meta) = meta {
                    doc.insert("meta".to_owned(), meta);
                }
                (kind, id, serde_json::to_vec(&doc).unwrap())
            })
    }

    fn written(
        write: fn(&mut Vec<u8>, &Schemas, &str, &Resource) -> serde_json::Result<()>,
        base: &str,
        resource: &Resource,
    ) -> Option<String> {
        let mut out = Vec::new();
        write(&mut out, &Schemas::standard(), base, resource).ok()?;
        Some(String::from_utf8(out).unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn a_document_is_spliced_byte_for_byte_as_before(
            (kind, id, json) in document_case(),
            base in prop_oneof![Just("http://h/scim/v2".to_owned()), "https://[a-z\"\\\\é]{0,6}/scim/v2"],
        ) {
            let resource = Resource { kind, id, version: String::new(), json: Bytes::from(json) };
            prop_assert_eq!(written(write_document, &base, &resource), written(reference::write_document, &base, &resource));
        }
    }

    #[test]
    fn a_document_that_is_no_object_fails_as_before() {
        for json in [&b"[1,2]"[..], b"\"text\"", b"{\"id\":", b"{\"a\\u0041\":1,\"meta\":{\"x\\n\":2}}"] {
            let resource = Resource { json: Bytes::copy_from_slice(json), ..user() };
            let base = "http://h/scim/v2";
            assert_eq!(written(write_document, base, &resource), written(reference::write_document, base, &resource));
        }
    }

    fn user() -> Resource {
        Resource {
            kind: ResourceKind::User,
            id: "42".into(),
            version: "W/\"7\"".into(),
            json: Bytes::from_static(br#"{"id":"42","userName":"bjensen","meta":{"resourceType":"User"}}"#),
        }
    }

    #[test]
    fn meta_location_is_the_public_url_of_the_resource() {
        let doc = document(&Schemas::standard(), "https://scim.example.com/scim/v2", &user());
        assert_eq!(doc["meta"]["location"], "https://scim.example.com/scim/v2/Users/42");
        assert_eq!(doc["userName"], "bjensen");
    }

    #[test]
    fn a_projection_without_meta_gets_no_location() {
        let r = Resource { json: Bytes::from_static(br#"{"id":"42"}"#), ..user() };
        assert!(document(&Schemas::standard(), "http://h/scim/v2", &r).get("meta").is_none());
    }

    #[test]
    fn a_list_splices_the_documents_into_a_valid_list_response() {
        let page = SearchPage {
            total_results: 7,
            start_index: 3,
            resources: vec![user(), user()],
            next_cursor: None,
            previous_cursor: None,
        };
        let res = list(&Schemas::standard(), "http://h/scim/v2", &page, false);
        let body = actix_web::body::to_bytes(res.into_body());
        let body = futures::executor::block_on(body).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["totalResults"], 7);
        assert_eq!(v["startIndex"], 3);
        assert_eq!(v["itemsPerPage"], 2);
        assert_eq!(v["Resources"][1]["meta"]["location"], "http://h/scim/v2/Users/42");
        let empty = SearchPage { resources: vec![], ..page };
        let res = list(&Schemas::standard(), "http://h/scim/v2", &empty, false);
        let body = futures::executor::block_on(actix_web::body::to_bytes(res.into_body())).unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["Resources"], serde_json::json!([]));
        assert_eq!(v["itemsPerPage"], 0);
    }

    #[test]
    fn a_member_in_the_adapter_s_own_form_gets_the_same_ref_as_any_other() {
        let group = Resource {
            kind: ResourceKind::Group,
            id: "7".into(),
            version: String::new(),
            json: Bytes::from_static(
                br#"{"id":"7","members":[{"value":"42","type":"User"},{ "value": "43", "type": "User" },{"value":"4x","type":"User"}]}"#,
            ),
        };
        let bytes = document_bytes(&Schemas::standard(), "http://h/scim/v2", &group);
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.contains(r#"{"value":"42","type":"User","$ref":"http://h/scim/v2/Users/42"}"#), "{text}");
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(doc["members"][1]["$ref"], "http://h/scim/v2/Users/43");
        assert_eq!(doc["members"][2]["$ref"], "http://h/scim/v2/Users/4x");
        assert_eq!(plain_user_member(r#"{"value":"42","type":"User"}"#), Some("42"));
        for other in
            [r#"{"value":"","type":"User"}"#, r#"{"value":"4\"","type":"User"}"#, r#"{"value":"42","type":"Group"}"#]
        {
            assert_eq!(plain_user_member(other), None, "{other}");
        }
    }

    #[test]
    fn references_get_their_ref_from_the_type_they_name() {
        let group = Resource {
            kind: ResourceKind::Group,
            id: "7".into(),
            version: String::new(),
            json: Bytes::from_static(br#"{"id":"7","members":[{"value":"42","type":"User"},{"value":"8","type":"Group"},{"value":"9","$ref":"kept"}]}"#),
        };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &group);
        assert_eq!(doc["members"][0]["$ref"], "http://h/scim/v2/Users/42");
        assert_eq!(doc["members"][1]["$ref"], "http://h/scim/v2/Groups/8");
        assert_eq!(doc["members"][2]["$ref"], "kept");
        let grant = Resource {
            kind: ResourceKind::ContainerPermission,
            id: "3".into(),
            version: String::new(),
            json: Bytes::from_static(br#"{"id":"3","container":{"value":"12"},"user":{"value":"42"}}"#),
        };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &grant);
        assert_eq!(doc["container"]["$ref"], "http://h/scim/v2/Containers/12");
        assert_eq!(doc["user"]["$ref"], "http://h/scim/v2/Users/42");
        let alice =
            Resource { json: Bytes::from_static(br#"{"id":"42","groups":[{"value":"7","type":"direct"}]}"#), ..user() };
        let doc = document(&Schemas::standard(), "http://h/scim/v2", &alice);
        assert_eq!(doc["groups"][0]["$ref"], "http://h/scim/v2/Groups/7");
    }
}
