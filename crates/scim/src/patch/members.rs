//! Group membership changes as deltas, so that changing a group of 100,000 members costs the same
//! as changing a group of 10: the PATCH engine never rewrites the member list.

use crate::error::ScimError;
use crate::filter::CompiledFilter;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// One member of a group, as a client names it (`value` is the member's id). The sub-attributes
/// are RFC 7643 §8.7.1's: `value`, `$ref` and `type` (a `display` a client sends is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub value: String,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none", default)]
    pub kind: Option<String>,
    #[serde(rename = "$ref", skip_serializing_if = "Option::is_none", default)]
    pub reference: Option<String>,
}

impl Member {
    /// A member known only by id.
    pub fn new(id: impl Into<String>) -> Self {
        Self { value: id.into(), kind: None, reference: None }
    }

    /// The member as a JSON object (`{"value": ..., "type": ...}`).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Reads a normalized member object; `None` without a string `value`.
    pub fn from_value(v: &Value) -> Option<Self> {
        let o = v.as_object()?;
        let text = |k: &str| crate::json::get_ci(o, k).and_then(Value::as_str).map(str::to_owned);
        Some(Self { value: text("value")?, kind: text("type"), reference: text("$ref") })
    }
}

/// The membership change a PATCH makes, never a rewritten list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembersChange {
    /// Add these members and remove these ids; everyone else stays.
    Delta { added: Vec<Member>, removed: Vec<String> },
    /// The group's members become exactly these (`replace members`, or `remove members` without a
    /// filter, which empties the group).
    ReplaceAll(Vec<Member>),
}

impl Default for MembersChange {
    fn default() -> Self {
        MembersChange::Delta { added: Vec::new(), removed: Vec::new() }
    }
}

impl MembersChange {
    /// Whether this changes nothing.
    pub fn is_empty(&self) -> bool {
        matches!(self, MembersChange::Delta { added, removed } if added.is_empty() && removed.is_empty())
    }

    // Hash sets keep every step linear: an Entra or Bulk PATCH may carry thousands of members.
    pub(crate) fn add(&mut self, members: Vec<Member>) {
        let incoming: HashSet<&str> = members.iter().map(|m| m.value.as_str()).collect();
        let (list, removed) = match self {
            MembersChange::Delta { added, removed } => (added, Some(removed)),
            MembersChange::ReplaceAll(set) => (set, None),
        };
        if let Some(removed) = removed {
            removed.retain(|id| !incoming.contains(id.as_str()));
        }
        let mut present: HashSet<String> = list.iter().map(|m| m.value.clone()).collect();
        for m in members {
            if present.insert(m.value.clone()) {
                list.push(m);
            }
        }
    }

    pub(crate) fn remove(&mut self, ids: Vec<String>) {
        let gone: HashSet<&str> = ids.iter().map(String::as_str).collect();
        match self {
            MembersChange::Delta { added, removed } => {
                added.retain(|a| !gone.contains(a.value.as_str()));
                let mut present: HashSet<String> = removed.iter().cloned().collect();
                for id in ids.iter() {
                    if present.insert(id.clone()) {
                        removed.push(id.clone());
                    }
                }
            }
            MembersChange::ReplaceAll(set) => set.retain(|m| !gone.contains(m.value.as_str())),
        }
    }

    pub(crate) fn replace_all(&mut self, members: Vec<Member>) {
        let mut seen = HashSet::new();
        let set = members.into_iter().filter(|m| seen.insert(m.value.clone())).collect();
        *self = MembersChange::ReplaceAll(set);
    }

    /// Applies the change to a known member list.
    pub fn apply_to(&self, members: &mut Vec<Member>) {
        match self {
            MembersChange::Delta { added, removed } => {
                let gone: HashSet<&str> = removed.iter().map(String::as_str).collect();
                members.retain(|m| !gone.contains(m.value.as_str()));
                let mut present: HashSet<String> = members.iter().map(|m| m.value.clone()).collect();
                for a in added {
                    if present.insert(a.value.clone()) {
                        members.push(a.clone());
                    }
                }
            }
            MembersChange::ReplaceAll(set) => *members = set.clone(),
        }
    }

    /// The exact delta from `before` to the result of this change: only real additions and removals.
    pub fn relative_to(&self, before: &[Member]) -> MembersChange {
        let mut after = before.to_vec();
        self.apply_to(&mut after);
        let was: HashSet<&str> = before.iter().map(|m| m.value.as_str()).collect();
        let is: HashSet<&str> = after.iter().map(|m| m.value.as_str()).collect();
        let added = after.iter().filter(|m| !was.contains(m.value.as_str())).cloned().collect();
        let removed = before.iter().filter(|b| !is.contains(b.value.as_str())).map(|b| b.value.clone()).collect();
        MembersChange::Delta { added, removed }
    }
}

/// Resolves a member removal whose filter is not `value eq "<id>"` (`members[type eq "Group"]`,
/// `members[value sw "12"]`): the store that holds the group's members lists the matching ids.
///
/// The filter is compiled against one member object (`value`, `$ref`, `type`); a store
/// with the members as JSON calls [`CompiledFilter::matches`] on each. The engine only asks when the
/// PATCH needs it, and never when the document passed in carries its `members`.
pub trait MemberLookup {
    /// The ids of the group's current members that `filter` matches.
    ///
    /// # Errors
    /// Whatever the store reports; the PATCH fails with it.
    fn matching_member_ids(&self, filter: &CompiledFilter) -> Result<Vec<String>, ScimError>;
}

impl MemberLookup for [Member] {
    fn matching_member_ids(&self, filter: &CompiledFilter) -> Result<Vec<String>, ScimError> {
        Ok(self.iter().filter(|m| filter.matches(&m.to_value())).map(|m| m.value.clone()).collect())
    }
}

impl MemberLookup for Vec<Member> {
    fn matching_member_ids(&self, filter: &CompiledFilter) -> Result<Vec<String>, ScimError> {
        self.as_slice().matching_member_ids(filter)
    }
}

/// A lookup for callers that cannot list members: a removal by a filter other than `value eq`
/// fails with 501 instead of silently removing nothing (the data loss Okta users reported).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoMemberLookup;

impl MemberLookup for NoMemberLookup {
    fn matching_member_ids(&self, _filter: &CompiledFilter) -> Result<Vec<String>, ScimError> {
        Err(ScimError::not_implemented(
            "removing group members by a filter other than 'value eq' needs the member list",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(members: &[Member]) -> Vec<&str> {
        members.iter().map(|m| m.value.as_str()).collect()
    }

    #[test]
    fn add_then_remove_of_the_same_member_nets_to_a_removal() {
        let mut c = MembersChange::default();
        c.add(vec![Member::new("a")]);
        c.remove(vec!["a".into()]);
        assert_eq!(c, MembersChange::Delta { added: vec![], removed: vec!["a".into()] });
    }

    #[test]
    fn remove_then_add_of_the_same_member_nets_to_an_addition() {
        let mut c = MembersChange::default();
        c.remove(vec!["a".into()]);
        c.add(vec![Member::new("a")]);
        assert_eq!(c, MembersChange::Delta { added: vec![Member::new("a")], removed: vec![] });
    }

    #[test]
    fn changes_after_a_replace_edit_the_replacement_set() {
        let mut c = MembersChange::default();
        c.replace_all(vec![Member::new("a"), Member::new("b"), Member::new("a")]);
        c.add(vec![Member::new("c")]);
        c.remove(vec!["a".into()]);
        let MembersChange::ReplaceAll(set) = &c else { panic!("{c:?}") };
        assert_eq!(ids(set), ["b", "c"]);
    }

    #[test]
    fn relative_to_a_known_list_keeps_only_real_changes() {
        let before = vec![Member::new("a"), Member::new("b")];
        let mut c = MembersChange::default();
        c.add(vec![Member::new("a"), Member::new("c")]);
        c.remove(vec!["b".into(), "zzz".into()]);
        assert_eq!(
            c.relative_to(&before),
            MembersChange::Delta { added: vec![Member::new("c")], removed: vec!["b".into()] }
        );
        let r = MembersChange::ReplaceAll(vec![Member::new("b"), Member::new("d")]).relative_to(&before);
        assert_eq!(r, MembersChange::Delta { added: vec![Member::new("d")], removed: vec!["a".into()] });
    }
}
