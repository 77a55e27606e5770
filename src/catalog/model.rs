//! The catalog's types and the checks that make a catalog consistent: what
//! `templates/catalog.yaml` says, as data. Nothing here reaches into the rest of the crate, so
//! `build.rs` compiles this same file to parse and check the YAML at build time (an
//! inconsistent catalog fails the build with the messages below) and embeds the result.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Every backend kneo-otel can render, in catalog order.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// Files rendered for every backend (from `templates/common/`).
    pub common_files: BTreeMap<String, FileSpec>,
    /// The collector put in front of a backend by `--gateway` (or implied by `--redact`).
    pub gateway: Addon,
    /// `--expose`: the seed files (CA, certificate, token) the OTLP front door enforces.
    pub expose: Expose,
    /// What `--redact` removes from spans and span events.
    pub redaction: Redaction,
    /// OTLP message sizes every hop of a stack agrees on.
    pub otlp_limits: OtlpLimits,
    /// How long stored traces stay (`--set retention`), and the stores every stack has.
    pub retention: Retention,
    /// `--ci <provider>`: CI files that run `kneo-otel check`, rendered at the repository root.
    pub ci: BTreeMap<String, CiProvider>,
    /// `--target`: what a deployment runs on, by [`Target`] name.
    pub targets: BTreeMap<String, TargetSpec>,
    pub backends: Vec<Backend>,
    /// What `kneo-otel snippet` generates code against.
    pub snippets: Snippets,
}

/// The crates generated app code is written for, by language.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Snippets {
    pub rust: RustSnippet,
    pub python: PythonSnippet,
}

/// The Python module's packages, pinned to the versions CI runs it with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PythonSnippet {
    /// `name==version` requirement lines.
    pub packages: Vec<String>,
}

/// The Rust module's dependencies, pinned to the versions CI compiles.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RustSnippet {
    pub crates: Vec<CrateDep>,
}

/// One `[dependencies]` line of the generated module.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrateDep {
    pub name: String,
    pub version: String,
    #[serde(default)]
    pub features: Vec<String>,
    /// Extra features with `--ca-file`.
    #[serde(default)]
    pub tls_features: Vec<String>,
    #[serde(default = "default_true")]
    pub default_features: bool,
    /// Conditions that must all hold for the crate to be listed: `grpc` or `http` (the
    /// transport), `tracing` (--flavor tracing), `tls` (--ca-file), `crate` (the smoke crate's
    /// Cargo.toml only); empty: always.
    #[serde(default)]
    pub when: Vec<String>,
}

/// The conditions a [`CrateDep`] may name in `when`.
pub const CRATE_CONDITIONS: &[&str] = &["grpc", "http", "tracing", "tls", "crate"];

fn default_true() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn default_forward() -> String {
    "grpc".to_string()
}

/// One CI system's files, relative to the repository root.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CiProvider {
    /// Template folder under `templates/`.
    pub templates: String,
    pub files: BTreeMap<String, FileSpec>,
}

/// `did you mean `<shown>`? ` for the candidate whose compared name is most like `name`
/// (Jaro-Winkler above `min`), or nothing. Candidates are (compared, shown) pairs.
pub fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = (&'a str, &'a str)>,
    min: f64,
) -> String {
    candidates
        .into_iter()
        .map(|(compared, shown)| (strsim::jaro_winkler(name, compared), shown))
        .filter(|(score, _)| *score > min)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, shown)| format!("did you mean `{shown}`? "))
        .unwrap_or_default()
}

/// What a deployment runs on. The backends' config files are the same for every target.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Deserialize,
    Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// `docker compose up` on one machine.
    #[default]
    Compose,
    /// `kubectl apply -k` on a cluster.
    Kubernetes,
}

impl Target {
    pub const ALL: [Target; 2] = [Target::Compose, Target::Kubernetes];

    pub fn as_str(self) -> &'static str {
        match self {
            Target::Compose => "compose",
            Target::Kubernetes => "kubernetes",
        }
    }

    /// The target named `name`, or an error listing the valid names.
    pub fn parse(name: &str) -> Result<Target> {
        Target::ALL
            .into_iter()
            .find(|t| t.as_str() == name.to_ascii_lowercase())
            .with_context(|| {
                format!(
                    "unknown target `{name}`: use --target with one of {}",
                    Target::ALL.map(Target::as_str).join(", ")
                )
            })
    }
}

/// One target's own files and defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    pub title: String,
    /// Template folder under `templates/` with the target's own files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub templates: Option<String>,
    /// Whether a fresh folder gets the gateway (on backends that can have one).
    pub gateway: bool,
    /// The platform version the output is validated against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub files: BTreeMap<String, FileSpec>,
    /// Backend id → why this target does not render it.
    #[serde(default)]
    pub refuses: BTreeMap<String, String>,
    /// What the target's tool reads in the folder by itself besides the files rendered:
    /// `check` fails on any of it that kneo-otel did not write.
    #[serde(default)]
    pub reads: Reads,
}

/// Files and variables a target's tool picks up from the folder on its own.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reads {
    /// File name → why the tool reads it (docker compose prefers `compose.yaml`, merges
    /// override files).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// The env file the tool reads for its own settings and `${...}` values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,
    /// Prefixes of the env file's keys that change what the tool runs (`COMPOSE_FILE`, …).
    #[serde(default)]
    pub env_prefixes: Vec<String>,
}

/// Services, ports and files merged into a backend when an option asks for them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Addon {
    /// Template folder under `templates/`.
    pub templates: String,
    /// The add-on service that takes over the backend's OTLP ports.
    pub front_door: String,
    /// Container port the front door listens on, by protocol (`grpc`, `http`): the standard
    /// OTLP ports, whatever the backend behind it uses.
    pub listen: BTreeMap<String, u16>,
    pub images: BTreeMap<String, Image>,
    pub services: Vec<Service>,
    pub ports: BTreeMap<String, Port>,
    pub health: Vec<HealthProbe>,
    pub files: BTreeMap<String, FileSpec>,
    /// Named volumes the add-on's services write (see [`Backend::volumes`]).
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    /// Where the add-on keeps data (see [`Backend::stores`]).
    #[serde(default)]
    pub stores: Vec<Store>,
}

/// The files `--expose` adds: the front door's secrets, all seed files of one group.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expose {
    /// Template folder under `templates/`.
    pub templates: String,
    pub files: BTreeMap<String, FileSpec>,
}

/// GenAI content attributes `--redact` deletes; everything else (usage, operation, agent,
/// tool, model, provider) is kept.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// The `gen_ai.*` attributes that are not content: inside `gen_ai.*` every other key is
    /// deleted (fail closed).
    pub keep: Vec<String>,
    /// Whole-key RE2 patterns kept inside `gen_ai.*` (`gen_ai.usage.*`).
    pub keep_patterns: Vec<String>,
    /// Content keys of other conventions, deleted wherever they appear.
    pub delete: Vec<DeleteRule>,
}

/// One convention's content keys, as a whole-key RE2 pattern, with where they come from.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRule {
    pub pattern: String,
    pub source: String,
}

impl Redaction {
    /// Whether `--redact` deletes attribute `key` (before `--redact-keep`).
    pub fn deletes(&self, key: &str) -> bool {
        if key.starts_with("gen_ai.") {
            return !self.keep.iter().any(|k| k == key)
                && !self.keep_patterns.iter().any(|p| whole_match(p, key));
        }
        self.delete
            .iter()
            .any(|rule| whole_match(&rule.pattern, key))
    }
}

/// Whether the anchored pattern matches `key` whole (the catalog's patterns are `^…$`).
fn whole_match(pattern: &str, key: &str) -> bool {
    regex::Regex::new(pattern).is_ok_and(|re| re.is_match(key))
}

/// OTLP message sizes (MiB) every hop agrees on, so a large GenAI request is either carried
/// whole or refused to the app, never dropped between two services.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpLimits {
    /// Largest OTLP request (gRPC message, HTTP body) the service an app sends to accepts;
    /// the gateway also cuts its batches at this size.
    pub front_door_mib: u64,
    /// Receive limit of every service behind the gateway: a full batch plus framing.
    pub internal_mib: u64,
    /// Largest whole trace a backend that bounds traces (Tempo) keeps and returns by id.
    pub trace_mib: u64,
}

/// One deployable stack.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Backend {
    pub id: String,
    pub title: String,
    pub summary: String,
    /// Rough memory the running stack needs, shown in the picker.
    pub footprint: String,
    /// What one picks it for, in a few words (the picker's and `backends`' hint).
    pub view: String,
    /// The picker starts on this backend (exactly one has it).
    #[serde(default)]
    pub picker_default: bool,
    /// OTLP signals the stack accepts (`traces`, `metrics`, `logs`).
    pub signals: Vec<String>,
    /// Whether `--gateway` can put a collector in front of this backend.
    pub gateway: bool,
    /// The gateway is always rendered (the backend's own receivers do not hold the front
    /// door's limits, or do not listen on the standard ports).
    #[serde(default, skip_serializing_if = "is_false")]
    pub gateway_required: bool,
    /// The protocol the gateway forwards to this backend in (`grpc`, the default, or `http`).
    #[serde(default = "default_forward")]
    pub forward: String,
    /// With `--expose` the backend's own auth is on: the gateway sends the secret in this
    /// environment variable (from the seed `.env`) as a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_auth: Option<ForwardAuth>,
    /// Whether `--also <id>` may add this backend next to another one as a second destination.
    #[serde(default, skip_serializing_if = "is_false")]
    pub also: bool,
    pub images: BTreeMap<String, Image>,
    pub services: Vec<Service>,
    pub ports: BTreeMap<String, Port>,
    /// Named volumes whose data owner is known (from the image that seeds them).
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    /// Every place the backend keeps data: retention, bound on disk, what a full disk does.
    #[serde(default)]
    pub stores: Vec<Store>,
    pub ui: Vec<UiLink>,
    pub health: Vec<HealthProbe>,
    /// How `verify` looks a trace up by id; `None` when the stack has no query API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<QueryApi>,
    pub files: BTreeMap<String, FileSpec>,
    pub next_steps: Vec<String>,
    /// What running one instance means on a cluster and the upstream path beyond it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub beyond_one: Option<String>,
    /// Ready-made queries for the GenAI attributes, printed in the generated README.
    #[serde(default)]
    pub queries: Vec<SavedQuery>,
    /// Upstream's rules on which image versions run together.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub compat: Vec<CompatRule>,
    /// Files a one-shot service downloads, by name, with the digests they must have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub downloads: BTreeMap<String, Download>,
}

/// When the `subject` image's tag matches `when`, the `target` image's tag must match
/// `requires` (upstream's compatibility matrix, e.g. SigNoz Foundry's `compat.go`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompatRule {
    /// Key into [`Backend::images`].
    pub subject: String,
    /// Version constraint on the subject's tag: `op version`, comma-separated (all hold).
    pub when: String,
    /// Key into [`Backend::images`].
    pub target: String,
    /// Version constraint the target's tag must then meet.
    pub requires: String,
    /// The upstream file the rule comes from.
    pub source: String,
}

/// A file fetched at run time, refused unless its sha256 is the one recorded for the
/// machine's architecture.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Download {
    /// The folder URL the file is downloaded from.
    pub release: String,
    /// The file's name in it; `{arch}` stands for `amd64` or `arm64`.
    pub file: String,
    /// Architecture -> lowercase hex sha256 of the file.
    pub sha256: BTreeMap<String, String>,
    /// Where the file is built and how the digests were obtained.
    pub source: String,
}

/// Whether `tag` (a leading `v` and a `-variant` aside) meets `constraint`: one or more
/// `op version` (`=`, `>`, `>=`, `<`, `<=`) separated by commas, all of which must hold.
pub fn version_matches(tag: &str, constraint: &str) -> Result<bool> {
    let have = parse_version(tag).with_context(|| {
        format!("tag `{tag}` is not a dotted version a compat rule can compare")
    })?;
    for part in constraint.split(',').map(str::trim) {
        let split = part.find(|c: char| c.is_ascii_digit() || c == 'v');
        let (op, version) = part.split_at(split.unwrap_or(part.len()));
        let want = parse_version(version).with_context(|| {
            format!("compat constraint `{constraint}`: `{part}` has no version")
        })?;
        let ordering = compare_versions(&have, &want);
        let holds = match op.trim() {
            "=" => ordering.is_eq(),
            ">" => ordering.is_gt(),
            ">=" => ordering.is_ge(),
            "<" => ordering.is_lt(),
            "<=" => ordering.is_le(),
            other => {
                bail!("compat constraint `{constraint}`: operator `{other}`; use =, >, >=, < or <=")
            }
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn parse_version(text: &str) -> Option<Vec<u64>> {
    let text = text.trim();
    let text = text.strip_prefix('v').unwrap_or(text);
    let numeric = text.split('-').next()?;
    numeric.split('.').map(|n| n.parse().ok()).collect()
}

fn compare_versions(a: &[u64], b: &[u64]) -> std::cmp::Ordering {
    let len = a.len().max(b.len());
    let at = |v: &[u64], i: usize| v.get(i).copied().unwrap_or(0);
    (0..len)
        .map(|i| at(a, i).cmp(&at(b, i)))
        .find(|o| o.is_ne())
        .unwrap_or(std::cmp::Ordering::Equal)
}

/// One query a user can paste into the backend's UI.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SavedQuery {
    pub title: String,
    pub query: String,
}

/// A container image, pinned to an explicit tag.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub repository: String,
    pub tag: String,
    /// What a change of its tag does to stored data (`init` says it before writing).
    pub upgrade: String,
}

/// A compose service and the limits it runs with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub name: String,
    /// Key into [`Backend::images`].
    pub image: String,
    pub memory: String,
    pub cpus: String,
    /// `GOMEMLIMIT` for Go services, about 80% of `memory`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gomemlimit: Option<String>,
    /// Numeric `uid:gid` Kubernetes pods run as (`runAsNonRoot` holds; lint `k8s-high-uid`
    /// wants a uid of 10000 or more), one the image works under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Stateless and scalable: the default replica count (`--set replicas.<name>=N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// The only target that runs this service (a compose one-shot job); `None`: every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
    pub role: String,
    /// Its compose service has a healthcheck, so the gateway waits until it passes
    /// (`service_healthy`; lint rule `depends-on-healthy` holds the two together).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub healthcheck: bool,
    /// Receive limits of an OTLP receiver whose configuration kneo-otel does not render (its
    /// program fixes them); written into the compose file for lint rule `hop-message-sizes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp_receive: Option<OtlpReceive>,
}

/// How the gateway authenticates to a backend whose auth `--expose` turns on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ForwardAuth {
    /// Environment variable (set from `.env`) holding the bearer token.
    pub env: String,
}

/// The largest OTLP request a service takes, by protocol (MiB); `None`: no limit.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpReceive {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_mib: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_mib: Option<u64>,
}

/// A port a service listens on and the host port it is published on.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Port {
    pub service: String,
    pub container: u16,
    pub host: u16,
    pub purpose: String,
    /// Set on the OTLP front door: `grpc` or `http`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp: Option<String>,
    /// Host address it is published on (`127.0.0.1` or `0.0.0.0`); set by the render context,
    /// never in the catalog.
    #[serde(default, skip_deserializing, skip_serializing_if = "String::is_empty")]
    pub bind: String,
}

/// Every named volume has a store saying how long its data stays, and every store says how
/// its facts are known.
fn validate_stores(stores: &[Store], volumes: &BTreeMap<String, Volume>) -> Result<()> {
    for store in stores {
        if !["measured", "source-checked", "estimate"].contains(&store.checked.as_str()) {
            bail!(
                "store `{}` has checked `{}`; use measured, source-checked or estimate",
                store.name,
                store.checked
            );
        }
    }
    for name in volumes.keys() {
        if !stores.iter().any(|s| &s.name == name) {
            bail!(
                "volume `{name}` has no store: add its retention, bound and when_full under stores"
            );
        }
    }
    Ok(())
}

/// `--set retention=<days>`: the default, the most it takes, and the stores every stack has.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    pub default_days: u32,
    pub max_days: u32,
    pub stores: Vec<Store>,
}

/// One place a stack keeps data, as the user needs to know it: how long it stays, how large
/// it can grow, what a full disk does, and how that is known.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Store {
    /// The named volume (or a plain name where there is none).
    pub name: String,
    /// A few words for `kneo-otel backends` (`{days}` as in `retention`).
    pub brief: String,
    pub holds: String,
    /// How long data stays; `{days}` is replaced by the retention days.
    pub retention: String,
    /// The render writes the retention days into the program's own setting.
    #[serde(default, skip_serializing_if = "is_false")]
    pub follows_retention: bool,
    pub bound: String,
    pub when_full: String,
    /// `measured` (on the Docker Engine), `source-checked` or `estimate`.
    pub checked: String,
    pub source: String,
    /// Only this target has the store (default: both).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

impl Store {
    /// Whether a `target` deployment has this store.
    pub fn on(&self, target: Target) -> bool {
        self.target.is_none_or(|t| t == target)
    }

    /// This store with the retention days filled in.
    pub fn with_days(&self, days: u32) -> Store {
        Store {
            retention: self.retention.replace("{days}", &days.to_string()),
            brief: self.brief.replace("{days}", &days.to_string()),
            ..self.clone()
        }
    }
}

/// A named volume and who owns its data.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// `uid:gid` of the data: Docker copies the image folder the volume is first mounted on,
    /// owner included, into a new volume.
    pub owner: String,
    /// Where that owner comes from (the image's Dockerfile), printed beside it.
    pub source: String,
    /// Storage a Kubernetes volume claim asks for (`10Gi`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// An image key of the stack whose image has `tar`: the generated README backs the
    /// volume up and restores it with it (no image the user lacks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_image: Option<String>,
    /// The container path it is mounted on, when more than one template names it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// A web UI the user opens after `docker compose up`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UiLink {
    pub name: String,
    /// Key into [`Backend::ports`].
    pub port: String,
    pub path: String,
}

/// An HTTP endpoint that answers 200 when a service is healthy.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthProbe {
    pub name: String,
    pub port: String,
    pub path: String,
    /// What a healthy answer's body says.
    pub expect: Expect,
}

/// What a health endpoint's body must say: a JSON value at a pointer (present, or equal to a
/// string), or a plain-text body. A 2xx status alone proves nothing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// JSON pointer (RFC 6901) that must exist in a JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<String>,
    /// The value at `json` (a string, number or boolean).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<serde_json::Value>,
    /// The whole body, surrounding whitespace aside.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Expect {
    /// `Ok` with what was read when `body` says it, else why not.
    pub fn check(&self, body: &[u8]) -> Result<String, String> {
        if let Some(text) = &self.text {
            let got = String::from_utf8_lossy(body);
            return if got.trim() == text {
                Ok(format!("body {text:?}"))
            } else {
                Err(format!("the body is not {text:?}"))
            };
        }
        let Some(pointer) = &self.json else {
            return Err("the catalog names nothing to expect".into());
        };
        let json: serde_json::Value =
            serde_json::from_slice(body).map_err(|_| "the body is not JSON".to_string())?;
        let Some(value) = json.pointer(pointer) else {
            return Err(format!("the JSON has no {pointer}"));
        };
        match &self.equals {
            None if pointer.is_empty() => Ok("a JSON body".to_string()),
            None => Ok(format!("{pointer} present")),
            Some(want) if value == want => Ok(format!("{pointer}: {value}")),
            Some(want) => Err(format!("{pointer} is {value}, not {want}")),
        }
    }
}

/// An HTTP API that returns one trace by its id, for `verify`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct QueryApi {
    /// The response format.
    pub kind: QueryKind,
    /// Key into [`Backend::ports`].
    pub port: String,
    /// Request path; `{id}` stands for the trace id in lowercase hex.
    pub path: String,
    /// Set when the API refuses requests without an API key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<ApiKey>,
    /// With `--expose` (auth on), the bearer token the API wants: a value of a seed file in
    /// the stack's folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposed_bearer: Option<SeedValue>,
}

/// One `KEY=value` line of a seed file (`.env`) in the stack's folder.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SeedValue {
    pub file: String,
    pub key: String,
}

/// Response formats of trace-by-id APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryKind {
    /// Jaeger api_v3 `GetTrace`: OTLP JSON under `result.resourceSpans`.
    JaegerV3,
    /// Tempo `/api/v2/traces/{id}`: OTLP JSON under `trace.resourceSpans`.
    TempoV2,
    /// SigNoz `/api/v1/traces/{id}`: span rows under `events`, one row a span.
    SignozV1,
    /// Phoenix `/v1/projects/{project}/spans?trace_id={id}`: spans under `data`, each with
    /// `context.trace_id` in hex.
    PhoenixV1,
}

/// The header an API key goes in and how a user gets one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKey {
    pub header: String,
    /// How to pass the key to kneo-otel, e.g. `--signoz-api-key KEY or SIGNOZ_API_KEY`.
    pub pass: String,
    /// Where to create one.
    pub create: String,
}

/// Whether kneo-otel owns a file's content after writing it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// Regenerated and compared by `check`.
    #[default]
    Managed,
    /// Written once (it holds generated secrets), never compared or overwritten.
    Seed,
}

/// What the catalog says about one generated file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FileSpec {
    pub role: String,
    #[serde(default)]
    pub kind: FileKind,
    /// Unix permission bits; `None` leaves the process umask in charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<u32>,
    /// Seed files of one group are made together (a certificate and its key): with one of
    /// them on disk, a missing one is refused rather than made anew and unmatched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The only target that renders this file; `None`: every target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<Target>,
}

impl Catalog {
    /// What the catalog makes of a folder path in any render — any backend, add-on or
    /// target — `None` for a path no render produces. A manifest record must agree with it:
    /// the folder is untrusted, so what a file is follows from here, never from its record.
    pub fn kind_of(&self, path: &str) -> Option<FileKind> {
        let specs = self
            .common_files
            .iter()
            .chain(&self.gateway.files)
            .chain(&self.expose.files)
            .chain(self.targets.values().flat_map(|t| &t.files))
            .chain(self.backends.iter().flat_map(|b| &b.files));
        let mut kind = None;
        for (name, spec) in specs {
            if name == path {
                // A path that is a seed anywhere is a seed: it may hold a secret.
                if kind != Some(FileKind::Seed) {
                    kind = Some(spec.kind);
                }
            }
        }
        kind
    }

    /// Parses the catalog's YAML and checks its internal references: what `build.rs` runs on
    /// `templates/catalog.yaml` (the build fails on an error) and the tests run on edited copies.
    pub fn from_yaml(text: &str) -> Result<Self> {
        let mut catalog: Catalog =
            serde_yaml::from_str(text).context("templates/catalog.yaml does not parse")?;
        // A target's own files are that target's only.
        for (name, spec) in &mut catalog.targets {
            let target = Target::parse(name).with_context(|| format!("catalog: targets.{name}"))?;
            for file in spec.files.values_mut() {
                file.target = Some(target);
            }
        }
        validate_stores(&catalog.gateway.stores, &catalog.gateway.volumes)
            .context("catalog: gateway")?;
        validate_stores(&catalog.retention.stores, &BTreeMap::new())
            .context("catalog: retention")?;
        for backend in &catalog.backends {
            backend
                .validate()
                .with_context(|| format!("catalog entry `{}` is inconsistent", backend.id))?;
        }
        let firsts = catalog.backends.iter().filter(|b| b.picker_default).count();
        if firsts != 1 {
            bail!(
                "catalog: {firsts} backends have picker_default: true; exactly one starts the picker"
            );
        }
        for target in Target::ALL {
            if !catalog.targets.contains_key(target.as_str()) {
                bail!("catalog: target `{}` is missing", target.as_str());
            }
        }
        for dep in &catalog.snippets.rust.crates {
            if let Some(when) = dep
                .when
                .iter()
                .find(|w| !CRATE_CONDITIONS.contains(&w.as_str()))
            {
                bail!(
                    "catalog: snippet crate `{}` has when `{when}`; use {}",
                    dep.name,
                    CRATE_CONDITIONS.join(", ")
                );
            }
        }
        Ok(catalog)
    }

    /// The backend with this id, or an error listing the valid ids.
    pub fn backend(&self, id: &str) -> Result<&Backend> {
        match self.backends.iter().find(|b| b.id == id) {
            Some(backend) => Ok(backend),
            None => {
                let closest = did_you_mean(
                    &id.to_ascii_lowercase(),
                    self.ids().into_iter().map(|known| (known, known)),
                    0.8,
                );
                bail!(
                    "unknown backend `{id}`: {closest}use --backend with one of {}",
                    self.ids().join(", ")
                )
            }
        }
    }

    /// What the catalog says about a target.
    pub fn target(&self, target: Target) -> &TargetSpec {
        &self.targets[target.as_str()]
    }

    pub fn ids(&self) -> Vec<&str> {
        self.backends.iter().map(|b| b.id.as_str()).collect()
    }
}

impl Backend {
    /// This backend with an add-on merged in: the add-on's service takes over the OTLP ports.
    pub fn with_addon(&self, addon: &Addon) -> Backend {
        let mut merged = self.clone();
        merged.images.extend(addon.images.clone());
        merged.services.extend(addon.services.clone());
        for port in merged.ports.values_mut() {
            if let Some(protocol) = &port.otlp {
                port.service = addon.front_door.clone();
                if let Some(listen) = addon.listen.get(protocol) {
                    port.container = *listen;
                }
            }
        }
        merged.ports.extend(addon.ports.clone());
        merged.health.extend(addon.health.clone());
        merged.files.extend(addon.files.clone());
        merged.volumes.extend(addon.volumes.clone());
        merged.stores.extend(addon.stores.clone());
        merged
    }

    /// This backend with `other` running next to it as a second destination (`--also`): its
    /// services, images, volumes, UI links and health checks, and its ports and files apart
    /// from its OTLP receivers (the gateway fronts both) and its compose file (which this
    /// backend's compose file takes its services into).
    pub fn with_also(&self, other: &Backend) -> Backend {
        let mut merged = self.clone();
        merged.images.extend(other.images.clone());
        merged.services.extend(other.services.clone());
        merged.ports.extend(
            other
                .ports
                .iter()
                .filter(|(_, port)| port.otlp.is_none())
                .map(|(key, port)| (key.clone(), port.clone())),
        );
        merged.volumes.extend(other.volumes.clone());
        merged.stores.extend(other.stores.clone());
        merged.ui.extend(other.ui.clone());
        merged.health.extend(other.health.clone());
        merged.next_steps.extend(other.next_steps.clone());
        for (path, spec) in &other.files {
            if path == COMPOSE_FILE {
                continue;
            }
            // A file both render (the seed `.env`) holds both parts, this backend's first.
            merged
                .files
                .entry(path.clone())
                .and_modify(|mine| mine.role = format!("{}; {}", mine.role, spec.role))
                .or_insert_with(|| spec.clone());
        }
        merged
    }

    /// The port an app exports OTLP to with this protocol (`grpc` or `http`).
    pub fn otlp_port(&self, protocol: &str) -> Option<(&str, &Port)> {
        self.ports
            .iter()
            .find(|(_, p)| p.otlp.as_deref() == Some(protocol))
            .map(|(k, p)| (k.as_str(), p))
    }

    /// The image tags these rules refuse together, `tags` being every image's tag. With
    /// `covered`, a subject's tag that no rule's `when` matches is refused too (the catalog's
    /// own pins must each rest on a rule; a user's `--set` only has to meet the rules).
    pub fn check_compat(&self, tags: &BTreeMap<String, String>, covered: bool) -> Result<()> {
        let tag = |key: &str| {
            tags.get(key)
                .map(String::as_str)
                .with_context(|| format!("compat rule names unknown image `{key}`"))
        };
        for rule in &self.compat {
            let subject = tag(&rule.subject)?;
            let target = tag(&rule.target)?;
            if version_matches(subject, &rule.when)? && !version_matches(target, &rule.requires)? {
                let fix = match rule.requires.strip_prefix('=') {
                    Some(exact) if !rule.requires.contains(',') => {
                        format!("use images.{}={}", rule.target, exact.trim())
                    }
                    _ => format!("use an images.{} tag {}", rule.target, rule.requires),
                };
                bail!(
                    "images.{}={target} does not run with images.{}={subject}: {} {} needs {} {} (catalog compat, {}); {fix}, or change both",
                    rule.target,
                    rule.subject,
                    rule.subject,
                    rule.when,
                    rule.target,
                    rule.requires,
                    self.id
                );
            }
        }
        if covered {
            let mut subjects: Vec<&str> = self.compat.iter().map(|r| r.subject.as_str()).collect();
            subjects.sort_unstable();
            subjects.dedup();
            for subject in subjects {
                let have = tag(subject)?;
                let mut rules = self.compat.iter().filter(|r| r.subject == subject);
                if !rules.try_fold(false, |any, r| {
                    Ok::<_, anyhow::Error>(any || version_matches(have, &r.when)?)
                })? {
                    bail!(
                        "images.{subject}={have}: no compat rule of {} covers this version; read upstream's compatibility rules for it and add one to the catalog's compat",
                        self.id
                    );
                }
            }
        }
        Ok(())
    }

    fn validate(&self) -> Result<()> {
        for service in &self.services {
            if !self.images.contains_key(&service.image) {
                bail!(
                    "service `{}` uses unknown image `{}`",
                    service.name,
                    service.image
                );
            }
        }
        for (key, port) in &self.ports {
            if !self.services.iter().any(|s| s.name == port.service) {
                bail!("port `{key}` names unknown service `{}`", port.service);
            }
            if let Some(protocol) = &port.otlp
                && protocol != "grpc"
                && protocol != "http"
            {
                bail!("port `{key}` has otlp `{protocol}`; use grpc or http");
            }
        }
        let port_refs = self.ui.iter().map(|u| &u.port);
        let port_refs = port_refs.chain(self.health.iter().map(|h| &h.port));
        for port in port_refs.chain(self.query.iter().map(|q| &q.port)) {
            if !self.ports.contains_key(port) {
                bail!("ui/health/query entry names unknown port `{port}`");
            }
        }
        if let Some(query) = &self.query
            && !query.path.contains("{id}")
        {
            bail!("query path `{}` has no `{{id}}`", query.path);
        }
        let http_api_ports = self.health.iter().map(|h| &h.port);
        for port in http_api_ports.chain(self.query.iter().map(|q| &q.port)) {
            if self.ports[port].otlp.is_some() {
                bail!("health/query entry names the OTLP port `{port}`; use an HTTP API port");
            }
        }
        for probe in &self.health {
            let e = &probe.expect;
            if e.json.is_some() == e.text.is_some() || (e.equals.is_some() && e.json.is_none()) {
                bail!(
                    "health entry `{}`: expect one of json (with optional equals) or text",
                    probe.name
                );
            }
        }
        for (key, image) in &self.images {
            validate_tag(&format!("images.{key}"), &image.tag)?;
        }
        validate_stores(&self.stores, &self.volumes)?;
        if self.otlp_port(&self.forward).is_none() {
            bail!(
                "forward `{}` names no OTLP port of this backend; use grpc or http",
                self.forward
            );
        }
        if self.gateway_required && !self.gateway {
            bail!("gateway_required needs gateway: true");
        }
        let tags = self
            .images
            .iter()
            .map(|(key, image)| (key.clone(), image.tag.clone()))
            .collect();
        self.check_compat(&tags, true)?;
        for (name, download) in &self.downloads {
            if !download.file.contains("{arch}") || download.sha256.is_empty() {
                bail!(
                    "download `{name}`: its file needs `{{arch}}` and sha256 a digest for each arch"
                );
            }
            for (arch, digest) in &download.sha256 {
                let hex = digest
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
                if digest.len() != 64 || !hex || !matches!(arch.as_str(), "amd64" | "arm64") {
                    bail!(
                        "download `{name}`: sha256.{arch} `{digest}`; use amd64 or arm64 with 64 lowercase hex digits"
                    );
                }
            }
        }
        for (name, volume) in &self.volumes {
            let numeric = |id: &str| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
            if !matches!(volume.owner.split_once(':'), Some((uid, gid)) if numeric(uid) && numeric(gid))
            {
                bail!(
                    "volume `{name}` has owner `{}`; use numeric uid:gid",
                    volume.owner
                );
            }
        }
        Ok(())
    }
}

/// File name of the manifest inside the output folder.
pub const MANIFEST_FILE: &str = "kneo-otel.yaml";

/// The compose file of every compose render: what Compose reads first in the folder.
pub const COMPOSE_FILE: &str = "docker-compose.yml";

/// Words that name a tag that moves: a later pull gets another image.
const FLOATING: &[&str] = &[
    "latest", "nightly", "edge", "main", "master", "dev", "develop", "stable", "current", "lts",
    "next", "canary", "rolling", "snapshot", "unstable", "head", "trunk",
];

/// Whether a tag pins a version: it has a version number (a digit) and none of its words
/// (between `.`, `-`, `_`) is one that moves (`latest`, `nightly`, `edge`, `main`, ...).
/// `2.20.0`, `v0.143.0`, `version-20.26.1-nonroot` pin; `nightly`, `alpine`, `1-latest` do not.
pub fn pins_a_version(tag: &str) -> bool {
    tag.chars().any(|c| c.is_ascii_digit())
        && !tag
            .split(['.', '-', '_'])
            .any(|word| FLOATING.iter().any(|f| word.eq_ignore_ascii_case(f)))
}

/// An image tag must be explicit: Docker's tag grammar, and a version ([`pins_a_version`]).
pub fn validate_tag(what: &str, tag: &str) -> Result<()> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let well_formed = !tag.is_empty()
        && tag.len() <= 128
        && tag.chars().all(ok_char)
        && !tag.starts_with(['.', '-']);
    if !well_formed {
        bail!("invalid image tag {what}={tag:?}: use an explicit version such as 1.2.3");
    }
    if !pins_a_version(tag) {
        bail!(
            "image tag {what}={tag} is not pinned (it names no version, or one that moves like latest, nightly, edge, main): pin an explicit version such as 1.2.3"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect_of(backend: &str, name: &str) -> Expect {
        let catalog = Catalog::load().unwrap();
        let backend = catalog.backend(backend).unwrap();
        let probe = backend.health.iter().find(|h| h.name == name).unwrap();
        probe.expect.clone()
    }

    #[test]
    fn health_bodies_are_parsed_as_the_catalog_expects() {
        // Bodies as the real servers write them (collector health_check README, healthcheckv2
        // serialization.go, Tempo, Grafana).
        let collector =
            br#"{"status":"Server available","upSince":"2024-10-07T11:00:08Z","uptime":"12.5s"}"#;
        assert!(expect_of("collector", "collector").check(collector).is_ok());
        let jaeger = br#"{"start_time":"2026-01-01T00:00:00Z","healthy":true,"status":"StatusOK","status_time":"2026-01-01T00:00:01Z","components":{}}"#;
        assert!(expect_of("jaeger", "jaeger").check(jaeger).is_ok());
        let starting =
            br#"{"healthy":false,"status":"StatusStarting","status_time":"2026-01-01T00:00:01Z"}"#;
        assert!(expect_of("jaeger", "jaeger").check(starting).is_err());
        assert!(expect_of("tempo", "tempo").check(b"ready\n").is_ok());
        assert!(
            expect_of("tempo", "tempo")
                .check(b"Ingester not ready: waiting for 15s after being ready")
                .is_err()
        );
        let grafana = br#"{"commit":"abc","database":"ok","version":"13.1.3"}"#;
        assert!(expect_of("tempo", "grafana").check(grafana).is_ok());
        for garbage in [&b"<html>ok</html>"[..], b"", b"{}", b"[1]"] {
            assert!(expect_of("collector", "collector").check(garbage).is_err());
        }
    }

    #[test]
    fn volume_owners_are_numeric_uid_gid() {
        let catalog = Catalog::load().unwrap();
        let mut signoz = catalog.backend("signoz").unwrap().clone();
        assert_eq!(signoz.volumes["keeper-data"].owner, "101:101");
        for bad in ["clickhouse", "101", "101:", ":101", "clickhouse:clickhouse"] {
            signoz.volumes.get_mut("keeper-data").unwrap().owner = bad.to_string();
            let err = signoz.validate().unwrap_err().to_string();
            assert!(
                err.contains("keeper-data") && err.contains(bad),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn every_volume_has_a_store_and_every_store_says_how_it_is_known() {
        let catalog = Catalog::load().unwrap();
        let mut phoenix = catalog.backend("phoenix").unwrap().clone();
        assert!(phoenix.stores.iter().any(|s| s.follows_retention));
        phoenix.stores[0].checked = "guessed".to_string();
        let err = phoenix.validate().unwrap_err().to_string();
        assert!(err.contains("guessed"), "{err}");
        phoenix.stores.clear();
        let err = phoenix.validate().unwrap_err().to_string();
        assert!(err.contains("volume `phoenix-data` has no store"), "{err}");
    }

    #[test]
    fn versions_compare_by_number_with_a_v_and_variant_aside() {
        for (tag, constraint, want) in [
            ("v0.144.15", ">0.144.5, <=0.144.15", true),
            ("v0.144.16", ">0.144.5, <=0.144.15", false),
            ("v0.144.5", ">0.144.5", false),
            ("0.144.10", ">0.144.9", true),
            ("25.12.5", "=25.12.5", true),
            ("25.12.5.1", "=25.12.5", false),
            ("25.12.5-alpine", "=25.12.5", true),
            ("25.12", "=25.12.0", true),
            ("25.5.6", ">=25.12.5", false),
        ] {
            assert_eq!(
                version_matches(tag, constraint).unwrap(),
                want,
                "{tag} {constraint}"
            );
        }
        assert!(version_matches("latest", "=1").is_err());
        assert!(version_matches("1.0", "~1.0").is_err());
    }

    /// SigNoz's three pins hold each other (Foundry's compat rule, Keeper = the server's
    /// release): moving any one of them alone is refused, naming that image.
    #[test]
    fn signoz_pins_break_when_any_one_moves_alone() {
        let catalog = Catalog::load().unwrap();
        let signoz = catalog.backend("signoz").unwrap();
        signoz.validate().unwrap();
        for (key, bumped, named) in [
            (
                "signoz-otel-collector",
                "v0.144.16",
                "images.signoz-otel-collector=v0.144.16",
            ),
            ("clickhouse", "25.12.6", "images.clickhouse=25.12.6"),
            ("keeper", "25.12.6", "images.keeper=25.12.6"),
            ("clickhouse", "25.5.6", "images.clickhouse=25.5.6"),
        ] {
            let mut moved = signoz.clone();
            moved.images.get_mut(key).unwrap().tag = bumped.to_string();
            let err = moved.validate().unwrap_err().to_string();
            assert!(err.contains(named), "{key}={bumped}: {err}");
        }
        // All three moved together to a pair a rule covers is accepted.
        let mut older = signoz.clone();
        older.compat[0].when = ">0.144.5, <=0.144.16".into();
        older.images.get_mut("signoz-otel-collector").unwrap().tag = "v0.144.16".into();
        older.validate().unwrap();
    }

    #[test]
    fn download_digests_are_sha256_hex_per_arch() {
        let catalog = Catalog::load().unwrap();
        let mut signoz = catalog.backend("signoz").unwrap().clone();
        let download = signoz.downloads.get_mut("histogram-quantile").unwrap();
        assert_eq!(download.sha256.len(), 2);
        download
            .sha256
            .insert("amd64".into(), "33997073EB6D".into());
        let err = signoz.validate().unwrap_err().to_string();
        assert!(
            err.contains("sha256.amd64") && err.contains("33997073EB6D"),
            "{err}"
        );
    }
}
