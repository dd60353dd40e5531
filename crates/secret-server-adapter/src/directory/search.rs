//! The read path: one resource by id, and filtered, sorted, paged lists.
//!
//! A list runs, per resource type: the filter's index plan on the read model's indexes (and the
//! ordered `meta.lastModified` index) for candidates, the caller's scope, then the `scim` crate's
//! evaluation of the compiled filter on each candidate's rendering. Results are ordered by
//! `sortBy` when asked, and always finally by resource type and id, so that pages are stable.
//! Only the page that is returned is projected and serialized.

use super::request::{GetRequest, SearchRequest};
use crate::core::{Caller, Core};
use crate::mapping::{RenderOptions, View};
use crate::read_model::query::candidates;
use crate::read_model::state::State;
use adapter_api::{Resource, SearchPage};
use bytes::Bytes;
use connections::scope::{self, Action};
use scim::paging::{CursorCodec, PageRequest, index_window, query_fingerprint};
use scim::projection::Projection;
use scim::sort::{SortKey, SortOrder};
use scim::{ResourceKind, ScimError};
use serde_json::Value;
use service_error::ServiceError;
use std::cmp::Ordering;

fn serialize(kind: ResourceKind, id: i64, version: String, doc: &Value) -> Resource {
    // Sized for a typical user up front: growing from empty reallocates and copies four or five times.
    let mut json = Vec::with_capacity(1024);
    if serde_json::to_writer(&mut json, doc).is_err() {
        json.clear();
    }
    Resource { kind, id: id.to_string(), version, json: Bytes::from(json) }
}

fn names_members(paths: &[scim::AttrPath]) -> bool {
    paths.iter().any(|p| p.name.eq_ignore_ascii_case("members"))
}

/// Whether `req` is a read of a group of more members than `large_group_members` that renders
/// them: such a read takes one of its connection's slots for expensive work (see `bounds`), so
/// that one connection reading a group of 100,000 members over and over cannot take the cores
/// from the others.
pub fn renders_a_large_group(core: &Core, caller: &Caller, req: &GetRequest) -> bool {
    let large = core.settings.large_group_members;
    req.kind == ResourceKind::Group
        && wants_members(&req.projection, None, None)
        && adapter_api::id::parse(&req.id).is_some_and(|id| {
            caller.instance.model.read(|s| s.groups.get(&id).is_some_and(|g| g.members.len() > large))
        })
}

/// Whether a Group's `members` must be rendered for this request.
fn wants_members(projection: &Projection, filter: Option<&scim::Filter>, sort: Option<&scim::sort::SortSpec>) -> bool {
    let projected = if !projection.attributes.is_empty() {
        names_members(&projection.attributes)
    } else {
        !names_members(&projection.excluded_attributes)
    };
    let filtered =
        filter.is_some_and(|f| f.to_string().as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"members")));
    let sorted = sort.is_some_and(|s| s.by.name.eq_ignore_ascii_case("members"));
    projected || filtered || sorted
}

/// One resource by id.
///
/// # Errors
/// `NotFound` for an id that is not a resource the caller can see (missing or out of scope alike)
/// and for a type the caller may not read; `Unavailable` while the read model loads.
pub fn get(core: &Core, caller: &Caller, req: &GetRequest) -> Result<Resource, ServiceError> {
    let id = admit(caller, req)?;
    caller.instance.model.read(|state| render(core, caller, req, id, state))
}

/// Several resources by id, each for its own caller, with the outcome [`get`] would give each
/// alone, in the order given. The reads of one Secret Server instance are answered under one
/// read lock of its read model: one consistent snapshot for them, and one lock taken.
pub fn get_many(core: &Core, items: &[(Caller, GetRequest)]) -> Vec<Result<Resource, ServiceError>> {
    let mut results: Vec<Option<Result<Resource, ServiceError>>> = Vec::with_capacity(items.len());
    let mut ids = Vec::with_capacity(items.len());
    for (caller, req) in items {
        match admit(caller, req) {
            Ok(id) => {
                ids.push(id);
                results.push(None);
            }
            Err(error) => {
                ids.push(0);
                results.push(Some(Err(error)));
            }
        }
    }
    for first in 0..items.len() {
        if results[first].is_some() {
            continue;
        }
        let instance = &items[first].0.instance;
        instance.model.read(|state| {
            for (i, (caller, req)) in items.iter().enumerate().skip(first) {
                if results[i].is_none() && std::sync::Arc::ptr_eq(&caller.instance, instance) {
                    results[i] = Some(render(core, caller, req, ids[i], state));
                }
            }
        });
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(ServiceError::internal("a read was not answered")))).collect()
}

/// The checks of a read made before the read model is locked: the caller's scope for the type,
/// the instance loaded, the id well formed. The id, parsed.
fn admit(caller: &Caller, req: &GetRequest) -> Result<i64, ServiceError> {
    caller.check(req.kind, Action::Read)?;
    caller.require_loaded()?;
    adapter_api::id::parse(&req.id).ok_or_else(|| ServiceError::from(scope::not_visible(req.kind, &req.id)))
}

/// One resource rendered from `state` as `caller` may see it, projected and serialized.
fn render(core: &Core, caller: &Caller, req: &GetRequest, id: i64, state: &State) -> Result<Resource, ServiceError> {
    let not_found = || ServiceError::from(scope::not_visible(req.kind, &req.id));
    let options = RenderOptions { members: wants_members(&req.projection, None, None) };
    let view = caller.view(state);
    if req.projection.is_default() {
        // A rendering holds only attributes returned by default: the default projection is a
        // no-op, and the document can be written straight to bytes.
        let json = view.render_json(req.kind, id, options).ok_or_else(not_found)?;
        let version = view.version(req.kind, id).unwrap_or_default();
        return Ok(Resource { kind: req.kind, id: id.to_string(), version, json: Bytes::from(json) });
    }
    let doc = view.render(req.kind, id, options).ok_or_else(not_found)?;
    let projected = req.projection.bind(&core.schemas, req.kind).apply(&doc);
    Ok(serialize(req.kind, id, view.version(req.kind, id).unwrap_or_default(), &projected))
}

/// Whether the indexes alone narrow this search to a few candidates (an equality or a prefix on
/// an indexed attribute for every type asked), so that it is cheap enough to answer without moving
/// to a blocking thread.
fn served_by_index(core: &Core, req: &SearchRequest) -> bool {
    let Some(filter) = &req.filter else { return false };
    if req.kinds.is_empty() || req.sort.is_some() {
        return false;
    }
    req.kinds.iter().all(|kind| {
        filter.compile(&core.schemas, *kind).is_ok_and(|c| match c.plan() {
            scim::IndexPlan::Eq { attr, .. } => indexed(*kind, &attr),
            _ => false,
        })
    })
}

/// Where a search runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// On the async worker: the indexes give a few candidates, cheap to render.
    Inline,
    /// On a blocking thread, in no slot: a few candidate groups whose members are rendered.
    Blocking,
    /// In one of the connection's slots for expensive work, on a blocking thread (see `bounds`):
    /// an unindexed filter or a sort, or a candidate group larger than `large_group_members`.
    Expensive,
}

/// Where search `req` of `caller` runs (see [`Placement`]).
pub fn placement(core: &Core, caller: &Caller, req: &SearchRequest) -> Placement {
    if !served_by_index(core, req) {
        return Placement::Expensive;
    }
    if !(req.kinds.contains(&ResourceKind::Group) && wants_members(&req.projection, req.filter.as_ref(), None)) {
        return Placement::Inline;
    }
    // A group's members may be 100,000 to render: never on the async workers, and in a slot
    // when a candidate is that large.
    let Some(Ok(compiled)) = req.filter.as_ref().map(|f| f.compile(&core.schemas, ResourceKind::Group)) else {
        return Placement::Expensive;
    };
    let large = core.settings.large_group_members;
    // The members of every candidate together: 300 groups of 4,000 are as much to render as one
    // of 1,200,000.
    let too_many = caller.instance.model.read(|s| {
        candidates(s, ResourceKind::Group, &compiled.plan(), req.filter.as_ref()).is_none_or(|ids| {
            ids.iter().filter_map(|id| s.groups.get(id)).map(|g| g.members.len()).sum::<usize>() > large
        })
    });
    if too_many { Placement::Expensive } else { Placement::Blocking }
}

/// The attributes an equality plan can answer from an index (see `read_model::query`).
fn indexed(kind: ResourceKind, attr: &str) -> bool {
    use ResourceKind as K;
    attr == "id"
        || matches!(
            (kind, attr),
            (K::User, "userName" | "displayName" | "emails.value" | "externalId")
                | (K::Group, "displayName" | "externalId" | "members.value")
                | (K::Container, "name" | "externalId" | "parent.value")
                | (K::ContainerPermission, "container.value" | "user.value" | "group.value")
                | (K::PrivilegedData, "name" | "displayName" | "container.value")
                | (K::PrivilegedDataPermission, "privilegedData.value" | "user.value" | "group.value")
        )
}

/// A match, before paging.
struct Hit {
    kind: ResourceKind,
    id: i64,
    key: Option<SortKey>,
    /// The rendering the filter was evaluated on, kept when the indexes gave few candidates, so
    /// that the page does not render the same resource twice (read under the same lock, so it
    /// is the same rendering).
    doc: Option<Value>,
}

/// Up to this many candidates, the renderings the filter saw are kept for the page. More would
/// hold a rendering of every match of a broad filter in memory until paging.
const KEEP_RENDERED: usize = 64;

/// The matches of one type, in id order.
fn matches_of(
    core: &Core,
    view: &View<'_>,
    state: &State,
    kind: ResourceKind,
    req: &SearchRequest,
    options: RenderOptions,
) -> Result<Vec<Hit>, ScimError> {
    let compiled = req.filter.as_ref().map(|f| f.compile(&core.schemas, kind)).transpose()?;
    let sort = req.sort.as_ref().map(|s| s.bind(&core.schemas, kind)).transpose()?;
    let ids = match &compiled {
        Some(c) => candidates(state, kind, &c.plan(), req.filter.as_ref()).unwrap_or_else(|| state.ids(kind)),
        None => state.ids(kind),
    };
    let keep = ids.len() <= KEEP_RENDERED;
    let mut hits = Vec::new();
    for id in ids {
        if compiled.is_none() && sort.is_none() {
            if view.visible(kind, id) {
                hits.push(Hit { kind, id, key: None, doc: None });
            }
            continue;
        }
        let Some(doc) = view.render(kind, id, options) else { continue };
        if compiled.as_ref().is_some_and(|c| !c.matches(&doc)) {
            continue;
        }
        let key = sort.as_ref().map(|s| s.key(&doc));
        hits.push(Hit { kind, id, key, doc: keep.then_some(doc) });
    }
    Ok(hits)
}

fn kind_rank(kind: ResourceKind) -> usize {
    ResourceKind::ALL.iter().position(|k| *k == kind).unwrap_or(usize::MAX)
}

/// A filtered, sorted, paged list.
///
/// # Errors
/// `400` for a filter or sort that does not fit the type (for the root search: that fits none of
/// the types), an invalid or expired cursor; `NotFound` for a type the caller may not read (the
/// root search covers the readable types only); `Unavailable` while the read model loads.
pub fn search(
    core: &Core,
    cursors: &CursorCodec,
    caller: &Caller,
    req: &SearchRequest,
) -> Result<SearchPage, ServiceError> {
    caller.require_loaded()?;
    let kinds: Vec<ResourceKind> = if req.kinds.is_empty() {
        scope::readable(&caller.connection)
    } else {
        for kind in &req.kinds {
            caller.check(*kind, Action::Read)?;
        }
        req.kinds.clone()
    };
    let options = RenderOptions { members: wants_members(&req.projection, req.filter.as_ref(), req.sort.as_ref()) };
    caller.instance.model.read(|state| {
        let view = caller.view(state);
        let mut hits = Vec::new();
        let mut first_error = None;
        let mut fitted = 0;
        for kind in &kinds {
            match matches_of(core, &view, state, *kind, req, options) {
                Ok(found) => {
                    fitted += 1;
                    hits.extend(found);
                }
                // Over several types, a filter naming an attribute one type lacks matches nothing there.
                Err(e) if kinds.len() > 1 => {
                    first_error.get_or_insert(e);
                }
                Err(e) => return Err(ServiceError::from(e)),
            }
        }
        if fitted == 0
            && let Some(e) = first_error
        {
            return Err(ServiceError::from(e));
        }
        let order = req.sort.as_ref().map(|s| s.order).unwrap_or_default();
        hits.sort_by(|a, b| {
            let by_key = match (&a.key, &b.key) {
                (Some(x), Some(y)) => {
                    // Missing values last ascending and first descending (RFC 7644 §3.4.2.3).
                    let natural = x.cmp_natural(y);
                    if order == SortOrder::Descending { natural.reverse() } else { natural }
                }
                _ => Ordering::Equal,
            };
            by_key.then_with(|| kind_rank(a.kind).cmp(&kind_rank(b.kind))).then_with(|| a.id.cmp(&b.id))
        });
        let total = hits.len();
        let mut page = SearchPage { total_results: total as u64, ..SearchPage::default() };
        let window = match &req.page {
            PageRequest::Index { start_index, count } => {
                page.start_index = *start_index;
                index_window(total, *start_index, *count)
            }
            PageRequest::Cursor { cursor, count } => {
                let fingerprint = fingerprint(caller, &kinds, req);
                let now = crate::text::now_millis() / 1000;
                let p = cursors.page(cursor.as_deref(), *count, total, fingerprint, now)?;
                page.start_index = p.range.start as u64 + 1;
                page.next_cursor = p.next_cursor;
                page.previous_cursor = p.previous_cursor;
                p.range
            }
        };
        let mut bound = std::collections::HashMap::new();
        for hit in hits.get_mut(window).unwrap_or_default() {
            let Some(doc) = hit.doc.take().or_else(|| view.render(hit.kind, hit.id, options)) else { continue };
            let projected = if req.projection.is_default() {
                doc
            } else {
                bound.entry(hit.kind).or_insert_with(|| req.projection.bind(&core.schemas, hit.kind)).apply(&doc)
            };
            page.resources.push(serialize(
                hit.kind,
                hit.id,
                view.version(hit.kind, hit.id).unwrap_or_default(),
                &projected,
            ));
        }
        Ok(page)
    })
}

/// What a cursor is valid for: the caller, the types, the filter and the sort.
fn fingerprint(caller: &Caller, kinds: &[ResourceKind], req: &SearchRequest) -> [u8; 8] {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.name()).collect();
    let kinds = kinds.join(",");
    let filter = req.filter.as_ref().map(ToString::to_string).unwrap_or_default();
    let sort = req.sort.as_ref().map(|s| format!("{} {}", s.by, s.order.as_str())).unwrap_or_default();
    query_fingerprint(&[caller.connection.id.as_str(), &kinds, &filter, &sort])
}
