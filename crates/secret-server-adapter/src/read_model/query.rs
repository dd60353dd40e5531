//! Candidates for a filter, from the indexes: the `scim` crate's index plan (equality and prefix
//! on indexed attributes) and, for `meta.lastModified` comparisons at the top level of the filter,
//! the ordered time index. Candidates are a superset; the caller evaluates the filter on each.

use super::state::State;
use crate::text::parse_timestamp_millis;
use scim::filter::{CompValue, CompareOp};
use scim::{Filter, IndexPlan, ResourceKind};
use std::ops::Bound;

/// Ids that may match; `None` means every record of the kind must be examined.
pub fn candidates(state: &State, kind: ResourceKind, plan: &IndexPlan, filter: Option<&Filter>) -> Option<Vec<i64>> {
    let from_plan = run(state, kind, plan);
    let from_time = filter
        .and_then(time_bounds)
        .map(|(from, to)| state.idx.modified.get(&kind).map(|index| index.range(from, to)).unwrap_or_default());
    let mut best = match (from_plan, from_time) {
        (Some(a), Some(b)) => Some(if a.len() <= b.len() { a } else { b }),
        (a, b) => a.or(b),
    }?;
    best.sort_unstable();
    best.dedup();
    Some(best)
}

fn run(state: &State, kind: ResourceKind, plan: &IndexPlan) -> Option<Vec<i64>> {
    match plan {
        IndexPlan::All => None,
        IndexPlan::Eq { attr, value } => eq(state, kind, attr, value),
        IndexPlan::Prefix { attr, prefix } => prefix_of(state, kind, attr, prefix),
        // Any narrowing operand gives a superset of an intersection: take the smallest.
        IndexPlan::And(items) => items.iter().filter_map(|p| run(state, kind, p)).min_by_key(Vec::len),
        IndexPlan::Or(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(run(state, kind, item)?);
            }
            Some(out)
        }
    }
}

/// An id in a filter value: only as issued, so that `id eq "012"` matches nothing, as its
/// evaluation would.
fn int(value: &str) -> Option<i64> {
    adapter_api::id::parse(value)
}

fn eq(state: &State, kind: ResourceKind, attr: &str, value: &str) -> Option<Vec<i64>> {
    use ResourceKind as K;
    let idx = &state.idx;
    let by_int = |f: &dyn Fn(i64) -> Vec<i64>| Some(int(value).map(f).unwrap_or_default());
    match (kind, attr) {
        (_, "id") => by_int(&|id| vec![id]),
        (K::User, "userName") => Some(idx.user_name.get_key(value)),
        (K::User, "displayName") => Some(idx.user_display.get_key(value)),
        (K::User, "emails.value") => Some(idx.user_email.get_key(value)),
        (K::User, "externalId") => Some(idx.user_external.get_key(value)),
        (K::User, "groups.value") => by_int(&|g| state.groups.get(&g).map(|g| g.members.clone()).unwrap_or_default()),
        (K::Group, "displayName") => Some(idx.group_display.get_key(value)),
        (K::Group, "externalId") => Some(idx.group_external.get_key(value)),
        (K::Group, "members.value") => by_int(&|u| state.groups_of(u).to_vec()),
        (K::Container, "name") => Some(idx.folder_name.get_key(value)),
        (K::Container, "externalId") => Some(idx.folder_external.get_key(value)),
        (K::Container, "parent.value") => by_int(&|p| idx.folder_children.get(p)),
        (K::ContainerPermission, "container.value") => by_int(&|f| idx.fperm_by_folder.get(f)),
        (K::ContainerPermission, "user.value") => by_int(&|u| idx.fperm_by_user.get(u)),
        (K::ContainerPermission, "group.value") => by_int(&|g| idx.fperm_by_group.get(g)),
        (K::PrivilegedData, "name" | "displayName") => Some(idx.secret_name.get_key(value)),
        (K::PrivilegedData, "container.value") => by_int(&|f| idx.secrets_by_folder.get(f)),
        (K::PrivilegedDataPermission, "privilegedData.value") => by_int(&|s| idx.sperm_by_secret.get(s)),
        (K::PrivilegedDataPermission, "user.value") => by_int(&|u| idx.sperm_by_user.get(u)),
        (K::PrivilegedDataPermission, "group.value") => by_int(&|g| idx.sperm_by_group.get(g)),
        _ => None,
    }
}

fn prefix_of(state: &State, kind: ResourceKind, attr: &str, prefix: &str) -> Option<Vec<i64>> {
    use ResourceKind as K;
    let idx = &state.idx;
    match (kind, attr) {
        (K::User, "userName") => Some(idx.user_name.prefix(prefix)),
        (K::User, "displayName") => Some(idx.user_display.prefix(prefix)),
        (K::User, "emails.value") => Some(idx.user_email.prefix(prefix)),
        (K::User, "externalId") => Some(idx.user_external.prefix(prefix)),
        (K::Group, "displayName") => Some(idx.group_display.prefix(prefix)),
        (K::Group, "externalId") => Some(idx.group_external.prefix(prefix)),
        (K::Container, "name") => Some(idx.folder_name.prefix(prefix)),
        (K::PrivilegedData, "name" | "displayName") => Some(idx.secret_name.prefix(prefix)),
        _ => None,
    }
}

/// The `meta.lastModified` range a filter requires, when it requires one at its top level (alone
/// or as an operand of a top-level `and`).
fn time_bounds(filter: &Filter) -> Option<(Bound<i64>, Bound<i64>)> {
    let items: &[Filter] = match filter {
        Filter::And(items) => items,
        one => std::slice::from_ref(one),
    };
    let mut from = Bound::Unbounded;
    let mut to = Bound::Unbounded;
    let mut found = false;
    for item in items {
        let Filter::Compare { path, op, value: CompValue::String(text) } = item else { continue };
        let is_modified = path.name.eq_ignore_ascii_case("meta")
            && path.sub.as_deref().is_some_and(|s| s.eq_ignore_ascii_case("lastModified"))
            && path.urn.as_deref().is_none_or(|u| u.to_ascii_lowercase().starts_with("urn:ietf:params:scim:schemas:"));
        if !is_modified {
            continue;
        }
        let Some(at) = parse_timestamp_millis(text) else { continue };
        // Stored times have millisecond precision: a bound on a finer time widens to the millisecond.
        match op {
            CompareOp::Gt => from = tighter_from(from, Bound::Excluded(at)),
            CompareOp::Ge => from = tighter_from(from, Bound::Included(at)),
            CompareOp::Lt => to = tighter_to(to, Bound::Included(at)),
            CompareOp::Le => to = tighter_to(to, Bound::Included(at)),
            CompareOp::Eq => {
                from = tighter_from(from, Bound::Included(at));
                to = tighter_to(to, Bound::Included(at));
            }
            _ => continue,
        }
        found = true;
    }
    found.then_some((from, to))
}

fn bound_value(b: Bound<i64>) -> Option<i64> {
    match b {
        Bound::Included(v) | Bound::Excluded(v) => Some(v),
        Bound::Unbounded => None,
    }
}

fn tighter_from(a: Bound<i64>, b: Bound<i64>) -> Bound<i64> {
    match (bound_value(a), bound_value(b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if y > x => b,
        (Some(x), Some(y)) if y == x && matches!(b, Bound::Excluded(_)) => b,
        _ => a,
    }
}

fn tighter_to(a: Bound<i64>, b: Bound<i64>) -> Bound<i64> {
    match (bound_value(a), bound_value(b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) if y < x => b,
        _ => a,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::records::{GroupRec, GroupSs, Meta, UserRec, UserSs};
    use scim::Schemas;

    fn state() -> State {
        let mut state = State::default();
        for (id, name) in [(1, "Alice"), (2, "alfred"), (3, "bob")] {
            state.put_user(UserRec { ss: UserSs::local(id, name), attrs: None, deleted: false, meta: Meta::default() });
        }
        state.put_group(GroupRec {
            ss: GroupSs::local(9, "g"),
            members: vec![1, 3],
            attrs: None,
            meta: Meta::default(),
        });
        state
    }

    fn plan_for(kind: ResourceKind, filter: &str) -> (IndexPlan, Filter) {
        let f = Filter::parse(filter).unwrap();
        (f.compile(&Schemas::standard(), kind).unwrap().plan(), f)
    }

    #[test]
    fn equality_and_prefix_on_indexed_attributes_use_the_indexes() {
        let state = state();
        let (plan, f) = plan_for(ResourceKind::User, r#"userName eq "ALICE""#);
        assert_eq!(candidates(&state, ResourceKind::User, &plan, Some(&f)), Some(vec![1]));
        let (plan, f) = plan_for(ResourceKind::User, r#"userName sw "al""#);
        assert_eq!(candidates(&state, ResourceKind::User, &plan, Some(&f)), Some(vec![1, 2]));
        let (plan, f) = plan_for(ResourceKind::Group, r#"members.value eq "3""#);
        assert_eq!(candidates(&state, ResourceKind::Group, &plan, Some(&f)), Some(vec![9]));
        let (plan, f) = plan_for(ResourceKind::User, r#"id eq "not-a-number""#);
        assert_eq!(candidates(&state, ResourceKind::User, &plan, Some(&f)), Some(vec![]));
    }

    #[test]
    fn an_or_with_an_unindexed_operand_is_a_full_scan_and_an_and_takes_the_narrowest() {
        let state = state();
        let (plan, f) = plan_for(ResourceKind::User, r#"userName eq "bob" or title eq "x""#);
        assert_eq!(candidates(&state, ResourceKind::User, &plan, Some(&f)), None);
        let (plan, f) = plan_for(ResourceKind::User, r#"userName sw "a" and userName eq "alfred""#);
        assert_eq!(candidates(&state, ResourceKind::User, &plan, Some(&f)), Some(vec![2]));
    }

    #[test]
    fn top_level_last_modified_comparisons_give_a_time_range() {
        let f = Filter::parse(r#"meta.lastModified gt "2024-05-01T10:00:00Z" and userName sw "a""#).unwrap();
        let (from, to) = time_bounds(&f).unwrap();
        assert_eq!(from, Bound::Excluded(1_714_557_600_000));
        assert_eq!(to, Bound::Unbounded);
        let nested = Filter::parse(r#"userName eq "a" or meta.lastModified gt "2024-05-01T10:00:00Z""#).unwrap();
        assert!(time_bounds(&nested).is_none());
    }
}
