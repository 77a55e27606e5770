//! Compose-file rules: the services of `docker-compose.yml`, one by one and against each other.
//!
//! - `compose-services`: the file has services.
//! - `pinned-image`: every image pins a version (or a digest).
//! - `host-port-once`, `loopback-ports`: each host port published once, on 127.0.0.1 unless
//!   `--expose`.
//! - `mounts-rendered`: every bind-mounted file is one the render produces.
//! - `hardening`: no-new-privileges, `cap_drop: [ALL]`, explicit `read_only`, memory and CPU limits.
//! - `depends-on-healthy`: waiting for a service with a healthcheck waits until it passes.
//! - `volume-owner` (in `volumes.rs`): who writes each named volume.

use std::collections::{BTreeMap, BTreeSet};

use serde_yaml::Value;

use super::volumes::lint_volume_owner;
use super::{COMPOSE_FILE, Violation, violation};

/// (host ip, host port, container port) of every `ports:` entry, short or long syntax.
pub(super) fn published_ports(service: &Value) -> Vec<(String, u64, u64)> {
    let Some(Value::Sequence(ports)) = service.get("ports") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in ports {
        let parsed = match entry {
            Value::String(spec) => {
                let spec = spec.split('/').next().unwrap_or(spec);
                match spec.split(':').collect::<Vec<_>>().as_slice() {
                    [ip, host, target] => Some((ip.to_string(), *host, *target)),
                    [host, target] => Some(("0.0.0.0".to_string(), *host, *target)),
                    _ => None,
                }
                .and_then(|(ip, h, t)| Some((ip, h.parse().ok()?, t.parse().ok()?)))
            }
            Value::Mapping(_) => {
                let number = |v: Option<&Value>| {
                    v.and_then(|p| {
                        p.as_u64()
                            .or_else(|| p.as_str().and_then(|s| s.parse().ok()))
                    })
                };
                let ip = entry
                    .get("host_ip")
                    .and_then(Value::as_str)
                    .unwrap_or("0.0.0.0");
                number(entry.get("published"))
                    .zip(number(entry.get("target")))
                    .map(|(h, t)| (ip.to_string(), h, t))
            }
            _ => None,
        };
        out.extend(parsed);
    }
    out
}

pub(super) fn lint_compose(
    doc: &Value,
    files: &BTreeMap<&str, &str>,
    expose: bool,
    out: &mut Vec<Violation>,
) {
    let Some(Value::Mapping(services)) = doc.get("services") else {
        out.push(violation(
            COMPOSE_FILE,
            "compose-services",
            "has no services".into(),
        ));
        return;
    };
    let mut published: BTreeMap<u64, String> = BTreeMap::new();
    for (name, service) in services {
        let name = name.as_str().unwrap_or_default();
        lint_image(name, service, out);
        for (ip, port, _) in published_ports(service) {
            if let Some(first) = published.insert(port, name.to_string()) {
                out.push(violation(
                    COMPOSE_FILE,
                    "host-port-once",
                    format!("host port {port} is published by both {first} and {name}"),
                ));
            }
            if !expose && ip != "127.0.0.1" {
                out.push(violation(
                    COMPOSE_FILE,
                    "loopback-ports",
                    format!("service {name} publishes {port} on {ip}; publish on 127.0.0.1 (or pass --expose)"),
                ));
            }
        }
        for source in mounted_files(service) {
            let relative = source.trim_start_matches("./");
            if source.starts_with('/') || source.starts_with("..") || !files.contains_key(relative)
            {
                out.push(violation(
                    COMPOSE_FILE,
                    "mounts-rendered",
                    format!("service {name} mounts {source}, which this render does not produce"),
                ));
            }
        }
        lint_hardening(name, service, out);
        lint_volume_owner(name, service, doc, out);
        lint_depends_on_healthy(name, service, services, out);
    }
}

/// `depends-on-healthy`: a service that waits for one with a healthcheck waits until it passes
/// (`condition: service_healthy`); the list form only waits until the container started.
fn lint_depends_on_healthy(
    name: &str,
    service: &Value,
    services: &serde_yaml::Mapping,
    out: &mut Vec<Violation>,
) {
    let conditions: Vec<(String, Option<String>)> = match service.get("depends_on") {
        Some(Value::Sequence(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|dep| (dep.to_string(), None))
            .collect(),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(dep, spec)| {
                let condition = spec.get("condition").and_then(Value::as_str);
                (
                    dep.as_str().unwrap_or_default().to_string(),
                    condition.map(str::to_string),
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    for (dep, condition) in conditions {
        let checked = services
            .get(dep.as_str())
            .and_then(|d| d.get("healthcheck"))
            .is_some_and(|h| h.get("disable").and_then(Value::as_bool) != Some(true));
        if checked && condition.as_deref() != Some("service_healthy") {
            out.push(violation(
                COMPOSE_FILE,
                "depends-on-healthy",
                format!("service {name} waits for {dep} only until it started although {dep} has a healthcheck; use depends_on: {{{dep}: {{condition: service_healthy}}}}"),
            ));
        }
    }
}

/// `pinned-image`: an explicit version tag (or digest), never `latest`, `nightly`, ...
fn lint_image(name: &str, service: &Value, out: &mut Vec<Violation>) {
    let Some(image) = service.get("image").and_then(Value::as_str) else {
        out.push(violation(
            COMPOSE_FILE,
            "pinned-image",
            format!("service {name} has no image"),
        ));
        return;
    };
    if !is_pinned(image) {
        out.push(violation(
            COMPOSE_FILE,
            "pinned-image",
            format!("service {name} uses {image}; pin an explicit version tag"),
        ));
    }
}

/// An image reference with a digest, or with a tag that pins a version (the rule of `--set
/// images.<x>`: [`crate::catalog::pins_a_version`]).
pub(crate) fn is_pinned(image: &str) -> bool {
    let last = image.rsplit('/').next().unwrap_or(image);
    image.contains("@sha256:")
        || matches!(last.split_once(':'), Some((_, tag)) if crate::catalog::pins_a_version(tag))
}

/// Host paths a service bind-mounts or reads as an env file.
pub(super) fn mounted_files(service: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::Sequence(volumes)) = service.get("volumes") {
        for volume in volumes {
            let source = match volume {
                Value::String(spec) => spec.split(':').next().map(str::to_string),
                Value::Mapping(_) if volume.get("type").and_then(Value::as_str) == Some("bind") => {
                    volume
                        .get("source")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }
                _ => None,
            };
            if let Some(source) = source
                && (source.starts_with('.') || source.starts_with('/'))
            {
                out.push(source);
            }
        }
    }
    match service.get("env_file") {
        Some(Value::String(file)) => out.push(file.clone()),
        Some(Value::Sequence(entries)) => {
            for entry in entries {
                let path = entry
                    .as_str()
                    .or_else(|| entry.get("path").and_then(Value::as_str));
                out.extend(path.map(str::to_string));
            }
        }
        _ => {}
    }
    out
}

/// `hardening`: no-new-privileges, all capabilities dropped, an explicit `read_only`, and
/// memory and CPU limits on every service.
fn lint_hardening(name: &str, service: &Value, out: &mut Vec<Violation>) {
    let strings = |key: &str| -> BTreeSet<String> {
        match service.get(key) {
            Some(Value::Sequence(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            _ => BTreeSet::new(),
        }
    };
    let mut missing = Vec::new();
    if !strings("security_opt").contains("no-new-privileges:true") {
        missing.push("security_opt: [no-new-privileges:true]");
    }
    if !strings("cap_drop").contains("ALL") {
        missing.push("cap_drop: [ALL]");
    }
    if !matches!(service.get("read_only"), Some(Value::Bool(_))) {
        missing.push("read_only: true|false");
    }
    let limits = service
        .get("deploy")
        .and_then(|d| d.get("resources"))
        .and_then(|r| r.get("limits"));
    if limits.and_then(|l| l.get("memory")).is_none() {
        missing.push("deploy.resources.limits.memory");
    }
    if limits.and_then(|l| l.get("cpus")).is_none() {
        missing.push("deploy.resources.limits.cpus");
    }
    if !missing.is_empty() {
        out.push(violation(
            COMPOSE_FILE,
            "hardening",
            format!("service {name} lacks {}", missing.join(", ")),
        ));
    }
}
