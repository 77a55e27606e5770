//! Every backend renders a valid, hardened, consistent stack (checked with the real Docker
//! Compose v2 parser and yamllint), with one snapshot of all its files.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;

use crate::support::*;

#[test]
fn tested_backends_equal_the_catalog() {
    let out = kneo()
        .args(["backends", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["schema_version"], 1);
    let ids: Vec<&str> = json["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, BACKENDS);
    for backend in json["backends"].as_array().unwrap() {
        assert!(backend["otlp_http_port"].as_u64().is_some(), "{backend}");
        assert!(!backend["services"].as_array().unwrap().is_empty());
    }
}

#[test]
fn backends_table_lists_every_backend() {
    let out = kneo().arg("backends").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for id in BACKENDS {
        assert!(
            text.lines().any(|l| l.starts_with(id)),
            "{id} missing:\n{text}"
        );
    }
}

/// The Compose validation can fail: a generated folder whose compose file names a service that
/// does not exist is refused by the same check every rendered folder passes.
#[test]
fn compose_validation_refuses_a_broken_compose_file() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "jaeger", &[]);
    let Some(before) = compose_config_check(tmp.path()) else {
        return;
    };
    assert_eq!(before, Ok(()));
    let path = tmp.path().join("docker-compose.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let broken = text.replacen(
        "services:\n",
        "services:\n  broken:\n    image: x:1\n    depends_on: [nowhere]\n",
        1,
    );
    assert_ne!(broken, text);
    std::fs::write(&path, broken).unwrap();
    let stderr = compose_config_check(tmp.path())
        .unwrap()
        .expect_err("docker-compose config -q accepted a dangling depends_on");
    assert!(stderr.contains("nowhere"), "{stderr}");
}

/// Renders a backend and asserts every property a generated stack must have.
pub fn check_stack(backend: &str, extra: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    let out = kneo()
        .args(["init", "--backend", backend, "--dir"])
        .arg(&dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("docker compose up -d"), "{stdout}");
    assert!(
        stdout.contains("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains("OTEL_EXPORTER_OTLP_PROTOCOL="), "{stdout}");

    let manifest: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap())
            .unwrap();
    for file in manifest["files"].as_sequence().unwrap() {
        let path = file["path"].as_str().unwrap();
        assert!(dir.join(path).is_file(), "{backend}: {path} missing");
    }
    for path in ["docker-compose.yml", "README.md", ".gitignore"] {
        assert!(dir.join(path).is_file(), "{backend}: {path} missing");
    }

    validate_with_real_tools(&dir);
    assert_images_pinned(&dir);
    assert_hardened(&dir);
    assert_listeners_bind_all_interfaces(&dir);
    assert_ports_consistent(&dir);
    assert_secrets_only_in_env(&dir);
    tmp
}

fn assert_images_pinned(dir: &Path) {
    for (name, service) in compose(dir)["services"].as_mapping().unwrap() {
        let image = service["image"].as_str().unwrap();
        let tag = image
            .rsplit('/')
            .next()
            .unwrap()
            .split_once(':')
            .map(|(_, t)| t);
        assert!(
            matches!(tag, Some(t) if !t.is_empty() && t != "latest"),
            "{name:?} image {image} is not pinned"
        );
    }
}

fn assert_hardened(dir: &Path) {
    let compose = compose(dir);
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let seq = |key: &str| -> Vec<String> {
            service[key]
                .as_sequence()
                .into_iter()
                .flatten()
                .map(|v| v.as_str().unwrap().to_string())
                .collect()
        };
        assert!(
            seq("security_opt").contains(&"no-new-privileges:true".to_string()),
            "{name:?}"
        );
        assert_eq!(seq("cap_drop"), vec!["ALL"], "{name:?}");
        assert!(
            service["read_only"].is_bool(),
            "{name:?} read_only not explicit"
        );
        let limits = &service["deploy"]["resources"]["limits"];
        assert!(
            limits["memory"].is_string() && limits["cpus"].is_string(),
            "{name:?} limits"
        );
    }
    // Every exception is explained where it is made.
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    let mut in_cap_add = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("read_only: false") {
            assert!(line.contains('#'), "unexplained: {line}");
        }
        if trimmed.starts_with("cap_add:") {
            in_cap_add = true;
            continue;
        }
        if in_cap_add && trimmed.starts_with("- ") {
            assert!(
                line.contains('#'),
                "capability added without a reason: {line}"
            );
        } else {
            in_cap_add = false;
        }
    }
}

/// OTLP receivers and health endpoints in every config must name 0.0.0.0.
fn assert_listeners_bind_all_interfaces(dir: &Path) {
    for (path, content) in read_tree(dir) {
        if !(path.ends_with(".yaml") || path.ends_with(".yml")) || path == "docker-compose.yml" {
            continue;
        }
        let doc: Value = serde_yaml::from_str(&content).unwrap();
        let mut stack = vec![(String::new(), &doc)];
        while let Some((key, node)) = stack.pop() {
            if let Value::Mapping(map) = node {
                for (k, v) in map {
                    let k = k.as_str().unwrap_or_default().to_string();
                    if key == "protocols" && (k == "grpc" || k == "http") {
                        let endpoint = v["endpoint"].as_str().unwrap_or("");
                        assert!(
                            endpoint.starts_with("0.0.0.0:"),
                            "{path}: {k} binds {endpoint:?}"
                        );
                    }
                    if k == "endpoint" && key.contains("health") {
                        assert!(v.as_str().unwrap().starts_with("0.0.0.0:"), "{path}: {key}");
                    }
                    stack.push((k, v));
                }
            } else if let Value::Sequence(items) = node {
                stack.extend(items.iter().map(|i| (key.clone(), i)));
            }
        }
    }
}

/// Ports: loopback only, each host port once, and every published container port is one a
/// config file listens on (or the image's documented default).
fn assert_ports_consistent(dir: &Path) {
    let ports = published_ports(&compose(dir));
    let mut seen = BTreeSet::new();
    let configs: String = read_tree(dir)
        .into_iter()
        .filter(|(p, _)| p != "docker-compose.yml" && p != "README.md" && !p.ends_with(".md"))
        .map(|(_, c)| c)
        .collect();
    // Image defaults no generated file sets: Grafana's UI, SigNoz's UI/API.
    let image_defaults = [("grafana", 3000), ("signoz", 8080)];
    for (service, ip, host, container) in ports {
        assert_eq!(ip, "127.0.0.1", "{service} publishes {host} on {ip}");
        assert!(seen.insert(host), "host port {host} published twice");
        assert!(
            configs.contains(&format!(":{container}"))
                || configs.contains(&format!(": {container}\n"))
                || image_defaults.contains(&(service.as_str(), container)),
            "{service}: container port {container} is published but no config listens on it"
        );
    }
}

/// Secrets live only in the git-ignored, owner-only .env.
fn assert_secrets_only_in_env(dir: &Path) {
    let env = dir.join(".env");
    if !env.exists() {
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&env).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, ".env must be owner-only");
    }
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == ".env"));
    let tree = read_tree(dir);
    for line in tree[".env"]
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains('='))
    {
        let secret = line.split_once('=').unwrap().1;
        assert!(secret.len() >= 24, "weak secret in .env");
        for (path, content) in &tree {
            assert!(
                path == ".env" || !content.contains(secret),
                "secret leaked into {path}"
            );
        }
    }
}

#[test]
fn collector_stack() {
    let tmp = check_stack("collector", &[]);
    let dir = tmp.path().join("observability");
    let config = std::fs::read_to_string(dir.join("otel-config.yaml")).unwrap();
    let doc: Value = serde_yaml::from_str(&config).unwrap();
    let pipeline = &doc["service"]["pipelines"]["traces"];
    assert_eq!(pipeline["processors"][0], "memory_limiter");
    assert_eq!(pipeline["exporters"][0], "debug");
    assert_snapshot("collector", snapshot_text(&read_tree(&dir)));
}

#[test]
fn jaeger_stack() {
    let tmp = check_stack("jaeger", &[]);
    let dir = tmp.path().join("observability");
    let compose = compose(&dir);
    let image = compose["services"]["jaeger"]["image"].as_str().unwrap();
    assert!(image.starts_with("jaegertracing/jaeger:2."), "{image}");
    let text = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    assert!(
        !text.contains("COLLECTOR_OTLP_ENABLED"),
        "v1 variable in a v2 stack"
    );
    assert_snapshot("jaeger", snapshot_text(&read_tree(&dir)));
}

#[test]
fn tempo_stack() {
    let tmp = check_stack("tempo", &[]);
    let dir = tmp.path().join("observability");
    let tempo: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join("tempo.yaml")).unwrap()).unwrap();
    for gone in [
        "ingester",
        "compactor",
        "ingester_client",
        "metrics_generator_client",
    ] {
        assert!(tempo.get(gone).is_none(), "Tempo 3 rejects `{gone}:`");
    }
    assert_eq!(tempo["distributor"]["max_attribute_bytes"], 0);
    let compose = compose(&dir);
    let volumes: Vec<&str> = compose["services"]["tempo"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        volumes.contains(&"tempo-data:/var/tempo"),
        "Tempo data on a named volume"
    );
    let datasource: Value = serde_yaml::from_str(
        &std::fs::read_to_string(dir.join("grafana/provisioning/datasources/tempo.yaml")).unwrap(),
    )
    .unwrap();
    assert_eq!(datasource["datasources"][0]["uid"], "tempo");
    assert_eq!(datasource["datasources"][0]["url"], "http://tempo:3200");
    let grafana_env = &compose["services"]["grafana"]["environment"];
    assert_eq!(grafana_env["GF_AUTH_ANONYMOUS_ENABLED"], "false");
    assert_tempo_is_checked_and_awaited(&compose);
    assert_tempo_keeps_the_largest_trace(&tempo);
    assert_snapshot("tempo", snapshot_text(&read_tree(&dir)));
}

/// The catalog's OTLP size limits (MiB), as every stack is rendered with them.
pub fn otlp_limit(key: &str) -> u64 {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml");
    let catalog: Value = serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    catalog["otlp_limits"][key].as_u64().unwrap()
}

/// Tempo probes itself with `/tempo -health` (its image has no shell) and Grafana starts
/// only once that passes.
pub fn assert_tempo_is_checked_and_awaited(compose: &Value) {
    let test: Vec<&str> = compose["services"]["tempo"]["healthcheck"]["test"]
        .as_sequence()
        .expect("tempo has a healthcheck")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(&test[..3], ["CMD", "/tempo", "-health"]);
    assert_eq!(test[3], "-health.url=http://127.0.0.1:3200/ready");
    assert_eq!(
        compose["services"]["grafana"]["depends_on"]["tempo"]["condition"],
        "service_healthy"
    );
}

/// A trace as large as the catalog's `trace_mib` is kept (`max_bytes_per_trace`, Tempo 3's
/// nested overrides) and comes back by id through Tempo's internal gRPC hops; the largest
/// request a receiver accepts fits the ingestion burst.
fn assert_tempo_keeps_the_largest_trace(tempo: &Value) {
    let trace = otlp_limit("trace_mib") << 20;
    let defaults = &tempo["overrides"]["defaults"];
    let kept = defaults["global"]["max_bytes_per_trace"].as_u64().unwrap();
    assert!(kept >= trace, "max_bytes_per_trace {kept} < {trace}");
    for limit in [
        &tempo["server"]["grpc_server_max_recv_msg_size"],
        &tempo["server"]["grpc_server_max_send_msg_size"],
        &tempo["querier"]["frontend_worker"]["grpc_client_config"]["max_send_msg_size"],
    ] {
        let limit = limit.as_u64().unwrap();
        assert!(limit > kept, "a {kept}-byte trace does not fit {limit}");
    }
    let request = otlp_limit("internal_mib") << 20;
    let burst = defaults["ingestion"]["burst_size_bytes"].as_u64().unwrap();
    assert!(
        burst >= request,
        "burst {burst} refuses a {request}-byte request"
    );
}

#[test]
fn signoz_stack() {
    let tmp = check_stack("signoz", &[]);
    let dir = tmp.path().join("observability");
    let compose = compose(&dir);
    let ports = published_ports(&compose);
    assert!(
        ports.iter().any(|(_, _, host, _)| *host == 8080),
        "SigNoz UI on 8080"
    );
    assert_signoz_users_own_their_data(&compose);
    assert_snapshot("signoz", snapshot_text(&read_tree(&dir)));
}

/// Keeper runs as the owner of the data the image seeded (uid 101), not as root; so does the
/// user-scripts step (no capabilities), which extracts without restoring archive owners.
pub fn assert_signoz_users_own_their_data(compose: &Value) {
    let owners = &compose["x-volume-owners"];
    assert_eq!(owners["keeper-data"], "101:101");
    assert_eq!(compose["services"]["keeper"]["user"], owners["keeper-data"]);
    let scripts = &compose["services"]["clickhouse-user-scripts"];
    assert_eq!(scripts["user"], owners["clickhouse-user-scripts"]);
    assert!(
        scripts["command"][0]
            .as_str()
            .unwrap()
            .contains("tar --no-same-owner -xzf"),
        "tar must not try to restore the archive's owners (no CAP_CHOWN)"
    );
    // ClickHouse keeps its image's entrypoint, which chowns and drops to 101 itself.
    let clickhouse = &compose["services"]["clickhouse"];
    assert!(clickhouse["entrypoint"].is_null() && clickhouse["user"].is_null());
    let caps: Vec<&str> = clickhouse["cap_add"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for cap in ["CHOWN", "SETUID", "SETGID"] {
        assert!(caps.contains(&cap), "clickhouse lacks {cap}");
    }
}

#[test]
fn renders_are_deterministic() {
    for backend in BACKENDS {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        init(a.path(), backend, &[]);
        init(b.path(), backend, &[]);
        let (mut ta, mut tb) = (read_tree(a.path()), read_tree(b.path()));
        // Only the seed secrets differ; they are excluded from the manifest comparison by kind.
        let env_a = ta.remove(".env");
        let env_b = tb.remove(".env");
        assert_eq!(env_a.is_some(), env_b.is_some());
        if env_a.is_some() {
            assert_ne!(
                env_a, env_b,
                "{backend}: every init must generate fresh secrets"
            );
        }
        // The project name follows each temp folder's name; snapshot_text masks it.
        assert_eq!(
            snapshot_text(&ta),
            snapshot_text(&tb),
            "{backend}: two renders differ"
        );
    }
}
