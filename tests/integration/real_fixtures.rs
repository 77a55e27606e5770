//! Responses recorded from the real Collector and Jaeger (`tests/fixtures/real/`), so the
//! loopback fakes `verify` is tested against (otlp_receiver.rs) cannot drift from the servers:
//! one test asks the real servers again and fails when a response no longer has the recorded
//! status, content type and JSON shape; another asks the fakes and holds them to the same.
//! `KNEO_RECORD_FIXTURES=1` rewrites the files from the real servers.

use std::path::PathBuf;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::{Value, json};

use crate::engine::{self, running_stack};
use crate::genai_traffic::{agent_trace, jaeger_trace, send_http};
use crate::otlp_receiver::Receiver;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real")
}

/// One HTTP answer as recorded: status, content type, body (JSON where it parses).
#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: Value,
}

fn ask(method: &str, url: &str, body: Option<(&str, Vec<u8>)>) -> Answer {
    let agent = ureq::Agent::new_with_config(
        ureq::config::Config::builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build(),
    );
    let mut response = match (method, body) {
        ("POST", Some((content_type, bytes))) => agent
            .post(url)
            .header("Content-Type", content_type)
            .send(&bytes[..])
            .unwrap(),
        _ => agent.get(url).call().unwrap(),
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let bytes = response.body_mut().read_to_vec().unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        // Protobuf and plain text as hex / text, so empty and non-empty bodies differ.
        if content_type.contains("protobuf") {
            json!({ "protobuf_hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() })
        } else {
            Value::String(String::from_utf8_lossy(&bytes).into_owned())
        }
    });
    Answer {
        status,
        content_type,
        body,
    }
}

/// The JSON shape: leaves become their type, arrays their first element's shape.
fn shape(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), shape(v))).collect())
        }
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => Value::Null,
    }
}

fn fixture_path(name: &str) -> PathBuf {
    fixtures().join(format!("{name}.json"))
}

fn load(name: &str) -> Answer {
    let text = std::fs::read_to_string(fixture_path(name))
        .unwrap_or_else(|e| panic!("fixture {name}: {e} (record with KNEO_RECORD_FIXTURES=1)"));
    let value: Value = serde_json::from_str(&text).unwrap();
    Answer {
        status: value["status"].as_u64().unwrap() as u16,
        content_type: value["content_type"].as_str().unwrap().to_string(),
        body: value["body"].clone(),
    }
}

/// Records `answer` as fixture `name` (recording runs), or asserts it still has the recorded
/// status, content type and shape.
fn record_or_compare(name: &str, answer: &Answer) {
    if std::env::var_os("KNEO_RECORD_FIXTURES").is_some() {
        std::fs::create_dir_all(fixtures()).unwrap();
        let value = json!({"status": answer.status, "content_type": answer.content_type, "body": answer.body});
        std::fs::write(
            fixture_path(name),
            serde_json::to_string_pretty(&value).unwrap() + "\n",
        )
        .unwrap();
        return;
    }
    assert_same(name, &load(name), answer);
}

fn assert_same(name: &str, recorded: &Answer, answer: &Answer) {
    assert_eq!(answer.status, recorded.status, "{name}: status");
    assert_eq!(
        answer.content_type, recorded.content_type,
        "{name}: content type"
    );
    assert_eq!(
        shape(&answer.body),
        shape(&recorded.body),
        "{name}: body shape\nnow: {}\nrecorded: {}",
        answer.body,
        recorded.body
    );
}

/// (fixture, path) of every GET the fakes answer for these servers.
const COLLECTOR_GETS: &[(&str, &str)] = &[("collector-health", "/")];
const JAEGER_GETS: &[(&str, &str)] = &[
    ("jaeger-status", "/status"),
    ("jaeger-services", "/api/v3/services"),
];

const PHOENIX_GETS: &[(&str, &str)] = &[
    ("phoenix-healthz", "/healthz"),
    ("phoenix-readyz", "/readyz"),
];

fn empty_export() -> Vec<u8> {
    ExportTraceServiceRequest::default().encode_to_vec()
}

#[test]
fn the_real_servers_still_answer_as_recorded() {
    let _one = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("collector");
    let Some(stack) = running_stack(&dir, "collector", &[]) else {
        return;
    };
    for (name, path) in COLLECTOR_GETS {
        record_or_compare(
            name,
            &ask("GET", &format!("http://127.0.0.1:13133{path}"), None),
        );
    }
    let export = ask(
        "POST",
        "http://127.0.0.1:4318/v1/traces",
        Some(("application/x-protobuf", empty_export())),
    );
    record_or_compare("otlp-http-export", &export);
    drop(stack);

    let dir = tmp.path().join("jaeger");
    let Some(stack) = running_stack(&dir, "jaeger", &[]) else {
        return;
    };
    let trace = agent_trace("kneo_agent", 2, 64);
    send_http("http://127.0.0.1:4318", &trace.request).unwrap();
    jaeger_trace(
        "http://127.0.0.1:16686",
        &trace.trace_id_hex(),
        2,
        Duration::from_secs(20),
    )
    .unwrap();
    // After one trace, so the service list is not empty (Jaeger answers `{}` then).
    for (name, path) in JAEGER_GETS {
        record_or_compare(
            name,
            &ask(
                "GET",
                &format!(
                    "http://127.0.0.1:{}{path}",
                    if *path == "/status" { 13133 } else { 16686 }
                ),
                None,
            ),
        );
    }
    let url = format!(
        "http://127.0.0.1:16686/api/v3/traces/{}",
        trace.trace_id_hex()
    );
    record_or_compare("jaeger-trace", &ask("GET", &url, None));
    let missing = "http://127.0.0.1:16686/api/v3/traces/0123456789abcdef0123456789abcdef";
    record_or_compare("jaeger-trace-missing", &ask("GET", missing, None));
    drop(stack);

    // Phoenix: health, readiness and the span list `verify` reads (its parser is unit-tested
    // against this recording, src/verify/response.rs).
    let dir = tmp.path().join("phoenix");
    let Some(stack) = running_stack(&dir, "phoenix", &[]) else {
        return;
    };
    for (name, path) in PHOENIX_GETS {
        record_or_compare(
            name,
            &ask("GET", &format!("http://127.0.0.1:6006{path}"), None),
        );
    }
    let trace = agent_trace("kneo_agent", 2, 64);
    send_http("http://127.0.0.1:4318", &trace.request).unwrap();
    crate::real_phoenix::phoenix_spans(&trace.trace_id_hex(), 2, &stack);
    let url = format!(
        "http://127.0.0.1:6006/v1/projects/default/spans?trace_id={}",
        trace.trace_id_hex()
    );
    record_or_compare("phoenix-spans", &without_attributes(ask("GET", &url, None)));
}

/// Phoenix's span list without each span's `attributes` (its LLM fields converted from the
/// GenAI attributes, which the fake does not reproduce; `verify` reads only
/// `context.trace_id`).
fn without_attributes(mut answer: Answer) -> Answer {
    for span in answer.body["data"].as_array_mut().into_iter().flatten() {
        span["attributes"] = json!({});
    }
    answer
}

#[test]
fn the_fakes_answer_like_the_recorded_servers() {
    let receiver = Receiver::start();
    let http = format!("http://{}", receiver.http_addr);
    for (name, path) in COLLECTOR_GETS.iter().chain(JAEGER_GETS).chain(PHOENIX_GETS) {
        assert_same(
            name,
            &load(name),
            &ask("GET", &format!("{http}{path}"), None),
        );
    }
    let export = ask(
        "POST",
        &format!("{http}/v1/traces"),
        Some(("application/x-protobuf", empty_export())),
    );
    assert_same("otlp-http-export", &load("otlp-http-export"), &export);
    let trace = agent_trace("kneo_agent", 2, 64);
    send_http(&http, &trace.request).unwrap();
    let found = ask(
        "GET",
        &format!("{http}/api/v3/traces/{}", trace.trace_id_hex()),
        None,
    );
    assert_same("jaeger-trace", &load("jaeger-trace"), &found);
    let missing = ask(
        "GET",
        &format!("{http}/api/v3/traces/0123456789abcdef0123456789abcdef"),
        None,
    );
    assert_same(
        "jaeger-trace-missing",
        &load("jaeger-trace-missing"),
        &missing,
    );
    let spans = ask(
        "GET",
        &format!(
            "{http}/v1/projects/default/spans?trace_id={}",
            trace.trace_id_hex()
        ),
        None,
    );
    assert_same(
        "phoenix-spans",
        &load("phoenix-spans"),
        &without_attributes(spans),
    );
}
