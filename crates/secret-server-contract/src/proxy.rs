//! Two small HTTP servers for contract tests: a [`RecordingProxy`] that sits between a client and a
//! Secret Server (the emulator) and keeps every request and answer whole, bodies included; and a
//! [`ScriptedVault`] that answers each request with what a test computes from it.

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use parking_lot::Mutex;
use serde_json::Value;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

/// One request and its answer as they crossed the proxy.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// The path as sent (`/SecretServer/api/v1/users/42`), without the query.
    pub path: String,
    /// The raw query string (`skip=0&take=1000`), empty when there is none.
    pub query: String,
    pub request_body: Vec<u8>,
    pub status: u16,
    pub response_content_type: Option<String>,
    pub response_body: Vec<u8>,
}

impl Exchange {
    /// `GET /SecretServer/api/v1/users?skip=0`.
    pub fn line(&self) -> String {
        if self.query.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            format!("{} {}?{}", self.method, self.path, self.query)
        }
    }

    /// The path under a Secret Server base path (`/api/v1/users/42` under `/SecretServer`).
    pub fn path_under(&self, base_path: &str) -> &str {
        let base = base_path.trim_end_matches('/');
        match self.path.get(..base.len()) {
            Some(head) if head.eq_ignore_ascii_case(base) => &self.path[base.len()..],
            _ => &self.path,
        }
    }

    /// Whether the answer is JSON (not an HTML page or an empty body).
    pub fn answered_json(&self) -> bool {
        serde_json::from_slice::<Value>(&self.response_body).is_ok()
    }
}

struct ProxyState {
    upstream: String,
    http: reqwest::Client,
    exchanges: Mutex<Vec<Exchange>>,
}

/// A proxy that forwards every request to one upstream origin unchanged and records it with its
/// answer.
pub struct RecordingProxy {
    addr: SocketAddr,
    state: web::Data<ProxyState>,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for RecordingProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingProxy").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// The headers a client sends that the upstream needs.
const FORWARDED_REQUEST_HEADERS: [&str; 4] = ["authorization", "content-type", "accept", "traceparent"];
/// The headers of an answer the client reads.
const FORWARDED_RESPONSE_HEADERS: [&str; 3] = ["content-type", "retry-after", "cache-control"];

async fn forward(req: HttpRequest, body: web::Bytes, state: web::Data<ProxyState>) -> HttpResponse {
    let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let url = format!("{}{}", state.upstream, path_and_query);
    let method = reqwest::Method::from_bytes(req.method().as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
    let mut upstream = state.http.request(method, url).body(body.to_vec());
    for name in FORWARDED_REQUEST_HEADERS {
        if let Some(value) = req.headers().get(name) {
            upstream = upstream.header(name, value.as_bytes());
        }
    }
    let (status, headers, answer) = match upstream.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let headers: Vec<(String, Vec<u8>)> = FORWARDED_RESPONSE_HEADERS
                .iter()
                .filter_map(|name| response.headers().get(*name).map(|v| ((*name).to_owned(), v.as_bytes().to_vec())))
                .collect();
            let answer = response.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
            (status, headers, answer)
        }
        Err(e) => (502, Vec::new(), format!("proxy: {e}").into_bytes()),
    };
    state.exchanges.lock().push(Exchange {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        query: req.uri().query().unwrap_or_default().to_owned(),
        request_body: body.to_vec(),
        status,
        response_content_type: headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned()),
        response_body: answer.clone(),
    });
    let mut response = HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in headers {
        response.insert_header((name, value));
    }
    response.body(answer)
}

impl RecordingProxy {
    /// Starts a proxy on a free loopback port in front of `upstream`, an origin such as
    /// `http://127.0.0.1:8081` (paths are forwarded as they come).
    ///
    /// # Errors
    /// The port cannot be bound or the HTTP client cannot be built.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        // The workspace builds reqwest without a crypto provider; the first client installs ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let state = web::Data::new(ProxyState {
            upstream: upstream.trim_end_matches('/').to_owned(),
            http,
            exchanges: Mutex::new(Vec::new()),
        });
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let app_state = state.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(web::PayloadConfig::new(16 * 1024 * 1024))
                .default_service(web::to(forward))
        })
        .disable_signals()
        .workers(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        Ok(Self { addr, state, handle, server })
    }

    /// `http://127.0.0.1:<port>` followed by `base_path` (`/SecretServer`).
    pub fn url(&self, base_path: &str) -> String {
        format!("http://{}{}", self.addr, base_path)
    }

    /// Every exchange so far, oldest first.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.exchanges.lock().clone()
    }

    /// Forgets the exchanges so far.
    pub fn clear(&self) {
        self.state.exchanges.lock().clear();
    }

    /// Stops the proxy.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
    }
}

/// What a [`ScriptedVault`] is asked: the method, the path and the raw query.
#[derive(Debug, Clone)]
pub struct Asked {
    pub method: String,
    pub path: String,
    pub query: String,
}

type Script = dyn Fn(&Asked) -> (u16, Value) + Send + Sync;

/// A server that answers `<base>/oauth2/token` with a token, and every other request with what
/// its script says (a status and a JSON body).
pub struct ScriptedVault {
    addr: SocketAddr,
    handle: ServerHandle,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl std::fmt::Debug for ScriptedVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptedVault").field("addr", &self.addr).finish_non_exhaustive()
    }
}

async fn scripted(req: HttpRequest, script: web::Data<Arc<Script>>) -> HttpResponse {
    if req.path().to_ascii_lowercase().ends_with("/oauth2/token") {
        return HttpResponse::Ok().json(serde_json::json!({
            "access_token": "scripted-token", "token_type": "bearer", "expires_in": 1200
        }));
    }
    let asked = Asked {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        query: req.uri().query().unwrap_or_default().to_owned(),
    };
    let (status, body) = (script.get_ref())(&asked);
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)).json(body)
}

impl ScriptedVault {
    /// Starts the server on a free loopback port.
    ///
    /// # Errors
    /// The port cannot be bound.
    pub async fn start(script: impl Fn(&Asked) -> (u16, Value) + Send + Sync + 'static) -> anyhow::Result<Self> {
        let script: web::Data<Arc<Script>> = web::Data::new(Arc::new(script));
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let server = HttpServer::new(move || App::new().app_data(script.clone()).default_service(web::to(scripted)))
            .disable_signals()
            .workers(1)
            .listen(listener)?
            .run();
        let handle = server.handle();
        let server = tokio::spawn(server);
        Ok(Self { addr, handle, server })
    }

    /// `http://127.0.0.1:<port>/SecretServer`.
    pub fn base_url(&self) -> String {
        format!("http://{}/SecretServer", self.addr)
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.handle.stop(true).await;
        let _ = self.server.await;
    }
}
