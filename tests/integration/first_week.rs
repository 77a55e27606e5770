//! A team's first week (#22): two repositories on one laptop, each with its own stack; a
//! backend switch that keeps what both backends share; ports already taken on this machine.

use std::path::Path;
use std::process::Output;

use crate::support::*;

fn run(dir: &Path, args: &[&str]) -> Output {
    kneo().args(args).arg("--dir").arg(dir).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn compose_name(dir: &Path) -> String {
    compose(dir)["name"].as_str().unwrap().to_string()
}

#[test]
fn two_repositories_with_the_same_backend_are_two_compose_projects() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("Agent_App"), tmp.path().join("billing-bot"));
    for repo in [&a, &b] {
        std::fs::create_dir_all(repo.join(".git")).unwrap();
    }
    init(&a.join("observability"), "jaeger", &[]);
    init(&b.join("ops/observability"), "jaeger", &[]);
    assert_eq!(
        compose_name(&a.join("observability")),
        "agent-app-observability"
    );
    assert_eq!(
        compose_name(&b.join("ops/observability")),
        "billing-bot-ops-observability"
    );
    // Recorded: a clone under another name, or a moved repository, keeps it.
    let moved = tmp.path().join("elsewhere");
    std::fs::rename(&a, &moved).unwrap();
    let dir = moved.join("observability");
    let out = run(&dir, &["check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&dir, &["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(compose_name(&dir), "agent-app-observability");
    // Compose itself reads the name the tool wrote.
    if let Some(result) = compose_config_check(&dir) {
        result.unwrap();
    }
    // --set project= chooses; a name Compose or Kubernetes would refuse is refused, unwritten.
    let out = run(&dir, &["init", "--set", "project=agents"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(compose_name(&dir), "agents");
    let before = read_tree(&dir);
    let out = run(&dir, &["init", "--set", "project=Agents_2"]);
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(
        said.contains("--set project=\"Agents_2\"") && said.contains("--set project=agents-2"),
        "{said}"
    );
    assert_eq!(read_tree(&dir), before);
    // A manifest is untrusted: a hostile project name is refused as well.
    let manifest = dir.join("kneo-otel.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace("project: agents", "project: \"x; rm -rf /\""),
    )
    .unwrap();
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn init_says_which_published_port_is_already_taken() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--set"])
        .arg(format!("ports.otlp_http={port}"))
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    let line = said
        .lines()
        .find(|l| l.contains(&format!("port {port} ")))
        .unwrap_or_else(|| panic!("no word of port {port}: {said}"));
    assert!(
        line.starts_with("warning: ")
            && line.contains("already taken on this machine")
            && line.contains("--set ports.otlp_http="),
        "{line}"
    );
    // Our other ports are free (another test's stack may hold the defaults meanwhile).
    assert_eq!(said.matches(&format!("port {port} ")).count(), 1, "{said}");
    drop(listener);
    // A re-run that publishes nothing new says nothing of ports.
    let out = run(&dir, &["init"]);
    assert!(!stderr(&out).contains("already taken"), "{}", stderr(&out));
}

#[test]
fn a_backend_switch_keeps_the_overrides_both_have_and_names_the_dropped_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(
        &dir,
        "tempo",
        &[
            "--set",
            "ports.otlp_http=14318",
            "--set",
            "ports.grafana=13000",
        ],
    );
    let out = run(&dir, &["init", "--backend", "jaeger"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("note: jaeger has no such setting")
            && said.contains("--set ports.grafana=13000")
            && !said.contains("ports.otlp_http"),
        "{said}"
    );
    let ports: Vec<u16> = published_ports(&compose(&dir))
        .iter()
        .map(|p| p.2)
        .collect();
    assert!(ports.contains(&14318), "{ports:?}");
    // The project stays; the old backend's containers are removed as orphans.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("docker compose up -d --remove-orphans"),
        "{stdout}"
    );
}

#[test]
fn a_folder_written_by_a_newer_kneo_otel_is_refused_not_downgraded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let manifest = dir.join("kneo-otel.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let ours = format!("written_by: {}", env!("CARGO_PKG_VERSION"));
    assert!(text.contains(&ours), "{text}");
    std::fs::write(&manifest, text.replace(&ours, "written_by: 99.1.0")).unwrap();
    let before = read_tree(&dir);
    for args in [
        &["check"][..],
        &["init"],
        &["init", "--force"],
        &["init", "--dry-run", "--diff"],
    ] {
        let out = run(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let said = stderr(&out);
        let errors: Vec<&str> = said.lines().filter(|l| l.starts_with("error")).collect();
        assert_eq!(errors.len(), 1, "{said}");
        assert!(
            errors[0].contains("written by kneo-otel 99.1.0, newer than this kneo-otel")
                && errors[0].contains("--tag v99.1.0"),
            "{said}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("--force"),
            "{args:?}"
        );
        assert_eq!(read_tree(&dir), before, "{args:?} wrote");
    }
    // What is printed of it is checked first.
    std::fs::write(&manifest, text.replace(&ours, "written_by: \"1\\e[31m\"")).unwrap();
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!stderr(&out).contains('\u{1b}'), "{}", stderr(&out));
}

#[test]
fn replicas_on_compose_say_kubernetes_first_and_eject_outside_the_folder_names_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let out = kneo()
        .args([
            "init",
            "--backend",
            "jaeger",
            "--set",
            "replicas.gateway=3",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let said = stderr(&out);
    assert!(
        said.contains("applies to --target kubernetes only") && !said.contains("add --gateway"),
        "{said}"
    );
    assert!(!dir.exists());
    init(&dir, "jaeger", &[]);
    for file in ["docker-compose.yml", "obs/docker-compose.yml"] {
        let out = kneo()
            .args(["eject", file])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(
            stderr(&out).contains("run `kneo-otel eject docker-compose.yml --dir obs`"),
            "{file}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_change_an_ejected_file_will_not_get_is_named_and_one_module_has_one_stack() {
    let tmp = repo_tempdir();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let out = run(&dir, &["eject", "docker-compose.yml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&dir, &["init", "--set", "ports.ui=16690"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains(
            "warning: docker-compose.yml is ejected (yours), so this change is not written into it"
        ),
        "{said}"
    );
    // Nothing changed in this run: nothing to say.
    let out = run(&dir, &["init"]);
    assert!(!stderr(&out).contains("is ejected"), "{}", stderr(&out));
    // Two stacks of one repository cannot both record one module.
    let other = tmp.path().join("ops/obs");
    init(&other, "tempo", &[]);
    let module = tmp.path().join("app/telemetry.py");
    let out = run(
        &dir,
        &[
            "snippet",
            "--lang",
            "python",
            "--out",
            module.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read(&module).unwrap();
    let manifest = std::fs::read(other.join("kneo-otel.yaml")).unwrap();
    let out = run(
        &other,
        &[
            "snippet",
            "--lang",
            "python",
            "--out",
            module.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("is already recorded in obs/kneo-otel.yaml"),
        "{}",
        stderr(&out)
    );
    assert_eq!(std::fs::read(&module).unwrap(), written);
    assert_eq!(
        std::fs::read(other.join("kneo-otel.yaml")).unwrap(),
        manifest
    );
}

#[test]
fn next_steps_fit_80_columns_and_come_as_fields_in_json() {
    for (backend, extra) in [
        ("jaeger", &[][..]),
        ("tempo", &[]),
        ("phoenix", &[]),
        ("signoz", &[]),
        ("collector", &[]),
        ("jaeger", &["--target", "kubernetes"]),
    ] {
        let tmp = repo_tempdir();
        std::fs::write(tmp.path().join("pyproject.toml"), "").unwrap();
        // The default folder, from the repository root, as a user runs it.
        let out = kneo()
            .args(["init", "--backend", backend])
            .args(extra)
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let steps = text.split("Next steps:\n").nth(1).unwrap();
        for line in steps.lines() {
            // A command is never cut (it is copied whole); everything else fits.
            let command = line.trim_start().starts_with("export ")
                || line.contains("port-forward")
                || line.contains("kubectl label");
            assert!(
                command || line.chars().count() <= 80,
                "{backend} {extra:?}: {} columns: {line}",
                line.chars().count()
            );
        }
        if extra.contains(&"kubernetes") {
            assert!(
                steps.contains("export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"),
                "{steps}"
            );
        }
        let out = kneo()
            .args(["init", "--format", "json"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let fields = json["steps"].as_array().unwrap();
        assert_eq!(fields.len(), json["next_steps"].as_array().unwrap().len());
        let verify = fields
            .iter()
            .find(|s| {
                s["label"] == "check it"
                    || s["label"] == "check it (with the port-forwards running)"
            })
            .unwrap_or_else(|| panic!("{fields:?}"));
        assert_eq!(verify["command"], "kneo-otel verify --dir observability");
        if !extra.contains(&"kubernetes") {
            assert_eq!(
                verify["comment"],
                "ports, health, a test trace in and back out"
            );
        }
        assert!(
            fields.iter().any(|s| s["label"].is_null()
                && s["command"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("export OTEL_SERVICE_NAME="))),
            "{fields:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn verify_says_when_docker_compose_is_missing() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    // Ports nobody listens on: the stack is "not running".
    init(
        &dir,
        "collector",
        &[
            "--set",
            "ports.otlp_grpc=1",
            "--set",
            "ports.otlp_http=2",
            "--set",
            "ports.health=3",
        ],
    );
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let verify = |path: &Path| {
        kneo()
            .args(["verify", "--timeout", "3s", "--dir"])
            .arg(&dir)
            .env("PATH", path)
            .output()
            .unwrap()
    };
    let out = verify(&bin);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(
            "`docker compose version` does not answer here: install Docker with Compose v2"
        ),
        "{said}"
    );
    // With Compose there, the usual fix, and what to do when an image cannot be pulled.
    let docker = bin.join("docker");
    std::fs::write(
        &docker,
        "#!/bin/sh\necho 'Docker Compose version v2.40.3'\n",
    )
    .unwrap();
    std::fs::set_permissions(&docker, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = verify(&bin);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("start the stack:") && said.contains("`docker compose pull` names it"),
        "{said}"
    );
}
