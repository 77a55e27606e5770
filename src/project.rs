//! The stack's project name (Compose `name:`, the Kubernetes namespace) and whether the host
//! ports it publishes are free on this machine.
//!
//! Two folders with the same backend must never be one Compose project (shared containers and
//! volumes, `down` in one stopping the other). So the name follows the folder and the
//! repository holding it, is recorded in the manifest on the first `init`, and `--set
//! project=` chooses another. Before writing, `init` tries each published port; one that is
//! taken is named, with the Compose project (and folder) holding it when Docker can say.

use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::paths::Folder;

/// Longest project name: a Kubernetes namespace is a DNS label (63 characters).
pub const MAX_LEN: usize = 63;

/// Refuses a name Compose or Kubernetes would not take.
pub fn validate(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        bail!(
            "--set project={name:?}: use 1 to {MAX_LEN} lowercase letters, digits and dashes, starting and ending with a letter or digit (e.g. --set project={})",
            sanitize(name)
        );
    }
    Ok(())
}

/// The default name of `folder`'s stack: its repository's name, then its path inside the
/// repository (`agent-app-observability`); outside a git repository the parent folder stands
/// in for the repository.
pub fn default_for(folder: &Folder) -> String {
    let root = folder.root();
    let base = folder
        .repository()
        .or_else(|| root.parent())
        .unwrap_or(root);
    let mut parts: Vec<String> = Vec::new();
    if let Some(name) = base.file_name() {
        parts.push(name.to_string_lossy().into_owned());
    }
    if let Ok(inside) = root.strip_prefix(base) {
        parts.extend(
            inside
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned()),
        );
    }
    sanitize(&parts.join("-"))
}

/// `text` as a valid name: lowercase, every run of other characters one dash, at most
/// [`MAX_LEN`] long; `kneo-otel` when nothing is left.
fn sanitize(text: &str) -> String {
    let mut name = String::new();
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    name.truncate(MAX_LEN);
    let name = name.trim_end_matches('-');
    if name.is_empty() {
        "kneo-otel".to_string()
    } else {
        name.to_string()
    }
}

/// One host port a rendered compose file publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub bind: String,
    pub port: u16,
    pub service: String,
}

/// The host ports a compose file publishes (`"bind:host:container"` entries).
pub fn published(compose: &str) -> Vec<Published> {
    let Ok(doc) = crate::yaml::from_str_bounded::<serde_yaml::Value>(compose, crate::yaml::ON_DISK)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let Some(services) = doc.get("services").and_then(|s| s.as_mapping()) else {
        return out;
    };
    for (name, service) in services {
        let Some(ports) = service.get("ports").and_then(|p| p.as_sequence()) else {
            continue;
        };
        for entry in ports.iter().filter_map(|p| p.as_str()) {
            let parts: Vec<&str> = entry.split(':').collect();
            if let [bind, host, _container] = parts.as_slice()
                && let Ok(port) = host.parse()
            {
                out.push(Published {
                    bind: bind.to_string(),
                    port,
                    service: name.as_str().unwrap_or_default().to_string(),
                });
            }
        }
    }
    out
}

/// Who holds a port Docker publishes: its Compose project and that project's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub project: String,
    pub folder: String,
}

/// The published ports of `wanted` that something on this machine already holds, each with
/// the Compose project holding it when Docker can say. Ports held by `project` itself (this
/// folder's stack, running) are left out, and so are those `running` lists (published by
/// this folder's compose file as it is on disk) when Docker cannot say who holds them.
pub fn taken(
    wanted: &[Published],
    running: &[Published],
    project: &str,
) -> Vec<(Published, Option<Holder>)> {
    let busy: Vec<&Published> = wanted.iter().filter(|p| !is_free(p)).collect();
    if busy.is_empty() {
        return Vec::new();
    }
    let holders = docker_holders();
    busy.into_iter()
        .filter_map(|p| {
            let holder = holders
                .iter()
                .find(|(port, _)| *port == p.port)
                .map(|(_, h)| h.clone());
            match &holder {
                Some(h) if h.project == project => None,
                None if running.iter().any(|r| r.port == p.port) => None,
                _ => Some((p.clone(), holder)),
            }
        })
        .collect()
}

/// Whether a listener could bind the port where the stack publishes it.
fn is_free(port: &Published) -> bool {
    let address: Ipv4Addr = port.bind.parse().unwrap_or(Ipv4Addr::LOCALHOST);
    TcpListener::bind(SocketAddrV4::new(address, port.port)).is_ok()
}

/// Host port → Compose project of every running container Docker publishes, when a
/// `docker` command answers within a few seconds; empty otherwise.
fn docker_holders() -> Vec<(u16, Holder)> {
    let mut ps = Command::new("docker");
    ps.args([
        "ps",
        "--format",
        "{{.Label \"com.docker.compose.project\"}}\t{{.Label \"com.docker.compose.project.working_dir\"}}\t{{.Ports}}",
    ]);
    let Some(output) = crate::process::output_within(&mut ps, std::time::Duration::from_secs(3))
    else {
        return Vec::new();
    };
    parse_docker_ps(&String::from_utf8_lossy(&output.stdout))
}

/// `docker ps` lines (`project\tfolder\tports`) as host port → holder.
fn parse_docker_ps(text: &str) -> Vec<(u16, Holder)> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut fields = line.splitn(3, '\t');
        let (Some(project), Some(folder), Some(ports)) =
            (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // `127.0.0.1:4318->4318/tcp, 0.0.0.0:16686->16686/tcp`; Docker folds neighbours
        // into a range: `127.0.0.1:4317-4318->4317-4318/tcp`.
        for mapping in ports.split(", ") {
            let Some((host, _)) = mapping.split_once("->") else {
                continue;
            };
            let Some((_, ports)) = host.rsplit_once(':') else {
                continue;
            };
            let (first, last) = ports.split_once('-').unwrap_or((ports, ports));
            let (Ok(first), Ok(last)) = (first.parse::<u16>(), last.parse::<u16>()) else {
                continue;
            };
            for port in first..=last.min(first.saturating_add(1024)) {
                out.push((
                    port,
                    Holder {
                        project: project.to_string(),
                        folder: folder.to_string(),
                    },
                ));
            }
        }
    }
    out
}

/// One line per taken port: which, who holds it, and the `--set` that moves ours.
pub fn describe(taken: &[(Published, Option<Holder>)], keys: &[(u16, String)]) -> Vec<String> {
    taken
        .iter()
        .map(|(port, holder)| {
            let who = match holder {
                Some(h) if h.project.is_empty() => "a container".to_string(),
                Some(h) => {
                    let kind = if Path::new(&h.folder).join(crate::catalog::MANIFEST_FILE).is_file()
                    {
                        "kneo-otel folder "
                    } else {
                        "folder "
                    };
                    format!(
                        "the compose project {} ({kind}{})",
                        crate::terminal::terminal_safe(&h.project),
                        crate::terminal::terminal_safe(&h.folder)
                    )
                }
                None => "another program".to_string(),
            };
            let fix = keys
                .iter()
                .find(|(p, _)| *p == port.port)
                .map(|(_, key)| format!("--set ports.{key}=<free port>"))
                .unwrap_or_else(|| "another port".to_string());
            format!(
                "warning: port {} ({}) is already taken on this machine by {who}: `docker compose up` will fail until it is free; pick another with {fix}",
                port.port, port.service
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_validated() {
        assert_eq!(
            sanitize("Agent_App/observability"),
            "agent-app-observability"
        );
        assert_eq!(sanitize("--x--"), "x");
        assert_eq!(sanitize("ü"), "kneo-otel");
        assert_eq!(sanitize(&"a".repeat(80)).len(), MAX_LEN);
        for good in ["a", "agent-app-observability", "x1"] {
            validate(good).unwrap();
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            let error = validate(bad).unwrap_err().to_string();
            assert!(error.contains("--set project="), "{error}");
        }
    }

    #[test]
    fn docker_ps_lines_name_each_host_port() {
        let holders = parse_docker_ps(
            "repo-a-obs\t/home/u/a/obs\t127.0.0.1:4318->4318/tcp, 127.0.0.1:16686->16686/tcp\n\t\t\n",
        );
        assert_eq!(holders.len(), 2);
        assert_eq!(holders[1].0, 16686);
        assert_eq!(holders[1].1.project, "repo-a-obs");
        let ranged = parse_docker_ps("p\t/f\t127.0.0.1:4317-4318->4317-4318/tcp\n");
        assert_eq!(ranged.iter().map(|h| h.0).collect::<Vec<_>>(), [4317, 4318]);
    }
}
