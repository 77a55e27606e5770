//! `--redact` against what real GenAI instrumentations send (#25): the OpenTelemetry registry's
//! own list of content attributes holds the keep list, and three instrumentations from PyPI
//! (OpenTelemetry's openai-v2, OpenInference, Traceloop) drive the `openai` client against a
//! local OpenAI-compatible server of ours (tests/fixtures/genai/drive_openai.py), exporting
//! to stacks up on the Docker Engine. With `--redact` no canary (a prompt, response, tool
//! argument or result, system instruction, tool definition or retrieved document) reaches
//! what the backend stores; without it they all do.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::engine::{self, running_stack};
use crate::support::validator;

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

fn cache() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache"));
    base.join("kneo-otel/genai")
}

/// The catalog's `redaction` section.
fn catalog_redaction() -> serde_yaml::Value {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
    )
    .unwrap();
    let catalog: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    catalog["redaction"].clone()
}

/// `pip download` of one version of `opentelemetry-semantic-conventions` (cached), or `None`
/// when PyPI cannot be reached outside CI.
fn semconv_module(version: Option<&str>) -> Option<(String, String)> {
    let pip = validator("pip")?;
    let spec = match version {
        Some(v) => format!("opentelemetry-semantic-conventions=={v}"),
        None => "opentelemetry-semantic-conventions".to_string(),
    };
    let dir = cache().join(format!("semconv-{}", version.unwrap_or("newest")));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(&pip)
        .args(["download", "--no-deps", "--pre", "--quiet", "-d"])
        .arg(&dir)
        .arg(&spec)
        .output()
        .unwrap();
    if !out.status.success() {
        assert!(
            !in_ci(),
            "CI: pip download {spec}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("note: PyPI not reachable, registry test skipped");
        return None;
    }
    let wheel = std::fs::read_dir(&dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = wheel.file_name().unwrap().to_string_lossy().into_owned();
    let found = name.split('-').nth(1).unwrap().to_string();
    let python = validator("python")?;
    let out = Command::new(python)
        .args([
            "-c",
            "import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read('opentelemetry/semconv/_incubating/attributes/gen_ai_attributes.py').decode())",
        ])
        .arg(&wheel)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((found, String::from_utf8(out.stdout).unwrap()))
}

/// `name → docstring` of every `gen_ai.*` attribute a registry module defines.
fn attributes(module: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(r#"(?m)^GEN_AI_[A-Z0-9_]+: Final = "([^"]+)"\n"""([\s\S]*?)""""#)
        .unwrap();
    re.captures_iter(module)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

#[test]
fn the_keep_list_holds_no_attribute_the_registry_marks_as_content() {
    let Some((newest, module)) = semconv_module(None) else {
        return;
    };
    // Since 0.65 the GenAI attributes point to their new repository without descriptions:
    // their content warnings ("likely to" / "may contain sensitive information") are read
    // from the newest release that still has them.
    let Some((described, old)) = semconv_module(Some("0.64b0")) else {
        return;
    };
    let redaction = catalog_redaction();
    let keep: Vec<String> = redaction["keep"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let content: Vec<String> = attributes(&old)
        .into_iter()
        .filter(|(_, doc)| doc.contains("contain sensitive information"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        content.len() >= 5 && content.contains(&"gen_ai.input.messages".to_string()),
        "{described}: the content warnings moved: {content:?}"
    );
    for name in &content {
        assert!(
            !keep.contains(name),
            "the keep list holds {name}, which opentelemetry-semantic-conventions {described} marks as content"
        );
    }
    // Names the registry has and the list does not name are deleted by --redact: say which.
    let all = attributes(&module);
    assert!(all.len() > 40, "{newest}: {} gen_ai attributes", all.len());
    let usage = regex::Regex::new(r"^gen_ai[.]usage[.][a-z0-9_.]+$").unwrap();
    let unlisted: Vec<&String> = all
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !keep.contains(name) && !usage.is_match(name))
        .collect();
    eprintln!(
        "opentelemetry-semantic-conventions {newest}: {} gen_ai.* attributes; deleted by --redact (not on the keep list): {unlisted:?}",
        all.len()
    );
}

/// One instrumentation's virtualenv (cached by its pins), or `None` outside CI when PyPI
/// cannot be reached.
fn venv(lib: &str, pins: &[&str]) -> Option<PathBuf> {
    let common = [
        "openai==3.57.0",
        "opentelemetry-sdk==1.45.2",
        "opentelemetry-exporter-otlp-proto-http==1.45.2",
    ];
    let key = pins.join(",");
    let dir = cache().join(format!(
        "{lib}-{:016x}",
        key.bytes()
            .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64)
                .wrapping_mul(0x100000001b3))
    ));
    let python = dir.join("bin/python");
    if python.exists() {
        return Some(python);
    }
    let base = validator("python")?;
    let tmp = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&tmp);
    let made = Command::new(base)
        .args(["-m", "venv"])
        .arg(&tmp)
        .status()
        .unwrap()
        .success()
        && Command::new(tmp.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(common)
            .args(pins)
            .status()
            .unwrap()
            .success();
    if !made {
        assert!(!in_ci(), "CI: cannot install {pins:?} from PyPI");
        eprintln!("note: {lib} not installable here, skipped");
        return None;
    }
    std::fs::rename(&tmp, &dir).unwrap();
    Some(python)
}

const LIBS: &[(&str, &[&str])] = &[
    (
        "openai-v2",
        &[
            "opentelemetry-instrumentation-openai-v2==2.4b0",
            // 1.3b0 lacks the `instruments` module 2.4b0 imports.
            "opentelemetry-util-genai==1.1b0",
            "httpx",
        ],
    ),
    (
        "openinference",
        &["openinference-instrumentation-openai==0.1.66"],
    ),
    (
        "traceloop",
        &["opentelemetry-instrumentation-openai==0.62.4"],
    ),
];

/// The two switches that decide what an app sends, both ways: the latest GenAI conventions
/// opted into or not; content capture on in both.
const STATES: &[(&str, &[(&str, &str)])] = &[
    (
        "latest",
        &[
            (
                "OTEL_SEMCONV_STABILITY_OPT_IN",
                "gen_ai_latest_experimental",
            ),
            (
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
                "span_and_event",
            ),
        ],
    ),
    (
        "default",
        &[(
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "span_and_event",
        )],
    ),
];

/// Runs the driver for `lib` in `state` against the stack's OTLP/HTTP port; its canaries.
fn drive(
    python: &Path,
    lib: &str,
    state: &[(&str, &str)],
    service: &str,
    logs: bool,
) -> Vec<String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/genai/drive_openai.py");
    let mut command = Command::new(python);
    command
        .arg(script)
        .args([
            "--lib",
            lib,
            "--endpoint",
            "http://127.0.0.1:4318",
            "--service",
            service,
        ])
        .env_remove("OTEL_SEMCONV_STABILITY_OPT_IN")
        .env_remove("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT");
    if logs {
        command.arg("--logs");
    }
    for (key, value) in state {
        command.env(key, value);
    }
    let out = engine::run_bounded(&mut command, Duration::from_secs(120));
    assert!(
        out.status.success(),
        "{lib} driver failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(
        out.stdout
            .rsplit(|b| *b == b'\n')
            .find(|l| !l.is_empty())
            .unwrap(),
    )
    .unwrap();
    said["canaries"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// Everything Jaeger stored for `service` (its query API's whole answer), once it has a trace.
fn jaeger_stored(service: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let url = format!("http://127.0.0.1:16686/api/traces?service={service}&limit=100");
        let body = ureq::get(&url)
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        let traces = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v["data"].as_array().map(|a| a.len()))
            .unwrap_or(0);
        if traces >= 3 || Instant::now() > deadline {
            return body;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn redact_leaves_no_canary_from_real_instrumentations() {
    let _one = engine::exclusive();
    if engine::engine().is_none() {
        return;
    }
    let mut venvs = Vec::new();
    for (lib, pins) in LIBS {
        let Some(python) = venv(lib, pins) else {
            return;
        };
        venvs.push((*lib, python));
    }
    for backend in ["jaeger", "collector"] {
        for redact in [true, false] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("observability");
            let extra: &[&str] = if redact { &["--redact"] } else { &[] };
            let Some(stack) = running_stack(&dir, backend, extra) else {
                return;
            };
            for (lib, python) in &venvs {
                for (state, switches) in STATES {
                    let service = format!("{backend}-{lib}-{state}-{redact}");
                    // Jaeger takes traces only; the collector logs too (GenAI events).
                    let canaries = drive(python, lib, switches, &service, backend == "collector");
                    let stored = if backend == "jaeger" {
                        jaeger_stored(&service)
                    } else {
                        std::thread::sleep(Duration::from_secs(1));
                        stack.logs("collector")
                    };
                    let found: Vec<&String> = canaries
                        .iter()
                        .filter(|c| stored.contains(c.as_str()))
                        .collect();
                    let label = format!("{backend} {lib} {state} redact={redact}");
                    if redact {
                        assert!(found.is_empty(), "{label}: content stored: {found:?}");
                        // What is kept is still there: the model the fake server named.
                        assert!(stored.contains("kneo-test-model"), "{label}: no model kept");
                    } else {
                        // The test can fail: without --redact the content arrives.
                        for must in ["cnry-user-91bd", "cnry-answer-b6d0", "cnry-toolargs-e81f"] {
                            assert!(
                                stored.contains(must),
                                "{label}: {must} not stored without --redact"
                            );
                        }
                    }
                    eprintln!(
                        "{label}: {} of {} canaries stored",
                        found.len(),
                        canaries.len()
                    );
                }
            }
            drop(stack);
        }
    }
}
