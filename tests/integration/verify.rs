//! `kneo-otel verify` against loopback fakes: a real OTLP receiver that serves what it got
//! back in Jaeger's, Tempo's and SigNoz's response shapes, and peers that refuse, hang, answer
//! 404 or speak only TLS. Every failure path asserts its hint.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::otlp_receiver::*;
use crate::support::*;

/// Writes a stack for `backend` into `dir` with every host port moved to a free one.
fn init_on_free_ports(dir: &Path, backend: &str, keys: &[&str]) -> Vec<(String, u16)> {
    let ports: Vec<(String, u16)> = keys.iter().map(|k| (k.to_string(), free_port())).collect();
    let sets: Vec<String> = ports
        .iter()
        .flat_map(|(k, p)| ["--set".to_string(), format!("ports.{k}={p}")])
        .collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    init(dir, backend, &sets);
    ports
}

fn port(ports: &[(String, u16)], key: &str) -> u16 {
    ports.iter().find(|(k, _)| k == key).unwrap().1
}

/// A jaeger stack on free ports except its health port, `health` (an impostor or a silent
/// port), with the fakes on the other ports.
fn jaeger_with_health_port(dir: &Path, health: u16) -> Receiver {
    let mut ports: Vec<(String, u16)> = ["otlp_grpc", "otlp_http", "ui"]
        .iter()
        .map(|k| (k.to_string(), free_port()))
        .collect();
    ports.push(("health".to_string(), health));
    let sets: Vec<String> = ports
        .iter()
        .flat_map(|(k, p)| ["--set".to_string(), format!("ports.{k}={p}")])
        .collect();
    init(
        dir,
        "jaeger",
        &sets.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let receiver = Receiver::start_on(port(&ports, "otlp_grpc"), port(&ports, "otlp_http"));
    receiver.serve_http_on(port(&ports, "ui"));
    receiver
}

/// A generated stack on free ports with the fakes started on them; the folder lives as long
/// as the value.
struct FakeStack {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    ports: Vec<(String, u16)>,
    receiver: Receiver,
}

fn fake_stack(backend: &str, keys: &[&str]) -> FakeStack {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let ports = init_on_free_ports(&dir, backend, keys);
    let receiver = start_stack(&ports);
    FakeStack {
        _tmp: tmp,
        dir,
        ports,
        receiver,
    }
}

/// Starts the fake stack: the receiver on the OTLP ports, its HTTP side on every other port.
fn start_stack(ports: &[(String, u16)]) -> Receiver {
    let receiver = Receiver::start_on(port(ports, "otlp_grpc"), port(ports, "otlp_http"));
    for (key, p) in ports {
        if key != "otlp_grpc" && key != "otlp_http" {
            receiver.serve_http_on(*p);
        }
    }
    receiver
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

fn verify(dir: &Path, args: &[&str]) -> Run {
    let started = Instant::now();
    let out = kneo()
        .env_remove("SIGNOZ_API_KEY")
        .args(["verify", "--dir"])
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).to_string(),
        took: started.elapsed(),
    }
}

fn assert_contains(run: &Run, needles: &[&str]) {
    for needle in needles {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in stdout:\n{}\nstderr:\n{}",
            run.stdout,
            run.stderr
        );
    }
}

fn line<'a>(run: &'a Run, prefix: &str) -> &'a str {
    run.stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} in\n{}", run.stdout))
}

fn attribute<'a>(
    attributes: &'a [opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<&'a str> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    attributes.iter().find(|kv| kv.key == key).and_then(|kv| {
        match kv.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.as_str()),
            _ => None,
        }
    })
}

#[test]
fn jaeger_all_green_over_http_and_the_trace_carries_genai_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let ports = init_on_free_ports(&dir, "jaeger", &["otlp_grpc", "otlp_http", "ui", "health"]);
    kneo()
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--service-name", "my-agent"])
        .assert()
        .success();
    let receiver = start_stack(&ports);
    let run = verify(&dir, &["--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
    assert_contains(
        &run,
        &[
            "ok    port otlp_http",
            "ok    health jaeger:",
            "ok    health jaeger query:",
            "all checks passed",
        ],
    );
    assert!(line(&run, "ok    export").contains("service.name=my-agent"));
    assert!(line(&run, "ok    lookup").contains("Jaeger v2 returned trace"));
    // stderr is not a terminal here: no progress line.
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    assert_contains(
        &run,
        &[
            &format!(
                "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:{}",
                port(&ports, "otlp_http")
            ),
            "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            "OTEL_SERVICE_NAME=my-agent",
            "OTEL_LOG_LEVEL=debug",
            "[x] the stack accepts OTLP",
        ],
    );

    assert_eq!(receiver.exports(), (0, 1));
    let spans = receiver.wait_for_spans(2, Duration::from_secs(1));
    let resource = spans[0].resource.as_ref().unwrap();
    assert_eq!(
        attribute(&resource.attributes, "service.name"),
        Some("my-agent")
    );
    let all: Vec<_> = spans
        .iter()
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|s| &s.spans)
        .collect();
    assert_eq!(all.len(), 2);
    assert_eq!(
        attribute(&all[0].attributes, "gen_ai.operation.name"),
        Some("invoke_agent")
    );
    assert_eq!(
        attribute(&all[0].attributes, "gen_ai.agent.name"),
        Some("kneo-otel-verify")
    );
    assert_eq!(
        attribute(&all[1].attributes, "gen_ai.operation.name"),
        Some("chat")
    );
    assert!(run.stdout.contains(&hex(&all[0].trace_id)));
}

#[test]
fn jaeger_all_green_over_grpc() {
    let stack = fake_stack("jaeger", &["otlp_grpc", "otlp_http", "ui", "health"]);
    let dir = stack.dir.clone();
    let receiver = &stack.receiver;
    let run = verify(&dir, &["--protocol", "grpc", "--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(line(&run, "ok    export").contains("OTLP grpc"));
    assert_contains(&run, &["OTEL_EXPORTER_OTLP_PROTOCOL=grpc"]);
    assert_eq!(receiver.exports(), (1, 0));
}

#[test]
fn tempo_all_green_polls_until_the_trace_is_queryable() {
    let stack = fake_stack("tempo", &["otlp_grpc", "otlp_http", "tempo", "grafana"]);
    let dir = stack.dir.clone();
    let receiver = &stack.receiver;
    receiver.set_query_delay(Duration::from_millis(1200));
    let run = verify(&dir, &["--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.took >= Duration::from_millis(1200),
        "took {:?}",
        run.took
    );
    assert!(run.took < Duration::from_secs(6), "took {:?}", run.took);
    assert_contains(
        &run,
        &[
            "ok    health tempo:",
            "ok    health grafana:",
            "/api/v2/traces/",
        ],
    );
    assert!(line(&run, "ok    lookup").contains("Grafana Tempo + Grafana returned trace"));
}

#[test]
fn json_has_one_object_per_check() {
    let stack = fake_stack("tempo", &["otlp_grpc", "otlp_http", "tempo", "grafana"]);
    let dir = stack.dir.clone();
    let run = verify(&dir, &["--format", "json", "--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["schema_version"], 1);
    assert_eq!(json["ok"], true);
    let checks = json["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "port grafana",
            "port otlp_grpc",
            "port otlp_http",
            "port tempo",
            "health tempo",
            "health grafana",
            "export",
            "lookup"
        ]
    );
    for check in checks {
        assert_eq!(check["status"], "ok", "{check}");
        assert!(check["detail"].as_str().is_some_and(|d| !d.is_empty()));
        assert!(check.get("fix").is_none());
        let keys: Vec<&String> = check.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["detail", "name", "status"]);
    }
}

#[test]
fn phoenix_all_green_through_its_gateway_and_rest_api() {
    let stack = fake_stack(
        "phoenix",
        &["otlp_grpc", "otlp_http", "phoenix", "gateway_health"],
    );
    let dir = stack.dir.clone();
    let run = verify(&dir, &["--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_contains(
        &run,
        &[
            "ok    health phoenix",
            "ok    health phoenix database",
            "ok    health gateway",
        ],
    );
    let lookup = line(&run, "ok    lookup");
    assert!(lookup.contains("Arize Phoenix returned trace"), "{lookup}");
    assert!(
        lookup.contains("/v1/projects/default/spans?trace_id="),
        "{lookup}"
    );
    assert_eq!(stack.receiver.exports(), (0, 1));
}

#[test]
fn collector_passes_with_the_no_query_api_note() {
    let stack = fake_stack("collector", &["otlp_grpc", "otlp_http", "health"]);
    let dir = stack.dir.clone();
    let run = verify(&dir, &["--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lookup = line(&run, "ok    lookup");
    assert!(lookup.contains("has no query API"), "{lookup}");
    assert!(lookup.contains("docker compose logs collector"), "{lookup}");
}

#[test]
fn signoz_without_a_key_says_the_key_is_needed_and_with_one_finds_the_trace() {
    let stack = fake_stack("signoz", &["ui", "otlp_grpc", "otlp_http", "health"]);
    let dir = stack.dir.clone();
    let run = verify(&dir, &["--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    let lookup = line(&run, "skip  lookup");
    assert!(lookup.contains("needs an API key"), "{lookup}");
    assert!(
        lookup.contains("--signoz-api-key KEY or SIGNOZ_API_KEY"),
        "{lookup}"
    );

    let run = verify(&dir, &["--timeout", "20s", "--signoz-api-key", SIGNOZ_KEY]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(line(&run, "ok    lookup").contains("SigNoz returned trace"));

    let started = Instant::now();
    let out = kneo()
        .env("SIGNOZ_API_KEY", "wrong")
        .args(["verify", "--timeout", "20s", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(started.elapsed() < Duration::from_secs(5));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("FAIL  lookup") && stdout.contains("the API key was refused"),
        "{stdout}"
    );
}

#[test]
fn stack_not_running_says_start_it_and_how_to_move_a_port() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let ports = init_on_free_ports(&dir, "jaeger", &["otlp_grpc", "otlp_http", "ui", "health"]);
    let run = verify(&dir, &["--timeout", "5s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    // The shared fix is spelled out on the first failure, later ones say "as above".
    let first = line(&run, "FAIL  ");
    assert!(first.contains("docker compose up -d"), "{first}");
    assert!(first.contains("--set ports.<key>=<free port>"), "{first}");
    let port_line = line(&run, "FAIL  port otlp_http");
    assert!(port_line.contains("connection refused"), "{port_line}");
    assert!(port_line.ends_with("fix: as above"), "{port_line}");
    assert!(port_line.contains(&port(&ports, "otlp_http").to_string()));
    let export = line(&run, "FAIL  export");
    assert!(export.contains("connection refused") && export.ends_with("fix: as above"));
    assert!(line(&run, "skip  lookup").contains("no trace was accepted"));
    assert!(run.stdout.contains("[ ] the stack accepts OTLP"));

    let run = verify(&dir, &["--timeout", "5s", "--format", "json"]);
    assert_eq!(run.code, 1);
    let json: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(json["ok"], false);
    let export = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "export")
        .unwrap();
    assert_eq!(export["status"], "fail");
    assert!(
        export["fix"]
            .as_str()
            .unwrap()
            .contains("docker compose up -d")
    );
}

#[test]
fn a_refused_endpoint_without_a_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let endpoint = format!("http://127.0.0.1:{}", free_port());
    let run = verify(tmp.path(), &["--endpoint", &endpoint, "--timeout", "5s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(line(&run, "FAIL  port endpoint").contains("connection refused"));
    let export = line(&run, "FAIL  export");
    assert!(export.contains("start the OTLP receiver"), "{export}");
}

#[test]
fn an_endpoint_without_a_manifest_skips_the_lookup() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let endpoint = format!("http://{}", receiver.http_addr);
    let run = verify(tmp.path(), &["--endpoint", &endpoint, "--timeout", "10s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(line(&run, "skip  lookup").contains("no kneo-otel.yaml"));
    assert_eq!(receiver.exports(), (0, 1));
}

#[test]
fn a_port_that_accepts_and_never_answers_cannot_outlast_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let silent = silent_port();
    for protocol in ["http/protobuf", "grpc"] {
        let endpoint = format!("http://127.0.0.1:{silent}");
        let run = verify(
            tmp.path(),
            &[
                "--endpoint",
                &endpoint,
                "--protocol",
                protocol,
                "--timeout",
                "2s",
            ],
        );
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.took < Duration::from_secs(5),
            "{protocol} took {:?}",
            run.took
        );
        let export = line(&run, "FAIL  export");
        assert!(export.contains("no answer before the timeout"), "{export}");
        assert!(
            export.contains("accepts connections but does not answer"),
            "{export}"
        );
    }
}

#[test]
fn a_lookup_that_never_finds_the_trace_fails_at_the_timeout() {
    let stack = fake_stack("jaeger", &["otlp_grpc", "otlp_http", "ui", "health"]);
    let dir = stack.dir.clone();
    let receiver = &stack.receiver;
    receiver.set_query_delay(Duration::from_secs(3600));
    let run = verify(&dir, &["--timeout", "2s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        run.took >= Duration::from_secs(2) && run.took < Duration::from_secs(5),
        "{:?}",
        run.took
    );
    let lookup = line(&run, "FAIL  lookup");
    assert!(
        lookup.contains("did not come back") && lookup.contains("not found yet (404)"),
        "{lookup}"
    );
    assert!(
        lookup.contains("--timeout") && lookup.contains("docker compose logs jaeger"),
        "{lookup}"
    );
}

#[test]
fn a_wrong_path_gets_the_v1_traces_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let endpoint = format!("http://{}/otlp", receiver.http_addr);
    let run = verify(tmp.path(), &["--endpoint", &endpoint, "--timeout", "5s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = line(&run, "FAIL  export");
    assert!(export.contains("/otlp/v1/traces answered 404"), "{export}");
    assert!(
        export.contains(&format!(
            "OTEL_EXPORTER_OTLP_ENDPOINT=http://{}",
            receiver.http_addr
        )),
        "{export}"
    );
    assert!(export.contains("/v1/traces included"), "{export}");

    let endpoint = format!("http://127.0.0.1:{}", not_found_port());
    let run = verify(tmp.path(), &["--endpoint", &endpoint, "--timeout", "5s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = line(&run, "FAIL  export");
    assert!(
        export.contains("answered 404") && export.contains("has no /v1/traces"),
        "{export}"
    );
}

#[test]
fn tls_mismatches_are_explained() {
    let tmp = tempfile::tempdir().unwrap();
    let tls = tls_only_port();
    let run = verify(
        tmp.path(),
        &[
            "--endpoint",
            &format!("http://127.0.0.1:{tls}"),
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = line(&run, "FAIL  export");
    assert!(export.contains("it answers with TLS"), "{export}");
    assert!(
        export.contains(&format!("expects TLS: use https://127.0.0.1:{tls}")),
        "{export}"
    );

    let run = verify(
        tmp.path(),
        &[
            "--endpoint",
            &format!("https://127.0.0.1:{tls}"),
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = line(&run, "FAIL  export");
    assert!(export.contains("TLS handshake failed"), "{export}");
    assert!(
        export.contains("certificate") && export.contains("not trusted"),
        "{export}"
    );
    assert!(
        export.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
        "{export}"
    );

    let receiver = Receiver::start();
    let run = verify(
        tmp.path(),
        &[
            "--endpoint",
            &format!("https://{}", receiver.http_addr),
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = line(&run, "FAIL  export");
    assert!(export.contains("TLS handshake failed"), "{export}");
    assert!(
        export.contains(&format!(
            "does not speak TLS: use http://{}",
            receiver.http_addr
        )),
        "{export}"
    );
}

#[test]
fn grpc_to_the_http_port_names_the_right_protocol() {
    let stack = fake_stack("jaeger", &["otlp_grpc", "otlp_http", "ui", "health"]);
    let dir = stack.dir.clone();
    let ports = stack.ports.clone();
    let http = port(&ports, "otlp_http");
    let endpoint = format!("http://127.0.0.1:{http}");
    let run = verify(
        &dir,
        &[
            "--protocol",
            "grpc",
            "--endpoint",
            &endpoint,
            "--timeout",
            "5s",
        ],
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let export = line(&run, "FAIL  export");
    assert!(
        export.contains(&format!("port {http} is the stack's OTLP/HTTP port")),
        "{export}"
    );
    assert!(export.contains("--protocol http/protobuf"), "{export}");
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let run = verify(&tmp.path().join("none"), &[]);
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("no kneo-otel.yaml") && run.stderr.contains("--endpoint"));
    assert!(run.stdout.is_empty());

    let run = verify(
        tmp.path(),
        &["--endpoint", "http://127.0.0.1:4318", "--timeout", "30x"],
    );
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("`30x`") && run.stderr.contains("30s, 500ms or 2m"),
        "{}",
        run.stderr
    );

    // Far beyond a day (and beyond what a clock can add) is refused, not a panic.
    let run = verify(
        tmp.path(),
        &[
            "--endpoint",
            "http://127.0.0.1:4318",
            "--timeout",
            "300000000000y",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("at most 24h"), "{}", run.stderr);

    let run = verify(tmp.path(), &["--endpoint", "127.0.0.1:4318"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("invalid --endpoint `127.0.0.1:4318`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_health_path_answering_404_points_at_a_port_clash() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let impostor = not_found_port();
    let _receiver = jaeger_with_health_port(&dir, impostor);
    let run = verify(&dir, &["--timeout", "10s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let health = line(&run, "FAIL  health jaeger:");
    assert!(health.contains("/status answered 404"), "{health}");
    assert!(
        health.contains(&format!("another program may hold port {impostor}")),
        "{health}"
    );
    assert!(
        health.contains("--set ports.health=<free port>"),
        "{health}"
    );
    assert!(line(&run, "ok    lookup").contains("returned trace"));
}

#[cfg(unix)]
#[test]
fn a_terminal_sees_the_progress_line_while_the_lookup_polls() {
    let stack = fake_stack("tempo", &["otlp_grpc", "otlp_http", "tempo", "grafana"]);
    let dir = stack.dir.clone();
    let receiver = &stack.receiver;
    receiver.set_query_delay(Duration::from_millis(1500));
    let bin = assert_cmd::cargo::cargo_bin!("kneo-otel");
    let mut command = std::process::Command::new(bin);
    command
        .args(["verify", "--timeout", "20s", "--dir"])
        .arg(&dir)
        .env("TERM", "xterm");
    let mut session = rexpect::session::spawn_command(command, Some(15_000)).unwrap();
    session.exp_string("waiting for trace").unwrap();
    session.exp_string("ok    lookup").unwrap();
    session.exp_string("all checks passed").unwrap();
    session.exp_eof().unwrap();
}

#[test]
fn checks_after_the_timeout_ran_out_say_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let stuck = silent_port();
    let receiver = jaeger_with_health_port(&dir, stuck);
    let run = verify(&dir, &["--timeout", "1s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(run.took < Duration::from_secs(4), "took {:?}", run.took);
    let health = line(&run, "FAIL  health jaeger:");
    assert!(health.contains("no answer before the timeout"), "{health}");
    assert!(
        health.contains("--set ports.health=<free port>"),
        "{health}"
    );
    let export = line(&run, "FAIL  export");
    assert!(
        export.contains("--timeout ran out")
            && run
                .stdout
                .contains("fix: re-run with a longer --timeout, e.g. --timeout 60s"),
        "{export}"
    );
    assert_eq!(receiver.exports(), (0, 0));
}

#[test]
fn a_gateway_stack_is_checked_through_its_gateway() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let keys = ["otlp_grpc", "otlp_http", "ui", "health", "gateway_health"];
    let ports: Vec<(String, u16)> = keys.iter().map(|k| (k.to_string(), free_port())).collect();
    let mut cmd = kneo();
    cmd.args(["init", "--backend", "jaeger", "--redact", "--dir"])
        .arg(&dir);
    for (key, p) in &ports {
        cmd.args(["--set", &format!("ports.{key}={p}")]);
    }
    cmd.assert().success();
    let _receiver = start_stack(&ports);
    let run = verify(&dir, &["--timeout", "20s"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_contains(
        &run,
        &[
            "ok    port gateway_health",
            "ok    health gateway:",
            "all checks passed",
        ],
    );
    let export = line(&run, "ok    port otlp_http");
    assert!(
        export.contains("gateway"),
        "OTLP goes to the gateway: {export}"
    );
}

/// A server that says 200 to everything, with a body that is no OTLP or health answer and
/// carries terminal escape sequences.
const GARBAGE_200: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 30\r\nConnection: close\r\n\r\n<html>\x1b]0;pwned\x07\x1b[2J hi</html>";

#[test]
fn a_200_with_garbage_is_neither_healthy_nor_an_accepted_export_and_is_printed_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let impostor = answering_port(GARBAGE_200);
    let _receiver = jaeger_with_health_port(&dir, impostor);
    let run = verify(&dir, &["--timeout", "10s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let health = line(&run, "FAIL  health jaeger:");
    assert!(health.contains("the body is not JSON"), "{health}");
    assert!(!run.stdout.contains('\x1b'), "{}", run.stdout);

    let endpoint = format!("http://127.0.0.1:{}", answering_port(GARBAGE_200));
    for format in ["text", "json"] {
        let run = verify(
            tmp.path(),
            &[
                "--endpoint",
                &endpoint,
                "--timeout",
                "10s",
                "--format",
                format,
            ],
        );
        assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
        assert!(
            run.stdout
                .contains("not with an OTLP ExportTraceServiceResponse"),
            "{}",
            run.stdout
        );
        assert!(
            !run.stdout.contains('\x1b') && !run.stdout.contains('\x07'),
            "{}",
            run.stdout
        );
    }
}

/// `KEY=value` of a seed file (`.env`, `secrets/front-door.env`); a quoted value may span lines.
fn seed(dir: &Path, file: &str, key: &str) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let (_, rest) = text
        .split_once(&format!("\n{key}="))
        .unwrap_or_else(|| panic!("no {key} in {file}"));
    match rest.strip_prefix('"') {
        Some(quoted) => quoted.split('"').next().unwrap().to_string(),
        None => rest.lines().next().unwrap().to_string(),
    }
}

const IMPOSTOR_404: &[u8] = b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found";

#[test]
fn an_exposed_stack_never_sends_its_token_in_plain_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "collector", &["--expose"]);
    let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
    let token = token.trim();
    for protocol in ["http/protobuf", "grpc"] {
        let listener = Recorder::start(IMPOSTOR_404);
        let endpoint = format!("http://127.0.0.1:{}", listener.port);
        let run = verify(
            &dir,
            &[
                "--endpoint",
                &endpoint,
                "--protocol",
                protocol,
                "--timeout",
                "3s",
            ],
        );
        assert_eq!(run.code, 2, "{protocol}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
        for needle in [
            endpoint.as_str(),
            "plain text",
            "--endpoint https://127.0.0.1:",
        ] {
            assert!(
                run.stderr.contains(needle),
                "{needle:?} not in {}",
                run.stderr
            );
        }
        assert!(!run.stderr.contains(token) && !run.stdout.contains(token));
        assert!(
            !listener.received().contains(token),
            "{protocol}: the token went out in plain text"
        );
        assert_eq!(
            listener.connections(),
            0,
            "{protocol}: verify connected: {:?}",
            listener.received()
        );
    }
}

/// Another program on the port of a query API that takes a secret (an exposed Phoenix's admin
/// secret, SigNoz's API key): its health check fails, so the secret is never sent there.
#[test]
fn no_secret_goes_to_a_port_whose_health_check_failed() {
    // Exposed Phoenix: the front door (TLS, with the folder's own certificate) takes the trace;
    // the Phoenix port is held by a recorder answering 404.
    let impostor = Recorder::start(IMPOSTOR_404);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let (grpc, http, health) = (free_port(), free_port(), free_port());
    let sets = [
        format!("ports.otlp_grpc={grpc}"),
        format!("ports.otlp_http={http}"),
        format!("ports.gateway_health={health}"),
        format!("ports.phoenix={}", impostor.port),
    ];
    let mut args = vec!["--expose"];
    for set in &sets {
        args.extend(["--set", set.as_str()]);
    }
    init(&dir, "phoenix", &args);
    tls_front_door(
        http,
        &seed(&dir, "secrets/front-door.env", "KNEO_TLS_CERT"),
        &seed(&dir, "secrets/front-door.env", "KNEO_TLS_KEY"),
        &seed(&dir, "secrets/front-door.env", "KNEO_OTLP_TOKEN"),
    );
    let receiver = Receiver::start_on(grpc, 0);
    receiver.serve_http_on(health);
    let secret = seed(&dir, ".env", "PHOENIX_ADMIN_SECRET");
    assert!(secret.len() >= 16, "{secret}");
    let run = verify(&dir, &["--timeout", "5s"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(impostor.connections() > 0, "the health checks ran");
    assert!(
        !impostor.received().contains(&secret),
        "the admin secret went to the impostor"
    );
    assert!(
        !impostor
            .received()
            .to_ascii_lowercase()
            .contains("authorization")
    );
    assert!(line(&run, "ok    export").contains("accepted trace"));
    assert!(line(&run, "FAIL  health phoenix:").contains("answered 404"));
    let lookup = line(&run, "skip  lookup");
    for needle in [
        "not sent",
        "health phoenix",
        &format!("port {}", impostor.port),
    ] {
        assert!(lookup.contains(needle), "{needle:?} not in {lookup}");
    }

    // SigNoz: the API key of --signoz-api-key, with another program on the UI/API port.
    let impostor = Recorder::start(IMPOSTOR_404);
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let ports: Vec<(String, u16)> = [
        ("otlp_grpc", free_port()),
        ("otlp_http", free_port()),
        ("health", free_port()),
        ("ui", impostor.port),
    ]
    .into_iter()
    .map(|(k, p)| (k.to_string(), p))
    .collect();
    let sets: Vec<String> = ports
        .iter()
        .flat_map(|(k, p)| ["--set".to_string(), format!("ports.{k}={p}")])
        .collect();
    init(
        &dir,
        "signoz",
        &sets.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let receiver = Receiver::start_on(port(&ports, "otlp_grpc"), port(&ports, "otlp_http"));
    receiver.serve_http_on(port(&ports, "health"));
    let run = verify(&dir, &["--timeout", "5s", "--signoz-api-key", SIGNOZ_KEY]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(impostor.connections() > 0, "the health check ran");
    assert!(
        !impostor.received().contains(SIGNOZ_KEY),
        "the API key went to the impostor"
    );
    assert!(line(&run, "ok    export").contains("accepted trace"));
    assert!(line(&run, "skip  lookup").contains("health signoz"));
}
