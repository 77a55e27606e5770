//! `kneo-otel backends`: the catalog as a table or JSON.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::catalog::Catalog;
use crate::cli::{BackendsArgs, Format};

#[derive(Serialize)]
struct Listing<'a> {
    schema_version: u32,
    backends: Vec<Entry<'a>>,
}

#[derive(Serialize)]
struct Entry<'a> {
    id: &'a str,
    title: &'a str,
    summary: &'a str,
    footprint: &'a str,
    signals: &'a [String],
    services: Vec<&'a str>,
    images: Vec<String>,
    ui: Vec<String>,
    otlp_grpc_port: Option<u16>,
    otlp_http_port: Option<u16>,
}

pub fn run(args: BackendsArgs) -> Result<ExitCode> {
    let catalog = Catalog::load()?;
    let backends = catalog
        .backends
        .iter()
        .map(|b| Entry {
            id: &b.id,
            title: &b.title,
            summary: &b.summary,
            footprint: &b.footprint,
            signals: &b.signals,
            services: b.services.iter().map(|s| s.name.as_str()).collect(),
            images: b
                .images
                .values()
                .map(|i| format!("{}:{}", i.repository, i.tag))
                .collect(),
            ui: b
                .ui
                .iter()
                .map(|u| format!("http://127.0.0.1:{}{}", b.ports[&u.port].host, u.path))
                .collect(),
            otlp_grpc_port: b.otlp_port("grpc").map(|(_, p)| p.host),
            otlp_http_port: b.otlp_port("http").map(|(_, p)| p.host),
        })
        .collect::<Vec<_>>();
    match args.format {
        Format::Json => {
            let listing = Listing {
                schema_version: 1,
                backends,
            };
            crate::outln!("{}", serde_json::to_string_pretty(&listing)?);
        }
        Format::Text => {
            crate::outln!(
                "{:<10} {:<26} {:<44} {:<32} OTLP",
                "ID",
                "TITLE",
                "SERVICES",
                "UI"
            );
            for b in &backends {
                let ui = if b.ui.is_empty() {
                    "-".to_string()
                } else {
                    b.ui.join(" ")
                };
                let otlp = [("grpc", b.otlp_grpc_port), ("http", b.otlp_http_port)]
                    .iter()
                    .filter_map(|(name, port)| port.map(|p| format!("{p}/{name}")))
                    .collect::<Vec<_>>()
                    .join(" ");
                crate::outln!(
                    "{:<10} {:<26} {:<44} {:<32} {otlp}",
                    b.id,
                    b.title,
                    b.services.join(", "),
                    ui
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
