//! Reads trace-by-id responses: counts the spans of one trace id in a body, so a lookup only
//! passes when the backend really returned the test trace.
//!
//! OTLP JSON writes ids as hex (the OTLP spec's exception to proto3 JSON; Jaeger's api_v3 does,
//! per its GetTrace snapshot), while gogo jsonpb writes `bytes` as base64 (Tempo marshals its
//! trace-by-id response that way); both are accepted and compared as bytes.

use anyhow::{Context, Result, bail};
use base64::Engine;
use serde_json::Value;

use crate::catalog::QueryKind;

/// Spans of `trace_id` in a response body of this kind.
pub fn count_spans(kind: QueryKind, body: &[u8], trace_id: &[u8; 16]) -> Result<usize> {
    let json: Value = serde_json::from_slice(body).context("the answer is not JSON")?;
    match kind {
        QueryKind::JaegerV3 => {
            let Some(spans) = json.pointer("/result/resourceSpans") else {
                bail!("the answer has no result.resourceSpans");
            };
            Ok(otlp_spans(spans, trace_id))
        }
        QueryKind::TempoV2 => {
            let Some(trace) = json.get("trace") else {
                bail!("the answer has no `trace`");
            };
            let spans = trace
                .get("resourceSpans")
                .or_else(|| trace.get("batches"))
                .unwrap_or(&Value::Null);
            Ok(otlp_spans(spans, trace_id))
        }
        QueryKind::SignozV1 => Ok(span_rows(&json, &crate::verify::trace::hex(trace_id))),
        QueryKind::PhoenixV1 => {
            let Some(spans) = json.get("data").and_then(Value::as_array) else {
                bail!("the answer has no `data` list");
            };
            Ok(spans
                .iter()
                .filter(|span| {
                    span.pointer("/context/trace_id")
                        .and_then(Value::as_str)
                        .and_then(decode_id)
                        .as_ref()
                        == Some(trace_id)
                })
                .count())
        }
    }
}

/// Spans with this trace id in an OTLP JSON `resourceSpans` array.
fn otlp_spans(resource_spans: &Value, trace_id: &[u8; 16]) -> usize {
    let list = |value: &Value, key: &str| -> Vec<Value> {
        value
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let mut count = 0;
    for resource in resource_spans.as_array().into_iter().flatten() {
        let mut scopes = list(resource, "scopeSpans");
        scopes.extend(list(resource, "instrumentationLibrarySpans"));
        for scope in &scopes {
            for span in list(scope, "spans") {
                let id = span.get("traceId").and_then(Value::as_str);
                if id.and_then(decode_id).as_ref() == Some(trace_id) {
                    count += 1;
                }
            }
        }
    }
    count
}

/// A 16-byte id written as hex or base64.
pub fn decode_id(text: &str) -> Option<[u8; 16]> {
    let bytes = if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..16)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .ok()?
    };
    bytes.try_into().ok()
}

/// Rows of every `events` table (SigNoz's span rows) that hold the trace id as a value.
fn span_rows(json: &Value, trace_hex: &str) -> usize {
    match json {
        Value::Array(items) => items.iter().map(|i| span_rows(i, trace_hex)).sum(),
        Value::Object(map) => map
            .iter()
            .map(|(key, value)| match (key.as_str(), value) {
                ("events", Value::Array(rows)) => rows
                    .iter()
                    .filter(|row| {
                        row.as_array().is_some_and(|cells| {
                            cells.iter().any(|cell| {
                                cell.as_str()
                                    .is_some_and(|s| s.eq_ignore_ascii_case(trace_hex))
                            })
                        })
                    })
                    .count(),
                _ => span_rows(value, trace_hex),
            })
            .sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: [u8; 16] = [
        0x5b, 0x8e, 0xff, 0xf7, 0x98, 0x03, 0x81, 0x03, 0xd2, 0x69, 0xb6, 0x33, 0x81, 0x3f, 0xc6,
        0x0c,
    ];
    const HEX: &str = "5b8efff798038103d269b633813fc60c";
    const B64: &str = "W47/95gDgQPSabYzgT/GDA==";

    fn otlp(id: &str) -> String {
        format!(
            r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"kneo_agent"}}}}]}},
            "scopeSpans":[{{"scope":{{"name":"kneo-otel verify"}},"spans":[
              {{"traceId":"{id}","spanId":"eee19b7ec3c1b174","name":"invoke_agent kneo-otel-verify"}},
              {{"traceId":"{id}","spanId":"eee19b7ec3c1b175","parentSpanId":"eee19b7ec3c1b174","name":"chat"}}]}}]}}]}}"#
        )
    }

    #[test]
    fn ids_decode_from_hex_and_base64() {
        assert_eq!(decode_id(HEX), Some(ID));
        assert_eq!(decode_id(&HEX.to_uppercase()), Some(ID));
        assert_eq!(decode_id(B64), Some(ID));
        assert_eq!(decode_id("abc"), None);
        assert_eq!(decode_id("AAAA"), None);
    }

    #[test]
    fn jaeger_api_v3_result() {
        let body = format!(r#"{{"result":{}}}"#, otlp(HEX));
        assert_eq!(
            count_spans(QueryKind::JaegerV3, body.as_bytes(), &ID).unwrap(),
            2
        );
        let other = format!(
            r#"{{"result":{}}}"#,
            otlp("00000000000000000000000000000001")
        );
        assert_eq!(
            count_spans(QueryKind::JaegerV3, other.as_bytes(), &ID).unwrap(),
            0
        );
        let error = br#"{"error":{"httpCode":404,"message":"trace not found"}}"#;
        assert!(count_spans(QueryKind::JaegerV3, error, &ID).is_err());
        assert!(count_spans(QueryKind::JaegerV3, b"<html>", &ID).is_err());
    }

    #[test]
    fn tempo_v2_trace_with_hex_or_base64_ids() {
        for id in [HEX, B64] {
            let body = format!(
                r#"{{"trace":{},"metrics":{{}},"status":"COMPLETE"}}"#,
                otlp(id)
            );
            assert_eq!(
                count_spans(QueryKind::TempoV2, body.as_bytes(), &ID).unwrap(),
                2
            );
        }
        let empty = br#"{"trace":{},"metrics":{}}"#;
        assert_eq!(count_spans(QueryKind::TempoV2, empty, &ID).unwrap(), 0);
        assert!(count_spans(QueryKind::TempoV2, b"{}", &ID).is_err());
    }

    #[test]
    fn phoenix_v1_spans() {
        // As Phoenix's GET /v1/projects/{project}/spans writes them (routers/v1/spans.py).
        let span = |id: &str| {
            format!(
                r#"{{"id":"U3BhbjoxMA==","name":"chat","context":{{"trace_id":"{id}","span_id":"eee19b7ec3c1b175"}},"span_kind":"LLM","parent_id":"eee19b7ec3c1b174","start_time":"2026-01-01T00:00:00Z","end_time":"2026-01-01T00:00:01Z","status_code":"OK","status_message":"","attributes":{{"llm.token_count.prompt":12}},"events":[]}}"#
            )
        };
        let body = format!(
            r#"{{"data":[{},{},{}],"next_cursor":null}}"#,
            span(HEX),
            span(HEX),
            span("00000000000000000000000000000001")
        );
        assert_eq!(
            count_spans(QueryKind::PhoenixV1, body.as_bytes(), &ID).unwrap(),
            2
        );
        let none = br#"{"data":[],"next_cursor":null}"#;
        assert_eq!(count_spans(QueryKind::PhoenixV1, none, &ID).unwrap(), 0);
        let missing = br#"{"detail":"Project with identifier default not found"}"#;
        assert!(count_spans(QueryKind::PhoenixV1, missing, &ID).is_err());
    }

    #[test]
    fn phoenix_v1_as_recorded_from_the_real_server() {
        // tests/fixtures/real/phoenix-spans.json: a 2-span trace, recorded and re-checked by
        // tests/integration/real_fixtures.rs.
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/real/phoenix-spans.json"
        );
        let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let body = fixture["body"].to_string();
        let id = fixture["body"]["data"][0]["context"]["trace_id"]
            .as_str()
            .and_then(decode_id)
            .unwrap();
        assert_eq!(
            count_spans(QueryKind::PhoenixV1, body.as_bytes(), &id).unwrap(),
            2
        );
        assert_eq!(
            count_spans(QueryKind::PhoenixV1, body.as_bytes(), &ID).unwrap(),
            0
        );
    }

    #[test]
    fn signoz_v1_span_rows() {
        let body = format!(
            r#"[{{"columns":["__time","SpanId","TraceId","ServiceName","Name"],"events":[
              [1700000000000,"eee19b7ec3c1b174","{HEX}","kneo_agent","invoke_agent"],
              [1700000000001,"eee19b7ec3c1b175","{HEX}","kneo_agent","chat"]],"isSubTree":false}}]"#
        );
        assert_eq!(
            count_spans(QueryKind::SignozV1, body.as_bytes(), &ID).unwrap(),
            2
        );
        let wrapped = format!(r#"{{"status":"success","data":{body}}}"#);
        assert_eq!(
            count_spans(QueryKind::SignozV1, wrapped.as_bytes(), &ID).unwrap(),
            2
        );
        assert_eq!(count_spans(QueryKind::SignozV1, b"[]", &ID).unwrap(), 0);
    }
}
