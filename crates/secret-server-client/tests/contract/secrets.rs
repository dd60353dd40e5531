//! Secrets, metadata only: search (by folder, subfolders, text, inactive), summary, lookup.

use crate::helpers::Harness;
use futures::TryStreamExt;
use secret_server_api::{Folder, Lookup, SecretSummary};
use secret_server_client::{FolderQuery, SecretQuery};

async fn folder_id(h: &Harness, name: &str) -> i64 {
    let folders: Vec<Folder> = h.client.search_folders(&FolderQuery::text(name)).try_collect().await.unwrap();
    folders.into_iter().find(|f| f.folder_name == name).unwrap_or_else(|| panic!("no folder {name}")).id
}

async fn secret_names(h: &Harness, query: &SecretQuery) -> Vec<String> {
    let secrets: Vec<SecretSummary> = h.client.search_secrets(query).try_collect().await.unwrap();
    let mut names: Vec<String> = secrets.into_iter().map(|s| s.name).collect();
    names.sort();
    names
}

#[tokio::test]
async fn search_secrets_in_a_folder_lists_its_active_secrets() {
    let h = Harness::demo().await;
    let network = folder_id(&h, "Network").await;
    assert_eq!(
        secret_names(&h, &SecretQuery::in_folder(network)).await,
        ["Firewall admin console", "core-switch enable"]
    );
    let with_inactive = SecretQuery { include_inactive: true, ..SecretQuery::in_folder(network) };
    assert!(secret_names(&h, &with_inactive).await.contains(&"Old VPN appliance".to_owned()));
    h.finish().await;
}

#[tokio::test]
async fn search_secrets_with_sub_folders_reaches_nested_folders() {
    let h = Harness::demo().await;
    let databases = folder_id(&h, "Databases").await;
    assert!(secret_names(&h, &SecretQuery::in_folder(databases)).await.is_empty());
    let nested = SecretQuery { include_sub_folders: true, ..SecretQuery::in_folder(databases) };
    assert_eq!(secret_names(&h, &nested).await, ["sql-prod reporting", "sql-prod sa", "sql-staging sa"]);
    let page = h.client.secrets_page(&nested, 0, 2).await.unwrap();
    assert_eq!((page.total, page.records.len(), page.has_next), (3, 2, true));
    h.finish().await;
}

#[tokio::test]
async fn search_secrets_by_text_and_summary_agree() {
    let h = Harness::demo().await;
    let found: Vec<SecretSummary> = h.client.search_secrets(&SecretQuery::text("web01")).try_collect().await.unwrap();
    assert_eq!(found.len(), 1);
    let summary = h.client.secret_summary(found[0].id).await.unwrap();
    assert_eq!((summary.id, summary.name.as_str()), (found[0].id, "web01 root"));
    assert_eq!(summary.folder_id, found[0].folder_id);
    assert_eq!(summary.secret_template_name, "Unix Account (SSH)");
    h.finish().await;
}

#[tokio::test]
async fn lookup_secrets_returns_ids_and_names() {
    let h = Harness::demo().await;
    let production = folder_id(&h, "Production").await;
    let mut lookups: Vec<Lookup> =
        h.client.lookup_secrets(&SecretQuery::in_folder(production)).try_collect().await.unwrap();
    lookups.sort_by(|a, b| a.value.cmp(&b.value));
    assert_eq!(lookups.iter().map(|l| l.value.as_str()).collect::<Vec<_>>(), ["sql-prod reporting", "sql-prod sa"]);
    assert!(lookups.iter().all(|l| l.id > 0));
    h.finish().await;
}

#[tokio::test]
async fn secret_summary_of_an_unknown_id_is_not_found() {
    let h = Harness::demo().await;
    assert!(h.client.secret_summary(777_777).await.unwrap_err().is_not_found());
    h.finish().await;
}
