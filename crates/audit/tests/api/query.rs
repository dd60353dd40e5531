use crate::helpers::{at, call, change, record_n, spawn_app};
use audit_events::ChangeOutcome;
use proto::common::v1::ResourceType;

const T1: &str = "11111111111111111111111111111111";
const T2: &str = "22222222222222222222222222222222";
/// 2024-01-01T00:00:00Z
const JAN_1: i64 = 1_704_067_200;

fn with(mut event: proto::audit::v1::AuditEvent, hour: i64, trace_id: &str) -> proto::audit::v1::AuditEvent {
    event.occurred_at = at(JAN_1 + hour * 3600);
    event.trace_id = trace_id.into();
    event
}

#[tokio::test]
async fn records_are_found_by_every_filter() {
    let app = spawn_app().await;
    let events = [
        with(call(("c-okta", "okta"), "POST", "/scim/v2/Users", ResourceType::User, "u1", 201), 0, T1),
        with(call(("c-entra", "entra"), "GET", "/scim/v2/Users/{id}", ResourceType::User, "u2", 404), 1, T2),
        with(change("c-okta", ResourceType::User, "u1", "create", ChangeOutcome::Succeeded), 2, T1),
        with(change("c-entra", ResourceType::Group, "g1", "patch", ChangeOutcome::Failed), 3, T2),
        with(audit_events::admin_action("ops", "connection.update", "c-okta", "rotated a token"), 4, T2),
    ];
    for event in &events {
        app.publish(event).await;
    }
    app.wait_for_head(5).await;

    for (query, expected) in [
        ("", vec![1, 2, 3, 4, 5]),
        ("kind=scim_call", vec![1, 2]),
        ("kind=change", vec![3, 4]),
        ("kind=admin", vec![5]),
        ("connection_name=okta", vec![1]),
        ("connection=okta", vec![]),
        ("connection=c-okta", vec![1, 3, 5]),
        ("resource_type=Group", vec![4]),
        ("resource_type=user&resource_id=u1", vec![1, 3]),
        ("operation=create", vec![3]),
        ("method=get", vec![2]),
        ("status=404", vec![2]),
        ("status=2xx", vec![1]),
        ("status=failed", vec![4]),
        (&format!("trace_id={T1}"), vec![1, 3]),
        ("from=2024-01-01T01:00:00Z&to=2024-01-01T03:00:00Z", vec![2, 3]),
        ("from=2024-01-01T03:30:00%2B00:00", vec![5]),
        ("to=2024-01-01T00:00:00Z", vec![]),
        ("connection=c-entra&kind=change&status=failed", vec![4]),
    ] {
        assert_eq!(app.seqs(query).await, expected, "query {query:?}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_scim_call_shows_the_attributes_the_gateway_ignored_by_name() {
    let app = spawn_app().await;
    let mut event = with(call(("c-entra", "entra"), "POST", "/scim/v2/Users", ResourceType::User, "u1", 201), 0, T1);
    if let Some(proto::audit::v1::audit_event::Kind::ScimCall(call)) = &mut event.kind {
        call.ignored_attributes = vec!["shoeSize".into(), "members.displayName".into()];
    }
    app.publish(&event).await;
    app.publish(&with(call(("c-okta", "okta"), "GET", "/scim/v2/Users", ResourceType::User, "", 200), 1, T1)).await;
    app.wait_for_head(2).await;
    let records = app.get_json("/audit/v1/records?kind=scim_call").await;
    assert_eq!(
        records["records"][0]["event"]["scimCall"]["ignoredAttributes"],
        serde_json::json!(["shoeSize", "members.displayName"])
    );
    assert_eq!(records["records"][1]["event"]["scimCall"]["ignoredAttributes"], serde_json::json!([]));
    app.stop().await;
}

#[tokio::test]
async fn a_record_shows_its_columns_its_event_and_its_chain_links() {
    let app = spawn_app().await;
    app.publish(&with(call(("c-okta", "okta"), "POST", "/scim/v2/Users", ResourceType::User, "u1", 201), 0, T1)).await;
    app.wait_for_head(1).await;
    let record = app.get_json("/audit/v1/records/1").await;
    assert_eq!(record["seq"], 1);
    assert_eq!(record["kind"], "scim_call");
    assert_eq!(record["occurredAt"], "2024-01-01T00:00:00.000000Z");
    assert_eq!(record["connectionId"], "c-okta");
    assert_eq!(record["connectionName"], "okta");
    assert_eq!(record["method"], "POST");
    assert_eq!(record["route"], "/scim/v2/Users");
    assert_eq!(record["resourceType"], "User");
    assert_eq!(record["status"], 201);
    assert_eq!(record["latencyMicros"], 1234);
    assert_eq!(record["clientAddress"], "203.0.113.7");
    assert_eq!(record["traceId"], T1);
    assert_eq!(record["event"]["scimCall"]["requestId"], "req-1");
    assert_eq!(record["prevHash"], audit::GENESIS_HASH);
    assert_eq!(record["hash"].as_str().unwrap().len(), 64);
    app.stop().await;
}

#[tokio::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let app = spawn_app().await;
    record_n(&app, 25).await;
    let mut seen = Vec::new();
    let mut query = "/audit/v1/records?limit=10&kind=scim_call".to_owned();
    let mut pages = 0;
    loop {
        let page = app.get_json(&query).await;
        pages += 1;
        seen.extend(page["records"].as_array().unwrap().iter().map(|r| r["seq"].as_u64().unwrap()));
        match page["nextCursor"].as_str() {
            Some(cursor) => query = format!("/audit/v1/records?limit=10&kind=scim_call&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
    let default_page = app.get_json("/audit/v1/records").await;
    assert_eq!(default_page["records"].as_array().unwrap().len(), 25);
    assert!(default_page["nextCursor"].is_null());
    app.stop().await;
}

#[tokio::test]
async fn bad_filters_get_a_400_that_says_what_is_wrong() {
    let app = spawn_app().await;
    for (query, needle) in [
        ("from=last-week", "RFC 3339"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("cursor=not-ours", "cursor"),
        ("kind=everything", "kind"),
        ("status=teapot", "status"),
        ("trace_id=xyz", "trace_id"),
        ("resource_type=Printer", "resource_type"),
        ("conection=okta", "unknown query parameter"),
    ] {
        let response = app.get(&format!("/audit/v1/records?{query}")).await;
        assert_eq!(response.status(), 400, "{query}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_argument");
        assert!(body["detail"].as_str().unwrap().contains(needle), "{query}: {body}");
    }
    let response = app.get("/audit/v1/export?kind=nope").await;
    assert_eq!(response.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn an_unknown_or_malformed_sequence_number_is_404_or_400() {
    let app = spawn_app().await;
    record_n(&app, 1).await;
    let missing = app.get("/audit/v1/records/99").await;
    assert_eq!(missing.status(), 404);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    assert_eq!(app.get("/audit/v1/records/abc").await.status(), 400);
    assert_eq!(app.get("/audit/v1/records/-1").await.status(), 400);
    app.stop().await;
}
