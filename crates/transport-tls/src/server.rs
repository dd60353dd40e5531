//! Server side: the HTTPS listeners' configuration (a certificate resolver that follows the files)
//! and the adapter's gRPC listener (the whole configuration follows the files, client CA included).

use crate::files::{self, CA, CERT, KEY, TlsError};
use crate::reload::{Reloading, watch};
use crate::{PROTOCOL_VERSIONS, provider};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// A server certificate (chain, leaf first) and its private key, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The TLS of an HTTPS listener: its certificate follows the files.
#[derive(Debug, Clone)]
pub struct ServerTls {
    resolver: Arc<FollowingCert>,
}

/// The certificate read last, for every handshake.
#[derive(Debug)]
struct FollowingCert(Arc<Reloading<CertifiedKey>>);

impl ResolvesServerCert for FollowingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.current())
    }
}

impl ServerTls {
    /// Reads the certificate and key now, and again whenever they change (checked every `poll`).
    ///
    /// # Errors
    /// A file that is missing, unreadable or unusable (the message names it), or a key that does
    /// not belong to the certificate.
    pub fn load(files: &ServerTlsFiles, poll: Duration) -> Result<Self, TlsError> {
        let (cert, key) = (files.cert.clone(), files.key.clone());
        let watched = vec![(CERT, cert.clone()), (KEY, key.clone())];
        let current = watch(watched, poll, move || files::certified_key(&cert, &key))?;
        Ok(Self { resolver: Arc::new(FollowingCert(current)) })
    }

    /// A configuration for an HTTPS listener (actix-web adds the ALPN protocols): TLS 1.2 and 1.3,
    /// no client certificate.
    ///
    /// # Errors
    /// None in practice: the protocol versions are the provider's.
    pub fn http_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        Ok(rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(PROTOCOL_VERSIONS)
            .map_err(|e| TlsError::Config(format!("TLS protocol versions: {e}")))?
            .with_no_client_auth()
            .with_cert_resolver(self.resolver.clone()))
    }

    /// The certificate chain new handshakes present (leaf first).
    pub fn current_chain(&self) -> Vec<rustls::pki_types::CertificateDer<'static>> {
        self.resolver.0.current().cert.clone()
    }
}

/// A certificate and key, and the CA that the peer's certificate must chain to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MutualTlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA bundle that clients' certificates must chain to.
    pub client_ca: PathBuf,
}

/// The TLS of the adapter's gRPC listener: only clients whose certificate chains to the client CA
/// complete the handshake. The whole configuration follows the files.
#[derive(Debug, Clone)]
pub struct GrpcServerTls {
    config: Arc<Reloading<rustls::ServerConfig>>,
}

fn grpc_server_config(files: &MutualTlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(format!("TLS protocol versions: {e}")))?;
    // An empty client CA path: TLS without client certificates (see `without_client_certificates`).
    let builder = if files.client_ca.as_os_str().is_empty() {
        builder.with_no_client_auth()
    } else {
        let unusable =
            |e| TlsError::Invalid { what: CA, path: files.client_ca.clone(), reason: format!("is unusable: {e}") };
        let roots = files::roots(&files.client_ca)?;
        builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(roots, provider()).build().map_err(unusable)?,
        )
    };
    let key = files::certified_key(&files.cert, &files.key)?;
    let mut config = builder.with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(key)));
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// How long a client may take to complete its handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl GrpcServerTls {
    /// Reads the files now, and again whenever they change (checked every `poll`).
    ///
    /// # Errors
    /// A file that is missing, unreadable or unusable (the message names it).
    pub fn load(files: &MutualTlsFiles, poll: Duration) -> Result<Self, TlsError> {
        let watched = vec![(CERT, files.cert.clone()), (KEY, files.key.clone()), (CA, files.client_ca.clone())];
        let owned = files.clone();
        let config = watch(watched, poll, move || grpc_server_config(&owned))?;
        Ok(Self { config })
    }

    /// TLS without client certificates (the callers then prove themselves otherwise, e.g. with a
    /// shared secret in the gRPC metadata).
    ///
    /// # Errors
    /// A file that is missing, unreadable or unusable (the message names it).
    pub fn without_client_certificates(files: &ServerTlsFiles, poll: Duration) -> Result<Self, TlsError> {
        let watched = vec![(CERT, files.cert.clone()), (KEY, files.key.clone())];
        let owned = MutualTlsFiles { cert: files.cert.clone(), key: files.key.clone(), client_ca: PathBuf::new() };
        let config = watch(watched, poll, move || grpc_server_config(&owned))?;
        Ok(Self { config })
    }

    /// The connections of `listener` that completed a handshake, for
    /// `tonic::transport::Server::serve_with_incoming*`. Handshakes run apart from the accept
    /// loop, so a slow client delays no one; a failed one is logged and dropped. Accepting stops
    /// when the stream is dropped.
    pub fn incoming(
        &self,
        listener: TcpListener,
    ) -> impl futures::Stream<Item = Result<TlsConnection, std::io::Error>> + Send + use<> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<TlsConnection>(64);
        let config = self.config.clone();
        tokio::spawn(async move {
            loop {
                let (tcp, remote) = tokio::select! {
                    _ = tx.closed() => return,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(error) => {
                            tracing::warn!(%error, "gRPC listener: accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                // Small answers must not wait for the peer's delayed ACK.
                let _ = tcp.set_nodelay(true);
                let acceptor = tokio_rustls::TlsAcceptor::from(config.current());
                let tx = tx.clone();
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send(TlsConnection { inner: tls, remote }).await;
                        }
                        Ok(Err(error)) => tracing::info!(%remote, %error, "gRPC TLS handshake refused"),
                        Err(_) => tracing::info!(%remote, "gRPC TLS handshake timed out"),
                    }
                });
            }
        });
        futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|c| c.map(Ok)))
    }
}

/// A gRPC connection that completed its TLS handshake.
#[derive(Debug)]
pub struct TlsConnection {
    inner: tokio_rustls::server::TlsStream<TcpStream>,
    remote: SocketAddr,
}

impl TlsConnection {
    /// The client's certificate (leaf), when it presented one.
    pub fn peer_certificate(&self) -> Option<&rustls::pki_types::CertificateDer<'static>> {
        self.inner.get_ref().1.peer_certificates().and_then(|c| c.first())
    }
}

impl tonic::transport::server::Connected for TlsConnection {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.inner.get_ref().0.local_addr().ok(),
            remote_addr: Some(self.remote),
        }
    }
}

impl AsyncRead for TlsConnection {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConnection {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}
