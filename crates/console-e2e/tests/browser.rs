//! Headless Chromium against the `dev` stack's console: sign in with dev's console credentials,
//! create a connection and read its token once, call the SCIM API with it, find the call in the
//! audit log, revoke the token and see the next call refused, disable a connection, sign out and
//! be redirected. Each page is saved as a screenshot (in `$CONSOLE_SCREENSHOTS`, or the test's
//! target directory); docs/console/ holds the committed set.
//!
//! Every wait is for a condition (a URL, an element, a record), bounded by [`PATIENCE`].

use fantoccini::{Client, ClientBuilder, Locator};
use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long any one condition may take to hold.
const PATIENCE: Duration = Duration::from_secs(30);

/// A `chromedriver` process, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A program on the `PATH`, or a failure naming the Debian package that provides it.
fn program(names: &[&str], package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in names {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!("{} is not on the PATH: install the Debian package {package} (the browser test needs it)", names[0]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

async fn start_driver() -> Driver {
    let chromedriver = program(&["chromedriver"], "chromium-driver");
    let port = free_port();
    let child = Command::new(chromedriver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}") };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let ready = http.get(format!("{}/status", driver.url)).send().await.is_ok_and(|r| r.status().is_success());
        if ready {
            return driver;
        }
        assert!(Instant::now() < deadline, "chromedriver did not answer on {} within {PATIENCE:?}", driver.url);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn browser(driver: &Driver) -> Client {
    let chromium = program(&["chromium", "chromium-browser", "google-chrome"], "chromium");
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1366,900"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a headless Chromium session")
}

/// Waits until `check` holds for the browser, reloading the page between tries when `reload`.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + PATIENCE;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {PATIENCE:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn path_of(client: &Client) -> String {
    client.current_url().await.map(|u| u.path().to_owned()).unwrap_or_default()
}

async fn wait_for_path(client: &Client, path: &str) {
    wait_until(&format!("the browser reaches {path}"), || async { path_of(client).await == path }).await;
}

struct Screenshots {
    dir: PathBuf,
}

impl Screenshots {
    fn new() -> Self {
        let dir = std::env::var_os("CONSOLE_SCREENSHOTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"));
        std::fs::create_dir_all(&dir).expect("the screenshots' directory");
        Self { dir }
    }

    async fn take(&self, client: &Client, name: &str) {
        let png = client.screenshot().await.expect("a screenshot");
        std::fs::write(self.dir.join(format!("{name}.png")), png).expect("the screenshot is saved");
    }
}

async fn fill(client: &Client, css: &str, text: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("no field {css}: {e}"));
    field.clear().await.expect("the field clears");
    field.send_keys(text).await.expect("typing");
}

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("nothing to click at {css}: {e}"))
        .click()
        .await
        .expect("a click");
}

async fn scim_status(scim: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{scim}/Users?count=1"))
        .bearer_auth(token)
        .send()
        .await
        .expect("the gateway answers")
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_runs_the_connector_from_the_console_in_a_real_browser() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let driver = start_driver().await;
    let stack = connector::testing::spawn_stack().await;
    let client = browser(&driver).await;
    let shots = Screenshots::new();
    let console = stack.console_url();
    let base = console.trim_end_matches("/console/").to_owned();
    let (name, password) = {
        let text = std::fs::read_to_string(stack.data_dir.join("console-credentials"))
            .expect("dev wrote its console credentials");
        let mut lines = text.lines();
        (lines.next().expect("a name").to_owned(), lines.next().expect("a password").to_owned())
    };
    assert_eq!(stack.console_user.0, name);
    assert_eq!(stack.console_user.1.expose_secret(), password);

    // Unauthenticated: sent to the sign-in page.
    client.goto(&console).await.expect("the console opens");
    wait_for_path(&client, "/console/sign-in").await;
    shots.take(&client, "sign-in").await;

    // Signs in with dev's credentials.
    fill(&client, "#name", &name).await;
    fill(&client, "#password", &password).await;
    click(&client, "form.stack button[type=submit]").await;
    wait_for_path(&client, "/console/").await;

    // Creates a connection; its token is shown once.
    client.goto(&format!("{base}/console/connections")).await.expect("connections");
    fill(&client, "#id", "browser-test").await;
    fill(&client, "#display_name", "Created in the browser").await;
    click(&client, "form.stack button[type=submit]").await;
    let token =
        client.wait().at_most(PATIENCE).for_element(Locator::Css("#secret-value")).await.expect("the token is shown");
    let token = token.text().await.expect("its text").trim().to_owned();
    assert!(token.starts_with("scimc_"), "a bearer token: {token}");
    shots.take(&client, "token-shown-once").await;

    // The token works against the SCIM API.
    let scim = stack.scim_base_url();
    assert_eq!(scim_status(&scim, &token).await, 200, "the new token is accepted");

    // The call is in the audit log (once the audit service has recorded it).
    let audit = format!("{base}/console/audit?connection=browser-test&kind=scim_call");
    wait_until("the call appears in the audit page", || async {
        client.goto(&audit).await.expect("the audit page");
        client.source().await.is_ok_and(|html| html.contains("/scim/v2/Users") && html.contains("browser-test"))
    })
    .await;
    shots.take(&client, "audit").await;
    click(&client, "#audit-records tbody a").await;
    wait_until("a record's detail opens", || async { path_of(&client).await.starts_with("/console/audit/records/") })
        .await;
    shots.take(&client, "audit-record").await;

    // Revokes the token: the next call is refused.
    client.goto(&format!("{base}/console/connections/browser-test")).await.expect("the connection's page");
    shots.take(&client, "connection").await;
    click(&client, "form[action$='/revoke'] button").await;
    wait_until("the token is revoked", || async {
        client.source().await.is_ok_and(|html| html.contains("The token is revoked."))
    })
    .await;
    assert_eq!(scim_status(&scim, &token).await, 401, "a revoked token is refused");

    // Disables the connection.
    click(&client, "form[action$='/disable'] button").await;
    wait_until("the connection is disabled", || async {
        client.source().await.is_ok_and(|html| html.contains("The connection is disabled"))
    })
    .await;
    assert!(
        !stack
            .connections
            .get(&"browser-test".parse().expect("an id"))
            .await
            .expect("the store")
            .expect("the connection")
            .enabled
    );
    shots.take(&client, "connection-disabled").await;

    // The other pages render.
    for (path, shot) in [
        ("/console/", "overview"),
        ("/console/connections", "connections"),
        ("/console/secret-servers", "secret-servers"),
        ("/console/calls", "calls"),
        ("/console/dead-letters", "dead-letters"),
    ] {
        client.goto(&format!("{base}{path}")).await.expect("a page");
        wait_for_path(&client, path).await;
        client.find(Locator::Css("main h1")).await.unwrap_or_else(|e| panic!("{path} has a heading: {e}"));
        shots.take(&client, shot).await;
    }

    // Signs out: sent to the sign-in page, and the console is closed again.
    click(&client, "form.signout button").await;
    wait_for_path(&client, "/console/sign-in").await;
    client.goto(&format!("{base}/console/connections")).await.expect("the console");
    wait_for_path(&client, "/console/sign-in").await;

    // Signs in again with dev's Secret Server account (a member of the emulator's console group).
    let (ss_name, ss_password) = {
        let text = std::fs::read_to_string(stack.data_dir.join("console-ss-credentials"))
            .expect("dev wrote its Secret Server console account");
        let mut lines = text.lines();
        (lines.next().expect("a name").to_owned(), lines.next().expect("a password").to_owned())
    };
    client
        .find(Locator::Css("#via"))
        .await
        .expect("the sign-in choice")
        .select_by_value("primary")
        .await
        .expect("instance primary is offered");
    fill(&client, "#name", &ss_name).await;
    fill(&client, "#password", &ss_password).await;
    click(&client, "form.stack button[type=submit]").await;
    wait_for_path(&client, "/console/").await;
    let header = format!("ss:primary:{ss_name}");
    wait_until("the header names the Secret Server account", || async {
        client.source().await.is_ok_and(|html| html.contains(&header))
    })
    .await;
    click(&client, "form.signout button").await;
    wait_for_path(&client, "/console/sign-in").await;

    client.close().await.expect("the browser closes");
    stack.shutdown().await;
}
