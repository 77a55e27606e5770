//! What `verify` checks, resolved from the manifest, the catalog entry and the flags: published
//! ports, health probes, the OTLP endpoint and the trace-by-id API. Generic over backends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};

use crate::catalog::{ApiKey, Catalog, QueryKind};
use crate::domain::Protocol;
use crate::manifest::Manifest;
use crate::options::DEFAULT_SERVICE_NAME;
use crate::render::{context_for, deployment};

/// Everything one `verify` run looks at.
#[derive(Debug)]
pub struct Target {
    pub dir: PathBuf,
    /// `Some` when the folder holds a manifest.
    pub stack: Option<Stack>,
    pub service_name: String,
    pub otlp: Endpoint,
    pub protocol: Protocol,
    /// An exposed stack (`--expose`): what its front door asks of a client.
    pub front_door: Option<FrontDoor>,
    /// `--target kubernetes`: the namespace whose Services are port-forwarded.
    pub kube_namespace: Option<String>,
}

/// The CA an exposed stack's front door certificate is signed by, and the bearer token it
/// wants, both read from the stack's folder (`secrets/`).
#[derive(Clone)]
pub struct FrontDoor {
    /// As shown in messages (relative to where verify runs).
    pub ca_file: PathBuf,
    pub ca_pem: Vec<u8>,
    pub token: String,
}

impl std::fmt::Debug for FrontDoor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token, not even in a debug print.
        f.debug_struct("FrontDoor")
            .field("ca_file", &self.ca_file)
            .finish_non_exhaustive()
    }
}

impl FrontDoor {
    /// Reads `secrets/ca.crt` and `secrets/token` of the folder; missing ones are a usage error
    /// with the command that makes them.
    pub fn load(dir: &Path) -> Result<FrontDoor> {
        let folder = crate::paths::Folder::new(dir)?;
        let read = |path: &str| -> Result<String> {
            crate::plan::read_existing(&folder, path, crate::paths::Reach::Folder)?.ok_or_else(|| {
                anyhow!(
                    "{} is missing, and this stack takes OTLP only with TLS and a token (--expose): run kneo-otel init --dir {} to make its secrets, then restart the stack",
                    dir.join(path).display(),
                    dir.display()
                )
            })
        };
        let ca_pem = read(crate::context::CA_FILE)?.into_bytes();
        let token = read(crate::context::TOKEN_FILE)?.trim().to_string();
        if token.is_empty() {
            bail!(
                "{} is empty: delete {} and run kneo-otel init --dir {} to make new secrets",
                dir.join(crate::context::TOKEN_FILE).display(),
                dir.join("secrets").display(),
                dir.display()
            );
        }
        Ok(FrontDoor {
            ca_file: dir.join(crate::context::CA_FILE),
            ca_pem,
            token,
        })
    }
}

/// The deployment the manifest describes.
#[derive(Debug)]
pub struct Stack {
    pub title: String,
    pub ports: Vec<PublishedPort>,
    pub health: Vec<Probe>,
    pub query: Option<Query>,
    /// The compose service behind the OTLP port the test trace goes to.
    pub otlp_service: String,
    /// `OTEL_EXPORTER_OTLP_*` endpoint per protocol marker (`grpc`, `http`).
    pub otlp_endpoints: BTreeMap<String, String>,
    /// The environment lines `init` prints for an app (the same ones, e.g. the
    /// `OTEL_METRICS_EXPORTER=none` of a traces-only stack).
    pub app_env: Vec<String>,
}

/// A host port the stack publishes.
#[derive(Debug, Clone)]
pub struct PublishedPort {
    /// Catalog key, for `--set ports.<key>=…`.
    pub key: String,
    pub port: u16,
    pub service: String,
    pub purpose: String,
    /// `grpc` or `http` on the OTLP front doors.
    pub otlp: Option<String>,
}

/// A health endpoint.
#[derive(Debug, Clone)]
pub struct Probe {
    pub name: String,
    pub url: String,
    pub service: String,
    /// Catalog key and host port of the port it is served on.
    pub port_key: String,
    pub port: u16,
    /// What a healthy answer says.
    pub expect: crate::catalog::Expect,
}

/// The trace-by-id API.
#[derive(Debug, Clone)]
pub struct Query {
    pub kind: QueryKind,
    /// With `{id}` still in it.
    pub url: String,
    pub service: String,
    /// Catalog key and host port of the port it is served on (a secret goes there only when
    /// that port's health checks passed).
    pub port_key: String,
    pub port: u16,
    pub api_key: Option<ApiKey>,
    /// The bearer token an exposed stack's query API wants (from a seed file).
    pub bearer: Option<Bearer>,
}

/// A secret sent as `Authorization: Bearer`; never shown, not even in a debug print.
#[derive(Clone)]
pub struct Bearer {
    pub secret: String,
    /// Where it comes from, for messages: `PHOENIX_ADMIN_SECRET from .env`.
    pub source: String,
}

impl std::fmt::Debug for Bearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bearer({}, …)", self.source)
    }
}

/// The value of `key` in the folder's seed file `file` (`KEY=value` lines); a missing file or
/// key is a usage error naming the command that makes it.
fn seed_value(dir: &Path, spec: &crate::catalog::SeedValue) -> Result<Bearer> {
    let folder = crate::paths::Folder::new(dir)?;
    let missing = || {
        anyhow!(
            "{} has no {}, which this exposed stack's query API needs: run kneo-otel init --dir {} in a new folder, or add it",
            dir.join(&spec.file).display(),
            spec.key,
            dir.display()
        )
    };
    let text = crate::plan::read_existing(&folder, &spec.file, crate::paths::Reach::Folder)?
        .ok_or_else(missing)?;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{}=", spec.key)))
        .map(|value| Bearer {
            secret: value.trim().to_string(),
            source: format!("{} from {}", spec.key, spec.file),
        })
        .filter(|b| !b.secret.is_empty())
        .ok_or_else(missing)
}

/// An OTLP endpoint as an app would configure it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub scheme: String,
    pub host: String,
    pub port: u16,
    /// Path without a trailing `/`; empty for none.
    pub path: String,
}

impl Target {
    /// Whether the stack is the folder verify runs in (commands then need no `--dir`).
    fn is_current_dir(&self) -> bool {
        self.dir.as_os_str().is_empty() || self.dir == Path::new(".")
    }

    /// `command` run in the stack's folder: `cd <dir> && command`, or the command alone when
    /// that is the current folder.
    pub fn in_dir(&self, command: &str) -> String {
        if self.is_current_dir() {
            command.to_string()
        } else {
            format!("cd {} && {command}", self.dir.display())
        }
    }

    /// The command that shows one service's logs, run where it works.
    pub fn logs(&self, service: &str) -> String {
        match &self.kube_namespace {
            Some(ns) => format!("kubectl -n {ns} logs deployment/{service}"),
            None => self.in_dir(&format!("docker compose logs {service}")),
        }
    }

    /// The one fix for a stack that does not answer: start it (said once however many
    /// checks it fixes).
    pub fn start_fix(&self) -> String {
        if let Some(ns) = &self.kube_namespace {
            return format!(
                "apply the stack and forward its ports: {}, then the `kubectl -n {ns} port-forward` commands in its README.md (`kubectl -n {ns} get pods` shows every pod ready)",
                self.in_dir("kubectl apply -k .")
            );
        }
        if !compose_answers() {
            return format!(
                "`docker compose version` does not answer here: install Docker with Compose v2 (Linux: Docker Engine and its docker-compose-plugin package; macOS, Windows: Docker Desktop), then start the stack: {}",
                self.in_dir("docker compose up -d")
            );
        }
        format!(
            "start the stack: {}, then `docker compose ps` shows every service running; if `up` says a port is already allocated, move it: {}; if it cannot pull an image, `docker compose pull` names it (a network or registry problem)",
            self.in_dir("docker compose up -d"),
            self.init_set("ports.<key>=<free port>")
        )
    }

    /// `kneo-otel init [--dir D] --set <assignment>` for this stack.
    pub fn init_set(&self, assignment: &str) -> String {
        if self.is_current_dir() {
            format!("kneo-otel init --set {assignment}")
        } else {
            format!(
                "kneo-otel init --dir {} --set {assignment}",
                self.dir.display()
            )
        }
    }
}

impl Endpoint {
    /// Parses `http://host:port[/path]` (also `https`, IPv6 in brackets).
    pub fn parse(text: &str) -> Result<Endpoint> {
        let bad = |why: &str| {
            anyhow!("invalid --endpoint `{text}`: {why}; use a URL such as http://127.0.0.1:4318")
        };
        let (scheme, rest) = text.split_once("://").ok_or_else(|| bad("no scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(bad("the scheme must be http or https"));
        }
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, ""),
        };
        if authority.contains('@') || path.contains(['?', '#']) {
            return Err(bad("user info, query and fragment are not allowed"));
        }
        let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
            let (host, after) = inner.split_once(']').ok_or_else(|| bad("unclosed `[`"))?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("the port must be a number from 1 to 65535"))?,
            None if scheme == "https" => 443,
            None => 80,
        };
        Ok(Endpoint {
            scheme,
            host: host.to_string(),
            port,
            path: path.trim_end_matches('/').to_string(),
        })
    }

    /// `host:port` with IPv6 hosts bracketed.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without a path, as `OTEL_EXPORTER_OTLP_ENDPOINT` wants it.
    pub fn base(&self) -> String {
        format!("{}://{}", self.scheme, self.authority())
    }

    /// The URL of the endpoint as given.
    pub fn url(&self) -> String {
        format!("{}{}", self.base(), self.path)
    }

    /// Where OTLP/HTTP trace exports go: like an SDK with `OTEL_EXPORTER_OTLP_ENDPOINT`, append
    /// `/v1/traces` unless the path already ends with it.
    pub fn traces_url(&self) -> String {
        if self.path.ends_with("/v1/traces") {
            self.url()
        } else {
            format!("{}/v1/traces", self.url())
        }
    }

    pub fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "::1") || self.host.starts_with("127.")
    }
}

/// Resolves the target from `dir`'s manifest and the flags; errors are usage errors (exit 2).
pub fn resolve(dir: &Path, endpoint: Option<&str>, protocol: Option<Protocol>) -> Result<Target> {
    let endpoint = endpoint.map(Endpoint::parse).transpose()?;
    let Some(manifest) = Manifest::load(&crate::paths::Folder::new(dir)?)? else {
        let Some(otlp) = endpoint else {
            bail!(
                "no kneo-otel.yaml in {} and no --endpoint: run `kneo-otel init --dir {}` first, pass --dir <folder of the stack>, or pass --endpoint http://127.0.0.1:4318",
                dir.display(),
                dir.display()
            );
        };
        return Ok(Target {
            dir: dir.to_path_buf(),
            stack: None,
            service_name: DEFAULT_SERVICE_NAME.to_string(),
            otlp,
            protocol: protocol.unwrap_or(Protocol::HttpProtobuf),
            front_door: None,
            kube_namespace: None,
        });
    };
    let catalog = Catalog::load()?;
    let options = &manifest.options;
    let deployment = deployment(&catalog, options)?;
    let backend = &deployment.backend;
    let context = context_for(&catalog, options, &deployment, BTreeMap::new());
    let ports = &context.ports;

    let protocol = protocol.unwrap_or(if backend.otlp_port("http").is_some() {
        Protocol::HttpProtobuf
    } else {
        Protocol::Grpc
    });
    let front_door = backend.otlp_port(protocol.name());
    let otlp = match (endpoint, front_door) {
        (Some(endpoint), _) => endpoint,
        (None, Some((key, _))) => Endpoint {
            scheme: if options.expose { "https" } else { "http" }.into(),
            host: "127.0.0.1".into(),
            port: ports[key].host,
            path: String::new(),
        },
        (None, None) => bail!(
            "{} has no OTLP {} port: use --protocol {}",
            backend.title,
            protocol.env_value(),
            if protocol == Protocol::Grpc {
                "http/protobuf"
            } else {
                "grpc"
            }
        ),
    };
    let otlp_service = front_door
        .or_else(|| backend.otlp_port("http"))
        .or_else(|| backend.otlp_port("grpc"))
        .map(|(_, p)| p.service.clone())
        .unwrap_or_default();
    let local = |key: &str, path: &str| format!("http://127.0.0.1:{}{path}", ports[key].host);
    let stack = Stack {
        title: backend.title.clone(),
        ports: ports
            .iter()
            .map(|(key, port)| PublishedPort {
                key: key.clone(),
                port: port.host,
                service: port.service.clone(),
                purpose: port.purpose.clone(),
                otlp: port.otlp.clone(),
            })
            .collect(),
        health: backend
            .health
            .iter()
            .map(|probe| Probe {
                name: probe.name.clone(),
                url: local(&probe.port, &probe.path),
                service: ports[&probe.port].service.clone(),
                port_key: probe.port.clone(),
                port: ports[&probe.port].host,
                expect: probe.expect.clone(),
            })
            .collect(),
        query: backend
            .query
            .as_ref()
            .map(|query| -> Result<Query> {
                Ok(Query {
                    kind: query.kind,
                    url: local(&query.port, &query.path),
                    service: ports[&query.port].service.clone(),
                    port_key: query.port.clone(),
                    port: ports[&query.port].host,
                    api_key: query.api_key.clone(),
                    bearer: match &query.exposed_bearer {
                        Some(spec) if options.expose => Some(seed_value(dir, spec)?),
                        _ => None,
                    },
                })
            })
            .transpose()?,
        otlp_service,
        otlp_endpoints: [("grpc", &context.otlp.grpc), ("http", &context.otlp.http)]
            .into_iter()
            .filter_map(|(k, v)| v.clone().map(|v| (k.to_string(), v)))
            .collect(),
        app_env: context.app_env.clone(),
    };
    let front_door = if options.expose {
        Some(FrontDoor::load(dir)?)
    } else {
        None
    };
    // The front door takes the token only over TLS; over plain text anyone on the path (or
    // whatever holds that port) would read it. Refused before anything is sent.
    if front_door.is_some() && otlp.scheme != "https" {
        let default = backend
            .otlp_port(protocol.name())
            .map(|(key, _)| {
                format!(
                    ", or leave --endpoint out (https://127.0.0.1:{})",
                    ports[key].host
                )
            })
            .unwrap_or_default();
        bail!(
            "verify --endpoint {}: this stack is exposed (--expose) and takes OTLP only over TLS, so verify will not send its token ({}) there in plain text; pass --endpoint https://{}{}{default}",
            otlp.url(),
            dir.join(crate::context::TOKEN_FILE).display(),
            otlp.authority(),
            otlp.path
        );
    }
    Ok(Target {
        dir: dir.to_path_buf(),
        stack: Some(stack),
        service_name: options.service_name.clone(),
        otlp,
        protocol,
        front_door,
        kube_namespace: (options.target == crate::catalog::Target::Kubernetes)
            .then(|| context.kube_namespace.clone()),
    })
}

/// Whether `docker compose version` answers (within 5 s), i.e. Compose v2 is installed.
fn compose_answers() -> bool {
    let mut version = std::process::Command::new("docker");
    version.args(["compose", "version"]);
    crate::process::output_within(&mut version, std::time::Duration::from_secs(5))
        .is_some_and(|out| out.status.success())
}

/// The command that shows which program listens on `port`, on this operating system.
pub fn port_owner_command(port: u16) -> String {
    if cfg!(target_os = "macos") {
        format!("lsof -nP -iTCP:{port} -sTCP:LISTEN")
    } else if cfg!(windows) {
        format!("netstat -ano | findstr :{port}")
    } else {
        format!("ss -ltnp 'sport = :{port}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixes_name_the_commands_of_the_target() {
        let mut target = Target {
            dir: PathBuf::from("obs"),
            stack: None,
            service_name: DEFAULT_SERVICE_NAME.to_string(),
            otlp: Endpoint::parse("http://127.0.0.1:4318").unwrap(),
            protocol: Protocol::HttpProtobuf,
            front_door: None,
            kube_namespace: None,
        };
        assert_eq!(
            target.logs("jaeger"),
            "cd obs && docker compose logs jaeger"
        );
        assert!(target.start_fix().contains("docker compose up -d"));
        target.kube_namespace = Some("kneo-jaeger".into());
        assert_eq!(
            target.logs("jaeger"),
            "kubectl -n kneo-jaeger logs deployment/jaeger"
        );
        assert!(target.start_fix().contains("kubectl apply -k ."));
        assert!(!target.start_fix().contains("docker"));
    }

    #[test]
    fn endpoints_parse() {
        let e = Endpoint::parse("http://127.0.0.1:4318").unwrap();
        assert_eq!(e.traces_url(), "http://127.0.0.1:4318/v1/traces");
        assert!(e.is_loopback());
        let e = Endpoint::parse("http://localhost:4318/v1/traces").unwrap();
        assert_eq!(e.traces_url(), "http://localhost:4318/v1/traces");
        let e = Endpoint::parse("https://[::1]:4317/").unwrap();
        assert_eq!(
            (e.host.as_str(), e.port, e.path.as_str()),
            ("::1", 4317, "")
        );
        assert_eq!(e.base(), "https://[::1]:4317");
        let e = Endpoint::parse("http://otel.example/otlp").unwrap();
        assert_eq!(
            (e.port, e.traces_url().as_str()),
            (80, "http://otel.example:80/otlp/v1/traces")
        );
        assert!(!e.is_loopback());
        for bad in [
            "127.0.0.1:4318",
            "ftp://x",
            "http://:1",
            "http://x:0",
            "http://x:y",
            "http://u@x",
        ] {
            let error = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(error.contains(&format!("`{bad}`")), "{error}");
        }
    }
}
