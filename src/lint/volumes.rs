//! Volume-ownership rules: a service writes its named volumes as the user that owns them.
//!
//! - `volume-owner`: a service with its own user or entrypoint runs as each writable volume's
//!   recorded owner (`x-volume-owners`); one that keeps CAP_CHOWN exists only to `chown` its one
//!   volume to that owner.

use serde_yaml::Value;

use super::{COMPOSE_FILE, Violation, violation};

/// The compose extension field that records who owns each named volume's data.
pub const VOLUME_OWNERS: &str = "x-volume-owners";

/// Named volumes a service mounts writable (short or long syntax), as (volume, container path).
fn writable_named_volumes(service: &Value) -> Vec<(String, String)> {
    let Some(Value::Sequence(volumes)) = service.get("volumes") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for volume in volumes {
        let field = |key: &str| volume.get(key).and_then(Value::as_str).unwrap_or_default();
        let (source, target, read_only) = match volume {
            Value::String(spec) => {
                let parts: Vec<&str> = spec.split(':').collect();
                let read_only = parts.len() > 2 && parts[2].split(',').any(|o| o == "ro");
                let target = parts.get(1).copied().unwrap_or_default();
                (parts[0].to_string(), target.to_string(), read_only)
            }
            Value::Mapping(_) if field("type") == "volume" => (
                field("source").to_string(),
                field("target").to_string(),
                volume.get("read_only").and_then(Value::as_bool) == Some(true),
            ),
            _ => continue,
        };
        let named = !source.is_empty() && !source.starts_with('.') && !source.starts_with('/');
        if named && !read_only {
            out.push((source, target));
        }
    }
    out
}

/// `volume-owner`: a service that picks its own user or replaces its image's entrypoint (and
/// with it whatever the entrypoint does to ownership) runs as the recorded owner of every named
/// volume it writes. ClickHouse Keeper run as root refuses data owned by uid 101 and exits.
pub(super) fn lint_volume_owner(
    name: &str,
    service: &Value,
    doc: &Value,
    out: &mut Vec<Violation>,
) {
    let user = service.get("user").map(|user| match user {
        Value::Number(n) => n.to_string(),
        other => other.as_str().unwrap_or_default().to_string(),
    });
    if user.is_none() && service.get("entrypoint").is_none() {
        return;
    }
    let owners = doc.get(VOLUME_OWNERS);
    if capabilities_added(service).contains(&"CHOWN") {
        lint_volume_owner_job(name, service, owners, out);
        return;
    }
    for (volume, _) in writable_named_volumes(service) {
        let Some(owner) = owners
            .and_then(|o| o.get(volume.as_str()))
            .and_then(Value::as_str)
        else {
            out.push(violation(
                COMPOSE_FILE,
                "volume-owner",
                format!("service {name} sets its own user or entrypoint and writes volume {volume}, whose owner {VOLUME_OWNERS} does not record; record it in the catalog's volumes"),
            ));
            continue;
        };
        match &user {
            Some(user) if same_owner(user, owner) => {}
            Some(user) => out.push(violation(
                COMPOSE_FILE,
                "volume-owner",
                format!("service {name} runs as {user} but volume {volume} is owned by {owner}; set user: \"{owner}\""),
            )),
            None => out.push(violation(
                COMPOSE_FILE,
                "volume-owner",
                format!("service {name} replaces its image's entrypoint and writes volume {volume} (owned by {owner}) as the image's default user; set user: \"{owner}\""),
            )),
        }
    }
}

/// Capabilities a service adds back after `cap_drop: [ALL]`.
fn capabilities_added(service: &Value) -> Vec<&str> {
    match service.get("cap_add") {
        Some(Value::Sequence(caps)) => caps.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A service that keeps CAP_CHOWN exists to hand a new volume (created root-owned when its
/// image has no folder for it) to the user that writes it: it does exactly
/// `chown <owner> <path>` for the one named volume it mounts, with the recorded owner.
fn lint_volume_owner_job(
    name: &str,
    service: &Value,
    owners: Option<&Value>,
    out: &mut Vec<Violation>,
) {
    let command: Vec<&str> = match service.get("command") {
        Some(Value::Sequence(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let volumes = writable_named_volumes(service);
    let expected: Option<Vec<String>> = match volumes.as_slice() {
        [(volume, target)] => owners
            .and_then(|o| o.get(volume.as_str()))
            .and_then(Value::as_str)
            .map(|owner| vec!["chown".to_string(), owner.to_string(), target.clone()]),
        _ => None,
    };
    match expected {
        Some(expected) if command == expected => {}
        Some(expected) => out.push(violation(
            COMPOSE_FILE,
            "volume-owner",
            format!(
                "service {name} keeps CAP_CHOWN but its command is {command:?}; use [{}]",
                expected.join(", ")
            ),
        )),
        None => out.push(violation(
            COMPOSE_FILE,
            "volume-owner",
            format!("service {name} keeps CAP_CHOWN: it must mount exactly one named volume whose owner {VOLUME_OWNERS} records, and chown it to that owner"),
        )),
    }
}

/// `uid[:gid]` against the recorded `uid:gid`: the uid must match, and the gid when given.
fn same_owner(user: &str, owner: &str) -> bool {
    let (uid, gid) = user
        .split_once(':')
        .map_or((user, None), |(u, g)| (u, Some(g)));
    let (owner_uid, owner_gid) = owner.split_once(':').unwrap_or((owner, ""));
    uid == owner_uid && gid.is_none_or(|gid| gid == owner_gid)
}
