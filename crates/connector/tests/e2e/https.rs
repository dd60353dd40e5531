//! `scim-connector dev --tls-cert --tls-key`: the SCIM API over HTTPS only, and a certificate
//! replaced on disk served to the next handshakes without a restart (the binary, run as is).

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use transport_tls::testing::{TestCa, presented_certificate};

/// The `dev` process, killed when the test ends.
struct Dev(Child);

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `dev` serving HTTPS with `cert` and `key` on a free port, once its first handshake succeeds.
/// Another test may take the port between the probe and dev's bind: a dev that exits while
/// starting is started again on another port (three tries), and its log is shown when it fails.
async fn serving_tls(
    dir: &Path,
    cert: &Path,
    key: &Path,
    client: &impl Fn() -> rustls::ClientConfig,
) -> (Dev, std::net::SocketAddr) {
    for attempt in 1..=3 {
        let addr: std::net::SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let log = dir.join(format!("dev-{attempt}.log"));
        let mut dev = Dev(Command::new(env!("CARGO_BIN_EXE_scim-connector"))
            .env_clear()
            .env("SCIMC_DATA_DIR", dir.join(format!("data-{attempt}")))
            .env("SCIMC_LOG_FORMAT", "json")
            .args(["dev", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()])
            .args(["--gateway-listen", &addr.to_string(), "--audit-listen", "127.0.0.1:0"])
            .args(["--adapter-listen", "127.0.0.1:0", "--sim-listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("the binary runs"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            match presented_certificate(addr, client()).await {
                Ok(_) => return (dev, addr),
                Err(error) => {
                    let shown = || std::fs::read_to_string(&log).unwrap_or_default();
                    assert!(tokio::time::Instant::now() < deadline, "dev never served TLS: {error}\n{}", shown());
                    if dev.0.try_wait().unwrap().is_some() {
                        eprintln!("dev exited while starting (attempt {attempt}):\n{}", shown());
                        break;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    panic!("dev exited while starting three times");
}

#[tokio::test]
async fn dev_with_a_certificate_serves_https_only_and_follows_a_replaced_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("e2e CA");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let first = ca.server();
    first.write(&cert, &key);
    let client = || ca.client_config(&[&rustls::version::TLS13, &rustls::version::TLS12]);
    let (_dev, addr) = serving_tls(dir.path(), &cert, &key, &client).await;
    // The listener is up: the first handshake presents the configured certificate.
    let (port, presented) = (addr.port(), presented_certificate(addr, client()).await.unwrap().0);
    assert_eq!(presented, first.der);

    // HTTPS answers the SCIM API.
    let tls = reqwest::Client::builder()
        .tls_backend_preconfigured(client())
        .build()
        .unwrap()
        .get(format!("https://localhost:{port}/scim/v2/ServiceProviderConfig"))
        .send()
        .await
        .expect("an HTTPS answer");
    assert_eq!(tls.status(), 401, "the SCIM API answers over HTTPS (and wants a token)");

    // Plain HTTP on the same port gets no HTTP answer.
    let mut plain = tokio::net::TcpStream::connect(addr).await.unwrap();
    plain.write_all(b"GET /scim/v2/ServiceProviderConfig HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!answer.starts_with(b"HTTP/"), "plain HTTP was answered: {:?}", String::from_utf8_lossy(&answer));

    // Both files replaced: the next handshakes present the new certificate, without a restart.
    let second = ca.server();
    second.write(&cert, &key);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (presented, _) = presented_certificate(addr, client()).await.expect("handshakes go on during the rotation");
        if presented == second.der {
            break;
        }
        assert_eq!(presented, first.der);
        assert!(tokio::time::Instant::now() < deadline, "the replaced certificate was never served");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
