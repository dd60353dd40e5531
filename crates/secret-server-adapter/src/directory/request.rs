//! The `Directory` requests as the search and get code needs them. The gRPC messages are decoded
//! and checked into the shared model of `adapter-api` (the gateway's client builds its requests
//! from the same types); here that model is parsed with the `scim` crate (filter, sort, page,
//! projection), so that the read path never sees a generated type or an unparsed parameter.

use adapter_api::{GetResource, Page, SearchResources};
use scim::paging::{PageRequest, PagingLimits};
use scim::projection::Projection;
use scim::sort::{SortOrder, SortSpec};
use scim::{Filter, ResourceKind};
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

fn projection(p: &adapter_api::Projection) -> Result<Projection, ServiceError> {
    Ok(Projection::from_lists(&p.attributes, &p.excluded_attributes)?)
}

impl TryFrom<GetResource> for GetRequest {
    type Error = ServiceError;

    /// # Errors
    /// `400` for a projection naming a malformed attribute path.
    fn try_from(req: GetResource) -> Result<Self, Self::Error> {
        let projection = projection(&req.projection)?;
        Ok(Self { connection_id: req.connection_id, kind: req.kind, id: req.id, projection })
    }
}

impl SearchRequest {
    /// Parses a `SearchResources` request; `limits` give the default and maximum page size.
    ///
    /// # Errors
    /// `400` with the RFC `scimType` (`invalidFilter`, `invalidValue`, `invalidCount`...) for a
    /// malformed filter, sort, page or projection.
    pub fn parse(req: SearchResources, limits: PagingLimits) -> Result<Self, ServiceError> {
        let query = req.query;
        let filter = match query.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Filter::parse(text)?),
        };
        let sort = match query.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(by) => {
                let order = if query.descending == Some(true) { SortOrder::Descending } else { SortOrder::Ascending };
                let spec = SortSpec::parse(by, None)?;
                Some(SortSpec { order, ..spec })
            }
        };
        let page = match query.page {
            Page::Index { start_index, count } => PageRequest::from_values(
                Some(i64::try_from(start_index).unwrap_or(i64::MAX)),
                count.map(i64::from),
                None,
                limits,
            )?,
            Page::Cursor { cursor, count } => {
                PageRequest::from_values(None, count.map(i64::from), Some(&cursor), limits)?
            }
        };
        Ok(Self {
            connection_id: req.connection_id,
            kinds: query.kinds,
            filter,
            sort,
            page,
            projection: projection(&query.projection)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapter_api::SearchQuery;

    fn search(filter: &str) -> SearchResources {
        SearchResources {
            connection_id: "okta".into(),
            query: SearchQuery {
                kinds: vec![ResourceKind::User],
                filter: Some(filter.into()),
                ..SearchQuery::default()
            },
        }
    }

    #[test]
    fn a_malformed_filter_is_invalid_filter() {
        let err = SearchRequest::parse(search("userName eq"), PagingLimits::DEFAULT).unwrap_err();
        assert_eq!(err.scim_type, Some(scim::ScimType::InvalidFilter));
    }

    #[test]
    fn no_page_means_the_first_page_of_the_default_size() {
        let req = SearchRequest::parse(search(""), PagingLimits::DEFAULT).unwrap();
        assert_eq!(req.page, PageRequest::Index { start_index: 1, count: 100 });
        assert!(req.filter.is_none());
    }

    #[test]
    fn a_descending_sort_keeps_its_order() {
        let mut req = search("");
        req.query.sort_by = Some("userName".into());
        req.query.descending = Some(true);
        let parsed = SearchRequest::parse(req, PagingLimits::DEFAULT).unwrap();
        assert_eq!(parsed.sort.map(|s| s.order), Some(SortOrder::Descending));
    }
}
