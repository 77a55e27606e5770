//! The README's first screen is what a user types, in order, and this runs it: in a fresh
//! Python app repository, `init` through the picker in a real pseudo-terminal, the compose
//! file as Compose reads it, `docker compose up` and `verify` on the Docker Engine, and
//! `snippet` writing a module Python compiles.

use std::path::PathBuf;
use std::process::Command;

use crate::support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The commands of the first code block under `## Get started`, comments dropped.
fn first_screen() -> Vec<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let start = readme
        .find("\n## Get started\n")
        .expect("a Get started section");
    // The first screen: nothing but the pitch comes before it.
    assert!(
        readme[..start].lines().filter(|l| !l.is_empty()).count() <= 10,
        "more than a short pitch before Get started"
    );
    let block = readme[start..].split("```sh\n").nth(1).unwrap();
    let block = block.split("```").next().unwrap();
    block
        .lines()
        .map(|l| l.split("  #").next().unwrap().trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_readme_first_screen_is_install_init_up_verify_snippet() {
    let commands = first_screen();
    let shape: Vec<&str> = commands
        .iter()
        .map(|c| c.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .map(|c| match c.as_str() {
            "cargo install" => "install",
            "kneo-otel init" => "init",
            "cd observability" => "up",
            "kneo-otel verify" => "verify",
            "kneo-otel snippet" => "snippet",
            _ => "other",
        })
        .collect();
    assert_eq!(
        shape,
        ["install", "init", "up", "verify", "snippet"],
        "{commands:#?}"
    );
    // What works today: from git, the published repository and package name.
    assert_eq!(
        commands[0],
        format!(
            "cargo install --locked --git {} {}",
            env!("CARGO_PKG_REPOSITORY"),
            env!("CARGO_PKG_NAME")
        )
    );
    assert_eq!(
        commands[1], "kneo-otel init",
        "the picker, as a user starts"
    );
    assert_eq!(commands[2], "cd observability && docker compose up -d");
}

#[cfg(unix)]
#[test]
fn the_readme_first_screen_runs_in_a_fresh_python_repository() {
    let commands = first_screen();
    let tmp = tempfile::tempdir().unwrap();
    let app = tmp.path().join("agent-app");
    std::fs::create_dir_all(app.join(".git")).unwrap();
    std::fs::write(
        app.join("pyproject.toml"),
        "[project]\nname = \"agent-app\"\n",
    )
    .unwrap();
    // `kneo-otel init`: the picker in a pseudo-terminal; Enter takes the row it starts on.
    let mut command = Command::new(assert_cmd::cargo::cargo_bin!("kneo-otel"));
    command
        .args(commands[1].split_whitespace().skip(1))
        .current_dir(&app)
        .env_remove("CI")
        .env("TERM", "xterm");
    let mut session = rexpect::session::spawn_command(command, Some(20_000)).unwrap();
    session.exp_string("Which tracing backend?").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("docker compose up -d").unwrap();
    session.exp_eof().unwrap();
    let dir = app.join("observability");
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("backend: jaeger"), "{manifest}");
    // `cd observability && docker compose up -d`: the file as Compose reads it, then (with
    // an engine holding the pinned images) the real `up`, `verify` and `down -v`.
    if let Some(result) = compose_config_check(&dir) {
        result.unwrap();
    }
    let project = compose(&dir)["name"].as_str().unwrap().to_string();
    assert_eq!(project, "agent-app-observability");
    if crate::engine::engine().is_some() && crate::engine::images_present(&dir, &project) {
        let _one_stack = crate::engine::exclusive();
        let _stack = crate::engine::Stack::up(&dir, &project);
        let verify = kneo()
            .args(commands[3].split_whitespace().skip(1))
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
    // `kneo-otel snippet --out ../telemetry.py`, from the stack folder: a Python module.
    let out = kneo()
        .args(commands[4].split_whitespace().skip(1))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Python"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let module = app.join("telemetry.py");
    assert!(module.is_file());
    if let Some(python) = validator("python") {
        let compiled = Command::new(python)
            .args(["-m", "py_compile"])
            .arg(&module)
            .output()
            .unwrap();
        assert!(
            compiled.status.success(),
            "{}",
            String::from_utf8_lossy(&compiled.stderr)
        );
    }
}
