//! `kneo-otel snippet --lang python` and `--script`: the Python module and smoke check,
//! run with the real OpenTelemetry SDK for Python (installed into .venv by scripts/test)
//! against the loopback OTLP receiver, over HTTP/protobuf and gRPC.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use crate::otlp_receiver::Receiver;
use crate::snippet_smoke::assert_agent_trace;
use crate::support::*;

/// A Python that can import the OTLP exporters; `None` (skip) only outside CI.
pub(crate) fn python() -> Option<PathBuf> {
    let python = validator("python")?;
    let ok = Command::new(&python)
        .args([
            "-c",
            "import opentelemetry.exporter.otlp.proto.grpc.trace_exporter, opentelemetry.exporter.otlp.proto.http.trace_exporter",
        ])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} lacks the OpenTelemetry SDK under CI: run ./scripts/test",
            python.display()
        );
        eprintln!("note: no OpenTelemetry SDK for Python, skipped (run ./scripts/test)");
        return None;
    }
    Some(python)
}

pub(crate) fn write_script(dir: &Path, protocol: &str) -> PathBuf {
    let script = dir.join(format!("smoke_{protocol}.py"));
    kneo()
        .args(["snippet", "--dir"])
        .arg(dir.join("no-stack"))
        .args([
            "--protocol",
            protocol,
            "--service-name",
            "smoke_agent",
            "--script",
        ])
        .arg(&script)
        .assert()
        .success();
    script
}

pub(crate) fn run_script(python: &Path, script: &Path, env: &[(&str, String)]) -> Output {
    let mut command = Command::new(python);
    command.arg(script);
    for key in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
    ] {
        command.env_remove(key);
    }
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    command.output().unwrap()
}

#[test]
fn python_smoke_script_delivers_over_http_and_grpc() {
    let Some(python) = python() else { return };
    let tmp = repo_tempdir();
    for (protocol, env_protocol) in [("http", "http/protobuf"), ("grpc", "grpc")] {
        let receiver = Receiver::start();
        let script = write_script(tmp.path(), protocol);
        let address = if protocol == "grpc" {
            receiver.grpc_addr
        } else {
            receiver.http_addr
        };
        let out = run_script(
            &python,
            &script,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{address}")),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", env_protocol.to_string()),
            ],
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{protocol}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let received = receiver.wait_for_spans(3, Duration::from_secs(10));
        assert_agent_trace(&received, "smoke_agent", &stdout);
    }
}

#[test]
fn python_protocol_and_service_name_follow_the_environment() {
    let Some(python) = python() else { return };
    let tmp = repo_tempdir();
    // Generated for HTTP; the environment switches it to gRPC and renames the service.
    let script = write_script(tmp.path(), "http");
    let receiver = Receiver::start();
    let out = run_script(
        &python,
        &script,
        &[
            (
                "OTEL_EXPORTER_OTLP_ENDPOINT",
                format!("http://{}", receiver.grpc_addr),
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc".into()),
            ("OTEL_SERVICE_NAME", "from_env".into()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = receiver.wait_for_spans(3, Duration::from_secs(10));
    assert_agent_trace(&received, "from_env", &String::from_utf8_lossy(&out.stdout));
}

#[test]
fn python_smoke_script_without_receiver_exits_non_zero() {
    let Some(python) = python() else { return };
    let tmp = repo_tempdir();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for (protocol, env_protocol) in [("http", "http/protobuf"), ("grpc", "grpc")] {
        let script = write_script(tmp.path(), protocol);
        let endpoint = format!("http://127.0.0.1:{closed}");
        let out = run_script(
            &python,
            &script,
            &[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", env_protocol.to_string()),
                // Seconds in the Python SDK: keeps the retries short.
                ("OTEL_EXPORTER_OTLP_TIMEOUT", "2".into()),
            ],
        );
        assert_eq!(out.status.code(), Some(1), "{protocol}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with(&format!("error: spans were not delivered to {endpoint}")),
            "{protocol}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{protocol}");
    }
}

#[test]
fn python_module_defaults_come_from_the_stack() {
    let tmp = repo_tempdir();
    let dir = tmp.path().join("obs");
    init(
        &dir,
        "tempo",
        &[
            "--service-name",
            "py-agent",
            "--set",
            "ports.otlp_http=14318",
        ],
    );
    // A relative --dir: the header names the command; the snapshot must not name a temp path.
    let out = kneo()
        .args(["snippet", "--lang", "python", "--dir", "obs"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let module = String::from_utf8(out.stdout).unwrap();
    assert!(
        module.contains("DEFAULT_SERVICE_NAME = \"py-agent\""),
        "{module}"
    );
    assert!(module.contains("DEFAULT_HTTP_ENDPOINT = \"http://127.0.0.1:14318\""));
    assert!(module.contains("DEFAULT_PROTOCOL = \"http/protobuf\""));
    let requirements = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python-requirements.txt"),
    )
    .unwrap();
    let pins: Vec<&str> = requirements
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    assert!(
        module.contains(&format!("pip install {}", pins.join(" "))),
        "the module's pins differ from tests/python-requirements.txt"
    );
    assert_snapshot("snippet_python", module);

    // --out records it like the Rust module; check covers it.
    let out_file = tmp.path().join("telemetry.py");
    kneo()
        .args(["snippet", "--lang", "python", "--dir"])
        .arg(&dir)
        .arg("--out")
        .arg(&out_file)
        .assert()
        .success();
    kneo().args(["check", "--dir"]).arg(&dir).assert().success();
    std::fs::write(&out_file, "# edited\n").unwrap();
    kneo().args(["check", "--dir"]).arg(&dir).assert().code(1);
}

#[test]
fn python_bad_combinations_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, message) in [
        (
            &["--lang", "python", "--flavor", "tracing"][..],
            "--flavor tracing is for Rust",
        ),
        (
            &["--lang", "python", "--crate", "x"][..],
            "use --script FILE",
        ),
        (
            &["--lang", "rust", "--script", "x.py"][..],
            "--script writes a Python smoke check",
        ),
    ] {
        let out = kneo()
            .arg("snippet")
            .args(args)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            0,
            "{args:?} wrote"
        );
    }
}

/// An app following the module's docstring: `init()`, one span, `shutdown(provider)`, then
/// "app done" on stdout; `strict` passes `strict=True`.
fn write_app(dir: &Path, strict: bool) -> PathBuf {
    let module = kneo()
        .args(["snippet", "--lang", "python", "--dir"])
        .arg(dir.join("no-stack"))
        .output()
        .unwrap();
    assert!(module.status.success());
    std::fs::write(dir.join("telemetry.py"), &module.stdout).unwrap();
    let app = dir.join(if strict { "strict_app.py" } else { "app.py" });
    let call = if strict {
        "telemetry.shutdown(provider, strict=True)"
    } else {
        "telemetry.shutdown(provider)"
    };
    std::fs::write(
        &app,
        format!(
            "import telemetry\nfrom opentelemetry import trace\n\nprovider = telemetry.init()\nwith trace.get_tracer(__name__).start_as_current_span(\"work\"):\n    pass\n{call}\nprint(\"app done\")\n"
        ),
    )
    .unwrap();
    app
}

/// The stack is down (nothing listening, or an HTTP error status): the app's `shutdown`
/// returns within a bounded time, logs exactly one line with the real cause and the
/// `kneo-otel verify` hint, and the app exits 0. `strict=True` raises `ExportError`.
#[test]
fn python_shutdown_never_takes_the_app_down() {
    let Some(python) = python() else { return };
    let tmp = repo_tempdir();
    let app = write_app(tmp.path(), false);
    let strict_app = write_app(tmp.path(), true);
    let refused = format!("http://127.0.0.1:{}", crate::otlp_receiver::free_port());
    let not_found = format!(
        "http://127.0.0.1:{}",
        crate::otlp_receiver::not_found_port()
    );
    let silent = format!("http://127.0.0.1:{}", crate::otlp_receiver::silent_port());
    // A refused connection gives up at once; a collector that never answers, after the
    // 5 s shutdown bound.
    let (quick, bound) = (Duration::from_secs(3), Duration::from_secs(7));
    for (protocol, endpoint, cause, limit) in [
        ("http/protobuf", &refused, "connection refused", quick),
        ("grpc", &refused, "connection refused", quick),
        ("http/protobuf", &not_found, "HTTP 404 Not Found", quick),
        ("http/protobuf", &silent, "no answer within 5 s", bound),
        ("grpc", &silent, "no answer within 5 s", bound),
    ] {
        let what = format!("{protocol} to {endpoint}");
        let env = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.clone()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol.to_string()),
        ];
        let started = std::time::Instant::now();
        let out = run_script(&python, &app, &env);
        let took = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what}: {stderr}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "app done\n", "{what}");
        assert!(took < limit, "{what}: took {took:?}");
        let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "{what}: {stderr}");
        assert!(
            lines[0].contains(&format!("spans were not delivered to {endpoint}"))
                && lines[0].contains(cause)
                && lines[0].contains("kneo-otel verify"),
            "{what}: {stderr}"
        );

        let out = run_script(&python, &strict_app, &env);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}, strict: {stderr}");
        assert!(out.stdout.is_empty(), "{what}, strict");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("telemetry.ExportError: spans were not delivered")
                && last.contains(cause),
            "{what}, strict: {stderr}"
        );
    }
}
