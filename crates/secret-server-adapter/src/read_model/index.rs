//! Secondary indexes: text keys (case-folded unless the attribute is `caseExact`, exactly as the
//! `scim` crate computes index keys), integer references, and the ordered `meta.lastModified`.

use crate::text::fold;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

/// The ids under one key: most keys have exactly one, which needs no heap allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdList {
    One(i64),
    Many(Vec<i64>),
}

impl IdList {
    fn insert(&mut self, id: i64) {
        match self {
            IdList::One(existing) if *existing == id => {}
            IdList::One(existing) => *self = IdList::Many(vec![*existing, id]),
            IdList::Many(ids) => {
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
    }

    /// Removes `id`; returns true when the list is now empty.
    fn remove(&mut self, id: i64) -> bool {
        match self {
            IdList::One(existing) => *existing == id,
            IdList::Many(ids) => {
                ids.retain(|x| *x != id);
                match ids.len() {
                    0 => true,
                    1 => {
                        *self = IdList::One(ids[0]);
                        false
                    }
                    _ => false,
                }
            }
        }
    }

    /// The ids, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = i64> + '_ {
        let (one, many) = match self {
            IdList::One(id) => (Some(*id), &[][..]),
            IdList::Many(ids) => (None, ids.as_slice()),
        };
        one.into_iter().chain(many.iter().copied())
    }
}

/// Text values → ids. Ordered, so that `sw` filters are a range scan.
#[derive(Debug, Clone)]
pub struct StrIndex {
    case_exact: bool,
    map: BTreeMap<Box<str>, IdList>,
}

impl StrIndex {
    /// An empty index; keys are folded unless `case_exact`.
    pub fn new(case_exact: bool) -> Self {
        Self { case_exact, map: BTreeMap::new() }
    }

    fn key(&self, value: &str) -> Box<str> {
        if self.case_exact { value.into() } else { fold(value).into_boxed_str() }
    }

    /// Adds `id` under `value` (empty values are not indexed).
    pub fn insert(&mut self, value: &str, id: i64) {
        if value.is_empty() {
            return;
        }
        let key = self.key(value);
        match self.map.get_mut(&key) {
            Some(list) => list.insert(id),
            None => {
                self.map.insert(key, IdList::One(id));
            }
        }
    }

    /// Removes `id` from under `value`.
    pub fn remove(&mut self, value: &str, id: i64) {
        let key = self.key(value);
        if let Some(list) = self.map.get_mut(&key)
            && list.remove(id)
        {
            self.map.remove(&key);
        }
    }

    /// Ids whose value has exactly this index key (already folded by the caller when needed).
    pub fn get_key(&self, key: &str) -> Vec<i64> {
        self.map.get(key).map(|l| l.iter().collect()).unwrap_or_default()
    }

    /// Ids of values equal to `value`, folding it as this index does.
    pub fn get(&self, value: &str) -> Vec<i64> {
        self.get_key(&self.key(value))
    }

    /// Ids whose index key starts with `prefix` (already an index key).
    pub fn prefix(&self, prefix: &str) -> Vec<i64> {
        let mut out = Vec::new();
        for (key, list) in self.map.range::<str, _>((Bound::Included(prefix), Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            out.extend(list.iter());
        }
        out
    }

    /// Distinct keys.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is indexed.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Integer references (a folder's parent, a permission's folder or principal) → ids.
#[derive(Debug, Clone, Default)]
pub struct IntIndex {
    map: HashMap<i64, IdList>,
}

impl IntIndex {
    /// Adds `id` under `key`.
    pub fn insert(&mut self, key: i64, id: i64) {
        match self.map.get_mut(&key) {
            Some(list) => list.insert(id),
            None => {
                self.map.insert(key, IdList::One(id));
            }
        }
    }

    /// Removes `id` from under `key`.
    pub fn remove(&mut self, key: i64, id: i64) {
        if let Some(list) = self.map.get_mut(&key)
            && list.remove(id)
        {
            self.map.remove(&key);
        }
    }

    /// The ids under `key`.
    pub fn get(&self, key: i64) -> Vec<i64> {
        self.map.get(&key).map(|l| l.iter().collect()).unwrap_or_default()
    }

    /// The ids under `key`, without collecting them.
    pub fn iter_key(&self, key: i64) -> impl Iterator<Item = i64> + '_ {
        self.map.get(&key).into_iter().flat_map(IdList::iter)
    }
}

/// `meta.lastModified` (Unix milliseconds) → ids, ordered, for range filters.
#[derive(Debug, Clone, Default)]
pub struct TimeIndex {
    set: BTreeSet<(i64, i64)>,
}

impl TimeIndex {
    /// Records that `id` was last modified at `at`.
    pub fn insert(&mut self, at: i64, id: i64) {
        self.set.insert((at, id));
    }

    /// Forgets that `id` was last modified at `at`.
    pub fn remove(&mut self, at: i64, id: i64) {
        self.set.remove(&(at, id));
    }

    /// Ids modified within the bounds (milliseconds).
    pub fn range(&self, from: Bound<i64>, to: Bound<i64>) -> Vec<i64> {
        let lower = match from {
            Bound::Included(t) => Bound::Included((t, i64::MIN)),
            Bound::Excluded(t) => Bound::Excluded((t, i64::MAX)),
            Bound::Unbounded => Bound::Unbounded,
        };
        let upper = match to {
            Bound::Included(t) => Bound::Included((t, i64::MAX)),
            Bound::Excluded(t) => Bound::Excluded((t, i64::MIN)),
            Bound::Unbounded => Bound::Unbounded,
        };
        if let (Bound::Included((a, _)) | Bound::Excluded((a, _)), Bound::Included((b, _)) | Bound::Excluded((b, _))) =
            (lower, upper)
            && a > b
        {
            return Vec::new();
        }
        self.set.range((lower, upper)).map(|(_, id)| *id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_insensitive_index_finds_any_spelling_and_forgets_removed_ids() {
        let mut index = StrIndex::new(false);
        index.insert("BJensen", 1);
        index.insert("bjensen", 2);
        assert_eq!(index.get("BJENSEN"), vec![1, 2]);
        index.remove("bJensen", 1);
        assert_eq!(index.get("bjensen"), vec![2]);
        index.remove("bjensen", 2);
        assert_eq!(index.len(), 0);
    }

    #[test]
    fn case_exact_index_tells_spellings_apart() {
        let mut index = StrIndex::new(true);
        index.insert("Ext-1", 1);
        assert_eq!(index.get("ext-1"), Vec::<i64>::new());
        assert_eq!(index.get("Ext-1"), vec![1]);
    }

    #[test]
    fn prefix_scan_stops_at_the_first_key_outside_the_prefix() {
        let mut index = StrIndex::new(false);
        for (i, name) in ["alice", "alfred", "bob", "al"].iter().enumerate() {
            index.insert(name, i as i64);
        }
        let mut found = index.prefix("al");
        found.sort();
        assert_eq!(found, vec![0, 1, 3]);
    }

    #[test]
    fn time_range_bounds_are_inclusive_or_exclusive_as_asked() {
        let mut index = TimeIndex::default();
        index.insert(10, 1);
        index.insert(20, 2);
        index.insert(20, 3);
        index.insert(30, 4);
        assert_eq!(index.range(Bound::Excluded(20), Bound::Unbounded), vec![4]);
        assert_eq!(index.range(Bound::Included(20), Bound::Excluded(30)), vec![2, 3]);
        assert_eq!(index.range(Bound::Included(40), Bound::Included(5)), Vec::<i64>::new());
    }
}
