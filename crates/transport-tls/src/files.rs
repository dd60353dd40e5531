//! Reading PEM files: certificate chains, private keys and CA bundles, with errors that name the file.

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why TLS could not be set up: each names the file (or the setting) at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file that cannot be read.
    #[error("cannot read the {what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file that reads but holds nothing usable.
    #[error("the {what} {} {reason}", path.display())]
    Invalid { what: &'static str, path: PathBuf, reason: String },
    /// A configuration that cannot work as a whole.
    #[error("{0}")]
    Config(String),
}

pub(crate) const CERT: &str = "TLS certificate file";
pub(crate) const KEY: &str = "TLS key file";
pub(crate) const CA: &str = "TLS CA file";

pub(crate) fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.to_owned(), source })
}

fn invalid(what: &'static str, path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Invalid { what, path: path.to_owned(), reason: reason.to_string() }
}

/// The certificates of a PEM file, in order (leaf first for a chain).
pub(crate) fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(what, path, format!("is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(invalid(what, path, "holds no certificate (-----BEGIN CERTIFICATE-----)"));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, PKCS#1 or SEC1).
pub(crate) fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(KEY, path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| invalid(KEY, path, format!("holds no private key: {e}")))
}

/// A certificate chain and its key, checked to belong together.
pub(crate) fn certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(CERT, cert)?;
    let der = private_key(key)?;
    let signing = super::provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| invalid(KEY, key, format!("is unusable: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified
        .keys_match()
        .map_err(|e| invalid(KEY, key, format!("does not belong to the certificate in {}: {e}", cert.display())))?;
    Ok(certified)
}

/// The roots of a CA bundle.
pub(crate) fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in certificates(CA, path)? {
        store.add(cert).map_err(|e| invalid(CA, path, format!("holds an unusable CA certificate: {e}")))?;
    }
    Ok(Arc::new(store))
}
