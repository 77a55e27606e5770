//! The whole generated folder is untrusted input (anyone who opens a pull request can edit
//! any file of it): each test is one finding of the security review, reproduced on the real
//! binary. Nothing the folder says may make kneo-otel print a secret or a file it did not
//! render, touch anything outside the folder, or pass `check` while `docker compose up`
//! would run something else. And the CI check passes in a fresh clone, where the seeds
//! (git-ignored by design) are absent.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::*;

fn run(dir: &Path, args: &[&str]) -> Output {
    kneo().args(args).arg("--dir").arg(dir).output().unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", text(&out));
}

/// A real git repository (git itself: `git ls-files` must answer) holding `obs/`.
fn repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    git(tmp.path(), &["init", "-q"]);
    tmp
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} lacks {from:?}", path.display());
    std::fs::write(path, text.replace(from, to)).unwrap();
}

fn secrets_of(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for name in ["secrets/token", "secrets/front-door.env", ".env"] {
        if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
            for line in text.lines() {
                let value = line
                    .split_once('=')
                    .map_or(line, |(_, v)| v)
                    .trim_matches('"');
                if value.len() >= 16 && !line.starts_with('#') && !value.starts_with("-----") {
                    found.push(value.to_string());
                }
            }
        }
    }
    let key = std::fs::read_to_string(dir.join("secrets/front-door.env")).unwrap_or_default();
    if let Some(start) = key.find("PRIVATE KEY-----") {
        found.push(key[start + 17..start + 60].trim().to_string());
    }
    assert!(!found.is_empty() || !dir.join("secrets").exists());
    found
}

fn assert_no_secret(out: &Output, secrets: &[String]) {
    let all = text(out);
    for secret in secrets {
        assert!(!all.contains(secret.as_str()), "printed a secret: {all}");
    }
}

/// Row 1: a manifest calling a seed `managed` made `check` and `init --diff` print the
/// token and the TLS key; a `.env` record printed `.env`. Now the record is refused,
/// naming it, and nothing is printed or written.
#[test]
fn a_record_whose_kind_disagrees_with_the_render_is_refused_and_nothing_is_printed() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &["--expose"]);
    let secrets = secrets_of(&dir);
    let manifest = dir.join("kneo-otel.yaml");
    let original = std::fs::read_to_string(&manifest).unwrap();
    edit(&manifest, "kind: seed", "kind: managed");
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["init", "--dry-run", "--diff"],
        &["init", "--force"],
    ] {
        let out = run(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("kind: managed"), "{}", text(&out));
        assert!(text(&out).contains("secrets/"), "{}", text(&out));
        assert_no_secret(&out, &secrets);
    }
    // An unrendered path claimed as managed, holding an API key.
    std::fs::write(&manifest, &original).unwrap();
    std::fs::write(
        dir.join(".env"),
        "OPENAI_API_KEY=sk-live-never-print-this-key\n",
    )
    .unwrap();
    let with_env = original.replacen(
        "files:\n",
        "files:\n- path: .env\n  kind: managed\n  sha256: '0'\n",
        1,
    );
    std::fs::write(&manifest, with_env).unwrap();
    for args in [&["check"][..], &["init", "--dry-run", "--diff"]] {
        let out = run(&dir, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(!text(&out).contains("sk-live"), "{}", text(&out));
        assert!(text(&out).contains("\".env\""), "{}", text(&out));
    }
}

/// Row 1 (snippets): a snippet record naming a git-ignored file of the repository made
/// `check` print it and `init --force` overwrite it.
#[test]
fn a_snippet_record_never_prints_or_overwrites_a_file_kneo_otel_did_not_generate() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let settings = tmp.path().join("local_settings.py");
    std::fs::write(
        &settings,
        "DATABASE_PASSWORD = 'never-print-this-password'\n",
    )
    .unwrap();
    let manifest = dir.join("kneo-otel.yaml");
    let text_before = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        format!(
            "{text_before}snippets:\n- path: ../local_settings.py\n  options:\n    lang: python\n    protocol: http\n    flavor: sdk\n"
        ),
    )
    .unwrap();
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["init", "--dry-run", "--diff"],
        &["init", "--force"],
    ] {
        let out = run(&dir, args);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {}", text(&out));
        assert!(
            !text(&out).contains("never-print"),
            "{args:?}: {}",
            text(&out)
        );
    }
    assert_eq!(
        std::fs::read_to_string(&settings).unwrap(),
        "DATABASE_PASSWORD = 'never-print-this-password'\n"
    );
}

/// Row 2: a committed journal made `init` overwrite `.venv/bin/activate` (or delete any
/// untracked file). Now a journal git tracks, or one naming a path outside the folder, is
/// refused with one line, and nothing is written.
#[test]
fn a_journal_from_git_or_naming_a_path_outside_is_refused_and_nothing_is_written() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let activate = tmp.path().join(".venv/bin/activate");
    std::fs::create_dir_all(activate.parent().unwrap()).unwrap();
    std::fs::write(&activate, "real\n").unwrap();
    let state = dir.join(".kneo-otel");
    let journal = |path: &str, temp: Option<&str>| {
        let temp = temp
            .map(|t| format!(",\"temp\":\"{t}\""))
            .unwrap_or_default();
        format!(
            "{{\"entries\":[{{\"path\":\"{path}\",\"reach\":\"repository\"{temp},\"sha256\":\"00\"}}]}}"
        )
    };
    // Outside the folder, not tracked.
    std::fs::write(state.join("tmp-0"), "echo PWNED\n").unwrap();
    std::fs::write(
        state.join("journal"),
        journal("../.venv/bin/activate", Some("tmp-0")),
    )
    .unwrap();
    let out = run(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("outside the folder"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&activate).unwrap(), "real\n");
    // A removal entry outside.
    std::fs::write(
        state.join("journal"),
        journal("../.venv/bin/activate", None),
    )
    .unwrap();
    assert_eq!(run(&dir, &["init"]).status.code(), Some(2));
    assert!(activate.exists());
    // Inside the folder, but committed: it came with the pull request.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    std::fs::write(
        state.join("journal"),
        "{\"entries\":[{\"path\":\"README.md\",\"reach\":\"folder\",\"temp\":\"tmp-0\",\"sha256\":\"ad0bd52d9f1c4a0b8ec1b1a1d1c9b5c1b8a1d1c9b5c1b8a1d1c9b5c1b8a1d1c9\"}]}",
    )
    .unwrap();
    git(tmp.path(), &["add", "-f", "obs/.kneo-otel/journal"]);
    let out = run(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("tracked by git"), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        readme
    );
    // Not tracked, but its temp file is not what the entry records.
    git(
        tmp.path(),
        &["rm", "-q", "--cached", "obs/.kneo-otel/journal"],
    );
    let out = run(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("does not hold what the entry"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("README.md")).unwrap(),
        readme
    );
    assert!(
        !text(&out).contains('\n') || text(&out).lines().count() <= 2,
        "{}",
        text(&out)
    );
}

/// Row 3: an override file, a `compose.yaml` (which Compose prefers) or `COMPOSE_FILE` in
/// `.env` changed what `docker compose up` runs while `check` said every file matched.
#[test]
fn check_fails_on_every_file_and_variable_compose_reads_that_kneo_otel_did_not_write() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    assert!(run(&dir, &["check"]).status.success());
    let evil = "services:\n  jaeger:\n    privileged: true\n    ports: !override [\"0.0.0.0:4318:4318\"]\n";
    for name in [
        "docker-compose.override.yml",
        "docker-compose.override.yaml",
        "compose.override.yaml",
        "compose.override.yml",
        "compose.yaml",
        "compose.yml",
        "docker-compose.yaml",
    ] {
        std::fs::write(dir.join(name), evil).unwrap();
        let out = run(&dir, &["check"]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out));
        assert!(
            text(&out).contains(&format!("foreign  {name}")),
            "{}",
            text(&out)
        );
        assert!(text(&out).contains("docker compose"), "{}", text(&out));
        std::fs::remove_file(dir.join(name)).unwrap();
    }
    std::fs::write(
        dir.join(".env"),
        "COMPOSE_FILE=docker-compose.yml:evil.yml\nFOO=1\n",
    )
    .unwrap();
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("COMPOSE_FILE"), "{}", text(&out));
    assert!(!text(&out).contains("evil.yml"), "{}", text(&out));
    // A seed `.env` (tempo) holding a Compose setting is a seed of the wrong shape.
    let tempo = tmp.path().join("tempo");
    init(&tempo, "tempo", &[]);
    let env = std::fs::read_to_string(tempo.join(".env")).unwrap();
    std::fs::write(
        tempo.join(".env"),
        format!("{env}DOCKER_HOST=tcp://attacker:2375\n"),
    )
    .unwrap();
    let out = run(&tempo, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("DOCKER_HOST"), "{}", text(&out));
    assert!(!text(&out).contains("attacker"), "{}", text(&out));
}

/// Row 5: `expose: false` after a `kind: managed` edit deleted the secrets. Seeds are
/// never deleted by any path.
#[test]
fn seeds_are_never_deleted_whatever_the_manifest_says() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &["--expose"]);
    let manifest = dir.join("kneo-otel.yaml");
    edit(&manifest, "kind: seed", "kind: managed");
    edit(&manifest, "expose: true", "expose: false");
    let out = run(&dir, &["init"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(dir.join("secrets/token").exists());
    // With the records as kneo-otel wrote them, turning exposure off keeps them too.
    let text_now = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, restore_seed_kinds(&text_now)).unwrap();
    let out = run(&dir, &["init"]);
    assert!(out.status.success(), "{}", text(&out));
    for name in ["secrets/token", "secrets/ca.crt", "secrets/front-door.env"] {
        assert!(
            dir.join(name).exists(),
            "{name} was deleted: {}",
            text(&out)
        );
    }
}

/// `kind: managed` back to `kind: seed` on the `secrets/` records.
fn restore_seed_kinds(manifest: &str) -> String {
    let mut out = String::new();
    let mut in_secret = false;
    for line in manifest.lines() {
        if line.starts_with("- path:") {
            in_secret = line.contains("secrets/");
        }
        if in_secret && line.trim() == "kind: managed" {
            out.push_str(&line.replace("managed", "seed"));
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// Row 8: `kind: ejected` on `docker-compose.yml` skipped drift and the exposure lint, so
/// `0.0.0.0` ports passed `check`.
#[test]
fn an_ejected_file_still_passes_the_exposure_rules() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let out = run(&dir, &["eject", "docker-compose.yml"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(run(&dir, &["check"]).status.success());
    edit(
        &dir.join("docker-compose.yml"),
        "\"127.0.0.1:",
        "\"0.0.0.0:",
    );
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("loopback-ports"), "{}", text(&out));
    assert!(
        text(&out).contains("exposed  docker-compose.yml"),
        "{}",
        text(&out)
    );
}

/// Row 9: committed seeds of a known value (`secrets/token` = `a`, an extra `HTTP_PROXY`)
/// passed `check`. Seeds are checked: shape, exact keys, and never tracked by git.
#[test]
fn seeds_are_checked_for_shape_keys_and_git_but_never_printed() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "collector", &["--expose"]);
    let secrets = secrets_of(&dir);
    assert!(run(&dir, &["check"]).status.success());
    let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
    std::fs::write(dir.join("secrets/token"), "a").unwrap();
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("bad-seed  secrets/token"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("shorter"), "{}", text(&out));
    std::fs::write(dir.join("secrets/token"), &token).unwrap();
    let env = std::fs::read_to_string(dir.join("secrets/front-door.env")).unwrap();
    std::fs::write(
        dir.join("secrets/front-door.env"),
        format!("{env}HTTP_PROXY=http://proxy.attacker.example:3128\n"),
    )
    .unwrap();
    let out = run(&dir, &["check", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("HTTP_PROXY") && !text(&out).contains("attacker"),
        "{}",
        text(&out)
    );
    assert_no_secret(&out, &secrets);
    std::fs::write(dir.join("secrets/front-door.env"), &env).unwrap();
    assert!(run(&dir, &["check"]).status.success());
    // A seed git tracks is a known secret.
    git(tmp.path(), &["add", "-f", "obs/secrets/token"]);
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("tracked by git"), "{}", text(&out));
    assert_no_secret(&out, &secrets);
}

/// Issue 22, point 1: the generated CI check failed in every fresh clone of a stack with
/// seed files (`missing .env`). In a fresh `git clone` (no seeds), `check` says which are
/// absent and why, and exits 0 — for every backend and for `--expose`.
#[test]
fn check_passes_in_a_fresh_clone_without_the_git_ignored_seeds() {
    let tmp = repo();
    let cases: &[(&str, &[&str])] = &[
        ("collector", &[]),
        ("jaeger", &[]),
        ("tempo", &[]),
        ("signoz", &[]),
        ("phoenix", &[]),
        ("jaeger", &["--also", "phoenix"]),
        ("collector", &["--expose"]),
        ("jaeger", &["--expose"]),
        ("tempo", &["--expose"]),
        ("phoenix", &["--expose"]),
    ];
    for (n, (backend, extra)) in cases.iter().enumerate() {
        init(&tmp.path().join(format!("obs{n}")), backend, extra);
    }
    git(tmp.path(), &["add", "-A"]);
    git(tmp.path(), &["commit", "-qm", "stacks"]);
    let clone = tempfile::tempdir().unwrap();
    let status = Command::new("git")
        .args(["clone", "-q"])
        .arg(tmp.path())
        .arg(clone.path().join("c"))
        .status()
        .unwrap();
    assert!(status.success());
    for (n, (backend, extra)) in cases.iter().enumerate() {
        let dir = clone.path().join("c").join(format!("obs{n}"));
        let out = run(&dir, &["check"]);
        assert!(out.status.success(), "{backend} {extra:?}: {}", text(&out));
        let seeds = ["secrets/token", ".env"]
            .iter()
            .any(|s| tmp.path().join(format!("obs{n}")).join(s).exists());
        if seeds {
            assert!(
                text(&out).contains("absent (seed)"),
                "{backend} {extra:?}: {}",
                text(&out)
            );
            assert!(
                text(&out).contains("git-ignored by design"),
                "{}",
                text(&out)
            );
        }
        let json = run(&dir, &["check", "--format", "json"]);
        assert!(json.status.success(), "{}", text(&json));
    }
    // Still strict about everything else: a managed file edited in the clone is drift.
    let dir = clone.path().join("c/obs2");
    edit(&dir.join("docker-compose.yml"), "127.0.0.1", "127.0.0.2");
    assert_eq!(run(&dir, &["check"]).status.code(), Some(1));
}

/// Row 11: a symlinked parent of `--dir` was followed (`deploy -> /outside`).
#[test]
fn a_symlinked_parent_of_the_folder_is_refused() {
    let tmp = repo();
    let outside = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), tmp.path().join("deploy")).unwrap();
    let out = kneo()
        .current_dir(tmp.path())
        .args(["init", "--backend", "jaeger", "--dir", "deploy/tr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("symlink"), "{}", text(&out));
    assert!(!outside.path().join("tr").exists());
}

/// Row 13: escape sequences in a folder file reached the terminal raw through `check`.
#[test]
fn escape_sequences_from_folder_files_never_reach_the_terminal() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let compose = dir.join("docker-compose.yml");
    let text_now = std::fs::read_to_string(&compose).unwrap();
    std::fs::write(
        &compose,
        format!("{text_now}# \x1b[1A\x1b[2K\x1b]52;c;ZXZpbA==\x07\x1b]0;title\x07\r\u{9b}31m\n"),
    )
    .unwrap();
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["init", "--dry-run", "--diff"],
    ] {
        let out = run(&dir, args);
        let all = text(&out);
        assert!(all.contains("\u{FFFD}"), "{args:?}: {all}");
        for c in all.chars() {
            assert!(
                !c.is_control() || c == '\n' || c == '\t',
                "{args:?} printed {c:?}"
            );
        }
    }
}

/// Row 16: a 1 GiB README made `check` read it whole (26 s, 3.1 GB).
#[test]
fn reads_are_bounded_in_size() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.join("README.md"))
        .unwrap();
    file.set_len(1 << 30).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1000000; exec \"$0\" check --dir \"$1\"")
        .arg(assert_cmd::cargo::cargo_bin!("kneo-otel"))
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("larger than any file kneo-otel writes"),
        "{}",
        text(&out)
    );
    assert!(started.elapsed().as_secs() < 5);
}

/// Row 17: under `umask 000`, `secrets/` and `.kneo-otel/` were 0777.
#[test]
fn modes_are_set_explicitly_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = repo();
    let dir = tmp.path().join("obs");
    let out = Command::new("sh")
        .arg("-c")
        .arg("umask 000; exec \"$0\" init --backend collector --expose --dir \"$1\"")
        .arg(assert_cmd::cargo::cargo_bin!("kneo-otel"))
        .arg(&dir)
        .env("CI", "true")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let mode = |p: &str| std::fs::metadata(dir.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("secrets"), 0o700);
    assert_eq!(mode(".kneo-otel"), 0o700);
    assert_eq!(mode("secrets/token"), 0o600);
    assert_eq!(mode("secrets/front-door.env"), 0o600);
    assert_eq!(mode("docker-compose.yml"), 0o644);
    assert_eq!(mode("."), 0o755);
}

/// Row 18: `check` read through a hard link (printing an outside file as a diff), and a
/// FIFO at `.kneo-otel/lock` hung it forever.
#[test]
fn hard_links_and_fifos_are_refused_not_followed() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "an outside file: never print me\n").unwrap();
    std::fs::remove_file(dir.join("README.md")).unwrap();
    std::fs::hard_link(&outside, dir.join("README.md")).unwrap();
    let out = run(&dir, &["check"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("hard links"), "{}", text(&out));
    assert!(!text(&out).contains("never print me"), "{}", text(&out));
    std::fs::remove_file(dir.join("README.md")).unwrap();
    std::fs::remove_file(dir.join(".kneo-otel/lock")).unwrap();
    let fifo = dir.join(".kneo-otel/lock");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = Command::new("timeout")
        .arg("10")
        .arg(assert_cmd::cargo::cargo_bin!("kneo-otel"))
        .args(["check", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("not a regular file"), "{}", text(&out));
}

/// Row 4: a snippet record sent the stack's token file (or `~/.aws/credentials`) to any
/// host. A recorded token file is the stack's own `secrets/token`, sent only to a host its
/// certificate names; the module's `Generated by` line names it.
#[test]
fn snippet_records_cannot_send_a_token_elsewhere() {
    let tmp = repo();
    let dir = tmp.path().join("obs");
    init(&dir, "collector", &["--expose"]);
    let out = run(
        &dir,
        &[
            "snippet",
            "--lang",
            "python",
            "--out",
            tmp.path().join("telemetry.py").to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let module = std::fs::read_to_string(tmp.path().join("telemetry.py")).unwrap();
    assert!(module.contains("(token file "), "{module}");
    let manifest = dir.join("kneo-otel.yaml");
    let good = std::fs::read_to_string(&manifest).unwrap();
    assert!(good.contains("token_file:"), "{good}");
    let token_line = good
        .lines()
        .find(|l| l.contains("token_file:"))
        .unwrap()
        .to_string();
    for (from, to) in [
        (
            token_line.clone(),
            "    token_file: ~/.aws/credentials".to_string(),
        ),
        (
            token_line.clone(),
            "    token_file: /home/u/.aws/credentials".to_string(),
        ),
        // Another folder's token, by an absolute path or a way out of the folder.
        (
            token_line.clone(),
            "    token_file: /home/u/other/secrets/token".to_string(),
        ),
        (
            token_line.clone(),
            "    token_file: ../other/secrets/token".to_string(),
        ),
        (
            "    ca_file: secrets/ca.crt".to_string(),
            "    ca_file: ../../attacker/ca.crt".to_string(),
        ),
        (
            "    protocol:".to_string(),
            "    endpoint: https://collector.attacker.example:443\n    protocol:".to_string(),
        ),
    ] {
        std::fs::write(&manifest, good.replace(&from, &to)).unwrap();
        for args in [&["check"][..], &["init"]] {
            let out = run(&dir, args);
            assert_eq!(out.status.code(), Some(2), "{to} {args:?}: {}", text(&out));
            assert!(text(&out).contains("snippet"), "{}", text(&out));
        }
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("telemetry.py")).unwrap(),
            module
        );
    }
}

/// Row 12: a folder swapped for a symlink while a rename is in flight. Every rename is slowed
/// to 1.5 s with strace; while the dashboard's rename waits, `grafana/dashboards` becomes a
/// symlink to a folder outside.
/// The rename resolves through a handle opened on the real folder, so nothing lands outside
/// (the run either finishes inside the moved folder or refuses the symlink with one line).
#[cfg(target_os = "linux")]
#[test]
fn a_folder_swapped_for_a_symlink_during_a_slow_rename_receives_nothing_outside() {
    let Some(strace) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("strace"))
            .find(|p| p.exists())
    }) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "strace is missing under CI: .ci/run installs it"
        );
        eprintln!("note: strace not found, rename-race test skipped");
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let outside = tmp.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    init(&dir, "tempo", &[]);
    let dashboards = dir.join("grafana/dashboards");
    let dashboard = dashboards.join("agent-runs.json");
    std::fs::remove_file(&dashboard).unwrap();
    let child = Command::new(&strace)
        .args([
            "-f",
            "-o",
            "/dev/null",
            "-e",
            "trace=rename,renameat,renameat2",
        ])
        .args(["-e", "inject=rename,renameat,renameat2:delay_enter=1500000"])
        .arg(assert_cmd::cargo::cargo_bin!("kneo-otel"))
        .args(["init", "--dir"])
        .arg(&dir)
        .env("CI", "true")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The journal commits with the first (slowed) rename; the dashboard's rename is the
    // replay's first: swap while it waits in the kernel's entry delay.
    let journal = dir.join(".kneo-otel/journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !journal.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "init never committed its journal"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(400));
    let moved = dir.join("moved-dashboards");
    std::fs::rename(&dashboards, &moved).unwrap();
    std::os::unix::fs::symlink(&outside, &dashboards).unwrap();
    let out = child.wait_with_output().unwrap();
    let said = text(&out);
    assert!(
        !said.contains("strace: "),
        "strace cannot run here (ptrace not permitted?): {said}"
    );
    let escaped: Vec<_> = std::fs::read_dir(&outside).unwrap().collect();
    assert!(
        escaped.is_empty(),
        "a file landed outside: {escaped:?}\n{said}"
    );
    if !out.status.success() {
        let error = said.lines().find(|l| l.starts_with("error")).unwrap_or("");
        assert!(error.contains("grafana/dashboards"), "{said}");
    }
}
