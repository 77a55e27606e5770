//! The lint step of the pipeline: invariants every rendered deployment must hold.
//!
//! It runs on every render, so a template (or an option) that would produce a deployment that
//! silently drops spans, floats on `latest` or exposes ports is refused before anything is
//! written. Each rule has a name that appears in the error (the README's security table).
//! This file runs the rules and holds `yaml-parses` and `compose-present`; each family of rules
//! has its own file, a new target adds one:
//!
//! | file | rules |
//! |---|---|
//! | `compose.rs` | `compose-services`, `pinned-image`, `host-port-once`, `loopback-ports`, `mounts-rendered`, `hardening`, `depends-on-healthy` |
//! | `volumes.rs` | `volume-owner` |
//! | `exposure.rs` | `bind-all-interfaces`, `exposed-otlp-secured`, `exposed-ui-opt-in` |
//! | `sizes.rs` | `hop-message-sizes` |
//! | `redaction.rs` | `redact-no-detailed-debug`, `redaction-fails-closed` |
//! | `kubernetes.rs` | the `k8s-*` rules of `--target kubernetes` |

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Result, bail};
use serde_yaml::Value;

use crate::catalog::Target;
use crate::render::Render;

mod compose;
mod exposure;
mod kubernetes;
mod redaction;
mod sizes;
mod volumes;

use compose::lint_compose;
use exposure::{lint_exposure, lint_listeners};
use redaction::{lint_redacted_output, lint_redaction_fails_closed};
pub use sizes::OTLP_RECEIVE_LIMITS;
use sizes::lint_hop_sizes;
pub use volumes::VOLUME_OWNERS;

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
mod tests;
