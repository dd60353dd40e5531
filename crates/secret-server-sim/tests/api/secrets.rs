//! `/api/v1/secrets`: metadata search, lookup, summary; the synthetic `GET /secrets/{id}`.

use crate::helpers::{TestSim, assert_error};
use reqwest::StatusCode;
use serde_json::json;

fn names(body: &serde_json::Value) -> Vec<String> {
    body["records"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn search_by_folder_with_and_without_sub_folders() {
    let t = TestSim::spawn().await;
    let it = t.folder_id("\\IT").await;
    let direct = t.ok(&format!("/secrets?filter.folderId={it}&take=100")).await;
    assert_eq!(names(&direct), vec!["svc-backup"]);
    let deep = t.ok(&format!("/secrets?filter.folderId={it}&filter.includeSubFolders=true&take=100")).await;
    assert_eq!(deep["total"], 7, "active secrets under \\IT: {deep}");
    let with_inactive = t
        .ok(&format!(
            "/secrets?filter.folderId={it}&filter.includeSubFolders=true&filter.includeInactive=true&take=100"
        ))
        .await;
    assert_eq!(with_inactive["total"], 8);
    let only_inactive = t.ok("/secrets?filter.includeInactive=true&filter.includeActive=false").await;
    assert_eq!(names(&only_inactive), vec!["Old VPN appliance"]);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn search_text_and_the_paging_prefix_work_as_clients_send_them() {
    let t = TestSim::spawn().await;
    let body = t.ok("/secrets?paging.filter.searchText=SQL-PROD&paging.take=30&paging.skip=0").await;
    assert_eq!(names(&body), vec!["sql-prod sa", "sql-prod reporting"]);
    assert_eq!(body["take"], 30);
    let by_template = t.ok("/secrets?filter.secretTemplateId=6007").await;
    assert_eq!(by_template["total"], 2);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn records_carry_metadata_and_never_field_values() {
    let t = TestSim::spawn().await;
    let body = t.ok("/secrets?filter.searchText=DC01").await;
    let record = &body["records"][0];
    assert_eq!(record["secretTemplateName"], "Windows Account");
    assert_eq!(record["active"], true);
    assert_eq!(record["inheritsPermissions"], true);
    assert!(record.get("items").is_none());
    assert!(record.get("extendedFields").is_none());
    let id = record["id"].as_i64().unwrap();
    let summary = t.ok(&format!("/secrets/{id}/summary")).await;
    assert_eq!(&summary, record);
    t.sim.shutdown().await;
}

#[tokio::test]
async fn lookup_returns_names_and_lookup_by_id_one() {
    let t = TestSim::spawn().await;
    let body = t.ok("/secrets/lookup?filter.searchText=web0").await;
    let values: Vec<_> = body["records"].as_array().unwrap().iter().map(|r| r["value"].clone()).collect();
    assert_eq!(values, vec![json!("web01 root"), json!("web02 deploy")]);
    let id = body["records"][0]["id"].as_i64().unwrap();
    assert_eq!(t.ok(&format!("/secrets/lookup/{id}")).await, json!({"id": id, "value": "web01 root"}));
    t.sim.shutdown().await;
}

#[tokio::test]
async fn unknown_secrets_are_secret_not_found() {
    let t = TestSim::spawn().await;
    for path in ["/secrets/999999/summary", "/secrets/lookup/999999", "/secrets/999999"] {
        let (status, body) = t.get(path).await;
        assert_error(status, &body, "API_SecretNotFound");
    }
    t.sim.shutdown().await;
}

#[tokio::test]
async fn get_secret_by_id_serves_synthetic_values_and_is_logged() {
    let t = TestSim::spawn().await;
    let id = t.secret_id("sql-prod sa").await;
    let body = t.ok(&format!("/secrets/{id}")).await;
    let items = body["items"].as_array().unwrap();
    assert!(items.iter().any(|i| i["slug"] == "password" && i["isPassword"] == true));
    assert!(items.iter().all(|i| i["itemValue"].as_str().unwrap().starts_with("synthetic-")));
    assert!(
        t.sim.request_log().iter().any(|(m, p)| m == "GET" && p == &format!("/SecretServer/api/v1/secrets/{id}")),
        "the request log shows the call"
    );
    t.sim.shutdown().await;
}

#[tokio::test]
async fn secrets_are_created_with_metadata_and_deleted_by_deactivation() {
    let t = TestSim::spawn().await;
    let folder = t.folder_id("\\Helpdesk").await;
    let (status, created) = t
        .post(
            "/secrets",
            json!({"name": "Kiosk admin", "folderId": folder, "secretTemplateId": 6001, "siteId": 1,
                   "items": [{"fieldName": "Password", "itemValue": "discarded"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{created}");
    assert_eq!(created["secretTemplateName"], "Windows Account");
    assert_eq!(created["inheritsPermissions"], true);
    let id = created["id"].as_i64().unwrap();
    let synthetic = t.ok(&format!("/secrets/{id}")).await;
    assert!(!synthetic.to_string().contains("discarded"), "field values are never stored");
    let (status, body) = t.post("/secrets", json!({"name": "x", "folderId": folder, "secretTemplateId": 12345})).await;
    assert_error(status, &body, "API_SecretTemplateNotFound");
    let (status, _) = t.delete(&format!("/secrets/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t.ok(&format!("/secrets/{id}/summary")).await["active"], false);
    assert_eq!(t.ok("/secrets?filter.searchText=kiosk").await["total"], 0);
    t.sim.shutdown().await;
}
