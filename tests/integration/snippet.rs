//! `kneo-otel snippet`: the printed module (one snapshot per protocol × flavor), defaults
//! taken from a generated stack, `--out` ownership and `check`, and refused input.

use std::path::Path;

use crate::support::*;

fn run_snippet(cwd: &Path, args: &[&str]) -> std::process::Output {
    kneo()
        .current_dir(cwd)
        .arg("snippet")
        .args(args)
        .output()
        .unwrap()
}

/// Runs `snippet` in `cwd` and returns stdout; asserts success.
fn snippet(cwd: &Path, args: &[&str]) -> String {
    let out = run_snippet(cwd, args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `snippet` in `cwd`, asserts exit 2 and one stderr line; returns it.
fn snippet_refused(cwd: &Path, args: &[&str]) -> String {
    let out = run_snippet(cwd, args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn printed_module_per_protocol_and_flavor() {
    let tmp = repo_tempdir();
    for protocol in ["http", "grpc"] {
        for flavor in ["sdk", "tracing"] {
            let text = snippet(
                tmp.path(),
                &["--lang", "rust", "--protocol", protocol, "--flavor", flavor],
            );
            assert!(text.contains("pub fn init() -> Result<Telemetry, Error>"));
            assert!(text.contains("cargo add opentelemetry@"), "{text}");
            assert_snapshot(&format!("snippet_{protocol}_{flavor}"), text);
        }
    }
    assert!(!tmp.path().join("observability").exists());
}

#[test]
fn defaults_come_from_the_manifest() {
    let tmp = repo_tempdir();
    init(
        &tmp.path().join("observability"),
        "jaeger",
        &[
            "--service-name",
            "support_bot",
            "--set",
            "ports.otlp_http=14318",
            "--set",
            "ports.otlp_grpc=14317",
        ],
    );
    let text = snippet(tmp.path(), &["--lang", "rust"]);
    assert!(text.contains("pub const SERVICE_NAME: &str = \"support_bot\";"));
    assert!(text.contains("pub const PROTOCOL: &str = \"http/protobuf\";"));
    assert!(text.contains("pub const ENDPOINT: &str = \"http://127.0.0.1:14318\";"));
    // Only the chosen transport is compiled in.
    assert!(
        !text.contains("grpc-tonic") && !text.contains("14317"),
        "{text}"
    );
    let text = snippet(tmp.path(), &["--lang", "rust", "--protocol", "grpc"]);
    assert!(text.contains("pub const ENDPOINT: &str = \"http://127.0.0.1:14317\";"));
    assert!(
        !text.contains("reqwest") && !text.contains("14318"),
        "{text}"
    );
    // Flags win over the manifest.
    let text = snippet(
        tmp.path(),
        &[
            "--lang",
            "rust",
            "--protocol",
            "grpc",
            "--endpoint",
            "http://collector.internal:4317",
            "--service-name",
            "other",
        ],
    );
    assert!(text.contains("pub const PROTOCOL: &str = \"grpc\";"));
    assert!(text.contains("pub const ENDPOINT: &str = \"http://collector.internal:4317\";"));
    assert!(text.contains("pub const SERVICE_NAME: &str = \"other\";"));
    // An HTTP endpoint given with its signal path does not get it twice.
    let text = snippet(
        tmp.path(),
        &["--lang", "rust", "--endpoint", "http://otel:4318/v1/traces"],
    );
    assert!(text.contains("pub const ENDPOINT: &str = \"http://otel:4318\";"));
}

fn check(cwd: &Path) -> (i32, String) {
    let out = kneo()
        .current_dir(cwd)
        .args(["check", "--dir", "observability"])
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn out_is_owned_recorded_and_checked() {
    let tmp = repo_tempdir();
    let cwd = tmp.path();
    init(&cwd.join("observability"), "tempo", &[]);
    let module = cwd.join("src/telemetry.rs");

    // A file kneo-otel did not write is not overwritten.
    std::fs::create_dir_all(cwd.join("src")).unwrap();
    std::fs::write(&module, "// mine\n").unwrap();
    let err = snippet_refused(cwd, &["--out", "src/telemetry.rs"]);
    assert!(err.contains("not written by kneo-otel"), "{err}");
    for stack_file in ["kneo-otel.yaml", "docker-compose.yml"] {
        let target = format!("observability/{stack_file}");
        let err = snippet_refused(cwd, &["--out", &target, "--force", "--lang", "rust"]);
        assert!(err.contains("choose another path"), "{err}");
    }
    assert_eq!(std::fs::read_to_string(&module).unwrap(), "// mine\n");
    std::fs::remove_file(&module).unwrap();

    let out = snippet(cwd, &["--out", "src/telemetry.rs", "--flavor", "tracing"]);
    assert!(out.starts_with("create"), "{out}");
    let written = std::fs::read_to_string(&module).unwrap();
    assert!(written.contains("tracing_opentelemetry::layer()"));
    let manifest = std::fs::read_to_string(cwd.join("observability/kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("path: ../src/telemetry.rs"), "{manifest}");
    assert!(manifest.contains("flavor: tracing"), "{manifest}");
    assert_eq!(check(cwd).0, 0);

    // Re-running keeps the recorded options and changes nothing.
    let out = snippet(cwd, &["--out", "src/telemetry.rs"]);
    assert!(out.starts_with("unchanged"), "{out}");
    assert_eq!(std::fs::read_to_string(&module).unwrap(), written);
    // init re-renders it with the stack, and keeps it.
    init(&cwd.join("observability"), "tempo", &[]);
    assert_eq!(check(cwd).0, 0);

    // An edit is drift, is refused, and is overwritten only with --force.
    std::fs::write(&module, format!("{written}// edit\n")).unwrap();
    let (code, stdout) = check(cwd);
    assert_eq!(code, 1);
    assert!(stdout.contains("edited  ../src/telemetry.rs"), "{stdout}");
    let err = snippet_refused(cwd, &["--out", "src/telemetry.rs"]);
    assert!(
        err.contains("edited since kneo-otel wrote it") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    snippet(cwd, &["--out", "src/telemetry.rs", "--force"]);
    assert_eq!(std::fs::read_to_string(&module).unwrap(), written);
    assert_eq!(check(cwd).0, 0);

    // A stack change makes the untouched module an outdated render; init updates it.
    kneo()
        .current_dir(cwd)
        .args([
            "init",
            "--dir",
            "observability",
            "--set",
            "ports.otlp_http=24318",
        ])
        .assert()
        .success();
    assert!(
        std::fs::read_to_string(&module)
            .unwrap()
            .contains("http://127.0.0.1:24318")
    );
    assert_eq!(check(cwd).0, 0);
    std::fs::remove_file(&module).unwrap();
    let (code, stdout) = check(cwd);
    assert_eq!(code, 1);
    assert!(stdout.contains("missing  ../src/telemetry.rs"), "{stdout}");
}

#[test]
fn manifests_without_snippets_still_load() {
    let tmp = repo_tempdir();
    let dir = tmp.path().join("observability");
    init(&dir, "collector", &[]);
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(!manifest.contains("snippets"));
    assert!(manifest.contains("schema_version: 1"));
    assert_eq!(check(tmp.path()).0, 0);
}

#[test]
fn crate_writes_a_standalone_project() {
    let tmp = repo_tempdir();
    let out = snippet(tmp.path(), &["--crate", "smoke", "--protocol", "grpc"]);
    assert!(
        out.contains("cargo run --manifest-path smoke/Cargo.toml"),
        "{out}"
    );
    let tree = read_tree(&tmp.path().join("smoke"));
    let names: Vec<&str> = tree.keys().map(String::as_str).collect();
    assert_eq!(names, ["Cargo.toml", "src/main.rs", "src/telemetry.rs"]);
    assert!(
        tree["Cargo.toml"]
            .lines()
            .any(|l| l.trim() == "[workspace]"),
        "{}",
        tree["Cargo.toml"]
    );
    assert!(tree["Cargo.toml"].contains("name = \"smoke\""));
    assert!(tree["src/main.rs"].contains("invoke_agent"));
    // An edited file is not overwritten without --force.
    std::fs::write(tmp.path().join("smoke/src/main.rs"), "fn main() {}\n").unwrap();
    let err = snippet_refused(tmp.path(), &["--crate", "smoke", "--protocol", "grpc"]);
    assert!(err.contains("--force"), "{err}");
    snippet(
        tmp.path(),
        &["--crate", "smoke", "--protocol", "grpc", "--force"],
    );
}

#[test]
fn generated_rust_is_rustfmt_clean() {
    let tmp = repo_tempdir();
    let ca = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/test-ca.pem");
    for protocol in ["http", "grpc"] {
        for flavor in ["sdk", "tracing"] {
            for tls in [false, true] {
                let name = format!("{protocol}-{flavor}-{tls}");
                let mut args = vec!["--crate", &name, "--protocol", protocol, "--flavor", flavor];
                if tls {
                    args.extend(["--ca-file", ca.to_str().unwrap()]);
                }
                snippet(tmp.path(), &args);
                let out = std::process::Command::new("rustfmt")
                    .args(["--edition", "2024", "--check"])
                    .arg(tmp.path().join(&name).join("src/main.rs"))
                    .arg(tmp.path().join(&name).join("src/telemetry.rs"))
                    .output()
                    .expect("rustfmt (rustup component add rustfmt)");
                assert!(
                    out.status.success(),
                    "{name}:\n{}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
        }
    }
}

#[test]
fn bad_input_is_refused() {
    let tmp = repo_tempdir();
    let cwd = tmp.path();
    let err = snippet_refused(cwd, &["--protocol", "carrier-pigeon"]);
    assert!(err.contains("carrier-pigeon"), "{err}");
    let err = snippet_refused(cwd, &["--flavor", "log4j"]);
    assert!(err.contains("log4j"), "{err}");
    let err = snippet_refused(cwd, &["--service-name", "a b"]);
    assert!(err.contains("invalid service name"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = snippet_refused(cwd, &["--endpoint", "127.0.0.1:4318"]);
    assert!(err.contains("--endpoint"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let err = snippet_refused(cwd, &["--out", "t.rs", "--crate", "smoke"]);
    assert!(err.contains("--crate"), "{err}");
    let err = snippet_refused(cwd, &["--ca-file", "no-such-ca.pem"]);
    assert!(err.contains("no-such-ca.pem"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // --out needs a manifest to record the module in.
    let err = snippet_refused(cwd, &["--out", "t.rs"]);
    assert!(err.contains("kneo-otel init"), "{err}");
    assert!(!cwd.join("t.rs").exists() && !cwd.join("smoke").exists());
}

#[test]
fn a_manifest_snippet_path_outside_its_rules_is_refused() {
    let tmp = repo_tempdir();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    snippet(tmp.path(), &["--dir", "obs", "--out", "telemetry.rs"]);
    let manifest = dir.join("kneo-otel.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("path: ../telemetry.rs"), "{text}");
    std::fs::write(
        &manifest,
        text.replace("path: ../telemetry.rs", "path: /etc/telemetry.rs"),
    )
    .unwrap();
    let out = kneo().args(["check", "--dir"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a relative .rs path"));
}

/// Without `--lang`, the language comes from the repository around the folder (and says
/// why), or from `--out`'s extension; both or neither: one line naming `--lang`, since there
/// is no terminal to ask in. `init`'s next steps follow the same choice.
#[test]
fn language_follows_the_repository() {
    for (markers, expected) in [
        (&["pyproject.toml"][..], Some(("Python", "pyproject.toml"))),
        (
            &["requirements-dev.txt"][..],
            Some(("Python", "requirements-dev.txt")),
        ),
        (&["setup.py"][..], Some(("Python", "setup.py"))),
        (&["Cargo.toml"][..], Some(("Rust", "Cargo.toml"))),
        (&["Cargo.toml", "pyproject.toml"][..], None),
        (&[][..], None),
    ] {
        let tmp = repo_tempdir();
        for marker in markers {
            std::fs::write(tmp.path().join(marker), "").unwrap();
        }
        let out = kneo()
            .args(["init", "--backend", "jaeger", "--dir", "obs"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{markers:?}");
        let steps = String::from_utf8(out.stdout).unwrap();
        // A comment too wide for its line is printed beneath it.
        let lines: Vec<&str> = steps.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.contains("wire your app:"))
            .unwrap_or_else(|| panic!("{markers:?}: {steps}"));
        let step = match lines.get(at + 1).map(|l| l.trim()) {
            Some(next) if next.starts_with("# ") => format!("{}   {next}", lines[at].trim()),
            _ => lines[at].trim().to_string(),
        };
        let out = run_snippet(tmp.path(), &["--dir", "obs"]);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let module = String::from_utf8_lossy(&out.stdout).to_string();
        match expected {
            Some((lang, marker)) => {
                assert!(out.status.success(), "{markers:?}: {stderr}");
                let (first, other) = if lang == "Python" {
                    ("\"\"\"", "--lang rust for Rust")
                } else {
                    ("//!", "--lang python for Python")
                };
                assert!(module.starts_with(first), "{markers:?}: {module}");
                assert!(
                    stderr.contains(&format!(
                        "note: writing the {lang} module (found {marker}); pass {other}"
                    )),
                    "{markers:?}: {stderr}"
                );
                assert_eq!(
                    step.trim(),
                    format!(
                        "wire your app:  kneo-otel snippet --dir obs   # {lang} exporter setup ({marker}; {other})"
                    ),
                    "{markers:?}"
                );
            }
            None => {
                assert_eq!(out.status.code(), Some(2), "{markers:?}");
                assert!(out.stdout.is_empty(), "{markers:?}");
                assert_eq!(stderr.lines().count(), 1, "{markers:?}: {stderr}");
                assert!(
                    stderr.starts_with("error: cannot tell the app's language")
                        && stderr.trim_end().ends_with("pass --lang python|rust"),
                    "{markers:?}: {stderr}"
                );
                assert_eq!(
                    step.trim(),
                    "wire your app:  kneo-otel snippet --dir obs --lang python   # or --lang rust: exporter setup",
                    "{markers:?}"
                );
                // --lang decides, and so does --out's extension.
                let module = snippet(tmp.path(), &["--dir", "obs", "--lang", "rust"]);
                assert!(module.starts_with("//!"), "{markers:?}");
                let out = run_snippet(tmp.path(), &["--dir", "obs", "--out", "app/telemetry.py"]);
                assert!(
                    out.status.success(),
                    "{markers:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let written = std::fs::read_to_string(tmp.path().join("app/telemetry.py")).unwrap();
                assert!(written.starts_with("\"\"\""), "{markers:?}");
            }
        }
    }
}
