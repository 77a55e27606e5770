//! Bad input: one clear line naming the value and the fix, exit 2, nothing written.

use crate::support::*;

fn assert_refused(args: &[&str], expected: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let out = kneo().args(args).arg("--dir").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in expected {
        assert!(
            stderr.contains(needle),
            "{args:?}: {needle:?} not in {stderr}"
        );
    }
    assert!(!dir.exists(), "{args:?} wrote {}", dir.display());
}

#[test]
fn unknown_backend_lists_valid_ids() {
    assert_refused(
        &["init", "--backend", "nope"],
        &["'nope'", "collector, jaeger, tempo, signoz"],
    );
}

#[test]
fn service_name_is_restricted() {
    for bad in ["a b", "x\"y", "a:b", "line\nbreak", "", &"x".repeat(65)] {
        assert_refused(
            &["init", "--backend", "jaeger", "--service-name", bad],
            &["invalid service name", "--service-name"],
        );
    }
}

#[test]
fn dir_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--dir"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is a file, not a folder"));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn bad_set_values_name_the_key() {
    assert_refused(
        &["init", "--backend", "tempo", "--set", "ports.nope=1"],
        &["ports.nope", "ports.grafana"],
    );
    assert_refused(
        &["init", "--backend", "tempo", "--set", "ports.grafana=abc"],
        &["ports.grafana", "1 to 65535"],
    );
    assert_refused(
        &["init", "--backend", "tempo", "--set", "images.tempo=latest"],
        &["images.tempo", "explicit version"],
    );
    assert_refused(
        &["init", "--backend", "tempo", "--set", "bogus=1"],
        &["unknown key `bogus`"],
    );
}

#[test]
fn usage_errors_exit_2() {
    kneo().args(["init", "--no-such-flag"]).assert().code(2);
    kneo().arg("frobnicate").assert().code(2);
}

#[test]
fn no_terminal_and_no_backend_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let start = std::time::Instant::now();
    let out = kneo()
        .args(["init", "--dir"])
        .arg(tmp.path().join("out"))
        .output()
        .unwrap();
    assert!(start.elapsed() < std::time::Duration::from_secs(1));
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--backend") && stderr.contains("jaeger"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!tmp.path().join("out").exists());
}

/// A tag that moves (a word, no version number) is refused with one line, from `--set` and
/// from the manifest alike; a version with a suffix is fine.
#[test]
fn floating_image_tags_are_refused_from_set_and_manifest() {
    for tag in [
        "nightly",
        "edge",
        "main",
        "master",
        "dev",
        "stable",
        "alpine",
        "LATEST",
        "1-latest",
        "nightly-2",
    ] {
        assert_refused(
            &[
                "init",
                "--backend",
                "jaeger",
                "--set",
                &format!("images.jaeger={tag}"),
            ],
            &[&format!("images.jaeger={tag}"), "pin", "1.2.3"],
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    init(
        tmp.path(),
        "jaeger",
        &["--set", "images.jaeger=2.19.0-alpine"],
    );
    let manifest = tmp.path().join("kneo-otel.yaml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("jaeger: 2.19.0-alpine", "jaeger: nightly");
    std::fs::write(&manifest, &text).unwrap();
    for command in ["check", "init"] {
        let out = kneo()
            .args([command, "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("images.jaeger=nightly"),
            "{command}: {stderr}"
        );
    }
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), text);
}

/// `images.gateway` (or a gateway port) recorded without the gateway: `check` and `init` both
/// refuse, naming the key and `--gateway`, and change nothing. (Switching the gateway off in
/// this run still takes its overrides with it: genai.rs.)
#[test]
fn gateway_overrides_without_the_gateway_are_refused_by_check_and_init_alike() {
    for (key, value) in [
        ("images.gateway", "0.150.0"),
        ("ports.gateway_health", "13999"),
    ] {
        assert_refused(
            &[
                "init",
                "--backend",
                "jaeger",
                "--set",
                &format!("{key}={value}"),
            ],
            &[key, "--gateway"],
        );
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path(), "jaeger", &[]);
        let manifest = tmp.path().join("kneo-otel.yaml");
        let (map, name) = key.split_once('.').unwrap();
        let text = std::fs::read_to_string(&manifest).unwrap().replacen(
            "  service_name:",
            &format!("  {map}:\n    {name}: {value}\n  service_name:"),
            1,
        );
        std::fs::write(&manifest, &text).unwrap();
        for command in ["check", "init"] {
            let out = kneo()
                .args([command, "--dir"])
                .arg(tmp.path())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{command} {key}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            assert!(
                stderr.contains(key) && stderr.contains("--gateway"),
                "{command}: {stderr}"
            );
        }
        assert_eq!(std::fs::read_to_string(&manifest).unwrap(), text);
    }
}
