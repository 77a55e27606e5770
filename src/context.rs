//! The render context: the one value templates see, built from a catalog entry and the
//! user's options. Its field names are load-bearing: templates refer to them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::{
    Backend, Download, FileKind, FileSpec, HealthProbe, OtlpLimits, OtlpReceive, Port, Redaction,
    SavedQuery, Service, Target, UiLink, Volume,
};
use crate::options::Options;

/// What every template of one render is given.
#[derive(Debug, Serialize)]
pub struct RenderContext {
    pub backend: BackendInfo,
    /// `--target`; templates see `compose` or `kubernetes`.
    pub target: Target,
    /// The Compose project name (`name:`), [`Options::project_name`].
    pub project: String,
    /// Kubernetes: the namespace everything lives in (the project name).
    pub kube_namespace: String,
    /// Kubernetes: replica count of each scalable service, overrides applied.
    pub replicas: BTreeMap<String, u32>,
    /// Health endpoints (Kubernetes probes them).
    pub health: Vec<HealthProbe>,
    /// The service apps send OTLP to (the gateway when there is one).
    pub front_door: String,
    /// Kubernetes: the config files the pods mount from one ConfigMap, by key.
    pub config_files: Vec<ConfigFile>,
    /// Kubernetes: the seed files (`KEY=value` lines) a Secret is generated from.
    pub secret_files: Vec<String>,
    pub service_name: String,
    /// `--expose`: the OTLP front door takes OTLP on all interfaces over TLS with a bearer
    /// token; each port's `bind` says where it is published.
    pub expose: bool,
    /// `--expose-ui`: the plain-HTTP UIs and APIs are published on all interfaces too.
    pub expose_ui: bool,
    /// Image key → `repository:tag`.
    pub images: BTreeMap<String, String>,
    /// Image key → tag alone, for `version_at_least` checks.
    pub image_tags: BTreeMap<String, String>,
    /// Port key → port, host port after overrides.
    pub ports: BTreeMap<String, Port>,
    /// Service name → service (limits, role).
    pub services: BTreeMap<String, Service>,
    /// Named volume → the owner of its data.
    pub volumes: BTreeMap<String, Volume>,
    /// Files one-shot services download → URL and the sha256 per architecture.
    pub downloads: BTreeMap<String, Download>,
    /// Service → OTLP receive limits its program fixes (catalog `otlp_receive`).
    pub fixed_otlp_limits: BTreeMap<String, OtlpReceive>,
    pub ui: Vec<Link>,
    pub otlp: Otlp,
    /// The OTLP endpoint an app in a container on the stack's Compose network
    /// (`<project>_default`) sends to: the front door's service name and container port
    /// (HTTP preferred). `None` with `--expose` (its certificate does not name the service).
    pub otlp_in_network: Option<String>,
    /// Compose service → hash of the folder files it mounts (`render::mounted_file_hashes`),
    /// rendered as a label so `docker compose up -d` recreates it when they change.
    pub config_hashes: BTreeMap<String, String>,
    /// Environment lines an app needs to send to this stack.
    pub app_env: Vec<String>,
    /// Output path → what the file is for.
    pub files: BTreeMap<String, FileSpec>,
    pub next_steps: Vec<String>,
    /// Kubernetes: what one instance means and the path beyond it.
    pub beyond_one: Option<String>,
    /// The Kubernetes version the manifests are written and validated for (`1.35`).
    pub kubernetes_version: String,
    /// Ready-made queries for the README.
    pub queries: Vec<SavedQuery>,
    /// A gateway collector forwards to [`Self::upstream`].
    pub gateway: bool,
    /// Where the gateway forwards OTLP on the compose network (the backend's own receiver).
    pub upstream: Option<Upstream>,
    /// Every backend the gateway forwards to: the chosen one first, then the `--also` one.
    pub destinations: Vec<Upstream>,
    /// `--also`: the second backend's id (its `_services.yml.j2` joins the compose file).
    pub also: Option<String>,
    /// Named volumes of the `--also` backend, declared in the compose file.
    pub also_volume_names: Vec<String>,
    /// `--ci`: the output folder as the repository root sees it (`check --dir`).
    pub ci_dir: Option<String>,
    /// This kneo-otel's version, which CI files install.
    pub kneo_version: &'static str,
    /// Where this kneo-otel's releases live (Cargo.toml `repository`).
    pub kneo_repository: &'static str,
    /// `--redact`: what the collector deletes.
    pub redact: bool,
    pub redaction: RedactionRules,
    /// OTLP message sizes every hop agrees on.
    pub limits: OtlpLimits,
    /// How long stored traces stay (`--set retention`), in days.
    pub retention_days: u32,
    /// Every place the stack keeps data, retention days filled in.
    pub stores: Vec<crate::catalog::Store>,
}

/// A config file in the Kubernetes ConfigMap: its path in the folder and its key (the path
/// with `/` as `-`: keys may not hold a slash).
#[derive(Debug, Clone, Serialize)]
pub struct ConfigFile {
    pub path: String,
    pub key: String,
}

impl ConfigFile {
    pub fn key_of(path: &str) -> String {
        path.replace('/', "-")
    }
}

/// The backend's own OTLP receivers, addressed by compose service name.
#[derive(Debug, Clone, Serialize)]
pub struct Upstream {
    /// The compose service that receives OTLP (the gateway depends on it).
    pub service: String,
    /// Its OTLP ports by catalog key (Kubernetes: its Service keeps them for the gateway).
    pub ports: BTreeMap<String, Port>,
    /// `host:port` for the gRPC exporter.
    pub grpc: Option<String>,
    /// `http://host:port` for the HTTP exporter.
    pub http: Option<String>,
    /// The protocol the gateway forwards in (catalog `forward`).
    pub forward: String,
    /// `--redact` applies to this destination (the chosen backend; not an `--also` one).
    pub redact: bool,
    /// With `--expose`: the environment variable whose secret the gateway sends as a bearer
    /// token (catalog `forward_auth`).
    pub auth_env: Option<String>,
    /// The service has a compose healthcheck (catalog `healthcheck`): the gateway waits until
    /// it passes.
    pub healthy: bool,
}

impl Upstream {
    /// The OTLP receivers of a backend before any add-on took its ports.
    pub fn of(backend: &Backend, redact: bool, expose: bool) -> Self {
        let address = |protocol: &str| {
            backend
                .otlp_port(protocol)
                .map(|(_, port)| format!("{}:{}", port.service, port.container))
        };
        let service = ["grpc", "http"]
            .iter()
            .find_map(|protocol| backend.otlp_port(protocol))
            .map(|(_, port)| port.service.clone())
            .unwrap_or_default();
        let healthy = backend
            .services
            .iter()
            .any(|s| s.name == service && s.healthcheck);
        Upstream {
            ports: backend
                .ports
                .iter()
                .filter(|(_, p)| p.otlp.is_some())
                .map(|(k, p)| (k.clone(), p.clone()))
                .collect(),
            service,
            grpc: address("grpc"),
            http: address("http").map(|a| format!("http://{a}")),
            forward: backend.forward.clone(),
            redact,
            healthy,
            auth_env: backend
                .forward_auth
                .as_ref()
                .filter(|_| expose)
                .map(|auth| auth.env.clone()),
        }
    }
}

/// What `--redact` keeps and deletes, after `--redact-keep`.
#[derive(Debug, Serialize)]
pub struct RedactionRules {
    /// One whole-key RE2 pattern of the `gen_ai.*` attributes that survive (the catalog's
    /// keep list and patterns, plus the `--redact-keep` keys inside `gen_ai.*`).
    pub keep_regex: String,
    /// [`Self::keep_regex`] plus `event.name`: what a GenAI log event keeps.
    pub event_keep_regex: String,
    /// The catalog's keep list, for the READMEs.
    pub keep: Vec<String>,
    /// Whole-key RE2 patterns deleted outside `gen_ai.*` (a `--redact-keep` key survives
    /// them: it is put back afterwards).
    pub delete: Vec<crate::catalog::DeleteRule>,
    /// `--redact-keep`.
    pub kept: Vec<String>,
}

impl RedactionRules {
    pub fn new(redaction: &Redaction, keep_also: &std::collections::BTreeSet<String>) -> Self {
        let escape = |key: &str| key.replace('.', "[.]");
        let mut alternatives: Vec<String> = redaction.keep.iter().map(|k| escape(k)).collect();
        alternatives.extend(
            redaction
                .keep_patterns
                .iter()
                .map(|p| p.trim_start_matches('^').trim_end_matches('$').to_string()),
        );
        // `--redact-keep` keys, inside gen_ai.* or not: set aside with the kept gen_ai.* ones
        // and put back after every deletion (partials/redaction.j2).
        alternatives.extend(keep_also.iter().map(|k| escape(k)));
        RedactionRules {
            keep_regex: format!("^(?:{})$", alternatives.join("|")),
            event_keep_regex: format!("^(?:event[.]name|{})$", alternatives.join("|")),
            keep: redaction.keep.clone(),
            delete: redaction.delete.clone(),
            kept: keep_also.iter().cloned().collect(),
        }
    }
}

/// The parts of the catalog entry templates print as text.
#[derive(Debug, Serialize)]
pub struct BackendInfo {
    pub id: String,
    pub title: String,
    pub summary: String,
    pub signals: Vec<String>,
}

/// A URL with a name.
#[derive(Debug, Serialize)]
pub struct Link {
    pub name: String,
    pub url: String,
}

/// Where an app on the host sends OTLP.
#[derive(Debug, Serialize)]
pub struct Otlp {
    pub grpc: Option<String>,
    pub http: Option<String>,
}

impl RenderContext {
    pub fn new(
        backend: &Backend,
        options: &Options,
        files: BTreeMap<String, FileSpec>,
        destinations: Vec<Upstream>,
        also: Option<&Backend>,
        redaction: &Redaction,
        limits: OtlpLimits,
    ) -> Self {
        let tag_of = |key: &String| {
            options
                .images
                .get(key)
                .cloned()
                .unwrap_or_else(|| backend.images[key].tag.clone())
        };
        let image_tags: BTreeMap<_, _> = backend
            .images
            .keys()
            .map(|key| (key.clone(), tag_of(key)))
            .collect();
        let images = backend
            .images
            .iter()
            .map(|(key, image)| {
                (
                    key.clone(),
                    format!("{}:{}", image.repository, image_tags[key]),
                )
            })
            .collect();
        let ports: BTreeMap<String, Port> = backend
            .ports
            .iter()
            .map(|(key, port)| {
                let mut port = port.clone();
                if let Some(host) = options.ports.get(key) {
                    port.host = *host;
                }
                // Only OTLP has TLS (the front door); the UIs are plain HTTP, login or not.
                let public = port.otlp.is_some() || options.expose_ui;
                port.bind = if options.expose && public {
                    "0.0.0.0"
                } else {
                    "127.0.0.1"
                }
                .to_string();
                (key.clone(), port)
            })
            .collect();
        let url =
            |link: &UiLink| format!("http://127.0.0.1:{}{}", ports[&link.port].host, link.path);
        let ui = backend
            .ui
            .iter()
            .map(|link| Link {
                name: link.name.clone(),
                url: url(link),
            })
            .collect();
        let scheme = if options.expose { "https" } else { "http" };
        let endpoint = |protocol: &str| {
            backend
                .otlp_port(protocol)
                .map(|(key, _)| format!("{scheme}://127.0.0.1:{}", ports[key].host))
        };
        let otlp = Otlp {
            grpc: endpoint("grpc"),
            http: endpoint("http"),
        };
        let otlp_in_network = (!options.expose)
            .then(|| {
                backend
                    .otlp_port("http")
                    .or_else(|| backend.otlp_port("grpc"))
            })
            .flatten()
            .map(|(key, _)| format!("http://{}:{}", ports[key].service, ports[key].container));
        let app_env = app_env(
            &otlp,
            &options.service_name,
            &backend.signals,
            options.expose,
        );
        let mut replicas: BTreeMap<String, u32> = backend
            .services
            .iter()
            .filter_map(|s| s.replicas.map(|n| (s.name.clone(), n)))
            .collect();
        for (name, n) in &options.replicas {
            replicas.insert(name.clone(), *n);
        }
        let config_files = files
            .iter()
            .filter(|(_, spec)| spec.target.is_none() && spec.kind == FileKind::Managed)
            .map(|(path, _)| ConfigFile {
                path: path.clone(),
                key: ConfigFile::key_of(path),
            })
            .collect();
        let secret_files = files
            .iter()
            .filter(|(_, spec)| spec.kind == FileKind::Seed)
            .map(|(path, _)| path.clone())
            .collect();
        RenderContext {
            target: options.target,
            front_door: ["http", "grpc"]
                .iter()
                .find_map(|p| backend.otlp_port(p))
                .map(|(_, port)| port.service.clone())
                .unwrap_or_default(),
            project: options.project_name(),
            kube_namespace: options.project_name(),
            replicas,
            health: backend.health.clone(),
            config_files,
            secret_files,
            backend: BackendInfo {
                id: backend.id.clone(),
                title: backend.title.clone(),
                summary: backend.summary.clone(),
                signals: backend.signals.clone(),
            },
            service_name: options.service_name.clone(),
            expose: options.expose,
            expose_ui: options.expose_ui,
            images,
            image_tags,
            ports,
            services: backend
                .services
                .iter()
                .filter(|s| s.target.is_none_or(|t| t == options.target))
                .map(|s| (s.name.clone(), s.clone()))
                .collect(),
            volumes: backend.volumes.clone(),
            downloads: backend.downloads.clone(),
            fixed_otlp_limits: backend
                .services
                .iter()
                .filter_map(|s| s.otlp_receive.map(|limits| (s.name.clone(), limits)))
                .collect(),
            ui,
            otlp,
            otlp_in_network,
            config_hashes: BTreeMap::new(),
            app_env,
            files,
            next_steps: backend.next_steps.clone(),
            beyond_one: backend.beyond_one.clone(),
            kubernetes_version: String::new(),
            queries: backend.queries.clone(),
            ci_dir: options.ci.as_ref().map(|ci| ci.dir.clone()),
            kneo_version: env!("CARGO_PKG_VERSION"),
            kneo_repository: env!("CARGO_PKG_REPOSITORY"),
            gateway: !destinations.is_empty(),
            upstream: destinations.first().cloned(),
            destinations,
            also: also.map(|b| b.id.clone()),
            also_volume_names: also
                .map(|b| b.volumes.keys().cloned().collect())
                .unwrap_or_default(),
            redact: options.redact,
            redaction: RedactionRules::new(redaction, &options.redact_keep),
            limits,
            retention_days: 0,
            stores: Vec::new(),
        }
    }
}

/// Where an exposed stack's CA certificate and token live, relative to its folder.
pub const CA_FILE: &str = "secrets/ca.crt";
pub const TOKEN_FILE: &str = "secrets/token";

/// An [`app_env`] line as it works from the current folder, for a stack in `dir` (as the
/// user named it): the lines name `secrets/` relative to the stack folder, which is right
/// in its README ("run those lines in this folder") but not where `init` and `verify` run.
pub fn app_env_from(line: &str, dir: &std::path::Path) -> String {
    if dir.as_os_str().is_empty() || dir == std::path::Path::new(".") {
        return line.to_string();
    }
    // `/`-separated in the shell line, as the rest of it (POSIX sh).
    let shown = dir.display().to_string().replace('\\', "/");
    let shown = shown.trim_end_matches('/');
    let ca = if dir.is_absolute() {
        format!("{shown}/{CA_FILE}")
    } else {
        format!("$PWD/{shown}/{CA_FILE}")
    };
    line.replace(&format!("$PWD/{CA_FILE}"), &ca).replace(
        &format!("cat {TOKEN_FILE}"),
        &format!("cat {shown}/{TOKEN_FILE}"),
    )
}

/// The standard `OTEL_*` variables for an app on the host, HTTP/protobuf preferred. With
/// `--expose` the CA and token are read from the folder (the lines assume it is the current
/// directory; the token itself is never printed).
fn app_env(otlp: &Otlp, service_name: &str, signals: &[String], expose: bool) -> Vec<String> {
    let mut env = Vec::new();
    if let Some(http) = &otlp.http {
        env.push(format!("OTEL_EXPORTER_OTLP_ENDPOINT={http}"));
        env.push("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf".to_string());
    } else if let Some(grpc) = &otlp.grpc {
        env.push(format!("OTEL_EXPORTER_OTLP_ENDPOINT={grpc}"));
        env.push("OTEL_EXPORTER_OTLP_PROTOCOL=grpc".to_string());
    }
    if expose {
        env.push(format!("OTEL_EXPORTER_OTLP_CERTIFICATE=\"$PWD/{CA_FILE}\""));
        env.push(format!(
            "OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer%20$(cat {TOKEN_FILE})\""
        ));
    }
    env.push(format!("OTEL_SERVICE_NAME={service_name}"));
    // The two switches that decide what GenAI instrumentations send: the current conventions
    // (`gen_ai.input.messages` … on the span) and message content captured (OpenTelemetry's
    // instrumentations capture none by default; `true` only on older ones).
    env.push("OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental".to_string());
    env.push("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=span_and_event".to_string());
    for signal in ["metrics", "logs"] {
        if !signals.iter().any(|s| s == signal) {
            env.push(format!("OTEL_{}_EXPORTER=none", signal.to_uppercase()));
        }
    }
    env
}
