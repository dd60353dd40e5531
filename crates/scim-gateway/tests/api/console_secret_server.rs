//! Console sign-in with Secret Server accounts, against the emulator through the whole stack: a
//! member of the instance's console group signs in and lands on the overview; a non-member, a
//! wrong password, a disabled user and an unknown domain are all refused with one message; the
//! audit trail names the account (and, for a refusal, why); the password reaches no audit record
//! and no log line.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const GROUP: &str = "SCIM Console Admins";
const PASSWORD: &str = "Member-Passw0rd!-7f3c";
const DOMAIN_PASSWORD: &str = "Domain-Passw0rd!-a91e";
/// What the sign-in page says to every refused Secret Server account.
const REFUSED: &str =
    "Sign-in failed: the account, its password or its domain is wrong, or it may not use the console.";

/// Every log line of the process, kept to be searched.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    /// Captures every event at every level from now on (nextest runs each test in a process of
    /// its own; this binary sets no other global subscriber).
    fn capture() -> Self {
        let logs = Logs::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("no other subscriber in this process");
        logs
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
}

fn csrf_in(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// Signs in through the form with a Secret Server account of instance `primary`.
async fn sign_in_with_secret_server(app: &TestApp, name: &str, password: &str, domain: &str) -> reqwest::Response {
    sign_in_via(app, "primary", name, password, domain).await
}

/// Signs in through the form with a Secret Server account of instance `via`, spelt as given.
async fn sign_in_via(app: &TestApp, via: &str, name: &str, password: &str, domain: &str) -> reqwest::Response {
    let http = browser();
    let page = http.get(format!("{}/console/sign-in", app.base)).send().await.unwrap();
    let form_cookie = set_cookie(&page, "scimc_console_signin").expect("the sign-in form's cookie");
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<select id="via" name="via">"#), "the form offers a choice: {html}");
    assert!(html.contains(r#"<option value="primary">"#), "instance primary is offered: {html}");
    let token = csrf_in(&html);
    http.post(format!("{}/console/sign-in", app.base))
        .header("cookie", form_cookie)
        .form(&[("csrf", token.as_str()), ("via", via), ("name", name), ("password", password), ("domain", domain)])
        .send()
        .await
        .unwrap()
}

/// The emulator's REST API as its API account.
struct Vault {
    http: reqwest::Client,
    token: String,
    base: String,
    root: String,
}

impl Vault {
    async fn of(app: &TestApp) -> Self {
        let http = reqwest::Client::new();
        let token = test_support::emulator::token(&http, &app.sim).await;
        Self { http, token, base: app.sim.base_url(), root: format!("http://{}", app.sim.addr()) }
    }

    async fn send(&self, method: reqwest::Method, url: String, body: serde_json::Value) -> serde_json::Value {
        let res = self.http.request(method, url).bearer_auth(&self.token).json(&body).send().await.unwrap();
        assert!(res.status().is_success(), "{}", res.status());
        res.json().await.unwrap()
    }

    /// A directory user of `corp.example.com` with a password (its directory's), in group `group_id`.
    async fn domain_member(&self, name: &str, group_id: i64) {
        let url = format!("{}/api/v1/users", self.base);
        // Secret Server requires a password of every created user; a directory user's is not the one
        // it signs in with, so it is not DOMAIN_PASSWORD.
        let create = json!({"userName": name, "domainId": 1, "enabled": true, "password": "Unused-Passw0rd!"});
        let user = self.send(reqwest::Method::POST, url, create).await;
        let id = user["id"].as_i64().unwrap();
        let url = format!("{}/_sim/users/{id}/password", self.root);
        self.send(reqwest::Method::POST, url, json!({"password": DOMAIN_PASSWORD})).await;
        let url = format!("{}/api/v1/users/{id}/groups", self.base);
        self.send(reqwest::Method::POST, url, json!({"groupIds": [group_id]})).await;
    }

    async fn disable(&self, id: i64) {
        let url = format!("{}/api/v1/users/{id}", self.base);
        self.send(reqwest::Method::PATCH, url, json!({"enabled": {"dirty": true, "value": false}})).await;
    }
}

/// Every audit event's bytes, and the `(actor, action, detail)` of the admin actions among them,
/// gathered until `until` holds of the admin actions.
async fn audit_events(
    events: &mut Box<dyn job_queue::EventSubscription>,
    until: impl Fn(&[(String, String, String)]) -> bool,
) -> (Vec<u8>, Vec<(String, String, String)>) {
    use proto::audit::v1 as pb;
    let (mut bytes, mut actions) = (Vec::new(), Vec::new());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !until(&actions) {
        assert!(tokio::time::Instant::now() < deadline, "the audit events did not come: {actions:?}");
        for (payload, event) in next_audit_events(events, 50, Duration::from_millis(200)).await {
            bytes.extend_from_slice(&payload);
            if let Some(pb::audit_event::Kind::Admin(a)) = event.kind {
                actions.push((a.actor, a.action, a.detail));
            }
        }
    }
    (bytes, actions)
}

#[tokio::test]
async fn a_console_group_member_signs_in_with_secret_server_and_everyone_else_is_refused_alike() {
    let logs = Logs::capture();
    let app = spawn_app_with(Options { console_group: Some(GROUP.to_owned()), ..Options::default() }).await;
    let mut events = app.events.subscribe("console-ss-test", "c1").await.unwrap();
    let member = app.sim.provision_member(GROUP, "olga.member", PASSWORD).unwrap();
    app.sim.provision_member("Other People", "otto.outsider", PASSWORD).unwrap();
    let disabled = app.sim.provision_member(GROUP, "dave.disabled", PASSWORD).unwrap();
    let vault = Vault::of(&app).await;
    vault.disable(disabled).await;
    let group_id = {
        // The group provision_member made: the member's groups name it.
        let url = format!("{}/api/v1/users/{member}/groups", vault.base);
        let groups = vault.http.get(url).bearer_auth(&vault.token).send().await.unwrap();
        let groups: serde_json::Value = groups.json().await.unwrap();
        groups["records"].as_array().unwrap().iter().find(|g| g["groupName"] == GROUP).unwrap()["groupId"]
            .as_i64()
            .unwrap()
    };
    vault.domain_member("dora.domain", group_id).await;

    // A member lands on the overview, named after the instance and the account.
    let res = sign_in_with_secret_server(&app, "olga.member", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/console/");
    let cookie = set_cookie(&res, "scimc_console").expect("a session cookie");
    let overview = browser().get(format!("{}/console/", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(overview.status(), StatusCode::OK);
    assert!(overview.text().await.unwrap().contains("ss:primary:olga.member"), "the header names the account");

    // A domain member, with its domain.
    let res = sign_in_with_secret_server(&app, "dora.domain", DOMAIN_PASSWORD, "corp.example.com").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a domain member signs in");

    // Everyone else: one answer.
    for (name, password, domain, why) in [
        ("otto.outsider", PASSWORD, "", "not a member"),
        ("olga.member", "Wrong-Passw0rd!", "", "a wrong password"),
        ("dave.disabled", PASSWORD, "", "a disabled user"),
        ("dora.domain", DOMAIN_PASSWORD, "nowhere.example.com", "an unknown domain"),
    ] {
        let res = sign_in_with_secret_server(&app, name, password, domain).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{why}");
        assert!(set_cookie(&res, "scimc_console").is_none(), "{why}: no session");
        let page = res.text().await.unwrap();
        assert!(page.contains(REFUSED), "{why}: the one message: {page}");
    }

    let (bytes, actions) = audit_events(&mut events, |actions| {
        actions.iter().filter(|(_, action, _)| action == "console-sign-in-refused").count() >= 4
            && actions.iter().filter(|(_, action, _)| action == "console-sign-in").count() >= 2
    })
    .await;
    let signed_in: Vec<&str> =
        actions.iter().filter(|(_, a, _)| a == "console-sign-in").map(|(actor, _, _)| actor.as_str()).collect();
    assert!(signed_in.contains(&"console:ss:primary:olga.member"), "{actions:?}");
    assert!(signed_in.contains(&"console:ss:primary:corp.example.com\\dora.domain"), "{actions:?}");
    let refusal = |actor: &str| {
        actions.iter().find(|(a, action, _)| a == actor && action == "console-sign-in-refused").map(|(_, _, d)| d)
    };
    assert!(refusal("console:ss:primary:otto.outsider").is_some_and(|d| d.contains("not a member")), "{actions:?}");
    assert!(refusal("console:ss:primary:dave.disabled").is_some_and(|d| d.contains("disabled")), "{actions:?}");

    for secret in [PASSWORD, DOMAIN_PASSWORD, "Wrong-Passw0rd!"] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret.as_bytes()), "{secret} in an audit record");
        assert!(!logs.text().contains(secret), "{secret} in a log line");
    }
    assert!(logs.text().contains("console account admitted"), "the logs were captured");
    app.shutdown().await;
}

#[tokio::test]
async fn without_a_console_group_the_sign_in_page_offers_the_connector_s_accounts_only() {
    let app = spawn_app().await;
    let page = browser().get(format!("{}/console/sign-in", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"name="password""#));
    assert!(!page.contains(r#"name="via""#), "no choice to make");
    app.shutdown().await;
}

#[tokio::test]
async fn a_secret_server_that_is_down_is_said_so_and_not_counted_as_a_failed_sign_in() {
    let app = spawn_app_with(Options { console_group: Some(GROUP.to_owned()), ..Options::default() }).await;
    app.sim.provision_member(GROUP, "olga.member", PASSWORD).unwrap();
    app.sim.faults().set(secret_server_sim::FaultSettings { outage: true, ..Default::default() }).unwrap();
    let res = sign_in_with_secret_server(&app, "olga.member", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let page = res.text().await.unwrap();
    assert!(page.contains("Secret Server unreachable"), "{page}");
    app.sim.faults().clear();
    let res = sign_in_with_secret_server(&app, "olga.member", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signs in once Secret Server answers");
    app.shutdown().await;
}

#[tokio::test]
async fn failed_secret_server_sign_ins_are_throttled_like_the_connector_s_own() {
    let mut options = Options { console_group: Some(GROUP.to_owned()), ..Options::default() };
    options.settings.auth_throttle.per_identifier = scim_gateway::FailureAllowance { burst: 2, per_second: 0.001 };
    let app = spawn_app_with(options).await;
    app.sim.provision_member(GROUP, "olga.member", PASSWORD).unwrap();
    for _ in 0..2 {
        let res = sign_in_with_secret_server(&app, "olga.member", "Wrong-Passw0rd!", "").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = sign_in_with_secret_server(&app, "olga.member", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the account is out of attempts");
    assert!(set_cookie(&res, "scimc_console").is_none(), "no session");
    app.shutdown().await;
}

#[tokio::test]
async fn a_secret_server_account_is_throttled_whatever_the_case_of_its_instance_domain_and_name() {
    let mut options = Options { console_group: Some(GROUP.to_owned()), ..Options::default() };
    options.settings.auth_throttle.per_identifier = scim_gateway::FailureAllowance { burst: 2, per_second: 0.001 };
    let app = spawn_app_with(options).await;
    app.sim.provision_member(GROUP, "olga.member", PASSWORD).unwrap();
    let res = sign_in_via(&app, "PRIMARY", "OLGA.MEMBER", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "Secret Server knows the account in any case");
    let cookie = set_cookie(&res, "scimc_console").expect("a session cookie");
    let overview = browser().get(format!("{}/console/", app.base)).header("cookie", &cookie).send().await.unwrap();
    let page = overview.text().await.unwrap();
    assert!(page.contains("ss:primary:olga.member"), "the session is named as Secret Server names the account");

    for _ in 0..2 {
        let res = sign_in_via(&app, "primary", "olga.member", "Wrong-Passw0rd!", "").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = sign_in_via(&app, "PRIMARY", "OLGA.MEMBER", PASSWORD, "").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "another spelling is the same account, out of attempts");
    assert!(set_cookie(&res, "scimc_console").is_none(), "no session");

    for _ in 0..2 {
        let res = sign_in_via(&app, "primary", "dora.domain", "Wrong-Passw0rd!", "corp.example.com").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    let res = sign_in_via(&app, "Primary", "Dora.Domain", DOMAIN_PASSWORD, "CORP.EXAMPLE.COM").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "a domain account too, in any case of its domain");
    app.shutdown().await;
}
