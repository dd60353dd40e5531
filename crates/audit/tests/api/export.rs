use crate::helpers::{call, change, record_n, spawn_app};
use audit_events::ChangeOutcome;
use proto::common::v1::ResourceType;

fn parse_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines().map(|line| serde_json::from_str(line).expect("each line is one JSON record")).collect()
}

#[tokio::test]
async fn export_streams_json_lines_with_the_same_filters_as_queries() {
    let app = spawn_app().await;
    app.publish(&call(("c1", "okta"), "POST", "/scim/v2/Users", ResourceType::User, "u1", 201)).await;
    app.publish(&change("c1", ResourceType::User, "u1", "create", ChangeOutcome::Succeeded)).await;
    app.publish(&call(("c2", "entra"), "GET", "/scim/v2/Groups", ResourceType::Group, "", 200)).await;
    app.wait_for_head(3).await;

    let response = app.get("/audit/v1/export?kind=scim_call").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let lines = parse_lines(&response.text().await.unwrap());
    assert_eq!(lines.iter().map(|l| l["seq"].as_u64().unwrap()).collect::<Vec<_>>(), vec![1, 3]);

    let all = parse_lines(&app.get("/audit/v1/export").await.text().await.unwrap());
    let listed = app.get_json("/audit/v1/records").await;
    assert_eq!(serde_json::Value::Array(all), listed["records"], "export and query agree record for record");
    app.stop().await;
}

#[tokio::test]
async fn export_of_more_records_than_one_chunk_is_complete_and_in_order() {
    let app = spawn_app().await;
    record_n(&app, 2_300).await;
    let lines = parse_lines(&app.get("/audit/v1/export").await.text().await.unwrap());
    assert_eq!(lines.len(), 2_300);
    assert!(lines.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));

    let mut file = Vec::new();
    let written = audit::export(&app.db_path(), &audit::RecordFilter::default(), &mut file).unwrap();
    assert_eq!(written, 2_300);
    assert_eq!(parse_lines(std::str::from_utf8(&file).unwrap()).len(), 2_300);
    app.stop().await;
}
