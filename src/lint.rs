//! The lint step of the pipeline: invariants every rendered deployment must hold.
//!
//! It runs on every render, so a template (or an option) that would produce a deployment that
//! silently drops spans, floats on `latest` or exposes ports is refused before anything is
//! written. Each rule has a name that appears in the error.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Result, bail};
use serde_yaml::Value;

use crate::catalog::Target;
use crate::render::Render;

mod kubernetes;

/// The compose file every backend renders.
pub use crate::catalog::COMPOSE_FILE;

/// The answers some rules depend on.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--expose`: host ports may be published on all interfaces (OTLP ones only with TLS
    /// and a token on their receiver).
    pub expose: bool,
    /// `--expose-ui`: the plain-HTTP UIs and APIs may be published on all interfaces too.
    pub expose_ui: bool,
    /// `--redact`: no exporter may print attribute values in full.
    pub redact: bool,
    /// What the manifests are for: the compose file or a kustomization.
    pub target: Target,
}

/// One broken invariant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub file: String,
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: [{}] {}", self.file, self.rule, self.message)
    }
}

/// The answers of a render that its rules depend on.
fn policy(render: &Render) -> Policy {
    Policy {
        expose: render.context.expose,
        expose_ui: render.context.expose_ui,
        redact: render.context.redact,
        target: render.context.target,
    }
}

/// Every violation of a render, with `files` (path → content) standing for its files.
fn violations(render: &Render, files: &BTreeMap<&str, &str>) -> Vec<Violation> {
    let policy = policy(render);
    let mut violations = lint_files(files, &policy);
    if policy.target == Target::Kubernetes {
        let expected = kubernetes::Expected {
            health: &render.context.health,
            ports: &render.context.ports,
        };
        kubernetes::lint(files, &expected, &mut violations);
    }
    violations
}

/// Refuses a render that breaks any rule, listing every violation.
pub fn check(render: &Render) -> Result<()> {
    let files: BTreeMap<&str, &str> = render
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_str()))
        .collect();
    let violations = violations(render, &files);
    if violations.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = violations.iter().map(|v| format!("  {v}")).collect();
    bail!(
        "the rendered deployment breaks {} lint rule(s); nothing was written:\n{}",
        violations.len(),
        lines.join("\n")
    )
}

/// The rules a file handed to the user with `eject` must still pass: it may change anything
/// but what the stack opens to the network.
pub const EXPOSURE_RULES: &[&str] = &[
    "loopback-ports",
    "exposed-otlp-secured",
    "exposed-ui-opt-in",
    "k8s-clusterip",
    "k8s-default-deny",
];

/// The exposure rules ([`EXPOSURE_RULES`]) the ejected files break, with `ejected` (path →
/// content on disk) standing in for the render's own.
pub fn ejected_exposure(render: &Render, ejected: &BTreeMap<String, String>) -> Vec<Violation> {
    let mut files: BTreeMap<&str, &str> = render
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.content.as_str()))
        .collect();
    for (path, content) in ejected {
        files.insert(path, content);
    }
    violations(render, &files)
        .into_iter()
        .filter(|v| EXPOSURE_RULES.contains(&v.rule))
        .collect()
}

/// Every violation in a set of rendered files (path → content).
pub fn lint_files(files: &BTreeMap<&str, &str>, policy: &Policy) -> Vec<Violation> {
    let mut out = Vec::new();
    // Parsed config files (not the compose file), for the rules that compare files.
    let mut configs: Vec<(&str, Value)> = Vec::new();
    let mut fixed_limits = Value::Null;
    let mut compose = None;
    // Kubernetes manifests have their own rules (kubernetes.rs).
    let manifests = match policy.target {
        Target::Compose => Vec::new(),
        Target::Kubernetes => kubernetes::resources(files).unwrap_or_default(),
    };
    for (path, content) in files {
        if !(path.ends_with(".yaml") || path.ends_with(".yml")) {
            continue;
        }
        if *path == kubernetes::KUSTOMIZATION || manifests.iter().any(|m| m == path) {
            continue;
        }
        let doc: Value = match serde_yaml::from_str(content) {
            Ok(doc) => doc,
            Err(e) => {
                out.push(violation(
                    path,
                    "yaml-parses",
                    format!("does not parse: {e}"),
                ));
                continue;
            }
        };
        if *path == COMPOSE_FILE {
            lint_compose(&doc, files, policy.expose, &mut out);
            fixed_limits = doc.get(OTLP_RECEIVE_LIMITS).cloned().unwrap_or_default();
            compose = Some(doc);
        } else {
            lint_listeners(path, &doc, &mut out);
            lint_redaction_fails_closed(path, &doc, &mut out);
            if policy.redact {
                lint_redacted_output(path, &doc, &mut out);
            }
            configs.push((path, doc));
        }
    }
    if let Some(compose) = compose.filter(|_| policy.expose) {
        lint_exposure(&compose, &configs, policy, &mut out);
    }
    lint_hop_sizes(&configs, &fixed_limits, &mut out);
    if policy.target == Target::Compose && !files.contains_key(COMPOSE_FILE) {
        out.push(violation(
            COMPOSE_FILE,
            "compose-present",
            "is not rendered".into(),
        ));
    }
    out
}

fn violation(file: &str, rule: &'static str, message: String) -> Violation {
    Violation {
        file: file.to_string(),
        rule,
        message,
    }
}

/// `redact-no-detailed-debug`: with `--redact`, no `debug` exporter may print every attribute
/// value (`verbosity: detailed`) to the container log.
fn lint_redacted_output(path: &str, doc: &Value, out: &mut Vec<Violation>) {
    let Some(exporters) = doc.get("exporters").and_then(Value::as_mapping) else {
        return;
    };
    for (name, config) in exporters {
        let name = name.as_str().unwrap_or_default();
        let is_debug = name == "debug" || name.starts_with("debug/");
        let verbosity = config.get("verbosity").and_then(Value::as_str);
        if is_debug && verbosity == Some("detailed") {
            out.push(violation(
                path,
                "redact-no-detailed-debug",
                format!("exporter {name} prints full attribute values although --redact is on; use verbosity: normal"),
            ));
        }
    }
}

/// `redaction-fails-closed`: a redaction step whose statement errors must refuse the data
/// (`error_mode: propagate`); `ignore` would forward the content it failed to delete.
fn lint_redaction_fails_closed(path: &str, doc: &Value, out: &mut Vec<Violation>) {
    let Some(processors) = doc.get("processors").and_then(Value::as_mapping) else {
        return;
    };
    for (name, config) in processors {
        let name = name.as_str().unwrap_or_default();
        if !name.starts_with("transform/redact") {
            continue;
        }
        let mode = config
            .get("error_mode")
            .and_then(Value::as_str)
            .unwrap_or("ignore");
        if mode != "propagate" {
            out.push(violation(
                path,
                "redaction-fails-closed",
                format!("processor {name} has error_mode {mode}, which forwards unredacted data when a statement fails; use propagate"),
            ));
        }
    }
}

/// gRPC's default receive limit when a receiver names none.
const GRPC_DEFAULT_RECV: u64 = 4 << 20;
/// Room for protobuf framing around a batch of `max_size` bytes.
const FRAMING: u64 = 1 << 20;

/// An OTLP receiver's limits in bytes: (gRPC message, HTTP body).
fn otlp_receive_limits(doc: &Value) -> Vec<(String, u64, Option<u64>)> {
    let mut found = Vec::new();
    walk(doc, &mut Vec::new(), &mut |trail, value| {
        if trail.last().map(String::as_str) != Some("protocols") {
            return;
        }
        let grpc = value.get("grpc").map(|grpc| {
            grpc.get("max_recv_msg_size_mib")
                .and_then(Value::as_u64)
                .map_or(GRPC_DEFAULT_RECV, |mib| mib << 20)
        });
        let http = value
            .get("http")
            .and_then(|http| http.get("max_request_body_size"))
            .and_then(Value::as_u64);
        if let Some(grpc) = grpc {
            found.push((trail.join("."), grpc, http));
        }
    });
    found
}

/// The compose extension field recording OTLP receive limits a service's program fixes
/// (`service: {grpc_mib: N, http_mib: M}`; a protocol left out has no limit).
pub const OTLP_RECEIVE_LIMITS: &str = "x-otlp-receive-limits";

/// The receive limit (bytes) `fixed` records for the service an exporter sends to, in the
/// exporter's protocol.
fn fixed_limit(fixed: &Value, exporter: &str, config: &Value) -> Option<(String, u64)> {
    let kind = exporter.split('/').next().unwrap_or(exporter);
    let protocol = match kind {
        "otlp_http" | "otlphttp" => "http_mib",
        "otlp_grpc" | "otlp" => "grpc_mib",
        _ => return None,
    };
    let endpoint = config.get("endpoint").and_then(Value::as_str)?;
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .split([':', '/'])
        .next()?;
    let mib = fixed.get(host)?.get(protocol)?.as_u64()?;
    Some((host.to_string(), mib << 20))
}

/// `hop-message-sizes`: a request is either carried whole or refused to the app. Where a
/// collector batches for the next hop (`sending_queue.batch`), the batch is cut by bytes, every
/// request it accepts fits one batch, and every other OTLP receiver of the stack takes a full
/// batch plus framing (the gRPC exporter does not retry RESOURCE_EXHAUSTED), including a
/// receiver whose program fixes its limit (`x-otlp-receive-limits` in the compose file).
fn lint_hop_sizes(configs: &[(&str, Value)], fixed: &Value, out: &mut Vec<Violation>) {
    for (path, doc) in configs {
        let Some(exporters) = doc.get("exporters").and_then(Value::as_mapping) else {
            continue;
        };
        for (name, exporter) in exporters {
            let name = name.as_str().unwrap_or_default();
            let Some(batch) = exporter.get("sending_queue").and_then(|q| q.get("batch")) else {
                continue;
            };
            let sizer = batch
                .get("sizer")
                .and_then(Value::as_str)
                .unwrap_or("items");
            let max = batch.get("max_size").and_then(Value::as_u64).unwrap_or(0);
            if sizer != "bytes" || max == 0 {
                out.push(violation(
                    path,
                    "hop-message-sizes",
                    format!("exporter {name} batches without a byte cap (sizer: bytes, max_size); a batch of large spans can pass the next hop's limit and is dropped"),
                ));
                continue;
            }
            for (at, grpc, http) in otlp_receive_limits(doc) {
                let largest = grpc.max(http.unwrap_or(20 << 20));
                if largest > max {
                    out.push(violation(
                        path,
                        "hop-message-sizes",
                        format!("{at} accepts requests of {largest} bytes, more than exporter {name}'s batches of {max}: a larger span would be dropped"),
                    ));
                }
            }
            if let Some((service, limit)) = fixed_limit(fixed, name, exporter)
                && limit < max + FRAMING
            {
                out.push(violation(
                    path,
                    "hop-message-sizes",
                    format!("exporter {name} sends batches of {max} bytes to {service}, whose program takes {limit} bytes in that protocol ({OTLP_RECEIVE_LIMITS}); forward in a protocol it takes a full batch in"),
                ));
            }
            for (other, other_doc) in configs.iter().filter(|(p, _)| p != path) {
                for (at, grpc, _) in otlp_receive_limits(other_doc) {
                    if grpc < max + FRAMING {
                        out.push(violation(
                            other,
                            "hop-message-sizes",
                            format!("{at} takes gRPC messages up to {grpc} bytes, less than a full batch of {max} bytes from {path} plus framing; raise max_recv_msg_size_mib"),
                        ));
                    }
                }
            }
        }
    }
}

/// `bind-all-interfaces`: OTLP receivers and health endpoints inside containers must listen on
/// 0.0.0.0; an empty `grpc:`/`http:` block binds localhost and drops every span.
fn lint_listeners(path: &str, doc: &Value, out: &mut Vec<Violation>) {
    walk(doc, &mut Vec::new(), &mut |trail, value| {
        if trail.last().map(String::as_str) == Some("protocols")
            && let Value::Mapping(protocols) = value
        {
            for (name, block) in protocols {
                let name = name.as_str().unwrap_or_default();
                if name != "grpc" && name != "http" {
                    continue;
                }
                let at = format!("{}.{name}", trail.join("."));
                match block.get("endpoint").and_then(Value::as_str) {
                    Some(endpoint) if binds_all(endpoint) => {}
                    Some(endpoint) => out.push(violation(
                        path,
                        "bind-all-interfaces",
                        format!("{at}.endpoint is {endpoint}; use 0.0.0.0:<port> inside a container"),
                    )),
                    None => out.push(violation(
                        path,
                        "bind-all-interfaces",
                        format!("{at} has no endpoint, so it binds localhost; set endpoint: 0.0.0.0:<port>"),
                    )),
                }
            }
        }
    });
    if let Some(Value::Mapping(extensions)) = doc.get("extensions") {
        for (name, config) in extensions {
            let name = name.as_str().unwrap_or_default();
            if !name.contains("health") {
                continue;
            }
            let mut endpoints = Vec::new();
            walk(config, &mut Vec::new(), &mut |trail, value| {
                if trail.last().map(String::as_str) == Some("endpoint")
                    && let Some(endpoint) = value.as_str()
                {
                    endpoints.push(endpoint.to_string());
                }
            });
            if endpoints.is_empty() {
                out.push(violation(
                    path,
                    "bind-all-interfaces",
                    format!("extensions.{name} has no endpoint, so it binds localhost"),
                ));
            }
            for endpoint in endpoints.iter().filter(|e| !binds_all(e)) {
                out.push(violation(
                    path,
                    "bind-all-interfaces",
                    format!("extensions.{name} endpoint is {endpoint}; use 0.0.0.0:<port>"),
                ));
            }
        }
    }
}

fn binds_all(endpoint: &str) -> bool {
    endpoint.starts_with("0.0.0.0:") || endpoint.starts_with("[::]:")
}

/// Visits every node with the trail of mapping keys that leads to it.
fn walk(value: &Value, trail: &mut Vec<String>, visit: &mut impl FnMut(&[String], &Value)) {
    visit(trail, value);
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                trail.push(key.as_str().unwrap_or_default().to_string());
                walk(child, trail, visit);
                trail.pop();
            }
        }
        Value::Sequence(items) => items.iter().for_each(|item| walk(item, trail, visit)),
        _ => {}
    }
}

/// `exposed-otlp-secured`: an OTLP receiver published beyond loopback takes TLS (certificate
/// and key) and checks a token (an `auth` authenticator that is a configured, enabled
/// extension). `exposed-ui-opt-in`: any other port (a UI or API over plain HTTP, where even a
/// login would cross the network in clear) is published beyond loopback only with `--expose-ui`.
fn lint_exposure(
    doc: &Value,
    configs: &[(&str, Value)],
    policy: &Policy,
    out: &mut Vec<Violation>,
) {
    let Some(Value::Mapping(services)) = doc.get("services") else {
        return;
    };
    for (name, service) in services {
        let name = name.as_str().unwrap_or_default();
        // The service's mounted configs that have receivers, as lint_files parsed them.
        let mounted = mounted_files(service);
        let configs: Vec<&(&str, Value)> = configs
            .iter()
            .filter(|(path, doc)| {
                doc.get("receivers").is_some()
                    && mounted.iter().any(|m| m.trim_start_matches("./") == *path)
            })
            .collect();
        for (ip, host, container) in published_ports(service) {
            if ip == "127.0.0.1" || ip == "::1" || ip == "localhost" {
                continue;
            }
            let receiver = configs.iter().find_map(|(path, doc)| {
                otlp_block(doc, container).map(|(at, block)| (path, doc, at, block))
            });
            match receiver {
                Some((path, doc, at, block)) => {
                    if let Some(missing) = unsecured(doc, block) {
                        out.push(violation(
                            path,
                            "exposed-otlp-secured",
                            format!("{at} is published on {ip}:{host} by {name} but {missing}; an exposed OTLP port needs tls (cert and key) and auth (bearertokenauth)"),
                        ));
                    }
                }
                None if policy.expose_ui => {}
                None => out.push(violation(
                    COMPOSE_FILE,
                    "exposed-ui-opt-in",
                    format!("service {name} publishes {host} (container port {container}) on {ip} over plain HTTP, without TLS (passwords and traces would cross the network in clear); publish it on 127.0.0.1, or pass --expose-ui and put it behind a TLS proxy"),
                )),
            }
        }
    }
}

/// The `protocols.grpc|http` block of an OTLP receiver listening on `port`, with its path.
fn otlp_block(doc: &Value, port: u64) -> Option<(String, &Value)> {
    let Value::Mapping(receivers) = doc.get("receivers")? else {
        return None;
    };
    for (receiver, config) in receivers {
        let Some(Value::Mapping(protocols)) = config.get("protocols") else {
            continue;
        };
        for (protocol, block) in protocols {
            let endpoint = block
                .get("endpoint")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let listens = endpoint
                .rsplit_once(':')
                .and_then(|(_, p)| p.parse::<u64>().ok())
                == Some(port);
            if listens {
                let at = format!(
                    "receivers.{}.protocols.{}",
                    receiver.as_str().unwrap_or_default(),
                    protocol.as_str().unwrap_or_default()
                );
                return Some((at, block));
            }
        }
    }
    None
}

/// What an OTLP protocol block lacks to be exposed, if anything.
fn unsecured(doc: &Value, block: &Value) -> Option<String> {
    let tls = block.get("tls");
    let has = |keys: [&str; 2]| {
        keys.iter()
            .any(|k| tls.and_then(|t| t.get(*k)).is_some_and(|v| !v.is_null()))
    };
    if !has(["cert_pem", "cert_file"]) || !has(["key_pem", "key_file"]) {
        return Some("it has no tls certificate and key".into());
    }
    let Some(authenticator) = block
        .get("auth")
        .and_then(|a| a.get("authenticator"))
        .and_then(Value::as_str)
    else {
        return Some("it has no auth.authenticator".into());
    };
    let configured = doc
        .get("extensions")
        .and_then(|e| e.get(authenticator))
        .is_some();
    let enabled = doc
        .get("service")
        .and_then(|s| s.get("extensions"))
        .and_then(Value::as_sequence)
        .is_some_and(|list| list.iter().any(|e| e.as_str() == Some(authenticator)));
    if !configured || !enabled {
        return Some(format!(
            "its authenticator {authenticator} is not a configured extension listed in service.extensions"
        ));
    }
    None
}

/// (host ip, host port, container port) of every `ports:` entry, short or long syntax.
fn published_ports(service: &Value) -> Vec<(String, u64, u64)> {
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

fn lint_compose(doc: &Value, files: &BTreeMap<&str, &str>, expose: bool, out: &mut Vec<Violation>) {
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

/// The compose extension field that records who owns each named volume's data.
pub const VOLUME_OWNERS: &str = "x-volume-owners";

/// Named volumes a service mounts writable (short or long syntax), as (volume, container path).
fn writable_named_volumes(service: &Value) -> Vec<(String, String)> {
    let Some(Value::Sequence(volumes)) = service.get("volumes") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for volume in volumes {
        let field = |key: &str| volume.get(key).and_then(Value::as_str).unwrap_or_default();
        let (source, target, read_only) = match volume {
            Value::String(spec) => {
                let parts: Vec<&str> = spec.split(':').collect();
                let read_only = parts.len() > 2 && parts[2].split(',').any(|o| o == "ro");
                let target = parts.get(1).copied().unwrap_or_default();
                (parts[0].to_string(), target.to_string(), read_only)
            }
            Value::Mapping(_) if field("type") == "volume" => (
                field("source").to_string(),
                field("target").to_string(),
                volume.get("read_only").and_then(Value::as_bool) == Some(true),
            ),
            _ => continue,
        };
        let named = !source.is_empty() && !source.starts_with('.') && !source.starts_with('/');
        if named && !read_only {
            out.push((source, target));
        }
    }
    out
}

/// `volume-owner`: a service that picks its own user or replaces its image's entrypoint (and
/// with it whatever the entrypoint does to ownership) runs as the recorded owner of every named
/// volume it writes. ClickHouse Keeper run as root refuses data owned by uid 101 and exits.
fn lint_volume_owner(name: &str, service: &Value, doc: &Value, out: &mut Vec<Violation>) {
    let user = service.get("user").map(|user| match user {
        Value::Number(n) => n.to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    });
    if user.is_none() && service.get("entrypoint").is_none() {
        return;
    }
    let owners = doc.get(VOLUME_OWNERS);
    if capabilities_added(service).contains(&"CHOWN") {
        lint_volume_owner_job(name, service, owners, out);
        return;
    }
    for (volume, _) in writable_named_volumes(service) {
        let Some(owner) = owners
            .and_then(|o| o.get(volume.as_str()))
            .and_then(Value::as_str)
        else {
            out.push(violation(
                COMPOSE_FILE,
                "volume-owner",
                format!("service {name} sets its own user or entrypoint and writes volume {volume}, whose owner {VOLUME_OWNERS} does not record; record it in the catalog's volumes"),
            ));
            continue;
        };
        match &user {
            Some(user) if same_owner(user, owner) => {}
            Some(user) => out.push(violation(
                COMPOSE_FILE,
                "volume-owner",
                format!("service {name} runs as {user} but volume {volume} is owned by {owner}; set user: \"{owner}\""),
            )),
            None => out.push(violation(
                COMPOSE_FILE,
                "volume-owner",
                format!("service {name} replaces its image's entrypoint and writes volume {volume} (owned by {owner}) as the image's default user; set user: \"{owner}\""),
            )),
        }
    }
}

/// Capabilities a service adds back after `cap_drop: [ALL]`.
fn capabilities_added(service: &Value) -> Vec<&str> {
    match service.get("cap_add") {
        Some(Value::Sequence(caps)) => caps.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A service that keeps CAP_CHOWN exists to hand a new volume (created root-owned when its
/// image has no folder for it) to the user that writes it: it does exactly
/// `chown <owner> <path>` for the one named volume it mounts, with the recorded owner.
fn lint_volume_owner_job(
    name: &str,
    service: &Value,
    owners: Option<&Value>,
    out: &mut Vec<Violation>,
) {
    let command: Vec<&str> = match service.get("command") {
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let volumes = writable_named_volumes(service);
    let expected: Option<Vec<String>> = match volumes.as_slice() {
        [(volume, target)] => owners
            .and_then(|o| o.get(volume.as_str()))
            .and_then(Value::as_str)
            .map(|owner| vec!["chown".to_string(), owner.to_string(), target.clone()]),
        _ => None,
    };
    match expected {
        Some(expected) if command == expected => {}
        Some(expected) => out.push(violation(
            COMPOSE_FILE,
            "volume-owner",
            format!(
                "service {name} keeps CAP_CHOWN but its command is {command:?}; use [{}]",
                expected.join(", ")
            ),
        )),
        None => out.push(violation(
            COMPOSE_FILE,
            "volume-owner",
            format!("service {name} keeps CAP_CHOWN: it must mount exactly one named volume whose owner {VOLUME_OWNERS} records, and chown it to that owner"),
        )),
    }
}

/// `uid[:gid]` against the recorded `uid:gid`: the uid must match, and the gid when given.
fn same_owner(user: &str, owner: &str) -> bool {
    let (uid, gid) = user
        .split_once(':')
        .map_or((user, None), |(u, g)| (u, Some(g)));
    let (owner_uid, owner_gid) = owner.split_once(':').unwrap_or((owner, ""));
    uid == owner_uid && gid.is_none_or(|gid| gid == owner_gid)
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
fn mounted_files(service: &Value) -> Vec<String> {
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

/// The deployment `options` describe, rendered and linted: the pipeline's render and lint
/// steps, which every command that writes, compares or prints a stack goes through.
pub fn render_checked(
    catalog: &crate::catalog::Catalog,
    options: &crate::options::Options,
) -> Result<Render> {
    let render = crate::render::render(catalog, options)?;
    check(&render)?;
    Ok(render)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD_SERVICE: &str = r#"
    image: example/app:1.2.3
    read_only: true
    security_opt: ["no-new-privileges:true"]
    cap_drop: [ALL]
    deploy: {resources: {limits: {memory: 256M, cpus: "0.5"}}}
    ports: ["127.0.0.1:4318:4318"]
    volumes: ["./app.yaml:/etc/app.yaml:ro"]
"#;

    fn compose(service: &str) -> String {
        format!("services:\n  app:{service}")
    }

    fn rules(files: &[(&str, &str)], expose: bool) -> Vec<&'static str> {
        rules_with(
            files,
            Policy {
                expose,
                ..Policy::default()
            },
        )
    }

    fn rules_with(files: &[(&str, &str)], policy: Policy) -> Vec<&'static str> {
        let map: BTreeMap<&str, &str> = files.iter().copied().collect();
        lint_files(&map, &policy)
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    fn with_compose(service: &str) -> Vec<&'static str> {
        let compose = compose(service);
        rules(&[(COMPOSE_FILE, &compose), ("app.yaml", "a: 1\n")], false)
    }

    #[test]
    fn redaction_must_fail_closed() {
        let open = "processors:\n  transform/redact_genai:\n    error_mode: ignore\n";
        let closed = "processors:\n  transform/redact_genai:\n    error_mode: propagate\n";
        let unset = "processors:\n  transform/redact_genai: {}\n";
        assert_eq!(config_rules(open), vec!["redaction-fails-closed"]);
        assert_eq!(config_rules(unset), vec!["redaction-fails-closed"]);
        assert_eq!(config_rules(closed), Vec::<&str>::new());
    }

    const GATEWAY: &str = "receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: 0.0.0.0:4317, max_recv_msg_size_mib: 16}\n      http: {endpoint: 0.0.0.0:4318, max_request_body_size: 16777216}\nexporters:\n  otlp_grpc/b:\n    sending_queue:\n      batch: {sizer: bytes, max_size: 16777216}\n";

    fn hop_rules(gateway: &str, backend_mib: &str) -> Vec<&'static str> {
        let backend = format!(
            "receivers:\n  otlp:\n    protocols:\n      grpc: {{endpoint: 0.0.0.0:4317{backend_mib}}}\n"
        );
        let compose = compose(GOOD_SERVICE);
        rules(
            &[
                (COMPOSE_FILE, &compose),
                ("app.yaml", "a: 1\n"),
                ("gateway.yaml", gateway),
                ("backend.yaml", &backend),
            ],
            false,
        )
    }

    #[test]
    fn every_hop_takes_what_the_previous_one_sends() {
        assert_eq!(
            hop_rules(GATEWAY, ", max_recv_msg_size_mib: 20"),
            Vec::<&str>::new()
        );
        // The backend keeps gRPC's 4 MiB default: a full batch is refused for good.
        assert_eq!(hop_rules(GATEWAY, ""), vec!["hop-message-sizes"]);
        // Batches without a byte cap.
        let uncapped = GATEWAY.replace("{sizer: bytes, max_size: 16777216}", "{}");
        assert_eq!(
            hop_rules(&uncapped, ", max_recv_msg_size_mib: 20"),
            vec!["hop-message-sizes"]
        );
        // The gateway accepts requests larger than its batches: the span would be dropped.
        let lax = GATEWAY.replace("max_recv_msg_size_mib: 16", "max_recv_msg_size_mib: 32");
        assert_eq!(
            hop_rules(&lax, ", max_recv_msg_size_mib: 40"),
            vec!["hop-message-sizes"]
        );
    }

    #[test]
    fn a_receiver_with_a_fixed_limit_gets_batches_it_takes() {
        // Phoenix's gRPC server keeps gRPC's 4 MiB; its HTTP receiver has no limit.
        let compose = format!(
            "x-otlp-receive-limits:\n  phoenix: {{grpc_mib: 4}}\n{}",
            compose(GOOD_SERVICE)
        );
        let over = |kind: &str, endpoint: &str| {
            let gateway = GATEWAY.replace(
                "otlp_grpc/b:",
                &format!("{kind}/phoenix:\n    endpoint: {endpoint}"),
            );
            rules(
                &[
                    (COMPOSE_FILE, &compose),
                    ("app.yaml", "a: 1\n"),
                    ("gateway.yaml", &gateway),
                ],
                false,
            )
        };
        assert_eq!(over("otlp_grpc", "phoenix:4317"), vec!["hop-message-sizes"]);
        assert_eq!(over("otlp", "phoenix:4317"), vec!["hop-message-sizes"]);
        assert!(over("otlp_http", "http://phoenix:6006").is_empty());
        assert!(over("otlp_grpc", "jaeger:4317").is_empty());
    }

    #[test]
    fn good_compose_passes() {
        assert_eq!(with_compose(GOOD_SERVICE), Vec::<&str>::new());
    }

    #[test]
    fn yaml_must_parse() {
        let compose = compose(GOOD_SERVICE);
        let found = rules(&[(COMPOSE_FILE, &compose), ("app.yaml", "a: [1\n")], false);
        assert_eq!(found, vec!["yaml-parses"]);
    }

    #[test]
    fn latest_and_untagged_images_are_refused() {
        for image in [
            "example/app:latest",
            "example/app:nightly",
            "example/app",
            "localhost:5000/app",
        ] {
            let service = GOOD_SERVICE.replace("example/app:1.2.3", image);
            assert_eq!(with_compose(&service), vec!["pinned-image"], "{image}");
        }
        let digest = GOOD_SERVICE.replace(":1.2.3", "@sha256:abcd");
        assert!(with_compose(&digest).is_empty());
    }

    #[test]
    fn ports_must_be_loopback_unless_exposed() {
        let service = GOOD_SERVICE.replace("127.0.0.1:4318:4318", "4318:4318");
        assert_eq!(with_compose(&service), vec!["loopback-ports"]);
        let compose = compose(&service);
        let files = [(COMPOSE_FILE, compose.as_str()), ("app.yaml", "a: 1\n")];
        // Exposed, but 4318 is no OTLP receiver with TLS: only --expose-ui allows it.
        assert_eq!(rules(&files, true), vec!["exposed-ui-opt-in"]);
        let ui = Policy {
            expose: true,
            expose_ui: true,
            ..Policy::default()
        };
        assert!(rules_with(&files, ui).is_empty());
    }

    const SECURED: &str = r#"extensions:
  bearertokenauth/otlp: {scheme: Bearer, token: "${env:KNEO_OTLP_TOKEN}"}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 0.0.0.0:4318
        tls: {cert_pem: "${env:KNEO_TLS_CERT}", key_pem: "${env:KNEO_TLS_KEY}"}
        auth: {authenticator: bearertokenauth/otlp}
service:
  extensions: [bearertokenauth/otlp]
"#;

    #[test]
    fn an_exposed_otlp_port_needs_tls_and_a_token() {
        let service = GOOD_SERVICE.replace("127.0.0.1:4318:4318", "0.0.0.0:4318:4318");
        let compose = compose(&service);
        let exposed = |config: &str| {
            let files = [(COMPOSE_FILE, compose.as_str()), ("app.yaml", config)];
            rules(&files, true)
        };
        assert_eq!(exposed(SECURED), Vec::<&str>::new());
        let no_tls = SECURED.replace(
            r#"tls: {cert_pem: "${env:KNEO_TLS_CERT}", key_pem: "${env:KNEO_TLS_KEY}"}"#,
            "tls: {min_version: \"1.2\"}",
        );
        assert_eq!(exposed(&no_tls), vec!["exposed-otlp-secured"]);
        let no_auth = SECURED.replace("        auth: {authenticator: bearertokenauth/otlp}\n", "");
        assert_eq!(exposed(&no_auth), vec!["exposed-otlp-secured"]);
        let not_enabled = SECURED.replace("[bearertokenauth/otlp]", "[]");
        assert_eq!(exposed(&not_enabled), vec!["exposed-otlp-secured"]);
        // On loopback the same plain receiver is fine.
        let files = [
            (COMPOSE_FILE, compose.as_str()),
            ("app.yaml", no_tls.as_str()),
        ];
        let loopback = compose.replace("0.0.0.0:4318", "127.0.0.1:4318");
        let files_loopback = [(COMPOSE_FILE, loopback.as_str()), files[1]];
        assert!(rules(&files_loopback, true).is_empty());
    }

    #[test]
    fn a_host_port_is_published_once() {
        let service = GOOD_SERVICE.replace(
            r#"["127.0.0.1:4318:4318"]"#,
            r#"["127.0.0.1:4318:4318", {target: 4000, published: "4318", host_ip: 127.0.0.1}]"#,
        );
        assert_eq!(with_compose(&service), vec!["host-port-once"]);
    }

    #[test]
    fn mounted_files_must_be_rendered() {
        let compose = compose(GOOD_SERVICE);
        assert_eq!(
            rules(&[(COMPOSE_FILE, &compose)], false),
            vec!["mounts-rendered"]
        );
        let service = GOOD_SERVICE.replace("./app.yaml", "/etc/passwd");
        assert_eq!(with_compose(&service), vec!["mounts-rendered"]);
        let service = format!("{GOOD_SERVICE}    env_file: [.env]\n");
        assert_eq!(with_compose(&service), vec!["mounts-rendered"]);
    }

    #[test]
    fn every_service_is_hardened() {
        for line in [
            "    read_only: true\n",
            "    security_opt: [\"no-new-privileges:true\"]\n",
            "    cap_drop: [ALL]\n",
            "    deploy: {resources: {limits: {memory: 256M, cpus: \"0.5\"}}}\n",
        ] {
            let service = GOOD_SERVICE.replace(line, "");
            assert_eq!(with_compose(&service), vec!["hardening"], "without {line}");
        }
    }

    fn config_rules(config: &str) -> Vec<&'static str> {
        let compose = compose(GOOD_SERVICE);
        rules(&[(COMPOSE_FILE, &compose), ("app.yaml", config)], false)
    }

    #[test]
    fn receivers_bind_all_interfaces() {
        let good =
            "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n";
        assert!(config_rules(good).is_empty());
        let empty = "receivers:\n  otlp:\n    protocols:\n      grpc:\n      http:\n";
        assert_eq!(config_rules(empty), vec!["bind-all-interfaces"; 2]);
        let local = good.replace("0.0.0.0", "localhost");
        assert_eq!(config_rules(&local), vec!["bind-all-interfaces"]);
    }

    #[test]
    fn health_endpoints_bind_all_interfaces() {
        assert!(
            config_rules("extensions:\n  health_check:\n    endpoint: 0.0.0.0:13133\n").is_empty()
        );
        assert_eq!(
            config_rules("extensions:\n  health_check: {}\n"),
            vec!["bind-all-interfaces"]
        );
        assert_eq!(
            config_rules(
                "extensions:\n  healthcheckv2:\n    http:\n      endpoint: localhost:13133\n"
            ),
            vec!["bind-all-interfaces"]
        );
    }

    /// A compose file with ClickHouse Keeper as the SigNoz stack runs it: the image's
    /// entrypoint replaced, data on a named volume recorded as owned by 101:101.
    fn keeper_compose(extra: &str) -> String {
        let keeper = GOOD_SERVICE.replace(
            "[\"./app.yaml:/etc/app.yaml:ro\"]",
            "[\"keeper-data:/var/lib/clickhouse-keeper\", \"./app.yaml:/etc/app.yaml:ro\"]",
        );
        format!(
            "x-volume-owners:\n  keeper-data: \"101:101\"\nservices:\n  keeper:{keeper}    entrypoint: [/usr/bin/clickhouse-keeper]\n{extra}"
        )
    }

    fn compose_rules(compose: &str) -> Vec<&'static str> {
        rules(&[(COMPOSE_FILE, compose), ("app.yaml", "a: 1\n")], false)
    }

    #[test]
    fn a_service_with_its_own_entrypoint_runs_as_its_volume_owner() {
        // As root (no user:), Keeper refuses the data the image seeded with uid 101.
        assert_eq!(compose_rules(&keeper_compose("")), vec!["volume-owner"]);
        assert!(compose_rules(&keeper_compose("    user: \"101:101\"\n")).is_empty());
        assert!(compose_rules(&keeper_compose("    user: \"101\"\n")).is_empty());
        assert_eq!(
            compose_rules(&keeper_compose("    user: \"0:0\"\n")),
            vec!["volume-owner"]
        );
        assert_eq!(
            compose_rules(&keeper_compose("    user: \"101:0\"\n")),
            vec!["volume-owner"]
        );
        // An owner nobody recorded is refused too.
        let unrecorded =
            keeper_compose("    user: \"101:101\"\n").replace("keeper-data: ", "other: ");
        assert_eq!(compose_rules(&unrecorded), vec!["volume-owner"]);
        // Read-only mounts are not written; the long syntax counts like the short one.
        let read_only = keeper_compose("").replace("clickhouse-keeper\"", "clickhouse-keeper:ro\"");
        assert!(compose_rules(&read_only).is_empty());
        let long = keeper_compose("").replace(
            "\"keeper-data:/var/lib/clickhouse-keeper\"",
            "{type: volume, source: keeper-data, target: /var/lib/clickhouse-keeper}",
        );
        assert_eq!(compose_rules(&long), vec!["volume-owner"]);
    }

    #[test]
    fn a_service_keeping_its_image_entrypoint_and_user_is_not_judged() {
        // Its image's entrypoint (chown, then drop privileges) or USER decides.
        let kept = keeper_compose("").replace("    entrypoint: [/usr/bin/clickhouse-keeper]\n", "");
        assert!(compose_rules(&kept).is_empty());
    }

    #[test]
    fn a_service_keeping_cap_chown_hands_its_volume_to_the_recorded_owner() {
        let job = |command: &str| {
            keeper_compose(&format!(
                "    user: \"0:0\"\n    cap_add: [CHOWN]\n    command: {command}\n"
            ))
            .replace(", \"./app.yaml:/etc/app.yaml:ro\"", "")
        };
        assert!(compose_rules(&job("[chown, \"101:101\", /var/lib/clickhouse-keeper]")).is_empty());
        // Another owner, another folder, or something else than chown: refused.
        for bad in [
            "[chown, \"0:0\", /var/lib/clickhouse-keeper]",
            "[chown, \"101:101\", /]",
            "[sh, -c, \"chown -R 101:101 /\"]",
        ] {
            assert!(compose_rules(&job(bad)).contains(&"volume-owner"), "{bad}");
        }
        // A volume whose owner nobody recorded.
        let unrecorded = job("[chown, \"101:101\", /var/lib/clickhouse-keeper]")
            .replace("keeper-data: ", "other: ");
        assert!(compose_rules(&unrecorded).contains(&"volume-owner"));
    }

    fn two_services(tempo_extra: &str, grafana_depends: &str) -> String {
        let grafana = GOOD_SERVICE.replace("4318:4318", "3000:3000");
        format!(
            "services:\n  tempo:{GOOD_SERVICE}{tempo_extra}  grafana:{grafana}    depends_on: {grafana_depends}\n"
        )
    }

    #[test]
    fn waiting_for_a_checked_service_waits_until_it_is_healthy() {
        let check = "    healthcheck: {test: [CMD, /tempo, -health]}\n";
        let healthy = "{tempo: {condition: service_healthy}}";
        assert!(compose_rules(&two_services(check, healthy)).is_empty());
        assert_eq!(
            compose_rules(&two_services(check, "[tempo]")),
            vec!["depends-on-healthy"]
        );
        assert_eq!(
            compose_rules(&two_services(
                check,
                "{tempo: {condition: service_started}}"
            )),
            vec!["depends-on-healthy"]
        );
        // Without a healthcheck there is nothing better to wait for.
        assert!(compose_rules(&two_services("", "[tempo]")).is_empty());
    }

    #[test]
    fn redaction_forbids_detailed_debug_output() {
        let compose = compose(GOOD_SERVICE);
        let config = "exporters:\n  debug/all:\n    verbosity: detailed\n";
        let files = [(COMPOSE_FILE, compose.as_str()), ("app.yaml", config)];
        assert!(rules(&files, false).is_empty());
        let redact = || Policy {
            redact: true,
            ..Policy::default()
        };
        assert_eq!(
            rules_with(&files, redact()),
            vec!["redact-no-detailed-debug"]
        );
        let normal = config.replace("detailed", "normal");
        let files = [
            (COMPOSE_FILE, compose.as_str()),
            ("app.yaml", normal.as_str()),
        ];
        assert!(rules_with(&files, redact()).is_empty());
    }
}
