//! A value built from files, rebuilt when their content changes.

use crate::files::{TlsError, read};
use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The value built from `files` last, shared by the handshakes that read it.
#[derive(Debug)]
pub(crate) struct Reloading<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Reloading<T> {
    /// What new handshakes use.
    pub(crate) fn current(&self) -> Arc<T> {
        self.current.read().clone()
    }
}

/// One file to watch and what it is (for messages).
pub(crate) type Watched = (&'static str, PathBuf);

/// The files' content, hashed together: a change of any (or of a symlink's target) changes it.
fn fingerprint(files: &[Watched]) -> Result<[u8; 32], TlsError> {
    let mut hash = Sha256::new();
    for (what, path) in files {
        let content = read(what, path)?;
        hash.update((content.len() as u64).to_be_bytes());
        hash.update(&content);
    }
    Ok(hash.finalize().into())
}

/// Builds the value now (an error names the file), then rebuilds it every `interval` in which the
/// files' content changed, for as long as the returned value is held. A rebuild that fails keeps
/// the previous value (and says why once per content seen).
///
/// # Errors
/// A file that cannot be read or used, or no Tokio runtime to poll on.
pub(crate) fn watch<T, F>(files: Vec<Watched>, interval: Duration, build: F) -> Result<Arc<Reloading<T>>, TlsError>
where
    T: Send + Sync + 'static,
    F: Fn() -> Result<T, TlsError> + Send + Sync + 'static,
{
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| TlsError::Config("certificate files are watched from a Tokio runtime".to_owned()))?;
    // Built first, so that a file that reads but does not parse is reported as such.
    let shared = Arc::new(Reloading { current: RwLock::new(Arc::new(build()?)) });
    let applied = fingerprint(&files)?;
    runtime.spawn(poll(Arc::downgrade(&shared), files, interval, applied, build));
    Ok(shared)
}

async fn poll<T, F>(
    shared: Weak<Reloading<T>>,
    files: Vec<Watched>,
    interval: Duration,
    mut applied: [u8; 32],
    build: F,
) where
    F: Fn() -> Result<T, TlsError>,
{
    let mut refused = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else { return };
        let outcome = fingerprint(&files).map(|seen| (seen != applied).then_some(seen));
        let seen = match outcome {
            Ok(None) => continue,
            Ok(Some(seen)) => seen,
            Err(error) => {
                let message = error.to_string();
                if refused.as_ref() != Some(&message) {
                    tracing::warn!(error = %message, "TLS files changed but cannot be read: the previous certificate stays in use");
                    refused = Some(message);
                }
                continue;
            }
        };
        match build() {
            Ok(value) => {
                *shared.current.write() = Arc::new(value);
                applied = seen;
                refused = None;
                let names: Vec<_> = files.iter().map(|(_, p)| p.display().to_string()).collect();
                tracing::info!(files = ?names, "TLS files changed: new handshakes use them");
            }
            Err(error) => {
                let message = error.to_string();
                if refused.as_ref() != Some(&message) {
                    tracing::warn!(error = %message, "TLS files changed but are not usable yet: the previous certificate stays in use");
                    refused = Some(message);
                }
            }
        }
    }
}
