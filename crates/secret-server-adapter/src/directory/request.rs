//! The gRPC requests as domain requests: converted and validated at the boundary (`TryFrom`),
//! so that the search and get code never sees a generated type.

use crate::events::kind_of;
use proto::directory::v1 as pb;
use scim::paging::{PageRequest, PagingLimits};
use scim::projection::Projection;
use scim::sort::{SortOrder, SortSpec};
use scim::{Filter, ResourceKind, ScimError};
use service_error::ServiceError;

/// `GetResource`, validated.
#[derive(Debug, Clone)]
pub struct GetRequest {
    pub connection_id: String,
    pub kind: ResourceKind,
    pub id: String,
    pub projection: Projection,
}

/// `SearchResources`, validated.
#[derive(Debug, Clone)]
pub struct SearchRequest {
    pub connection_id: String,
    /// Empty: every type the caller may read (the root `/.search`).
    pub kinds: Vec<ResourceKind>,
    pub filter: Option<Filter>,
    pub sort: Option<SortSpec>,
    pub page: PageRequest,
    pub projection: Projection,
}

fn connection_id(caller: Option<&proto::common::v1::Caller>) -> Result<String, ServiceError> {
    caller
        .map(|c| c.connection_id.trim().to_owned())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| ServiceError::new(service_error::ErrorKind::Unauthenticated, "the request names no connection"))
}

fn projection(p: Option<&pb::Projection>) -> Result<Projection, ServiceError> {
    let Some(p) = p else { return Ok(Projection::default()) };
    if !p.attributes.is_empty() && !p.excluded_attributes.is_empty() {
        return Err(ScimError::invalid_value("send either 'attributes' or 'excludedAttributes', not both").into());
    }
    Ok(Projection::from_lists(&p.attributes, &p.excluded_attributes)?)
}

fn kind(value: i32) -> Result<ResourceKind, ServiceError> {
    kind_of(value).ok_or_else(|| ServiceError::invalid_argument(format!("unknown resource type {value}")))
}

impl TryFrom<pb::GetResourceRequest> for GetRequest {
    type Error = ServiceError;

    fn try_from(req: pb::GetResourceRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            connection_id: connection_id(req.caller.as_ref())?,
            kind: kind(req.resource_type)?,
            id: req.id.trim().to_owned(),
            projection: projection(req.projection.as_ref())?,
        })
    }
}

impl SearchRequest {
    /// Converts and validates a `SearchResources` request; `limits` give the default and
    /// maximum page size.
    ///
    /// # Errors
    /// `400` with the RFC `scimType` (`invalidFilter`, `invalidValue`, `invalidCount`...) for a
    /// malformed filter, sort, page or projection.
    pub fn from_proto(req: pb::SearchResourcesRequest, limits: PagingLimits) -> Result<Self, ServiceError> {
        let connection_id = connection_id(req.caller.as_ref())?;
        let mut kinds = Vec::new();
        for value in &req.resource_types {
            let k = kind(*value)?;
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        let filter = match req.filter.trim() {
            "" => None,
            text => Some(Filter::parse(text)?),
        };
        let sort = match req.sort_by.trim() {
            "" => None,
            by => {
                let order = match pb::SortOrder::try_from(req.sort_order) {
                    Ok(pb::SortOrder::Descending) => SortOrder::Descending,
                    _ => SortOrder::Ascending,
                };
                let spec = SortSpec::parse(by, None)?;
                Some(SortSpec { order, ..spec })
            }
        };
        let page = match req.page {
            None => PageRequest::from_values(None, None, None, limits)?,
            Some(pb::search_resources_request::Page::Index(p)) => PageRequest::from_values(
                Some(i64::try_from(p.start_index).unwrap_or(i64::MAX)),
                p.count.map(i64::from),
                None,
                limits,
            )?,
            Some(pb::search_resources_request::Page::Cursor(p)) => {
                PageRequest::from_values(None, p.count.map(i64::from), Some(&p.cursor), limits)?
            }
        };
        Ok(Self { connection_id, kinds, filter, sort, page, projection: projection(req.projection.as_ref())? })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::common::v1 as common;

    fn search(filter: &str) -> pb::SearchResourcesRequest {
        pb::SearchResourcesRequest {
            caller: Some(common::Caller { connection_id: "okta".into() }),
            resource_types: vec![common::ResourceType::User as i32],
            filter: filter.into(),
            ..pb::SearchResourcesRequest::default()
        }
    }

    #[test]
    fn a_malformed_filter_is_invalid_filter() {
        let err = SearchRequest::from_proto(search("userName eq"), PagingLimits::DEFAULT).unwrap_err();
        assert_eq!(err.scim_type, Some(scim::ScimType::InvalidFilter));
    }

    #[test]
    fn no_page_means_the_first_page_of_the_default_size() {
        let req = SearchRequest::from_proto(search(""), PagingLimits::DEFAULT).unwrap();
        assert_eq!(req.page, PageRequest::Index { start_index: 1, count: 100 });
        assert!(req.filter.is_none());
    }

    #[test]
    fn a_request_without_a_connection_is_unauthenticated() {
        let req = pb::GetResourceRequest { resource_type: common::ResourceType::User as i32, ..Default::default() };
        assert_eq!(GetRequest::try_from(req).unwrap_err().http_status(), 401);
    }

    #[test]
    fn both_projection_lists_are_refused() {
        let mut req = search("");
        req.projection =
            Some(pb::Projection { attributes: vec!["userName".into()], excluded_attributes: vec!["name".into()] });
        assert_eq!(SearchRequest::from_proto(req, PagingLimits::DEFAULT).unwrap_err().http_status(), 400);
    }
}
