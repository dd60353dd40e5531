//! The web console's security promises, over HTTP against the real gateway: no session sends to
//! the sign-in page, a POST without the session's CSRF token is 403, the cookie's attributes, the
//! CSP and its companions on every answer, idle and absolute expiry, throttled sign-ins, and the
//! console users managed through the admin API.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use scim_gateway::FailureAllowance;
use serde_json::{Value, json};
use state_store::testing::CountingStore;
use std::sync::Arc;
use std::time::Duration;

const NAME: &str = "alice";
const PASSWORD: &str = "a console password";

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

async fn add_user(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    app.admin(Method::POST, "/console-users").json(&json!({"name": name, "password": password})).send().await.unwrap()
}

/// The `name=value` of cookie `name` in the answer's `Set-Cookie` headers, and the whole header.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| (v.split(';').next().unwrap_or_default().to_owned(), v.to_owned()))
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_in(html: &str) -> String {
    let at = html.find(r#"name="csrf" value=""#).expect("a form with a CSRF token") + r#"name="csrf" value=""#.len();
    html[at..].split('"').next().unwrap().to_owned()
}

/// What a signed-in browser holds: its session cookie and the session's CSRF token.
struct Signed {
    cookie: String,
    csrf: String,
}

/// A sign-in form as a browser loads it: the form's cookie and its token.
struct SignInForm {
    cookie: String,
    token: String,
}

async fn sign_in_form(app: &TestApp) -> SignInForm {
    let page = browser().get(format!("{}/console/sign-in", app.base)).send().await.unwrap();
    let (cookie, _) = set_cookie(&page, "scimc_console_signin").expect("the sign-in form's cookie");
    SignInForm { cookie, token: csrf_in(&page.text().await.unwrap()) }
}

async fn submit_sign_in(app: &TestApp, form: &SignInForm, fields: &[(&str, &str)]) -> reqwest::Response {
    let mut body = vec![("csrf", form.token.as_str())];
    body.extend_from_slice(fields);
    browser()
        .post(format!("{}/console/sign-in", app.base))
        .header("cookie", &form.cookie)
        .form(&body)
        .send()
        .await
        .unwrap()
}

async fn sign_in_attempt(app: &TestApp, name: &str, password: &str) -> reqwest::Response {
    let form = sign_in_form(app).await;
    submit_sign_in(app, &form, &[("name", name), ("password", password)]).await
}

async fn sign_in(app: &TestApp) -> Signed {
    sign_in_as(app, NAME, PASSWORD).await
}

async fn sign_in_as(app: &TestApp, name: &str, password: &str) -> Signed {
    let res = sign_in_attempt(app, name, password).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in");
    let (cookie, _) = set_cookie(&res, "scimc_console").expect("a session cookie");
    let page =
        browser().get(format!("{}/console/connections", app.base)).header("cookie", &cookie).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_in(&page.text().await.unwrap());
    Signed { cookie, csrf }
}

async fn console_get(app: &TestApp, signed: &Signed, path: &str) -> reqwest::Response {
    browser().get(format!("{}/console{path}", app.base)).header("cookie", &signed.cookie).send().await.unwrap()
}

async fn console_post(app: &TestApp, signed: &Signed, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    browser()
        .post(format!("{}/console{path}", app.base))
        .header("cookie", &signed.cookie)
        .form(form)
        .send()
        .await
        .unwrap()
}

fn location(res: &reqwest::Response) -> &str {
    res.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or_default()
}

async fn app_with_user(options: Options) -> TestApp {
    let app = spawn_app_with(options).await;
    assert_eq!(add_user(&app, NAME, PASSWORD).await.status(), StatusCode::CREATED);
    app
}

#[tokio::test]
async fn a_console_page_without_a_session_sends_the_browser_to_sign_in() {
    let app = spawn_app().await;
    for path in ["/console/", "/console/connections", "/console/audit", "/console/connections/test"] {
        let res = browser().get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(location(&res), "/console/sign-in", "{path}");
    }
    let forged = browser()
        .get(format!("{}/console/connections", app.base))
        .header("cookie", "scimc_console=made-up")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::SEE_OTHER, "an unknown session id is no session");
    app.shutdown().await;
}

#[tokio::test]
async fn every_console_answer_carries_a_strict_csp_and_its_companions() {
    let app = spawn_app().await;
    for path in ["/console/sign-in", "/console/connections", "/console/assets/console.css"] {
        let res = browser().get(format!("{}{path}", app.base)).send().await.unwrap();
        let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let csp = header("content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(header("referrer-policy"), "no-referrer", "{path}");
        assert_eq!(header("cache-control"), "no-store", "{path}");
    }
    let page = browser().get(format!("{}/console/sign-in", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(!page.contains("<script>") && !page.contains("style="), "no inline script or style");
    app.shutdown().await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_kept_to_the_console() {
    let app = app_with_user(Options::default()).await;
    let res = sign_in_attempt(&app, NAME, PASSWORD).await;
    let (_, header) = set_cookie(&res, "scimc_console").expect("a session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/console"] {
        assert!(header.contains(attribute), "{attribute} in {header}");
    }
    assert!(!header.contains("Secure"), "plain HTTP: a Secure cookie would never come back ({header})");
    assert_eq!(location(&res), "/console/");
    app.shutdown().await;
}

#[tokio::test]
async fn a_console_post_without_the_session_csrf_token_is_forbidden() {
    let app = app_with_user(Options::default()).await;
    let signed = sign_in(&app).await;
    let form = [("id", "csrf-check"), ("secret_server", "primary")];
    let missing = console_post(&app, &signed, "/connections", &form).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN, "no token");
    let wrong = console_post(&app, &signed, "/connections", &[("csrf", "not-it"), form[0], form[1]]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN, "another token");
    let stored = app.admin(Method::GET, "/connections/csrf-check").send().await.unwrap();
    assert_eq!(stored.status(), StatusCode::NOT_FOUND, "nothing was created");
    let right = console_post(&app, &signed, "/connections", &[("csrf", &signed.csrf), form[0], form[1]]).await;
    assert_eq!(right.status(), StatusCode::CREATED);
    assert!(right.text().await.unwrap().contains("scimc_"), "the new token is shown once");
    app.shutdown().await;
}

#[tokio::test]
async fn a_console_change_is_the_admin_api_change_audited_with_the_administrator() {
    let app = app_with_user(Options::default()).await;
    let mut events = app.events.subscribe("console-test", "c1").await.unwrap();
    let signed = sign_in(&app).await;
    let res = console_post(&app, &signed, "/connections/test/disable", &[("csrf", &signed.csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    assert_eq!(view["enabled"], false, "the same connection record the admin API shows");
    assert_eq!(app.get("/Users").await.status(), StatusCode::UNAUTHORIZED, "a disabled connection's calls are refused");
    let actor = wait_for_admin_action(&mut events, "disable-connection").await;
    assert_eq!(actor, format!("console:{NAME}"));
    app.shutdown().await;
}

/// The actor of the first `AdminAction` event with `action`.
async fn wait_for_admin_action(events: &mut Box<dyn job_queue::EventSubscription>, action: &str) -> String {
    use proto::audit::v1 as pb;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no {action} event");
        for (_, event) in next_audit_events(events, 50, Duration::from_millis(200)).await {
            if let Some(pb::audit_event::Kind::Admin(a)) = event.kind
                && a.action == action
            {
                return a.actor;
            }
        }
    }
}

#[tokio::test]
async fn a_session_ends_when_idle_and_at_its_absolute_lifetime() {
    let mut options = Options::default();
    options.settings.console.session_idle = Duration::from_secs(1);
    options.settings.console.session_lifetime = Duration::from_secs(3600);
    let app = app_with_user(options).await;
    let signed = sign_in(&app).await;
    // Idle: nothing can be awaited but time itself (every request would count as use).
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let res = console_get(&app, &signed, "/connections").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "idle longer than session_idle");
    app.shutdown().await;

    let mut options = Options::default();
    options.settings.console.session_idle = Duration::from_secs(2);
    options.settings.console.session_lifetime = Duration::from_secs(2);
    let app = app_with_user(options).await;
    let signed = sign_in(&app).await;
    // Used all the time, it still ends at its lifetime.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let res = console_get(&app, &signed, "/connections").await;
        if res.status() == StatusCode::SEE_OTHER {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the session outlived its lifetime");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    app.shutdown().await;
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_even_for_the_right_password() {
    let mut options = Options::default();
    options.settings.auth_throttle.per_identifier = FailureAllowance { burst: 3, per_second: 0.001 };
    let app = app_with_user(options).await;
    for _ in 0..3 {
        let res = sign_in_attempt(&app, NAME, "a wrong password").await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert!(set_cookie(&res, "scimc_console").is_none());
    }
    let res = sign_in_attempt(&app, NAME, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the name is out of attempts");
    let retry_after =
        res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s >= 1), "it says when to try again: {retry_after:?}");
    assert!(set_cookie(&res, "scimc_console").is_none(), "no session");
    app.shutdown().await;
}

#[tokio::test]
async fn sign_ins_beyond_the_bound_on_password_hashes_are_turned_away_as_busy_and_audited() {
    let mut options = Options::default();
    options.settings.credential_cache.max_concurrent_hashes = 1;
    options.settings.auth_throttle.per_address = FailureAllowance { burst: 1000, per_second: 0.001 };
    options.settings.auth_throttle.per_identifier = FailureAllowance { burst: 1000, per_second: 0.001 };
    options.settings.auth_failure_summaries.interval = Duration::from_millis(100);
    let app = app_with_user(options).await;
    let mut events = app.events.subscribe("console-test", "c1").await.unwrap();
    let forms = futures::future::join_all((0..24).map(|_| sign_in_form(&app))).await;
    let guesses = forms.iter().enumerate().map(|(i, form)| {
        let password = format!("concurrent guess {i}");
        let app = &app;
        async move { submit_sign_in(app, form, &[("name", NAME), ("password", &password)]).await }
    });
    let mut busy = 0;
    for res in futures::future::join_all(guesses).await {
        match res.status() {
            StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert!(res.headers().contains_key("retry-after"));
                assert!(res.text().await.unwrap().contains("Sign-in is busy"), "the page says why");
                busy += 1;
            }
            other => panic!("a guess is refused with 401 or 503, not {other}"),
        }
    }
    assert!(busy > 0, "24 guesses at once with one hash at a time: some are turned away");
    let summaries = wait_for_auth_failures(&mut events, "console", "busy").await;
    assert!(summaries > 0, "the busy refusals are in the audit trail as the other refusals are");
    app.shutdown().await;
}

/// The count of the first `AuthFailureSummary` of `surface` with `reason`.
async fn wait_for_auth_failures(
    events: &mut Box<dyn job_queue::EventSubscription>,
    surface: &str,
    reason: &str,
) -> u64 {
    use proto::audit::v1 as pb;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        assert!(tokio::time::Instant::now() < deadline, "no {reason} refusal summarised for {surface}: {seen:?}");
        for (_, event) in next_audit_events(events, 50, Duration::from_millis(200)).await {
            if let Some(pb::audit_event::Kind::AuthFailures(s)) = &event.kind
                && s.surface == surface
                && s.reason == reason
            {
                return s.count;
            }
            seen.push(event.kind);
        }
    }
}

#[tokio::test]
async fn console_users_are_managed_through_the_admin_api_and_never_shown_with_their_hash() {
    let app = app_with_user(Options::default()).await;
    assert_eq!(add_user(&app, NAME, PASSWORD).await.status(), StatusCode::CONFLICT);
    assert_eq!(add_user(&app, "bob", "short").await.status(), StatusCode::BAD_REQUEST);
    let list = app.admin(Method::GET, "/console-users").send().await.unwrap().text().await.unwrap();
    assert!(list.contains(NAME) && !list.contains("argon2"), "{list}");
    let signed = sign_in(&app).await;
    let reset = app
        .admin(Method::PUT, &format!("/console-users/{NAME}/password"))
        .json(&json!({"password": "another console password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    let res = console_get(&app, &signed, "/connections").await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a new password ends the sessions of the old one");
    assert_eq!(sign_in_attempt(&app, NAME, PASSWORD).await.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.admin(Method::DELETE, &format!("/console-users/{NAME}")).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(sign_in_attempt(&app, NAME, "another console password").await.status(), StatusCode::UNAUTHORIZED);
    app.shutdown().await;
}

#[tokio::test]
async fn a_session_started_on_one_replica_is_honoured_by_another_and_ended_on_both() {
    let app = app_with_user(Options::default()).await;
    let (replica, replica_base) = app.spawn_replica().await;
    let signed = sign_in(&app).await;
    let there = browser()
        .get(format!("{replica_base}/console/connections"))
        .header("cookie", &signed.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(there.status(), StatusCode::OK, "the other replica finds the session in the shared store");
    let out = browser()
        .post(format!("{replica_base}/console/sign-out"))
        .header("cookie", &signed.cookie)
        .form(&[("csrf", signed.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/console/sign-in");
    let here = console_get(&app, &signed, "/connections").await;
    assert_eq!(here.status(), StatusCode::SEE_OTHER, "signed out on one replica is signed out on all");
    replica.shutdown().await;
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_runs_the_full_preflight_and_confirms_only_a_held_report() {
    let app = app_with_user(Options::default()).await;
    let signed = sign_in(&app).await;
    let page = console_get(&app, &signed, "/secret-servers").await.text().await.unwrap();
    assert!(page.contains("/console/secret-servers/primary/doctor"), "the instances page offers the preflight");

    let res = console_post(&app, &signed, "/secret-servers/primary/doctor", &[("csrf", &signed.csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    let report = res.text().await.unwrap();
    assert!(report.contains("Preflight of primary"), "{report}");
    assert!(report.contains("passed"), "the emulator's API account has every permission: {report}");

    let res = console_post(
        &app,
        &signed,
        "/secret-servers/primary/resync/confirm",
        &[("csrf", &signed.csrf), ("report_id", "0123456789abcdef")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "no resync holds that report");
    app.shutdown().await;
}

#[tokio::test]
async fn an_entra_tenant_added_in_the_console_is_the_connection_s_jwt_issuer_and_can_be_removed() {
    let app = app_with_user(Options::default()).await;
    let signed = sign_in(&app).await;
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let res = console_post(
        &app,
        &signed,
        "/connections/test/jwt-issuers",
        &[("csrf", &signed.csrf), ("entra_tenant_id", tenant), ("app_ids", "app-1, app-2")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    let issuers = view["credentials"]["jwtIssuers"].as_array().cloned().unwrap_or_default();
    assert_eq!(issuers.len(), 1, "{view}");
    assert_eq!(issuers[0]["issuer"], format!("https://sts.windows.net/{tenant}/"));
    assert_eq!(issuers[0]["appIds"], serde_json::json!(["app-1", "app-2"]), "the applications it is limited to");
    let id = issuers[0]["id"].as_str().unwrap().to_owned();
    let page = console_get(&app, &signed, "/connections/test").await.text().await.unwrap();
    assert!(page.contains(&id), "the connection's page lists the issuer");

    let res =
        console_post(&app, &signed, &format!("/connections/test/jwt-issuers/{id}/remove"), &[("csrf", &signed.csrf)])
            .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    assert_eq!(view["credentials"]["jwtIssuers"].as_array().map_or(0, Vec::len), 0, "{view}");
    app.shutdown().await;
}

#[tokio::test]
async fn the_patch_response_policy_is_shown_and_set_on_the_connection_page() {
    let app = app_with_user(Options::default()).await;
    let signed = sign_in(&app).await;
    let page = console_get(&app, &signed, "/connections/test").await.text().await.unwrap();
    assert!(page.contains("&quot;patchResponse&quot;: &quot;resource&quot;"), "the policies show the default");
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    let mut policies = view["policies"].clone();
    policies["patchResponse"] = json!("noContent");
    let form = [
        ("csrf", signed.csrf.as_str()),
        ("display_name", view["displayName"].as_str().unwrap()),
        ("secret_server", view["secretServer"].as_str().unwrap()),
        ("scope", &view["scope"].to_string()),
        ("rights", &view["rights"].to_string()),
        ("policies", &policies.to_string()),
        ("rate_limit", &view["rateLimit"].to_string()),
    ];
    let res = console_post(&app, &signed, "/connections/test/edit", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    assert_eq!(view["policies"]["patchResponse"], "noContent", "{view}");
    app.shutdown().await;
}

#[tokio::test]
async fn a_custom_jwt_issuer_added_in_the_console_is_the_admin_api_s_issuer_and_an_http_jwks_is_refused() {
    let app = app_with_user(Options::default()).await;
    let signed = sign_in(&app).await;
    let page = console_get(&app, &signed, "/connections/test").await.text().await.unwrap();
    assert!(page.contains(r#"name="jwks_url""#), "the connection's page has the custom issuer's form");
    let issuer = "https://idp.example.com/tenant-7/";
    let plain = [
        ("csrf", signed.csrf.as_str()),
        ("issuer", issuer),
        ("audiences", "scim-api, other-api"),
        ("jwks_url", "http://idp.example.com/keys"),
    ];
    let res = console_post(&app, &signed, "/connections/test/jwt-issuers", &plain).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST, "a JWKS over plain HTTP is refused");
    assert!(res.text().await.unwrap().contains("https://"), "and the page says why");
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    assert_eq!(view["credentials"]["jwtIssuers"].as_array().map_or(0, Vec::len), 0, "nothing stored: {view}");

    let form = [
        ("csrf", signed.csrf.as_str()),
        ("issuer", issuer),
        ("audiences", "scim-api, other-api"),
        ("jwks_url", "https://idp.example.com/tenant-7/keys"),
    ];
    let res = console_post(&app, &signed, "/connections/test/jwt-issuers", &form).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let view: Value = app.admin(Method::GET, "/connections/test").send().await.unwrap().json().await.unwrap();
    let issuers = view["credentials"]["jwtIssuers"].as_array().cloned().unwrap_or_default();
    assert_eq!(issuers.len(), 1, "{view}");
    assert_eq!(issuers[0]["issuer"], issuer);
    assert_eq!(issuers[0]["audiences"], json!(["scim-api", "other-api"]));
    assert_eq!(issuers[0]["jwksUrl"], "https://idp.example.com/tenant-7/keys");
    app.shutdown().await;
}

#[tokio::test]
async fn made_up_session_cookies_from_one_address_are_throttled_before_the_session_store_is_read() {
    let app = spawn_app().await;
    let store = Arc::new(CountingStore::over(app.deps.state.clone()));
    let mut settings = Options::default().settings;
    settings.auth_throttle.refusals_per_address = FailureAllowance { burst: 5, per_second: 0.001 };
    settings.auth_throttle.hold = Duration::ZERO;
    let (replica, base) = app.spawn_replica_with(settings, store.clone()).await;

    let mut statuses = Vec::new();
    for i in 0..50 {
        let res = browser()
            .get(format!("{base}/console/connections"))
            .header("cookie", format!("scimc_console=made-up-session-{i}"))
            .send()
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(statuses[..5], [StatusCode::SEE_OTHER; 5], "a cookie naming no session is sent to sign in");
    assert!(statuses[5..].iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    assert_eq!(store.expiring_reads("console-sessions"), 5, "the throttled ones read no session");

    let res = browser()
        .get(format!("{base}/console/sign-in"))
        .header("cookie", "scimc_console=made-up-session-again")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "the sign-in page reads no session for it either");
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(store.expiring_reads("console-sessions"), 5);
    let page = browser().get(format!("{base}/console/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the sign-in page itself stays open");
    replica.shutdown().await;
    app.shutdown().await;
}

/// The live calls' event stream as a browser holds it open.
struct EventStream {
    response: reqwest::Response,
    /// Everything it sent so far.
    text: String,
    ended: bool,
}

impl EventStream {
    async fn open(app: &TestApp, signed: &Signed) -> Self {
        let response = console_get(app, signed, "/calls/stream").await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self { response, text: String::new(), ended: false }
    }

    /// Reads until `done` holds of what was sent, or the stream ends.
    async fn read_until(&mut self, done: impl Fn(&str) -> bool) {
        // A guard against a stream that never ends, not a measure: the keep-alives come every 15 s.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(40);
        while !self.ended && !done(&self.text) {
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk.expect("the stream neither ended nor sent what was awaited").unwrap() {
                Some(bytes) => self.text.push_str(&String::from_utf8_lossy(&bytes)),
                None => self.ended = true,
            }
        }
    }

    async fn read_to_end(&mut self) {
        self.read_until(|_| false).await;
    }
}

#[tokio::test]
async fn the_live_calls_stream_ends_with_its_session_and_sends_no_call_after() {
    let app = app_with_user(Options::default()).await;
    assert_eq!(add_user(&app, "bob", PASSWORD).await.status(), StatusCode::CREATED);
    let alice = sign_in(&app).await;
    let bob = sign_in_as(&app, "bob", PASSWORD).await;
    let mut alices = EventStream::open(&app, &alice).await;
    let mut bobs = EventStream::open(&app, &bob).await;
    assert_eq!(app.get("/Users?count=1").await.status(), StatusCode::OK);
    for stream in [&mut alices, &mut bobs] {
        stream.read_until(|text| text.contains("event: call")).await;
        assert!(stream.text.contains("/Users"), "the stream follows the calls: {}", stream.text);
    }

    let removed = app.admin(Method::DELETE, &format!("/console-users/{NAME}")).send().await.unwrap();
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let out = console_post(&app, &bob, "/sign-out", &[("csrf", &bob.csrf)]).await;
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.get("/Groups?count=1").await.status(), StatusCode::OK);

    for (who, stream) in [("a removed administrator's", &mut alices), ("a signed-out session's", &mut bobs)] {
        stream.read_to_end().await;
        assert!(!stream.text.contains("/Groups"), "{who} stream sent a call made after: {}", stream.text);
        assert!(stream.text.ends_with("event: end\ndata: the session ended\n\n"), "{who}: {}", stream.text);
    }
    app.shutdown().await;
}

#[tokio::test]
async fn the_live_calls_stream_ends_at_its_session_s_lifetime() {
    let mut options = Options::default();
    options.settings.console.session_idle = Duration::from_secs(2);
    options.settings.console.session_lifetime = Duration::from_secs(2);
    let app = app_with_user(options).await;
    let signed = sign_in(&app).await;
    let mut stream = EventStream::open(&app, &signed).await;
    stream.read_to_end().await;
    assert!(stream.text.ends_with("event: end\ndata: the session ended\n\n"), "{}", stream.text);
    app.shutdown().await;
}

/// Where a page's `<meta http-equiv="refresh">` sends the browser: its `url`, or the page itself.
fn refresh_target(page: &str, path: &str) -> String {
    let at = page.find(r#"http-equiv="refresh" content=""#).expect("a page that reloads itself")
        + r#"http-equiv="refresh" content=""#.len();
    let content = page[at..].split('"').next().unwrap().replace("&amp;", "&");
    match content.split_once(';') {
        Some((_, url)) => url.trim().trim_start_matches("url=").to_owned(),
        None => format!("/console{path}"),
    }
}

#[tokio::test]
async fn a_page_reloading_itself_does_not_keep_an_idle_session_alive() {
    let mut options = Options::default();
    options.settings.console.session_idle = Duration::from_secs(2);
    options.settings.console.session_lifetime = Duration::from_secs(3600);
    let app = app_with_user(options).await;
    for path in ["/", "/calls"] {
        let signed = sign_in(&app).await;
        let page = console_get(&app, &signed, path).await;
        assert_eq!(page.status(), StatusCode::OK);
        let mut target = refresh_target(&page.text().await.unwrap(), path);
        let mut reloads = 0;
        // The tab is left open: only the page's own reloads reach the gateway.
        loop {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let res = browser().get(format!("{}{target}", app.base)).header("cookie", &signed.cookie).send().await;
            let res = res.unwrap();
            if res.status() == StatusCode::SEE_OTHER {
                assert_eq!(location(&res), "/console/sign-in", "{path}");
                break;
            }
            assert_eq!(res.status(), StatusCode::OK, "{path}: a reload of a live session is served");
            target = refresh_target(&res.text().await.unwrap(), path);
            reloads += 1;
            assert!(reloads < 60, "{path}: reloading every 300 ms kept a session idle for 2 s alive");
        }
        assert!(reloads > 0, "{path}: the session was live when the tab was left");
    }
    app.shutdown().await;
}
