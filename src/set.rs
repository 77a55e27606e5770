//! `init --set key=value`: one answer changed from the command line. The key is checked
//! against the chosen backend first (a typo gets the keys it has, the closest one named),
//! then the value, so one run reports the first thing that is actually wrong.

use anyhow::{Context, Result, bail};

use crate::catalog::{Backend, Catalog};
use crate::options::{Options, validate_tag};

const TOP_LEVEL: &[&str] = &[
    "backend",
    "service_name",
    "expose",
    "expose.ui",
    "expose.hosts",
    "gateway",
    "redact",
    "also",
    "project",
    "retention",
];

/// Applies one `--set key=value` to `options`, whose backend is already chosen.
pub fn apply(options: &mut Options, catalog: &Catalog, assignment: &str) -> Result<()> {
    let chosen = catalog.backend(&options.backend)?;
    // With --also, the second backend's ports and images take --set too.
    let merged;
    let backend = match options.also_backend(catalog).ok().flatten() {
        Some(also) => {
            merged = chosen.with_also(also);
            &merged
        }
        None => chosen,
    };
    let (key, value) = match assignment.split_once('=') {
        Some(pair) => pair,
        None => {
            check_key(catalog, backend, assignment, assignment)?;
            bail!(
                "--set {assignment} has no value: use --set {assignment}={}",
                value_hint(catalog, backend, assignment)
            );
        }
    };
    check_key(catalog, backend, key, assignment)?;
    match key.split_once('.') {
        None if key == "backend" => options.backend = value.to_ascii_lowercase(),
        None if key == "service_name" => options.service_name = value.to_string(),
        None if key == "project" => {
            crate::project::validate(value)?;
            options.project = Some(value.to_string());
        }
        None if key == "retention" => {
            let days: u32 = value.parse().ok().with_context(|| {
                format!(
                    "--set retention={value:?}: use a number of days from 1 to {}",
                    catalog.retention.max_days
                )
            })?;
            crate::options::validate_retention(catalog, days)?;
            options.retention = Some(days);
        }
        None if key == "expose" => options.expose = parse_bool(key, value)?,
        None if key == "gateway" => options.gateway = parse_bool(key, value)?,
        Some(("expose", "ui")) => options.expose_ui = parse_bool(key, value)?,
        Some(("expose", "hosts")) => {
            let hosts: std::collections::BTreeSet<String> = value
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect();
            for host in &hosts {
                crate::secrets::validate_host(host)?;
            }
            options.expose_hosts = hosts;
        }
        None if key == "redact" => options.redact = parse_bool(key, value)?,
        None if key == "also" => {
            options.also = (value != "none").then(|| value.to_ascii_lowercase())
        }
        Some(("ports", port)) => {
            let number: u16 = value.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!("--set ports.{port}={value:?}: use a port number from 1 to 65535")
            })?;
            options.ports.insert(port.to_string(), number);
        }
        Some(("replicas", service)) => {
            let number: u32 = value.parse().ok().filter(|n| *n > 0).with_context(|| {
                format!(
                    "--set replicas.{service}={value:?}: use a replica count from 1 to {}",
                    crate::options::MAX_REPLICAS
                )
            })?;
            options.replicas.insert(service.to_string(), number);
        }
        Some(("images", image)) => {
            validate_tag(&format!("images.{image}"), value)?;
            options.images.insert(image.to_string(), value.to_string());
        }
        _ => unreachable!("check_key accepted `{key}`"),
    }
    Ok(())
}

/// What a completion script offers after `--set` for these backends: `key=` for each key,
/// `key=true`/`key=false` for switches, `backend=<id>` for each backend.
pub fn completions<'a>(
    catalog: &Catalog,
    backends: impl Iterator<Item = &'a Backend>,
) -> std::collections::BTreeSet<String> {
    let mut offered = std::collections::BTreeSet::new();
    for backend in backends {
        for key in keys(catalog, backend) {
            match key.as_str() {
                "expose" | "expose.ui" | "gateway" | "redact" => {
                    offered.insert(format!("{key}=true"));
                    offered.insert(format!("{key}=false"));
                }
                "backend" => offered.extend(catalog.ids().iter().map(|id| format!("backend={id}"))),
                _ => {
                    offered.insert(format!("{key}="));
                }
            }
        }
    }
    offered
}

/// Every key `--set` takes for `backend` (the gateway's too where it can have one).
pub fn keys(catalog: &Catalog, backend: &Backend) -> Vec<String> {
    let mut keys: Vec<String> = TOP_LEVEL.iter().map(|k| k.to_string()).collect();
    let with_gateway = backend.gateway.then_some(&catalog.gateway);
    let ports = backend
        .ports
        .keys()
        .chain(with_gateway.into_iter().flat_map(|g| g.ports.keys()));
    keys.extend(ports.map(|k| format!("ports.{k}")));
    let images = backend
        .images
        .keys()
        .chain(with_gateway.into_iter().flat_map(|g| g.images.keys()));
    keys.extend(images.map(|k| format!("images.{k}")));
    let scalable = backend
        .services
        .iter()
        .chain(with_gateway.into_iter().flat_map(|g| g.services.iter()))
        .filter(|s| s.replicas.is_some());
    keys.extend(scalable.map(|s| format!("replicas.{}", s.name)));
    keys
}

fn check_key(catalog: &Catalog, backend: &Backend, key: &str, assignment: &str) -> Result<()> {
    let valid = keys(catalog, backend);
    if valid.iter().any(|k| k == key) {
        return Ok(());
    }
    // Compared within the same group (`ports.`, `images.`, top level), on the part after it.
    let (group, name) = key.split_once('.').unwrap_or(("", key));
    let closest = crate::catalog::did_you_mean(
        name,
        valid.iter().filter_map(|k| {
            let (k_group, k_name) = k.split_once('.').unwrap_or(("", k.as_str()));
            (k_group == group).then_some((k_name, k.as_str()))
        }),
        0.85,
    );
    bail!(
        "unknown key `{key}` in --set {assignment} for backend {}: {closest}valid keys are {}",
        backend.id,
        valid.join(", ")
    )
}

/// What a value of `key` looks like, with the value it has now where there is one.
fn value_hint(catalog: &Catalog, backend: &Backend, key: &str) -> String {
    let port = |k: &str| {
        backend
            .ports
            .get(k)
            .or_else(|| catalog.gateway.ports.get(k))
            .map(|p| p.host)
    };
    let tag = |k: &str| {
        backend
            .images
            .get(k)
            .or_else(|| catalog.gateway.images.get(k))
            .map(|i| i.tag.clone())
    };
    match key.split_once('.') {
        Some(("ports", k)) => format!("<port> (default {})", port(k).unwrap_or_default()),
        Some(("images", k)) => format!("<tag> (default {})", tag(k).unwrap_or_default()),
        Some(("replicas", _)) => "<count> (--target kubernetes)".to_string(),
        _ if key == "backend" => format!("<{}>", catalog.ids().join("|")),
        _ if key == "service_name" => "<name>".to_string(),
        _ if key == "project" => "<name> (lowercase letters, digits, dashes)".to_string(),
        _ if key == "expose.hosts" => "<host>,<host> (names or IP addresses)".to_string(),
        _ if key == "also" => "<backend id, or none>".to_string(),
        _ if key == "retention" => format!(
            "<days> (1 to {}, default {})",
            catalog.retention.max_days, catalog.retention.default_days
        ),
        _ => "true (or false)".to_string(),
    }
}

fn parse_bool(key: &str, value: &str) -> Result<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => bail!("--set {key}={value:?}: use true or false"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_backends_own() {
        let catalog = Catalog::load().unwrap();
        let jaeger = catalog.backend("jaeger").unwrap();
        let keys = keys(&catalog, jaeger);
        assert!(keys.contains(&"ports.ui".to_string()));
        assert!(keys.contains(&"ports.gateway_health".to_string()));
        assert!(!keys.contains(&"ports.grafana".to_string()));
        let collector = catalog.backend("collector").unwrap();
        assert!(!super::keys(&catalog, collector).contains(&"images.gateway".to_string()));
    }
}
