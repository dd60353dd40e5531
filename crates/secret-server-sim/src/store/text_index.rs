//! A trigram index for `filter.searchText`: Secret Server matches the text anywhere in a name
//! (a substring, case-insensitively), which a sorted or hashed index cannot answer, so the
//! searches scanned every object. This index maps each 3-byte window of an object's folded search
//! key to the sorted ids whose key holds it. A text of 3 bytes or more can only be in keys that
//! hold every one of its trigrams, so intersecting their lists gives a superset of the matches,
//! which the caller verifies with the same test the scan applies: the answer is the scan's, in the
//! same order, at the cost of the candidates instead of every object. A prefix index would not do:
//! names created by one client often share a long prefix (`w-bench-…-1`, `w-bench-…-2`).
//!
//! Trigrams are taken over bytes of the UTF-8 key, so the index is exact for any text: a
//! substring's bytes are a run of the key's bytes.

use std::collections::HashMap;

type Trigram = [u8; 3];

/// Stop intersecting once this few candidates are left: verifying them costs less than
/// searching the remaining lists.
const ENOUGH: usize = 8;

/// Trigram → ids (ascending) whose search key contains it.
#[derive(Debug, Default, Clone)]
pub(crate) struct TextIndex {
    postings: HashMap<Trigram, Vec<i64>>,
}

/// The distinct trigrams of `text`, sorted.
fn trigrams(text: &str) -> Vec<Trigram> {
    let mut grams: Vec<Trigram> = text.as_bytes().windows(3).map(|w| [w[0], w[1], w[2]]).collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

impl TextIndex {
    /// Indexes `id` under `key` (the folded text searches are matched against).
    pub(crate) fn insert(&mut self, id: i64, key: &str) {
        for gram in trigrams(key) {
            self.add(gram, id);
        }
    }

    /// Removes `id`, which was indexed under `key`.
    pub(crate) fn remove(&mut self, id: i64, key: &str) {
        for gram in trigrams(key) {
            self.drop_id(gram, id);
        }
    }

    /// Moves `id` from `old` to `new`, touching only the trigrams that differ (a rename keeps
    /// most, and the common ones have the longest lists).
    pub(crate) fn replace(&mut self, id: i64, old: &str, new: &str) {
        if old == new {
            return;
        }
        let (old, new) = (trigrams(old), trigrams(new));
        for gram in old.iter().filter(|g| new.binary_search(g).is_err()) {
            self.drop_id(*gram, id);
        }
        for gram in new.iter().filter(|g| old.binary_search(g).is_err()) {
            self.add(*gram, id);
        }
    }

    fn add(&mut self, gram: Trigram, id: i64) {
        let ids = self.postings.entry(gram).or_default();
        // Ids are mostly created in ascending order: the common case is a push.
        if ids.last().is_none_or(|last| *last < id) {
            ids.push(id);
        } else if let Err(at) = ids.binary_search(&id) {
            ids.insert(at, id);
        }
    }

    fn drop_id(&mut self, gram: Trigram, id: i64) {
        if let Some(ids) = self.postings.get_mut(&gram) {
            if let Ok(at) = ids.binary_search(&id) {
                ids.remove(at);
            }
            if ids.is_empty() {
                self.postings.remove(&gram);
            }
        }
    }

    /// The ids (ascending) whose key may contain `text`: a superset of those that do. `None` when
    /// `text` is shorter than a trigram, so that the index cannot narrow the search (scan instead).
    pub(crate) fn candidates(&self, text: &str) -> Option<Vec<i64>> {
        let grams = trigrams(text);
        if grams.is_empty() {
            return None;
        }
        let mut lists = Vec::with_capacity(grams.len());
        for gram in &grams {
            match self.postings.get(gram) {
                Some(ids) => lists.push(ids.as_slice()),
                None => return Some(Vec::new()),
            }
        }
        lists.sort_unstable_by_key(|ids| ids.len());
        let mut candidates = lists[0].to_vec();
        for ids in &lists[1..] {
            if candidates.len() <= ENOUGH {
                break;
            }
            candidates.retain(|id| ids.binary_search(id).is_ok());
        }
        Some(candidates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(keys: &[(i64, &str)]) -> TextIndex {
        let mut index = TextIndex::default();
        for (id, key) in keys {
            index.insert(*id, key);
        }
        index
    }

    #[test]
    fn the_candidates_hold_every_key_containing_the_text() {
        let index = index(&[(1, "alice\nalice smith"), (2, "bob\nbob"), (3, "malice")]);
        assert_eq!(index.candidates("lic"), Some(vec![1, 3]));
        assert_eq!(index.candidates("bob"), Some(vec![2]));
        assert_eq!(index.candidates("zzz"), Some(vec![]));
    }

    #[test]
    fn a_text_shorter_than_a_trigram_asks_for_a_scan() {
        let index = index(&[(1, "alice")]);
        assert_eq!(index.candidates("al"), None);
    }

    #[test]
    fn a_replaced_key_is_found_by_its_new_text_only() {
        let mut index = index(&[(1, "alice"), (2, "alina")]);
        index.replace(1, "alice", "carol");
        assert_eq!(index.candidates("ali"), Some(vec![2]));
        assert_eq!(index.candidates("car"), Some(vec![1]));
        index.remove(2, "alina");
        assert_eq!(index.candidates("ali"), Some(vec![]));
        assert!(index.postings.values().all(|ids| !ids.is_empty()), "empty lists are dropped");
    }

    #[test]
    fn ids_indexed_out_of_order_stay_sorted() {
        let index = index(&[(5, "abc"), (2, "abc"), (9, "abc"), (2, "abc")]);
        assert_eq!(index.candidates("abc"), Some(vec![2, 5, 9]));
    }
}
