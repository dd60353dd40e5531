//! A connection that accepts Microsoft Entra ID's own bearer JWTs: each checked against its
//! issuer's keys (a JWKS served here over HTTPS by a test CA), and its issuer, audience, times and
//! tenant; every token that does not hold is `401`.

use crate::helpers::*;
use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use parking_lot::Mutex;
use reqwest::Method;
use rsa::pkcs1v15::SigningKey;
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, rand_core::OsRng};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

/// A signing key and the id it is published under.
struct Key {
    kid: &'static str,
    private: RsaPrivateKey,
}

impl Key {
    fn new(kid: &'static str) -> Self {
        Self { kid, private: RsaPrivateKey::new(&mut OsRng, 2048).expect("an RSA key") }
    }

    fn jwk(&self) -> Value {
        let public = self.private.to_public_key();
        json!({"kty": "RSA", "use": "sig", "kid": self.kid,
               "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
               "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be())})
    }

    /// A token with `header` fields over the defaults and `claims`, signed with this key.
    fn sign(&self, header: Value, claims: &Value) -> String {
        let mut head = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        head.as_object_mut().unwrap().extend(header.as_object().unwrap().clone());
        let signed =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(head.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = SigningKey::<Sha256>::new(self.private.clone()).sign(signed.as_bytes()).to_vec();
        format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The claims Entra ID puts in the token it sends a non-gallery SCIM application.
fn entra_claims() -> Value {
    json!({
        "iss": format!("https://sts.windows.net/{TENANT}/"),
        "aud": connections::ENTRA_SCIM_AUDIENCE,
        "tid": TENANT,
        "appid": "cccccccc-0000-0000-0000-000000000000",
        "iat": now() - 10, "nbf": now() - 10, "exp": now() + 3600,
    })
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut out = claims.clone();
    out.as_object_mut().unwrap().extend(changes.as_object().unwrap().clone());
    out
}

/// A JWKS endpoint over HTTPS, serving what `keys` holds and counting its fetches.
struct Jwks {
    url: String,
    ca_file: tempfile::NamedTempFile,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
    server: actix_web::dev::ServerHandle,
}

impl Jwks {
    async fn start(keys: Vec<Value>) -> Self {
        let ca = transport_tls::testing::TestCa::new("jwks test CA");
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("jwks.crt"), dir.path().join("jwks.key"));
        ca.server().write(&cert, &key);
        let ca_file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(ca_file.path(), &ca.pem).unwrap();
        let files = transport_tls::ServerTlsFiles { cert, key };
        let tls = transport_tls::ServerTls::load(&files, Duration::from_secs(60)).unwrap();
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(AtomicUsize::new(0));
        let (served, counted) = (Arc::clone(&keys), Arc::clone(&fetches));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            let (served, counted) = (Arc::clone(&served), Arc::clone(&counted));
            App::new().route(
                "/keys",
                web::get().to(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    let body = json!({"keys": served.lock().clone()});
                    async move { HttpResponse::Ok().json(body) }
                }),
            )
        })
        .workers(1)
        .listen_rustls_0_23(listener, tls.http_config().unwrap())
        .unwrap()
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("https://localhost:{port}/keys"), ca_file, keys, fetches, _dir: dir, server: handle }
    }
}

/// The gateway trusting the JWKS server's CA, refreshing a key set for an unknown kid at once.
async fn app_trusting(jwks: &Jwks) -> TestApp {
    let mut options = Options::default();
    options.settings.jwt.ca_file = Some(jwks.ca_file.path().to_owned());
    options.settings.jwt.refresh_interval = Duration::ZERO;
    spawn_app_with(options).await
}

/// Entra ID's preset for the tenant, with the keys served here.
async fn entra_connection(app: &TestApp, jwks: &Jwks) -> Value {
    let body = json!({"id": "entra", "secretServer": "primary"});
    assert_eq!(app.admin(Method::POST, "/connections").json(&body).send().await.unwrap().status(), 201);
    let issuer = json!({"entraTenantId": TENANT, "jwksUrl": jwks.url});
    let res = app.admin(Method::POST, "/connections/entra/jwt-issuers").json(&issuer).send().await.unwrap();
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn status_with(app: &TestApp, token: &str) -> u16 {
    let res = app.http.get(format!("{}/scim/v2/Users?count=1", app.base)).bearer_auth(token).send().await.unwrap();
    res.status().as_u16()
}

#[tokio::test]
async fn an_entra_token_is_accepted_and_every_token_that_does_not_hold_is_refused_with_401() {
    let key = Key::new("k1");
    let jwks = Jwks::start(vec![key.jwk()]).await;
    let app = app_trusting(&jwks).await;
    let issuer = entra_connection(&app, &jwks).await;
    assert_eq!(issuer["issuer"], format!("https://sts.windows.net/{TENANT}/"));
    assert_eq!(issuer["audiences"], json!([connections::ENTRA_SCIM_AUDIENCE]));

    let claims = entra_claims();
    assert_eq!(status_with(&app, &key.sign(json!({}), &claims)).await, 200, "a valid token");

    let stranger = Key::new("k1");
    let refused = [
        ("a wrong audience", key.sign(json!({}), &with(&claims, json!({"aud": "api://someone-else"})))),
        ("an expired token", key.sign(json!({}), &with(&claims, json!({"exp": now() - 3600})))),
        ("a token not yet valid", key.sign(json!({}), &with(&claims, json!({"nbf": now() + 3600})))),
        ("an unknown kid", key.sign(json!({"kid": "k9"}), &claims)),
        ("a wrong issuer", key.sign(json!({}), &with(&claims, json!({"iss": "https://sts.windows.net/other/"})))),
        ("a wrong tenant", key.sign(json!({}), &with(&claims, json!({"tid": "99999999-0000-0000-0000-000000000000"})))),
        ("a key not the issuer's", stranger.sign(json!({}), &claims)),
        ("alg none", format!("{}.e30", key.sign(json!({"alg": "none"}), &claims).rsplit_once('.').unwrap().0)),
        ("an HMAC algorithm", key.sign(json!({"alg": "HS256"}), &claims)),
        ("no exp", key.sign(json!({}), &with(&claims, json!({"exp": null})))),
    ];
    for (what, token) in refused {
        assert_eq!(status_with(&app, &token).await, 401, "{what}");
    }
    // One fetch for the valid token, one more for the unknown kid: no other refusal reached the keys.
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    app.shutdown().await;
    jwks.server.stop(false).await;
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_when_a_token_names_its_new_kid() {
    let old = Key::new("k1");
    let jwks = Jwks::start(vec![old.jwk()]).await;
    let app = app_trusting(&jwks).await;
    entra_connection(&app, &jwks).await;
    assert_eq!(status_with(&app, &old.sign(json!({}), &entra_claims())).await, 200);
    assert_eq!(status_with(&app, &old.sign(json!({}), &entra_claims())).await, 200);
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 1, "the key set is cached");

    let new = Key::new("k2");
    jwks.keys.lock().push(new.jwk());
    assert_eq!(status_with(&app, &new.sign(json!({}), &entra_claims())).await, 200, "the new kid is fetched");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    assert_eq!(status_with(&app, &old.sign(json!({}), &entra_claims())).await, 200, "the old key still holds");
    assert_eq!(jwks.fetches.load(Ordering::SeqCst), 2);
    app.shutdown().await;
    jwks.server.stop(false).await;
}

/// A connection `id` that may read only `kind` (any other type is `404` to it), with `issuer`
/// added through the admin API; the status of that addition.
async fn connection_reading_only(app: &TestApp, id: &str, kind: &str, issuer: Value) -> u16 {
    let scope = json!({"resourceTypes": {kind: {"read": true}}});
    let body = json!({"id": id, "secretServer": "primary", "scope": scope});
    assert_eq!(app.admin(Method::POST, "/connections").json(&body).send().await.unwrap().status(), 201);
    let path = format!("/connections/{id}/jwt-issuers");
    app.admin(Method::POST, &path).json(&issuer).send().await.unwrap().status().as_u16()
}

/// The status of `GET path` with `token`.
async fn get_with(app: &TestApp, path: &str, token: &str) -> u16 {
    app.http.get(format!("{}/scim/v2{path}", app.base)).bearer_auth(token).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn two_entra_apps_of_one_tenant_are_told_apart_by_their_application_ids_and_never_taken_for_each_other() {
    let key = Key::new("k1");
    let jwks = Jwks::start(vec![key.jwk()]).await;
    let app = app_trusting(&jwks).await;
    let (hr_app, it_app) = ("aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002");
    let tenant_wide = json!({"entraTenantId": TENANT, "jwksUrl": jwks.url});
    assert_eq!(connection_reading_only(&app, "entra-hr", "User", tenant_wide.clone()).await, 201);
    // A second app of the tenant on the same terms would accept the first one's tokens: refused.
    assert_eq!(connection_reading_only(&app, "entra-it", "Group", tenant_wide).await, 409);

    // Told apart by application id, each app's token acts as its own connection (its own scope).
    let hr_token = key.sign(json!({}), &with(&entra_claims(), json!({"appid": hr_app})));
    let it_token = key.sign(json!({}), &with(&entra_claims(), json!({"appid": it_app})));
    // A connection's own issuers may overlap (a narrower one added before the wide one goes).
    let hr_only = json!({"entraTenantId": TENANT, "jwksUrl": jwks.url, "appIds": [hr_app]});
    let added = app.admin(Method::POST, "/connections/entra-hr/jwt-issuers").json(&hr_only).send().await;
    assert_eq!(added.unwrap().status(), 201);
    let path = "/connections/entra-it/jwt-issuers";
    let it_issuer = json!({"entraTenantId": TENANT, "jwksUrl": jwks.url, "appIds": [it_app]});
    // Still refused while entra-hr accepts every application of the tenant.
    assert_eq!(app.admin(Method::POST, path).json(&it_issuer).send().await.unwrap().status(), 409);
    let hr = app.admin(Method::GET, "/connections/entra-hr").send().await.unwrap().json::<Value>().await.unwrap();
    let hr_issuer = hr["credentials"]["jwtIssuers"][0]["id"].as_str().unwrap().to_owned();
    let removed = app.admin(Method::DELETE, &format!("/connections/entra-hr/jwt-issuers/{hr_issuer}")).send().await;
    assert_eq!(removed.unwrap().status(), 204);
    assert_eq!(app.admin(Method::POST, path).json(&it_issuer).send().await.unwrap().status(), 201);
    assert_eq!((get_with(&app, "/Users", &hr_token).await, get_with(&app, "/Groups", &hr_token).await), (200, 404));
    assert_eq!((get_with(&app, "/Users", &it_token).await, get_with(&app, "/Groups", &it_token).await), (404, 200));

    // Issuers that overlap anyway (a configuration file is not checked as the admin API is): a
    // token both accept is refused, never taken as the first one's.
    let mut wide = app.deps.connections.get(&"entra-it".parse().unwrap()).await.unwrap().unwrap();
    wide.credentials.jwt_issuers[0].app_ids.push(hr_app.to_owned());
    app.deps.connections.put(&wide).await.unwrap();
    assert_eq!(get_with(&app, "/Users", &hr_token).await, 401);
    assert_eq!(get_with(&app, "/Groups", &it_token).await, 200, "a token only one connection accepts still works");
    app.shutdown().await;
    jwks.server.stop(false).await;
}
