//! GenAI-shaped OTLP traffic for the real-backend tests: agent traces with message attributes
//! of a chosen size, sent over OTLP/HTTP or gRPC the way an SDK sends them, and read back
//! through Jaeger's api_v3 to compare what was stored byte for byte.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use serde_json::Value;

pub fn text(key: &str, value: impl Into<String>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

pub fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

/// A random-looking id from a counter and the clock (unique per process and call).
fn id<const N: usize>(salt: u64) -> [u8; N] {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let seed = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        ^ SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
        ^ salt.rotate_left(17)
        ^ (std::process::id() as u64) << 40;
    let mut out = [0u8; N];
    let mut x = seed | 1;
    for byte in out.iter_mut() {
        // xorshift: ids need only be distinct, not secret
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *byte = x as u8;
    }
    out
}

/// Deterministic printable message content of exactly `bytes` bytes (JSON-ish chat history).
pub fn message_content(bytes: usize, seed: u64) -> String {
    let pattern = format!(
        r#"{{"role":"user","parts":[{{"type":"text","content":"turn {seed}: the agent reads a long tool result "}}]}},"#
    );
    pattern.repeat(bytes / pattern.len() + 1)[..bytes].to_string()
}

/// One agent trace: an `invoke_agent` root and `spans - 1` `chat` children, each carrying a
/// `gen_ai.input.messages` value of `message_bytes` (plus usage, model and a tool name).
pub struct AgentTrace {
    pub request: ExportTraceServiceRequest,
    pub trace_id: [u8; 16],
    pub messages: Vec<String>,
}

impl AgentTrace {
    pub fn trace_id_hex(&self) -> String {
        self.trace_id.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn encoded_len(&self) -> usize {
        self.request.encoded_len()
    }
}

pub fn agent_trace(service: &str, spans: usize, message_bytes: usize) -> AgentTrace {
    let trace_id = id::<16>(spans as u64);
    let root_id = id::<8>(1);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut out = Vec::new();
    let mut messages = Vec::new();
    for index in 0..spans {
        let content = message_content(message_bytes, index as u64);
        let (name, parent, mut attributes) = if index == 0 {
            (
                "invoke_agent research-agent".to_string(),
                Vec::new(),
                vec![
                    text("gen_ai.operation.name", "invoke_agent"),
                    text("gen_ai.agent.name", "research-agent"),
                ],
            )
        } else {
            (
                "chat gpt-4o".to_string(),
                root_id.to_vec(),
                vec![
                    text("gen_ai.operation.name", "chat"),
                    text("gen_ai.request.model", "gpt-4o"),
                    text("gen_ai.provider.name", "openai"),
                    text("gen_ai.tool.name", "search"),
                    int("gen_ai.usage.input_tokens", (message_bytes / 4) as i64),
                    int("gen_ai.usage.output_tokens", 512),
                ],
            )
        };
        attributes.push(text("gen_ai.input.messages", content.clone()));
        attributes.push(text("gen_ai.output.messages", format!("answer {index}")));
        messages.push(content);
        out.push(Span {
            trace_id: trace_id.to_vec(),
            span_id: if index == 0 {
                root_id.to_vec()
            } else {
                id::<8>(index as u64 + 7).to_vec()
            },
            parent_span_id: parent,
            name,
            kind: 1,
            start_time_unix_nano: now + index as u64 * 1_000,
            end_time_unix_nano: now + 5_000_000 + index as u64 * 1_000,
            attributes,
            ..Default::default()
        });
    }
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![text("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "kneo_agent".into(),
                    ..Default::default()
                }),
                spans: out,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    AgentTrace {
        request,
        trace_id,
        messages,
    }
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build(),
    )
}

/// POSTs the request to an OTLP/HTTP endpoint (`http://127.0.0.1:4318`); Ok when the server
/// answered 2xx with a body that decodes as an export response.
pub fn send_http(endpoint: &str, request: &ExportTraceServiceRequest) -> Result<(), String> {
    let body = request.encode_to_vec();
    let mut response = agent(Duration::from_secs(30))
        .post(&format!("{endpoint}/v1/traces"))
        .header("Content-Type", "application/x-protobuf")
        .send(&body[..])
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let bytes = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_vec()
        .map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "HTTP {status}: {}",
            String::from_utf8_lossy(&bytes)
        ));
    }
    opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse::decode(&bytes[..])
        .map(|_| ())
        .map_err(|e| format!("undecodable export response: {e}"))
}

/// Exports over gRPC (`http://127.0.0.1:4317`), no message size cap on the client (as tonic's
/// default), so the server's limit is what is tested.
pub fn send_grpc(endpoint: &str, request: &ExportTraceServiceRequest) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut client = TraceServiceClient::connect(endpoint.to_string())
            .await
            .map_err(|e| e.to_string())?
            .max_encoding_message_size(usize::MAX);
        client
            .export(request.clone())
            .await
            .map(|_| ())
            .map_err(|status| status.to_string())
    })
}

/// The trace as Jaeger's api_v3 returns it, once it holds `spans` spans (bounded wait).
pub fn jaeger_trace(
    query: &str,
    trace_id: &str,
    spans: usize,
    timeout: Duration,
) -> Result<Value, String> {
    let started = Instant::now();
    let mut last;
    loop {
        match agent(Duration::from_secs(30))
            .get(&format!("{query}/api/v3/traces/{trace_id}"))
            .call()
        {
            Ok(mut response) if response.status().is_success() => {
                let bytes = response
                    .body_mut()
                    .with_config()
                    .limit(256 << 20)
                    .read_to_vec()
                    .map_err(|e| e.to_string())?;
                let body: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
                let found = jaeger_spans(&body).len();
                if found >= spans {
                    return Ok(body);
                }
                last = format!("{found} of {spans} spans stored");
            }
            Ok(response) => last = format!("HTTP {}", response.status()),
            Err(error) => last = error.to_string(),
        }
        if started.elapsed() > timeout {
            return Err(format!(
                "trace {trace_id} not complete after {timeout:?}: {last}"
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Every span object of an api_v3 (OTLP JSON) response.
pub fn jaeger_spans(body: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for rs in body["result"]["resourceSpans"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            out.extend(ss["spans"].as_array().into_iter().flatten());
        }
    }
    out
}

/// A string attribute of an OTLP JSON span.
pub fn json_attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|kv| kv["key"] == key)?["value"]["stringValue"]
        .as_str()
}

/// Sends `traces` agent traces (`spans` spans, `message_bytes` per message) over OTLP/HTTP,
/// `per_request` traces per export as an SDK's batch would; returns their trace ids (hex).
pub fn send_many(
    endpoint: &str,
    traces: usize,
    spans: usize,
    message_bytes: usize,
    per_request: usize,
) -> Vec<String> {
    let mut ids = Vec::new();
    let mut pending = ExportTraceServiceRequest::default();
    for index in 0..traces {
        let trace = agent_trace("kneo_agent", spans, message_bytes);
        ids.push(trace.trace_id_hex());
        pending.resource_spans.extend(trace.request.resource_spans);
        if (index + 1) % per_request == 0 || index + 1 == traces {
            send_until_accepted(endpoint, &pending, Duration::from_secs(30));
            pending = ExportTraceServiceRequest::default();
        }
    }
    ids
}

/// Sends until the server accepts: a refusal under memory pressure (503) is retryable, as the
/// SDKs retry it. Panics after `patience`.
pub fn send_until_accepted(
    endpoint: &str,
    request: &ExportTraceServiceRequest,
    patience: Duration,
) {
    let started = Instant::now();
    loop {
        match send_http(endpoint, request) {
            Ok(()) => return,
            Err(error) if started.elapsed() > patience => {
                panic!("export refused for {patience:?}: {error}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Still ingesting: one more agent trace of `spans` spans, sent to the OTLP/HTTP endpoint
/// `otlp` (retried while refused, for up to 30 s) and read back whole from Jaeger's query API
/// at `query` within `timeout`.
pub fn probe_jaeger(
    otlp: &str,
    query: &str,
    spans: usize,
    message_bytes: usize,
    timeout: Duration,
) -> Result<Value, String> {
    let probe = agent_trace("kneo_agent", spans, message_bytes);
    send_until_accepted(otlp, &probe.request, Duration::from_secs(30));
    jaeger_trace(query, &probe.trace_id_hex(), spans, timeout)
}
