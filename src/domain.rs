//! The small vocabularies every layer shares: a command's output format, the OTLP transport,
//! and the language and flavour of the module `snippet` writes. They live below `cli.rs`,
//! which only maps flags onto them (clap's `ValueEnum` gives each its flag values).

use clap::ValueEnum;
use serde::{Deserialize, Serialize};

/// Output format of a command's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

/// OTLP transport: of `verify`'s test trace and of the module `snippet` generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
pub enum Protocol {
    /// OTLP/HTTP with a protobuf body, `POST <endpoint>/v1/traces`.
    #[value(name = "http/protobuf", alias = "http")]
    #[serde(rename = "http")]
    HttpProtobuf,
    /// OTLP/gRPC, `TraceService/Export`.
    #[serde(rename = "grpc")]
    Grpc,
}

impl Protocol {
    /// The value of `OTEL_EXPORTER_OTLP_PROTOCOL` and of the catalog's `otlp` marker.
    pub fn env_value(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::Grpc => "grpc",
        }
    }

    /// The short name: the catalog's `otlp` marker of the port this protocol goes to, and
    /// what snippets record in their manifest entry (`http` or `grpc`).
    pub fn name(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http",
            Protocol::Grpc => "grpc",
        }
    }
}

/// The language `snippet` writes the exporter wiring in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// A Rust module on the opentelemetry crates.
    #[default]
    Rust,
    /// A Python module on the OpenTelemetry SDK for Python.
    Python,
}

impl Lang {
    pub fn name(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
        }
    }

    /// The language's name in prose: `Python`, `Rust`.
    pub fn title(self) -> &'static str {
        match self {
            Lang::Rust => "Rust",
            Lang::Python => "Python",
        }
    }

    pub fn is_rust(&self) -> bool {
        *self == Lang::Rust
    }
}

/// How the generated Rust module exposes tracing to the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Flavor {
    /// The OpenTelemetry API directly (`opentelemetry::global::tracer`).
    #[default]
    Sdk,
    /// `tracing` spans, through a `tracing-opentelemetry` layer for the app's subscriber.
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
