//! The generated Rust module against the real crates (slow, so `#[ignore]`d; `scripts/test`
//! runs them). Per transport, ONE cargo project holds every variant as a binary: the `--crate`
//! smoke program of each flavour, the `--ca-file` one, and the runtime-shape programs of
//! `tests/fixtures/rust-shapes/` (sync `main`, multi-thread and current-thread
//! `#[tokio::main]`, `#[tokio::test]`, a runtime dropped before the guard, and how the
//! `tracing` flavour composes with the app's own subscriber and `env_logger`). The projects
//! and their target dir live outside the repository, keyed by the crate pins, so a warm run
//! only re-runs them. Everything is sent to the loopback OTLP receiver.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use sha2::{Digest, Sha256};

use crate::otlp_receiver::{Receiver, span_count};
use crate::support::*;

/// Crates the shape programs use besides the module's (`env_logger` composing with `tracing`).
const EXTRA_DEPS: &str =
    "env_logger = { version = \"0.11.8\", default-features = false }\nlog = \"0.4.27\"\n";

/// The export timeout the programs run with (`OTEL_EXPORTER_OTLP_TIMEOUT`, ms), and how long
/// a run may take at most: a stall (the SDK's 5 s shutdown wait, tonic waiting for a blocked
/// runtime) fails the test.
const EXPORT_TIMEOUT_MS: u64 = 2000;
const MAX_RUN: Duration = Duration::from_millis(4000);

/// Cargo builds in one target dir at a time anyway; holding this keeps the test threads from
/// queueing on cargo's lock with timeouts running.
static BUILD: Mutex<()> = Mutex::new(());

/// `$XDG_CACHE_HOME` (or `~/.cache`) `/kneo-otel/smoke-target/<hash of the crate pins>`:
/// outside the repository, so clones, worktrees and `cargo clean` keep the built crates, and
/// a pin change starts afresh. Without a home, this repository's target dir.
fn cache_dir() -> PathBuf {
    let catalog: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let pins = serde_yaml::to_string(&catalog["snippets"]["rust"]).unwrap();
    let digest = Sha256::digest(format!("{pins}{EXTRA_DEPS}"));
    let key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
                .map(|home| home.join(".cache"))
        })
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    base.join("kneo-otel/smoke-target").join(key)
}

/// Writes `content` unless the file already holds it (unchanged sources keep their mtime, so
/// cargo does not rebuild them).
fn write_if_changed(path: &Path, content: &str) {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return;
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// The files of `snippet --crate` for these options, by path.
fn generated(protocol: &str, extra: &[&str]) -> HashMap<String, String> {
    generated_from(Path::new("no-such-stack"), protocol, extra)
}

/// The same for the stack in `stack` (relative: no stack). Written two levels below the
/// cache, as the project it joins (`crates/<project>`) is: the module names the stack folder
/// relative to its crate, which must hold where the program is built.
fn generated_from(stack: &Path, protocol: &str, extra: &[&str]) -> HashMap<String, String> {
    std::fs::create_dir_all(cache_dir()).unwrap();
    let tmp = tempfile::TempDir::new_in(cache_dir()).unwrap();
    let dir = tmp.path().join("smoke");
    kneo()
        .current_dir(tmp.path())
        .arg("snippet")
        .arg("--dir")
        .arg(stack)
        .arg("--crate")
        .arg(&dir)
        .args(["--protocol", protocol, "--service-name", "smoke_agent"])
        .args(extra)
        .assert()
        .success();
    read_tree(&dir).into_iter().collect()
}

/// A collector stack rendered with `--expose` in the smoke cache (its seed secrets persist):
/// the `-exposed` projects' modules name its `secrets/ca.crt` and `secrets/token`, and the
/// exposed smoke test runs this very stack.
pub(crate) fn exposed_stack() -> PathBuf {
    let dir = cache_dir().join("exposed-stack");
    crate::support::init(&dir, "collector", &["--expose"]);
    dir
}

fn test_ca() -> String {
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-ca.pem");
    ca.to_str().unwrap().to_string()
}

/// The `[dependencies]` lines of a generated Cargo.toml.
fn dependencies(cargo_toml: &str) -> String {
    let mut out = String::new();
    for line in cargo_toml
        .lines()
        .skip_while(|l| *l != "[dependencies]")
        .skip(1)
        .filter(|l| !l.trim().is_empty())
    {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Writes one project and builds it; returns its binaries' folder. `project` is a transport
/// (`http`, `grpc`: both flavours and the runtime shapes, on the tracing flavour's crates,
/// which add crates but no features to the sdk flavour's) or a transport plus `-tls` (the
/// `--ca-file` smoke program alone: its crates' TLS features would change the plain module's),
/// or plus `-exposed` (the smoke program `snippet` writes for [`exposed_stack`]: TLS with its
/// CA, and its token).
fn build_project(project: &str) -> PathBuf {
    let cache = cache_dir();
    let dir = cache.join("crates").join(project);
    let src = dir.join("src");
    let (protocol, tls, exposed) = match (
        project.strip_suffix("-tls"),
        project.strip_suffix("-exposed"),
    ) {
        (Some(protocol), _) => (protocol, true, false),
        (_, Some(protocol)) => (protocol, true, true),
        _ => (project, false, false),
    };
    let mut manifest = format!(
        "[package]\nname = \"kneo-smoke-{project}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n[workspace]\n\n"
    );
    if tls {
        let files = if exposed {
            generated_from(&exposed_stack(), protocol, &["--flavor", "sdk"])
        } else {
            generated(protocol, &["--flavor", "sdk", "--ca-file", &test_ca()])
        };
        manifest.push_str(&format!(
            "[dependencies]\n{}",
            dependencies(&files["Cargo.toml"])
        ));
        let bin = src.join(format!("bin/{project}-smoke-sdk"));
        write_if_changed(&bin.join("main.rs"), &files["src/main.rs"]);
        write_if_changed(&bin.join("telemetry.rs"), &files["src/telemetry.rs"]);
    } else {
        let sdk = generated(protocol, &["--flavor", "sdk"]);
        let tracing = generated(protocol, &["--flavor", "tracing"]);
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/rust-shapes");
        let fixture = |name: &str| std::fs::read_to_string(fixtures.join(name)).unwrap();
        manifest.push_str(&format!(
            "[features]\nmust-use-check = []\n\n[[bin]]\nname = \"{project}-dropped-guard\"\npath = \"src/dropped_guard.rs\"\nrequired-features = [\"must-use-check\"]\n\n[dependencies]\n{}{EXTRA_DEPS}",
            dependencies(&tracing["Cargo.toml"])
        ));
        for (bin, files, main) in [
            ("smoke-sdk", &sdk, None),
            ("smoke-tracing", &tracing, None),
            ("shapes-sdk", &sdk, Some("sdk.rs")),
            ("shapes-tracing", &tracing, Some("tracing.rs")),
        ] {
            let bin = src.join(format!("bin/{project}-{bin}"));
            let main = main.map(fixture);
            write_if_changed(
                &bin.join("main.rs"),
                main.as_ref().unwrap_or(&files["src/main.rs"]),
            );
            write_if_changed(&bin.join("telemetry.rs"), &files["src/telemetry.rs"]);
        }
        write_if_changed(&src.join("common.rs"), &fixture("common.rs"));
        write_if_changed(&src.join("dropped_guard.rs"), &fixture("dropped_guard.rs"));
        write_if_changed(&src.join("telemetry.rs"), &sdk["src/telemetry.rs"]);
        write_if_changed(&dir.join("tests/tokio_test.rs"), &fixture("tokio_test.rs"));
    }
    write_if_changed(&dir.join("Cargo.toml"), &manifest);

    let target = cache.join("target");
    let mut out = cargo(&dir, &target, &["build", "--bins"]);
    if out.status.success() && !tls {
        out = cargo(&dir, &target, &["test", "--no-run", "--test", "tokio_test"]);
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "cargo build of the {project} project failed:\n{stderr}"
    );
    assert!(
        !stderr.contains("warning"),
        "the generated {project} code compiles with warnings:\n{stderr}"
    );
    target.join("debug")
}

/// Runs cargo on a project with the shared target dir, one build at a time.
fn cargo(project: &Path, target: &Path, args: &[&str]) -> Output {
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    cargo_command(project, target).args(args).output().unwrap()
}

/// `cargo` for a project: the shared target dir, no debug info and no incremental state
/// (half the disk and link time; the programs are only run, never debugged).
fn cargo_command(project: &Path, target: &Path) -> Command {
    let mut command = Command::new(env!("CARGO"));
    command
        .arg("--config")
        .arg("profile.dev.debug = false")
        .arg("--config")
        .arg("profile.dev.incremental = false")
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .current_dir(project);
    command
}

/// A binary of a project (`smoke-sdk`, `shapes-tracing`, ...), the project built once per
/// test run. Binary names start with the project's: the projects share one target dir.
pub(crate) fn binary(project: &str, name: &str) -> PathBuf {
    static BUILT: Mutex<Vec<(String, PathBuf)>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    let folder = match built.iter().find(|(p, _)| p == project) {
        Some((_, folder)) => folder.clone(),
        None => {
            let folder = build_project(project);
            built.push((project.to_string(), folder.clone()));
            folder
        }
    };
    folder.join(format!("{project}-{name}"))
}

/// Runs a program with only the given OTEL_*/RUST_LOG variables set (and the short export
/// timeout); returns its output and how long it took.
pub(crate) fn run(binary: &Path, args: &[&str], env: &[(&str, String)]) -> (Output, Duration) {
    let mut command = Command::new(binary);
    command.args(args);
    for (key, _) in std::env::vars() {
        if key.starts_with("OTEL_") || key == "RUST_LOG" {
            command.env_remove(key);
        }
    }
    command.env("OTEL_EXPORTER_OTLP_TIMEOUT", EXPORT_TIMEOUT_MS.to_string());
    command.envs(env.iter().map(|(k, v)| (k, v)));
    let started = Instant::now();
    let out = command.output().unwrap();
    (out, started.elapsed())
}

/// The receiver address of a transport, as an endpoint.
fn endpoint(receiver: &Receiver, protocol: &str) -> String {
    match protocol {
        "grpc" => format!("http://{}", receiver.grpc_addr),
        _ => format!("http://{}", receiver.http_addr),
    }
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

/// Every span received, by name.
fn spans_by_name(received: &[ResourceSpans]) -> HashMap<String, Span> {
    received
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .map(|s| (s.name.clone(), s.clone()))
        .collect()
}

/// What the Rust smoke programs add to [`assert_agent_trace`]: the recommended GenAI
/// attributes, the failed tool call, the printed `traceparent` of the tool call, and no
/// `tracing` bookkeeping on the spans.
fn assert_rust_extras(received: &[ResourceSpans], stdout: &str) {
    let spans = spans_by_name(received);
    let chat = &spans["chat gpt-4o-mini"];
    let tool = &spans["execute_tool get_weather"];
    assert_eq!(
        string(&chat.attributes, "gen_ai.response.model"),
        "gpt-4o-mini-2024-07-18"
    );
    assert_eq!(
        string(&chat.attributes, "gen_ai.response.id"),
        "chatcmpl-smoke-1"
    );
    assert_eq!(
        string(&tool.attributes, "gen_ai.tool.call.id"),
        "call_smoke_1"
    );
    assert_eq!(string(&tool.attributes, "gen_ai.tool.type"), "function");
    assert_eq!(string(&tool.attributes, "error.type"), "timeout");
    assert_eq!(
        tool.status.as_ref().map(|s| s.code),
        Some(2),
        "the tool span has status ERROR"
    );
    let traceparent = stdout
        .split_whitespace()
        .find(|w| w.starts_with("00-"))
        .unwrap_or_else(|| panic!("no traceparent in {stdout:?}"));
    assert_eq!(
        traceparent,
        format!("00-{}-{}-01", hex(&tool.trace_id), hex(&tool.span_id)),
        "the propagated context is the tool call's"
    );
    for span in spans.values() {
        for kv in &span.attributes {
            let key = kv.key.as_str();
            assert!(
                !matches!(key, "busy_ns" | "idle_ns" | "target" | "level")
                    && !key.starts_with("thread.")
                    && !key.starts_with("code."),
                "{}: bookkeeping attribute {key}",
                span.name
            );
        }
    }
}

/// Runs a `--crate` program against a fresh receiver on its own transport and asserts the
/// whole agent trace arrived.
fn delivers(protocol: &str, bin: &str) {
    let binary = binary(protocol, bin);
    let receiver = Receiver::start();
    let (out, took) = run(
        &binary,
        &[],
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol))],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{protocol} {bin}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(took < MAX_RUN, "{protocol} {bin} took {took:?}");
    // shutdown() returned only after the export: everything is there already.
    let received = receiver.wait_for_spans(3, Duration::from_secs(1));
    assert_agent_trace(&received, "smoke_agent", &stdout);
    assert_rust_extras(&received, &stdout);
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_http_delivers() {
    delivers("http", "smoke-sdk");
    delivers("http", "smoke-tracing");
    let binary = binary("http", "smoke-sdk");
    // OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is (no /v1/traces appended).
    let receiver = Receiver::start();
    let (out, _) = run(
        &binary,
        &[],
        &[(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("http://{}/v1/traces", receiver.http_addr),
        )],
    );
    assert!(out.status.success());
    assert_eq!(
        span_count(&receiver.wait_for_spans(3, Duration::from_secs(1))),
        3
    );
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_grpc_delivers() {
    delivers("grpc", "smoke-sdk");
    delivers("grpc", "smoke-tracing");
}

/// OTEL_SERVICE_NAME wins over `service.name` in OTEL_RESOURCE_ATTRIBUTES, which wins over
/// the generated name; the other resource attributes stay.
#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_service_name_precedence() {
    let binary = binary("http", "smoke-sdk");
    for (service_name, expected) in [
        (Some("from_service_name"), "from_service_name"),
        (None, "from_attributes"),
    ] {
        let receiver = Receiver::start();
        let mut env = vec![
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, "http")),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "service.name=from_attributes,deployment.environment.name=test".to_string(),
            ),
        ];
        if let Some(name) = service_name {
            env.push(("OTEL_SERVICE_NAME", name.to_string()));
        }
        let (out, _) = run(&binary, &[], &env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let received = receiver.wait_for_spans(3, Duration::from_secs(1));
        assert_agent_trace(&received, expected, &String::from_utf8_lossy(&out.stdout));
        let resource = received[0].resource.as_ref().unwrap();
        assert_eq!(
            string(&resource.attributes, "deployment.environment.name"),
            "test"
        );
    }
}

/// The runtime shapes both flavours must deliver in, and whether they call `shutdown`
/// (the others drop the guard).
const SHAPES: &[(&str, bool)] = &[
    ("sync", true),
    ("multi-thread", true),
    ("multi-thread-drop", false),
    ("current-thread", true),
    ("tokio-test", false),
    ("runtime-dropped", true),
];

/// Every shape of both flavours of one transport: delivered to the receiver, and with nothing
/// listening (or a collector that never answers) a clear error (exit 1 from `shutdown`, a
/// stderr line from a dropped guard) within the export timeout. Never a panic or a stall.
fn runtime_shapes(protocol: &str) {
    let closed = format!("http://127.0.0.1:{}", crate::otlp_receiver::free_port());
    for flavor in ["sdk", "tracing"] {
        let binary = binary(protocol, &format!("shapes-{flavor}"));
        for &(shape, calls_shutdown) in SHAPES {
            let what = format!("{protocol} {flavor} {shape}");
            let receiver = Receiver::start();
            let (out, took) = run(
                &binary,
                &[shape],
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol))],
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{what}: {stderr}");
            assert!(took < MAX_RUN, "{what}: took {took:?}");
            let trace_id = stdout
                .split_whitespace()
                .find(|w| w.len() == 32)
                .unwrap_or_else(|| panic!("{what}: no trace id in {stdout:?}"));
            // A dropped guard flushes before the process ends, too.
            let received = receiver.wait_for_spans(1, Duration::from_millis(500));
            let spans = spans_by_name(&received);
            let span = spans
                .get(&format!("shape {shape}"))
                .unwrap_or_else(|| panic!("{what}: span lost, got {:?}", spans.keys()));
            assert_eq!(hex(&span.trace_id), trace_id, "{what}");

            let (out, took) = run(
                &binary,
                &[shape],
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", closed.clone())],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            let what = format!("{what}, nothing listening");
            assert!(took < MAX_RUN, "{what}: took {took:?}");
            assert!(!stderr.contains("panicked"), "{what}: {stderr}");
            assert!(
                stderr.contains(&format!("spans were not delivered to {closed}")),
                "{what}: {stderr}"
            );
            let code = if calls_shutdown { 1 } else { 0 };
            assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
        }
        // A collector that accepts and never answers: the shapes that stalled for 5–10 s on
        // the app's current-thread runtime give up after the export timeout.
        let silent = format!("http://127.0.0.1:{}", crate::otlp_receiver::silent_port());
        for (shape, code) in [("current-thread", 1), ("tokio-test", 0)] {
            let what = format!("{protocol} {flavor} {shape}, silent collector");
            let (out, took) = run(
                &binary,
                &[shape],
                &[("OTEL_EXPORTER_OTLP_ENDPOINT", silent.clone())],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(took < MAX_RUN, "{what}: took {took:?}");
            assert!(
                stderr.contains(&format!("spans were not delivered to {silent}")),
                "{what}: {stderr}"
            );
            assert_eq!(out.status.code(), Some(code), "{what}: {stderr}");
        }
    }
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_http_runtime_shapes() {
    runtime_shapes("http");
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_grpc_runtime_shapes() {
    runtime_shapes("grpc");
}

/// The tracing flavour in an app with its own subscriber (EnvFilter at info, fmt layer) and
/// `env_logger`: only the spans its filter allows are exported, both its logs still print;
/// the convenience `init` follows RUST_LOG, leaves `log` to env_logger, and fails without
/// leaving a provider behind when a subscriber exists.
fn tracing_composes(protocol: &str) {
    let binary = binary(protocol, "shapes-tracing");
    let receiver = Receiver::start();
    let (out, _) = run(
        &binary,
        &["app-subscriber"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
            ("RUST_LOG", "info".into()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a log record through env_logger"),
        "{stderr}"
    );
    assert!(
        stderr.contains("an event through the app's fmt layer"),
        "{stderr}"
    );
    let names: Vec<String> = spans_by_name(&receiver.wait_for_spans(1, Duration::from_millis(500)))
        .into_keys()
        .collect();
    assert_eq!(names, ["app info"], "the app's filter drops debug spans");

    let receiver = Receiver::start();
    let (out, _) = run(
        &binary,
        &["init-rust-log"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
            ("RUST_LOG", "warn".into()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("a log record through env_logger"),
        "{stderr}"
    );
    let names: Vec<String> = spans_by_name(&receiver.wait_for_spans(1, Duration::from_millis(500)))
        .into_keys()
        .collect();
    assert_eq!(names, ["warn span"], "RUST_LOG=warn drops info spans");

    let receiver = Receiver::start();
    let (out, _) = run(
        &binary,
        &["init-with-subscriber"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol)),
            ("OTEL_BSP_SCHEDULE_DELAY", "50".into()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("telemetry::start()"), "{stderr}");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(
        receiver.resource_spans(),
        [],
        "a failed init left a provider exporting"
    );
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_tracing_composes_with_the_app() {
    tracing_composes("http");
    tracing_composes("grpc");
}

/// `init` refuses what the module cannot do, with exit 2 and the fix: the other transport
/// (not compiled in) and `https://` without `--ca-file`.
#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_refuses_what_is_not_compiled_in() {
    for (protocol, other) in [("http", "grpc"), ("grpc", "http/protobuf")] {
        let binary = binary(protocol, "smoke-sdk");
        let (out, _) = run(
            &binary,
            &[],
            &[("OTEL_EXPORTER_OTLP_PROTOCOL", other.into())],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("OTEL_EXPORTER_OTLP_PROTOCOL=\"{other}\""))
                && stderr.contains("--protocol"),
            "{stderr}"
        );
        let (out, _) = run(
            &binary,
            &[],
            &[(
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                "https://127.0.0.1:4318".into(),
            )],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--ca-file"), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// A real `#[tokio::test]` (the shapes program only expands it by hand): the guard dropped on
/// the test's current-thread runtime flushes the span, at once.
#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_in_a_real_tokio_test() {
    for protocol in ["http", "grpc"] {
        binary(protocol, "smoke-sdk");
        let cache = cache_dir();
        let receiver = Receiver::start();
        let started = Instant::now();
        let out = {
            let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
            cargo_command(&cache.join("crates").join(protocol), &cache.join("target"))
                .args(["test", "-q", "--test", "tokio_test", "--", "--nocapture"])
                .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(&receiver, protocol))
                .env("OTEL_EXPORTER_OTLP_TIMEOUT", EXPORT_TIMEOUT_MS.to_string())
                .output()
                .unwrap()
        };
        let took = started.elapsed();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{protocol}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(took < MAX_RUN, "{protocol}: took {took:?}");
        let trace_id = stdout
            .split_whitespace()
            .find(|w| w.len() == 32)
            .unwrap_or_else(|| panic!("{protocol}: no trace id in {stdout:?}"));
        let spans = spans_by_name(&receiver.wait_for_spans(1, Duration::from_millis(500)));
        let span = spans
            .get("shape tokio::test")
            .unwrap_or_else(|| panic!("{protocol}: span lost, got {:?}", spans.keys()));
        assert_eq!(hex(&span.trace_id), trace_id, "{protocol}");
    }
}

/// `telemetry::init()?;` drops the guard at once: the compiler says so.
#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_dropped_guard_warns() {
    binary("http", "smoke-sdk");
    let cache = cache_dir();
    let out = cargo(
        &cache.join("crates/http"),
        &cache.join("target"),
        &[
            "build",
            "--bin",
            "http-dropped-guard",
            "--features",
            "must-use-check",
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("unused `Telemetry` that must be used")
            && stderr.contains("keep it until the app exits"),
        "{stderr}"
    );
}

fn assert_not_delivered(out: &Output, what: &str, endpoint: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(
        stderr.starts_with(&format!("error: spans were not delivered to {endpoint}")),
        "{what}: {stderr}"
    );
    assert!(out.stdout.is_empty(), "{what}");
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_without_receiver_fails_clearly() {
    for protocol in ["http", "grpc"] {
        let binary = binary(protocol, "smoke-sdk");
        let endpoint = format!("http://127.0.0.1:{}", crate::otlp_receiver::free_port());
        let (out, took) = run(
            &binary,
            &[],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())],
        );
        assert_not_delivered(&out, protocol, &endpoint);
        assert!(took < MAX_RUN, "{protocol}: took {took:?}");
    }
}

#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_with_ca_file_compiles_and_starts() {
    for protocol in ["http", "grpc"] {
        let binary = binary(&format!("{protocol}-tls"), "smoke-sdk");
        // The CA loads and the exporter starts; with nothing listening, delivery fails.
        let endpoint = format!("https://127.0.0.1:{}", crate::otlp_receiver::free_port());
        let (out, _) = run(
            &binary,
            &[],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())],
        );
        assert_not_delivered(&out, protocol, &endpoint);
        // A missing CA file stops the start, naming it.
        let (out, _) = run(
            &binary,
            &[],
            &[("OTEL_EXPORTER_OTLP_CERTIFICATE", "/no/such/ca.pem".into())],
        );
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/ca.pem"));
    }
}

/// The module header's `cargo add` line adds exactly the `[dependencies]` block it lists.
#[test]
#[ignore = "runs cargo add, which reads the crates.io index"]
fn cargo_add_line_matches_the_dependencies() {
    let tmp = tempfile::tempdir().unwrap();
    for (protocol, flavor) in [("http", "tracing"), ("grpc", "sdk")] {
        let module = String::from_utf8(
            kneo()
                .args(["snippet", "--dir", "no-such-stack", "--protocol", protocol])
                .args(["--flavor", flavor, "--ca-file", &test_ca()])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        let line = module
            .lines()
            .find_map(|l| l.strip_prefix("//! or: `"))
            .and_then(|l| l.strip_suffix('`'))
            .expect("a cargo add line");
        let mut listed: Vec<String> = module
            .lines()
            .skip_while(|l| *l != "//! [dependencies]")
            .skip(1)
            .take_while(|l| *l != "//! ```")
            .map(|l| l.trim_start_matches("//! ").to_string())
            .collect();
        listed.sort();
        let scratch = tmp.path().join(format!("scratch-{protocol}"));
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
        let added = std::fs::read_to_string(scratch.join("Cargo.toml")).unwrap();
        let mut added: Vec<String> = dependencies(&added).lines().map(str::to_string).collect();
        added.sort();
        assert_eq!(added, listed, "{protocol} {flavor}");
    }
}

/// The stack is down (nothing listening, or an HTTP error status): an app calling plain
/// `shutdown()` (shape `app`) goes on and exits 0 within the export timeout, after exactly
/// one stderr line with the real cause and the `kneo-otel verify` hint. `shutdown_strict`
/// (the other shapes) still fails: `runtime_shapes`.
#[test]
#[ignore = "builds the generated crates against the real opentelemetry crates"]
fn smoke_shutdown_never_takes_the_app_down() {
    let refused = format!("http://127.0.0.1:{}", crate::otlp_receiver::free_port());
    let not_found = format!(
        "http://127.0.0.1:{}",
        crate::otlp_receiver::not_found_port()
    );
    for (protocol, endpoint, cause) in [
        ("http", &refused, "connection refused"),
        ("grpc", &refused, "connection refused"),
        ("http", &not_found, "HTTP 404"),
    ] {
        let what = format!("{protocol} to {endpoint}");
        let binary = binary(protocol, "shapes-sdk");
        let (out, took) = run(
            &binary,
            &["app"],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone())],
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{what}: {stderr}");
        assert!(took < MAX_RUN, "{what}: took {took:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).ends_with("app done\n"),
            "{what}"
        );
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: {stderr}");
        assert!(
            lines[0].starts_with(&format!(
                "telemetry: spans were not delivered to {endpoint}"
            )) && lines[0].contains(cause)
                && lines[0].contains("kneo-otel verify"),
            "{what}: {stderr}"
        );
    }
}
