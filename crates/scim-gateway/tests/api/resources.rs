//! CRUD on every resource type through the whole stack.

use crate::helpers::*;
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn a_created_user_is_201_with_location_etag_and_meta_location() {
    let app = spawn_app().await;
    let res = app.post("/Users", &user_body("new.person")).await;
    assert_eq!(res.status(), 201);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with(SCIM));
    let body: Value = res.json().await.unwrap();
    let id = body["id"].as_str().unwrap();
    assert_eq!(location, format!("{}/scim/v2/Users/{id}", app.base));
    assert_eq!(body["meta"]["location"], location);
    assert_eq!(body["meta"]["version"], etag);
    assert_eq!(body["userName"], "new.person");
    assert!(body.get("password").is_none(), "password is never returned");

    let res = app.get(&format!("/Users/{id}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["etag"].to_str().unwrap(), etag);
    app.shutdown().await;
}

#[tokio::test]
async fn a_user_can_be_replaced_patched_and_deleted() {
    let app = spawn_app().await;
    let user = app.create_user("crud.person").await;
    let id = user["id"].as_str().unwrap();

    let mut replacement = user_body("crud.person");
    replacement["displayName"] = json!("Replaced Name");
    replacement.as_object_mut().unwrap().remove("password");
    let res = app.put(&format!("/Users/{id}"), &replacement).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["displayName"], "Replaced Name");

    let patch = json!({"schemas": [scim::urn::PATCH_OP],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Patched Name"}]});
    let res = app.patch(&format!("/Users/{id}"), &patch).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["displayName"], "Patched Name");

    let res = app.delete(&format!("/Users/{id}")).await;
    assert_eq!(res.status(), 204);
    scim_error(app.get(&format!("/Users/{id}")).await, 404).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_duplicate_user_name_is_409_uniqueness() {
    let app = spawn_app().await;
    app.create_user("twice.person").await;
    let body = scim_error(app.post("/Users", &user_body("twice.person")).await, 409).await;
    assert_eq!(body["scimType"], "uniqueness");
    app.shutdown().await;
}

#[tokio::test]
async fn an_invalid_user_is_400_and_nothing_is_created() {
    let app = spawn_app().await;
    let body =
        scim_error(app.post("/Users", &json!({"schemas": [scim::urn::USER], "displayName": "No Name"})).await, 400)
            .await;
    assert_eq!(body["scimType"], "invalidValue");
    let body = scim_error(app.post("/Users", &json!({"userName": "x", "active": "maybe"})).await, 400).await;
    assert_eq!(body["scimType"], "invalidValue");
    app.shutdown().await;
}

#[tokio::test]
async fn lists_page_with_stable_order_and_count_zero_returns_only_the_total() {
    let app = spawn_app().await;
    let res = app.scim(Method::GET, "/Users").query(&[("count", "0")]).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let total = body["totalResults"].as_u64().unwrap();
    assert!(total >= 5, "{body}");
    assert!(body["Resources"].as_array().is_none_or(|r| r.is_empty()), "{body}");

    let mut seen = Vec::new();
    let mut start = 1;
    loop {
        let res = app
            .scim(Method::GET, "/Users")
            .query(&[("startIndex", start.to_string()), ("count", "2".to_owned())])
            .send()
            .await
            .unwrap();
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["startIndex"], start);
        let page = body["Resources"].as_array().cloned().unwrap_or_default();
        if page.is_empty() {
            break;
        }
        seen.extend(page.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        start += 2;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "no user appears on two pages");
    assert_eq!(seen.len() as u64, total);
    app.shutdown().await;
}

#[tokio::test]
async fn cursor_paging_walks_every_user_once() {
    let app = spawn_app().await;
    let mut cursor = String::new();
    let mut seen = Vec::new();
    for _ in 0..50 {
        let res =
            app.scim(Method::GET, "/Users").query(&[("cursor", cursor.as_str()), ("count", "3")]).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert!(body.get("startIndex").is_none());
        seen.extend(body["Resources"].as_array().unwrap().iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match body["nextCursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => {
                assert_eq!(seen.len() as u64, body["totalResults"].as_u64().unwrap());
                app.shutdown().await;
                return;
            }
        }
    }
    panic!("cursor paging never ended");
}

#[tokio::test]
async fn a_filtered_sorted_projected_list_returns_only_what_was_asked() {
    let app = spawn_app().await;
    let res = app
        .scim(Method::GET, "/Users")
        .query(&[
            ("filter", "userName sw \"a\" or userName sw \"b\""),
            ("sortBy", "userName"),
            ("sortOrder", "descending"),
            ("attributes", "userName"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    let names: Vec<&str> =
        body["Resources"].as_array().unwrap().iter().map(|u| u["userName"].as_str().unwrap()).collect();
    assert_eq!(names, ["bob.chen", "alice.martin", "admin"]);
    let first = &body["Resources"][0];
    assert!(first.get("emails").is_none(), "projection leaves out the rest: {first}");
    assert!(first.get("id").is_some(), "id is always returned");
    app.shutdown().await;
}

#[tokio::test]
async fn search_by_post_works_at_the_root_and_per_type() {
    let app = spawn_app().await;
    let body = json!({"schemas": [scim::urn::SEARCH_REQUEST], "filter": "displayName eq \"DBAs\"", "startIndex": 1, "count": 10});
    let res = app.post("/Groups/.search", &body).await;
    assert_eq!(res.status(), 200);
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["totalResults"], 1);
    assert_eq!(list["Resources"][0]["displayName"], "DBAs");

    let body = json!({"schemas": [scim::urn::SEARCH_REQUEST], "filter": "displayName eq \"Alice Martin\" or displayName eq \"DBAs\""});
    let res = app.post("/.search", &body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let list: Value = res.json().await.unwrap();
    assert_eq!(list["totalResults"], 2, "{list}");
    app.shutdown().await;
}

#[tokio::test]
async fn the_pam_resource_types_are_listed_and_read() {
    let app = spawn_app().await;
    for endpoint in ["/Containers", "/ContainerPermissions", "/PrivilegedData", "/PrivilegedDataPermissions"] {
        let res = app.get(endpoint).await;
        assert_eq!(res.status(), 200, "{endpoint}");
        let body: Value = res.json().await.unwrap();
        assert!(body["totalResults"].as_u64().unwrap() > 0, "{endpoint}: {body}");
        let id = body["Resources"][0]["id"].as_str().unwrap().to_owned();
        let res = app.get(&format!("{endpoint}/{id}")).await;
        assert_eq!(res.status(), 200, "{endpoint}/{id}");
        assert!(res.headers().contains_key("etag"));
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_group_patch_answer_leaves_the_members_out_only_when_the_request_excludes_them() {
    let app = spawn_app().await;
    let id_of = |v: Value| v["id"].as_str().unwrap().to_owned();
    let alice = id_of(app.find_one("/Users", "userName eq \"alice.martin\"").await);
    let bob = id_of(app.find_one("/Users", "userName eq \"bob.chen\"").await);
    let body = json!({"schemas": [scim::urn::GROUP], "displayName": "Answers", "members": [{"value": alice}]});
    let res = app.post("/Groups", &body).await;
    assert_eq!(res.status(), 201);
    let group = id_of(res.json().await.unwrap());
    let add = |member: &str| json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": member}]}]});

    let res = app.patch(&format!("/Groups/{group}?excludedAttributes=members"), &add(&bob)).await;
    assert_eq!(res.status(), 200);
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["displayName"], "Answers");
    assert!(answer.get("members").is_none(), "{answer}");

    let res = app.patch(&format!("/Groups/{group}"), &add(&alice)).await;
    let answer: Value = res.json().await.unwrap();
    assert_eq!(answer["members"].as_array().map(Vec::len), Some(2), "without a projection the members are there");
    app.shutdown().await;
}
