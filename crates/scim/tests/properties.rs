//! Property tests: printing a parsed filter or PATCH path and parsing it again gives the same tree;
//! the parsers are total (an error, never a panic); an index plan never loses a matching resource.

use proptest::prelude::*;
use scim::filter::{CompValue, CompareOp, IndexPlan, index_key};
use scim::{AttrPath, Filter, PatchPath, ResourceKind, Schemas, ScimType};
use serde_json::{Number, Value, json};

const URNS: [&str; 3] = [
    "urn:ietf:params:scim:schemas:core:2.0:User",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
    "urn:ietf:params:scim:schemas:pam:1.0:LinkedObject",
];

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z][a-zA-Z0-9_-]{0,10}",
        Just("$ref".to_owned()),
        // Keywords are valid attribute names; the printer and parser must not confuse them.
        prop::sample::select(vec!["and", "or", "not", "pr", "eq", "true", "null", "Value"]).prop_map(str::to_owned),
    ]
}

fn simple_path() -> impl Strategy<Value = AttrPath> {
    name().prop_map(AttrPath::new)
}

fn attr_path() -> impl Strategy<Value = AttrPath> {
    (prop::option::of(prop::sample::select(URNS.to_vec())), name(), prop::option::of(name()))
        .prop_map(|(urn, name, sub)| AttrPath { urn: urn.map(str::to_owned), name, sub })
}

fn comp_value() -> impl Strategy<Value = CompValue> {
    prop_oneof![
        Just(CompValue::Null),
        any::<bool>().prop_map(CompValue::Bool),
        any::<i64>().prop_map(|i| CompValue::Number(Number::from(i))),
        any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(CompValue::Number)),
        any::<String>().prop_map(CompValue::String),
    ]
}

fn op() -> impl Strategy<Value = CompareOp> {
    prop::sample::select(CompareOp::ALL.to_vec())
}

fn test_on(path: impl Strategy<Value = AttrPath>) -> impl Strategy<Value = Filter> {
    prop_oneof![
        (path, op(), comp_value()).prop_map(|(p, o, v)| Filter::Compare { path: p, op: o, value: v }),
        attr_path().prop_map(Filter::Present),
    ]
}

/// Filters without value paths (what may appear inside brackets).
fn inner_filter() -> impl Strategy<Value = Filter> {
    test_on(attr_path()).prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn value_path() -> impl Strategy<Value = Filter> {
    (
        (prop::option::of(prop::sample::select(URNS.to_vec())), name()),
        inner_filter(),
        prop::option::of(prop_oneof![
            (simple_path(), op(), comp_value()).prop_map(|(p, o, v)| Filter::Compare { path: p, op: o, value: v }),
            simple_path().prop_map(Filter::Present),
        ]),
    )
        .prop_map(|((urn, name), filter, then)| Filter::ValuePath {
            path: AttrPath { urn: urn.map(str::to_owned), name, sub: None },
            filter: Box::new(filter),
            then: then.map(Box::new),
        })
}

fn filter() -> impl Strategy<Value = Filter> {
    prop_oneof![3 => test_on(attr_path()), 1 => value_path()].prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn patch_path() -> impl Strategy<Value = PatchPath> {
    prop_oneof![
        attr_path().prop_map(|attr| PatchPath { attr, filter: None, sub: None }),
        ((prop::option::of(prop::sample::select(URNS.to_vec())), name()), inner_filter(), prop::option::of(name()))
            .prop_map(|((urn, name), filter, sub)| PatchPath {
                attr: AttrPath { urn: urn.map(str::to_owned), name, sub: None },
                filter: Some(filter),
                sub,
            }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_printed_filter_parses_back_to_the_same_filter(f in filter()) {
        let printed = f.to_string();
        let parsed = Filter::parse(&printed);
        prop_assert_eq!(parsed.as_ref(), Ok(&f), "printed as {}", printed);
    }

    #[test]
    fn a_printed_patch_path_parses_back_to_the_same_path(p in patch_path()) {
        let printed = p.to_string();
        let parsed = PatchPath::parse(&printed);
        prop_assert_eq!(parsed.as_ref(), Ok(&p), "printed as {}", printed);
    }

    #[test]
    fn the_filter_parser_never_panics_and_only_says_invalid_filter(text in ".{0,200}") {
        if let Err(e) = Filter::parse(&text) {
            prop_assert_eq!(e.scim_type, Some(ScimType::InvalidFilter));
        }
    }

    #[test]
    fn filter_like_text_is_parsed_or_rejected_cleanly(
        text in r#"([ ()\[\].]|eq|ne|co|pr|and|or|not|"[a-z]*"|[a-z]{1,6}|-?[0-9]{1,3}(\.[0-9])?|urn:x:y|true|null){0,25}"#
    ) {
        let schemas = Schemas::standard();
        match Filter::parse(&text) {
            Ok(f) => {
                let again = Filter::parse(&f.to_string());
                prop_assert_eq!(again.as_ref(), Ok(&f));
                if let Ok(c) = f.compile(&schemas, ResourceKind::User) {
                    let _ = c.matches(&json!({"userName": "a", "emails": [{"value": "x"}]}));
                    let _ = c.plan();
                }
            }
            Err(e) => prop_assert_eq!(e.scim_type, Some(ScimType::InvalidFilter)),
        }
    }

    #[test]
    fn the_patch_path_parser_never_panics_and_only_says_invalid_path(text in ".{0,200}") {
        if let Err(e) = PatchPath::parse(&text) {
            prop_assert_eq!(e.scim_type, Some(ScimType::InvalidPath));
        }
    }
}

// ---- index plans are supersets ----

fn user_doc() -> impl Strategy<Value = Value> {
    let word = prop::sample::select(vec!["Ann", "ann", "Bob", "bo", "ANNA", "b@x.com", "A@X.com", "work", "home"]);
    (
        prop::option::of(word.clone()),
        prop::option::of(word.clone()),
        prop::option::of(any::<bool>()),
        prop::collection::vec(
            (word.clone(), prop::option::of(prop::sample::select(vec!["work", "home", "WORK"]))),
            0..3,
        ),
        prop::option::of(word),
    )
        .prop_map(|(user_name, external_id, active, emails, title)| {
            let mut doc = serde_json::Map::new();
            if let Some(u) = user_name {
                doc.insert("userName".into(), json!(u));
            }
            if let Some(e) = external_id {
                doc.insert("externalId".into(), json!(e));
            }
            if let Some(a) = active {
                doc.insert("active".into(), json!(a));
            }
            if let Some(t) = title {
                doc.insert("title".into(), json!(t));
            }
            let emails: Vec<Value> = emails
                .into_iter()
                .map(|(v, t)| match t {
                    Some(t) => json!({"value": v, "type": t}),
                    None => json!({"value": v}),
                })
                .collect();
            if !emails.is_empty() {
                doc.insert("emails".into(), Value::Array(emails));
            }
            Value::Object(doc)
        })
}

fn user_filter() -> impl Strategy<Value = Filter> {
    let paths = prop::sample::select(vec!["userName", "externalId", "title", "emails", "emails.value", "emails.type"]);
    let value = prop::sample::select(vec!["ann", "Ann", "b", "A@x.com", "work", "a", ""]);
    let ops = prop::sample::select(vec![CompareOp::Eq, CompareOp::Ne, CompareOp::Sw, CompareOp::Co, CompareOp::Gt]);
    let leaf = prop_oneof![
        4 => (paths.clone(), ops, value.clone()).prop_map(|(p, o, v)| Filter::Compare {
            path: AttrPath::parse(p).unwrap(), op: o, value: CompValue::String(v.to_owned())
        }),
        1 => any::<bool>().prop_map(|b| Filter::Compare { path: AttrPath::new("active"), op: CompareOp::Eq, value: CompValue::Bool(b) }),
        1 => paths.prop_map(|p| Filter::Present(AttrPath::parse(p).unwrap())),
        1 => (prop::sample::select(vec!["work", "home"]), value).prop_map(|(t, v)| Filter::ValuePath {
            path: AttrPath::new("emails"),
            filter: Box::new(Filter::Compare { path: AttrPath::new("type"), op: CompareOp::Eq, value: CompValue::String(t.into()) }),
            then: Some(Box::new(Filter::Compare { path: AttrPath::new("value"), op: CompareOp::Sw, value: CompValue::String(v.into()) })),
        }),
    ];
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Filter::Or),
            inner.prop_map(|f| Filter::Not(Box::new(f))),
        ]
    })
}

fn values_at<'v>(doc: &'v Value, path: &str) -> Vec<&'v Value> {
    let (attr, sub) = match path.split_once('.') {
        Some((a, s)) => (a, Some(s)),
        None => (path, None),
    };
    let Some(v) = doc.get(attr) else { return vec![] };
    let items: Vec<&Value> = match v {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    match sub {
        None => items,
        Some(s) => items.into_iter().filter_map(|i| i.get(s)).collect(),
    }
}

fn admits(plan: &IndexPlan, doc: &Value, schemas: &Schemas) -> bool {
    let keys = |attr: &str| {
        let def = schemas.attribute(ResourceKind::User, attr).unwrap().leaf();
        values_at(doc, attr).into_iter().filter_map(|v| index_key(def, v)).collect::<Vec<_>>()
    };
    match plan {
        IndexPlan::All => true,
        IndexPlan::Eq { attr, value } => keys(attr).contains(value),
        IndexPlan::Prefix { attr, prefix } => keys(attr).iter().any(|k| k.starts_with(prefix.as_str())),
        IndexPlan::And(items) => items.iter().all(|p| admits(p, doc, schemas)),
        IndexPlan::Or(items) => items.iter().any(|p| admits(p, doc, schemas)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn an_index_plan_admits_every_matching_resource(f in user_filter(), docs in prop::collection::vec(user_doc(), 1..8)) {
        let schemas = Schemas::standard();
        let compiled = f.compile(&schemas, ResourceKind::User).unwrap();
        let plan = compiled.plan();
        for doc in &docs {
            if compiled.matches(doc) {
                prop_assert!(admits(&plan, doc, &schemas), "filter {} plan {:?} misses {}", f, plan, doc);
            }
        }
    }
}

// ---- dateTime comparisons agree with instant order, whatever the spelling ----

fn spell(t: time::OffsetDateTime, style: u8) -> String {
    use time::format_description::well_known::Rfc3339;
    match style {
        0 => t.format(&Rfc3339).unwrap(),
        1 => t.to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap()).format(&Rfc3339).unwrap(),
        _ => (t + time::Duration::milliseconds(250)).format(&Rfc3339).unwrap(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn date_time_filters_agree_with_instant_order(
        a in 0i64..4_000_000_000,
        b in 0i64..4_000_000_000,
        near in any::<bool>(),
        style_a in 0u8..3,
        style_b in 0u8..3,
        op in prop::sample::select(vec![CompareOp::Eq, CompareOp::Gt, CompareOp::Ge, CompareOp::Lt, CompareOp::Le]),
    ) {
        let b = if near { a + (b % 3) - 1 } else { b };
        let ta = time::OffsetDateTime::from_unix_timestamp(a).unwrap();
        let tb = time::OffsetDateTime::from_unix_timestamp(b).unwrap();
        let (sa, sb) = (spell(ta, style_a), spell(tb, style_b));
        let (ia, ib) = (
            time::OffsetDateTime::parse(&sa, &time::format_description::well_known::Rfc3339).unwrap(),
            time::OffsetDateTime::parse(&sb, &time::format_description::well_known::Rfc3339).unwrap(),
        );
        let expected = match op {
            CompareOp::Eq => ia == ib,
            CompareOp::Gt => ia > ib,
            CompareOp::Ge => ia >= ib,
            CompareOp::Lt => ia < ib,
            _ => ia <= ib,
        };
        let filter = Filter::Compare { path: AttrPath::with_sub("meta", "lastModified"), op, value: CompValue::String(sb.clone()) };
        let compiled = filter.compile(&Schemas::standard(), ResourceKind::User).unwrap();
        prop_assert_eq!(compiled.matches(&json!({"meta": {"lastModified": sa}})), expected, "{}", filter);
    }
}
