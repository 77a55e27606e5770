//! The generated smoke crate against the real crates (slow, so `#[ignore]`d; `scripts/test`
//! runs them): built for each protocol × flavor in one shared target dir (`target/smoke`),
//! run against the test OTLP receiver, and run with nothing listening.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};

use crate::otlp_receiver::Receiver;
use crate::support::*;

/// Cargo builds in one target dir at a time anyway; holding this keeps the test threads from
/// queueing on cargo's lock with timeouts running.
static BUILD: Mutex<()> = Mutex::new(());

/// This repository's target dir (or `$CARGO_TARGET_DIR`): the generated crates live in
/// `smoke-crates/` and share the target dir `smoke/`, so their dependencies are built once.
fn target_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    if target.is_absolute() {
        target
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(target)
    }
}

/// Generates the crate `name` with the real binary, builds it, returns the executable.
pub(crate) fn build_smoke(name: &str, args: &[&str]) -> PathBuf {
    let target = target_dir();
    let crate_dir = target.join("smoke-crates").join(name);
    kneo()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["snippet", "--dir", "no-such-stack", "--force", "--crate"])
        .arg(&crate_dir)
        .args(args)
        .assert()
        .success();
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let out = Command::new(env!("CARGO"))
        .arg("build")
        .arg("--manifest-path")
        .arg(crate_dir.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", target.join("smoke"))
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo build of {name} failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "the generated crate {name} compiles with warnings:\n{stderr}"
    );
    target.join("smoke/debug").join(name)
}

/// Runs a smoke binary with only the given OTEL_* variables set.
pub(crate) fn run(binary: &Path, env: &[(&str, String)]) -> Output {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") {
            command.env_remove(key);
        }
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.output().unwrap()
}

fn attribute<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn string<'a>(attributes: &'a [KeyValue], key: &str) -> &'a str {
    match attribute(attributes, key) {
        Some(Value::StringValue(s)) => s,
        other => panic!("{key} is {other:?}, not a string"),
    }
}

fn int(attributes: &[KeyValue], key: &str) -> i64 {
    match attribute(attributes, key) {
        Some(Value::IntValue(i)) => *i,
        other => panic!("{key} is {other:?}, not an int"),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts one agent run arrived: resource, names, parent links, trace id, gen_ai attributes.
pub fn assert_agent_trace(received: &[ResourceSpans], service_name: &str, stdout: &str) {
    let trace_id = stdout
        .split_whitespace()
        .find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no trace id in {stdout:?}"));
    let mut spans: HashMap<String, &Span> = HashMap::new();
    for resource_spans in received {
        let resource = resource_spans.resource.as_ref().expect("a resource");
        assert_eq!(string(&resource.attributes, "service.name"), service_name);
        for span in resource_spans.scope_spans.iter().flat_map(|s| &s.spans) {
            spans.insert(span.name.clone(), span);
        }
    }
    let agent = spans["invoke_agent travel_planner"];
    let chat = spans["chat gpt-4o-mini"];
    let tool = spans["execute_tool get_weather"];
    assert_eq!(spans.len(), 3, "{:?}", spans.keys());
    for span in [agent, chat, tool] {
        assert_eq!(hex(&span.trace_id), trace_id, "{}", span.name);
    }
    assert!(agent.parent_span_id.is_empty());
    assert_eq!(chat.parent_span_id, agent.span_id);
    assert_eq!(tool.parent_span_id, agent.span_id);

    let a = &agent.attributes;
    assert_eq!(string(a, "gen_ai.operation.name"), "invoke_agent");
    assert_eq!(string(a, "gen_ai.agent.name"), "travel_planner");
    assert_eq!(string(a, "gen_ai.provider.name"), "openai");
    let c = &chat.attributes;
    assert_eq!(string(c, "gen_ai.operation.name"), "chat");
    assert_eq!(string(c, "gen_ai.provider.name"), "openai");
    assert_eq!(string(c, "gen_ai.request.model"), "gpt-4o-mini");
    assert_eq!(int(c, "gen_ai.usage.input_tokens"), 42);
    assert_eq!(int(c, "gen_ai.usage.output_tokens"), 17);
    assert_eq!(chat.kind, 3, "chat is a CLIENT span");
    let t = &tool.attributes;
    assert_eq!(string(t, "gen_ai.operation.name"), "execute_tool");
    assert_eq!(string(t, "gen_ai.tool.name"), "get_weather");
}

/// Builds one variant, sends a trace over its own protocol, and asserts it arrived.
fn delivers(protocol: &str, flavor: &str) -> PathBuf {
    let name = format!("smoke-{protocol}-{flavor}");
    let binary = build_smoke(
        &name,
        &[
            "--protocol",
            protocol,
            "--flavor",
            flavor,
            "--service-name",
            "smoke_agent",
        ],
    );
    let receiver = Receiver::start();
    let addr = match protocol {
        "grpc" => receiver.grpc_addr,
        _ => receiver.http_addr,
    };
    let out = run(
        &binary,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{addr}"))],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // shutdown() returned only after the export: everything is there already.
    let received = receiver.wait_for_spans(3, Duration::from_secs(1));
    assert_agent_trace(&received, "smoke_agent", &stdout);
    binary
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_http_sdk() {
    let binary = delivers("http", "sdk");
    // The environment overrides the generated defaults: protocol, endpoint, service name.
    let receiver = Receiver::start();
    let out = run(
        &binary,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", receiver.grpc_addr),
            ),
            ("OTEL_SERVICE_NAME", "from_env".into()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = receiver.wait_for_spans(3, Duration::from_secs(1));
    assert_agent_trace(&received, "from_env", &String::from_utf8_lossy(&out.stdout));
    // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is (no /v1/traces appended).
    let receiver = Receiver::start();
    let out = run(
        &binary,
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://{}/v1/traces", receiver.http_addr),
        )],
    );
    assert!(out.status.success());
    assert_eq!(
        otlp_count(&receiver.wait_for_spans(3, Duration::from_secs(1))),
        3
    );
}

fn otlp_count(received: &[ResourceSpans]) -> usize {
    received
        .iter()
        .flat_map(|r| &r.scope_spans)
        .map(|s| s.spans.len())
        .sum()
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_http_tracing() {
    delivers("http", "tracing");
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_grpc_sdk() {
    delivers("grpc", "sdk");
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_grpc_tracing() {
    let binary = delivers("grpc", "tracing");
    // OTEL_EXPORTER_OTLP_PROTOCOL switches a gRPC module to HTTP.
    let receiver = Receiver::start();
    let out = run(
        &binary,
        &[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".into()),
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", receiver.http_addr),
            ),
        ],
    );
    assert!(out.status.success());
    let received = receiver.wait_for_spans(3, Duration::from_secs(1));
    assert_agent_trace(
        &received,
        "smoke_agent",
        &String::from_utf8_lossy(&out.stdout),
    );
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_not_delivered(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(
        stderr.starts_with("error: spans were not delivered to http"),
        "{what}: {stderr}"
    );
    assert!(out.stdout.is_empty(), "{what}");
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_without_receiver_fails_clearly() {
    for (protocol, env_protocol) in [("http", "http/protobuf"), ("grpc", "grpc")] {
        let binary = build_smoke(
            &format!("smoke-{protocol}-sdk"),
            &["--protocol", protocol, "--service-name", "smoke_agent"],
        );
        let endpoint = format!("http://127.0.0.1:{}", closed_port());
        let out = run(
            &binary,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", env_protocol.into()),
            ],
        );
        assert_not_delivered(&out, protocol);
        assert!(String::from_utf8_lossy(&out.stderr).contains(&endpoint));
    }
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_with_ca_file_compiles_and_starts() {
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-ca.pem");
    let binary = build_smoke(
        "smoke-grpc-tls",
        &["--protocol", "grpc", "--ca-file", ca.to_str().unwrap()],
    );
    // Both transports load the CA and start; with nothing listening, delivery fails.
    for protocol in ["grpc", "http/protobuf"] {
        let out = run(
            &binary,
            &[
                (
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    format!("https://127.0.0.1:{}", closed_port()),
                ),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.into()),
            ],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{protocol}: {stderr}");
        assert!(
            stderr.starts_with("error: spans were not delivered to https://"),
            "{stderr}"
        );
    }
    // A missing CA file stops the start, naming it.
    let out = run(
        &binary,
        &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem".into())],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/ca.pem"));
}

#[test]
#[ignore = "runs cargo add, which reads the crates.io index"]
fn cargo_add_line_matches_the_dependencies() {
    let tmp = repo_tempdir();
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-ca.pem");
    let generated = tmp.path().join("generated");
    kneo()
        .args([
            "snippet",
            "--dir",
            "no-such-stack",
            "--flavor",
            "tracing",
            "--crate",
        ])
        .arg(&generated)
        .arg("--ca-file")
        .arg(&ca)
        .assert()
        .success();
    let module = std::fs::read_to_string(generated.join("src/telemetry.rs")).unwrap();
    let line = module
        .lines()
        .find_map(|l| l.strip_prefix("//! or: `"))
        .and_then(|l| l.strip_suffix('`'))
        .expect("a cargo add line");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(scratch.join("src")).unwrap();
    std::fs::write(
        scratch.join("Cargo.toml"),
        "[package]\nname = \"scratch\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n",
    )
    .unwrap();
    std::fs::write(scratch.join("src/main.rs"), "fn main() {}\n").unwrap();
    for call in line.split(" && ") {
        let words: Vec<&str> = call.split_whitespace().collect();
        assert_eq!(words[..2], ["cargo", "add"], "{call}");
        let out = Command::new(env!("CARGO"))
            .args(&words[1..])
            .current_dir(&scratch)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{call}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dependencies = |text: &str| -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .skip_while(|l| *l != "[dependencies]")
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    let added = std::fs::read_to_string(scratch.join("Cargo.toml")).unwrap();
    let wanted = std::fs::read_to_string(generated.join("Cargo.toml")).unwrap();
    assert_eq!(dependencies(&added), dependencies(&wanted));
}
