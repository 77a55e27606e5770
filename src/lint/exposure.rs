//! Network-exposure rules: what a stack listens on inside its containers and what it opens
//! beyond loopback with `--expose` (the compose side; `kubernetes.rs` has the cluster side).
//!
//! - `bind-all-interfaces`: OTLP receivers and health endpoints listen on 0.0.0.0 in a container.
//! - `exposed-otlp-secured`: an OTLP port published beyond loopback takes TLS and a token.
//! - `exposed-ui-opt-in`: any other port is published beyond loopback only with `--expose-ui`.

use serde_yaml::Value;

use super::compose::{mounted_files, published_ports};
use super::{COMPOSE_FILE, Policy, Violation, violation, walk};

/// `bind-all-interfaces`: OTLP receivers and health endpoints inside containers must listen on
/// 0.0.0.0; an empty `grpc:`/`http:` block binds localhost and drops every span.
pub(super) fn lint_listeners(path: &str, doc: &Value, out: &mut Vec<Violation>) {
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

/// `exposed-otlp-secured`: an OTLP receiver published beyond loopback takes TLS (certificate
/// and key) and checks a token (an `auth` authenticator that is a configured, enabled
/// extension). `exposed-ui-opt-in`: any other port (a UI or API over plain HTTP, where even a
/// login would cross the network in clear) is published beyond loopback only with `--expose-ui`.
pub(super) fn lint_exposure(
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
