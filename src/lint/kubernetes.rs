//! Lint rules of `--target kubernetes`: the manifests a kustomization lists, checked the way a
//! cluster operator would before applying them. Every pod meets the `restricted` Pod Security
//! Standard field by field, is hardened and limited, is probed on the catalog's health
//! endpoints; every ConfigMap key is mounted; Service ports, container ports and the ports the
//! mounted configs listen on agree. The config files themselves are linted by the shared rules.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use serde_yaml::Value;

use super::{Violation, violation};
use crate::catalog::HealthProbe;
use crate::catalog::Port;

/// The lowest uid a pod may run as (`k8s-high-uid`, checkov CKV_K8S_40): clear of the users a
/// node's own system has, so a container escape does not land on one of them.
const MIN_UID: u64 = 10000;

/// The kustomization every Kubernetes render has.
pub const KUSTOMIZATION: &str = "kustomization.yaml";

/// Volume types the `restricted` standard allows.
const RESTRICTED_VOLUMES: &[&str] = &[
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// What the rules need from the catalog: health endpoints and ports by key.
pub struct Expected<'a> {
    pub health: &'a [HealthProbe],
    pub ports: &'a BTreeMap<String, Port>,
}

/// The files the kustomization lists as resources (`None` when it does not parse).
pub fn resources(files: &BTreeMap<&str, &str>) -> Option<Vec<String>> {
    let doc: Value = serde_yaml::from_str(files.get(KUSTOMIZATION)?).ok()?;
    Some(strings(&doc["resources"]))
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// One object of a manifest file.
struct Object<'a> {
    file: &'a str,
    doc: Value,
}

impl Object<'_> {
    fn kind(&self) -> &str {
        self.doc["kind"].as_str().unwrap_or_default()
    }
    fn name(&self) -> &str {
        self.doc["metadata"]["name"].as_str().unwrap_or_default()
    }
}

/// Every violation of the Kubernetes rules.
pub fn lint(files: &BTreeMap<&str, &str>, expected: &Expected, out: &mut Vec<Violation>) {
    let Some(kustomization) = files.get(KUSTOMIZATION) else {
        out.push(violation(
            KUSTOMIZATION,
            "k8s-kustomization",
            "is not rendered".into(),
        ));
        return;
    };
    let kustomization: Value = match serde_yaml::from_str(kustomization) {
        Ok(doc) => doc,
        Err(e) => {
            out.push(violation(
                KUSTOMIZATION,
                "yaml-parses",
                format!("does not parse: {e}"),
            ));
            return;
        }
    };
    // ConfigMap name → key → file in the folder.
    let mut config_maps: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for generator in kustomization["configMapGenerator"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let name = generator["name"].as_str().unwrap_or_default().to_string();
        for entry in strings(&generator["files"]) {
            let (key, path) = match entry.split_once('=') {
                Some((key, path)) => (key.to_string(), path.to_string()),
                None => (
                    entry.rsplit('/').next().unwrap_or(&entry).to_string(),
                    entry.clone(),
                ),
            };
            if !files.contains_key(path.as_str()) {
                out.push(violation(
                    KUSTOMIZATION,
                    "k8s-kustomization",
                    format!("ConfigMap {name} reads {path}, which is not rendered"),
                ));
            }
            config_maps
                .entry(name.clone())
                .or_default()
                .insert(key, path);
        }
    }
    let listed = strings(&kustomization["resources"]);
    for generator in kustomization["secretGenerator"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        for path in strings(&generator["envs"]) {
            if !files.contains_key(path.as_str()) {
                out.push(violation(
                    KUSTOMIZATION,
                    "k8s-kustomization",
                    format!("the Secret reads {path}, which is not rendered"),
                ));
            }
        }
    }
    let mut objects = Vec::new();
    for path in &listed {
        let Some((file, content)) = files.get_key_value(path.as_str()) else {
            out.push(violation(
                KUSTOMIZATION,
                "k8s-kustomization",
                format!("lists {path}, which is not rendered"),
            ));
            continue;
        };
        for document in serde_yaml::Deserializer::from_str(content) {
            match Value::deserialize(document) {
                Ok(Value::Null) => {}
                Ok(doc) => objects.push(Object { file, doc }),
                Err(e) => {
                    out.push(violation(
                        file,
                        "yaml-parses",
                        format!("does not parse: {e}"),
                    ));
                    // serde_yaml 0.9 yields the same error forever after one: stop here.
                    break;
                }
            }
        }
    }

    let mut mounted_keys: BTreeSet<(String, String)> = BTreeSet::new();
    // Deployment name → (its pod labels, container ports by name).
    let mut workloads: Vec<(String, Value, BTreeMap<String, u64>)> = Vec::new();
    for object in &objects {
        match object.kind() {
            "Namespace" => lint_namespace(object, out),
            "Service" => {
                let kind = object.doc["spec"]["type"].as_str().unwrap_or("ClusterIP");
                if kind != "ClusterIP" {
                    out.push(violation(object.file, "k8s-clusterip", format!("Service {} is of type {kind}; use ClusterIP (reach it with kubectl port-forward)", object.name())));
                }
            }
            "Deployment" | "StatefulSet" | "DaemonSet" => {
                let pod = &object.doc["spec"]["template"];
                lint_pod(object, &pod["spec"], out);
                let ports = lint_containers(
                    object,
                    &pod["spec"],
                    expected,
                    &config_maps,
                    files,
                    &mut mounted_keys,
                    out,
                );
                workloads.push((
                    object.name().to_string(),
                    pod["metadata"]["labels"].clone(),
                    ports,
                ));
            }
            _ => {}
        }
    }
    for (name, keys) in &config_maps {
        for (key, path) in keys {
            if !mounted_keys.contains(&(name.clone(), key.clone())) {
                out.push(violation(
                    path,
                    "k8s-configmap-mounted",
                    format!("ConfigMap {name} key {key} is mounted by no pod"),
                ));
            }
        }
    }
    for object in objects.iter().filter(|o| o.kind() == "Service") {
        lint_service_ports(object, &workloads, out);
    }
    if !objects.iter().any(|o| {
        o.kind() == "NetworkPolicy"
            && o.doc["spec"]["podSelector"]
                .as_mapping()
                .is_some_and(|m| m.is_empty())
            && o.doc["spec"]["ingress"].is_null()
            && o.doc["spec"]["egress"].is_null()
            && strings(&o.doc["spec"]["policyTypes"]) == ["Ingress", "Egress"]
    }) {
        out.push(violation(
            KUSTOMIZATION,
            "k8s-default-deny",
            "no NetworkPolicy denies all ingress and egress by default".into(),
        ));
    }
}

fn lint_namespace(object: &Object, out: &mut Vec<Violation>) {
    let labels = &object.doc["metadata"]["labels"];
    if labels["pod-security.kubernetes.io/enforce"].as_str() != Some("restricted") {
        out.push(violation(
            object.file,
            "k8s-restricted",
            format!(
                "Namespace {} does not enforce the restricted Pod Security Standard",
                object.name()
            ),
        ));
    }
}

fn truthy(value: &Value) -> bool {
    value.as_bool() == Some(true)
}

/// Pod-level fields of the `restricted` standard and our hardening.
fn lint_pod(object: &Object, spec: &Value, out: &mut Vec<Violation>) {
    let name = object.name();
    let mut fail = |rule, message: String| {
        out.push(violation(object.file, rule, format!("{name}: {message}")))
    };
    for field in ["hostNetwork", "hostPID", "hostIPC"] {
        if truthy(&spec[field]) {
            fail("k8s-restricted", format!("{field} is true"));
        }
    }
    if spec["automountServiceAccountToken"].as_bool() != Some(false) {
        fail(
            "k8s-hardening",
            "automountServiceAccountToken is not false".into(),
        );
    }
    let security = &spec["securityContext"];
    if security["runAsUser"].as_u64() == Some(0) {
        fail("k8s-restricted", "pod runAsUser is 0".into());
    }
    // Pod-level values, where set, must be allowed ones too (containers may not rescue them).
    if security["runAsNonRoot"].as_bool() == Some(false) {
        fail("k8s-restricted", "pod runAsNonRoot is false".into());
    }
    if let Some(kind) = security["seccompProfile"]["type"].as_str()
        && !matches!(kind, "RuntimeDefault" | "Localhost")
    {
        fail("k8s-restricted", format!("pod seccomp profile is {kind}"));
    }
    for volume in spec["volumes"].as_sequence().into_iter().flatten() {
        let kinds: Vec<&str> = volume
            .as_mapping()
            .into_iter()
            .flatten()
            .filter_map(|(k, _)| k.as_str())
            .filter(|k| *k != "name")
            .collect();
        if let Some(kind) = kinds.iter().find(|k| !RESTRICTED_VOLUMES.contains(k)) {
            fail(
                "k8s-restricted",
                format!("volume type {kind} is not allowed"),
            );
        }
    }
    let containers = spec["containers"]
        .as_sequence()
        .into_iter()
        .flatten()
        .chain(spec["initContainers"].as_sequence().into_iter().flatten());
    for container in containers {
        let c = &container["securityContext"];
        let cname = container["name"].as_str().unwrap_or_default();
        if !(truthy(&security["runAsNonRoot"]) || truthy(&c["runAsNonRoot"]))
            || c["runAsNonRoot"].as_bool() == Some(false)
        {
            fail(
                "k8s-restricted",
                format!("container {cname} may run as root (runAsNonRoot)"),
            );
        }
        if c["runAsUser"].as_u64() == Some(0) {
            fail(
                "k8s-restricted",
                format!("container {cname} runAsUser is 0"),
            );
        }
        match c["runAsUser"].as_u64().or(security["runAsUser"].as_u64()) {
            Some(uid) if uid >= MIN_UID => {}
            uid => fail(
                "k8s-high-uid",
                format!(
                    "container {cname} runs as uid {}; set runAsUser to {MIN_UID} or more (with an fsGroup owning its volumes)",
                    uid.map_or("of the image".to_string(), |u| u.to_string())
                ),
            ),
        }
        // Secrets by file only (checkov CKV_K8S_35): a variable is in every process listing
        // and crash dump of the container, a mounted file only where it is read.
        for env in container["env"].as_sequence().into_iter().flatten() {
            if !env["valueFrom"]["secretKeyRef"].is_null() {
                fail(
                    "k8s-secret-files",
                    format!(
                        "container {cname} takes a Secret as variable {}; mount the Secret as a file and pass its path",
                        env["name"].as_str().unwrap_or_default()
                    ),
                );
            }
        }
        if container["envFrom"]
            .as_sequence()
            .into_iter()
            .flatten()
            .any(|from| !from["secretRef"].is_null())
        {
            fail(
                "k8s-secret-files",
                format!(
                    "container {cname} takes a Secret as variables (envFrom); mount it as files"
                ),
            );
        }
        let seccomp = |v: &Value| {
            matches!(
                v["seccompProfile"]["type"].as_str(),
                Some("RuntimeDefault" | "Localhost")
            )
        };
        if !(seccomp(security) || seccomp(c))
            || c["seccompProfile"]["type"].as_str() == Some("Unconfined")
        {
            fail(
                "k8s-restricted",
                format!("container {cname} has no RuntimeDefault seccomp profile"),
            );
        }
        if truthy(&c["privileged"]) {
            fail("k8s-restricted", format!("container {cname} is privileged"));
        }
        if c["allowPrivilegeEscalation"].as_bool() != Some(false) {
            fail(
                "k8s-restricted",
                format!("container {cname} does not set allowPrivilegeEscalation: false"),
            );
        }
        if !strings(&c["capabilities"]["drop"])
            .iter()
            .any(|d| d == "ALL")
        {
            fail(
                "k8s-restricted",
                format!("container {cname} does not drop ALL capabilities"),
            );
        }
        if let Some(added) = strings(&c["capabilities"]["add"])
            .iter()
            .find(|a| *a != "NET_BIND_SERVICE")
        {
            fail(
                "k8s-restricted",
                format!("container {cname} adds capability {added}"),
            );
        }
        for port in container["ports"].as_sequence().into_iter().flatten() {
            if !port["hostPort"].is_null() {
                fail(
                    "k8s-restricted",
                    format!("container {cname} uses a hostPort"),
                );
            }
        }
        if !truthy(&c["readOnlyRootFilesystem"]) {
            fail(
                "k8s-hardening",
                format!("container {cname} has a writable root filesystem"),
            );
        }
        for kind in ["requests", "limits"] {
            for resource in ["cpu", "memory"] {
                if container["resources"][kind][resource].is_null() {
                    fail(
                        "k8s-hardening",
                        format!("container {cname} has no {resource} {kind}"),
                    );
                }
            }
        }
        let image = container["image"].as_str().unwrap_or_default();
        if !super::compose::is_pinned(image) {
            fail(
                "pinned-image",
                format!("container {cname} uses {image:?}; pin an explicit version tag"),
            );
        }
    }
}

/// Probes, mounts and listen ports of each container; returns its container ports by name.
fn lint_containers(
    object: &Object,
    spec: &Value,
    expected: &Expected,
    config_maps: &BTreeMap<String, BTreeMap<String, String>>,
    files: &BTreeMap<&str, &str>,
    mounted_keys: &mut BTreeSet<(String, String)>,
    out: &mut Vec<Violation>,
) -> BTreeMap<String, u64> {
    let workload = object.name();
    let mut all_ports = BTreeMap::new();
    // Volume name → (ConfigMap, keys).
    let mut volumes: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for volume in spec["volumes"].as_sequence().into_iter().flatten() {
        let Some(map) = volume["configMap"]["name"].as_str() else {
            continue;
        };
        let keys: Vec<String> = volume["configMap"]["items"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|i| i["key"].as_str().map(str::to_string))
            .collect();
        let keys = if keys.is_empty() {
            config_maps
                .get(map)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        } else {
            keys
        };
        volumes.insert(
            volume["name"].as_str().unwrap_or_default().to_string(),
            (map.to_string(), keys),
        );
    }
    for container in spec["containers"].as_sequence().into_iter().flatten() {
        let cname = container["name"].as_str().unwrap_or_default();
        let mut ports: BTreeMap<String, u64> = BTreeMap::new();
        for port in container["ports"].as_sequence().into_iter().flatten() {
            if let (Some(name), Some(number)) =
                (port["name"].as_str(), port["containerPort"].as_u64())
            {
                ports.insert(name.to_string(), number);
            }
        }
        // Probes: on one of the catalog's health endpoints of this service.
        let endpoints: Vec<(&str, String, u64)> = expected
            .health
            .iter()
            .filter(|h| {
                expected
                    .ports
                    .get(&h.port)
                    .is_some_and(|p| p.service == workload)
            })
            .map(|h| {
                (
                    h.path.as_str(),
                    crate::templates::k8s_name(&h.port),
                    u64::from(expected.ports[&h.port].container),
                )
            })
            .collect();
        if !endpoints.is_empty() {
            for kind in ["readinessProbe", "livenessProbe"] {
                let get = &container[kind]["httpGet"];
                let path = get["path"].as_str().unwrap_or_default();
                let port = get["port"].as_str().unwrap_or_default();
                let on_catalog = endpoints.iter().any(|(p, key, number)| {
                    *p == path && key == port && ports.get(port) == Some(number)
                });
                if !on_catalog {
                    out.push(violation(object.file, "k8s-probes", format!("{workload}: container {cname} {kind} is not an HTTP probe on a catalog health endpoint ({})", endpoints.iter().map(|(p, k, _)| format!("{k}{p}")).collect::<Vec<_>>().join(", "))));
                }
            }
        }
        // Mounted config files and the ports they listen on.
        let mut listens: BTreeSet<u64> = BTreeSet::new();
        let mut writes: BTreeSet<String> = BTreeSet::new();
        let writable: Vec<&str> = container["volumeMounts"]
            .as_sequence()
            .into_iter()
            .flatten()
            .filter(|m| !truthy(&m["readOnly"]))
            .filter_map(|m| m["mountPath"].as_str())
            .collect();
        for mount in container["volumeMounts"]
            .as_sequence()
            .into_iter()
            .flatten()
        {
            let Some((map, keys)) = volumes.get(mount["name"].as_str().unwrap_or_default()) else {
                continue;
            };
            for key in keys {
                mounted_keys.insert((map.clone(), key.clone()));
                let Some(path) = config_maps.get(map).and_then(|m| m.get(key)) else {
                    out.push(violation(
                        object.file,
                        "k8s-configmap-mounted",
                        format!("{workload}: mounts key {key} that ConfigMap {map} does not have"),
                    ));
                    continue;
                };
                if let Some(doc) = files
                    .get(path.as_str())
                    .and_then(|text| serde_yaml::from_str::<Value>(text).ok())
                {
                    listen_ports(&doc, &mut listens);
                    written_folders(&doc, &mut writes);
                }
            }
        }
        // The root filesystem is read-only: every folder a config writes to is a volume.
        for folder in &writes {
            let on_volume = writable.iter().any(|mount| {
                folder == mount || folder.starts_with(&format!("{}/", mount.trim_end_matches('/')))
            });
            if !on_volume {
                out.push(violation(
                    object.file,
                    "k8s-writable",
                    format!("{workload}: container {cname} writes to {folder}, which no writable volume holds (the root filesystem is read-only)"),
                ));
            }
        }
        if !listens.is_empty() {
            let declared: BTreeSet<u64> = ports.values().copied().collect();
            if declared != listens {
                out.push(violation(object.file, "k8s-ports", format!("{workload}: container {cname} declares ports {declared:?} but its config listens on {listens:?}")));
            }
        }
        all_ports.extend(ports);
    }
    all_ports
}

/// Folders a config writes to: `directory` values (the Collector's `file_storage`).
fn written_folders(doc: &Value, out: &mut BTreeSet<String>) {
    super::walk(doc, &mut Vec::new(), &mut |trail, value| {
        if trail.last().map(String::as_str) == Some("directory")
            && let Some(folder) = value.as_str().filter(|f| f.starts_with('/'))
        {
            out.insert(folder.to_string());
        }
    });
}

/// Ports a config listens on: `0.0.0.0:<port>` endpoints and `*_listen_port` values.
fn listen_ports(doc: &Value, out: &mut BTreeSet<u64>) {
    super::walk(doc, &mut Vec::new(), &mut |trail, value| {
        let key = trail.last().map(String::as_str).unwrap_or_default();
        if key == "endpoint"
            && let Some(port) = value
                .as_str()
                .and_then(|e| e.strip_prefix("0.0.0.0:"))
                .and_then(|p| p.parse().ok())
        {
            out.insert(port);
        }
        if key.ends_with("_listen_port")
            && let Some(port) = value.as_u64()
        {
            out.insert(port);
        }
    });
}

/// Each Service port targets a named port of the pods it selects, with the same number.
fn lint_service_ports(
    service: &Object,
    workloads: &[(String, Value, BTreeMap<String, u64>)],
    out: &mut Vec<Violation>,
) {
    let selector = &service.doc["spec"]["selector"];
    let selected: Vec<&(String, Value, BTreeMap<String, u64>)> = workloads
        .iter()
        .filter(|(_, labels, _)| {
            selector
                .as_mapping()
                .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
        .collect();
    let name = service.name();
    if selected.is_empty() {
        out.push(violation(
            service.file,
            "k8s-ports",
            format!("Service {name} selects no pod"),
        ));
        return;
    }
    for port in service.doc["spec"]["ports"]
        .as_sequence()
        .into_iter()
        .flatten()
    {
        let number = port["port"].as_u64();
        let target = port["targetPort"].as_str().unwrap_or_default();
        for (workload, _, ports) in &selected {
            if ports.get(target).copied() != number {
                out.push(violation(service.file, "k8s-ports", format!("Service {name} port {} targets {target:?}, which {workload} does not declare as container port {}", number.unwrap_or_default(), number.unwrap_or_default())));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Target};
    use crate::options::Options;

    /// The rules a rendered Jaeger stack breaks after `edit` changed one of its files.
    fn rules_after(path: &str, edit: impl Fn(&str) -> String) -> Vec<&'static str> {
        let catalog = Catalog::load().unwrap();
        let options = Options::for_target("jaeger", Target::Kubernetes, &catalog);
        let render = crate::lint::render_checked(&catalog, &options).unwrap();
        let mut files: BTreeMap<&str, String> = render
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.content.clone()))
            .collect();
        let edited = edit(&files[path]);
        assert_ne!(edited, files[path], "the edit changed nothing");
        files.insert(path, edited);
        let files: BTreeMap<&str, &str> = files.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let expected = Expected {
            health: &render.context.health,
            ports: &render.context.ports,
        };
        let mut out = Vec::new();
        lint(&files, &expected, &mut out);
        let mut rules: Vec<&'static str> = out.iter().map(|v| v.rule).collect();
        rules.dedup();
        rules
    }

    fn replace(from: &'static str, to: &'static str) -> impl Fn(&str) -> String {
        move |text| text.replacen(from, to, 1)
    }

    #[test]
    fn every_restricted_field_is_checked() {
        for (from, to) in [
            (
                "allowPrivilegeEscalation: false",
                "allowPrivilegeEscalation: true",
            ),
            ("drop: [ALL]", "drop: [NET_RAW]"),
            (
                "readOnlyRootFilesystem: true\n            runAsNonRoot: true",
                "readOnlyRootFilesystem: true\n            runAsNonRoot: false",
            ),
            (
                "type: RuntimeDefault\n      containers",
                "type: Unconfined\n      containers",
            ),
            (
                "capabilities:\n",
                "privileged: true\n            capabilities:\n",
            ),
            (
                "automountServiceAccountToken: false\n",
                "hostNetwork: true\n      automountServiceAccountToken: false\n",
            ),
            ("emptyDir:", "hostPath: {path: /tmp}\n          emptyDir:"),
            (
                "containerPort: 16686, protocol: TCP",
                "containerPort: 16686, hostPort: 16686, protocol: TCP",
            ),
        ] {
            let rules = rules_after("workloads.yaml", replace(from, to));
            assert!(
                rules.contains(&"k8s-restricted"),
                "{from} -> {to}: {rules:?}"
            );
        }
        let namespace = rules_after(
            "namespace.yaml",
            replace("enforce: restricted", "enforce: baseline"),
        );
        assert_eq!(namespace, vec!["k8s-restricted"]);
    }

    #[test]
    fn hardening_probes_mounts_ports_and_policies_are_checked() {
        let cases: [(&str, &'static str, &'static str, &str); 10] = [
            (
                "workloads.yaml",
                "readOnlyRootFilesystem: true",
                "readOnlyRootFilesystem: false",
                "k8s-hardening",
            ),
            (
                "workloads.yaml",
                "automountServiceAccountToken: false",
                "automountServiceAccountToken: true",
                "k8s-hardening",
            ),
            (
                "workloads.yaml",
                "requests: {cpu: 100m, ",
                "requests: {",
                "k8s-hardening",
            ),
            (
                "workloads.yaml",
                "httpGet: {path: /status, port: health}\n            periodSeconds: 10",
                "httpGet: {path: /, port: health}\n            periodSeconds: 10",
                "k8s-probes",
            ),
            (
                "workloads.yaml",
                "key: jaeger-config.yaml",
                "key: other.yaml",
                "k8s-configmap-mounted",
            ),
            (
                "workloads.yaml",
                "containerPort: 16686",
                "containerPort: 16687",
                "k8s-ports",
            ),
            (
                "workloads.yaml",
                "type: ClusterIP",
                "type: NodePort",
                "k8s-clusterip",
            ),
            (
                "network-policies.yaml",
                "policyTypes: [Ingress, Egress]\n---",
                "policyTypes: [Ingress]\n---",
                "k8s-default-deny",
            ),
            (
                "workloads.yaml",
                "jaegertracing/jaeger:2.20.0",
                "jaegertracing/jaeger:latest",
                "pinned-image",
            ),
            (
                "gateway.yaml",
                "mountPath: /var/lib/otelcol/queue}",
                "mountPath: /var/lib/otelcol/queue, readOnly: true}",
                "k8s-writable",
            ),
        ];
        for (path, from, to, rule) in cases {
            let rules = rules_after(path, replace(from, to));
            assert!(rules.contains(&rule), "{path}: {from} -> {to}: {rules:?}");
        }
    }

    #[test]
    fn secrets_by_file_and_high_uids_are_checked() {
        let low = rules_after(
            "workloads.yaml",
            replace("runAsUser: 10001", "runAsUser: 1001"),
        );
        assert_eq!(low, vec!["k8s-high-uid"]);
        let unset = rules_after("workloads.yaml", replace("        runAsUser: 10001\n", ""));
        assert_eq!(unset, vec!["k8s-high-uid"]);
        let variable = rules_after(
            "workloads.yaml",
            replace(
                "            # Go runtime soft limit",
                "            - name: PASSWORD\n              valueFrom:\n                secretKeyRef: {name: secrets, key: K}\n            # Go runtime soft limit",
            ),
        );
        assert_eq!(variable, vec!["k8s-secret-files"]);
        let all = rules_after(
            "workloads.yaml",
            replace(
                "          resources:",
                "          envFrom: [{secretRef: {name: secrets}}]\n          resources:",
            ),
        );
        assert_eq!(all, vec!["k8s-secret-files"]);
    }

    #[test]
    fn a_manifest_that_does_not_parse_is_one_violation() {
        // A line indented deeper than its neighbours: the parse error ends the file's lint
        // (it once made the document iterator repeat the error until memory ran out).
        let rules = rules_after("workloads.yaml", replace("runAsUser: 10001\n", ""));
        assert_eq!(rules.first(), Some(&"yaml-parses"), "{rules:?}");
    }

    #[test]
    fn the_rendered_stack_passes() {
        let rules = rules_after("README.md", |text| format!("{text}\n"));
        assert!(rules.is_empty(), "{rules:?}");
    }
}
