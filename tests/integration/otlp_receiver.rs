//! A real OTLP receiver on 127.0.0.1 for tests (no container runtime needed): tonic gRPC
//! `TraceService/Export` and HTTP/protobuf `POST /v1/traces`, decoded with
//! `opentelemetry-proto`. What it stores it serves back in the documented response shapes of
//! Jaeger's api_v3 (`GET /api/v3/traces/{id}`), Tempo (`GET /api/v2/traces/{id}`) and SigNoz
//! (`GET /api/v1/traces/{id}`, API key required), plus every health path the catalog probes.
//!
//! Also here: the misbehaving peers `verify` must explain — a port that accepts and never
//! answers, an HTTP server that answers 404 to everything, and a TLS-only endpoint.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::ResourceSpans;
use prost::Message;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The API key the fake SigNoz query API accepts.
pub const SIGNOZ_KEY: &str = "test-signoz-key";

#[derive(Default)]
struct Store {
    /// What arrived, with the time it arrived.
    received: Mutex<Vec<(Instant, ResourceSpans)>>,
    /// How long after arrival spans become visible to the query APIs.
    query_delay: Mutex<Duration>,
    grpc_exports: AtomicUsize,
    http_exports: AtomicUsize,
}

impl Store {
    fn add(&self, request: ExportTraceServiceRequest) {
        let now = Instant::now();
        let mut received = self.received.lock().unwrap();
        received.extend(request.resource_spans.into_iter().map(|rs| (now, rs)));
    }

    /// Visible resource spans, each cut down to the spans of `trace_id`.
    fn trace(&self, trace_id: &[u8]) -> Vec<ResourceSpans> {
        let delay = *self.query_delay.lock().unwrap();
        let received = self.received.lock().unwrap();
        let mut out = Vec::new();
        for (at, rs) in received.iter() {
            if at.elapsed() < delay {
                continue;
            }
            let mut rs = rs.clone();
            for scope in &mut rs.scope_spans {
                scope.spans.retain(|s| s.trace_id == trace_id);
            }
            rs.scope_spans.retain(|s| !s.spans.is_empty());
            if !rs.scope_spans.is_empty() {
                out.push(rs);
            }
        }
        out
    }
}

/// A running receiver; it stops with the test process.
pub struct Receiver {
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    store: Arc<Store>,
    runtime: Arc<tokio::runtime::Runtime>,
}

fn bind(port: u16) -> TcpListener {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{port}: {e}"));
    listener.set_nonblocking(true).unwrap();
    listener
}

/// A port nothing listens on right now (bound to 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Receiver {
    /// Binds 127.0.0.1:0 for both protocols and serves on a background runtime thread.
    pub fn start() -> Receiver {
        Receiver::start_on(0, 0)
    }

    /// Like [`Receiver::start`] on fixed ports (0 = any free port).
    pub fn start_on(grpc: u16, http: u16) -> Receiver {
        let runtime = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .unwrap(),
        );
        let store = Arc::new(Store::default());
        let grpc_listener = bind(grpc);
        let grpc_addr = grpc_listener.local_addr().unwrap();
        let service = TraceServiceServer::new(GrpcReceiver(store.clone()));
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(grpc_listener).unwrap();
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        let receiver = Receiver {
            grpc_addr,
            http_addr: grpc_addr,
            store,
            runtime,
        };
        let http_addr = receiver.serve_http_on(http);
        Receiver {
            http_addr,
            ..receiver
        }
    }

    /// Serves the HTTP side (OTLP/HTTP, query APIs, health) on one more port; returns its address.
    pub fn serve_http_on(&self, port: u16) -> SocketAddr {
        let listener = bind(port);
        let addr = listener.local_addr().unwrap();
        let store = self.store.clone();
        self.runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let store = store.clone();
                tokio::spawn(async move {
                    let _ = serve_connection(stream, &store).await;
                });
            }
        });
        addr
    }

    /// Spans become visible to the query APIs only this long after they arrived.
    pub fn set_query_delay(&self, delay: Duration) {
        *self.store.query_delay.lock().unwrap() = delay;
    }

    /// Everything received so far.
    pub fn resource_spans(&self) -> Vec<ResourceSpans> {
        let received = self.store.received.lock().unwrap();
        received.iter().map(|(_, rs)| rs.clone()).collect()
    }

    /// Waits until at least `count` spans arrived (or `timeout` passed) and returns what did.
    pub fn wait_for_spans(&self, count: usize, timeout: Duration) -> Vec<ResourceSpans> {
        let end = Instant::now() + timeout;
        loop {
            let spans = self.resource_spans();
            if span_count(&spans) >= count || Instant::now() >= end {
                return spans;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Export requests received over gRPC and over HTTP.
    pub fn exports(&self) -> (usize, usize) {
        (
            self.store.grpc_exports.load(Ordering::SeqCst),
            self.store.http_exports.load(Ordering::SeqCst),
        )
    }
}

/// The number of spans in some `ResourceSpans`.
pub fn span_count(resource_spans: &[ResourceSpans]) -> usize {
    resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

struct GrpcReceiver(Arc<Store>);

#[tonic::async_trait]
impl TraceService for GrpcReceiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.0.grpc_exports.fetch_add(1, Ordering::SeqCst);
        self.0.add(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// One parsed HTTP/1.1 request.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Splits a request head + body out of `buffer` once it is complete.
fn parse_request(buffer: &[u8]) -> Option<Request> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&buffer[..end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let rest = &buffer[end + 4..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest)?
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        rest.get(..length)?.to_vec()
    };
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// A complete chunked body, or `None` while more is to come.
fn dechunk(mut rest: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

async fn serve_connection(mut stream: tokio::net::TcpStream, store: &Store) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 8192];
    let request = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if buffer[0] == 0x16 {
            // A TLS ClientHello on a plaintext port is a malformed request: answer 400 in plain
            // HTTP, as Go's net/http does, which the client's TLS layer then rejects.
            let reply = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n400 Bad Request";
            stream.write_all(reply).await?;
            return stream.shutdown().await;
        }
        if let Some(request) = parse_request(&buffer) {
            break request;
        }
    };
    let (status, content_type, body) = respond(&request, store);
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        404 => "Not Found",
        415 => "Unsupported Media Type",
        _ => "Bad Request",
    }
}

const JSON: &str = "application/json";

fn respond(request: &Request, store: &Store) -> (u16, &'static str, Vec<u8>) {
    let path = request.path.split('?').next().unwrap_or_default();
    let json_reply = |status: u16, value: Value| (status, JSON, value.to_string().into_bytes());
    match (request.method.as_str(), path) {
        ("POST", "/v1/traces") => {
            let protobuf = request.header("content-type").is_some_and(|t| {
                t.starts_with("application/x-protobuf") || t.starts_with("application/protobuf")
            });
            if !protobuf {
                return json_reply(415, json!({"message": "unsupported content type"}));
            }
            match ExportTraceServiceRequest::decode(request.body.as_slice()) {
                Ok(export) => {
                    store.http_exports.fetch_add(1, Ordering::SeqCst);
                    store.add(export);
                    // The real collector sets an empty partial_success (`0a 00`).
                    let body = ExportTraceServiceResponse {
                        partial_success: Some(Default::default()),
                    }
                    .encode_to_vec();
                    (200, "application/x-protobuf", body)
                }
                Err(e) => json_reply(400, json!({"message": e.to_string()})),
            }
        }
        // Recorded from the real Collector and Jaeger (tests/integration/real_fixtures.rs):
        // the collector's health_check extension (`/`, and SigNoz's ingester on `/health`),
        // Jaeger's healthcheckv2 and its api_v3 service list.
        ("GET", "/" | "/health") => recorded("collector-health"),
        ("GET", "/status") => recorded("jaeger-status"),
        ("GET", "/api/v3/services") => recorded("jaeger-services"),
        // Tempo (plain text), Grafana and SigNoz cannot run here: from their sources.
        ("GET", "/ready") => (200, "text/plain", b"ready\n".to_vec()),
        ("GET", "/api/health") => json_reply(
            200,
            json!({"database": "ok", "version": "12.0.0", "commit": "0000000"}),
        ),
        ("GET", "/api/v1/health") => json_reply(200, json!({"status": "ok"})),
        // Phoenix (recorded from the real server): health, readiness, and its span list by
        // trace id, one entry a span with the id under context.trace_id in hex.
        ("GET", "/healthz") => recorded("phoenix-healthz"),
        ("GET", "/readyz") => recorded("phoenix-readyz"),
        ("GET", "/v1/projects/default/spans") => {
            let id = request
                .path
                .split_once("trace_id=")
                .map_or("", |(_, rest)| rest.split('&').next().unwrap_or_default());
            let mut data: Vec<Value> = lookup(store, id)
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| {
                    json!({
                        "id": "U3BhbjoxMA==",
                        "name": s.name,
                        "context": {"trace_id": hex(&s.trace_id), "span_id": hex(&s.span_id)},
                        "span_kind": "UNKNOWN",
                        "parent_id": (!s.parent_span_id.is_empty()).then(|| hex(&s.parent_span_id)),
                        "start_time": "2026-01-01T00:00:00Z",
                        "end_time": "2026-01-01T00:00:01Z",
                        "status_code": "UNSET",
                        "status_message": "",
                        "attributes": {},
                        "events": []
                    })
                })
                .collect();
            // Newest first, as Phoenix sorts by default (`sort=id`, `order=desc`).
            data.reverse();
            json_reply(200, json!({"next_cursor": null, "data": data}))
        }
        ("GET", path) if path.starts_with("/api/v3/traces/") => {
            let spans = lookup(store, &path["/api/v3/traces/".len()..]);
            if spans.is_empty() {
                // Jaeger's api_v3 gateway (http_gateway.go) answers a missing trace with
                // http.Error: 404, text/plain, a JSON error object and a newline.
                let body = json!({"error": {"httpCode": 404, "message": "No traces found"}});
                return (
                    404,
                    "text/plain; charset=utf-8",
                    format!("{body}\n").into_bytes(),
                );
            }
            // The real api_v3 answers with text/plain too (recorded: jaeger-trace).
            let body = json!({"result": {"resourceSpans": otlp_json(&spans, Ids::Hex)}});
            (
                200,
                "text/plain; charset=utf-8",
                body.to_string().into_bytes(),
            )
        }
        ("GET", path) if path.starts_with("/api/v2/traces/") => {
            let spans = lookup(store, &path["/api/v2/traces/".len()..]);
            if spans.is_empty() {
                return (404, "text/plain", b"trace not found".to_vec());
            }
            // Tempo marshals tempopb.TraceByIDResponse with gogo jsonpb (combiner/common.go);
            // its Span.trace_id is plain `bytes`, so ids come out as base64, enums as names.
            let trace = json!({"resourceSpans": otlp_json(&spans, Ids::Base64)});
            json_reply(
                200,
                json!({"trace": trace, "metrics": {}, "status": "COMPLETE"}),
            )
        }
        ("GET", path) if path.starts_with("/api/v1/traces/") => {
            if request.header("SIGNOZ-API-KEY") != Some(SIGNOZ_KEY) {
                return json_reply(401, json!({"status": "error", "error": "unauthenticated"}));
            }
            let id = &path["/api/v1/traces/".len()..];
            let rows: Vec<Value> = lookup(store, id)
                .iter()
                .flat_map(|rs| &rs.scope_spans)
                .flat_map(|s| &s.spans)
                .map(|s| {
                    json!([
                        s.start_time_unix_nano / 1_000_000,
                        hex(&s.span_id),
                        hex(&s.trace_id),
                        "kneo_agent",
                        s.name
                    ])
                })
                .collect();
            json_reply(
                200,
                json!([{"columns": ["__time", "SpanId", "TraceId", "ServiceName", "Name"], "events": rows, "isSubTree": false}]),
            )
        }
        _ => json_reply(404, json!({"message": "not found"})),
    }
}

/// A response recorded from a real server (`tests/fixtures/real/<name>.json`), served as is.
fn recorded(name: &str) -> (u16, &'static str, Vec<u8>) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/real")
        .join(format!("{name}.json"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let content_type = match fixture["content_type"].as_str().unwrap() {
        "application/json" => JSON,
        "text/plain; charset=utf-8" => "text/plain; charset=utf-8",
        other => panic!("fixture {name}: content type {other} not served by the fake"),
    };
    let status = fixture["status"].as_u64().unwrap() as u16;
    // A plain-text body is recorded as a string; JSON as itself.
    let body = match &fixture["body"] {
        Value::String(text) => text.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    (status, content_type, body)
}

fn lookup(store: &Store, id: &str) -> Vec<ResourceSpans> {
    let bytes: Option<Vec<u8>> = (0..id.len() / 2)
        .map(|i| u8::from_str_radix(id.get(2 * i..2 * i + 2)?, 16).ok())
        .collect();
    match bytes {
        Some(bytes) if bytes.len() == 16 => store.trace(&bytes),
        _ => Vec::new(),
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn value_json(value: &Option<AnyValue>) -> Value {
    match value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => json!({"stringValue": s}),
        Some(any_value::Value::IntValue(i)) => json!({"intValue": i.to_string()}),
        Some(any_value::Value::BoolValue(b)) => json!({"boolValue": b}),
        Some(any_value::Value::DoubleValue(d)) => json!({"doubleValue": d}),
        _ => json!({}),
    }
}

fn attributes_json(attributes: &[KeyValue]) -> Value {
    attributes
        .iter()
        .map(|kv| json!({"key": kv.key, "value": value_json(&kv.value)}))
        .collect()
}

/// How a backend's JSON writes ids and enums.
#[derive(Clone, Copy)]
enum Ids {
    /// OTLP JSON (Jaeger's api_v3, pdata-based): hex ids, enums as numbers.
    Hex,
    /// gogo jsonpb (Tempo): base64 ids, enums as names.
    Base64,
}

/// OTLP JSON `resourceSpans` in one backend's dialect.
fn otlp_json(spans: &[ResourceSpans], ids: Ids) -> Value {
    let id = |bytes: &[u8]| match ids {
        Ids::Hex => hex(bytes),
        Ids::Base64 => base64(bytes),
    };
    let kind = |kind: i32| match ids {
        Ids::Hex => json!(kind),
        Ids::Base64 => json!(
            opentelemetry_proto::tonic::trace::v1::span::SpanKind::try_from(kind)
                .map(|k| k.as_str_name())
                .unwrap_or("SPAN_KIND_UNSPECIFIED")
        ),
    };
    spans
        .iter()
        .map(|rs| {
            let scopes: Vec<Value> = rs
                .scope_spans
                .iter()
                .map(|ss| {
                    let spans: Vec<Value> = ss
                        .spans
                        .iter()
                        .map(|s| {
                            let mut span = json!({
                                "traceId": id(&s.trace_id),
                                "spanId": id(&s.span_id),
                                "parentSpanId": id(&s.parent_span_id),
                                "name": s.name,
                                "kind": kind(s.kind),
                                "startTimeUnixNano": s.start_time_unix_nano.to_string(),
                                "endTimeUnixNano": s.end_time_unix_nano.to_string(),
                                "attributes": attributes_json(&s.attributes),
                            });
                            if let Ids::Hex = ids {
                                // As recorded from Jaeger's api_v3 (jaeger-trace): attributes
                                // sorted by key, no empty parentSpanId, an empty status.
                                let mut attributes = s.attributes.clone();
                                attributes.sort_by(|a, b| a.key.cmp(&b.key));
                                span["attributes"] = attributes_json(&attributes);
                                if s.parent_span_id.is_empty() {
                                    span.as_object_mut().unwrap().remove("parentSpanId");
                                }
                                span["status"] = json!({});
                            }
                            span
                        })
                        .collect();
                    json!({"scope": {"name": ss.scope.as_ref().map(|s| s.name.clone())}, "spans": spans})
                })
                .collect();
            let resource = rs.resource.as_ref().map(|r| attributes_json(&r.attributes));
            json!({"resource": {"attributes": resource}, "scopeSpans": scopes})
        })
        .collect()
}

/// A port that accepts connections and never answers; it holds them until the test ends.
pub fn silent_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    port
}

/// An HTTP server that answers every request with 404.
pub fn not_found_port() -> u16 {
    answering_port(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
    )
}

/// An HTTP server that answers every request with this raw response.
pub fn answering_port(response: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                while parse_request(&buffer).is_none() {
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = stream.write_all(response);
            });
        }
    });
    port
}

/// A TLS-only HTTP endpoint (self-signed certificate for 127.0.0.1, made with rcgen); after
/// the handshake it answers every request with 404. Plaintext clients get a TLS alert.
pub fn tls_only_port() -> u16 {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                while parse_request(&buffer).is_none() {
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                }
                let _ = tls.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

/// A loopback listener that records every connection and every byte sent to it, and answers
/// each complete request with `response` (another program holding a port).
pub struct Recorder {
    pub port: u16,
    connections: Arc<AtomicUsize>,
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl Recorder {
    pub fn start(response: &'static [u8]) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let (count, all) = (connections.clone(), bytes.clone());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let all = all.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 8192];
                    loop {
                        match stream.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                all.lock().unwrap().extend_from_slice(&chunk[..n]);
                                buffer.extend_from_slice(&chunk[..n]);
                            }
                        }
                        if parse_request(&buffer).is_some() {
                            buffer.clear();
                            if stream.write_all(response).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        Recorder {
            port,
            connections,
            bytes,
        }
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Everything received so far, as text.
    pub fn received(&self) -> String {
        String::from_utf8_lossy(&self.bytes.lock().unwrap()).to_string()
    }
}

/// An exposed stack's OTLP/HTTP front door: TLS with the server certificate and key the folder's
/// `secrets/front-door.env` holds (signed by its `secrets/ca.crt`), accepting every
/// `POST /v1/traces` that carries `token`, 401 without it.
pub fn tls_front_door(port: u16, cert_pem: &str, key_pem: &str, token: &str) {
    use rustls::pki_types::pem::PemObject;
    let cert = rustls::pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes()).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap(),
    );
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let wanted = format!("Bearer {token}");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (config, wanted) = (config.clone(), wanted.clone());
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 8192];
                let request = loop {
                    if let Some(request) = parse_request(&buffer) {
                        break request;
                    }
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                    }
                };
                let reply: &[u8] = if request.method == "POST"
                    && request.path == "/v1/traces"
                    && request.header("authorization") == Some(wanted.as_str())
                {
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                } else {
                    b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                };
                let _ = tls.write_all(reply);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
}
