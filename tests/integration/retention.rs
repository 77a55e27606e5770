//! `--set retention=<days>`: recorded in the manifest, written into every program that takes
//! a retention (Phoenix's default policy, Tempo's block retention), printed in the generated
//! README and `backends`; a manifest's value is untrusted and held to the same range.

use crate::support::*;

#[test]
fn retention_reaches_phoenix_and_tempo_and_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let phoenix = dir.path().join("phoenix");
    init(&phoenix, "phoenix", &["--set", "retention=30"]);
    let env = &compose(&phoenix)["services"]["phoenix"]["environment"];
    assert_eq!(env["PHOENIX_DEFAULT_RETENTION_POLICY_DAYS"], "30");
    let manifest = std::fs::read_to_string(phoenix.join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("retention: 30"), "{manifest}");
    let readme = std::fs::read_to_string(phoenix.join("README.md")).unwrap();
    assert!(readme.contains("## Stored data"), "{readme}");
    for store in ["phoenix-data", "gateway-queue", "container logs"] {
        assert!(
            readme.contains(&format!("**{store}**")),
            "{store}: {readme}"
        );
    }
    assert!(readme.contains("Kept: 30 days"), "{readme}");
    // Backup and restore with the stack's own busybox (the queue owner), per volume.
    for volume in ["phoenix-data", "gateway-queue"] {
        assert!(
            readme.contains(&format!(
                "_{volume}:/data -v \"$PWD\":/backup busybox:1.37.0 -czf /backup/{volume}.tar.gz"
            )),
            "{volume}: {readme}"
        );
    }

    // The default: Tempo's block retention in hours, Phoenix 14 days, nothing recorded.
    let tempo = dir.path().join("tempo");
    init(&tempo, "tempo", &[]);
    let config: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(tempo.join("tempo.yaml")).unwrap()).unwrap();
    assert_eq!(
        config["backend_worker"]["compaction"]["block_retention"],
        "336h"
    );
    let manifest = std::fs::read_to_string(tempo.join("kneo-otel.yaml")).unwrap();
    assert!(!manifest.contains("retention"), "{manifest}");
}

#[test]
fn retention_out_of_range_is_refused_from_set_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["0", "3651", "-1", "two"] {
        let out = kneo()
            .args(["init", "--backend", "phoenix", "--dir"])
            .arg(dir.path())
            .args(["--set", &format!("retention={bad}")])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(bad) && stderr.contains("1 to 3650"),
            "{stderr}"
        );
    }
    init(dir.path(), "phoenix", &["--set", "retention=7"]);
    let path = dir.path().join("kneo-otel.yaml");
    let manifest = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, manifest.replace("retention: 7", "retention: 0")).unwrap();
    let out = kneo()
        .args(["init", "--dir"])
        .arg(dir.path())
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("retention=0") && stderr.contains("1 to 3650"),
        "{stderr}"
    );
}

#[test]
fn backends_prints_every_store() {
    let out = kneo()
        .arg("backends")
        .assert()
        .success()
        .get_output()
        .clone();
    let text = String::from_utf8(out.stdout).unwrap();
    for line in [
        "data: phoenix-data: 14 days, no size bound",
        "data: tempo-data: 14 days, no size bound",
        "data: jaeger memory store",
        "data: clickhouse-data",
        "every stack: container logs",
    ] {
        assert!(text.contains(line), "{line}: {text}");
    }
    assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
}
