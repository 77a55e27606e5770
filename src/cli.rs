//! Command-line interface: every clap type. Doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};

/// Self-hosted tracing in one command: render a ready-to-run, hardened docker compose
/// deployment (OpenTelemetry Collector, Jaeger, Tempo + Grafana or SigNoz) for an OTLP app.
///
/// Exit codes: 0 success; 1 `check` found drift; 2 error (bad input, lint failure, conflict).
#[derive(Debug, Parser)]
#[command(name = "kneo-otel", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
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
    /// Print (or write) a Rust module that sends your app's spans to the stack over OTLP.
    Snippet(SnippetArgs),
}

/// Output format of a command's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Backend to render: collector, jaeger, tempo or signoz (see `kneo-otel backends`).
    #[arg(long, short)]
    pub backend: Option<String>,
    /// Output folder; created when writing starts. Re-running in a folder with a
    /// kneo-otel.yaml re-renders from it.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// The service.name your app reports (letters, digits, `.`, `_`, `-`; at most 64).
    #[arg(long)]
    pub service_name: Option<String>,
    /// Publish ports on all interfaces instead of 127.0.0.1 (anyone on your network can send
    /// spans and open the UI).
    #[arg(long)]
    pub expose: bool,
    /// Change one answer: backend, service_name, expose, ports.<key>=<n>, images.<key>=<tag>.
    #[arg(long = "set", value_name = "KEY=VALUE")]
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
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct BackendsArgs {
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The generated folder (holds kneo-otel.yaml).
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// Print only the names of drifted files.
    #[arg(long, short)]
    pub quiet: bool,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct EjectArgs {
    /// Path of the file inside the folder, e.g. docker-compose.yml.
    pub file: String,
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
}

/// OTLP transport of the generated Rust module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// OTLP/gRPC (tonic), port 4317.
    Grpc,
    /// OTLP/HTTP with protobuf bodies, port 4318.
    Http,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Http => "http",
        }
    }
}

/// How the generated Rust module exposes tracing to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// The OpenTelemetry API directly (`opentelemetry::global::tracer`).
    #[default]
    Sdk,
    /// A `tracing-subscriber` registry with the `tracing-opentelemetry` layer.
    Tracing,
}

impl Flavor {
    pub fn name(self) -> &'static str {
        match self {
            Flavor::Sdk => "sdk",
            Flavor::Tracing => "tracing",
        }
    }
}

#[derive(Debug, Args)]
pub struct SnippetArgs {
    /// The generated folder whose kneo-otel.yaml gives the defaults (OTLP port, protocol,
    /// service name); without one, the OTLP standard ports on 127.0.0.1.
    #[arg(long, short, default_value = "observability")]
    pub dir: PathBuf,
    /// OTLP transport; default: what the stack tells apps to use (http).
    #[arg(long, value_enum)]
    pub protocol: Option<Protocol>,
    /// sdk: the OpenTelemetry API; tracing: a tracing-subscriber registry. Default: sdk.
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
    #[arg(long = "crate", value_name = "DIR")]
    pub crate_dir: Option<PathBuf>,
    /// With --out or --crate: overwrite a file you edited or kneo-otel did not write.
    #[arg(long)]
    pub force: bool,
}
