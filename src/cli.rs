//! Command-line interface: every clap type. Doc comments are the help text.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub use crate::domain::{Flavor, Format, Lang, Protocol};

/// Self-hosted tracing in one command: render a ready-to-run, hardened docker compose stack
/// or Kubernetes kustomization (Arize Phoenix, Jaeger, Tempo + Grafana, SigNoz or the
/// OpenTelemetry Collector) for an OTLP app.
///
/// Exit codes: 0 success; 1 `check` found drift or a `verify` check failed; 2 error (bad input,
/// lint failure, conflict).
#[derive(Debug, Parser)]
#[command(name = "kneo-otel", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Parses the command line. A `--dir` left at its default becomes the current folder when
/// that holds a `kneo-otel.yaml`, so every command works from inside a generated folder.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    let mut cli = Cli::from_arg_matches(&matches)?;
    if dir_defaulted(&matches)
        && std::path::Path::new(crate::manifest::MANIFEST_FILE).is_file()
        && let Some(dir) = cli.command.dir_mut()
    {
        *dir = PathBuf::from(".");
    }
    Ok(cli)
}

fn dir_defaulted(matches: &ArgMatches) -> bool {
    matches.subcommand().is_some_and(|(_, sub)| {
        sub.ids().any(|id| id == "dir")
            && sub.value_source("dir") == Some(ValueSource::DefaultValue)
    })
}

/// Whether a command line asks for JSON output, read from the raw words: also usable when
/// clap refused the line, so that error can be JSON too.
pub fn wants_json(args: &[OsString]) -> bool {
    args.iter().enumerate().any(|(at, arg)| {
        arg == "--format=json"
            || (arg == "--format" && args.get(at + 1).is_some_and(|next| next == "json"))
    })
}

/// The embedded catalog for the command definition (`None` if it is broken: the command
/// itself then reports why).
fn catalog() -> Option<&'static crate::catalog::Catalog> {
    static CATALOG: OnceLock<Option<crate::catalog::Catalog>> = OnceLock::new();
    CATALOG
        .get_or_init(|| crate::catalog::Catalog::load().ok())
        .as_ref()
}

/// The backend ids of the catalog as clap values: completions offer them, `--help` lists
/// them, any case is accepted (and folded), a typo gets clap's "a similar value exists".
fn backend_parser() -> impl TypedValueParser<Value = String> {
    let ids: Vec<String> = catalog()
        .map(|catalog| catalog.ids().iter().map(|id| id.to_string()).collect())
        .unwrap_or_default();
    PossibleValuesParser::new(ids).map(|id| id.to_ascii_lowercase())
}

/// `--set KEY=VALUE`: any text (checked against the chosen backend later), but completion
/// scripts are offered every key of every backend (`ports.ui=`, `expose=true`, ...).
#[derive(Clone)]
struct SetParser;

impl TypedValueParser for SetParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        let catalog = catalog()?;
        let keys = crate::set::completions(catalog, catalog.backends.iter());
        Some(Box::new(keys.into_iter().map(PossibleValue::new)))
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write (or update) a deployment into a folder; asks for the backend in a terminal.
    Init(InitArgs),
    /// List the backends kneo-otel can render.
    Backends(BackendsArgs),
    /// Compare a generated folder with a fresh render; exit 1 on any drift (for CI).
    Check(CheckArgs),
    /// Hand one generated file to you: kneo-otel stops writing and checking it.
    Eject(EjectArgs),
    /// Print a shell completion script, e.g. `source <(kneo-otel completions bash)`.
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page a subcommand with --out-dir.
    Man(ManArgs),
    /// Check a running stack end to end: ports, health, a test trace in and back out by its id.
    Verify(VerifyArgs),
    /// Print (or write) a Rust or Python module that sends your app's spans to the stack over OTLP.
    Snippet(SnippetArgs),
}

impl Command {
    /// The `--dir` of commands that work on a generated folder.
    pub fn dir_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Command::Init(args) => Some(&mut args.dir),
            Command::Check(args) => Some(&mut args.dir),
            Command::Eject(args) => Some(&mut args.dir),
            Command::Verify(args) => Some(&mut args.dir),
            Command::Snippet(args) => Some(&mut args.dir),
            Command::Backends(_) | Command::Completions(_) | Command::Man(_) => None,
        }
    }

    /// The output format the command was asked for.
    pub fn format(&self) -> Format {
        match self {
            Command::Init(args) => args.format,
            Command::Backends(args) => args.format,
            Command::Check(args) => args.format,
            Command::Verify(args) => args.format,
            _ => Format::Text,
        }
    }
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Backend to render (any case; see `kneo-otel backends`).
    #[arg(long, short, ignore_case = true, value_parser = backend_parser())]
    pub backend: Option<String>,
    /// Output folder; created when writing starts. Re-running in a folder with a
    /// kneo-otel.yaml re-renders from it. Default: the current folder when it holds a
    /// kneo-otel.yaml, else observability.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// The service.name your app reports (letters, digits, `.`, `_`, `-`; at most 64).
    #[arg(long)]
    pub service_name: Option<String>,
    /// Accept OTLP from other machines: 4317/4318 on all interfaces with TLS and a bearer
    /// token (generated into secrets/); the UIs (plain HTTP) stay on 127.0.0.1.
    #[arg(long)]
    pub expose: bool,
    /// With --expose: also publish the UIs and APIs (Grafana, Jaeger UI, Tempo API, health
    /// endpoints) on all interfaces, over plain HTTP: put them behind a TLS proxy.
    #[arg(long)]
    pub expose_ui: bool,
    /// Put an OpenTelemetry Collector in front of the backend (jaeger, tempo, signoz): the only
    /// service publishing 4317/4318; it forwards over the compose network.
    #[arg(long)]
    pub gateway: bool,
    /// Delete GenAI message content (gen_ai.input.messages, ..., gen_ai.prompt*) from spans,
    /// span events and logs in the collector; implies --gateway on jaeger, tempo and signoz.
    #[arg(long)]
    pub redact: bool,
    /// With --redact: keep this content attribute after all (repeatable).
    #[arg(long, value_name = "KEY")]
    pub redact_keep: Vec<String>,
    /// Run a second backend next to this one (jaeger, tempo, signoz): `phoenix`. The gateway
    /// sends every span to both; --redact applies to the chosen backend only. `none` removes it.
    #[arg(long, value_name = "ID")]
    pub also: Option<String>,
    /// Also write a CI workflow running `kneo-otel check` on this folder at the root of the git
    /// repository that holds it: `github`; `none` removes it again.
    #[arg(long, value_name = "PROVIDER")]
    pub ci: Option<String>,
    /// What the deployment runs on: compose (docker compose, default) or kubernetes
    /// (`kubectl apply -k`; the gateway is on by default). Recorded in kneo-otel.yaml.
    #[arg(long, value_enum)]
    pub target: Option<crate::catalog::Target>,
    /// Change one answer: backend, service_name, expose, expose.ui, expose.hosts=<a,b>,
    /// gateway, redact, also, ports.<key>=<n>, images.<key>=<tag>, replicas.gateway=<n>
    /// (kubernetes).
    #[arg(
        long = "set",
        value_name = "KEY=VALUE",
        value_parser = SetParser,
        hide_possible_values = true
    )]
    pub set: Vec<String>,
    /// Overwrite managed files you edited (seed files such as .env are never overwritten).
    #[arg(long)]
    pub force: bool,
    /// Print what would change, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run (or alone): add a unified diff for each changed file.
    #[arg(long)]
    pub diff: bool,
    /// text for people, or json: one object with schema_version, for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BackendsArgs {
    /// text for people, or json: one object with schema_version, for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The generated folder (holds kneo-otel.yaml). Default: the current folder when it holds
    /// a kneo-otel.yaml, else observability.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// Print only the names of drifted files.
    #[arg(long, short)]
    pub quiet: bool,
    /// text for people, or json: one object with schema_version, for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct EjectArgs {
    /// Path of the file inside the folder, e.g. docker-compose.yml.
    pub file: String,
    /// The generated folder (holds kneo-otel.yaml). Default: the current folder when it holds
    /// a kneo-otel.yaml, else observability.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum, required_unless_present = "set_keys")]
    pub shell: Option<clap_complete::Shell>,
    /// For the bash script: print the `--set` keys of the folder's backend, one a line
    /// (every backend's when the folder has no manifest).
    #[arg(long, hide = true)]
    pub set_keys: bool,
    /// With --set-keys: the folder (default: as every command's --dir).
    #[arg(long, hide = true, requires = "set_keys")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Print the page of this subcommand instead of the main page.
    pub subcommand: Option<String>,
    /// Write kneo-otel.1 and one kneo-otel-<subcommand>.1 a subcommand into this folder.
    #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The generated folder (holds kneo-otel.yaml). Default: the current folder when it holds
    /// a kneo-otel.yaml, else observability.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// Send the test trace here instead of the stack's OTLP port, written as an app's
    /// OTEL_EXPORTER_OTLP_ENDPOINT (e.g. http://127.0.0.1:4318). Needed without a manifest.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// OTLP protocol of the test trace; default http/protobuf when the stack has an OTLP/HTTP port.
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// Give up after this long in total, e.g. 30s, 500ms, 2m.
    #[arg(long, default_value = "30s", value_name = "DURATION")]
    pub timeout: String,
    /// API key for SigNoz's query API (default: $SIGNOZ_API_KEY).
    #[arg(long, value_name = "KEY")]
    pub signoz_api_key: Option<String>,
    /// text for people, or json: one object with schema_version, for scripts.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SnippetArgs {
    /// The generated folder whose kneo-otel.yaml gives the defaults (OTLP port, protocol,
    /// service name); without one, the OTLP standard ports on 127.0.0.1. Default: the current
    /// folder when it holds a kneo-otel.yaml, else observability.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// OTLP transport, the only one compiled into the Rust module; default: what the stack
    /// tells apps to use (http).
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// sdk: the OpenTelemetry API; tracing: a layer for the app's tracing-subscriber. Default: sdk.
    #[arg(long, value_enum)]
    pub flavor: Option<Flavor>,
    /// Default OTLP endpoint for --protocol (http(s)://host:port); the stack's otherwise.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// Default service.name (letters, digits, `.`, `_`, `-`); the stack's otherwise.
    #[arg(long)]
    pub service_name: Option<String>,
    /// Trust this CA certificate (PEM) for an https:// endpoint.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Write the module to FILE and record it in the manifest, so `check` covers it.
    #[arg(long, value_name = "FILE", conflicts_with = "crate_dir")]
    pub out: Option<PathBuf>,
    /// Write a standalone cargo project that emits one GenAI-shaped trace through the module.
    #[arg(long = "crate", value_name = "DIR", conflicts_with = "script")]
    pub crate_dir: Option<PathBuf>,
    /// The language of the module: python or rust. Default: from --out's extension, else
    /// the repository around --dir (pyproject.toml, setup.py, requirements*.txt: python;
    /// Cargo.toml: rust), else asked in a terminal.
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Python: write a runnable smoke-check script that emits one GenAI-shaped trace (implies
    /// --lang python).
    #[arg(long, value_name = "FILE", conflicts_with = "out")]
    pub script: Option<PathBuf>,
    /// With --out, --crate or --script: overwrite a file you edited or kneo-otel did not write.
    #[arg(long)]
    pub force: bool,
}
