//! Paging and sorting shared by every search endpoint: `skip`, `take`
//! (default 10 when omitted), `sortBy[0].name`, `sortBy[0].direction`, and the
//! envelope built from them.
//!
//! Records in natural (id) order are streamed: only the requested window is
//! rendered, so a page of 1,000 out of 100,000 users costs one pass over the
//! index and 1,000 renders. Other sort orders collect the matches and sort them.

use crate::error::{SimError, SimResult};
use crate::query::Query;
use secret_server_api::{PagedResult, SortSpec};

/// The page size when `take` is omitted. Secret Server's default is not documented; 10 is what
/// its web services use for other list defaults, and it makes forgetting `take` visible.
pub const DEFAULT_TAKE: i64 = 10;

/// A requested sort: one of the endpoint's sortable fields and a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sort {
    /// The canonical field name (as the endpoint lists it).
    pub name: &'static str,
    pub descending: bool,
}

/// `skip`, `take` and the sort of one search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub skip: i64,
    pub take: i64,
    pub sort: Option<Sort>,
}

impl Paging {
    /// Reads `skip`, `take` and `sortBy[0]` from the query. `sortable` lists the field names the
    /// endpoint can sort by (matched case-insensitively; the first is the natural order).
    ///
    /// # Errors
    /// A negative `skip` or `take`, an unknown sort field or direction.
    pub fn from_query(query: &Query, sortable: &'static [&'static str]) -> SimResult<Self> {
        let skip = query.int("skip")?.unwrap_or(0);
        let take = query.int("take")?.unwrap_or(DEFAULT_TAKE);
        if skip < 0 {
            return Err(SimError::invalid("skip", "skip must be zero or more."));
        }
        if take < 0 {
            return Err(SimError::invalid("take", "take must be zero or more."));
        }
        let sort = match query.get("sortby[0].name") {
            None => None,
            Some(requested) => {
                let name = sortable.iter().find(|n| n.eq_ignore_ascii_case(requested.trim())).ok_or_else(|| {
                    SimError::invalid(
                        "sortBy[0].name",
                        format!("Cannot sort by '{requested}'. Sortable fields: {}.", sortable.join(", ")),
                    )
                })?;
                let direction = query.get("sortby[0].direction").unwrap_or("Asc");
                match direction.trim().to_ascii_lowercase().as_str() {
                    "asc" | "ascending" => Some(Sort { name, descending: false }),
                    "desc" | "descending" => Some(Sort { name, descending: true }),
                    "none" => None,
                    _ => {
                        return Err(SimError::invalid(
                            "sortBy[0].direction",
                            format!("The value '{direction}' is not valid: use Asc, Desc or None."),
                        ));
                    }
                }
            }
        };
        Ok(Self { skip, take, sort })
    }

    /// The `sortBy` array echoed in the envelope.
    pub fn sort_specs(&self) -> Vec<SortSpec> {
        self.sort
            .iter()
            .map(|s| SortSpec {
                name: s.name.to_owned(),
                direction: if s.descending { "Desc" } else { "Asc" }.to_owned(),
                priority: 0,
            })
            .collect()
    }

    /// Whether the request asks for the natural order (by id, ascending), which can be streamed.
    fn is_natural(&self, natural: &str) -> bool {
        self.sort.as_ref().is_none_or(|s| s.name == natural && !s.descending)
    }

    /// Takes this page from `items`, already in the requested order, and counts all of them.
    pub fn window<T>(&self, items: impl Iterator<Item = T>) -> (Vec<T>, i64) {
        let skip = usize::try_from(self.skip).unwrap_or(usize::MAX);
        let take = usize::try_from(self.take).unwrap_or(usize::MAX);
        let mut total = 0usize;
        let mut window = Vec::with_capacity(take.min(1024));
        for item in items {
            if total >= skip && window.len() < take {
                window.push(item);
            }
            total += 1;
        }
        (window, total as i64)
    }

    /// Selects this page from `items` (given in natural order) and counts all of them.
    /// `key` gives an item's sort key for the requested field; it is only called when the request
    /// sorts by something other than the natural order, once per item.
    pub fn select<T>(
        &self,
        items: impl Iterator<Item = T>,
        natural: &str,
        key: impl Fn(&str, &T) -> SortKey,
    ) -> (Vec<T>, i64) {
        let Some(sort) = self.sort.as_ref().filter(|_| !self.is_natural(natural)) else {
            return self.window(items);
        };
        let mut keyed: Vec<(SortKey, usize, T)> =
            items.enumerate().map(|(n, item)| (key(sort.name, &item), n, item)).collect();
        // Equal keys keep their natural (id) order in both directions, so paging is deterministic.
        keyed.sort_unstable_by(|a, b| {
            let ord = a.0.cmp(&b.0);
            (if sort.descending { ord.reverse() } else { ord }).then(a.1.cmp(&b.1))
        });
        let total = keyed.len() as i64;
        let skip = usize::try_from(self.skip).unwrap_or(usize::MAX);
        let take = usize::try_from(self.take).unwrap_or(usize::MAX);
        let window = keyed.into_iter().skip(skip).take(take).map(|(_, _, item)| item).collect();
        (window, total)
    }

    /// The envelope for `records`, one page of `total`.
    pub fn envelope<R>(&self, records: Vec<R>, total: i64) -> PagedResult<R> {
        PagedResult::page(records, total, self.skip, self.take, self.sort_specs())
    }
}

/// A sort key: computed once per record, compared many times.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    Int(i64),
    /// Lower-cased text (names sort case-insensitively).
    Text(String),
}

impl SortKey {
    /// A case-insensitive text key.
    pub fn text(value: &str) -> Self {
        SortKey::Text(value.to_lowercase())
    }

    /// An optional text key (absent sorts as empty).
    pub fn opt_text(value: Option<&str>) -> Self {
        SortKey::text(value.unwrap_or(""))
    }
}

impl From<i64> for SortKey {
    fn from(value: i64) -> Self {
        SortKey::Int(value)
    }
}

impl From<bool> for SortKey {
    fn from(value: bool) -> Self {
        SortKey::Int(i64::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(raw: &str) -> SimResult<Paging> {
        Paging::from_query(&Query::parse(raw).unwrap(), &["id", "name"])
    }

    #[test]
    fn take_defaults_to_ten_and_skip_to_zero() {
        let p = paging("").unwrap();
        assert_eq!((p.skip, p.take, p.sort), (0, DEFAULT_TAKE, None));
    }

    #[test]
    fn natural_order_streams_the_window_and_counts_everything() {
        let p = paging("skip=5&take=3").unwrap();
        let (window, total) = p.select(0..20, "id", |_, a: &i64| SortKey::Int(*a));
        assert_eq!(window, vec![5, 6, 7]);
        assert_eq!(total, 20);
    }

    #[test]
    fn descending_sort_reverses_the_order() {
        let p = paging("sortBy[0].name=NAME&sortBy[0].direction=desc&take=2").unwrap();
        let (window, total) = p.select(["b", "A", "c"].into_iter(), "id", |_, a| SortKey::text(a));
        assert_eq!(window, vec!["c", "b"]);
        assert_eq!(total, 3);
        assert_eq!(p.sort_specs()[0].direction, "Desc");
        let ascending = paging("sortBy[0].name=name&take=2").unwrap();
        let (window, _) = ascending.select(["b", "A", "c"].into_iter(), "id", |_, a| SortKey::text(a));
        assert_eq!(window, vec!["A", "b"], "names sort case-insensitively");
    }

    #[test]
    fn unknown_sort_fields_and_negative_skips_are_refused() {
        assert!(paging("sortBy[0].name=colour").is_err());
        assert!(paging("sortBy[0].name=name&sortBy[0].direction=up").is_err());
        assert!(paging("skip=-1").is_err());
    }

    #[test]
    fn a_skip_beyond_the_end_gives_an_empty_page_with_the_total() {
        let p = paging("skip=50&take=10").unwrap();
        let (window, total) = p.select(0..20, "id", |_, a: &i64| SortKey::Int(*a));
        assert!(window.is_empty());
        assert_eq!(total, 20);
        let env = p.envelope(window, total);
        assert!(!env.has_next);
    }
}
