//! The test trace: two GenAI spans (an `invoke_agent` root and a `chat` child) with random ids,
//! built with the official OTLP protobuf types.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, span::SpanKind};

/// `gen_ai.agent.name` of the test trace; search the UI for it.
pub const AGENT_NAME: &str = "kneo-otel-verify";

/// A test trace and the ids to look it up by.
#[derive(Debug, Clone)]
pub struct TestTrace {
    pub trace_id: [u8; 16],
    pub span_ids: Vec<[u8; 8]>,
    pub request: ExportTraceServiceRequest,
}

impl TestTrace {
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }
}

/// Lowercase hex, as trace-by-id URLs and OTLP JSON write ids.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn nonzero<const N: usize>() -> [u8; N] {
    loop {
        let id: [u8; N] = rand::random();
        if id.iter().any(|b| *b != 0) {
            return id;
        }
    }
}

fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

fn int(key: &str, value: i64) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(Value::IntValue(value)),
        }),
        ..Default::default()
    }
}

fn nanos(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default()
}

/// A fresh trace for `service_name`, ending now.
pub fn build(service_name: &str) -> TestTrace {
    let trace_id = nonzero::<16>();
    let root_id = nonzero::<8>();
    let chat_id = nonzero::<8>();
    // A conversation id of its own: the GenAI conventions say a trace id SHOULD NOT stand in
    // for one.
    let conversation = format!("kneo-otel-verify-{}", hex(&nonzero::<8>()));
    let end = SystemTime::now();
    let start = end - Duration::from_millis(40);
    let root = Span {
        trace_id: trace_id.to_vec(),
        span_id: root_id.to_vec(),
        name: format!("invoke_agent {AGENT_NAME}"),
        kind: SpanKind::Internal as i32,
        start_time_unix_nano: nanos(start),
        end_time_unix_nano: nanos(end),
        attributes: vec![
            text("gen_ai.operation.name", "invoke_agent"),
            text("gen_ai.agent.name", AGENT_NAME),
            text(
                "gen_ai.agent.description",
                "test trace sent by `kneo-otel verify`",
            ),
            text("gen_ai.provider.name", "kneo-otel"),
            text("gen_ai.conversation.id", &conversation),
        ],
        ..Default::default()
    };
    let chat = Span {
        trace_id: trace_id.to_vec(),
        span_id: chat_id.to_vec(),
        parent_span_id: root_id.to_vec(),
        name: format!("chat {AGENT_NAME}"),
        kind: SpanKind::Client as i32,
        start_time_unix_nano: nanos(start + Duration::from_millis(5)),
        end_time_unix_nano: nanos(end - Duration::from_millis(5)),
        attributes: vec![
            text("gen_ai.operation.name", "chat"),
            text("gen_ai.provider.name", "kneo-otel"),
            text("gen_ai.request.model", AGENT_NAME),
            text("gen_ai.response.model", AGENT_NAME),
            int("gen_ai.usage.input_tokens", 1),
            int("gen_ai.usage.output_tokens", 1),
        ],
        ..Default::default()
    };
    let request = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    text("service.name", service_name),
                    text("telemetry.sdk.name", "kneo-otel"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "kneo-otel verify".to_string(),
                    version: env!("CARGO_PKG_VERSION").to_string(),
                    ..Default::default()
                }),
                spans: vec![root, chat],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    TestTrace {
        trace_id,
        span_ids: vec![root_id, chat_id],
        request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn the_trace_round_trips_through_protobuf() {
        let trace = build("my-agent");
        let bytes = trace.request.encode_to_vec();
        let back = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap();
        assert_eq!(back, trace.request);
        let spans = &back.resource_spans[0].scope_spans[0].spans;
        assert_eq!(spans.len(), 2);
        assert!(spans.iter().all(|s| s.trace_id == trace.trace_id));
        assert_eq!(spans[1].parent_span_id, trace.span_ids[0]);
        assert_eq!(trace.trace_id_hex().len(), 32);
        assert_ne!(build("x").trace_id, trace.trace_id);
    }
}
