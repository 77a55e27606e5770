//! Generated stacks observed on the real Collector and Jaeger (harness/): every service healthy,
//! `kneo-otel verify` passing through the real query API, the Rust and Python smoke traces
//! delivered, GenAI-sized data stored intact, redaction visible in what the backend stored,
//! and each service's peak memory against its compose limit.

use std::path::Path;
use std::time::Duration;

use crate::engine::{self, Stack, running_stack};
use crate::genai_traffic::{
    AgentTrace, agent_trace, jaeger_spans, jaeger_trace, json_attribute, probe_jaeger, send_grpc,
    send_http, send_many,
};
use crate::support::kneo;

/// Runs `test` against a rendered stack of `backend` (one stack at a time), or skips when the
/// harness cannot run here.
pub fn with_stack(backend: &str, extra: &[&str], test: impl FnOnce(&Path, &mut Stack)) {
    let _one = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    if let Some(mut stack) = running_stack(&dir, backend, extra) {
        test(&dir, &mut stack);
    }
}

pub fn verify_passes(dir: &Path, stack: &Stack) {
    let out = kneo()
        .args(["verify", "--dir"])
        .arg(dir)
        .args(["--timeout", "30s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "verify failed:\n{stdout}\n{stderr}\n--- logs ---\n{}",
        stack
            .published
            .values()
            .map(|(s, _)| s.clone())
            .collect::<std::collections::BTreeSet<_>>()
            .iter()
            .map(|s| format!("[{s}]\n{}", stack.logs(s)))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn collector_stack_runs_and_verify_passes() {
    with_stack("collector", &[], |dir, stack| {
        verify_passes(dir, stack);
    });
}

#[test]
fn jaeger_stack_runs_and_verify_passes() {
    with_stack("jaeger", &[], |dir, stack| {
        verify_passes(dir, stack);
    });
}

#[test]
fn jaeger_gateway_stack_runs_and_verify_passes() {
    with_stack("jaeger", &["--gateway"], |dir, stack| {
        verify_passes(dir, stack);
    });
}

/// Reads the trace back from Jaeger and compares every message attribute byte for byte.
fn assert_stored_whole(query: &str, trace: &AgentTrace, stack: &Stack) {
    let spans = trace.messages.len();
    let body = jaeger_trace(query, &trace.trace_id_hex(), spans, Duration::from_secs(30))
        .unwrap_or_else(|e| {
            panic!(
                "{e}\n--- gateway ---\n{}\n--- jaeger ---\n{}",
                stack.logs("gateway"),
                stack.logs("jaeger")
            )
        });
    let mut stored: Vec<&str> = jaeger_spans(&body)
        .iter()
        .map(|span| json_attribute(span, "gen_ai.input.messages").expect("message attribute kept"))
        .collect();
    let mut sent: Vec<&str> = trace.messages.iter().map(String::as_str).collect();
    stored.sort();
    sent.sort();
    assert_eq!(stored.len(), sent.len(), "span count");
    for (stored, sent) in stored.iter().zip(&sent) {
        assert!(
            stored == sent,
            "a message attribute of {} bytes came back as {} bytes",
            sent.len(),
            stored.len()
        );
    }
}

#[test]
fn jaeger_stores_genai_sized_attributes_intact() {
    with_stack("jaeger", &[], |_, stack| {
        // A 64 KiB chat history over each transport, and a trace of several MiB in one request.
        let http = agent_trace("kneo_agent", 3, 64 << 10);
        send_http("http://127.0.0.1:4318", &http.request).unwrap();
        assert_stored_whole("http://127.0.0.1:16686", &http, stack);
        let grpc = agent_trace("kneo_agent", 3, 64 << 10);
        send_grpc("http://127.0.0.1:4317", &grpc.request).unwrap();
        assert_stored_whole("http://127.0.0.1:16686", &grpc, stack);
        let big = agent_trace("kneo_agent", 12, 256 << 10);
        assert!(big.encoded_len() > 3 << 20);
        send_grpc("http://127.0.0.1:4317", &big.request).unwrap();
        assert_stored_whole("http://127.0.0.1:16686", &big, stack);
    });
}

#[test]
fn gateway_carries_a_12_mib_trace_and_a_3_mib_attribute_to_jaeger() {
    with_stack("jaeger", &["--gateway"], |_, stack| {
        // 48 spans of 256 KiB in one export, as an SDK's batch would send a long agent run.
        let trace = agent_trace("kneo_agent", 48, 256 << 10);
        assert!(trace.encoded_len() > 12 << 20);
        send_http("http://127.0.0.1:4318", &trace.request).unwrap();
        assert_stored_whole("http://127.0.0.1:16686", &trace, stack);
        // One span whose attribute alone is 3 MiB, over gRPC.
        let single = agent_trace("kneo_agent", 1, 3 << 20);
        send_grpc("http://127.0.0.1:4317", &single.request).unwrap();
        assert_stored_whole("http://127.0.0.1:16686", &single, stack);
    });
}

/// Peak memory of every service after 1,000 GenAI traces, against its compose limit. Prints a
/// table row per service (the README's footprint numbers come from here).
pub fn peak_memory_after_1000_traces(backend: &str, extra: &[&str], query: Option<&str>) {
    let _one = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let Some(mut stack) = running_stack(&dir, backend, extra) else {
        return;
    };
    // An agent run: an invoke_agent root and 4 chat spans with 4 KiB message histories.
    send_many("http://127.0.0.1:4318", 1000, 5, 4 << 10, 20);
    if let Some(query) = query {
        // The last trace is stored whole: nothing was refused along the way.
        // Still ingesting: one more trace after the burst is stored. (Within one batch
        // Jaeger's store keeps traces in no particular order, so the burst's own last trace
        // may be among those evicted.)
        std::thread::sleep(Duration::from_millis(500));
        probe_jaeger(
            "http://127.0.0.1:4318",
            query,
            5,
            4 << 10,
            Duration::from_secs(30),
        )
        .unwrap();
    }
    for service in stack.services() {
        if !stack.has_process(&service) {
            continue; // a one-shot service that has done its job
        }
        stack.assert_running(&service);
        let peak = stack.peak_memory(&service);
        let limit = stack
            .memory_limit(&service)
            .expect("every service has a memory limit");
        eprintln!(
            "footprint | {backend} {} | {service} | peak {} MiB | limit {} MiB | RSS now {} MiB | {:.1} s CPU",
            extra.join(" "),
            peak >> 20,
            limit >> 20,
            stack.rss(&service) >> 20,
            stack.cpu_seconds(&service)
        );
        assert!(
            peak < limit * 9 / 10,
            "{service} peaked at {peak} bytes, within 10% of its limit {limit}"
        );
    }
}

#[test]
fn collector_memory_after_1000_genai_traces() {
    peak_memory_after_1000_traces("collector", &[], None);
}

#[test]
fn jaeger_memory_after_1000_genai_traces() {
    peak_memory_after_1000_traces("jaeger", &[], Some("http://127.0.0.1:16686"));
}

#[test]
fn jaeger_gateway_memory_after_1000_genai_traces() {
    peak_memory_after_1000_traces("jaeger", &["--gateway"], Some("http://127.0.0.1:16686"));
}

/// The trace id a smoke program prints (`trace <32 hex> sent to …`).
pub fn printed_trace_id(stdout: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.len() == 32 && w.chars().all(|c| c.is_ascii_hexdigit()))
        .unwrap_or_else(|| panic!("no trace id in {stdout:?}"))
        .to_string()
}

/// Where a smoke trace must show up: Jaeger's api_v3, Phoenix's REST API, or the collector's
/// debug output.
pub fn assert_arrived(stack: &Stack, backend: &str, what: &str, trace_id: &str) {
    if backend == "phoenix" {
        let spans = crate::real_phoenix::phoenix_spans(trace_id, 3, stack);
        let names: std::collections::BTreeSet<&str> =
            spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert!(
            names.contains("invoke_agent travel_planner"),
            "{what}: {names:?}"
        );
    } else if backend == "jaeger" {
        let body = jaeger_trace(
            "http://127.0.0.1:16686",
            trace_id,
            3,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{what}: {e}"));
        let names: std::collections::BTreeSet<&str> = jaeger_spans(&body)
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert!(
            names.contains("invoke_agent travel_planner"),
            "{what}: {names:?}"
        );
    } else {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !stack.logs("collector").contains(trace_id) {
            assert!(
                std::time::Instant::now() < deadline,
                "{what}: trace {trace_id} not in the collector's debug output"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The Rust smoke crate over HTTP/protobuf and gRPC and the Python smoke script over both,
/// each sent with the environment `init` prints, found in the stack.
fn smoke_programs_deliver(backend: &str, extra: &[&str]) {
    // Both flavours of the generated program, for each transport.
    let rust: Vec<(&str, std::path::PathBuf)> = ["http", "grpc"]
        .into_iter()
        .flat_map(|protocol| {
            ["smoke-sdk", "smoke-tracing"]
                .map(|program| (protocol, crate::snippet_smoke::binary(protocol, program)))
        })
        .collect();
    let python = crate::snippet_python::python();
    let _one = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let Some(stack) = running_stack(&dir, backend, extra) else {
        return;
    };
    let endpoint = |protocol: &str| match protocol {
        "grpc" => "http://127.0.0.1:4317".to_string(),
        _ => "http://127.0.0.1:4318".to_string(),
    };
    // A program exited 0 and the trace it printed is in the stack.
    let delivered = |what: String, out: std::process::Output| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_arrived(&stack, backend, &what, &printed_trace_id(&stdout));
    };
    for (protocol, binary) in &rust {
        let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(protocol))];
        let (out, _) = crate::snippet_smoke::run(binary, &[], &env);
        delivered(format!("rust {protocol} {}", binary.display()), out);
    }
    if let Some(python) = python {
        for protocol in ["http", "grpc"] {
            let script = crate::snippet_python::write_script(tmp.path(), protocol);
            let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint(protocol))];
            let out = crate::snippet_python::run_script(&python, &script, &env);
            delivered(format!("python {protocol}"), out);
        }
    }
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_programs_deliver_to_the_real_collector() {
    smoke_programs_deliver("collector", &[]);
    smoke_programs_deliver("collector", &["--redact"]);
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_programs_deliver_to_real_jaeger() {
    smoke_programs_deliver("jaeger", &[]);
    smoke_programs_deliver("jaeger", &["--gateway"]);
    smoke_programs_deliver("jaeger", &["--redact"]);
}

#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn smoke_programs_deliver_to_real_phoenix() {
    smoke_programs_deliver("phoenix", &[]);
}

#[test]
fn redaction_is_visible_in_what_jaeger_stored() {
    with_stack("jaeger", &["--redact"], |_, stack| {
        let trace = agent_trace("kneo_agent", 3, 2 << 10);
        send_http("http://127.0.0.1:4318", &trace.request).unwrap();
        let body = jaeger_trace(
            "http://127.0.0.1:16686",
            &trace.trace_id_hex(),
            3,
            Duration::from_secs(30),
        )
        .unwrap_or_else(|e| panic!("{e}\n{}", stack.logs("gateway")));
        for span in jaeger_spans(&body) {
            for gone in ["gen_ai.input.messages", "gen_ai.output.messages"] {
                assert_eq!(
                    json_attribute(span, gone),
                    None,
                    "{gone} stored despite --redact"
                );
            }
            assert!(json_attribute(span, "gen_ai.operation.name").is_some());
        }
        let chat = jaeger_spans(&body)
            .into_iter()
            .find(|s| json_attribute(s, "gen_ai.operation.name") == Some("chat"))
            .unwrap();
        for kept in [
            "gen_ai.request.model",
            "gen_ai.provider.name",
            "gen_ai.tool.name",
        ] {
            assert!(
                json_attribute(chat, kept).is_some(),
                "{kept} removed by --redact"
            );
        }
        let usage = chat["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|kv| kv["key"] == "gen_ai.usage.input_tokens");
        assert!(
            usage.is_some(),
            "gen_ai.usage.input_tokens removed by --redact"
        );
    });
}

/// `max_traces` of the rendered Jaeger config.
fn jaeger_max_traces(dir: &Path) -> usize {
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("jaeger-config.yaml")).unwrap())
            .unwrap();
    let backends = config["extensions"]["jaeger_storage"]["backends"]
        .as_mapping()
        .unwrap();
    let (_, store) = backends.iter().next().unwrap();
    store["memory"]["max_traces"].as_u64().unwrap() as usize
}

#[test]
fn jaeger_keeps_ingesting_after_ten_times_max_traces_of_worst_case_traces() {
    with_stack("jaeger", &[], |dir, stack| {
        let max_traces = jaeger_max_traces(dir);
        let traces = (10 * max_traces).min(
            std::env::var("KNEO_JAEGER_TRACES")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(usize::MAX),
        );
        // The worst case the config is sized for: 1 MiB per trace (4 spans of 256 KiB).
        let started = std::time::Instant::now();
        send_many("http://127.0.0.1:4318", traces, 4, 256 << 10, 4);
        // Still ingesting: one more trace after the flood is stored.
        std::thread::sleep(Duration::from_millis(500));
        probe_jaeger(
            "http://127.0.0.1:4318",
            "http://127.0.0.1:16686",
            4,
            256 << 10,
            Duration::from_secs(30),
        )
        .unwrap();
        stack.assert_running("jaeger");
        let peak = stack.peak_memory("jaeger");
        let limit = stack.memory_limit("jaeger").unwrap();
        eprintln!(
            "jaeger: {traces} traces of 1 MiB (max_traces {max_traces}) in {:.1?}, peak {} MiB of {} MiB",
            started.elapsed(),
            peak >> 20,
            limit >> 20
        );
        assert!(
            peak < limit * 9 / 10,
            "jaeger peaked at {peak} bytes of {limit}"
        );
    });
}

/// An app sending one small agent trace every `every` through the gateway, until `finish`.
struct SteadySender {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<Vec<(std::time::Instant, String)>>,
}

impl SteadySender {
    /// With `refusals_allowed` a refused or unanswered request (the gateway is down) is not
    /// counted and the sender goes on, as an app's would; without, a refusal fails the test.
    fn start(every: Duration, refusals_allowed: bool) -> SteadySender {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut sent = Vec::new();
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                let trace = agent_trace("kneo_agent", 3, 2 << 10);
                match send_http("http://127.0.0.1:4318", &trace.request) {
                    Ok(()) => sent.push((std::time::Instant::now(), trace.trace_id_hex())),
                    Err(e) => assert!(refusals_allowed, "the gateway refused a trace: {e}"),
                }
                std::thread::sleep(every);
            }
            sent
        });
        SteadySender { stop, thread }
    }

    /// Stops sending; (acknowledged at, trace id) of every trace the gateway acknowledged.
    fn finish(self) -> Vec<(std::time::Instant, String)> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap()
    }
}

/// Starts Jaeger again after `stop` and waits until its query API answers.
fn start_jaeger_again(stack: &mut Stack) {
    stack.start("jaeger");
    stack.wait_http(
        "jaeger",
        "http://127.0.0.1:16686/api/v3/services",
        Duration::from_secs(60),
    );
}

/// Waits until the last of `ids` is in Jaeger (the queue has drained), then returns the ids
/// still missing after giving retrying batches two more backoff rounds.
fn missing_from_jaeger<'a>(ids: &[&'a String]) -> Vec<&'a String> {
    let jaeger = "http://127.0.0.1:16686";
    jaeger_trace(jaeger, ids[ids.len() - 1], 3, Duration::from_secs(60)).ok();
    let not_yet: Vec<&String> = ids
        .iter()
        .filter(|id| jaeger_trace(jaeger, id, 3, Duration::ZERO).is_err())
        .copied()
        .collect();
    // Batches retry on their own backoff (up to 5 s apart): give the stragglers two rounds.
    if !not_yet.is_empty() {
        std::thread::sleep(Duration::from_secs(10));
    }
    not_yet
        .into_iter()
        .filter(|id| jaeger_trace(jaeger, id, 3, Duration::ZERO).is_err())
        .collect()
}

#[test]
fn gateway_delivers_everything_sent_while_jaeger_is_down_for_60_s() {
    with_stack("jaeger", &["--gateway"], |_, stack| {
        let outage: u64 = std::env::var("KNEO_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(60);
        // ~3 traces a second: what is sent from the stop on (~200) fits Jaeger's store of 256, so
        // a missing trace was lost, not evicted.
        let sender = SteadySender::start(Duration::from_millis(300), false);
        std::thread::sleep(Duration::from_secs(3));
        // From the moment Jaeger is gone: what it acknowledged while shutting down was in its
        // memory only (an in-memory store loses everything on restart).
        stack.stop("jaeger", Duration::from_secs(5));
        let down_at = std::time::Instant::now();
        std::thread::sleep(Duration::from_secs(outage));
        start_jaeger_again(stack);
        std::thread::sleep(Duration::from_secs(3));
        let sent = sender.finish();
        // In-memory Jaeger loses what it stored before the stop; everything sent from then on
        // waited in the gateway's queue.
        let after: Vec<&String> = sent
            .iter()
            .filter(|(at, _)| *at > down_at)
            .map(|(_, id)| id)
            .collect();
        assert!(
            after.len() as u64 >= outage * 2,
            "only {} traces sent during the test",
            after.len()
        );
        let missing = missing_from_jaeger(&after);
        eprintln!(
            "jaeger down {outage} s: {} traces sent from the stop on, {} missing (at {:?})",
            after.len(),
            missing.len(),
            missing
                .iter()
                .map(|m| after.iter().position(|a| a == m).unwrap())
                .collect::<Vec<_>>()
        );
        assert!(
            missing.is_empty(),
            "{} of {} traces lost: {:?}\n{}",
            missing.len(),
            after.len(),
            &missing[..missing.len().min(5)],
            stack.logs("gateway")
        );
    });
}

#[test]
fn gateway_killed_mid_stream_loses_nothing_it_acknowledged() {
    with_stack("jaeger", &["--gateway"], |_, stack| {
        // Jaeger down first, so what the gateway acknowledges waits in its queue when it dies.
        stack.stop("jaeger", Duration::from_secs(5));
        let sender = SteadySender::start(Duration::from_millis(200), true);
        std::thread::sleep(Duration::from_secs(8));
        // What the gateway holds for Jaeger at the kill (bytes, the queue's sizer).
        let queued = stack.metric_sum("gateway", "otelcol_exporter_queue_size", "");
        assert!(
            queued > 0.0,
            "nothing queued in the gateway before the kill"
        );
        stack.kill("gateway");
        let killed_at = std::time::Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        stack.start("gateway");
        stack.wait_http(
            "gateway",
            "http://127.0.0.1:13134/",
            Duration::from_secs(30),
        );
        std::thread::sleep(Duration::from_secs(4));
        start_jaeger_again(stack);
        std::thread::sleep(Duration::from_secs(2));
        let sent = sender.finish();
        let acknowledged: Vec<&String> = sent.iter().map(|(_, id)| id).collect();
        let before_kill = sent.iter().filter(|(at, _)| *at < killed_at).count();
        assert!(
            before_kill >= 20,
            "only {before_kill} traces were acknowledged before the kill"
        );
        let missing = missing_from_jaeger(&acknowledged);
        eprintln!(
            "gateway SIGKILLed with {before_kill} acknowledged traces ({queued} bytes) queued: {} acknowledged in all, {} missing",
            acknowledged.len(),
            missing.len()
        );
        assert!(
            missing.is_empty(),
            "{} of {} acknowledged traces lost: {:?}\n{}",
            missing.len(),
            acknowledged.len(),
            &missing[..missing.len().min(5)],
            stack.logs("gateway")
        );
    });
}

/// Spans Jaeger wrote to its store, by its own count.
fn jaeger_stored_spans(stack: &Stack) -> u64 {
    stack.metric_sum(
        "jaeger",
        "otelcol_exporter_sent_spans",
        "exporter=\"jaeger_storage_exporter\"",
    ) as u64
}

#[test]
fn memory_pressure_refusals_are_retryable_and_retries_deliver() {
    with_stack("jaeger", &["--gateway"], |_, stack| {
        let before = jaeger_stored_spans(stack);
        // 8 apps at once, each sending 2 requests of ~15 MiB (16 agent runs of 4 spans with
        // 240 KiB messages): more than the gateway's memory_limiter lets in at once.
        let senders: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    let mut refusals = Vec::new();
                    for _ in 0..2 {
                        let mut request = Default::default();
                        for _ in 0..16 {
                            let trace = agent_trace("kneo_agent", 4, 240 << 10);
                            merge(&mut request, trace.request);
                        }
                        // An SDK's retry: on a retryable refusal, wait and send again.
                        while let Err(error) = send_http("http://127.0.0.1:4318", &request) {
                            refusals.push(error);
                            std::thread::sleep(Duration::from_millis(500));
                        }
                    }
                    refusals
                })
            })
            .collect();
        let refusals: Vec<String> = senders
            .into_iter()
            .flat_map(|s| s.join().unwrap())
            .collect();
        let sent = 8 * 2 * 16 * 4;
        let started = std::time::Instant::now();
        while jaeger_stored_spans(stack) - before < sent
            && started.elapsed() < Duration::from_secs(60)
        {
            std::thread::sleep(Duration::from_millis(500));
        }
        let stored = jaeger_stored_spans(stack) - before;
        eprintln!(
            "memory pressure: {} refusals ({:?}), {stored} of {sent} spans stored, gateway peak {} MiB, jaeger peak {} MiB",
            refusals.len(),
            refusals.first(),
            stack.peak_memory("gateway") >> 20,
            stack.peak_memory("jaeger") >> 20
        );
        for refusal in &refusals {
            assert!(
                refusal.starts_with("HTTP 503") || refusal.starts_with("HTTP 429"),
                "a refusal an SDK does not retry: {refusal}"
            );
        }
        assert_eq!(stored, sent, "acknowledged spans lost");
        stack.assert_running("gateway");
        stack.assert_running("jaeger");
    });
}

fn merge(
    into: &mut opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
    from: opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
) {
    into.resource_spans.extend(from.resource_spans);
}

#[test]
fn jaeger_queries_do_not_fill_its_store_with_its_own_traces() {
    with_stack("jaeger", &[], |_, _| {
        let trace = agent_trace("kneo_agent", 2, 64);
        send_http("http://127.0.0.1:4318", &trace.request).unwrap();
        for _ in 0..20 {
            jaeger_trace(
                "http://127.0.0.1:16686",
                &trace.trace_id_hex(),
                2,
                Duration::from_secs(30),
            )
            .unwrap();
        }
        // Give a self-trace time to be exported and stored, then list the services.
        std::thread::sleep(Duration::from_secs(6));
        let mut response = ureq::get("http://127.0.0.1:16686/api/v3/services")
            .call()
            .unwrap();
        let services = response.body_mut().read_to_string().unwrap();
        assert!(
            !services.contains("\"jaeger\""),
            "Jaeger stored traces of its own queries: {services}"
        );
    });
}
