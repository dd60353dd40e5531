//! Connections defined in the configuration file keep what the admin API did to them across a
//! restart: the `gateway` role started twice with the same file and the same state store (Redis,
//! `REDIS_URL`, a fresh key prefix; the test fails without it).

use connections::credentials::sha256_hex;
use reqwest::StatusCode;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const ADMIN_TOKEN: &str = "admin-token-for-the-file-test-0123456789";
const KEPT: &str = "scimc_file-token-kept-0123456789abcdefghijklmn";
const REVOKED: &str = "scimc_file-token-revoked-0123456789abcdefghijk";
const ROTATED: &str = "scimc_file-token-rotated-0123456789abcdefghijk";
const OKTA: &str = "scimc_file-token-okta-0123456789abcdefghijklmno";

fn config(revoked_token: &str) -> String {
    format!(
        r#"admin_token_sha256 = ["{admin}"]

[[connections]]
id = "sailpoint"
secretServer = "primary"
credentials = {{ bearerTokens = [{{ id = "kept", sha256 = "{kept}" }}, {{ id = "revoked", sha256 = "{revoked}" }}] }}

[[connections]]
id = "okta"
secretServer = "primary"
credentials = {{ bearerTokens = [{{ id = "okta", sha256 = "{okta}" }}] }}
"#,
        admin = sha256_hex(ADMIN_TOKEN),
        kept = sha256_hex(KEPT),
        revoked = sha256_hex(revoked_token),
        okta = sha256_hex(OKTA),
    )
}

/// The gateway role, started on a free port with the file and the Redis key prefix given.
struct Gateway {
    child: Child,
    base: String,
}

impl Gateway {
    async fn start(dir: &Path, prefix: &str) -> Self {
        let port = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap().local_addr().unwrap().port();
        let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned());
        let child = Command::new(env!("CARGO_BIN_EXE_scim-connector"))
            .env_clear()
            .env("REDIS_URL", redis)
            .env("SCIMC_REDIS_PREFIX", prefix)
            .env("RUST_LOG", "warn")
            .current_dir(dir)
            .args(["--config", "c.toml", "gateway", "--gateway-listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the binary starts");
        let gateway = Self { child, base: format!("http://127.0.0.1:{port}") };
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while !http.get(format!("{}/healthz", gateway.base)).send().await.is_ok_and(|r| r.status().is_success()) {
            assert!(tokio::time::Instant::now() < deadline, "the gateway did not start (it needs Redis at REDIS_URL)");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        gateway
    }

    async fn scim_status(&self, token: &str) -> StatusCode {
        let url = format!("{}/scim/v2/ServiceProviderConfig", self.base);
        reqwest::Client::new().get(url).bearer_auth(token).send().await.unwrap().status()
    }

    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new().request(method, format!("{}/admin/v1{path}", self.base)).bearer_auth(ADMIN_TOKEN)
    }

    async fn show(&self, id: &str) -> Value {
        let res = self.admin(reqwest::Method::GET, &format!("/connections/{id}")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }
}

impl Drop for Gateway {
    /// Stops the process (also when an assertion failed): its state is in Redis already.
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn revocations_and_disables_made_through_the_admin_api_last_across_a_restart() {
    // The workspace builds reqwest without a TLS provider; the binary installs ring, and so does this test.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("c.toml"), config(REVOKED)).unwrap();
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let prefix = format!("file-connections-{}-{nanos}", std::process::id());

    let gateway = Gateway::start(dir.path(), &prefix).await;
    for token in [KEPT, REVOKED, OKTA] {
        assert_eq!(gateway.scim_status(token).await, 200);
    }
    let revoke = gateway.admin(reqwest::Method::DELETE, "/connections/sailpoint/tokens/revoked").send().await.unwrap();
    assert!(revoke.status().is_success(), "{}", revoke.status());
    let disable = gateway.admin(reqwest::Method::POST, "/connections/okta/disable").send().await.unwrap();
    assert!(disable.status().is_success(), "{}", disable.status());
    let issued: Value = gateway
        .admin(reqwest::Method::POST, "/connections/sailpoint/tokens")
        .json(&serde_json::json!({"label": "issued at run time"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let issued_token = issued["token"].as_str().unwrap().to_owned();
    drop(gateway);

    // The same file, the same store: the file's definitions load again.
    let gateway = Gateway::start(dir.path(), &prefix).await;
    assert_eq!(gateway.scim_status(REVOKED).await, 401, "the revoked token came back with the restart");
    assert_eq!(gateway.scim_status(OKTA).await, 401, "the disabled connection came back with the restart");
    assert_eq!(gateway.scim_status(KEPT).await, 200);
    assert_eq!(gateway.scim_status(&issued_token).await, 200, "a token issued at run time is kept");

    let sailpoint = gateway.show("sailpoint").await;
    assert_eq!(sailpoint["fromConfig"], true);
    assert_eq!(sailpoint["provenance"]["revoked"], serde_json::json!(["token revoked"]), "{sailpoint}");
    let sources: Vec<(String, String)> = sailpoint["provenance"]["bearerTokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap().to_owned(), t["source"].as_str().unwrap().to_owned()))
        .collect();
    assert!(sources.contains(&("kept".to_owned(), "file".to_owned())), "{sources:?}");
    assert!(sources.contains(&(issued["id"].as_str().unwrap().to_owned(), "admin".to_owned())), "{sources:?}");
    let okta = gateway.show("okta").await;
    assert_eq!(
        (okta["enabled"].clone(), okta["provenance"]["settingsFromAdmin"].clone()),
        (serde_json::json!(false), serde_json::json!(["enabled"]))
    );
    drop(gateway);

    // The file changing the revoked credential (a new secret under its id) brings it back, as the
    // file defines it now; an admin re-enabling the connection lasts as well.
    std::fs::write(dir.path().join("c.toml"), config(ROTATED)).unwrap();
    let gateway = Gateway::start(dir.path(), &prefix).await;
    assert_eq!(gateway.scim_status(ROTATED).await, 200);
    assert_eq!(gateway.scim_status(REVOKED).await, 401);
    let enable = gateway.admin(reqwest::Method::POST, "/connections/okta/enable").send().await.unwrap();
    assert!(enable.status().is_success());
    drop(gateway);
    let gateway = Gateway::start(dir.path(), &prefix).await;
    assert_eq!(gateway.scim_status(OKTA).await, 200);
    assert_eq!(gateway.show("okta").await["provenance"]["settingsFromAdmin"], serde_json::json!([]));
    drop(gateway);
}
