//! Test utilities (feature `testing`): an in-process OTLP/HTTP receiver.
//!
//! [`OtlpReceiver`] listens on a free loopback port, accepts `POST /v1/traces` with
//! `application/x-protobuf` bodies (an `ExportTraceServiceRequest`), and keeps the spans it
//! received so that a test can assert on whole traces: point `OTEL_EXPORTER_OTLP_ENDPOINT` at
//! [`OtlpReceiver::endpoint`] before `init`. The global tracer is process-wide, so a test that
//! exports spans belongs in its own test binary.

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use parking_lot::Mutex;
use prost::Message;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest export request accepted (the SDK's batches are far smaller).
const MAX_BODY: usize = 32 * 1024 * 1024;

/// One span as the receiver got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedSpan {
    pub name: String,
    /// 32 lowercase hex digits.
    pub trace_id: String,
    /// 16 lowercase hex digits.
    pub span_id: String,
    /// `None` for a root span.
    pub parent_span_id: Option<String>,
    /// The `service.name` resource attribute of the exporting process.
    pub service_name: Option<String>,
    /// The OTLP span kind (1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// String, integer and boolean attributes, rendered as strings.
    pub attributes: BTreeMap<String, String>,
}

/// An in-process OTLP/HTTP trace receiver.
#[derive(Debug)]
pub struct OtlpReceiver {
    addr: SocketAddr,
    spans: Arc<Mutex<Vec<ReceivedSpan>>>,
    server: actix_web::dev::ServerHandle,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn attribute_text(kv: &KeyValue) -> Option<String> {
    match kv.value.as_ref()?.value.as_ref()? {
        AnyValue::StringValue(s) => Some(s.clone()),
        AnyValue::IntValue(i) => Some(i.to_string()),
        AnyValue::BoolValue(b) => Some(b.to_string()),
        AnyValue::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

fn spans_of(request: ExportTraceServiceRequest) -> Vec<ReceivedSpan> {
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        let service_name = resource_spans
            .resource
            .as_ref()
            .and_then(|r| r.attributes.iter().find(|kv| kv.key == "service.name"))
            .and_then(attribute_text);
        for scope_spans in resource_spans.scope_spans {
            for span in scope_spans.spans {
                out.push(ReceivedSpan {
                    name: span.name,
                    trace_id: hex(&span.trace_id),
                    span_id: hex(&span.span_id),
                    parent_span_id: (!span.parent_span_id.is_empty()).then(|| hex(&span.parent_span_id)),
                    service_name: service_name.clone(),
                    kind: span.kind,
                    attributes: span
                        .attributes
                        .iter()
                        .filter_map(|kv| Some((kv.key.clone(), attribute_text(kv)?)))
                        .collect(),
                });
            }
        }
    }
    out
}

async fn receive_traces(
    request: HttpRequest,
    body: web::Bytes,
    spans: web::Data<Mutex<Vec<ReceivedSpan>>>,
) -> HttpResponse {
    let content_type = request.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-protobuf") {
        return HttpResponse::UnsupportedMediaType().body("expected application/x-protobuf");
    }
    match ExportTraceServiceRequest::decode(body) {
        Ok(export) => {
            spans.lock().extend(spans_of(export));
            HttpResponse::Ok()
                .content_type("application/x-protobuf")
                .body(ExportTraceServiceResponse::default().encode_to_vec())
        }
        Err(error) => HttpResponse::BadRequest().body(format!("undecodable ExportTraceServiceRequest: {error}")),
    }
}

impl OtlpReceiver {
    /// Starts the receiver on `127.0.0.1:0` on the current (tokio or actix) runtime.
    ///
    /// # Errors
    ///
    /// When no loopback port can be bound.
    pub async fn start() -> std::io::Result<Self> {
        let spans = web::Data::new(Mutex::new(Vec::new()));
        let data = spans.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .route("/v1/traces", web::post().to(receive_traces))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))?;
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self { addr, spans: spans.into_inner(), server: handle })
    }

    /// The base URL, for `OTEL_EXPORTER_OTLP_ENDPOINT` (the exporter appends `/v1/traces`).
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        self.spans.lock().clone()
    }

    /// Waits until the spans received satisfy `done`, or `patience` passes; returns the spans
    /// either way (the caller asserts on them, so a timeout shows what did arrive).
    pub async fn wait_for(&self, patience: Duration, done: impl Fn(&[ReceivedSpan]) -> bool) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + patience;
        loop {
            let spans = self.spans();
            if done(&spans) || Instant::now() >= deadline {
                return spans;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server.
    pub async fn stop(self) {
        self.server.stop(true).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_receiver_decodes_an_export_request() {
        use opentelemetry_proto::tonic::common::v1::AnyValue as Any;
        use opentelemetry_proto::tonic::resource::v1::Resource;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

        let receiver = OtlpReceiver::start().await.unwrap();
        let string = |s: &str| Some(Any { value: Some(AnyValue::StringValue(s.into())) });
        let request = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![KeyValue {
                        key: "service.name".into(),
                        value: string("gateway"),
                        ..Default::default()
                    }],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "POST /scim/v2/Users".into(),
                        trace_id: vec![0xab; 16],
                        span_id: vec![0x01; 8],
                        kind: 2,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
        };
        let body = request.encode_to_vec();
        let response = tokio::task::spawn_blocking({
            let url = format!("{}/v1/traces", receiver.endpoint());
            move || post_protobuf(&url, &body)
        })
        .await
        .unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let spans = receiver.spans();
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].name, "POST /scim/v2/Users");
        assert_eq!(spans[0].trace_id, "ab".repeat(16));
        assert_eq!(spans[0].parent_span_id, None);
        assert_eq!(spans[0].service_name.as_deref(), Some("gateway"));
        receiver.stop().await;
    }

    /// A minimal HTTP/1.1 POST, so that this test needs no HTTP client dependency.
    fn post_protobuf(url: &str, body: &[u8]) -> String {
        use std::io::{Read, Write};
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut stream = std::net::TcpStream::connect(host).unwrap();
        let head = format!(
            "POST /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-protobuf\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(body).unwrap();
        let mut response = String::new();
        let mut bytes = Vec::new();
        stream.read_to_end(&mut bytes).unwrap();
        response.push_str(&String::from_utf8_lossy(&bytes));
        response
    }
}
