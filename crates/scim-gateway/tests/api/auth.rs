//! Every route needs credentials; bearer tokens, Basic and their revocation.

use crate::helpers::*;
use reqwest::Method;
use scim::ResourceKind;

fn scim_routes() -> Vec<(Method, String)> {
    let mut routes: Vec<(Method, String)> = vec![
        (Method::GET, "/ServiceProviderConfig".into()),
        (Method::GET, "/Schemas".into()),
        (Method::GET, format!("/Schemas/{}", scim::urn::USER)),
        (Method::GET, "/ResourceTypes".into()),
        (Method::GET, "/ResourceTypes/User".into()),
        (Method::GET, "/Me".into()),
        (Method::POST, "/.search".into()),
        (Method::POST, "/Bulk".into()),
        (Method::GET, "/NoSuchThing".into()),
    ];
    for kind in ResourceKind::ALL {
        let e = kind.endpoint();
        routes.push((Method::GET, format!("/{e}")));
        routes.push((Method::POST, format!("/{e}")));
        routes.push((Method::POST, format!("/{e}/.search")));
        for method in [Method::GET, Method::PUT, Method::PATCH, Method::DELETE] {
            routes.push((method, format!("/{e}/1")));
        }
    }
    routes
}

fn admin_routes() -> Vec<(Method, &'static str)> {
    vec![
        (Method::GET, "/connections"),
        (Method::POST, "/connections"),
        (Method::GET, "/connections/test"),
        (Method::PATCH, "/connections/test"),
        (Method::DELETE, "/connections/test"),
        (Method::POST, "/connections/test/tokens"),
        (Method::DELETE, "/connections/test/tokens/tok_1"),
        (Method::POST, "/connections/test/oauth-clients"),
        (Method::DELETE, "/connections/test/oauth-clients/client_1"),
        (Method::PUT, "/connections/test/basic"),
        (Method::DELETE, "/connections/test/basic"),
        (Method::POST, "/connections/test/disable"),
        (Method::POST, "/connections/test/enable"),
    ]
}

#[tokio::test]
async fn every_scim_route_answers_401_without_credentials() {
    let app = spawn_app().await;
    for (method, path) in scim_routes() {
        let res = app.anonymous(method.clone(), &path).header("content-type", SCIM).body("{}").send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        assert!(res.headers().contains_key("www-authenticate"), "{method} {path}");
        scim_error(res, 401).await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn every_scim_route_answers_401_with_a_wrong_token() {
    let app = spawn_app().await;
    for (method, path) in scim_routes() {
        let res = app
            .http
            .request(method.clone(), format!("{}/scim/v2{path}", app.base))
            .bearer_auth("scimc_not-a-real-token")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn every_admin_route_answers_401_without_the_admin_token() {
    let app = spawn_app().await;
    for (method, path) in admin_routes() {
        let url = format!("{}/admin/v1{path}", app.base);
        let res = app.http.request(method.clone(), &url).send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {path}");
        // A connection's own token is not an admin token.
        let res = app.http.request(method.clone(), &url).bearer_auth(&app.token).send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {path} with a SCIM token");
    }
    app.shutdown().await;
}

#[tokio::test]
async fn health_endpoints_are_open_by_design() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let res = app.http.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}: {}", res.text().await.unwrap());
    }
    app.shutdown().await;
}

#[tokio::test]
async fn a_revoked_token_stops_working_at_once() {
    let app = spawn_app().await;
    assert_eq!(app.get("/Users?count=1").await.status(), 200);
    let view: serde_json::Value =
        app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    let token_id = view["credentials"]["bearerTokens"][0]["id"].as_str().unwrap().to_owned();
    let res = app.admin(Method::DELETE, &format!("/connections/test/tokens/{token_id}")).send().await.unwrap();
    assert_eq!(res.status(), 204);
    scim_error(app.get("/Users?count=1").await, 401).await;
    app.shutdown().await;
}

#[tokio::test]
async fn a_disabled_connection_is_refused_until_enabled_again() {
    let app = spawn_app().await;
    assert_eq!(app.admin(Method::POST, "/connections/test/disable").send().await.unwrap().status(), 200);
    scim_error(app.get("/Users?count=1").await, 401).await;
    assert_eq!(app.admin(Method::POST, "/connections/test/enable").send().await.unwrap().status(), 200);
    assert_eq!(app.get("/Users?count=1").await.status(), 200);
    app.shutdown().await;
}

#[tokio::test]
async fn http_basic_authenticates_once_set_and_a_wrong_password_is_401() {
    let app = spawn_app().await;
    let res = app
        .admin(Method::PUT, "/connections/test/basic")
        .json(&serde_json::json!({"username": "okta-sync", "password": "a long basic password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let url = format!("{}/scim/v2/Users?count=1", app.base);
    let res = app.http.get(&url).basic_auth("okta-sync", Some("a long basic password")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.http.get(&url).basic_auth("okta-sync", Some("wrong password!!")).send().await.unwrap();
    scim_error(res, 401).await;
    app.shutdown().await;
}
