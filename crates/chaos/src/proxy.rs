//! What a Kubernetes Service does for the gateway's adapter URL, on one host: each new connection
//! goes to the next *ready* adapter (round robin), readiness being its `/readyz`, polled; an
//! adapter being stopped is taken out first, as its endpoint is removed when its pod terminates.
//! Established connections are left alone: the adapter closes them gracefully when it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// One adapter behind the proxy.
#[derive(Debug)]
struct Backend {
    grpc_port: u16,
    readyz: String,
    /// Its last `/readyz` answered 2xx.
    ready: AtomicBool,
    /// Taken out by the harness (being stopped), whatever `/readyz` says.
    drained: AtomicBool,
}

/// The balancing proxy.
#[derive(Debug, Clone)]
pub struct Balancer {
    backends: Arc<Vec<Backend>>,
    next: Arc<AtomicUsize>,
    pub port: u16,
    cancel: CancellationToken,
}

impl Balancer {
    /// Listens on a free port and balances over adapters given as (gRPC port, `/readyz` URL).
    ///
    /// # Errors
    /// When it cannot listen.
    pub async fn start(adapters: &[(u16, String)]) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let backends = adapters
            .iter()
            .map(|(port, readyz)| Backend {
                grpc_port: *port,
                readyz: readyz.clone(),
                ready: AtomicBool::new(false),
                drained: AtomicBool::new(false),
            })
            .collect();
        let balancer = Self {
            backends: Arc::new(backends),
            next: Arc::new(AtomicUsize::new(0)),
            port: listener.local_addr()?.port(),
            cancel: CancellationToken::new(),
        };
        tokio::spawn(balancer.clone().probe());
        tokio::spawn(balancer.clone().serve(listener));
        Ok(balancer)
    }

    /// Takes adapter `index` out (before it is stopped).
    pub fn drain(&self, index: usize) {
        self.backends[index].drained.store(true, Ordering::SeqCst);
        self.backends[index].ready.store(false, Ordering::SeqCst);
    }

    /// Puts adapter `index` back; it takes connections once its `/readyz` says so.
    pub fn restore(&self, index: usize) {
        self.backends[index].drained.store(false, Ordering::SeqCst);
    }

    /// Stops listening and probing.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    async fn probe(self) {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(1)).build().unwrap_or_default();
        loop {
            for backend in self.backends.iter() {
                let ok = !backend.drained.load(Ordering::SeqCst)
                    && http.get(&backend.readyz).send().await.is_ok_and(|r| r.status().is_success());
                backend.ready.store(ok && !backend.drained.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            tokio::select! {
                () = self.cancel.cancelled() => return,
                () = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    fn pick(&self) -> Option<u16> {
        let n = self.backends.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..n).map(|i| &self.backends[(start + i) % n]).find(|b| b.ready.load(Ordering::SeqCst)).map(|b| b.grpc_port)
    }

    async fn serve(self, listener: TcpListener) {
        loop {
            let accepted = tokio::select! {
                () = self.cancel.cancelled() => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((mut inbound, _)) = accepted else { continue };
            let balancer = self.clone();
            tokio::spawn(async move {
                // No ready adapter: wait a little for one, as a Service's client would see a slow connect.
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                let port = loop {
                    if let Some(port) = balancer.pick() {
                        break port;
                    }
                    if tokio::time::Instant::now() > deadline {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                };
                let Ok(mut outbound) = TcpStream::connect(("127.0.0.1", port)).await else { return };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    }
}
