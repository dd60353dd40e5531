//! Client side: the gateway dialling the adapter over TLS, verifying the adapter's certificate
//! against a configured CA and presenting its own certificate; the configuration follows the files.

use crate::files::{self, CA, CERT, KEY, TlsError};
use crate::reload::{Reloading, watch};
use crate::{PROTOCOL_VERSIONS, provider};
use futures::future::BoxFuture;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::path::PathBuf;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpStream;

/// The CA that the server's certificate must chain to, and the client's own certificate and key
/// (both or neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTlsFiles {
    pub ca: PathBuf,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// A TLS client configuration that follows its files.
#[derive(Debug, Clone)]
pub struct GrpcClientTls {
    config: Arc<Reloading<rustls::ClientConfig>>,
}

fn client_config(files: &ClientTlsFiles) -> Result<rustls::ClientConfig, TlsError> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Config(format!("TLS protocol versions: {e}")))?
        .with_root_certificates(files::roots(&files.ca)?);
    let mut config = match (&files.cert, &files.key) {
        (Some(cert), Some(key)) => {
            let certified = files::certified_key(cert, key)?;
            builder.with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)))
        }
        (None, None) => builder.with_no_client_auth(),
        _ => return Err(TlsError::Config("a client certificate needs both its certificate and its key file".into())),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

impl GrpcClientTls {
    /// Reads the files now, and again whenever they change (checked every `poll`).
    ///
    /// # Errors
    /// A file that is missing, unreadable or unusable (the message names it), or a certificate
    /// without its key.
    pub fn load(files: &ClientTlsFiles, poll: Duration) -> Result<Self, TlsError> {
        let mut watched = vec![(CA, files.ca.clone())];
        watched.extend(files.cert.clone().map(|c| (CERT, c)));
        watched.extend(files.key.clone().map(|k| (KEY, k)));
        let owned = files.clone();
        let config = watch(watched, poll, move || client_config(&owned))?;
        Ok(Self { config })
    }

    /// A connector for `tonic::transport::Endpoint::connect_with_connector*`: TCP, then TLS to
    /// the URI's host name with the configuration read last.
    pub fn connector(&self) -> TlsConnector {
        TlsConnector { config: self.config.clone() }
    }
}

/// Dials a URI over TLS (see [`GrpcClientTls::connector`]).
#[derive(Debug, Clone)]
pub struct TlsConnector {
    config: Arc<Reloading<rustls::ClientConfig>>,
}

impl tower::Service<http::Uri> for TlsConnector {
    type Response = TokioIo<tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = std::io::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let config = self.config.current();
        Box::pin(async move {
            let invalid = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, what.to_owned());
            let host = uri.host().ok_or_else(|| invalid("the adapter URL has no host"))?;
            let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            let port = uri.port_u16().unwrap_or(443);
            let name =
                ServerName::try_from(host.clone()).map_err(|_| invalid("the adapter URL's host is not a name"))?;
            let tcp = TcpStream::connect((host.as_str(), port)).await?;
            // Small requests must not wait for the peer's delayed ACK.
            tcp.set_nodelay(true)?;
            let tls = tokio_rustls::TlsConnector::from(config).connect(name, tcp).await?;
            Ok(TokioIo::new(tls))
        })
    }
}
