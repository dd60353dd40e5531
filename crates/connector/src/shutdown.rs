//! The shutdown signal: Ctrl-C or SIGTERM (what Kubernetes and docker send) cancels a token that
//! every role watches, and starts the grace period (`shutdown_grace`): each role's orderly stop
//! fits in it (jobs in flight finish or are released, the audit spool is flushed), and when
//! something does not (a Redis or a Secret Server that never answers), the process exits at its
//! end anyway. The deadline runs on a thread of its own, so that nothing the runtime waits on can
//! hold it up.

use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A token cancelled on the first Ctrl-C or SIGTERM; the process exits `grace` later at the latest.
pub(crate) fn on_signal(grace: Duration) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(grace = ?grace, "shutdown requested; stopping");
        cancel.cancel();
        let started = std::thread::Builder::new().name("shutdown-deadline".to_owned()).spawn(move || {
            std::thread::sleep(grace);
            tracing::error!(grace = ?grace, "the orderly shutdown did not finish within the grace period; exiting now");
            std::process::exit(1);
        });
        if let Err(e) = started {
            tracing::warn!(error = %e, "cannot start the shutdown deadline; the orderly shutdown has no bound");
        }
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
