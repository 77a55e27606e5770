//! Every collector-family config the templates can produce, read by the real program it is
//! written for: `otelcol validate` (the Collector we build), `jaeger validate` (Jaeger v2); the
//! Collector build's component list covers every component a rendered config names; and the
//! versions `scripts/backends` builds are the ones the catalog pins.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::backends;
use crate::support::{BACKENDS, init};

/// Every option combination that changes a collector-family config: (backend, answers).
fn combinations() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out = Vec::new();
    for backend in BACKENDS {
        out.push((*backend, vec![]));
        out.push((*backend, vec!["--redact"]));
        out.push((*backend, vec!["--expose"]));
        if *backend != "collector" {
            out.push((*backend, vec!["--gateway"]));
        }
    }
    // A second destination: two exporters, redaction on one pipeline, auth headers.
    for backend in ["jaeger", "tempo", "signoz"] {
        out.push((backend, vec!["--also", "phoenix"]));
        out.push((backend, vec!["--also", "phoenix", "--redact", "--expose"]));
    }
    // The Kubernetes flavour mounts the same bytes (kubernetes.rs proves it); run them anyway.
    for backend in ["collector", "jaeger", "tempo"] {
        out.push((backend, vec!["--target", "kubernetes"]));
        out.push((backend, vec!["--target", "kubernetes", "--redact"]));
    }
    out
}

/// Renders every combination; returns (label, folder) pairs kept alive by the temp dir.
fn rendered(root: &Path) -> Vec<(String, PathBuf)> {
    combinations()
        .into_iter()
        .enumerate()
        .map(|(index, (backend, extra))| {
            let dir = root.join(format!("{index}-{backend}"));
            init(&dir, backend, &extra);
            (format!("{backend} {}", extra.join(" ")), dir)
        })
        .collect()
}

/// The configs of a render that the Collector build runs (the collector and the gateway).
fn collector_configs(dir: &Path) -> Vec<PathBuf> {
    ["otel-config.yaml", "gateway-config.yaml"]
        .iter()
        .map(|name| dir.join(name))
        .filter(|path| path.exists())
        .collect()
}

/// The variables compose passes from `secrets/front-door.env` (`--expose`): `KEY=value` or
/// `KEY="value"` spanning lines.
fn seed_env(dir: &Path) -> Vec<(String, String)> {
    let Ok(text) = std::fs::read_to_string(dir.join("secrets/front-door.env")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some((line, after)) = rest.split_once('\n') {
        rest = after;
        let Some((key, value)) = line.split_once('=').filter(|_| !line.starts_with('#')) else {
            continue;
        };
        match value.strip_prefix('"') {
            Some(start) => {
                let (inner, after) = format!("{start}\n{rest}")
                    .split_once('"')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap();
                out.push((key.to_string(), inner));
                rest = &text[text.len() - after.len()..];
            }
            None => out.push((key.to_string(), value.to_string())),
        }
    }
    out
}

fn validate(binary: &Path, config: &Path) {
    let out = Command::new(binary)
        .arg("validate")
        .arg(format!("--config=file:{}", config.display()))
        .envs(seed_env(config.parent().unwrap()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} validate {}:\n{}",
        binary.display(),
        config.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_collector_and_jaeger_config_passes_the_real_validate() {
    let Some(binaries) = backends::binaries() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (_, dir) in rendered(tmp.path()) {
        for config in collector_configs(&dir) {
            validate(&binaries.0["otelcol"], &config);
            checked += 1;
        }
        let jaeger = dir.join("jaeger-config.yaml");
        if jaeger.exists() {
            validate(&binaries.0["jaeger"], &jaeger);
            checked += 1;
        }
    }
    // collector ×3; jaeger: its own ×4 and a gateway ×3 (redact, expose, gateway); tempo and
    // signoz: a gateway ×3 each; phoenix: a gateway ×4 (always); with --also phoenix a
    // gateway ×2 for jaeger, tempo and signoz, and jaeger's own ×2; on Kubernetes collector
    // ×2, a gateway for jaeger and tempo ×2 each, jaeger's own ×2
    assert_eq!(checked, 36);
}

/// The sections of a collector config (and of the builder manifest) that list components.
const COMPONENT_KINDS: [&str; 5] = [
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
];

/// `kind/name` → `kind` component type, as a config's sections name them.
fn component_types(config: &serde_yaml::Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for kind in COMPONENT_KINDS {
        for (id, _) in config[kind].as_mapping().into_iter().flatten() {
            let id = id.as_str().unwrap();
            let ty = id.split('/').next().unwrap();
            out.insert((kind.to_string(), ty.to_string()));
        }
    }
    out
}

/// What `scripts/backends components` puts in the Collector build: `kind` → types.
fn built_components() -> BTreeSet<(String, String)> {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backends"))
        .arg("components")
        .output()
        .unwrap();
    assert!(out.status.success());
    let manifest: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    let mut modules = BTreeSet::new();
    for kind in COMPONENT_KINDS {
        for entry in manifest[kind].as_sequence().into_iter().flatten() {
            let module = entry["gomod"]
                .as_str()
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap();
            modules.insert((
                kind.to_string(),
                module.rsplit('/').next().unwrap().to_string(),
            ));
        }
    }
    modules
}

/// A component type's module name (`otlp_grpc` → `otlpexporter`, `health_check` →
/// `healthcheckextension`, `file_storage` → `filestorage`), as the Collector's modules are named.
fn module_of(kind: &str, ty: &str) -> String {
    let suffix = kind.trim_end_matches('s');
    let base = match ty {
        "otlp_grpc" => "otlp".to_string(),
        "otlp_http" => "otlphttp".to_string(),
        other => other.replace('_', ""),
    };
    if kind == "extensions" && base == "filestorage" {
        return base;
    }
    format!("{base}{suffix}")
}

#[test]
fn the_collector_build_has_every_component_a_template_uses() {
    let built = built_components();
    let tmp = tempfile::tempdir().unwrap();
    let mut used = BTreeSet::new();
    for (label, dir) in rendered(tmp.path()) {
        for config in collector_configs(&dir) {
            let doc: serde_yaml::Value =
                serde_yaml::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
            for (kind, ty) in component_types(&doc) {
                let module = module_of(&kind, &ty);
                assert!(
                    built.contains(&(kind.clone(), module.clone())),
                    "{label}: {} uses {kind} `{ty}` ({module}), which scripts/backends does not build",
                    config.display()
                );
                used.insert((kind, module));
            }
        }
    }
    assert!(used.len() >= 6, "too few components found: {used:?}");
}

/// `scripts/backends versions`: (name, version built, catalog tag it stands for).
fn backend_versions() -> Vec<(String, String, String)> {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backends"))
        .arg("versions")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.split_whitespace().map(String::from);
            (
                parts.next().unwrap(),
                parts.next().unwrap(),
                parts.next().unwrap(),
            )
        })
        .collect()
}

/// Builds whose version differs from the image they stand for, each with the reason. Keyed by
/// the exact pair, so bumping the image alone still fails.
const KNOWN_GAPS: &[(&str, &str, &str, &str)] = &[
    (
        "jaeger",
        "2.13.0",
        "2.20.0",
        "the Go module proxy here serves github.com/jaegertracing/jaeger only up to v1.76.0 (= Jaeger 2.13.0)",
    ),
    (
        "busybox",
        "1.35.0",
        "1.37.0",
        "Debian's busybox-static (1.35.0) stands in for the image; the service only runs `chown`",
    ),
];

#[test]
fn backends_and_images_are_the_versions_the_catalog_pins() {
    let catalog: serde_yaml::Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    let mut pinned = Vec::new();
    let mut images: Vec<&serde_yaml::Value> = vec![&catalog["gateway"]["images"]];
    for backend in catalog["backends"].as_sequence().unwrap() {
        images.push(&backend["images"]);
    }
    for map in images {
        for (_, image) in map.as_mapping().unwrap() {
            pinned.push((
                image["repository"].as_str().unwrap().to_string(),
                image["tag"].as_str().unwrap().to_string(),
            ));
        }
    }
    for (name, built, stands_for) in backend_versions() {
        // The stand-in image scripts/images builds from it, under the name the catalog pins.
        let images = backends::stand_in_images();
        let (_, image) = images
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("scripts/images builds no image from {name}"));
        let (repository, image_tag) = image.split_once(':').unwrap();
        assert_eq!(image_tag, stands_for, "scripts/images tags {image}");
        let tags: BTreeSet<&str> = pinned
            .iter()
            .filter(|(repo, _)| repo == repository)
            .map(|(_, tag)| tag.as_str())
            .collect();
        assert_eq!(
            tags,
            BTreeSet::from([stands_for.as_str()]),
            "{} is pinned at {tags:?} but scripts/backends builds {name} for {stands_for}: bump both together",
            repository
        );
        // A tag may spell the version with a prefix and a variant (Phoenix's
        // `version-20.26.1-nonroot`); the pin is what the tag names.
        let tag_version = stands_for
            .strip_prefix("version-")
            .and_then(|rest| rest.split_once('-'))
            .map_or(stands_for.as_str(), |(version, _)| version);
        if built != tag_version {
            assert!(
                KNOWN_GAPS
                    .iter()
                    .any(|(n, b, s, _)| *n == name && *b == built && *s == stands_for),
                "scripts/backends builds {name} {built} for the image tag {stands_for}; build {stands_for}"
            );
        }
    }
}
