//! Logs and spans: one span per request, named by its route template, and no password or token in
//! any log line. A test binary of its own because it installs a global subscriber (the emulator's
//! HTTP workers log from their own threads).

use secret_server_sim::{SimConfig, spawn};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

#[tokio::test]
async fn spans_are_named_by_route_template_and_no_secret_is_logged() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let logs = Captured::default();
    tracing_subscriber::fmt()
        .with_writer(logs.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .init();

    let sim = spawn(SimConfig::for_tests()).await.unwrap();
    let http = reqwest::Client::new();
    let grant = test_support::emulator::grant(&http, &sim).await;
    let token = grant["access_token"].as_str().unwrap().to_owned();
    let refresh = grant["refresh_token"].as_str().unwrap().to_owned();
    let user_password = "Never-Logged-Passw0rd!";
    let created: serde_json::Value = test_support::json_of(
        http.post(format!("{}/api/v1/users", sim.base_url()))
            .bearer_auth(&token)
            .json(&serde_json::json!({"userName": "logged.user", "password": user_password, "enabled": true})),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let read = http.get(format!("{}/api/v1/users/{id}", sim.base_url())).bearer_auth(&token).send().await.unwrap();
    assert!(read.status().is_success());

    // Span close events are written as the request's future completes, just after the response.
    let mut text = logs.text();
    for _ in 0..100 {
        if text.contains("GET /SecretServer/api/v1/users/{id}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        text = logs.text();
    }
    sim.shutdown().await;
    let text = logs.text();
    assert!(text.contains("otel.name=GET /SecretServer/api/v1/users/{id}"), "route-template span:\n{text}");
    assert!(text.contains("http.route=/SecretServer/api/v1/users/{id}"), "route-template span:\n{text}");
    assert!(text.contains("POST /SecretServer/oauth2/token"), "the token endpoint has its span:\n{text}");
    assert!(!text.contains(&format!("/api/v1/users/{id}")), "spans are not named by the raw URL:\n{text}");
    for secret in [sim_password(), user_password, &token, &refresh] {
        assert!(!text.contains(secret), "a secret leaked into the logs:\n{text}");
    }
}

fn sim_password() -> &'static str {
    secret_server_sim::TEST_API_PASSWORD
}
