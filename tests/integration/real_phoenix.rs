//! Phoenix stacks observed on the real package (`arize-phoenix` from PyPI, the version the image
//! pins, from `docker compose up` on the engine): healthy, `kneo-otel verify` passing through Phoenix's REST API, GenAI
//! attributes sent over OTLP/HTTP and gRPC read back as Phoenix's LLM fields, `--also phoenix`
//! feeding both views with `--redact` on the ops view only, and Phoenix's peak memory.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{self, Stack, running_stack};
use crate::genai_traffic::{
    AgentTrace, agent_trace, jaeger_spans, jaeger_trace, json_attribute, send_grpc, send_http, text,
};
use crate::real_backends::{peak_memory_after_1000_traces, verify_passes};

pub const PHOENIX: &str = "http://127.0.0.1:6006";

fn with_stack(backend: &str, extra: &[&str], test: impl FnOnce(&Path, &mut Stack)) {
    let _one = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    if let Some(mut stack) = running_stack(&dir, backend, extra) {
        test(&dir, &mut stack);
    }
}

/// The spans of one trace as Phoenix's REST API returns them, once it has `spans` of them.
pub fn phoenix_spans(trace_id: &str, spans: usize, stack: &Stack) -> Vec<Value> {
    let url = format!("{PHOENIX}/v1/projects/default/spans?trace_id={trace_id}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = String::new();
    while Instant::now() < deadline {
        match ureq::get(&url).call() {
            Ok(mut reply) => {
                let body: Value =
                    serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
                let found = body["data"].as_array().cloned().unwrap_or_default();
                if found.len() >= spans {
                    return found;
                }
                last = format!("{} of {spans} spans", found.len());
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "trace {trace_id} not in Phoenix: {last}\n--- gateway ---\n{}\n--- phoenix ---\n{}",
        stack.logs("gateway"),
        stack.logs("phoenix")
    );
}

/// An agent trace whose chat span carries OpenTelemetry GenAI message JSON (what the
/// `kneo_agent` SDK writes) that Phoenix converts into its LLM model at ingest.
fn llm_trace() -> (AgentTrace, &'static str) {
    const QUESTION: &str = "Plan three days in Lisbon";
    let mut trace = agent_trace("kneo_agent", 2, 64);
    let messages =
        format!(r#"[{{"role":"user","parts":[{{"type":"text","content":"{QUESTION}"}}]}}]"#);
    for span in &mut trace.request.resource_spans[0].scope_spans[0].spans {
        for attribute in &mut span.attributes {
            if attribute.key == "gen_ai.input.messages" {
                *attribute = text("gen_ai.input.messages", messages.clone());
            }
        }
    }
    (trace, QUESTION)
}

/// The chat span came back as an LLM span with its model, token counts and the user message.
fn assert_llm_fields(spans: &[Value], question: &str) {
    let chat = spans
        .iter()
        .find(|s| s["name"] == "chat gpt-4o")
        .unwrap_or_else(|| panic!("no chat span in {spans:?}"));
    let attributes = &chat["attributes"];
    assert_eq!(chat["span_kind"], "LLM", "{chat}");
    assert_eq!(attributes["llm.model_name"], "gpt-4o", "{chat}");
    assert_eq!(attributes["llm.token_count.prompt"], 16, "{chat}");
    assert_eq!(attributes["llm.token_count.completion"], 512, "{chat}");
    assert_eq!(attributes["llm.token_count.total"], 528, "{chat}");
    let flat = serde_json::to_string(attributes).unwrap();
    assert_eq!(
        attributes["llm.input_messages.0.message.role"], "user",
        "{chat}"
    );
    assert!(flat.contains(question), "input message missing: {chat}");
}

/// Also: the retention the render writes (`PHOENIX_DEFAULT_RETENTION_POLICY_DAYS`, the
/// catalog's default 14 days, where Phoenix's own is 0 = forever) is what running Phoenix put
/// into its database's Default policy (issue 26, item 1), read from the SQLite file inside the
/// container.
#[test]
fn phoenix_stack_runs_and_verify_passes() {
    with_stack("phoenix", &[], |dir, stack| {
        verify_passes(dir, stack);
        let policy = stack.compose_ok(&[
            "exec",
            "-T",
            "phoenix",
            "/opt/phoenix/bin/python",
            "-c",
            "import sqlite3; db = sqlite3.connect('file:/home/nonroot/phoenix.db?mode=ro', uri=True); \
             print(db.execute('select name, cron_expression, rule from project_trace_retention_policies where id = 0').fetchone())",
        ]);
        assert!(
            policy.contains("'Default'") && policy.contains("0 0 * * 0"),
            "Phoenix's Default policy: {policy}"
        );
        let rule: Value = serde_json::from_str(
            policy
                .trim()
                .rsplit_once(", '")
                .map(|(_, rule)| rule.trim_end_matches("')"))
                .unwrap_or_else(|| panic!("no rule in {policy}")),
        )
        .unwrap_or_else(|e| panic!("rule {policy}: {e}"));
        assert_eq!(rule["type"], "max_days", "{policy}");
        // Phoenix stores the days as a float (`14.0`).
        assert_eq!(rule["max_days"].as_f64(), Some(14.0), "{policy}");
    });
}

#[test]
fn phoenix_reads_gen_ai_attributes_as_llm_fields_over_http_and_grpc() {
    with_stack("phoenix", &[], |_, stack| {
        let (http, question) = llm_trace();
        send_http("http://127.0.0.1:4318", &http.request).unwrap();
        assert_llm_fields(&phoenix_spans(&http.trace_id_hex(), 2, stack), question);
        let (grpc, question) = llm_trace();
        send_grpc("http://127.0.0.1:4317", &grpc.request).unwrap();
        assert_llm_fields(&phoenix_spans(&grpc.trace_id_hex(), 2, stack), question);
        // Larger than Phoenix's own gRPC limit (4 MiB): the gateway's HTTP hop carries it.
        let big = agent_trace("kneo_agent", 8, 768 << 10);
        assert!(big.encoded_len() > 5 << 20);
        send_grpc("http://127.0.0.1:4317", &big.request).unwrap();
        let spans = phoenix_spans(&big.trace_id_hex(), 8, stack);
        assert_eq!(spans.len(), 8);
    });
}

#[test]
fn phoenix_redact_deletes_content_before_phoenix() {
    with_stack("phoenix", &["--redact"], |_, stack| {
        let (trace, question) = llm_trace();
        send_http("http://127.0.0.1:4318", &trace.request).unwrap();
        let spans = phoenix_spans(&trace.trace_id_hex(), 2, stack);
        let flat = serde_json::to_string(&spans).unwrap();
        assert!(!flat.contains(question), "content reached Phoenix: {flat}");
        assert!(!flat.contains("gen_ai.input.messages"), "{flat}");
        assert!(
            flat.contains("llm.token_count.prompt"),
            "usage kept: {flat}"
        );
    });
}

#[test]
fn jaeger_also_phoenix_feeds_both_views_and_redacts_the_ops_view_only() {
    with_stack(
        "jaeger",
        &["--also", "phoenix", "--redact"],
        |dir, stack| {
            stack.wait_http(
                "phoenix",
                &format!("{PHOENIX}/healthz"),
                Duration::from_secs(60),
            );
            verify_passes(dir, stack);
            let (trace, question) = llm_trace();
            send_grpc("http://127.0.0.1:4317", &trace.request).unwrap();
            // The ops view: stored, content deleted.
            let body = jaeger_trace(
                "http://127.0.0.1:16686",
                &trace.trace_id_hex(),
                2,
                Duration::from_secs(30),
            )
            .unwrap();
            for span in jaeger_spans(&body) {
                assert!(json_attribute(span, "gen_ai.input.messages").is_none());
                assert!(json_attribute(span, "gen_ai.operation.name").is_some());
            }
            // The LLM view: the same spans, with their messages.
            assert_llm_fields(&phoenix_spans(&trace.trace_id_hex(), 2, stack), question);
        },
    );
}

/// The image the stacks run (`scripts/images`) holds the `arize-phoenix` the catalog's tag names.
#[test]
fn engine_phoenix_image_runs_the_version_the_catalog_pins() {
    if engine::engine().is_none() {
        return;
    }
    let catalog = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
    )
    .unwrap();
    let image = "arizephoenix/phoenix, tag: \"";
    let tag = catalog[catalog.find(image).expect("phoenix in the catalog") + image.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let out = engine::run_bounded(
        std::process::Command::new("docker").args([
            "run",
            "--rm",
            "--pull",
            "never",
            &format!("arizephoenix/phoenix:{tag}"),
            "-c",
            "import phoenix; print(phoenix.__version__)",
        ]),
        Duration::from_secs(60),
    );
    assert!(
        out.status.success(),
        "arizephoenix/phoenix:{tag} does not run (./scripts/images builds it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let version = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        format!("version-{}-nonroot", version.trim()),
        tag,
        "the image holds arize-phoenix {} but the catalog pins another tag",
        version.trim()
    );
}

#[test]
fn phoenix_memory_after_1000_genai_traces() {
    peak_memory_after_1000_traces("phoenix", &[], None);
}

/// `--expose`: Phoenix's own auth is on. Its API refuses a request without a token, the
/// gateway's exporter authenticates with the admin secret from `.env` (so spans still arrive),
/// the same secret reads them back, and `verify` passes (it reads that secret too).
#[test]
fn phoenix_with_expose_requires_auth_and_the_gateway_has_it() {
    with_stack("phoenix", &["--expose"], |dir, stack| {
        let env = std::fs::read_to_string(dir.join(".env")).unwrap();
        let admin = env
            .lines()
            .find_map(|l| l.strip_prefix("PHOENIX_ADMIN_SECRET="))
            .unwrap()
            .to_string();
        let (trace, question) = llm_trace();
        // The front door takes it over TLS with the token (--expose), as an app elsewhere would.
        let ca = std::fs::read(dir.join("secrets/ca.crt")).unwrap();
        let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
        let status = crate::exposed::post_request(
            "https://127.0.0.1:4318/v1/traces",
            &ca,
            Some(token.trim()),
            &prost::Message::encode_to_vec(&trace.request),
        );
        assert_eq!(status, Ok(200));
        let url = format!(
            "{PHOENIX}/v1/projects/default/spans?trace_id={}",
            trace.trace_id_hex()
        );
        let agent = ureq::Agent::new_with_config(
            ureq::config::Config::builder()
                .http_status_as_error(false)
                .build(),
        );
        let anonymous = agent.get(&url).call().unwrap();
        assert_eq!(anonymous.status(), 401, "Phoenix answered without auth");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut reply = agent
                .get(&url)
                .header("Authorization", &format!("Bearer {admin}"))
                .call()
                .unwrap();
            assert_eq!(reply.status(), 200);
            let body: Value =
                serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
            let spans = body["data"].as_array().cloned().unwrap_or_default();
            if spans.len() == 2 {
                assert_llm_fields(&spans, question);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the gateway's spans did not reach Phoenix with auth on\n--- gateway ---\n{}\n--- phoenix ---\n{}",
                stack.logs("gateway"),
                stack.logs("phoenix")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // verify: the export over TLS with the front door's token, the lookup with the
        // admin secret from .env.
        verify_passes(dir, stack);
    });
}

/// The generated README's backup and restore lines, run as a user would (stack stopped):
/// Phoenix's traces and the gateway queue's files come back after `docker compose down -v`.
#[test]
fn readme_backup_and_restore_bring_phoenix_and_the_queue_back_after_down_v() {
    with_stack("phoenix", &[], |dir, stack| {
        let (trace, _) = llm_trace();
        send_http("http://127.0.0.1:4318", &trace.request).unwrap();
        phoenix_spans(&trace.trace_id_hex(), 2, stack);
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        let lines: Vec<&str> = readme
            .lines()
            .filter(|l| l.starts_with("docker run --rm --user 0 --entrypoint tar"))
            .collect();
        let (backup, restore): (Vec<&str>, Vec<&str>) =
            lines.iter().partition(|l| l.contains(" -czf "));
        assert_eq!(backup.len(), 2, "phoenix-data and gateway-queue: {readme}");
        assert_eq!(restore.len(), 2, "{readme}");
        let listing = |volume: &str| {
            let out = std::process::Command::new("docker")
                .args(["run", "--rm", "-v"])
                .arg(format!("{}_{volume}:/data", stack.project))
                .args(["busybox:1.37.0", "find", "/data"])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let sh = |line: &str| {
            let out = std::process::Command::new("sh")
                .args(["-c", line])
                .current_dir(dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{line}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        stack.compose_ok(&["stop"]);
        let queue_before = listing("gateway-queue");
        assert!(
            queue_before.lines().count() > 1,
            "queue files: {queue_before}"
        );
        backup.iter().for_each(|l| sh(l));
        stack.compose_ok(&["down", "-v"]);
        // As the README says: Compose creates the volumes, so a later `down -v` removes them.
        stack.compose_ok(&["create", "--pull", "never"]);
        assert_eq!(
            listing("gateway-queue").lines().count(),
            1,
            "down -v emptied it"
        );
        restore.iter().for_each(|l| sh(l));
        assert_eq!(listing("gateway-queue"), queue_before);
        let again = crate::engine::Stack::up(dir, &stack.project);
        phoenix_spans(&trace.trace_id_hex(), 2, &again);
    });
}
