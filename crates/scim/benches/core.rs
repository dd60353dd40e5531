//! Criterion benchmarks of the protocol core: filters over 100,000 generated users (full scan and
//! through an index plan), PATCH, projection and sorting. Numbers and the command to reproduce
//! them are in docs/benchmarks.md ("scim core").

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use scim::filter::index_key;
use scim::patch::NoMemberLookup;
use scim::projection::Projection;
use scim::sort::SortSpec;
use scim::{Filter, IndexPlan, PatchRequest, ResourceKind, Schemas};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

const USERS: usize = 100_000;

const FILTERS: [(&str, &str); 5] = [
    ("userName_eq", r#"userName eq "user50000@example.com""#),
    ("emails_work_value_co", r#"emails[type eq "work"].value co "user5""#),
    ("lastModified_gt", r#"meta.lastModified gt "2023-01-01T00:00:00Z""#),
    ("and_sw_active", r#"userName sw "USER1" and active eq true"#),
    ("or_title_home_email", r#"title eq "Engineer" or emails.value ew "@home.example.org""#),
];

/// Deterministic users: no randomness, so every run scans the same data.
fn users() -> Vec<Value> {
    const TITLES: [&str; 5] = ["Engineer", "Manager", "Analyst", "Tour Guide", "Director"];
    (0..USERS)
        .map(|i| {
            let day = i % 1461;
            let (year, rest) = (2020 + day / 365, day % 365);
            let (month, dom) = (1 + rest / 31 % 12, 1 + rest % 28);
            let mut emails = vec![json!({"value": format!("user{i}@example.com"), "type": "work", "primary": true})];
            if i % 3 == 0 {
                emails.push(json!({"value": format!("u{i}@home.example.org"), "type": "home"}));
            }
            json!({
                "schemas": [scim::urn::USER],
                "id": format!("{i:08x}-0000-4000-8000-000000000000"),
                "externalId": format!("ext-{i}"),
                "userName": format!("user{i}@example.com"),
                "name": {"givenName": format!("Given{}", i % 977), "familyName": format!("Family{}", i % 1409)},
                "displayName": format!("User {i}"),
                "title": TITLES[i % TITLES.len()],
                "active": i % 10 != 0,
                "emails": emails,
                "meta": {
                    "resourceType": "User",
                    "created": "2019-06-01T00:00:00Z",
                    "lastModified": format!("{year}-{month:02}-{dom:02}T{:02}:00:00Z", i % 24),
                    "version": format!("W/\"{i:x}\""),
                }
            })
        })
        .collect()
}

/// What an adapter keeps: index key → positions, per indexed attribute.
struct Index {
    by_attr: HashMap<&'static str, HashMap<String, Vec<usize>>>,
}

impl Index {
    fn build(schemas: &Schemas, users: &[Value]) -> Self {
        let mut by_attr = HashMap::new();
        for (attr, top, sub) in
            [("userName", "userName", None), ("emails.value", "emails", Some("value")), ("active", "active", None)]
        {
            let def = schemas.attribute(ResourceKind::User, attr).unwrap().leaf();
            let mut map: HashMap<String, Vec<usize>> = HashMap::new();
            for (i, u) in users.iter().enumerate() {
                let values: Vec<&Value> = match (&u[top], sub) {
                    (Value::Array(items), Some(s)) => items.iter().map(|e| &e[s]).collect(),
                    (v, None) => vec![v],
                    _ => vec![],
                };
                for v in values {
                    if let Some(k) = index_key(def, v) {
                        map.entry(k).or_default().push(i);
                    }
                }
            }
            by_attr.insert(attr, map);
        }
        Self { by_attr }
    }

    /// Candidate positions; `None` means a full scan.
    fn candidates(&self, plan: &IndexPlan) -> Option<Vec<usize>> {
        match plan {
            IndexPlan::All => None,
            IndexPlan::Eq { attr, value } => {
                Some(self.by_attr.get(attr.as_str())?.get(value).cloned().unwrap_or_default())
            }
            // A prefix needs an ordered index; this hash index scans instead.
            IndexPlan::Prefix { .. } => None,
            IndexPlan::And(items) => items.iter().filter_map(|p| self.candidates(p)).min_by_key(Vec::len),
            IndexPlan::Or(items) => {
                let mut all = Vec::new();
                for p in items {
                    all.extend(self.candidates(p)?);
                }
                all.sort_unstable();
                all.dedup();
                Some(all)
            }
        }
    }
}

fn bench_filters(c: &mut Criterion) {
    let schemas = Schemas::standard();
    let users = users();
    let index = Index::build(&schemas, &users);

    let mut g = c.benchmark_group("filter_parse_compile");
    for (name, text) in FILTERS {
        g.bench_function(name, |b| {
            b.iter(|| Filter::parse(black_box(text)).unwrap().compile(&schemas, ResourceKind::User).unwrap())
        });
    }
    g.finish();

    let mut g = c.benchmark_group("filter_scan_100k_users");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for (name, text) in FILTERS {
        g.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, text| {
            b.iter(|| {
                let f = Filter::parse(text).unwrap().compile(&schemas, ResourceKind::User).unwrap();
                users.iter().filter(|u| f.matches(u)).count()
            })
        });
    }
    g.finish();

    let mut g = c.benchmark_group("filter_indexed_100k_users");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    for (name, text) in FILTERS {
        g.bench_with_input(BenchmarkId::from_parameter(name), &text, |b, text| {
            b.iter(|| {
                let f = Filter::parse(text).unwrap().compile(&schemas, ResourceKind::User).unwrap();
                match index.candidates(&f.plan()) {
                    Some(c) => c.into_iter().filter(|i| f.matches(&users[*i])).count(),
                    None => users.iter().filter(|u| f.matches(u)).count(),
                }
            })
        });
    }
    g.finish();
}

fn bench_patch(c: &mut Criterion) {
    let schemas = Schemas::standard();
    let user = users().swap_remove(42);
    let group = json!({"schemas": [scim::urn::GROUP], "id": "g1", "displayName": "Tour Guides"});
    let cases = [
        (
            "user_replace_three_paths",
            ResourceKind::User,
            &user,
            json!({"schemas": [scim::urn::PATCH_OP], "Operations": [
                {"op": "replace", "path": "displayName", "value": "Babs"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "babs@example.com"},
                {"op": "add", "path": "name.middleName", "value": "Jane"}
            ]}),
        ),
        (
            "user_entra_pathless_dotted",
            ResourceKind::User,
            &user,
            json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "Replace", "value": {
                "name.givenName": "Barb", "active": "False",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "42"
            }}]}),
        ),
        (
            "group_add_remove_members_delta",
            ResourceKind::Group,
            &group,
            json!({"schemas": [scim::urn::PATCH_OP], "Operations": [
                {"op": "add", "path": "members", "value": (0..10).map(|i| json!({"value": format!("m{i}")})).collect::<Vec<_>>()},
                {"op": "remove", "path": "members[value eq \"old-1\"]"},
                {"op": "Remove", "path": "members", "value": [{"value": "old-2"}, {"value": "old-3"}]}
            ]}),
        ),
    ];
    let mut g = c.benchmark_group("patch_parse_apply");
    for (name, kind, doc, body) in &cases {
        let text = body.to_string();
        g.bench_function(*name, |b| {
            b.iter(|| {
                PatchRequest::from_slice(black_box(text.as_bytes()))
                    .unwrap()
                    .apply(&schemas, *kind, doc, &NoMemberLookup)
                    .unwrap()
            })
        });
    }
    g.finish();
}

fn bench_projection_and_sort(c: &mut Criterion) {
    let schemas = Schemas::standard();
    let users = users();
    let default = Projection::default();
    let narrow = Projection::parse(Some("userName,name.givenName,emails.value"), None).unwrap();
    let excluded = Projection::parse(None, Some("emails,meta")).unwrap();

    let mut g = c.benchmark_group("projection_one_user");
    for (name, p) in [("default", &default), ("attributes", &narrow), ("excluded", &excluded)] {
        let bound = p.bind(&schemas, ResourceKind::User);
        g.bench_function(name, |b| b.iter(|| bound.apply(black_box(&users[7]))));
    }
    g.finish();

    let mut g = c.benchmark_group("projection_100k_users");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    let bound = narrow.bind(&schemas, ResourceKind::User);
    g.bench_function("attributes", |b| {
        b.iter(|| {
            for u in &users {
                black_box(bound.apply(u));
            }
        })
    });
    g.finish();

    let mut g = c.benchmark_group("sort_100k_users");
    g.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(6));
    let by_name = SortSpec::parse("userName", Some("descending")).unwrap().bind(&schemas, ResourceKind::User).unwrap();
    g.bench_function("userName_keys", |b| {
        b.iter(|| {
            let mut keys: Vec<_> = users.iter().map(|u| by_name.key(u)).collect();
            keys.sort_by(|a, b| by_name.compare_keys(a, b));
            keys.len()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    // Short runs: the machine is shared with other builds (see docs/benchmarks.md).
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(2));
    targets = bench_filters, bench_patch, bench_projection_and_sort
}
criterion_main!(benches);
