//! The user's answers (backend, service name, ports, images, ...) and their validation.
//!
//! Every answer is checked here, before anything is rendered, so bad input is refused with
//! one line that names the value and the fix.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

use crate::catalog::{Backend, Catalog, Target};

/// The service name an app reports when the user does not pick one.
pub const DEFAULT_SERVICE_NAME: &str = "kneo_agent";

/// Everything that decides what a render produces, apart from the catalog itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    pub backend: String,
    /// The Compose project name and Kubernetes namespace (`--set project=`); recorded on the
    /// first `init` from the folder and its repository ([`crate::project::default_for`]).
    /// Manifests written before it was recorded render `kneo-<backend>`, as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// What the deployment runs on (`--target`).
    #[serde(default, skip_serializing_if = "is_compose")]
    pub target: Target,
    pub service_name: String,
    /// Publish host ports on all interfaces instead of 127.0.0.1.
    #[serde(default)]
    pub expose: bool,
    /// `--expose-ui`: with `--expose`, also publish the ports without a login of their own
    /// (Jaeger UI and query API, Tempo's API, health endpoints) on all interfaces.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expose_ui: bool,
    /// `--set expose.hosts=a,b`: names and addresses the front door's certificate is valid
    /// for, besides localhost, 127.0.0.1 and this machine's hostname.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub expose_hosts: BTreeSet<String>,
    /// Host-port overrides, by catalog port key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ports: BTreeMap<String, u16>,
    /// Image-tag overrides, by catalog image key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub images: BTreeMap<String, String>,
    /// Put an OpenTelemetry Collector in front of the backend.
    #[serde(default, skip_serializing_if = "is_false")]
    pub gateway: bool,
    /// Delete GenAI content attributes in the collector.
    #[serde(default, skip_serializing_if = "is_false")]
    pub redact: bool,
    /// Content attributes `--redact` keeps after all.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub redact_keep: BTreeSet<String>,
    /// `--ci <provider>`: a CI workflow running `kneo-otel check` on this folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<CiOptions>,
    /// `--also <id>`: a second backend next to this one; the gateway sends every span to both.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub also: Option<String>,
    /// Replica-count overrides of scalable services, by service name (Kubernetes).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replicas: BTreeMap<String, u32>,
    /// `--set retention=<days>`: how long stored traces stay; the catalog's default if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<u32>,
}

/// The most replicas `--set replicas.<service>=N` takes.
pub const MAX_REPLICAS: u32 = 100;

/// Where the CI files go: the repository root, seen from the output folder, and the output
/// folder, seen from the root (what the workflow passes to `check --dir`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CiOptions {
    pub provider: String,
    /// `..`-only path from the output folder up to the repository root (`.` when equal).
    pub root: String,
    /// The output folder relative to the repository root (`.` when equal).
    pub dir: String,
}

impl CiOptions {
    /// Refuses paths that could point anywhere but up to the root and back down.
    pub fn validate(&self, catalog: &Catalog) -> Result<()> {
        if !catalog.ci.contains_key(&self.provider) {
            bail!(
                "unknown CI provider `{}`: use --ci with one of {}",
                self.provider,
                catalog.ci.keys().cloned().collect::<Vec<_>>().join(", ")
            );
        }
        let up_only = self.root == "." || self.root.split('/').all(|part| part == "..");
        // The workflow passes `dir` to a shell unquoted.
        let plain = |part: &str| {
            !part.is_empty()
                && part != "."
                && part != ".."
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        };
        let down_only = self.dir == "." || self.dir.split('/').all(plain);
        let same_depth = match (self.root.as_str(), self.dir.as_str()) {
            (".", ".") => true,
            (".", _) | (_, ".") => false,
            (root, dir) => root.split('/').count() == dir.split('/').count(),
        };
        if !up_only || !down_only || !same_depth {
            bail!(
                "manifest option ci (root {:?}, dir {:?}) does not describe a folder inside its repository: re-run kneo-otel init --ci {} from the repository",
                self.root,
                self.dir,
                self.provider
            );
        }
        Ok(())
    }

    /// A path relative to the repository root, as seen from the output folder.
    pub fn from_dir(&self, path_in_root: &str) -> String {
        if self.root == "." {
            path_in_root.to_string()
        } else {
            format!("{}/{path_in_root}", self.root)
        }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_compose(target: &Target) -> bool {
    *target == Target::Compose
}

impl Options {
    pub fn new(backend: &str) -> Self {
        Options {
            backend: backend.to_string(),
            project: None,
            target: Target::Compose,
            service_name: DEFAULT_SERVICE_NAME.to_string(),
            expose: false,
            expose_ui: false,
            expose_hosts: BTreeSet::new(),
            ports: BTreeMap::new(),
            images: BTreeMap::new(),
            gateway: false,
            redact: false,
            redact_keep: BTreeSet::new(),
            ci: None,
            also: None,
            replicas: BTreeMap::new(),
            retention: None,
        }
    }

    /// The Compose project name and Kubernetes namespace.
    pub fn project_name(&self) -> String {
        self.project
            .clone()
            .unwrap_or_else(|| format!("kneo-{}", self.backend))
    }

    /// A fresh folder's answers for `target`: the gateway where the target wants one.
    pub fn for_target(backend: &str, target: Target, catalog: &Catalog) -> Self {
        let mut options = Options::new(backend);
        options.target = target;
        options.gateway =
            catalog.target(target).gateway && catalog.backend(backend).is_ok_and(|b| b.gateway);
        options
    }

    /// Whether the gateway collector is rendered: asked for, implied by `--redact`, `--also`
    /// or `--expose` on a backend that is not itself a collector (one collector config then
    /// does redaction, TLS and the token for every backend), or required by the backend.
    pub fn uses_gateway(&self, backend: &Backend) -> bool {
        backend.gateway
            && (self.gateway
                || self.redact
                || self.expose
                || self.also.is_some()
                || backend.gateway_required)
    }

    /// The `--also` backend, checked: one that may run next to another, not the chosen one,
    /// next to a backend the gateway can front.
    pub fn also_backend<'a>(&self, catalog: &'a Catalog) -> Result<Option<&'a Backend>> {
        let Some(id) = &self.also else {
            return Ok(None);
        };
        let chosen = catalog.backend(&self.backend)?;
        let candidates = || {
            catalog
                .backends
                .iter()
                .filter(|b| b.also)
                .map(|b| b.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let also = catalog.backend(id).map_err(|_| {
            anyhow::anyhow!(
                "unknown backend `{id}` for --also: use one of {}",
                candidates()
            )
        })?;
        if !also.also {
            bail!(
                "--also {id}: {id} cannot run next to another backend; use --also with one of {}",
                candidates()
            );
        }
        if also.id == chosen.id || !chosen.gateway {
            bail!(
                "--also {id} does not apply to backend {}: use it with {}",
                chosen.id,
                catalog
                    .backends
                    .iter()
                    .filter(|b| b.gateway && b.id != also.id)
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(Some(also))
    }

    /// Checks every answer against the catalog; `backend` is the chosen entry with any
    /// add-on merged in.
    pub fn validate(&self, catalog: &Catalog, backend: &Backend) -> Result<()> {
        validate_service_name(&self.service_name)?;
        if let Some(days) = self.retention {
            validate_retention(catalog, days)?;
        }
        if let Some(project) = &self.project {
            crate::project::validate(project)?;
        }
        if let Some(why) = catalog.target(self.target).refuses.get(&backend.id) {
            bail!(
                "--target {} does not render backend {}: {why}",
                self.target.as_str(),
                backend.id
            );
        }
        if self.also.is_some() && self.target == Target::Kubernetes {
            bail!(
                "--also does not apply to --target kubernetes yet: Phoenix is rendered for compose only (--set also=none, or --target compose)"
            );
        }
        if self.expose && self.target == Target::Kubernetes {
            bail!(
                "--expose does not apply to --target kubernetes: its Services are ClusterIP only; reach them with the kubectl port-forward commands of the README (--set expose=false)"
            );
        }
        for (name, replicas) in &self.replicas {
            // The target first: on compose no hint about scalable services would help.
            if self.target != Target::Kubernetes {
                bail!(
                    "`replicas.{name}` applies to --target kubernetes only: compose runs one of each service (drop --set replicas.{name}, or add --target kubernetes)"
                );
            }
            let scalable: Vec<&str> = backend
                .services
                .iter()
                .filter(|s| s.replicas.is_some())
                .map(|s| s.name.as_str())
                .collect();
            if !scalable.contains(&name.as_str()) {
                bail!(
                    "`replicas.{name}` does not apply to backend {}: {}",
                    backend.id,
                    if scalable.is_empty() {
                        "it has no stateless service to scale (add --gateway, whose collector scales)".to_string()
                    } else {
                        format!(
                            "only {} scale",
                            keys_list(
                                "replicas",
                                scalable
                                    .iter()
                                    .map(|s| s.to_string())
                                    .collect::<Vec<_>>()
                                    .iter()
                            )
                        )
                    }
                );
            }
            if *replicas == 0 || *replicas > MAX_REPLICAS {
                bail!("`replicas.{name}={replicas}` is out of range: use 1 to {MAX_REPLICAS}");
            }
        }
        if let Some(ci) = &self.ci {
            ci.validate(catalog)?;
        }
        if self.gateway && !backend.gateway {
            bail!(
                "--gateway does not apply to backend {}: it is a collector already (use it with {})",
                backend.id,
                catalog
                    .backends
                    .iter()
                    .filter(|b| b.gateway)
                    .map(|b| b.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if self.expose_ui && !self.expose {
            bail!("--expose-ui needs --expose (or --set expose=true)");
        }
        for host in &self.expose_hosts {
            if !self.expose {
                bail!(
                    "expose.hosts={host} needs --expose: add --expose, or clear it with --set expose.hosts="
                );
            }
            crate::secrets::validate_host(host)?;
        }
        for key in &self.redact_keep {
            if !self.redact {
                bail!("--redact-keep {key} needs --redact");
            }
            let plain = !key.is_empty()
                && key.len() <= 128
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-');
            if !plain || !catalog.redaction.deletes(key) {
                bail!(
                    "--redact-keep {key:?} is not an attribute --redact deletes: name a content attribute such as gen_ai.input.messages or input.value (letters, digits, `.`, `_`, `-`)"
                );
            }
        }
        for (key, port) in &self.ports {
            if !backend.ports.contains_key(key)
                && backend.gateway
                && catalog.gateway.ports.contains_key(key)
            {
                bail!(
                    "`ports.{key}` is a port of the gateway, and backend {} runs without the gateway here: add --gateway (or --set gateway=true), or drop ports.{key}",
                    backend.id
                );
            }
            if !backend.ports.contains_key(key) {
                bail!(
                    "unknown port `ports.{key}` for backend {}: valid keys are {}",
                    backend.id,
                    keys_list("ports", backend.ports.keys())
                );
            }
            if *port == 0 {
                bail!("`ports.{key}=0` is not a port: use a number from 1 to 65535");
            }
        }
        // Two keys on one host port: name both keys, the way to fix it is --set on one.
        let mut taken: BTreeMap<u16, &str> = BTreeMap::new();
        for (key, port) in &backend.ports {
            let host = self.ports.get(key).copied().unwrap_or(port.host);
            if let Some(other) = taken.insert(host, key) {
                let (given, clash) = if self.ports.contains_key(key) {
                    (key.as_str(), other)
                } else {
                    (other, key.as_str())
                };
                bail!(
                    "host port {host} is set for both ports.{given} and ports.{clash} of backend {}: give one of them another port, e.g. --set ports.{given}=<free port>",
                    backend.id
                );
            }
        }
        for (key, tag) in &self.images {
            if !backend.images.contains_key(key)
                && backend.gateway
                && catalog.gateway.images.contains_key(key)
            {
                bail!(
                    "`images.{key}` is the gateway's image, and backend {} runs without the gateway here: add --gateway (or --set gateway=true), or drop images.{key}",
                    backend.id
                );
            }
            if !backend.images.contains_key(key) {
                bail!(
                    "unknown image `images.{key}` for backend {}: valid keys are {}",
                    backend.id,
                    keys_list("images", backend.images.keys())
                );
            }
            validate_tag(&format!("images.{key}"), tag)?;
        }
        // A --set image must still run with the others (upstream's compatibility rules).
        let tags = backend
            .images
            .iter()
            .map(|(key, image)| {
                let tag = self.images.get(key).unwrap_or(&image.tag);
                (key.clone(), tag.clone())
            })
            .collect();
        backend.check_compat(&tags, false)?;
        Ok(())
    }
}

fn keys_list<'a>(prefix: &str, keys: impl Iterator<Item = &'a String>) -> String {
    keys.map(|k| format!("{prefix}.{k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A service name lands in YAML, env files and URLs: allow only `[A-Za-z0-9._-]{1,64}`.
/// `retention` in days: 1 to the catalog's `max_days` (from `--set` or an untrusted manifest).
pub fn validate_retention(catalog: &Catalog, days: u32) -> Result<()> {
    let max = catalog.retention.max_days;
    if days == 0 || days > max {
        bail!("`retention={days}` is out of range: use --set retention=<days> with 1 to {max}");
    }
    Ok(())
}

/// How long stored traces stay, in days.
pub fn retention_days(catalog: &Catalog, options: &Options) -> u32 {
    options.retention.unwrap_or(catalog.retention.default_days)
}

pub fn validate_service_name(name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > 64 || !name.chars().all(ok_char) {
        bail!(
            "invalid service name {name:?}: use 1 to 64 characters from A-Z a-z 0-9 . _ - (e.g. --service-name kneo_agent)"
        );
    }
    Ok(())
}

pub use crate::catalog::{pins_a_version, validate_tag};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        assert!(validate_service_name("kneo_agent").is_ok());
        assert!(validate_service_name("a.b-c_9").is_ok());
        for bad in ["", "a b", "x\"y", "a:b", "line\nbreak", &"x".repeat(65)] {
            assert!(validate_service_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn tags() {
        assert!(validate_tag("t", "3.0.3").is_ok());
        assert!(validate_tag("t", "v0.138.0").is_ok());
        assert!(validate_tag("t", "version-20.26.1-nonroot").is_ok());
        assert!(validate_tag("t", "2.19.0-alpine").is_ok());
        for bad in [
            "",
            "latest",
            "LATEST",
            "1.0:x",
            "-1",
            "a/b",
            "nightly",
            "edge",
            "main",
            "stable",
            "alpine",
            "1-latest",
            "nightly-2",
            "v2-dev",
        ] {
            assert!(validate_tag("t", bad).is_err(), "{bad:?} accepted");
        }
    }
}
