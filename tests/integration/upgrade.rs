//! A re-`init` that changes a pinned image says so before writing, with what it does to stored
//! data (the catalog's `upgrade`), in `--dry-run` and `--format json` too. An older pin is
//! simulated with `--set images.<key>=` and then removed from the manifest, as a new release
//! moving the pin would.

use std::path::Path;

use crate::support::*;

/// Removes the `--set images.<key>=<tag>` answer from the folder's manifest, as a release that
/// moves the pin would leave it: the next `init` renders the catalog's own pin.
pub fn drop_image_override(dir: &Path, key: &str, tag: &str) {
    let path = dir.join("kneo-otel.yaml");
    let manifest = std::fs::read_to_string(&path).unwrap();
    let without: String = manifest
        .lines()
        .filter(|l| !l.contains("images:") && !l.contains(&format!("{key}: {tag}")))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_ne!(without, manifest, "the override was recorded");
    std::fs::write(&path, without).unwrap();
}

#[test]
fn init_lists_each_image_change_with_what_it_does_to_stored_data() {
    let dir = tempfile::tempdir().unwrap();
    let old = ["--set", "images.phoenix=version-20.20.0-nonroot"];
    init(dir.path(), "phoenix", &old);
    drop_image_override(dir.path(), "phoenix", "version-20.20.0-nonroot");
    let line = "phoenix version-20.20.0-nonroot → version-20.26.1-nonroot: Phoenix migrates its database (phoenix-data) forward at start and cannot go back";

    let dry = kneo()
        .args(["init", "--dry-run", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    let stderr = String::from_utf8(dry.get_output().stderr.clone()).unwrap();
    assert!(
        stderr.contains(&format!("would upgrade: {line}")),
        "{stderr}"
    );
    let compose = std::fs::read_to_string(dir.path().join("docker-compose.yml")).unwrap();
    assert!(
        compose.contains("version-20.20.0-nonroot"),
        "--dry-run wrote nothing"
    );

    let json = kneo()
        .args(["init", "--dry-run", "--format", "json", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    let value: serde_json::Value = serde_json::from_slice(&json.get_output().stdout).unwrap();
    let upgrades = value["upgrades"].as_array().unwrap();
    assert_eq!(upgrades.len(), 1, "{value}");
    assert_eq!(upgrades[0]["image"], "phoenix");
    assert_eq!(upgrades[0]["from"], "version-20.20.0-nonroot");
    assert_eq!(upgrades[0]["to"], "version-20.26.1-nonroot");
    assert!(
        upgrades[0]["stored_data"]
            .as_str()
            .unwrap()
            .contains("cannot go back")
    );

    let run = kneo()
        .args(["init", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    let stderr = String::from_utf8(run.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains(&format!("upgrade: {line}")), "{stderr}");
    // Written now: the next run has nothing to say.
    let again = kneo()
        .args(["init", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    let stderr = String::from_utf8(again.get_output().stderr.clone()).unwrap();
    assert!(!stderr.contains("upgrade"), "{stderr}");
}
