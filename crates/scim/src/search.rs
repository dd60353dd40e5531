//! List queries: the query string of `GET /{Resources}` and the body of `POST /.search`
//! (RFC 7644 §3.4.2, §3.4.3) parse into the same [`ListQuery`].
//!
//! Parameter names are matched case-insensitively (Delinea's documentation writes `StartIndex`),
//! and `attributes[0]=...` style keys are accepted as list entries. Unknown parameters are ignored;
//! a parameter that may appear once appearing twice is `invalidValue`.

use crate::error::ScimError;
use crate::filter::{Filter, FilterLimits};
use crate::json::{get_ci, type_name};
use crate::paging::{PageRequest, PagingLimits, query_fingerprint};
use crate::projection::Projection;
use crate::sort::SortSpec;
use serde_json::Value;

/// The limits a list query is parsed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueryLimits {
    pub filter: FilterLimits,
    pub paging: PagingLimits,
}

/// A parsed list query.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub projection: Projection,
    pub sort: Option<SortSpec>,
    pub page: PageRequest,
}

impl ListQuery {
    /// Parses query-string pairs (already percent-decoded).
    ///
    /// # Errors
    /// `invalidFilter` for the filter; `invalidValue` for paging, sorting, projection or a
    /// repeated parameter; `invalidCount` for a bad cursor-mode `count`.
    pub fn from_query_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        limits: &QueryLimits,
    ) -> Result<Self, ScimError> {
        let mut raw = SearchRequest::default();
        let mut seen: Vec<&'static str> = Vec::new();
        let mut once = |name: &'static str| -> Result<(), ScimError> {
            if seen.contains(&name) {
                return Err(ScimError::invalid_value(format!("'{name}' is given more than once")));
            }
            seen.push(name);
            Ok(())
        };
        for (key, value) in pairs {
            let base = key.split('[').next().unwrap_or(key);
            let is = |name: &str| base.eq_ignore_ascii_case(name);
            if is("filter") {
                once("filter")?;
                raw.filter = Some(value.to_owned());
            } else if is("attributes") {
                raw.attributes.push(value.to_owned());
            } else if is("excludedAttributes") {
                raw.excluded_attributes.push(value.to_owned());
            } else if is("sortBy") {
                once("sortBy")?;
                raw.sort_by = Some(value.to_owned());
            } else if is("sortOrder") {
                once("sortOrder")?;
                raw.sort_order = Some(value.to_owned());
            } else if is("startIndex") {
                once("startIndex")?;
                raw.start_index_text = Some(value.to_owned());
            } else if is("count") {
                once("count")?;
                raw.count_text = Some(value.to_owned());
            } else if is("cursor") {
                once("cursor")?;
                raw.cursor = Some(value.to_owned());
            }
        }
        raw.into_query(limits)
    }

    /// What a cursor issued for this query is bound to: the filter and the sort, canonically printed.
    pub fn fingerprint(&self) -> [u8; 8] {
        let filter = self.filter.as_ref().map(ToString::to_string).unwrap_or_default();
        let (by, order) = match &self.sort {
            Some(s) => (s.by.to_string().to_ascii_lowercase(), s.order.as_str()),
            None => (String::new(), ""),
        };
        query_fingerprint(&[&filter, &by, order])
    }
}

/// The body of `POST /.search`, as sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    pub attributes: Vec<String>,
    pub excluded_attributes: Vec<String>,
    pub filter: Option<String>,
    pub sort_by: Option<String>,
    pub sort_order: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub cursor: Option<String>,
    start_index_text: Option<String>,
    count_text: Option<String>,
}

fn string_list(v: &Value, name: &str) -> Result<Vec<String>, ScimError> {
    match v {
        Value::Null => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ScimError::invalid_value(format!("'{name}' must list strings")))
            })
            .collect(),
        other => {
            Err(ScimError::invalid_value(format!("'{name}' must be an array of strings, not {}", type_name(other))))
        }
    }
}

fn opt_string(v: Option<&Value>, name: &str) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ScimError::invalid_value(format!("'{name}' must be a string, not {}", type_name(other)))),
    }
}

fn opt_int(v: Option<&Value>, name: &str) -> Result<Option<i64>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            n.as_i64().map(Some).ok_or_else(|| ScimError::invalid_value(format!("'{name}' must be an integer")))
        }
        Some(Value::String(s)) => {
            s.trim().parse().map(Some).map_err(|_| ScimError::invalid_value(format!("'{name}' must be an integer")))
        }
        Some(other) => Err(ScimError::invalid_value(format!("'{name}' must be an integer, not {}", type_name(other)))),
    }
}

impl SearchRequest {
    /// Parses a `/.search` body. A missing `schemas` is tolerated; a present one must name the
    /// SearchRequest URN.
    ///
    /// # Errors
    /// `invalidSyntax` for a body that is not a SearchRequest; `invalidValue` for a member of the
    /// wrong type.
    pub fn parse(body: &Value) -> Result<Self, ScimError> {
        let Some(obj) = body.as_object() else {
            return Err(ScimError::invalid_syntax(format!(
                "a SearchRequest must be an object, not {}",
                type_name(body)
            )));
        };
        if let Some(schemas) = get_ci(obj, "schemas") {
            let ok = schemas.as_array().is_some_and(|l| {
                l.iter().any(|s| s.as_str().is_some_and(|s| s.eq_ignore_ascii_case(crate::urn::SEARCH_REQUEST)))
            });
            if !ok {
                return Err(ScimError::invalid_syntax(format!(
                    "'schemas' must contain \"{}\"",
                    crate::urn::SEARCH_REQUEST
                )));
            }
        }
        Ok(Self {
            attributes: get_ci(obj, "attributes")
                .map(|v| string_list(v, "attributes"))
                .transpose()?
                .unwrap_or_default(),
            excluded_attributes: get_ci(obj, "excludedAttributes")
                .map(|v| string_list(v, "excludedAttributes"))
                .transpose()?
                .unwrap_or_default(),
            filter: opt_string(get_ci(obj, "filter"), "filter")?,
            sort_by: opt_string(get_ci(obj, "sortBy"), "sortBy")?,
            sort_order: opt_string(get_ci(obj, "sortOrder"), "sortOrder")?,
            start_index: opt_int(get_ci(obj, "startIndex"), "startIndex")?,
            count: opt_int(get_ci(obj, "count"), "count")?,
            cursor: opt_string(get_ci(obj, "cursor"), "cursor")?,
            start_index_text: None,
            count_text: None,
        })
    }

    /// The same query as the query string would give.
    ///
    /// # Errors
    /// As [`ListQuery::from_query_pairs`].
    pub fn into_query(self, limits: &QueryLimits) -> Result<ListQuery, ScimError> {
        let filter = match self.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(Filter::parse_with_limits(text, limits.filter)?),
        };
        let projection = Projection::from_lists(&self.attributes, &self.excluded_attributes)?;
        let sort = match self.sort_by.as_deref().map(str::trim) {
            None | Some("") => {
                if let Some(order) = &self.sort_order {
                    crate::sort::SortOrder::parse(order)?;
                }
                None
            }
            Some(by) => Some(SortSpec::parse(by, self.sort_order.as_deref())?),
        };
        let page = if self.start_index_text.is_some() || self.count_text.is_some() {
            PageRequest::from_params(
                self.start_index_text.as_deref(),
                self.count_text.as_deref(),
                self.cursor.as_deref(),
                limits.paging,
            )?
        } else {
            PageRequest::from_values(self.start_index, self.count, self.cursor.as_deref(), limits.paging)?
        };
        Ok(ListQuery { filter, projection, sort, page })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScimType;
    use serde_json::json;

    #[test]
    fn query_string_and_search_body_give_the_same_query() {
        let limits = QueryLimits::default();
        let a = ListQuery::from_query_pairs(
            [
                ("filter", r#"userName sw "J""#),
                ("Attributes", "userName,displayName"),
                ("sortBy", "userName"),
                ("sortOrder", "descending"),
                ("StartIndex", "11"),
                ("count", "5"),
            ],
            &limits,
        )
        .unwrap();
        let b = SearchRequest::parse(&json!({
            "schemas": [crate::urn::SEARCH_REQUEST],
            "attributes": ["userName", "displayName"],
            "filter": "userName sw \"J\"",
            "sortBy": "userName",
            "sortOrder": "descending",
            "startIndex": 11,
            "count": 5
        }))
        .unwrap()
        .into_query(&limits)
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.page, PageRequest::Index { start_index: 11, count: 5 });
        assert_eq!(a.fingerprint(), b.fingerprint());
    }

    #[test]
    fn delinea_indexed_attribute_keys_are_list_entries() {
        let q = ListQuery::from_query_pairs(
            [("attributes[0]", "id"), ("attributes[1]", "userName")],
            &QueryLimits::default(),
        )
        .unwrap();
        assert_eq!(q.projection.attributes.len(), 2);
    }

    #[test]
    fn bad_parameters_get_clear_errors() {
        let limits = QueryLimits::default();
        let e = ListQuery::from_query_pairs([("filter", "userName eq")], &limits).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        let e = ListQuery::from_query_pairs([("filter", "a pr"), ("filter", "b pr")], &limits).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = ListQuery::from_query_pairs([("sortOrder", "sideways")], &limits).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
        let e = SearchRequest::parse(&json!({"schemas": ["urn:x"]})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidSyntax));
        let e = SearchRequest::parse(&json!({"count": "ten"})).unwrap_err();
        assert_eq!(e.scim_type, Some(ScimType::InvalidValue));
    }

    #[test]
    fn an_empty_cursor_starts_cursor_paging() {
        let q = ListQuery::from_query_pairs([("cursor", ""), ("count", "10")], &QueryLimits::default()).unwrap();
        assert_eq!(q.page, PageRequest::Cursor { cursor: None, count: 10 });
    }
}
