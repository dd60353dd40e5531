//! Secret Server over HTTPS: the client trusts a private CA only when the instance names it in
//! `ca_file`, never skips verification, and refuses `http://` unless the instance allows it.

use crate::helpers::client_config;
use secret_server_client::{ClientError, RetryPolicy, SecretServerClient};
use secret_server_sim::{RunningSim, SimConfig, spawn};
use transport_tls::ServerTlsFiles;
use transport_tls::testing::TestCa;

/// The emulator serving HTTPS with a certificate from a CA made for this test; the CA's PEM is
/// written to `ca.pem` in `dir`.
async fn emulator_over_https(dir: &tempfile::TempDir) -> RunningSim {
    let ca = TestCa::new("Secret Server test CA");
    ca.write(&dir.path().join("ca.pem"));
    let (cert, key) = (dir.path().join("server.pem"), dir.path().join("server.key"));
    ca.server().write(&cert, &key);
    let sim = spawn(SimConfig { tls: Some(ServerTlsFiles { cert, key }), ..SimConfig::for_tests() })
        .await
        .expect("the emulator starts over HTTPS");
    assert!(sim.base_url().starts_with("https://"), "{}", sim.base_url());
    sim
}

#[tokio::test]
async fn a_client_given_the_ca_file_signs_in_and_calls_over_https() {
    let dir = tempfile::tempdir().unwrap();
    let sim = emulator_over_https(&dir).await;
    let mut config = client_config(&sim);
    config.ca_file = Some(dir.path().join("ca.pem"));
    let client = SecretServerClient::new(config).expect("the client builds with the CA file");

    let me = client.current_user().await.expect("the call succeeds over HTTPS");

    assert_eq!(me.user_name, sim.api_username());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_without_the_ca_file_refuses_the_unknown_certificate_before_sending_anything() {
    let dir = tempfile::tempdir().unwrap();
    let sim = emulator_over_https(&dir).await;
    let mut config = client_config(&sim);
    config.retry = RetryPolicy::none();
    let client = SecretServerClient::new(config).expect("the client builds with the system's trust store");

    let err = client.current_user().await.expect_err("the emulator's certificate is not trusted");

    assert!(matches!(err, ClientError::Connect { .. } | ClientError::Transport { .. }), "{err:?}");
    assert!(sim.request_log().is_empty(), "no request got through: {:?}", sim.request_log());
    sim.shutdown().await;
}

#[tokio::test]
async fn a_ca_file_that_cannot_be_read_fails_the_client_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let sim = emulator_over_https(&dir).await;
    let mut config = client_config(&sim);
    config.ca_file = Some(dir.path().join("missing-ca.pem"));

    let err = SecretServerClient::new(config).expect_err("a missing CA file is a configuration error");

    assert!(matches!(&err, ClientError::Config(m) if m.contains("missing-ca.pem")), "{err:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn an_http_url_is_refused_unless_the_instance_allows_it() {
    let sim = spawn(SimConfig::for_tests()).await.expect("the emulator starts over plain HTTP");
    let mut config = client_config(&sim);
    config.allow_insecure_http = false;

    let err = SecretServerClient::new(config).expect_err("http:// is refused by default");

    assert!(matches!(&err, ClientError::Config(m) if m.contains("allow_insecure_http")), "{err:?}");
    assert!(SecretServerClient::new(client_config(&sim)).is_ok(), "allowed, http:// builds");
    sim.shutdown().await;
}
