//! Generated folders are safe to commit: manifest, `check`, three-way ownership, `--force`,
//! `--dry-run`, `eject`, backend switches, symlinks.

use std::path::Path;

use crate::support::*;

fn check(dir: &Path, extra: &[&str]) -> (i32, String) {
    let out = kneo()
        .arg("check")
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn append(path: &Path, text: &str) {
    let mut content = std::fs::read_to_string(path).unwrap();
    content.push_str(text);
    std::fs::write(path, content).unwrap();
}

#[test]
fn init_then_check_is_clean_and_rerun_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "tempo", &[]);
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, 0, "{out}");

    let before: Vec<_> = read_tree(&dir)
        .keys()
        .map(|p| std::fs::metadata(dir.join(p)).unwrap().modified().unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = kneo().args(["init", "--dir"]).arg(&dir).output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("files unchanged"), "{stdout}");
    let after: Vec<_> = read_tree(&dir)
        .keys()
        .map(|p| std::fs::metadata(dir.join(p)).unwrap().modified().unwrap())
        .collect();
    assert_eq!(before, after, "a no-op re-run touched files");
}

#[test]
fn edits_and_deletions_are_drift() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    append(&dir.join("docker-compose.yml"), "# my edit\n");
    std::fs::remove_file(dir.join("jaeger-config.yaml")).unwrap();

    let (code, out) = check(&dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("edited  docker-compose.yml"), "{out}");
    assert!(out.contains("+# my edit"), "no diff: {out}");
    assert!(out.contains("missing  jaeger-config.yaml"), "{out}");
    assert!(out.contains("fix: kneo-otel init --dir"), "{out}");

    let (code, out) = check(&dir, &["--quiet"]);
    assert_eq!(code, 1);
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        vec!["docker-compose.yml", "jaeger-config.yaml"]
    );

    let (code, out) = check(&dir, &["--format", "json"]);
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["schema_version"], 1);
    let statuses: Vec<(String, String)> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] != "ok")
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("docker-compose.yml".to_string(), "edited".to_string()),
            ("jaeger-config.yaml".to_string(), "missing".to_string())
        ]
    );
}

#[test]
fn edited_files_are_never_overwritten_without_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "collector", &[]);
    append(&dir.join("docker-compose.yml"), "# mine\n");
    append(&dir.join("otel-config.yaml"), "# mine too\n");
    let edited = std::fs::read(dir.join("docker-compose.yml")).unwrap();
    let manifest = std::fs::read(dir.join("kneo-otel.yaml")).unwrap();

    let out = kneo()
        .args(["init", "--dir"])
        .arg(&dir)
        .args(["--set", "service_name=other"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("docker-compose.yml") && stderr.contains("otel-config.yaml"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(
        std::fs::read(dir.join("docker-compose.yml")).unwrap(),
        edited
    );
    assert_eq!(
        std::fs::read(dir.join("kneo-otel.yaml")).unwrap(),
        manifest,
        "nothing written"
    );
    assert!(
        !std::fs::read_to_string(dir.join("README.md"))
            .unwrap()
            .contains("other")
    );

    init(&dir, "collector", &["--force"]);
    assert_eq!(check(&dir, &[]).0, 0);
    assert!(
        !std::fs::read_to_string(dir.join("docker-compose.yml"))
            .unwrap()
            .contains("# mine")
    );
}

#[test]
fn a_file_the_manifest_does_not_own_is_a_conflict() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("docker-compose.yml"),
        "services: {app: {image: me:1}}\n",
    )
    .unwrap();
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not written by kneo-otel"));
    assert_eq!(read_tree(&dir).len(), 1, "nothing else written");
}

#[test]
fn seed_files_survive_force() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "tempo", &[]);
    let env = std::fs::read(dir.join(".env")).unwrap();
    init(&dir, "tempo", &["--force"]);
    assert_eq!(std::fs::read(dir.join(".env")).unwrap(), env);
    // Not compared to a render (its secrets are this machine's), but checked: a key
    // kneo-otel never writes there is a seed of the wrong shape (never shown).
    append(&dir.join(".env"), "EXTRA=1\n");
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("EXTRA") && !out.contains("GRAFANA_ADMIN_PASSWORD="),
        "{out}"
    );
}

#[test]
fn dry_run_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let out = kneo()
        .args(["init", "--backend", "tempo", "--dry-run", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("create     docker-compose.yml"), "{stdout}");
    assert!(!stdout.contains("Next steps"), "{stdout}");
    assert!(!dir.exists(), "dry run created the folder");

    init(&dir, "tempo", &[]);
    append(&dir.join("tempo.yaml"), "# edit\n");
    let out = kneo()
        .args([
            "init",
            "--dry-run",
            "--diff",
            "--format",
            "json",
            "--set",
            "ports.grafana=3001",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "a conflict makes the dry run fail"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let action = |path: &str| {
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == path)
            .unwrap()["action"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(action("tempo.yaml"), "conflict");
    assert_eq!(action("docker-compose.yml"), "update");
    assert_eq!(action(".env"), "skip (seed)");
    assert_eq!(action(".gitignore"), "unchanged");
    assert!(
        std::fs::read_to_string(dir.join("docker-compose.yml"))
            .unwrap()
            .contains(":3000:")
    );
}

#[test]
fn set_changes_one_answer_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "tempo", &[]);
    init(
        &dir,
        "tempo",
        &["--set", "ports.grafana=3001", "--set", "images.tempo=3.0.4"],
    );
    let compose = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    assert!(compose.contains("127.0.0.1:3001:3000"), "{compose}");
    assert!(compose.contains("grafana/tempo:3.0.4"));
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(
        manifest.contains("grafana: 3001") && manifest.contains("tempo: 3.0.4"),
        "{manifest}"
    );
    assert_eq!(check(&dir, &[]).0, 0);
}

#[test]
fn outdated_render_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let manifest = dir.join("kneo-otel.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("kneo_agent", "renamed");
    std::fs::write(&manifest, text).unwrap();
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("outdated-render  README.md"), "{out}");
    init(&dir, "jaeger", &[]);
    assert_eq!(check(&dir, &[]).0, 0);
}

#[test]
fn switching_backend_removes_untouched_old_files() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "tempo", &[]);
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("remove     tempo.yaml"), "{stdout}");
    assert!(!dir.join("tempo.yaml").exists());
    assert!(!dir.join("grafana").exists(), "emptied folders are removed");
    assert!(dir.join("jaeger-config.yaml").exists());
    assert_eq!(check(&dir, &[]).0, 0);
}

#[test]
fn eject_hands_a_file_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    kneo()
        .args(["eject", "docker-compose.yml", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    append(&dir.join("docker-compose.yml"), "# mine now\n");
    let (code, out) = check(&dir, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("skipped (ejected)  docker-compose.yml"),
        "{out}"
    );
    init(&dir, "jaeger", &["--force"]);
    assert!(
        std::fs::read_to_string(dir.join("docker-compose.yml"))
            .unwrap()
            .contains("# mine now")
    );
}

#[test]
fn check_errors_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let (code, out) = check(tmp.path(), &[]);
    assert_eq!(code, 2);
    assert!(out.contains("no kneo-otel.yaml"), "{out}");
    std::fs::write(
        tmp.path().join("kneo-otel.yaml"),
        "schema_version: 1\noptions: [\n",
    )
    .unwrap();
    let (code, out) = check(tmp.path(), &[]);
    assert_eq!(code, 2);
    assert!(out.contains("kneo-otel.yaml:"), "{out}");
    assert!(out.contains("unreadable manifest"), "{out}");
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_written_through() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    std::fs::create_dir_all(&dir).unwrap();
    let target = tmp.path().join("precious.txt");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, dir.join("docker-compose.yml")).unwrap();
    for extra in [&[][..], &["--force"][..]] {
        let out = kneo()
            .args(["init", "--backend", "jaeger", "--dir"])
            .arg(&dir)
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("symlink"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }
    assert!(!dir.join("kneo-otel.yaml").exists());
}
