//! The `Directory` service's model, shared by its client (the gateway) and its server (the
//! adapter): the requests, the resources and pages it answers, and its health. Each type converts
//! to its protobuf message (`From`) for the side that sends it, and from it (`TryFrom`, validating)
//! for the side that receives it, so that no generated type goes further in on either side.

use crate::kind;
use bytes::Bytes;
use proto::common::v1 as common;
use proto::directory::v1 as pb;
use scim::{ResourceKind, ScimError};
use service_error::{ErrorKind, ServiceError};

/// One resource as the adapter answers it: already projected, with its version (a weak ETag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: ResourceKind,
    pub id: String,
    /// The weak entity tag, e.g. `W/"3a7f..."`.
    pub version: String,
    /// The SCIM JSON document.
    pub json: Bytes,
}

/// `attributes` / `excludedAttributes` (RFC 7644 §3.9); at most one of them is non-empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
}

/// How a list is paged. A `count` of `None` asks for the adapter's default page size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// 1-based `startIndex`; `count` 0 asks for `totalResults` only.
    Index { start_index: u64, count: Option<u32> },
    /// RFC 9865: an empty cursor asks for the first page.
    Cursor { cursor: String, count: Option<u32> },
}

impl Default for Page {
    /// The first page, of the default size.
    fn default() -> Self {
        Page::Index { start_index: 1, count: None }
    }
}

/// A list or `.search` query, as the gateway checked it (the adapter parses the filter and binds
/// it to the schema).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The types to search (one for `/Users`; the readable ones for the root `/.search`); empty
    /// means every type the caller may read.
    pub kinds: Vec<ResourceKind>,
    /// The SCIM filter expression, unparsed.
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    /// `None`: the RFC's default (ascending).
    pub descending: Option<bool>,
    pub page: Page,
    pub projection: Projection,
}

/// `GetResource`: one resource by id, as `connection_id` may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetResource {
    pub connection_id: String,
    pub kind: ResourceKind,
    pub id: String,
    pub projection: Projection,
}

/// `SearchResources`: a query, as `connection_id` may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResources {
    pub connection_id: String,
    pub query: SearchQuery,
}

/// One page of results.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchPage {
    pub total_results: u64,
    pub start_index: u64,
    pub resources: Vec<Resource>,
    /// Cursor paging only: `None` when there is no further page.
    pub next_cursor: Option<String>,
    pub previous_cursor: Option<String>,
}

/// The adapter's readiness, and that of each Secret Server instance it serves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    pub ready: bool,
    pub instances: Vec<InstanceHealth>,
}

/// One Secret Server instance's readiness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InstanceHealth {
    pub instance: String,
    pub ready: bool,
    /// True once the first full load from Secret Server has finished.
    pub loaded: bool,
    pub detail: String,
    /// Records in the instance's read model.
    pub records: u64,
}

// ----- resources -----

impl From<Resource> for common::Resource {
    fn from(r: Resource) -> Self {
        common::Resource { resource_type: kind::to_proto(r.kind) as i32, id: r.id, version: r.version, json: r.json }
    }
}

impl TryFrom<common::Resource> for Resource {
    type Error = ServiceError;

    /// # Errors
    /// `Internal` for a resource without a type or an id: the adapter never sends one.
    fn try_from(r: common::Resource) -> Result<Self, Self::Error> {
        let kind = kind::from_proto(r.resource_type)
            .ok_or_else(|| ServiceError::internal("the adapter sent a resource without a resource type"))?;
        if r.id.is_empty() {
            return Err(ServiceError::internal("the adapter sent a resource without an id"));
        }
        Ok(Resource { kind, id: r.id, version: r.version, json: r.json })
    }
}

// ----- requests -----

fn caller(connection_id: String) -> Option<common::Caller> {
    Some(common::Caller { connection_id })
}

/// The connection a request names; `Unauthenticated` when it names none.
fn connection_id(caller: Option<common::Caller>) -> Result<String, ServiceError> {
    caller
        .map(|c| c.connection_id.trim().to_owned())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ServiceError::new(ErrorKind::Unauthenticated, "the request names no connection"))
}

fn resource_kind(value: i32) -> Result<ResourceKind, ServiceError> {
    kind::from_proto(value).ok_or_else(|| ServiceError::invalid_argument(format!("unknown resource type {value}")))
}

impl From<Projection> for pb::Projection {
    fn from(p: Projection) -> Self {
        pb::Projection { attributes: p.attributes, excluded_attributes: p.excluded_attributes }
    }
}

impl TryFrom<Option<pb::Projection>> for Projection {
    type Error = ServiceError;

    /// # Errors
    /// `400 invalidValue` when both lists are given.
    fn try_from(p: Option<pb::Projection>) -> Result<Self, Self::Error> {
        let Some(p) = p else { return Ok(Projection::default()) };
        if !p.attributes.is_empty() && !p.excluded_attributes.is_empty() {
            return Err(ScimError::invalid_value("send either 'attributes' or 'excludedAttributes', not both").into());
        }
        Ok(Projection { attributes: p.attributes, excluded_attributes: p.excluded_attributes })
    }
}

impl From<GetResource> for pb::GetResourceRequest {
    fn from(req: GetResource) -> Self {
        pb::GetResourceRequest {
            caller: caller(req.connection_id),
            resource_type: kind::to_proto(req.kind) as i32,
            id: req.id,
            projection: Some(req.projection.into()),
        }
    }
}

impl TryFrom<pb::GetResourceRequest> for GetResource {
    type Error = ServiceError;

    /// # Errors
    /// `401` without a connection, `400` for an unknown resource type or both projection lists.
    fn try_from(req: pb::GetResourceRequest) -> Result<Self, Self::Error> {
        Ok(GetResource {
            connection_id: connection_id(req.caller)?,
            kind: resource_kind(req.resource_type)?,
            // As sent: the adapter reads it with `id::parse`, which refuses other spellings.
            id: req.id,
            projection: Projection::try_from(req.projection)?,
        })
    }
}

/// `GetResources`: several reads sent as one message, each with its own caller.
pub fn get_resources_request(items: Vec<GetResource>) -> pb::GetResourcesRequest {
    pb::GetResourcesRequest { items: items.into_iter().map(pb::GetResourceRequest::from).collect() }
}

/// One item of a `GetResources` answer, from the adapter's outcome for it.
pub fn get_resource_result(outcome: Result<Resource, ServiceError>) -> pb::GetResourceResult {
    let outcome = match outcome {
        Ok(resource) => pb::get_resource_result::Outcome::Resource(resource.into()),
        Err(error) => pb::get_resource_result::Outcome::Error(common::Error::from(&error)),
    };
    pb::GetResourceResult { outcome: Some(outcome) }
}

/// One item of a `GetResources` answer, as the caller of that item sees it: its resource, or the
/// error a single `GetResource` would have answered.
///
/// # Errors
/// The item's error; `Internal` for an item with neither.
pub fn read_outcome(result: pb::GetResourceResult) -> Result<Resource, ServiceError> {
    match result.outcome {
        Some(pb::get_resource_result::Outcome::Resource(resource)) => Resource::try_from(resource),
        Some(pb::get_resource_result::Outcome::Error(error)) => Err(error.into()),
        None => Err(ServiceError::internal("the adapter answered an item without a resource or an error")),
    }
}

impl From<Page> for pb::search_resources_request::Page {
    fn from(page: Page) -> Self {
        match page {
            Page::Index { start_index, count } => {
                pb::search_resources_request::Page::Index(pb::IndexPage { start_index, count })
            }
            Page::Cursor { cursor, count } => {
                pb::search_resources_request::Page::Cursor(pb::CursorPage { cursor, count })
            }
        }
    }
}

impl From<Option<pb::search_resources_request::Page>> for Page {
    fn from(page: Option<pb::search_resources_request::Page>) -> Self {
        match page {
            None => Page::default(),
            Some(pb::search_resources_request::Page::Index(p)) => {
                Page::Index { start_index: p.start_index, count: p.count }
            }
            Some(pb::search_resources_request::Page::Cursor(p)) => Page::Cursor { cursor: p.cursor, count: p.count },
        }
    }
}

impl From<SearchResources> for pb::SearchResourcesRequest {
    fn from(req: SearchResources) -> Self {
        let q = req.query;
        pb::SearchResourcesRequest {
            caller: caller(req.connection_id),
            resource_types: q.kinds.into_iter().map(|k| kind::to_proto(k) as i32).collect(),
            filter: q.filter.unwrap_or_default(),
            sort_by: q.sort_by.unwrap_or_default(),
            sort_order: match q.descending {
                None => pb::SortOrder::Unspecified,
                Some(false) => pb::SortOrder::Ascending,
                Some(true) => pb::SortOrder::Descending,
            } as i32,
            page: Some(q.page.into()),
            projection: Some(q.projection.into()),
        }
    }
}

impl TryFrom<pb::SearchResourcesRequest> for SearchResources {
    type Error = ServiceError;

    /// # Errors
    /// `401` without a connection, `400` for an unknown resource type or both projection lists.
    /// The filter, sort and page are checked where they are parsed, by the adapter.
    fn try_from(req: pb::SearchResourcesRequest) -> Result<Self, Self::Error> {
        let connection_id = connection_id(req.caller)?;
        let mut kinds = Vec::with_capacity(req.resource_types.len());
        for value in req.resource_types {
            let kind = resource_kind(value)?;
            if !kinds.contains(&kind) {
                kinds.push(kind);
            }
        }
        let descending = match pb::SortOrder::try_from(req.sort_order) {
            Ok(pb::SortOrder::Descending) => Some(true),
            Ok(pb::SortOrder::Ascending) => Some(false),
            // Unspecified, or a value this build does not know: the RFC's default.
            _ => None,
        };
        let query = SearchQuery {
            kinds,
            filter: Some(req.filter).filter(|f| !f.trim().is_empty()),
            sort_by: Some(req.sort_by).filter(|s| !s.trim().is_empty()),
            descending,
            page: req.page.into(),
            projection: Projection::try_from(req.projection)?,
        };
        Ok(SearchResources { connection_id, query })
    }
}

// ----- answers -----

impl From<SearchPage> for pb::SearchResourcesResponse {
    fn from(page: SearchPage) -> Self {
        pb::SearchResourcesResponse {
            total_results: page.total_results,
            start_index: page.start_index,
            resources: page.resources.into_iter().map(common::Resource::from).collect(),
            next_cursor: page.next_cursor.unwrap_or_default(),
            previous_cursor: page.previous_cursor.unwrap_or_default(),
        }
    }
}

impl TryFrom<pb::SearchResourcesResponse> for SearchPage {
    type Error = ServiceError;

    /// # Errors
    /// `Internal` when a resource has no type or id.
    fn try_from(response: pb::SearchResourcesResponse) -> Result<Self, Self::Error> {
        Ok(SearchPage {
            total_results: response.total_results,
            start_index: response.start_index,
            resources: response.resources.into_iter().map(Resource::try_from).collect::<Result<_, _>>()?,
            next_cursor: Some(response.next_cursor).filter(|c| !c.is_empty()),
            previous_cursor: Some(response.previous_cursor).filter(|c| !c.is_empty()),
        })
    }
}

impl From<Health> for pb::HealthResponse {
    fn from(health: Health) -> Self {
        pb::HealthResponse {
            ready: health.ready,
            instances: health
                .instances
                .into_iter()
                .map(|i| pb::InstanceHealth {
                    instance: i.instance,
                    ready: i.ready,
                    loaded: i.loaded,
                    detail: i.detail,
                    records: i.records,
                })
                .collect(),
        }
    }
}

impl From<pb::HealthResponse> for Health {
    fn from(response: pb::HealthResponse) -> Self {
        Health {
            ready: response.ready,
            instances: response
                .instances
                .into_iter()
                .map(|i| InstanceHealth {
                    instance: i.instance,
                    ready: i.ready,
                    loaded: i.loaded,
                    detail: i.detail,
                    records: i.records,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn query() -> SearchQuery {
        SearchQuery {
            kinds: vec![ResourceKind::User, ResourceKind::Group],
            filter: Some(r#"userName eq "bjensen""#.into()),
            sort_by: Some("userName".into()),
            descending: Some(true),
            page: Page::Cursor { cursor: "c1".into(), count: Some(10) },
            projection: Projection { attributes: vec!["userName".into()], excluded_attributes: vec![] },
        }
    }

    #[test]
    fn a_search_reads_back_as_the_gateway_sent_it() {
        let sent = SearchResources { connection_id: "okta".into(), query: query() };
        let received = SearchResources::try_from(pb::SearchResourcesRequest::from(sent.clone())).unwrap();
        assert_eq!(received, sent);
    }

    #[test]
    fn a_get_reads_back_as_the_gateway_sent_it() {
        let sent = GetResource {
            connection_id: "okta".into(),
            kind: ResourceKind::Container,
            id: "12".into(),
            projection: Projection::default(),
        };
        assert_eq!(GetResource::try_from(pb::GetResourceRequest::from(sent.clone())).unwrap(), sent);
    }

    #[test]
    fn a_request_without_a_connection_is_unauthenticated() {
        let req = pb::GetResourceRequest { resource_type: common::ResourceType::User as i32, ..Default::default() };
        assert_eq!(GetResource::try_from(req).unwrap_err().http_status(), 401);
    }

    #[test]
    fn an_unknown_resource_type_is_refused() {
        let mut req =
            pb::SearchResourcesRequest::from(SearchResources { connection_id: "okta".into(), query: query() });
        req.resource_types.push(99);
        assert_eq!(SearchResources::try_from(req).unwrap_err().http_status(), 400);
    }

    #[test]
    fn both_projection_lists_are_refused() {
        let projection =
            pb::Projection { attributes: vec!["userName".into()], excluded_attributes: vec!["name".into()] };
        let err = Projection::try_from(Some(projection)).unwrap_err();
        assert_eq!(err.scim_type, Some(scim::ScimType::InvalidValue));
    }

    #[test]
    fn no_page_and_no_sort_order_are_the_defaults() {
        let req = pb::SearchResourcesRequest {
            caller: caller("okta".into()),
            resource_types: vec![common::ResourceType::User as i32, common::ResourceType::User as i32],
            sort_order: 7,
            ..Default::default()
        };
        let received = SearchResources::try_from(req).unwrap();
        assert_eq!(received.query.page, Page::Index { start_index: 1, count: None });
        assert_eq!(received.query.descending, None);
        assert_eq!(received.query.kinds, vec![ResourceKind::User], "each type once");
        assert_eq!(received.query.filter, None);
    }

    #[test]
    fn a_resource_without_an_id_is_an_internal_error() {
        let resource = common::Resource { resource_type: common::ResourceType::User as i32, ..Default::default() };
        assert_eq!(Resource::try_from(resource).unwrap_err().http_status(), 500);
    }

    #[test]
    fn a_page_reads_back_as_the_adapter_sent_it() {
        let page = SearchPage {
            total_results: 3,
            start_index: 1,
            resources: vec![Resource {
                kind: ResourceKind::User,
                id: "42".into(),
                version: "W/\"1\"".into(),
                json: Bytes::from_static(br#"{"id":"42"}"#),
            }],
            next_cursor: Some("next".into()),
            previous_cursor: None,
        };
        assert_eq!(SearchPage::try_from(pb::SearchResourcesResponse::from(page.clone())).unwrap(), page);
    }
}
