//! Arize Phoenix, the LLM-native view: its own stack (always behind the gateway, which keeps
//! the standard OTLP ports and forwards over HTTP) and `--also phoenix` next to an ops backend,
//! with `--redact` applying to the ops backend only. Validated like every stack; observed on
//! the real package in `real_backends.rs`.

use std::path::Path;

use serde_yaml::Value;

use crate::genai::{assert_gateway_topology, strings, yaml};
use crate::stacks::check_stack;
use crate::support::*;

/// The Phoenix service as every stack renders it: pinned nonroot image, SQLite on the named
/// volume at the image's home, telemetry and internet requests off, only the UI published.
fn assert_phoenix_service(compose: &Value) {
    let phoenix = &compose["services"]["phoenix"];
    let image = phoenix["image"].as_str().unwrap();
    assert!(
        image.starts_with("arizephoenix/phoenix:version-") && image.ends_with("-nonroot"),
        "{image}"
    );
    let env = &phoenix["environment"];
    assert_eq!(env["PHOENIX_WORKING_DIR"], "/home/nonroot");
    assert_eq!(env["PHOENIX_HOST"], "0.0.0.0");
    assert_eq!(env["PHOENIX_TELEMETRY_ENABLED"], "false");
    assert_eq!(env["PHOENIX_ALLOW_EXTERNAL_RESOURCES"], "false");
    assert!(
        strings(&phoenix["volumes"]).contains(&"phoenix-data:/home/nonroot".to_string()),
        "SQLite on a named volume"
    );
    assert_eq!(compose["x-volume-owners"]["phoenix-data"], "65532:65532");
    assert_eq!(phoenix["read_only"], true);
    assert!(
        phoenix["user"].is_null(),
        "runs as the image's nonroot user"
    );
    let published: Vec<u16> = published_ports(compose)
        .into_iter()
        .filter(|(service, ..)| service == "phoenix")
        .map(|(_, _, host, _)| host)
        .collect();
    assert_eq!(published, vec![6006], "only the UI/API is published");
    // Its gRPC receiver keeps gRPC's 4 MiB: recorded for lint rule hop-message-sizes.
    assert_eq!(compose["x-otlp-receive-limits"]["phoenix"]["grpc_mib"], 4);
    assert_eq!(
        env["PHOENIX_ENABLE_AUTH"], "false",
        "auth off, said explicitly, without --expose"
    );
}

/// The gateway's exporter to Phoenix: OTLP/HTTP to its 6006 (its gRPC takes 4 MiB, less than
/// a batch), batched by bytes.
fn assert_forwards_to_phoenix_over_http(dir: &Path) {
    let config = yaml(dir, "gateway-config.yaml");
    let exporter = &config["exporters"]["otlp_http/phoenix"];
    assert_eq!(exporter["endpoint"], "http://phoenix:6006");
    assert_eq!(exporter["sending_queue"]["batch"]["sizer"], "bytes");
    assert!(
        config["exporters"]
            .as_mapping()
            .unwrap()
            .keys()
            .all(|k| !k.as_str().unwrap().starts_with("otlp_grpc/phoenix")),
        "no gRPC exporter to Phoenix"
    );
}

#[test]
fn phoenix_stack() {
    let tmp = check_stack("phoenix", &[]);
    let dir = tmp.path().join("observability");
    let compose = compose(&dir);
    assert_phoenix_service(&compose);
    assert_gateway_topology(&dir);
    assert_forwards_to_phoenix_over_http(&dir);
    // Apps keep the standard ports: the gateway, not Phoenix's 6006.
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318"),
        "{readme}"
    );
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(
        !manifest.contains("gateway: true"),
        "the gateway comes from the catalog, not an option"
    );
    assert_snapshot("phoenix", snapshot_text(&read_tree(&dir)));
}

#[test]
fn phoenix_secrets_meet_its_rules() {
    // At least 32 characters with a digit and a lowercase letter (phoenix/config.py,
    // REQUIREMENTS_FOR_PHOENIX_SECRET), two different ones.
    for _ in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path(), "phoenix", &[]);
        let env = std::fs::read_to_string(tmp.path().join(".env")).unwrap();
        let value = |key: &str| {
            env.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap()
                .to_string()
        };
        let (secret, admin) = (value("PHOENIX_SECRET"), value("PHOENIX_ADMIN_SECRET"));
        for s in [&secret, &admin] {
            assert!(s.len() >= 32, "{s}");
            assert!(s.chars().any(|c| c.is_ascii_digit()), "{s}");
            assert!(s.chars().any(|c| c.is_ascii_lowercase()), "{s}");
        }
        assert_ne!(secret, admin);
    }
}

#[test]
fn phoenix_with_expose_turns_its_auth_on_and_prints_no_secret() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kneo()
        .args(["init", "--backend", "phoenix", "--expose", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let env = std::fs::read_to_string(tmp.path().join(".env")).unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for line in env.lines().filter(|l| !l.starts_with('#')) {
        let secret = line.split_once('=').unwrap().1;
        assert!(!printed.contains(secret), "secret printed");
    }
    let compose = compose(tmp.path());
    let env = &compose["services"]["phoenix"]["environment"];
    assert_eq!(env["PHOENIX_ENABLE_AUTH"], "true");
    assert!(
        env["PHOENIX_SECRET"]
            .as_str()
            .unwrap()
            .starts_with("${PHOENIX_SECRET:?")
    );
    let gateway_env = &compose["services"]["gateway"]["environment"];
    assert!(
        gateway_env["PHOENIX_ADMIN_SECRET"]
            .as_str()
            .unwrap()
            .starts_with("${PHOENIX_ADMIN_SECRET:?")
    );
    let config = yaml(tmp.path(), "gateway-config.yaml");
    assert_eq!(
        config["exporters"]["otlp_http/phoenix"]["headers"]["Authorization"],
        "Bearer ${env:PHOENIX_ADMIN_SECRET}"
    );
    validate_with_real_tools(tmp.path());
}

#[test]
fn tempo_also_phoenix_feeds_both_views() {
    let tmp = check_stack("tempo", &["--also", "phoenix"]);
    let dir = tmp.path().join("observability");
    let compose = compose(&dir);
    assert_phoenix_service(&compose);
    assert_forwards_to_phoenix_over_http(&dir);
    let config = yaml(&dir, "gateway-config.yaml");
    assert_eq!(
        config["exporters"]["otlp_grpc/tempo"]["endpoint"],
        "tempo:4317"
    );
    let pipelines = &config["service"]["pipelines"];
    assert_eq!(
        strings(&pipelines["traces/tempo"]["exporters"]),
        ["otlp_grpc/tempo"]
    );
    assert_eq!(
        strings(&pipelines["traces/phoenix"]["exporters"]),
        ["otlp_http/phoenix"]
    );
    let depends = &compose["services"]["gateway"]["depends_on"];
    assert_eq!(depends["tempo"]["condition"], "service_healthy");
    // Phoenix has a healthcheck (its own Python): the gateway waits until it passes.
    assert_eq!(depends["phoenix"]["condition"], "service_healthy");
    // One .env holds Grafana's password and Phoenix's secrets.
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    for key in [
        "GRAFANA_ADMIN_PASSWORD=",
        "PHOENIX_SECRET=",
        "PHOENIX_ADMIN_SECRET=",
    ] {
        assert!(env.contains(key), "{key} missing:\n{env}");
    }
    let volumes = compose["volumes"].as_mapping().unwrap();
    assert!(volumes.contains_key("phoenix-data") && volumes.contains_key("tempo-data"));
    assert_snapshot("tempo-also-phoenix", snapshot_text(&read_tree(&dir)));
}

#[test]
fn jaeger_also_phoenix_redacts_the_ops_view_only() {
    let tmp = check_stack("jaeger", &["--also", "phoenix", "--redact"]);
    let dir = tmp.path().join("observability");
    assert_phoenix_service(&compose(&dir));
    let config = yaml(&dir, "gateway-config.yaml");
    let pipelines = &config["service"]["pipelines"];
    assert_eq!(
        strings(&pipelines["traces/jaeger"]["processors"]),
        ["memory_limiter", "transform/redact_genai"]
    );
    assert_eq!(
        strings(&pipelines["traces/phoenix"]["processors"]),
        ["memory_limiter"],
        "Phoenix keeps message content"
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("`phoenix` keeps message content"),
        "{readme}"
    );
    assert_snapshot(
        "jaeger-also-phoenix-redact",
        snapshot_text(&read_tree(&dir)),
    );
}

#[test]
fn also_is_refused_where_it_does_not_apply() {
    for (backend, also, says) in [
        (
            "collector",
            "phoenix",
            "--also phoenix does not apply to backend collector",
        ),
        (
            "phoenix",
            "phoenix",
            "--also phoenix does not apply to backend phoenix",
        ),
        (
            "jaeger",
            "tempo",
            "--also tempo: tempo cannot run next to another backend",
        ),
        ("jaeger", "phenix", "unknown backend `phenix` for --also"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = kneo()
            .args(["init", "--backend", backend, "--also", also, "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{backend} --also {also}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(std::fs::read_dir(tmp.path()).unwrap().next().is_none());
    }
}

#[test]
fn also_can_be_removed_again() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "jaeger", &["--also", "phoenix"]);
    assert!(compose(tmp.path())["services"]["phoenix"].is_mapping());
    init(tmp.path(), "jaeger", &["--also", "none"]);
    let compose = compose(tmp.path());
    assert!(compose["services"]["phoenix"].is_null());
    let manifest = std::fs::read_to_string(tmp.path().join("kneo-otel.yaml")).unwrap();
    assert!(!manifest.contains("also:"), "{manifest}");
}

#[test]
fn snippet_for_phoenix_sends_to_the_gateway_not_phoenix() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "phoenix", &["--set", "ports.otlp_http=14318"]);
    for lang in ["rust", "python"] {
        let out = kneo()
            .args(["snippet", "--lang", lang, "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("http://127.0.0.1:14318"), "{lang}:\n{text}");
        assert!(!text.contains(":6006"), "{lang}: Phoenix's own port");
    }
}

#[test]
fn set_takes_the_also_backends_ports_and_images() {
    let tmp = tempfile::tempdir().unwrap();
    init(
        tmp.path(),
        "jaeger",
        &[
            "--also",
            "phoenix",
            "--set",
            "ports.phoenix=16006",
            "--set",
            "images.phoenix=version-20.26.0-nonroot",
        ],
    );
    let compose = compose(tmp.path());
    assert_eq!(
        compose["services"]["phoenix"]["image"],
        "arizephoenix/phoenix:version-20.26.0-nonroot"
    );
    let published: Vec<u16> = published_ports(&compose)
        .into_iter()
        .filter(|(service, ..)| service == "phoenix")
        .map(|(_, _, host, _)| host)
        .collect();
    assert_eq!(published, vec![16006]);
    // Without --also the key is unknown.
    let other = tempfile::tempdir().unwrap();
    let out = kneo()
        .args([
            "init",
            "--backend",
            "jaeger",
            "--set",
            "ports.phoenix=16006",
            "--dir",
        ])
        .arg(other.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown key `ports.phoenix`"));
}
