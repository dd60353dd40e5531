//! OAuth2 client credentials at `/oauth2/token`.

use crate::helpers::*;
use reqwest::Method;
use serde_json::Value;

async fn register_client(app: &TestApp) -> (String, String) {
    let res = app
        .admin(Method::POST, "/connections/test/oauth-clients")
        .json(&serde_json::json!({"tokenTtlSeconds": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert!(body["tokenEndpoint"].as_str().unwrap().ends_with("/oauth2/token"));
    (body["clientId"].as_str().unwrap().to_owned(), body["clientSecret"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn client_credentials_in_the_body_get_a_short_lived_token_that_authenticates() {
    let app = spawn_app().await;
    let (id, secret) = register_client(&app).await;
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.base))
        .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", &secret)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 60);
    let token = body["access_token"].as_str().unwrap();
    let res = app.http.get(format!("{}/scim/v2/Users?count=1", app.base)).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn client_credentials_with_basic_work_too() {
    let app = spawn_app().await;
    let (id, secret) = register_client(&app).await;
    let res = app
        .http
        .post(format!("{}/oauth2/token", app.base))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc_6749() {
    let app = spawn_app().await;
    let (id, _) = register_client(&app).await;
    let url = format!("{}/oauth2/token", app.base);
    let res = app
        .http
        .post(&url)
        .form(&[("grant_type", "client_credentials"), ("client_id", &id), ("client_secret", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");
    let res = app.http.post(&url).form(&[("grant_type", "password"), ("username", "a")]).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unsupported_grant_type");
    let res = app.http.post(&url).form(&[("client_id", "x")]).send().await.unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request");
    let res = app.http.post(&url).json(&serde_json::json!({"grant_type": "client_credentials"})).send().await.unwrap();
    assert_eq!(res.status(), 400);
    app.shutdown().await;
}

#[tokio::test]
async fn removing_the_client_revokes_its_access_tokens() {
    let app = spawn_app().await;
    let (id, secret) = register_client(&app).await;
    let body: Value = test_support::json_of(app.http.post(format!("{}/oauth2/token", app.base)).form(&[
        ("grant_type", "client_credentials"),
        ("client_id", &id),
        ("client_secret", &secret),
    ]))
    .await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let res = app.admin(Method::DELETE, &format!("/connections/test/oauth-clients/{id}")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.http.get(format!("{}/scim/v2/Users", app.base)).bearer_auth(&token).send().await.unwrap();
    assert_eq!(res.status(), 401);
    app.shutdown().await;
}
