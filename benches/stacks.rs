//! The throughput benchmark (`scripts/bench`): how many GenAI spans a second each generated
//! stack carries with zero loss, on the real Collector and Jaeger, up with `docker compose up -d --wait` on the engine, and what
//! that costs in CPU and memory per service.
//!
//! For each stack (collector, jaeger, jaeger --gateway, jaeger --redact) and each message size
//! (1 KiB and 32 KiB `gen_ai.input.messages`), the load generator sends OTLP/HTTP requests the
//! way an SDK's batch processor does (64 spans a request: agent runs of 8 spans with model,
//! tool, token usage and message content), at a target rate for a fixed time, doubling the
//! rate while nothing is lost, then bisecting. A span is lost when the stack acknowledged it and its backend
//! did not store it, or when the stack refused it (the app would have to retry). "Stored" is
//! the backend's own count of spans written (the Collector's `debug` exporter, Jaeger's
//! `jaeger_storage_exporter`), and after every step one more trace is read back whole through
//! Jaeger's query API (still ingesting; the step's own traces may be evicted from its store of
//! 256). The highest rate reached with zero loss is reported, and what stopped
//! the climb: "loss", or "saturation" (nothing lost, but the senders could not reach the
//! target: each waits for its answer, and the generator and the stack share the 2 cores).
//!
//! Run with `cargo bench --bench stacks` (root, Go; see scripts/bench). Under `cargo test`
//! it only lists what it would measure.

#[allow(dead_code)]
#[path = "../tests/integration/engine.rs"]
mod engine;
#[allow(dead_code)]
#[path = "../tests/integration/genai_traffic.rs"]
mod genai_traffic;
#[allow(dead_code)]
#[path = "../tests/integration/support.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use genai_traffic::agent_trace;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

/// Spans in one agent run, and agent runs in one export request (64 spans, as an SDK batch).
const SPANS_PER_TRACE: usize = 8;
const TRACES_PER_REQUEST: usize = 8;
const SPANS_PER_REQUEST: u64 = (SPANS_PER_TRACE * TRACES_PER_REQUEST) as u64;
/// Concurrent senders (an app's exporters); the machine has 2 cores shared with the stack.
const SENDERS: usize = 4;
/// Rates tried per stack and size: doubling from 500 spans/s, then two bisections.
const MAX_STEPS: usize = 9;

struct Case {
    label: &'static str,
    backend: &'static str,
    extra: &'static [&'static str],
    /// Service whose exporter writes to storage, and that exporter's name in its metrics.
    store: (&'static str, &'static str),
    jaeger: bool,
}

const CASES: &[Case] = &[
    Case {
        label: "collector",
        backend: "collector",
        extra: &[],
        store: ("collector", "debug"),
        jaeger: false,
    },
    Case {
        label: "jaeger",
        backend: "jaeger",
        extra: &[],
        store: ("jaeger", "jaeger_storage_exporter"),
        jaeger: true,
    },
    Case {
        label: "jaeger --gateway",
        backend: "jaeger",
        extra: &["--gateway"],
        store: ("jaeger", "jaeger_storage_exporter"),
        jaeger: true,
    },
    Case {
        label: "jaeger --redact",
        backend: "jaeger",
        extra: &["--redact"],
        store: ("jaeger", "jaeger_storage_exporter"),
        jaeger: true,
    },
];

const SIZES: &[(usize, &str)] = &[(1 << 10, "1 KiB"), (32 << 10, "32 KiB")];

fn stored(stack: &engine::Stack, case: &Case) -> u64 {
    let (service, exporter) = case.store;
    stack.metric_sum(
        service,
        "otelcol_exporter_sent_spans",
        &format!("exporter=\"{exporter}\""),
    ) as u64
}

struct Step {
    target: u64,
    achieved: f64,
    acknowledged: u64,
    refused: u64,
    stored: u64,
    /// A trace sent after the step was read back whole through the query API (Jaeger).
    probe_found: bool,
    /// CPU each service used while sending and draining, in cores.
    cpu: Vec<f64>,
    /// Highest resident memory of each service while sending.
    peak_rss: Vec<u64>,
}

impl Step {
    fn lossless(&self) -> bool {
        self.refused == 0 && self.stored >= self.acknowledged && self.probe_found
    }
}

/// The services with a process (not the one-shot that set up the gateway's volume).
fn live_services(stack: &engine::Stack) -> Vec<String> {
    let mut services = stack.services();
    services.retain(|s| stack.has_process(s));
    services
}

/// One encoded request of TRACES_PER_REQUEST fresh agent runs.
fn request(message_bytes: usize) -> Vec<u8> {
    let mut request = ExportTraceServiceRequest::default();
    for _ in 0..TRACES_PER_REQUEST {
        let trace = agent_trace("kneo_agent", SPANS_PER_TRACE, message_bytes);
        request.resource_spans.extend(trace.request.resource_spans);
    }
    request.encode_to_vec()
}

/// Sends at `target` spans/s for `duration`; counts what the stack acknowledged and refused.
fn run_step(
    stack: &engine::Stack,
    case: &Case,
    message_bytes: usize,
    target: u64,
    duration: Duration,
) -> Step {
    let before = stored(stack, case);
    let services = live_services(stack);
    let cpu_before: Vec<f64> = services.iter().map(|s| stack.cpu_seconds(s)).collect();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let per_sender_interval =
        Duration::from_secs_f64(SPANS_PER_REQUEST as f64 * SENDERS as f64 / target as f64);
    let started = Instant::now();
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (acknowledged, refused, stop) =
                (acknowledged.clone(), refused.clone(), stop.clone());
            std::thread::spawn(move || {
                let agent = ureq::Agent::new_with_config(
                    ureq::config::Config::builder()
                        .timeout_global(Some(Duration::from_secs(30)))
                        .http_status_as_error(false)
                        .build(),
                );
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let body = request(message_bytes);
                    let ok = agent
                        .post("http://127.0.0.1:4318/v1/traces")
                        .header("Content-Type", "application/x-protobuf")
                        .send(&body[..])
                        .map(|r| r.status().is_success())
                        .unwrap_or(false);
                    if ok {
                        acknowledged.fetch_add(SPANS_PER_REQUEST, Ordering::Relaxed);
                    } else {
                        refused.fetch_add(SPANS_PER_REQUEST, Ordering::Relaxed);
                    }
                    next += per_sender_interval;
                    if let Some(wait) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
            })
        })
        .collect();
    // Resident memory of every service, sampled while the senders run.
    let mut peak_rss = vec![0u64; services.len()];
    while started.elapsed() < duration {
        for (peak, service) in peak_rss.iter_mut().zip(&services) {
            *peak = (*peak).max(stack.rss(service));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.join().unwrap();
    }
    let elapsed = started.elapsed();
    let acknowledged = acknowledged.load(Ordering::Relaxed);
    // Drain: wait until the store has everything acknowledged, or stops growing for 10 s.
    let mut last = (stored(stack, case) - before, Instant::now());
    while last.0 < acknowledged && last.1.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(500));
        let now = stored(stack, case) - before;
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let busy = started.elapsed().as_secs_f64();
    let cpu = services
        .iter()
        .zip(cpu_before)
        .map(|(s, before)| (stack.cpu_seconds(s) - before) / busy)
        .collect();
    // Still ingesting, and the query API returns what it stored: one more trace, read back.
    // (The traces of the step itself may be evicted: Jaeger keeps the last 256.)
    let probe_found = !case.jaeger
        || genai_traffic::probe_jaeger(
            "http://127.0.0.1:4318",
            "http://127.0.0.1:16686",
            SPANS_PER_TRACE,
            message_bytes,
            Duration::from_secs(10),
        )
        .is_ok();
    Step {
        target,
        achieved: acknowledged as f64 / elapsed.as_secs_f64(),
        acknowledged,
        refused: refused.load(Ordering::Relaxed),
        stored: last.0,
        probe_found,
        cpu,
        peak_rss,
    }
}

struct Row {
    case: &'static str,
    size: &'static str,
    best: Option<Step>,
    limited_by: &'static str,
    services: Vec<(String, f64, u64)>,
}

fn measure(case: &Case, size: (usize, &'static str), duration: Duration) -> Row {
    let _exclusive = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let stack = engine::running_stack(&dir, case.backend, case.extra)
        .expect("no usable engine or images (run scripts/engine and scripts/images)");
    let mut best: Option<Step> = None;
    let mut limited_by = "loss";
    // Double while lossless, then bisect twice between the best rate and the first lossy one.
    let (mut target, mut lossy): (u64, Option<u64>) = (500, None);
    for _ in 0..MAX_STEPS {
        let step = run_step(&stack, case, size.0, target, duration);
        eprintln!(
            "  {} {}: target {} spans/s -> {:.0} acknowledged/s, {} refused, {} of {} stored, probe read back: {}",
            case.label,
            size.1,
            step.target,
            step.achieved,
            step.refused,
            step.stored,
            step.acknowledged,
            step.probe_found
        );
        if step.lossless() {
            let kept_up = step.achieved >= 0.9 * step.target as f64;
            if best.as_ref().is_none_or(|b| step.achieved > b.achieved) {
                best = Some(step);
            }
            if !kept_up {
                limited_by = "saturation";
                break;
            }
        } else {
            lossy = Some(target);
        }
        let good = best.as_ref().map_or(0, |b| b.target);
        target = match lossy {
            None => target * 2,
            Some(bad) if bad - good > good / 8 => (good + bad) / 2,
            Some(_) => break,
        };
        if target == 0 {
            break;
        }
    }
    let services = live_services(&stack)
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            let cpu = best.as_ref().map_or(0.0, |b| b.cpu[i]);
            let peak = best.as_ref().map_or(0, |b| b.peak_rss[i]);
            (s, cpu, peak)
        })
        .collect();
    Row {
        case: case.label,
        size: size.1,
        best,
        limited_by,
        services,
    }
}

fn main() {
    let bench = std::env::args().any(|a| a == "--bench");
    if !bench {
        for case in CASES {
            for (_, size) in SIZES {
                println!(
                    "bench stacks: {} with {size} messages (run: scripts/bench)",
                    case.label
                );
            }
        }
        return;
    }
    let duration = Duration::from_secs(
        std::env::var("KNEO_BENCH_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    );
    let only = std::env::var("KNEO_BENCH_ONLY").ok();
    let mut rows = Vec::new();
    for case in CASES {
        if only.as_deref().is_some_and(|o| o != case.label) {
            continue;
        }
        for size in SIZES {
            eprintln!("{} with {} messages", case.label, size.1);
            rows.push(measure(case, *size, duration));
        }
    }
    println!();
    println!(
        "| stack | message | spans/s, zero loss | MiB/s | limited by | CPU (cores) and peak RSS per service, at that rate |"
    );
    println!("|---|---|---|---|---|---|");
    for row in &rows {
        let (rate, mib) = row.best.as_ref().map_or(("none".to_string(), 0.0), |s| {
            let size = SIZES.iter().find(|(_, l)| *l == row.size).unwrap().0;
            (
                format!("{:.0}", s.achieved),
                s.achieved * size as f64 / (1 << 20) as f64,
            )
        });
        let services: Vec<String> = row
            .services
            .iter()
            .map(|(s, cpu, peak)| format!("{s} {cpu:.2} / {} MiB", peak >> 20))
            .collect();
        println!(
            "| `{}` | {} | {rate} | {mib:.1} | {} | {} |",
            row.case,
            row.size,
            row.limited_by,
            services.join(", ")
        );
    }
    // Redaction's cost: its zero-loss rate against the plain gateway's, same size, same run.
    for (_, size) in SIZES {
        let rate = |label: &str| {
            rows.iter()
                .find(|r| r.case == label && r.size == *size)
                .and_then(|r| r.best.as_ref())
                .map(|s| s.achieved)
        };
        if let (Some(gateway), Some(redact)) = (rate("jaeger --gateway"), rate("jaeger --redact")) {
            println!(
                "\nredaction at {size}: {:.2}x the plain gateway's zero-loss rate",
                redact / gateway
            );
        }
    }
}
