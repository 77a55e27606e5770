//! `init --target kubernetes`: the same stacks as a kustomization of plain manifests, built by
//! the real kustomize, validated strictly against the Kubernetes version the catalog names,
//! linted (restricted Pod Security, probes, mounts, ports), with the compose target's config
//! bytes.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

use crate::support::{assert_snapshot, kneo, read_tree, snapshot_text, validator};

/// The backends the target renders, each plain and with `--redact`.
const RENDERED: &[&str] = &["collector", "jaeger", "tempo"];

/// The Kubernetes version the catalog validates against (`targets.kubernetes.version`).
fn kubernetes_version() -> String {
    let catalog: Value = serde_yaml::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
        )
        .unwrap(),
    )
    .unwrap();
    format!(
        "{}.0",
        catalog["targets"]["kubernetes"]["version"]
            .as_str()
            .unwrap()
    )
}

fn init_k8s(dir: &Path, backend: &str, extra: &[&str]) -> String {
    let out = kneo()
        .args([
            "init",
            "--target",
            "kubernetes",
            "--backend",
            backend,
            "--dir",
        ])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{backend} {extra:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// kustomize from `$KNEO_KUSTOMIZE` (scripts/test builds it) or PATH; `None` skips outside CI.
fn kustomize() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KNEO_KUSTOMIZE").map(PathBuf::from)
        && path.exists()
    {
        return Some(path);
    }
    validator("kustomize")
}

/// `kustomize build` of a folder: every object, as one multi-document YAML text.
fn kustomize_build(dir: &Path) -> Option<String> {
    let kustomize = kustomize()?;
    let out = Command::new(kustomize)
        .arg("build")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kustomize build {} failed:\n{}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

fn objects(built: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(built)
        .map(|d| serde::Deserialize::deserialize(d).unwrap())
        .collect()
}

/// Strict schema validation of every object (unknown fields are errors).
fn validate_strictly(built: &str, label: &str) {
    let Some(tool) = validator("kubernetes-validate") else {
        return;
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), built).unwrap();
    let out = Command::new(tool)
        .args(["--strict", "--quiet", "-k", &kubernetes_version()])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{label}: kubernetes-validate --strict failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn kubernetes_stacks_build_validate_and_snapshot() {
    for backend in RENDERED {
        for redact in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path().join("deploy");
            let extra: &[&str] = if redact { &["--redact"] } else { &[] };
            let stdout = init_k8s(&dir, backend, extra);
            let label = format!("{backend}{}", if redact { "-redact" } else { "" });
            assert!(stdout.contains("kubectl apply -k"), "{label}: {stdout}");
            assert!(stdout.contains("port-forward svc/"), "{label}: {stdout}");
            assert!(!stdout.contains("docker compose"), "{label}: {stdout}");
            let tree = read_tree(&dir);
            assert!(!tree.contains_key("docker-compose.yml"), "{label}");
            for path in [
                "kustomization.yaml",
                "namespace.yaml",
                "network-policies.yaml",
                "workloads.yaml",
            ] {
                assert!(tree.contains_key(path), "{label}: {path} missing");
            }
            let readme = &tree["README.md"];
            for command in [
                "kubectl apply -k .",
                "port-forward svc/",
                "kneo-otel verify",
            ] {
                assert!(readme.contains(command), "{label}: README lacks {command}");
            }
            assert_snapshot(
                &format!("kubernetes_{}", label.replace('-', "_")),
                snapshot_text(&tree),
            );
            if let Some(built) = kustomize_build(&dir) {
                let objects = objects(&built);
                let kinds: Vec<&str> = objects.iter().filter_map(|o| o["kind"].as_str()).collect();
                for kind in [
                    "Namespace",
                    "ConfigMap",
                    "Deployment",
                    "Service",
                    "NetworkPolicy",
                ] {
                    assert!(kinds.contains(&kind), "{label}: no {kind} in {kinds:?}");
                }
                for object in &objects {
                    if object["kind"] == "Service" {
                        assert_eq!(object["spec"]["type"], "ClusterIP", "{label}");
                    }
                    if object["kind"] != "Namespace" {
                        assert_eq!(
                            object["metadata"]["namespace"],
                            project_of(&tree).as_str(),
                            "{label}"
                        );
                    }
                }
                let gateway = kinds.contains(&"HorizontalPodAutoscaler");
                assert_eq!(
                    gateway,
                    *backend != "collector",
                    "{label}: gateway by default"
                );
                validate_strictly(&built, &label);
            }
        }
    }
}

#[test]
fn kubernetes_config_files_are_the_compose_bytes() {
    for backend in RENDERED {
        for redact in [false, true] {
            let tmp = tempfile::tempdir().unwrap();
            let (compose, k8s) = (tmp.path().join("compose"), tmp.path().join("k8s"));
            let extra: Vec<&str> = if redact {
                vec!["--redact"]
            } else {
                vec!["--gateway"]
            };
            let extra: &[&str] = if *backend == "collector" && !redact {
                &[]
            } else {
                &extra
            };
            crate::support::init(&compose, backend, extra);
            init_k8s(&k8s, backend, extra);
            let kustomization: Value = serde_yaml::from_str(
                &std::fs::read_to_string(k8s.join("kustomization.yaml")).unwrap(),
            )
            .unwrap();
            let files = kustomization["configMapGenerator"][0]["files"]
                .as_sequence()
                .unwrap();
            assert!(!files.is_empty());
            for entry in files {
                let entry = entry.as_str().unwrap();
                let path = entry.split_once('=').map_or(entry, |(_, p)| p);
                assert_eq!(
                    std::fs::read(k8s.join(path)).unwrap(),
                    std::fs::read(compose.join(path)).unwrap(),
                    "{backend} redact={redact}: {path} differs between the targets"
                );
            }
        }
    }
}

/// What Kubernetes does not render is refused in one line naming the way out, writing
/// nothing: SigNoz (its official Helm chart), Phoenix as a backend and as `--also` (compose
/// only so far).
#[test]
fn signoz_and_phoenix_are_refused_on_kubernetes_with_the_way_out_named() {
    for (args, expected) in [
        (&["--backend", "signoz"][..], "Helm chart"),
        (&["--backend", "phoenix"][..], "--target compose"),
        (
            &["--backend", "jaeger", "--also", "phoenix"][..],
            "--target compose",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("deploy");
        let out = kneo()
            .args(["init", "--target", "kubernetes"])
            .args(args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!dir.exists(), "something was written for {args:?}");
    }
}

#[test]
fn the_target_is_recorded_so_check_and_set_keep_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deploy");
    init_k8s(&dir, "jaeger", &[]);
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("target: kubernetes"), "{manifest}");
    assert!(manifest.contains("gateway: true"), "{manifest}");
    kneo().args(["check", "--dir"]).arg(&dir).assert().code(0);

    // --set from the manifest alone: the target stays, the gateway scales.
    kneo()
        .args(["init", "--set", "replicas.gateway=4", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    let gateway = std::fs::read_to_string(dir.join("gateway.yaml")).unwrap();
    assert!(gateway.contains("replicas: 4"), "{gateway}");
    assert!(
        gateway.contains("minReplicas: 4") && gateway.contains("maxReplicas: 12"),
        "{gateway}"
    );
    assert!(!dir.join("docker-compose.yml").exists());
    kneo().args(["check", "--dir"]).arg(&dir).assert().code(0);

    // An edited manifest is drift, as on compose.
    let workloads = dir.join("workloads.yaml");
    let text = std::fs::read_to_string(&workloads).unwrap();
    std::fs::write(
        &workloads,
        text.replace(
            "readOnlyRootFilesystem: true",
            "readOnlyRootFilesystem: false",
        ),
    )
    .unwrap();
    kneo().args(["check", "--dir"]).arg(&dir).assert().code(1);

    // Back to compose: the manifests go, the compose file comes.
    kneo()
        .args(["init", "--target", "compose", "--force", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    assert!(dir.join("docker-compose.yml").exists());
    assert!(!dir.join("kustomization.yaml").exists());
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(
        !manifest.contains("target:") && !manifest.contains("replicas"),
        "{manifest}"
    );
}

#[test]
fn replicas_are_refused_where_they_do_not_apply() {
    let tmp = tempfile::tempdir().unwrap();
    for (args, says) in [
        (
            vec![
                "--backend",
                "jaeger",
                "--gateway",
                "--set",
                "replicas.gateway=3",
            ],
            "--target kubernetes only",
        ),
        (
            vec![
                "--backend",
                "jaeger",
                "--target",
                "kubernetes",
                "--set",
                "replicas.gateway=0",
            ],
            "replica count",
        ),
        (
            vec![
                "--backend",
                "collector",
                "--target",
                "kubernetes",
                "--set",
                "replicas.gateway=2",
            ],
            "unknown key",
        ),
    ] {
        let dir = tmp.path().join("x");
        let out = kneo()
            .arg("init")
            .args(&args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!dir.exists());
    }
}

#[test]
fn verify_reads_a_kubernetes_folder_and_asks_for_the_port_forwards() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deploy");
    // Ports nothing listens on, so the run finds the stack down.
    init_k8s(
        &dir,
        "collector",
        &[
            "--set",
            "ports.otlp_grpc=47917",
            "--set",
            "ports.otlp_http=47918",
            "--set",
            "ports.health=47933",
        ],
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(
        readme.contains("port-forward svc/collector 47933:13133 47917:4317 47918:4318"),
        "{readme}"
    );
    let out = kneo()
        .args(["verify", "--timeout", "2s", "--format", "json", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("127.0.0.1:47918"), "{stdout}");
    assert!(
        stdout.contains("kubectl apply -k") && stdout.contains("port-forward"),
        "{stdout}"
    );
    assert!(!stdout.contains("docker compose"), "{stdout}");
}

#[test]
fn eject_and_the_ci_workflow_work_on_a_kubernetes_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let dir = repo.join("deploy");
    init_k8s(&dir, "tempo", &["--ci", "github"]);
    let workflow =
        std::fs::read_to_string(repo.join(".github/workflows/kneo-otel-check.yml")).unwrap();
    assert!(workflow.contains("check --dir deploy"), "{workflow}");

    kneo()
        .args(["eject", "workloads.yaml", "--dir"])
        .arg(&dir)
        .assert()
        .success();
    let workloads = dir.join("workloads.yaml");
    let mut text = std::fs::read_to_string(&workloads).unwrap();
    text.push_str("# mine now\n");
    std::fs::write(&workloads, text).unwrap();
    let out = kneo().args(["check", "--dir"]).arg(&dir).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("skipped (ejected)  workloads.yaml"));
    // A re-render keeps the target, the ejected file and the seed secret.
    let env = std::fs::read_to_string(dir.join(".env")).unwrap();
    init_k8s(&dir, "tempo", &["--force"]);
    assert!(
        std::fs::read_to_string(&workloads)
            .unwrap()
            .contains("# mine now")
    );
    assert_eq!(std::fs::read_to_string(dir.join(".env")).unwrap(), env);
    assert!(env.contains("secretGenerator"), "{env}");
}

#[test]
fn expose_is_refused_on_kubernetes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deploy");
    let out = kneo()
        .args([
            "init",
            "--backend",
            "jaeger",
            "--target",
            "kubernetes",
            "--expose",
            "--dir",
        ])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--expose") && stderr.contains("port-forward"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn switching_target_or_backend_first_stops_what_ran_before() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("deploy");
    crate::support::init(&dir, "jaeger", &[]);
    let project = project_of(&crate::support::read_tree(&dir));
    let stdout = init_k8s(&dir, "jaeger", &[]);
    assert!(
        stdout.contains(&format!(
            "first stop the compose stack: docker compose -p {project} down"
        )),
        "{stdout}"
    );
    let stdout = init_k8s(&dir, "tempo", &[]);
    assert!(
        stdout.contains(&format!(
            "first remove the old stack: kubectl delete namespace {project}"
        )) && stdout.contains("# the backend is now tempo"),
        "{stdout}"
    );
    let stdout = init_k8s(&dir, "tempo", &["--set", "project=renamed"]);
    assert!(
        stdout.contains(&format!(
            "first remove the old stack: kubectl delete namespace {project}"
        )) && stdout.contains("# the namespace is now renamed"),
        "{stdout}"
    );
    let stdout = init_k8s(&dir, "tempo", &[]);
    assert!(!stdout.contains("first "), "{stdout}");
}

#[test]
fn kubernetes_variants_build_and_validate() {
    for (backend, extra) in [
        (
            "jaeger",
            &["--set", "gateway=false", "--set", "ports.ui=16700"][..],
        ),
        (
            "tempo",
            &["--set", "gateway=false", "--set", "ports.grafana=3001"][..],
        ),
        (
            "tempo",
            &[
                "--redact",
                "--redact-keep",
                "gen_ai.tool.call.arguments",
                "--set",
                "replicas.gateway=5",
            ][..],
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("deploy");
        let stdout = init_k8s(&dir, backend, extra);
        let label = format!("{backend} {extra:?}");
        if extra.contains(&"ports.ui=16700") {
            assert!(
                stdout.contains(
                    "port-forward svc/jaeger 13133:13133 4317:4317 4318:4318 16700:16686"
                ),
                "{label}: {stdout}"
            );
        }
        if let Some(built) = kustomize_build(&dir) {
            let objects = objects(&built);
            let hpa = objects
                .iter()
                .find(|o| o["kind"] == "HorizontalPodAutoscaler");
            let gateway = !extra.contains(&"gateway=false");
            assert_eq!(hpa.is_some(), gateway, "{label}");
            if let Some(hpa) = hpa.filter(|_| extra.contains(&"replicas.gateway=5")) {
                assert_eq!(hpa["spec"]["minReplicas"].as_u64(), Some(5), "{label}");
            }
            validate_strictly(&built, &label);
        }
    }
}

/// checkov CKV_K8S_35 and CKV_K8S_40 on the built objects: no container takes a Secret as an
/// environment variable (Grafana reads its admin password from the mounted Secret through
/// `GF_SECURITY_ADMIN_PASSWORD__FILE`), and every pod runs as a uid of 10000 or more with an
/// `fsGroup` owning its writable volumes.
#[test]
fn pods_take_secrets_as_files_and_run_as_high_uids() {
    for backend in RENDERED {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("deploy");
        init_k8s(&dir, backend, &[]);
        let Some(built) = kustomize_build(&dir) else {
            return;
        };
        let objects = objects(&built);
        let secret = objects.iter().find(|o| o["kind"] == "Secret");
        for deployment in objects.iter().filter(|o| o["kind"] == "Deployment") {
            let name = deployment["metadata"]["name"].as_str().unwrap();
            let pod = &deployment["spec"]["template"]["spec"];
            let security = &pod["securityContext"];
            let uid = security["runAsUser"].as_u64().unwrap_or_default();
            assert!(uid >= 10000, "{backend}: {name} runs as uid {uid}");
            assert!(
                security["fsGroup"].as_u64().is_some_and(|g| g > 0),
                "{backend}: {name} has no fsGroup"
            );
            for container in pod["containers"].as_sequence().unwrap() {
                if let Some(uid) = container["securityContext"]["runAsUser"].as_u64() {
                    assert!(
                        uid >= 10000,
                        "{backend}: {name} container runs as uid {uid}"
                    );
                }
                for env in container["env"].as_sequence().into_iter().flatten() {
                    assert!(
                        env["valueFrom"]["secretKeyRef"].is_null(),
                        "{backend}: {name} takes a Secret as environment variable {:?}",
                        env["name"]
                    );
                }
                for from in container["envFrom"].as_sequence().into_iter().flatten() {
                    assert!(
                        from["secretRef"].is_null(),
                        "{backend}: {name} envFrom a Secret"
                    );
                }
            }
            if name != "grafana" {
                continue;
            }
            // Grafana: the password file is the Secret's key, mounted read-only where the
            // `__FILE` variable points, and the password is in no variable of its own.
            let container = &pod["containers"][0];
            let env: Vec<&Value> = container["env"].as_sequence().unwrap().iter().collect();
            assert!(
                !env.iter()
                    .any(|e| e["name"] == "GF_SECURITY_ADMIN_PASSWORD"),
                "{env:?}"
            );
            let path = env
                .iter()
                .find(|e| e["name"] == "GF_SECURITY_ADMIN_PASSWORD__FILE")
                .and_then(|e| e["value"].as_str())
                .expect("GF_SECURITY_ADMIN_PASSWORD__FILE");
            let (folder, file) = path.rsplit_once('/').unwrap();
            let mount = container["volumeMounts"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|m| m["mountPath"] == folder)
                .unwrap_or_else(|| panic!("nothing mounted at {folder}"));
            assert_eq!(mount["readOnly"], true);
            let volume = pod["volumes"]
                .as_sequence()
                .unwrap()
                .iter()
                .find(|v| v["name"] == mount["name"])
                .unwrap();
            let secret = secret.expect("the generated Secret");
            assert_eq!(
                volume["secret"]["secretName"], secret["metadata"]["name"],
                "the volume is the generated Secret (kustomize names it with its hash)"
            );
            let item = &volume["secret"]["items"][0];
            assert_eq!(item["key"], "GRAFANA_ADMIN_PASSWORD");
            assert_eq!(item["path"].as_str(), Some(file));
            assert!(!secret["data"]["GRAFANA_ADMIN_PASSWORD"].is_null());
            // Owner and group (the pod's fsGroup) may read it, nobody else.
            let mode = volume["secret"]["defaultMode"].as_u64().unwrap();
            assert_eq!(mode & 0o007, 0, "mode {mode:o}");
            assert_ne!(mode & 0o040, 0, "mode {mode:o}");
        }
    }
}

/// The project name a folder recorded (its namespace).
fn project_of(tree: &std::collections::BTreeMap<String, String>) -> String {
    tree["kneo-otel.yaml"]
        .lines()
        .find_map(|l| l.trim().strip_prefix("project: "))
        .expect("a recorded project")
        .to_string()
}

/// The generated README on a cluster says where the stack keeps data, for how long, its bound
/// and what a full disk does: the target's own stores (the kubelet's log rotation, not
/// Docker's json-file driver), with `--set retention` filled in.
#[test]
fn the_kubernetes_readme_lists_the_targets_stores_with_their_retention() {
    for backend in ["collector", "jaeger", "tempo"] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("k8s");
        crate::support::init(
            &dir,
            backend,
            &["--target", "kubernetes", "--set", "retention=9"],
        );
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(readme.contains("## Stored data"), "{backend}:\n{readme}");
        assert!(
            readme.contains("- **container logs**: each container's stdout/stderr (the kubelet's"),
            "{backend}:\n{readme}"
        );
        assert!(
            !readme.contains("json-file"),
            "{backend}: a compose-only store:\n{readme}"
        );
        if backend == "tempo" {
            assert!(
                readme.contains(
                    "- **tempo-data**: Tempo's WAL and trace blocks (/var/tempo). Kept: 9 days"
                ),
                "{readme}"
            );
        }
    }
}
