//! Limits answer with clear errors.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let mut options = Options::default();
    options.settings.limits.max_body_bytes = 2048;
    let app = spawn_app_with(options).await;
    let mut body = user_body("big.person");
    body["displayName"] = json!("x".repeat(4096));
    scim_error(app.post("/Users", &body).await, 413).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_count_over_the_maximum_is_lowered_to_it() {
    let mut options = Options::default();
    options.settings.limits.max_results = 3;
    options.settings.limits.default_count = 2;
    let app = spawn_app_with(options).await;
    let body: Value =
        app.scim(Method::GET, "/Users").query(&[("count", "500")]).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["itemsPerPage"], 3);
    let body: Value = app.get("/Users").await.json().await.unwrap();
    assert_eq!(body["itemsPerPage"], 2, "the default page size applies without count");
    let spc: Value = app.get("/ServiceProviderConfig").await.json().await.unwrap();
    assert_eq!(spc["filter"]["maxResults"], 3);
    app.shutdown().await;
}

#[tokio::test]
async fn a_filter_over_the_length_or_depth_limit_is_400_invalid_filter() {
    let mut options = Options::default();
    options.settings.limits.filter = scim::FilterLimits { max_length: 64, max_depth: 3 };
    let app = spawn_app_with(options).await;
    let long = format!("userName eq \"{}\"", "a".repeat(80));
    let res = app.scim(Method::GET, "/Users").query(&[("filter", long.as_str())]).send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidFilter");
    let deep = "((((userName eq \"a\"))))";
    let res = app.scim(Method::GET, "/Users").query(&[("filter", deep)]).send().await.unwrap();
    assert_eq!(scim_error(res, 400).await["scimType"], "invalidFilter");
    app.shutdown().await;
}

#[tokio::test]
async fn a_bulk_request_over_its_limits_is_413_and_nothing_runs() {
    let mut options = Options::default();
    options.settings.limits.bulk_max_operations = 2;
    let app = spawn_app_with(options).await;
    let ops: Vec<Value> = (0..3)
        .map(|i| json!({"method": "POST", "path": "/Users", "bulkId": format!("u{i}"), "data": user_body(&format!("bulk.limit{i}"))}))
        .collect();
    let body = json!({"schemas": [scim::urn::BULK_REQUEST], "Operations": ops});
    scim_error(app.post("/Bulk", &body).await, 413).await;
    let found: Value =
        test_support::json_of(app.scim(Method::GET, "/Users").query(&[("filter", "userName sw \"bulk.limit\"")])).await;
    assert_eq!(found["totalResults"], 0);
    app.shutdown().await;
}

#[tokio::test]
async fn a_projection_naming_more_attributes_than_its_bound_is_400_and_a_repeated_name_counts_once() {
    let app = spawn_app().await;
    let search = |attributes: Vec<&str>| json!({"schemas": [scim::urn::SEARCH_REQUEST], "filter": "displayName eq \"DBAs\"", "attributes": attributes});
    let res = app.post("/Groups/.search", &search(vec!["members.value"; 10_000])).await;
    let body = scim_error(res, 400).await;
    assert_eq!(body["scimType"], "invalidValue", "{body}");

    let once = app.post("/Groups/.search", &search(vec!["displayName", "members.value"])).await;
    assert_eq!(once.status(), 200);
    let once: Value = once.json().await.unwrap();
    let repeated = search(vec!["displayName", "members.value", "DisplayName", "members.value", "MEMBERS.VALUE"]);
    let repeated = app.post("/Groups/.search", &repeated).await;
    assert_eq!(repeated.status(), 200);
    let repeated: Value = repeated.json().await.unwrap();
    assert_eq!(repeated, once, "a list with repeats answers as the list without them");
    assert_eq!(once["totalResults"], 1);
    app.shutdown().await;
}
