//! Test support (feature `testing`): a CA made at test time with `rcgen` that issues server and
//! client certificates, and a bare TLS client that reports the certificate a server presents.

use rustls::pki_types::{CertificateDer, ServerName};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// A certificate and its key, as PEM.
#[derive(Debug, Clone)]
pub struct Issued {
    pub cert: String,
    pub key: String,
    /// The certificate, DER: what a handshake presents.
    pub der: CertificateDer<'static>,
}

impl Issued {
    /// Writes the certificate and the key (replacing what was there).
    pub fn write(&self, cert: &Path, key: &Path) {
        std::fs::write(cert, &self.cert).expect("the certificate is written");
        std::fs::write(key, &self.key).expect("the key is written");
    }
}

/// A certificate authority made at test time.
#[derive(Debug)]
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    /// The CA certificate, PEM.
    pub pem: String,
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let cert = params.self_signed(&key).expect("a self-signed CA certificate");
        Self { issuer: rcgen::Issuer::new(params, key), pem: cert.pem() }
    }

    fn issue(&self, names: &[&str], usage: rcgen::ExtendedKeyUsagePurpose) -> Issued {
        let mut params = rcgen::CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
            .expect("certificate parameters");
        params.distinguished_name.push(rcgen::DnType::CommonName, names.first().copied().unwrap_or("client"));
        params.extended_key_usages = vec![usage];
        let key = rcgen::KeyPair::generate().expect("a key");
        let cert = params.signed_by(&key, &self.issuer).expect("a certificate signed by the CA");
        Issued { cert: cert.pem(), key: key.serialize_pem(), der: cert.der().clone() }
    }

    /// A server certificate for `localhost` and `127.0.0.1` (each call a new one).
    pub fn server(&self) -> Issued {
        self.issue(&["localhost", "127.0.0.1"], rcgen::ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate named `name`.
    pub fn client(&self, name: &str) -> Issued {
        self.issue(&[name], rcgen::ExtendedKeyUsagePurpose::ClientAuth)
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) {
        std::fs::write(path, &self.pem).expect("the CA certificate is written");
    }

    /// A client configuration trusting this CA, speaking only `versions`.
    pub fn client_config(&self, versions: &[&'static rustls::SupportedProtocolVersion]) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(self.pem.as_bytes()) {
            roots.add(cert.expect("the CA is PEM")).expect("the CA is usable");
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .expect("protocol versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }
}

/// Completes a TLS handshake with `addr` (as `localhost`) and returns the certificate the server
/// presented and the protocol version agreed.
///
/// # Errors
/// A connection or a handshake that fails.
pub async fn presented_certificate(
    addr: SocketAddr,
    config: rustls::ClientConfig,
) -> std::io::Result<(CertificateDer<'static>, rustls::ProtocolVersion)> {
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = ServerName::try_from("localhost").expect("a name");
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp).await?;
    let (_, connection) = tls.get_ref();
    let leaf =
        connection.peer_certificates().and_then(|c| c.first()).cloned().expect("the server presents a certificate");
    let version = connection.protocol_version().expect("a negotiated version");
    Ok((leaf, version))
}
