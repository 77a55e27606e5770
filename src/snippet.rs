//! The app side of a deployment: the Rust module (and the smoke-test crate around it) that
//! `kneo-otel snippet` renders, its options as recorded in the manifest, and its defaults
//! taken from a generated stack. Rendering only; nothing here touches the disk.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use minijinja::Value;
use minijinja::value::Serde;
use serde::Serialize;

use crate::catalog::{Catalog, FileKind};
use crate::domain::{Flavor, Lang, Protocol};
use crate::options::{Options, validate_service_name};
use crate::render::RenderedFile;
use crate::templates::{Renderer, Source};

/// Where the templates of one language live, inside `templates/`.
fn template_dir(lang: Lang) -> String {
    format!("snippets/{}", lang.name())
}

/// The module's template in that folder.
fn module_template(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "telemetry.rs.j2",
        Lang::Python => "telemetry.py.j2",
    }
}

pub use crate::manifest::{SnippetOptions, SnippetRecord};

/// The stack-derived defaults: OTLP endpoints and service name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    pub grpc: String,
    pub http: String,
    pub service_name: String,
    /// The protocol the stack tells apps to use (HTTP when it has both).
    pub protocol: Protocol,
}

impl Defaults {
    /// From a manifest's stack when there is one, else the OTLP standard ports on loopback.
    pub fn new(catalog: &Catalog, stack: Option<&Options>) -> Result<Defaults> {
        let Some(stack) = stack else {
            return Ok(Defaults {
                grpc: "http://127.0.0.1:4317".into(),
                http: "http://127.0.0.1:4318".into(),
                service_name: crate::options::DEFAULT_SERVICE_NAME.into(),
                protocol: Protocol::HttpProtobuf,
            });
        };
        let deployment = crate::render::deployment(catalog, stack)?;
        let context = crate::render::context_for(catalog, stack, &deployment, BTreeMap::new());
        let protocol = if context.otlp.http.is_some() {
            Protocol::HttpProtobuf
        } else {
            Protocol::Grpc
        };
        Ok(Defaults {
            grpc: context
                .otlp
                .grpc
                .unwrap_or_else(|| "http://127.0.0.1:4317".into()),
            http: context
                .otlp
                .http
                .unwrap_or_else(|| "http://127.0.0.1:4318".into()),
            service_name: stack.service_name.clone(),
            protocol,
        })
    }
}

/// What the templates see.
#[derive(Debug, Serialize)]
struct SnippetContext {
    service_name: String,
    /// `grpc` or `http`.
    protocol: &'static str,
    /// The `OTEL_EXPORTER_OTLP_PROTOCOL` spelling: `grpc` or `http/protobuf`.
    protocol_env: &'static str,
    /// The other transport's `--protocol` value, for "re-run with" hints.
    other_protocol: &'static str,
    tracing: bool,
    grpc: bool,
    grpc_endpoint: String,
    http_endpoint: String,
    /// The default endpoint of the chosen transport (HTTP: the base URL, without `/v1/traces`).
    endpoint: String,
    /// Empty when there is no CA file; else as recorded (stack-relative or absolute).
    ca_file: String,
    /// A stack-relative CA file's components as string literals (`"secrets", "ca.crt"`);
    /// empty for an absolute one.
    ca_parts: String,
    /// Empty unless the stack is exposed (and there is a CA file).
    token_file: String,
    /// The token file's components as string literals.
    token_parts: String,
    /// From the module's base (Python: its own folder; Rust: its crate's folder) to the stack
    /// folder, as string literals (`"..", "observability"`), and as a path for prose.
    stack_dir: String,
    stack_dir_shown: String,
    /// `[dependencies]` lines of the module.
    dep_lines: Vec<String>,
    /// `[dependencies]` lines of the `--crate` smoke project (the module's, plus its `main`'s).
    crate_dep_lines: Vec<String>,
    /// The `cargo add` command(s) adding the same.
    cargo_add: String,
    /// The command that renders this module again.
    command: String,
    /// Written with `--out` and recorded in the manifest.
    recorded: bool,
    /// Package name of the standalone crate.
    crate_name: String,
    /// Python: the `pip install` command for the pinned packages.
    pip_install: String,
    /// Python: the smoke script's file name.
    script_name: String,
}

/// Checks the answers a user can type; errors name the flag.
pub fn validate(options: &SnippetOptions) -> Result<()> {
    if options.lang == Lang::Python && options.flavor == Flavor::Tracing {
        bail!("--flavor tracing is for Rust's tracing crate: leave it out with --lang python");
    }
    if let Some(name) = &options.service_name {
        validate_service_name(name)?;
    }
    if let Some(endpoint) = &options.endpoint {
        validate_endpoint(endpoint)?;
    }
    for (flag, path) in [
        ("--ca-file", &options.ca_file),
        ("token file", &options.token_file),
    ] {
        if let Some(path) = path
            && (path.is_empty()
                || path
                    .chars()
                    .any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            bail!("{flag} {path:?}: use a path without quotes, backslashes or control characters");
        }
    }
    Ok(())
}

/// An OTLP endpoint lands in a Rust string literal: `http(s)://host:port`, URL characters only.
pub fn validate_endpoint(endpoint: &str) -> Result<()> {
    let rest = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"));
    let ok_char =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':' | '/' | '[' | ']');
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') && rest.chars().all(ok_char) => {
            Ok(())
        }
        _ => bail!(
            "invalid --endpoint {endpoint:?}: use http://host:port or https://host:port (e.g. --endpoint http://127.0.0.1:4318)"
        ),
    }
}

/// The three files of `--crate`: `Cargo.toml`, `src/main.rs`, `src/telemetry.rs`.
pub fn render_crate(
    catalog: &Catalog,
    defaults: &Defaults,
    options: &SnippetOptions,
    stack_dir: &[String],
    crate_name: &str,
    command: &str,
) -> Result<Vec<RenderedFile>> {
    let context = snippet_context(
        catalog, defaults, options, stack_dir, crate_name, command, false,
    )?;
    let mut files = Vec::new();
    for (template, output) in [
        ("Cargo.toml.j2", "Cargo.toml"),
        ("main.rs.j2", "src/main.rs"),
        ("telemetry.rs.j2", "src/telemetry.rs"),
    ] {
        files.push(render_one(Lang::Rust, template, output, &context)?);
    }
    Ok(files)
}

/// The module alone, as printed, or as written with `--out` to `path` (`recorded`).
/// `stack_dir`: the stack folder from the module's base (see [`crate::lang::module_base`]).
pub fn render_module(
    catalog: &Catalog,
    defaults: &Defaults,
    options: &SnippetOptions,
    stack_dir: &[String],
    path: &str,
    command: &str,
    recorded: bool,
) -> Result<RenderedFile> {
    let context = snippet_context(catalog, defaults, options, stack_dir, "", command, recorded)?;
    let mut module = render_one(options.lang, module_template(options.lang), path, &context)?;
    // A module written with --out may sit anywhere in the repository (e.g. `../src/`).
    module.reach = crate::paths::Reach::Repository;
    Ok(module)
}

/// `--script FILE` (Python): a runnable smoke check around the module, named `file_name`.
pub fn render_script(
    catalog: &Catalog,
    defaults: &Defaults,
    options: &SnippetOptions,
    stack_dir: &[String],
    file_name: &str,
    command: &str,
) -> Result<RenderedFile> {
    let mut context = snippet_context(catalog, defaults, options, stack_dir, "", command, false)?;
    context.script_name = file_name.to_string();
    render_one(Lang::Python, "smoke.py.j2", file_name, &context)
}

/// Re-renders the modules a manifest records, against the stack's (possibly new) options.
/// `stack_dir` gives each record's way from its module's base to the stack folder.
pub fn render_recorded(
    catalog: &Catalog,
    stack: &Options,
    snippets: &[SnippetRecord],
    stack_dir: &dyn Fn(&SnippetRecord) -> Result<Vec<String>>,
) -> Result<Vec<RenderedFile>> {
    let defaults = Defaults::new(catalog, Some(stack))?;
    snippets
        .iter()
        .map(|record| {
            validate(&record.options)?;
            validate_recorded_path(record)?;
            validate_recorded_token(catalog, stack, record)?;
            validate_recorded_ca(record)?;
            let command = command_line(&record.options, STACK_FOLDER, true);
            render_module(
                catalog,
                &defaults,
                &record.options,
                &stack_dir(record)?,
                &record.path,
                &command,
                true,
            )
        })
        .collect()
}

/// Whether `text` is a module kneo-otel generated: its `Generated by` line is near the top.
pub fn is_generated(text: &str) -> bool {
    let head = text.get(..text.len().min(2048)).unwrap_or(text);
    head.contains("Generated by `kneo-otel snippet")
}

/// How a module written with `--out` names its folder and itself: the manifest re-renders it
/// from wherever `check` runs.
pub const STACK_FOLDER: &str = "<stack folder>";

/// A manifest's snippet that sends a bearer token sends this stack's (`secrets/token` of
/// an exposed stack, by a plain path) and only to a host the stack's server certificate
/// names: the manifest is untrusted, and the module would read that file and send it there.
fn validate_recorded_token(
    catalog: &Catalog,
    stack: &Options,
    record: &SnippetRecord,
) -> Result<()> {
    let Some(token) = &record.options.token_file else {
        return Ok(());
    };
    let own = catalog
        .expose
        .files
        .keys()
        .find(|path| path.ends_with("/token"))
        .map_or("secrets/token", String::as_str);
    // Exactly the stack's own file, relative to its folder: nothing else on this machine
    // (an absolute path, `..`) is ever read and sent.
    if !stack.expose || token != own {
        bail!(
            "kneo-otel.yaml records snippet `{}` reading token file {token:?}, which is not this stack's {own}: fix or remove that snippet entry",
            record.path
        );
    }
    let endpoint = record
        .options
        .endpoint
        .as_deref()
        .unwrap_or("https://127.0.0.1");
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap_or_default();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split_once(']').map(|(h, _)| h))
        .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
    // Loopback and the hosts the manifest records (`expose.hosts`): the machine's own name,
    // also in the certificate, differs from one clone to the next.
    let named = ["localhost", "127.0.0.1", "::1"]
        .iter()
        .any(|h| h.eq_ignore_ascii_case(host))
        || stack
            .expose_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(host));
    if !named {
        bail!(
            "kneo-otel.yaml records snippet `{}` sending this stack's token to {host:?}, a host its certificate does not name: fix the endpoint, or add the host with `--set expose.hosts=...`",
            record.path
        );
    }
    Ok(())
}

/// A manifest's stack-relative CA file stays inside the stack folder (an absolute one is a
/// `--ca-file` the user named; it is only trusted, never sent).
fn validate_recorded_ca(record: &SnippetRecord) -> Result<()> {
    let Some(ca) = &record.options.ca_file else {
        return Ok(());
    };
    if !is_absolute(ca)
        && ca
            .split('/')
            .any(|part| matches!(part, ".." | "." | "~" | "") || part.contains('\\'))
    {
        bail!(
            "kneo-otel.yaml records snippet `{}` trusting CA file {ca:?}, which leaves the stack folder: fix or remove that snippet entry",
            record.path
        );
    }
    Ok(())
}

/// A manifest's snippet path must stay relative and name a file of its language.
fn validate_recorded_path(record: &SnippetRecord) -> Result<()> {
    let extension = match record.options.lang {
        Lang::Rust => ".rs",
        Lang::Python => ".py",
    };
    let path = &record.path;
    if path.starts_with('/') || path.contains(['\\', ':']) || !path.ends_with(extension) {
        bail!(
            "kneo-otel.yaml records snippet `{path}`, which is not a relative {extension} path: fix or remove that entry"
        );
    }
    Ok(())
}

/// The `kneo-otel snippet` invocation that renders these options again (`--out <this file>`
/// with `out`).
pub fn command_line(options: &SnippetOptions, dir: &str, out: bool) -> String {
    // No `--dir` when no stack gave the defaults (`dir` empty).
    let mut parts = vec!["kneo-otel snippet".to_string()];
    if !dir.is_empty() {
        parts.push(format!("--dir {dir}"));
    }
    parts.push(format!("--protocol {}", options.protocol.name()));
    // Always the language: without --lang, `snippet` looks at the repository (or asks).
    parts.insert(1, format!("--lang {}", options.lang.name()));
    if options.lang == Lang::Rust {
        parts.push(format!("--flavor {}", options.flavor.name()));
    }
    if let Some(endpoint) = &options.endpoint {
        parts.push(format!("--endpoint {endpoint}"));
    }
    if let Some(name) = &options.service_name {
        parts.push(format!("--service-name {name}"));
    }
    if let Some(ca) = &options.ca_file {
        parts.push(format!("--ca-file {ca}"));
    }
    // Not a flag (the stack's `secrets/token`, found by `snippet`), but what the module
    // sends as its bearer token: a reviewer must see it.
    if let Some(token) = &options.token_file {
        parts.push(format!("(token file {token})"));
    }
    if out {
        parts.push("--out <this file>".into());
    }
    parts.join(" ")
}

fn render_one(
    lang: Lang,
    template: &str,
    output: &str,
    context: &SnippetContext,
) -> Result<RenderedFile> {
    let source = Source {
        template: format!("{}/{template}", template_dir(lang)),
        output: output.to_string(),
        is_jinja: true,
    };
    let text = Renderer::default().render(&source, Value::from(Serde(context)))?;
    Ok(RenderedFile {
        path: output.to_string(),
        content: format!("{}\n", text.replace("\r\n", "\n").trim_end_matches('\n')),
        kind: FileKind::Managed,
        mode: None,
        group: None,
        reach: crate::paths::Reach::Folder,
    })
}

fn snippet_context(
    catalog: &Catalog,
    defaults: &Defaults,
    options: &SnippetOptions,
    stack_dir: &[String],
    crate_name: &str,
    command: &str,
    recorded: bool,
) -> Result<SnippetContext> {
    let token_file = options
        .token_file
        .clone()
        .filter(|_| options.ca_file.is_some())
        .unwrap_or_default();
    let ca_file = options.ca_file.clone().unwrap_or_default();
    let stack_relative = !ca_file.is_empty() && !is_absolute(&ca_file);
    let (ca_parts, token_parts) = (
        if stack_relative {
            literals(ca_file.split('/'))?
        } else {
            String::new()
        },
        literals(token_file.split('/').filter(|p| !p.is_empty()))?,
    );
    let tracing = options.flavor == Flavor::Tracing;
    let module_deps = crate_deps(catalog, options, false);
    let crate_deps = crate_deps(catalog, options, true);
    let endpoint_for = |protocol: Protocol, default: &str| match (&options.endpoint, protocol) {
        // The HTTP default is a base URL, like OTEL_EXPORTER_OTLP_ENDPOINT: the module appends
        // the signal path.
        (Some(endpoint), p) if p == options.protocol => endpoint
            .trim_end_matches('/')
            .trim_end_matches("/v1/traces")
            .to_string(),
        _ => default.to_string(),
    };
    Ok(SnippetContext {
        service_name: options
            .service_name
            .clone()
            .unwrap_or_else(|| defaults.service_name.clone()),
        protocol: options.protocol.name(),
        protocol_env: options.protocol.env_value(),
        other_protocol: match options.protocol {
            Protocol::Grpc => Protocol::HttpProtobuf.name(),
            Protocol::HttpProtobuf => Protocol::Grpc.name(),
        },
        tracing,
        grpc: options.protocol == Protocol::Grpc,
        grpc_endpoint: endpoint_for(Protocol::Grpc, &defaults.grpc),
        http_endpoint: endpoint_for(Protocol::HttpProtobuf, &defaults.http),
        endpoint: match options.protocol {
            Protocol::Grpc => endpoint_for(Protocol::Grpc, &defaults.grpc),
            Protocol::HttpProtobuf => endpoint_for(Protocol::HttpProtobuf, &defaults.http),
        },
        ca_file,
        ca_parts,
        // A token only goes over TLS.
        token_file,
        token_parts,
        stack_dir: literals(stack_dir.iter().map(String::as_str))?,
        stack_dir_shown: if stack_dir.is_empty() {
            ".".to_string()
        } else {
            stack_dir.join("/")
        },
        dep_lines: module_deps.iter().map(dep_line).collect(),
        crate_dep_lines: crate_deps.iter().map(dep_line).collect(),
        cargo_add: cargo_add(&module_deps),
        command: command.to_string(),
        recorded,
        crate_name: crate_name.to_string(),
        pip_install: pip_install(catalog),
        script_name: String::new(),
    })
}

/// A path as recorded is absolute: `/...`, or a Windows drive (`C:/...`, `C:\\...`).
pub fn is_absolute(path: &str) -> bool {
    let bytes = path.as_bytes();
    path.starts_with('/') || (bytes.len() > 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':')
}

/// Path components as string literals for the templates (`"..", "observability"`), valid in
/// Python and Rust alike: a component with a quote, backslash or control character is
/// refused, so nothing needs escaping.
fn literals<'a>(parts: impl Iterator<Item = &'a str>) -> Result<String> {
    let mut out = Vec::new();
    for part in parts {
        if part.is_empty()
            || part
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            bail!(
                "the path component {part:?} cannot go into the module: rename it (no quotes, backslashes or control characters)"
            );
        }
        out.push(format!("\"{part}\""));
    }
    Ok(out.join(", "))
}

/// One crate as the generated code needs it: features already chosen for the options.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Dep {
    name: String,
    version: String,
    default_features: bool,
    features: Vec<String>,
}

/// The catalog's crates whose `when` conditions hold for these options (`smoke_crate`: for the
/// `--crate` project), entries of the same name merged, in catalog order.
fn crate_deps(catalog: &Catalog, options: &SnippetOptions, smoke_crate: bool) -> Vec<Dep> {
    let tls = options.ca_file.is_some();
    let holds = |condition: &str| match condition {
        "grpc" => options.protocol == Protocol::Grpc,
        "http" => options.protocol == Protocol::HttpProtobuf,
        "tracing" => options.flavor == Flavor::Tracing,
        "tls" => tls,
        "crate" => smoke_crate,
        _ => false,
    };
    let mut deps: Vec<Dep> = Vec::new();
    for dep in catalog.snippets.rust.crates.iter() {
        if !dep.when.iter().all(|c| holds(c)) {
            continue;
        }
        let mut features = dep.features.clone();
        if tls {
            features.extend(dep.tls_features.iter().cloned());
        }
        match deps.iter_mut().find(|d| d.name == dep.name) {
            Some(known) => {
                known.default_features |= dep.default_features;
                for feature in features {
                    if !known.features.contains(&feature) {
                        known.features.push(feature);
                    }
                }
            }
            None => deps.push(Dep {
                name: dep.name.clone(),
                version: dep.version.clone(),
                default_features: dep.default_features,
                features,
            }),
        }
    }
    deps
}

/// A `[dependencies]` line.
fn dep_line(dep: &Dep) -> String {
    if dep.features.is_empty() && dep.default_features {
        return format!("{} = \"{}\"", dep.name, dep.version);
    }
    let mut parts = vec![format!("version = \"{}\"", dep.version)];
    if !dep.default_features {
        parts.push("default-features = false".into());
    }
    if !dep.features.is_empty() {
        let quoted: Vec<String> = dep.features.iter().map(|f| format!("\"{f}\"")).collect();
        parts.push(format!("features = [{}]", quoted.join(", ")));
    }
    format!("{} = {{ {} }}", dep.name, parts.join(", "))
}

/// The `cargo add` command(s) adding the same crates. `cargo add` applies --features and
/// --no-default-features to every crate of one call: one call for the plain crates, one for
/// each crate with features or without defaults.
fn cargo_add(deps: &[Dep]) -> String {
    let plain: Vec<String> = deps
        .iter()
        .filter(|d| d.default_features && d.features.is_empty())
        .map(|d| format!("{}@{}", d.name, d.version))
        .collect();
    let mut calls = Vec::new();
    if !plain.is_empty() {
        calls.push(format!("cargo add {}", plain.join(" ")));
    }
    for dep in deps
        .iter()
        .filter(|d| !d.default_features || !d.features.is_empty())
    {
        let mut call = format!("cargo add {}@{}", dep.name, dep.version);
        if !dep.default_features {
            call.push_str(" --no-default-features");
        }
        if !dep.features.is_empty() {
            call.push_str(&format!(" --features {}", dep.features.join(",")));
        }
        calls.push(call);
    }
    calls.join(" && ")
}

/// The `pip install` command for the Python module's pinned packages.
pub fn pip_install(catalog: &Catalog) -> String {
    format!("pip install {}", catalog.snippets.python.packages.join(" "))
}

/// A cargo package name from a folder name: lowercase `[a-z0-9_-]`, starting with a letter.
pub fn crate_name(folder: &str) -> String {
    let name: String = folder
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let name = name.trim_matches('-').to_string();
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name,
        _ => format!("telemetry-smoke{}", if name.is_empty() { "" } else { "-" }) + &name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        for good in [
            "http://127.0.0.1:4318",
            "https://otel.example.com:4317",
            "http://[::1]:4317/",
        ] {
            assert!(validate_endpoint(good).is_ok(), "{good}");
        }
        for bad in [
            "127.0.0.1:4318",
            "http://",
            "http:///x",
            "ftp://x",
            "http://x\"y",
            "http://a b",
        ] {
            assert!(validate_endpoint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn crate_names() {
        assert_eq!(crate_name("smoke"), "smoke");
        assert_eq!(crate_name("My Smoke"), "my-smoke");
        assert_eq!(crate_name("1x"), "telemetry-smoke-1x");
        assert_eq!(crate_name(".."), "telemetry-smoke");
    }

    #[test]
    fn only_the_chosen_transport_is_listed() {
        let catalog = Catalog::load().unwrap();
        let options = |protocol, ca_file: Option<&str>| SnippetOptions {
            lang: Lang::Rust,
            protocol,
            flavor: Flavor::Sdk,
            endpoint: None,
            service_name: None,
            ca_file: ca_file.map(str::to_string),
            token_file: None,
        };
        let names = |deps: &[Dep]| -> Vec<String> { deps.iter().map(|d| d.name.clone()).collect() };
        let http = crate_deps(&catalog, &options(Protocol::HttpProtobuf, None), false);
        assert_eq!(
            names(&http),
            ["opentelemetry", "opentelemetry_sdk", "opentelemetry-otlp"]
        );
        assert!(http[2].features.contains(&"http-proto".to_string()));
        assert!(!http[2].default_features);
        let grpc = crate_deps(&catalog, &options(Protocol::Grpc, Some("/ca.pem")), true);
        assert_eq!(
            names(&grpc),
            [
                "opentelemetry",
                "opentelemetry_sdk",
                "opentelemetry-otlp",
                "tokio"
            ]
        );
        assert_eq!(grpc[2].features, ["trace", "grpc-tonic", "tls-ring"]);
        // The module's tokio and the smoke crate's merge into one line.
        assert_eq!(
            dep_line(&grpc[3]),
            "tokio = { version = \"1.54.1\", features = [\"rt\", \"net\", \"time\", \"sync\", \"rt-multi-thread\", \"macros\"] }"
        );
        let http_tls = crate_deps(
            &catalog,
            &options(Protocol::HttpProtobuf, Some("/ca.pem")),
            false,
        );
        assert!(names(&http_tls).contains(&"reqwest".to_string()));
    }

    #[test]
    fn every_variant_renders() {
        let catalog = Catalog::load().unwrap();
        let defaults = Defaults::new(&catalog, None).unwrap();
        let up = ["..".to_string(), "obs".to_string()];
        for protocol in [Protocol::Grpc, Protocol::HttpProtobuf] {
            for flavor in [Flavor::Sdk, Flavor::Tracing] {
                for (ca_file, token_file) in [
                    (None, None),
                    (Some("/etc/ca.pem".to_string()), None),
                    (
                        Some("secrets/ca.crt".to_string()),
                        Some("secrets/token".to_string()),
                    ),
                ] {
                    let token = token_file.is_some();
                    let mut options = SnippetOptions {
                        lang: Lang::Rust,
                        protocol,
                        flavor,
                        endpoint: None,
                        service_name: None,
                        ca_file,
                        token_file,
                    };
                    let files =
                        render_crate(&catalog, &defaults, &options, &up, "smoke", "x").unwrap();
                    assert_eq!(files.len(), 3);
                    assert!(files[0].content.contains("[workspace]"));
                    assert_eq!(files[2].content.contains("TOKEN_FILE"), token);
                    if flavor == Flavor::Sdk {
                        options.lang = Lang::Python;
                        let script =
                            render_script(&catalog, &defaults, &options, &up, "smoke.py", "x")
                                .unwrap();
                        assert!(script.content.starts_with("#!/usr/bin/env python3"));
                        let module =
                            render_module(&catalog, &defaults, &options, &up, "t.py", "x", false)
                                .unwrap();
                        assert!(module.content.contains("def init():"));
                        assert_eq!(
                            module
                                .content
                                .contains("_in_stack_dir(\"secrets\", \"token\")"),
                            token
                        );
                        assert_eq!(
                            module.content.contains("STACK_DIR = [\"..\", \"obs\"]"),
                            token
                        );
                    }
                }
            }
        }
    }
}
