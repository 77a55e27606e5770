//! Fitting the user's toolchain: shell completions, man pages and `--help` of every
//! subcommand (snapshotted so a change to the interface is always a reviewed change).

use std::process::Command;

use crate::support::*;

/// Every subcommand, as `kneo-otel --help` lists them.
fn subcommands() -> Vec<String> {
    let out = kneo().arg("--help").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn help_of_every_subcommand_is_snapshotted() {
    let names = subcommands();
    assert!(names.len() >= 6, "{names:?}");
    let mut text = String::new();
    for args in std::iter::once(vec![]).chain(names.iter().map(|n| vec![n.as_str()])) {
        let out = kneo().args(&args).arg("--help").output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let title = ["kneo-otel"].into_iter().chain(args.iter().copied());
        let title = title.collect::<Vec<_>>().join(" ");
        text.push_str(&format!("===== {title} --help =====\n"));
        text.push_str(&String::from_utf8(out.stdout).unwrap());
    }
    assert_snapshot("help", text);
}

#[test]
fn bash_completion_loads() {
    let out = kneo().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(script.path(), &out.stdout).unwrap();
    let check = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p kneo-otel",
            script.path().display()
        ))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    assert!(String::from_utf8_lossy(&check.stdout).contains("kneo-otel"));
    for shell in ["zsh", "fish", "powershell", "elvish"] {
        let out = kneo().args(["completions", shell]).output().unwrap();
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    kneo().args(["completions", "tcsh"]).assert().code(2);
}

/// groff, needed to render man pages; with `CI` set a missing groff fails.
fn groff() -> Option<std::path::PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("groff"))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "groff is missing under CI"
        );
    }
    found
}

#[test]
fn man_pages_render_without_warnings() {
    let tmp = tempfile::tempdir().unwrap();
    kneo()
        .args(["man", "--out-dir"])
        .arg(tmp.path())
        .assert()
        .success();
    let mut pages: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let mut names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|s| format!("kneo-otel-{s}.1"))
        .chain(["kneo-otel.1".to_string()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);
    for page in &pages {
        let roff = std::fs::read(page).unwrap();
        assert!(
            roff.is_ascii(),
            "{}: non-ASCII text makes groff warn",
            page.display()
        );
        if let Some(groff) = groff() {
            let out = Command::new(&groff)
                .args(["-man", "-Tascii", "-ww", "-z"])
                .arg(page)
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", page.display());
            assert!(
                out.stderr.is_empty(),
                "{}: {}",
                page.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    // One page on stdout, for `kneo-otel man | man -l -`.
    let out = kneo().args(["man", "check"]).output().unwrap();
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains(".TH kneo-otel-check")
    );
    let out = kneo().args(["man", "nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no subcommand \"nope\""));
}

fn run_split(command_line: &str, cwd: &std::path::Path) -> std::process::Output {
    let mut words = command_line.split_whitespace();
    assert_eq!(words.next(), Some("kneo-otel"), "{command_line}");
    kneo().args(words).current_dir(cwd).output().unwrap()
}

#[test]
fn ci_github_writes_a_pinned_least_privilege_workflow_at_the_repository_root() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let dir = repo.path().join("ops/obs");
    init(&dir, "tempo", &["--ci", "github"]);
    let path = repo.path().join(".github/workflows/kneo-otel-check.yml");
    let workflow: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        workflow["on"].get("pull_request").is_some(),
        "runs on pull requests"
    );
    assert_eq!(
        workflow["permissions"],
        serde_yaml::Value::Mapping(Default::default()),
        "no token scopes at the top"
    );
    let job = &workflow["jobs"]["check"];
    assert_eq!(job["permissions"]["contents"], "read");
    assert_eq!(job["permissions"].as_mapping().unwrap().len(), 1);
    let steps = job["steps"].as_sequence().unwrap();
    let pinned = regex::Regex::new(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$").unwrap();
    let mut runs = Vec::new();
    for step in steps {
        if let Some(uses) = step["uses"].as_str() {
            assert!(pinned.is_match(uses), "{uses} is not pinned to a commit");
        }
        if let Some(run) = step["run"].as_str() {
            runs.push(run.to_string());
        }
    }
    let check = runs
        .iter()
        .find(|r| r.starts_with("kneo-otel check"))
        .expect("a step runs kneo-otel check");
    assert_eq!(check, "kneo-otel check --dir ops/obs");
    assert!(
        runs.iter()
            .any(|r| r.contains("cargo install --locked --git \"$KNEO_OTEL_REPOSITORY\" --tag")),
        "{runs:?}"
    );
    validate_with_real_tools(&dir);
    if let Some(yamllint) = validator("yamllint") {
        let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/yamllint.yaml");
        let out = Command::new(yamllint)
            .arg("--strict")
            .arg("-c")
            .arg(config)
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    // The workflow's own command, run from the repository root, passes; an edit to the
    // workflow is drift like any other managed file.
    assert!(run_split(check, repo.path()).status.success());
    std::fs::write(&path, "name: edited\n").unwrap();
    let out = run_split(check, repo.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("kneo-otel-check.yml"));
}

#[test]
fn ci_outside_a_repository_is_refused() {
    let lonely = tempfile::tempdir().unwrap();
    let dir = lonely.path().join("obs");
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--ci", "github", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("not inside a git repository"), "{stderr}");
    assert!(!dir.exists());
}

#[test]
fn pre_commit_hook_runs_the_documented_check() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let hooks: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(root.join(".pre-commit-hooks.yaml")).unwrap(),
    )
    .unwrap();
    let hook = &hooks[0];
    assert_eq!(hook["id"], "kneo-otel-check");
    assert_eq!(hook["language"], "rust");
    assert_eq!(hook["pass_filenames"], false);
    let entry = hook["entry"].as_str().unwrap();
    assert_eq!(entry, "kneo-otel check");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(readme.contains("id: kneo-otel-check") && readme.contains(entry));

    // What pre-commit runs: the entry plus the user's args, from the repository root.
    let repo = tempfile::tempdir().unwrap();
    init(&repo.path().join("observability"), "collector", &[]);
    let out = run_split(&format!("{entry} --dir observability"), repo.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_split(entry, repo.path());
    assert!(out.status.success(), "default --dir is observability");
}

#[test]
fn stdout_is_pipeable_and_uncoloured() {
    // The reader is gone before the binary writes (as with `| head` on a long output): the
    // command must end quietly, never panic.
    let binary = assert_cmd::cargo::cargo_bin!("kneo-otel");
    for args in [
        &["backends", "--format", "json"][..],
        &["man"],
        &["completions", "bash"],
    ] {
        let mut child = Command::new(binary)
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(out.status.code().is_some(), "{args:?} killed by a signal");
    }
    let out = kneo()
        .args(["backends"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(!out.stdout.contains(&0x1b), "escape codes with NO_COLOR");
}

#[test]
fn a_ci_folder_that_moved_or_has_an_unsafe_name_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    init(&repo.path().join("ops/obs"), "jaeger", &["--ci", "github"]);
    std::fs::rename(repo.path().join("ops/obs"), repo.path().join("obs")).unwrap();
    let out = kneo()
        .args(["init", "--dir"])
        .arg(repo.path().join("obs"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("moved inside its repository"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    // Placing it again (the workflow there names the old folder) works.
    init(
        &repo.path().join("obs"),
        "jaeger",
        &["--ci", "github", "--force"],
    );
    let workflow =
        std::fs::read_to_string(repo.path().join(".github/workflows/kneo-otel-check.yml")).unwrap();
    assert!(
        workflow.contains("kneo-otel check --dir obs\n"),
        "{workflow}"
    );

    let spaced = repo.path().join("my obs");
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--ci", "github", "--dir"])
        .arg(&spaced)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!spaced.exists());
}
