//! The TLS of our listeners and of the gRPC hop, with certificates made at test time.

use futures::StreamExt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use transport_tls::testing::{TestCa, presented_certificate};
use transport_tls::{
    ClientTlsFiles, GrpcClientTls, GrpcServerTls, MutualTlsFiles, ServerTls, ServerTlsFiles, TlsError,
};

/// Quick polling, so that a rotation shows within a few of the test's handshakes.
const POLL: Duration = Duration::from_millis(50);

struct Files {
    dir: tempfile::TempDir,
    ca: TestCa,
}

impl Files {
    fn new() -> Self {
        let files = Self { dir: tempfile::tempdir().unwrap(), ca: TestCa::new("transport-tls test CA") };
        files.ca.write(&files.path("ca.pem"));
        files
    }

    fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    fn server_files(&self) -> ServerTlsFiles {
        ServerTlsFiles { cert: self.path("server.pem"), key: self.path("server.key") }
    }
}

/// An HTTPS-like listener: completes handshakes with `tls` and answers one line.
async fn serve(tls: &ServerTls) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls.http_config().unwrap()));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(b"hello\n").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_tls_1_2_only_and_a_tls_1_3_only_client_both_complete_a_handshake() {
    let files = Files::new();
    files.ca.server().write(&files.server_files().cert, &files.server_files().key);
    let addr = serve(&ServerTls::load(&files.server_files(), POLL).unwrap()).await;
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let (_, agreed) = presented_certificate(addr, files.ca.client_config(&[version])).await.unwrap();
        assert_eq!(agreed, version.version);
    }
}

/// rustls cannot speak TLS 1.1, so the refusal is shown with OpenSSL's client (Debian's `openssl`
/// package; the test fails when it is missing). Security level 0 lets OpenSSL 3 offer TLS 1.1 at all.
#[tokio::test]
async fn a_tls_1_1_client_is_refused() {
    let files = Files::new();
    files.ca.server().write(&files.server_files().cert, &files.server_files().key);
    let addr = serve(&ServerTls::load(&files.server_files(), POLL).unwrap()).await;
    let run = |version: &'static str| {
        tokio::process::Command::new("openssl")
            .args(["s_client", version, "-cipher", "DEFAULT@SECLEVEL=0", "-connect", &addr.to_string()])
            .stdin(std::process::Stdio::null())
            .output()
    };
    let old = run("-tls1_1").await.expect("this test runs `openssl s_client` (Debian package openssl)");
    let said = String::from_utf8_lossy(&old.stdout).to_string() + &String::from_utf8_lossy(&old.stderr);
    assert!(!old.status.success(), "a TLS 1.1 handshake succeeded: {said}");
    assert!(!said.contains("no protocols available"), "OpenSSL did not offer TLS 1.1 at all: {said}");
    // rustls answers a ClientHello without a version it speaks with a fatal alert.
    assert!(said.contains("alert") && said.contains("Cipher is (NONE)"), "{said}");
    let current = run("-tls1_2").await.unwrap();
    assert!(current.status.success(), "the same client with TLS 1.2 is answered");
}

#[tokio::test]
async fn replacing_both_files_switches_the_certificate_of_the_next_handshakes_without_restart() {
    let files = Files::new();
    let (cert, key) = (files.server_files().cert, files.server_files().key);
    let first = files.ca.server();
    first.write(&cert, &key);
    let addr = serve(&ServerTls::load(&files.server_files(), POLL).unwrap()).await;
    let client = || files.ca.client_config(&[&rustls::version::TLS13]);
    assert_eq!(presented_certificate(addr, client()).await.unwrap().0, first.der);

    let second = files.ca.server();
    second.write(&cert, &key);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (presented, _) = presented_certificate(addr, client()).await.unwrap();
        if presented == second.der {
            break;
        }
        assert_eq!(presented, first.der, "only the old or the new certificate is ever served");
        assert!(tokio::time::Instant::now() < deadline, "the new certificate was never served");
        tokio::time::sleep(POLL).await;
    }
}

#[tokio::test]
async fn a_certificate_without_its_new_key_keeps_the_previous_pair_in_use() {
    let files = Files::new();
    let (cert, key) = (files.server_files().cert, files.server_files().key);
    let first = files.ca.server();
    first.write(&cert, &key);
    let tls = ServerTls::load(&files.server_files(), POLL).unwrap();
    // Half a rotation: the new certificate, the old key.
    std::fs::write(&cert, files.ca.server().cert).unwrap();
    // Several polls pass; the pair in use stays the one that matches.
    tokio::time::sleep(POLL * 5).await;
    assert_eq!(tls.current_chain()[0], first.der);
}

#[tokio::test]
async fn a_missing_file_fails_at_start_with_one_line_naming_it() {
    let files = Files::new();
    let error = ServerTls::load(&files.server_files(), POLL).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, TlsError::Read { .. }));
    assert!(message.contains("server.pem"), "{message}");
    assert!(!message.contains('\n'), "{message}");

    std::fs::write(files.path("server.pem"), "not a certificate").unwrap();
    let message = ServerTls::load(&files.server_files(), POLL).unwrap_err().to_string();
    assert!(message.contains("server.pem") && message.contains("no certificate"), "{message}");
}

/// The adapter's side: a gRPC listener that requires client certificates from `ca`.
async fn grpc_listener(
    files: &Files,
) -> (SocketAddr, impl futures::Stream<Item = std::io::Result<transport_tls::TlsConnection>> + use<>) {
    files.ca.server().write(&files.path("server.pem"), &files.path("server.key"));
    let tls = GrpcServerTls::load(
        &MutualTlsFiles {
            cert: files.path("server.pem"),
            key: files.path("server.key"),
            client_ca: files.path("ca.pem"),
        },
        POLL,
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (addr, tls.incoming(listener))
}

/// Dials `addr` as the gateway does, with `client` as its certificate, and sends a byte.
async fn dial(
    files: &Files,
    addr: SocketAddr,
    client: Option<&transport_tls::testing::Issued>,
) -> std::io::Result<Vec<u8>> {
    let (cert, key) = match client {
        Some(issued) => {
            issued.write(&files.path("client.pem"), &files.path("client.key"));
            (Some(files.path("client.pem")), Some(files.path("client.key")))
        }
        None => (None, None),
    };
    let tls = GrpcClientTls::load(&ClientTlsFiles { ca: files.path("ca.pem"), cert, key }, POLL).unwrap();
    let uri: http::Uri = format!("https://localhost:{}", addr.port()).parse().unwrap();
    let io = tower::ServiceExt::oneshot(tls.connector(), uri).await?;
    let mut io = io.into_inner();
    io.write_all(b"x").await?;
    let mut answer = Vec::new();
    io.read_to_end(&mut answer).await?;
    Ok(answer)
}

#[tokio::test]
async fn the_grpc_listener_admits_a_client_whose_certificate_chains_to_its_ca() {
    let files = Files::new();
    let (addr, mut incoming) = grpc_listener(&files).await;
    let client = files.ca.client("scim-gateway");
    let dialled = tokio::spawn({
        let client = client.clone();
        async move {
            let files = files;
            dial(&files, addr, Some(&client)).await
        }
    });
    let mut connection = incoming.next().await.expect("a connection").expect("a handshake");
    let mut byte = [0u8; 1];
    connection.read_exact(&mut byte).await.unwrap();
    connection.write_all(b"ok").await.unwrap();
    connection.shutdown().await.unwrap();
    assert_eq!(dialled.await.unwrap().unwrap(), b"ok");
}

#[tokio::test]
async fn the_grpc_listener_refuses_a_client_with_an_unknown_certificate_or_none() {
    let files = Files::new();
    let (addr, mut incoming) = grpc_listener(&files).await;
    let stranger = TestCa::new("an unknown CA").client("stranger");
    assert!(dial(&files, addr, Some(&stranger)).await.is_err(), "a certificate from another CA is refused");
    assert!(dial(&files, addr, None).await.is_err(), "a client without a certificate is refused");
    // The next connection the service sees is the first one with a good certificate.
    let known = files.ca.client("scim-gateway");
    let dialled = tokio::spawn(async move { dial(&files, addr, Some(&known)).await });
    let mut connection = incoming.next().await.expect("a connection").expect("a handshake");
    let mut byte = [0u8; 1];
    connection.read_exact(&mut byte).await.unwrap();
    let peer = connection.peer_certificate().cloned().expect("a client certificate");
    connection.shutdown().await.unwrap();
    assert!(dialled.await.unwrap().is_ok());
    assert!(String::from_utf8_lossy(peer.as_ref()).contains("scim-gateway"), "the stranger never reached the service");
}
