//! The gateway is stateless: replicas on one Redis share connections, OAuth2 tokens and the queue.

use crate::helpers::*;
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

#[tokio::test]
async fn replicas_on_redis_accept_each_others_tokens_and_see_revocations() {
    let app = spawn_app_with(Options { redis: true, ..Options::default() }).await;
    let (replica, other) = app.spawn_replica().await;

    // An OAuth2 token issued by one replica authenticates at the other.
    let res =
        app.admin(Method::POST, "/connections/test/oauth-clients").json(&serde_json::json!({})).send().await.unwrap();
    let client: Value = res.json().await.unwrap();
    let (id, secret) = (client["clientId"].as_str().unwrap(), client["clientSecret"].as_str().unwrap());
    let token: Value = test_support::json_of(app.http.post(format!("{}/oauth2/token", app.base)).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id),
        ("client_secret", secret),
    ]))
    .await;
    let access = token["access_token"].as_str().unwrap();
    let res = app.http.get(format!("{other}/scim/v2/Users?count=1")).bearer_auth(access).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // A write through one replica (a job on the Redis queue) is read through the other.
    let res = app
        .http
        .post(format!("{other}/scim/v2/Users"))
        .bearer_auth(&app.token)
        .header("content-type", SCIM)
        .body(user_body("replica.person").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let created: Value = res.json().await.unwrap();
    let res = app.get(&format!("/Users/{}", created["id"].as_str().unwrap())).await;
    assert_eq!(res.status(), 200);

    // A token revoked through one replica stops working at the other within its cache TTL.
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    let token_id = view["credentials"]["bearerTokens"][0]["id"].as_str().unwrap().to_owned();
    let res = app.admin(Method::DELETE, &format!("/connections/test/tokens/{token_id}")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let mut status = 200;
    for _ in 0..50 {
        status = app
            .http
            .get(format!("{other}/scim/v2/Users?count=1"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if status == 401 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, 401, "the other replica still accepts a revoked token");
    replica.shutdown().await;
    app.shutdown().await;
}
