//! Query strings as IIS and ASP.NET Web API read them: keys are
//! case-insensitive (`filter.folderid` is `filter.folderId`), a `paging.`
//! prefix is accepted on every key (`paging.take`, `paging.filter.searchText`),
//! repeated keys form arrays, and values that do not parse are a `400` with a
//! `modelState` entry naming the key.

use crate::error::{SimError, SimResult};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use std::future::{Ready, ready};

/// A parsed query string with lower-cased keys.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parses `a=1&B=2`; keys are lower-cased and a leading `paging.` is dropped.
    ///
    /// # Errors
    /// A query string that is not valid `application/x-www-form-urlencoded` text.
    pub fn parse(raw: &str) -> SimResult<Self> {
        let parsed: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|e| SimError::invalid("query", format!("The query string is not valid: {e}")))?;
        let pairs = parsed
            .into_iter()
            .map(|(key, value)| {
                let key = key.to_lowercase();
                let key = key.strip_prefix("paging.").map(str::to_owned).unwrap_or(key);
                (key, value)
            })
            .collect();
        Ok(Self { pairs })
    }

    /// The last value given for `key` (lower-case), if any. Empty values count as absent,
    /// as model binding treats `filter.searchText=` as no filter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().rev().find(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str())
    }

    /// Every non-empty value given for `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.as_str()).collect()
    }

    /// An integer parameter.
    ///
    /// # Errors
    /// A value that is not a 32-bit integer (Secret Server's ids and paging values are `int`).
    pub fn int(&self, key: &str) -> SimResult<Option<i64>> {
        self.get(key)
            .map(|v| {
                v.trim()
                    .parse::<i32>()
                    .map(i64::from)
                    .map_err(|_| SimError::invalid(key.to_owned(), format!("The value '{v}' is not valid for {key}.")))
            })
            .transpose()
    }

    /// Every integer value given for `key`.
    ///
    /// # Errors
    /// Any value that is not an integer.
    pub fn ints(&self, key: &str) -> SimResult<Vec<i64>> {
        self.all(key)
            .into_iter()
            .map(|v| {
                v.trim()
                    .parse::<i32>()
                    .map(i64::from)
                    .map_err(|_| SimError::invalid(key.to_owned(), format!("The value '{v}' is not valid for {key}.")))
            })
            .collect()
    }

    /// A boolean parameter (`true` / `false`, any case).
    ///
    /// # Errors
    /// Any other value.
    pub fn bool(&self, key: &str) -> SimResult<Option<bool>> {
        self.get(key)
            .map(|v| match v.trim().to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(SimError::invalid(key.to_owned(), format!("The value '{v}' is not valid for {key}."))),
            })
            .transpose()
    }

    /// A boolean parameter with a default.
    ///
    /// # Errors
    /// A value that is not `true` or `false`.
    pub fn flag(&self, key: &str, default: bool) -> SimResult<bool> {
        Ok(self.bool(key)?.unwrap_or(default))
    }
}

impl FromRequest for Query {
    type Error = SimError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Query::parse(req.query_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_case_insensitive_and_paging_prefix_is_dropped() {
        let q = Query::parse("Filter.FolderID=7&paging.take=30&sortBy%5B0%5D.name=Id").unwrap();
        assert_eq!(q.int("filter.folderid").unwrap(), Some(7));
        assert_eq!(q.int("take").unwrap(), Some(30));
        assert_eq!(q.get("sortby[0].name"), Some("Id"));
    }

    #[test]
    fn repeated_keys_form_an_array() {
        let q = Query::parse("groupIds=1&groupIds=2&groupids=3").unwrap();
        assert_eq!(q.ints("groupids").unwrap(), vec![1, 2, 3]);
    }

    #[test]
    fn a_non_numeric_take_is_a_model_state_error() {
        let q = Query::parse("take=ten").unwrap();
        let err = q.int("take").unwrap_err();
        assert!(matches!(err, SimError::Invalid(ref f) if f[0].0 == "take"), "{err:?}");
    }

    #[test]
    fn a_take_beyond_int32_is_refused() {
        let q = Query::parse("take=99999999999").unwrap();
        assert!(q.int("take").is_err());
    }

    #[test]
    fn booleans_accept_any_case_and_refuse_other_words() {
        let q = Query::parse("a=TRUE&b=False&c=yes").unwrap();
        assert_eq!(q.bool("a").unwrap(), Some(true));
        assert_eq!(q.bool("b").unwrap(), Some(false));
        assert!(q.bool("c").is_err());
        assert!(q.flag("missing", true).unwrap());
    }
}
