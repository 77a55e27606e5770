//! `kneo-otel backends`: the catalog as a table or JSON. The table fits 80 columns: one line
//! a backend (id, memory, OTLP ports, title), its UI URLs indented beneath.

use std::process::ExitCode;

use anyhow::Result;
use serde::Serialize;

use crate::catalog::{Catalog, Store};
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
    view: &'a str,
    signals: &'a [String],
    services: Vec<&'a str>,
    images: Vec<String>,
    ui: Vec<String>,
    otlp_grpc_port: Option<u16>,
    otlp_http_port: Option<u16>,
    /// Where it keeps data, at the default retention (`--set retention` changes it).
    stores: Vec<Store>,
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
            view: &b.view,
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
            stores: stores(&catalog, b),
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
        Format::Text => print_table(&backends, &catalog)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The backend's own stores, then the gateway's where it has one, then every stack's: those of
/// the compose target (the default; a Kubernetes folder's README lists its own).
fn stores(catalog: &Catalog, backend: &crate::catalog::Backend) -> Vec<Store> {
    let gateway = backend.gateway_required.then_some(&catalog.gateway.stores);
    backend
        .stores
        .iter()
        .chain(gateway.into_iter().flatten())
        .chain(&catalog.retention.stores)
        .filter(|s| s.on(crate::catalog::Target::Compose))
        .map(|s| s.with_days(catalog.retention.default_days))
        .collect()
}

fn print_table(backends: &[Entry<'_>], catalog: &Catalog) -> Result<()> {
    let every_stack: Vec<&Store> = catalog
        .retention
        .stores
        .iter()
        .filter(|s| s.on(crate::catalog::Target::Compose))
        .collect();
    let rows: Vec<[String; 4]> = backends
        .iter()
        .map(|b| {
            let otlp = [b.otlp_grpc_port, b.otlp_http_port]
                .iter()
                .flatten()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            [
                b.id.to_string(),
                b.signals.join(", "),
                b.footprint.to_string(),
                otlp,
            ]
        })
        .collect();
    let header = ["ID", "SIGNALS", "MEMORY", "OTLP"].map(String::from);
    let widths: Vec<usize> = (0..4)
        .map(|c| {
            rows.iter()
                .chain([&header])
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |r: &[String; 4]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            r[0],
            r[1],
            r[2],
            r[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        )
    };
    crate::outln!("{}", line(&header));
    let indent = " ".repeat(widths[0] + 2);
    for (b, row) in backends.iter().zip(&rows) {
        crate::outln!("{}", line(row));
        crate::outln!("{indent}{} — {}", b.title, b.view);
        if b.ui.is_empty() {
            crate::outln!("{indent}UI: none (spans are in its log)");
        }
        for (at, url) in b.ui.iter().enumerate() {
            let label = if at == 0 { "UI:" } else { "   " };
            crate::outln!("{indent}{label} {url}");
        }
        let own = b
            .stores
            .iter()
            .filter(|s| every_stack.iter().all(|e| e.name != s.name));
        for store in own {
            crate::outln!("{indent}data: {}: {}", store.name, store.brief);
        }
    }
    for store in every_stack {
        crate::outln!("{indent}every stack: {}: {}", store.name, store.brief);
    }
    crate::outln!(
        "{indent}retention: init --set retention=<days> (default {})",
        catalog.retention.default_days
    );
    crate::outln!();
    crate::outln!("services, images and stores in full: kneo-otel backends --format json");
    Ok(())
}
