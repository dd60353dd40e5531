//! A scripted HTTP/1.1 server for the shapes the emulator does not produce
//! (the short folder-permission answer of some Secret Server versions) and
//! for reading the raw request heads (trace context).

use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One received request: the request line, the lower-cased header lines, the body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub request_line: String,
    pub headers: Vec<String>,
    pub body: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{}: ", name.to_ascii_lowercase());
        self.headers.iter().find_map(|h| h.strip_prefix(prefix.as_str()))
    }
}

pub(crate) struct Scripted {
    pub base_url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

/// Serves `answer(method, path_and_query) -> (status, JSON body)` under `/SecretServer`.
pub(crate) async fn serve(answer: fn(&str, &str) -> (u16, String)) -> Scripted {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base_url = format!("http://{}/SecretServer", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&received);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else { return };
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut reader = BufReader::new(read);
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let mut headers = Vec::new();
                    loop {
                        let mut line = String::new();
                        reader.read_line(&mut line).await.unwrap();
                        let line = line.trim_end().to_ascii_lowercase();
                        if line.is_empty() {
                            break;
                        }
                        headers.push(line);
                    }
                    let length = headers
                        .iter()
                        .find_map(|h| h.strip_prefix("content-length: "))
                        .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                    let mut body = vec![0u8; length];
                    reader.read_exact(&mut body).await.unwrap();
                    let mut parts = request_line.split_whitespace();
                    let (method, target) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
                    let (status, json) = answer(method, target);
                    log.lock().unwrap().push(Received {
                        request_line: request_line.trim_end().to_owned(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let response = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{json}",
                        json.len()
                    );
                    if write.write_all(response.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Scripted { base_url, received }
}
