//! Users of a directory domain (Active Directory): their name, password and existence are the
//! directory's, so renaming, re-passwording or deleting one is `400` with the reason, before any
//! call that would change Secret Server.

use crate::helpers::*;
use reqwest::{Method, Response};
use serde_json::{Value, json};

/// A connection that may set any user's password, so that only the directory rule refuses.
async fn connection(app: &TestApp) -> String {
    let body = json!({"id": "hr", "secretServer": "primary", "policies": {"passwordChange": "any"}});
    let res = app.admin(Method::POST, "/connections").json(&body).send().await.unwrap();
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    created["token"]["token"].as_str().unwrap().to_owned()
}

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Option<Value>) -> Response {
    let mut req = app.http.request(method, format!("{}/scim/v2{path}", app.base)).bearer_auth(token);
    if let Some(body) = body {
        req = req.header("content-type", SCIM).body(body.to_string());
    }
    req.send().await.unwrap()
}

fn replace(path: &str, value: Value) -> Value {
    json!({"schemas": [scim::urn::PATCH_OP], "Operations": [{"op": "replace", "path": path, "value": value}]})
}

#[tokio::test]
async fn a_directory_user_cannot_be_renamed_re_passworded_or_deleted_and_nothing_is_sent() {
    let app = spawn_app().await;
    let token = connection(&app).await;
    let ivan = app.find_one("/Users", "userName eq \"ivan.jones\"").await;
    let path = format!("/Users/{}", ivan["id"].as_str().unwrap());
    app.sim.clear_request_log();

    let password = call(&app, &token, Method::PATCH, &path, Some(replace("password", json!("N3w-Passw0rd!")))).await;
    let error = scim_error(password, 400).await;
    assert!(error["detail"].as_str().unwrap().contains("managed by its directory"), "{error}");
    let rename = call(&app, &token, Method::PATCH, &path, Some(replace("userName", json!("ivan.renamed")))).await;
    assert_eq!(scim_error(rename, 400).await["scimType"], "mutability");
    scim_error(call(&app, &token, Method::DELETE, &path, None).await, 400).await;

    let writes: Vec<_> =
        app.sim.request_log().into_iter().filter(|(m, p)| m != "GET" && !p.contains("/oauth2/")).collect();
    assert_eq!(writes, Vec::<(String, String)>::new(), "nothing was sent to change Secret Server");
    // Its other fields are the connector's to change as for any user.
    let res = call(&app, &token, Method::PATCH, &path, Some(replace("displayName", json!("Ivan J.")))).await;
    assert_eq!(res.status(), 200);
    app.shutdown().await;
}
