//! Stacks `init` wrote, started unchanged with `docker compose up -d --wait` on the Docker
//! Engine (engine.rs), then checked as a user checks them: `kneo-otel verify` passes. Each
//! prints its time to healthy.

use std::path::Path;

use crate::engine::{self, Stack, running_stack};
use crate::support::kneo;

/// Runs `test` against the stack `init --backend <backend> <extra>` writes, up on the engine
/// under the test's own project (`kneo-test-<test name>`) (one stack at a time), or skips when the engine cannot
/// run here. The stack is taken down (`down -v`) afterwards, also when `test` panics.
pub fn with_engine_stack(backend: &str, extra: &[&str], test: impl FnOnce(&Path, &mut Stack)) {
    let _one = engine::exclusive();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    if let Some(mut stack) = running_stack(&dir, backend, extra) {
        test(&dir, &mut stack);
    }
}

/// `kneo-otel verify` passes on the running stack; else fails with every service's log.
pub fn verify_passes(dir: &Path, stack: &Stack) {
    let out = kneo()
        .args(["verify", "--dir"])
        .arg(dir)
        .args(["--timeout", "30s"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "verify failed:\n{}\n{}\n--- logs ---\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        stack.all_logs()
    );
}

#[test]
fn engine_collector_stack_up_and_verify_passes() {
    with_engine_stack("collector", &[], |dir, stack| {
        verify_passes(dir, stack);
    });
}

#[test]
fn engine_jaeger_stack_up_and_verify_passes() {
    with_engine_stack("jaeger", &[], |dir, stack| {
        verify_passes(dir, stack);
    });
}

#[test]
fn engine_jaeger_gateway_stack_up_and_verify_passes() {
    with_engine_stack("jaeger", &["--gateway"], |dir, stack| {
        verify_passes(dir, stack);
    });
}

#[test]
fn engine_jaeger_redact_stack_up_and_verify_passes() {
    with_engine_stack("jaeger", &["--redact"], |dir, stack| {
        verify_passes(dir, stack);
    });
}

#[test]
fn engine_phoenix_stack_up_and_verify_passes() {
    with_engine_stack("phoenix", &[], |dir, stack| {
        verify_passes(dir, stack);
    });
}
