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
    // Free ports are not mentioned.
    assert_eq!(said.matches("already taken").count(), 1, "{said}");
    drop(listener);
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
