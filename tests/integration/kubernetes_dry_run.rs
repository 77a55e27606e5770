//! A server-side dry run of every `--target kubernetes` render on a real kube-apiserver (with
//! etcd), both built from their Go modules by `scripts/backends apiserver`: the namespace is
//! created for real (so its `restricted` enforcement applies), every object is sent with
//! `dryRun=All&fieldValidation=Strict`, and every Deployment's pod template is sent as a Pod,
//! which Pod Security admission refuses when it breaks `restricted`. No container runs.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::kneo;

const TOKEN: &str = "kneo-otel-dry-run";

/// The folder holding `kube-apiserver` and `etcd` (`$KNEO_APISERVER`, set by scripts/test);
/// `None` skips outside CI.
fn binaries() -> Option<PathBuf> {
    let found = std::env::var_os("KNEO_APISERVER")
        .map(PathBuf::from)
        .filter(|dir| dir.join("kube-apiserver").exists() && dir.join("etcd").exists());
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "KNEO_APISERVER is not set under CI: run ./scripts/test (it builds kube-apiserver and etcd)"
        );
        eprintln!("note: no kube-apiserver (KNEO_APISERVER), server-side dry run skipped");
    }
    found
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// etcd and kube-apiserver on loopback, stopped when dropped.
struct ApiServer {
    children: Vec<Child>,
    base: String,
    agent: ureq::Agent,
    _work: tempfile::TempDir,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl ApiServer {
    fn start(bin: &Path) -> ApiServer {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path().to_path_buf();
        let dir = dir.as_path();
        let key = rcgen::KeyPair::generate().unwrap();
        // The service-account keys the API server requires: signing (PKCS#8) and verifying.
        std::fs::write(dir.join("sa.key"), pem("PRIVATE KEY", &key.serialize_der())).unwrap();
        std::fs::write(
            dir.join("sa.pub"),
            pem(
                "PUBLIC KEY",
                &rcgen::PublicKeyData::subject_public_key_info(&key),
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("tokens.csv"),
            format!("{TOKEN},admin,admin,system:masters\n"),
        )
        .unwrap();
        let (client, peer, secure) = (free_port(), free_port(), free_port());
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let etcd = Command::new(bin.join("etcd"))
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{client}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=default=http://127.0.0.1:{peer}"))
            .stdout(Stdio::null())
            .stderr(log("etcd.log"))
            .spawn()
            .unwrap();
        let key_file = dir.join("sa.key").display().to_string();
        let public_file = dir.join("sa.pub").display().to_string();
        let apiserver = Command::new(bin.join("kube-apiserver"))
            .arg(format!("--etcd-servers=http://127.0.0.1:{client}"))
            .arg(format!("--secure-port={secure}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg(format!("--cert-dir={}", dir.join("certs").display()))
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!("--service-account-key-file={public_file}"))
            .arg(format!("--service-account-signing-key-file={key_file}"))
            .arg(format!(
                "--token-auth-file={}",
                dir.join("tokens.csv").display()
            ))
            .args([
                "--authorization-mode=AlwaysAllow",
                "--service-cluster-ip-range=10.96.0.0/16",
            ])
            .stdout(Stdio::null())
            .stderr(log("apiserver.log"))
            .spawn()
            .unwrap();
        let tls = ureq::tls::TlsConfig::builder()
            // Its serving certificate is self-signed at start, on loopback.
            .disable_verification(true)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .tls_config(tls)
            .build()
            .into();
        let server = ApiServer {
            children: vec![etcd, apiserver],
            base: format!("https://127.0.0.1:{secure}"),
            agent,
            _work: work,
        };
        let started = Instant::now();
        let mut server = server;
        loop {
            if server.get("/readyz").0 == 200 {
                break;
            }
            for child in &mut server.children {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!(
                        "etcd or kube-apiserver exited ({status}):\n{}\n{}",
                        std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default(),
                        std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default()
                    );
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(90),
                "kube-apiserver not ready after 90 s:\n{}",
                std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        server
    }

    fn get(&self, path: &str) -> (u16, String) {
        match self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .call()
        {
            Ok(mut response) => (
                response.status().as_u16(),
                response.body_mut().read_to_string().unwrap_or_default(),
            ),
            Err(_) => (0, String::new()),
        }
    }

    /// POSTs an object; (status, Warning headers, body).
    fn post(&self, path: &str, object: &Value) -> (u16, Vec<String>, String) {
        let mut response = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header("Content-Type", "application/json")
            .send(object.to_string())
            .unwrap();
        let warnings = response
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| v.to_str().unwrap_or_default().to_string())
            .collect();
        let body = response.body_mut().read_to_string().unwrap_or_default();
        (response.status().as_u16(), warnings, body)
    }
}

/// DER bytes as a PEM block.
fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).unwrap())
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// The REST collection of an object (`/apis/apps/v1/namespaces/ns/deployments`).
fn collection(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap();
    let prefix = if api_version.contains('/') {
        format!("/apis/{api_version}")
    } else {
        format!("/api/{api_version}")
    };
    let kind = object["kind"].as_str().unwrap().to_ascii_lowercase();
    let plural = match kind.strip_suffix('y') {
        Some(stem) => format!("{stem}ies"),
        None => format!("{kind}s"),
    };
    match object["metadata"]["namespace"].as_str() {
        Some(ns) if kind != "namespace" => format!("{prefix}/namespaces/{ns}/{plural}"),
        _ => format!("{prefix}/{plural}"),
    }
}

/// Every object `kustomize build` makes of a rendered folder, as JSON.
fn built_objects(dir: &Path) -> Option<Vec<Value>> {
    let kustomize = std::env::var_os("KNEO_KUSTOMIZE")
        .map(PathBuf::from)
        .or_else(|| crate::support::validator("kustomize"))?;
    let out = Command::new(kustomize)
        .arg("build")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    Some(
        serde_yaml::Deserializer::from_str(&text)
            .map(|d| serde::Deserialize::deserialize(d).unwrap())
            .map(|v: serde_yaml::Value| serde_json::to_value(v).unwrap())
            .collect(),
    )
}

/// Creates the namespace (and its default ServiceAccount, which no controller makes here),
/// then dry-runs every object and every Deployment's pod. Returns the refusals.
fn dry_run(server: &ApiServer, objects: &[Value]) -> Vec<String> {
    let mut refused = Vec::new();
    for namespace in objects.iter().filter(|o| o["kind"] == "Namespace") {
        let name = namespace["metadata"]["name"].as_str().unwrap();
        let (status, _, body) = server.post(&collection(namespace), namespace);
        assert!(
            status == 201 || status == 409,
            "namespace {name}: {status} {body}"
        );
        let account =
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default"}});
        server.post(
            &format!("/api/v1/namespaces/{name}/serviceaccounts"),
            &account,
        );
    }
    let mut sent = Vec::new();
    for object in objects.iter().filter(|o| o["kind"] != "Namespace") {
        sent.push(object.clone());
        if object["kind"] == "Deployment" {
            let template = &object["spec"]["template"];
            sent.push(json!({
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": format!("{}-dry-run", object["metadata"]["name"].as_str().unwrap()),
                    "namespace": object["metadata"]["namespace"],
                    "labels": template["metadata"]["labels"],
                },
                "spec": template["spec"],
            }));
        }
    }
    for object in &sent {
        let path = format!("{}?dryRun=All&fieldValidation=Strict", collection(object));
        let (status, warnings, body) = server.post(&path, object);
        let name = format!("{} {}", object["kind"], object["metadata"]["name"]);
        if !(200..300).contains(&status) {
            refused.push(format!("{name}: {status} {body}"));
        } else if !warnings.is_empty() {
            refused.push(format!("{name}: warnings {warnings:?}"));
        }
    }
    refused
}

#[test]
fn kubernetes_renders_pass_a_server_side_dry_run_under_restricted() {
    let Some(bin) = binaries() else {
        return;
    };
    // The API server is the version the catalog targets.
    let script =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backends"))
            .unwrap();
    let catalog = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"),
    )
    .unwrap();
    let catalog: serde_yaml::Value = serde_yaml::from_str(&catalog).unwrap();
    let version = catalog["targets"]["kubernetes"]["version"]
        .as_str()
        .unwrap();
    assert!(
        script.contains(&format!("KUBE_VERSION={version}.")),
        "scripts/backends builds another kube-apiserver than the catalog's Kubernetes {version}"
    );
    let server = ApiServer::start(&bin);
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut renders: Vec<(&str, &[&str])> = Vec::new();
    for backend in ["collector", "jaeger", "tempo"] {
        renders.push((backend, &[]));
        renders.push((backend, &["--redact"]));
    }
    renders.push(("tempo", &["--set", "gateway=false"]));
    for (index, (backend, extra)) in renders.into_iter().enumerate() {
        let dir = tmp.path().join(format!("{index}-{backend}"));
        kneo()
            .args([
                "init",
                "--target",
                "kubernetes",
                "--backend",
                backend,
                "--dir",
            ])
            .arg(&dir)
            .args(extra)
            .assert()
            .success();
        let Some(objects) = built_objects(&dir) else {
            return;
        };
        let refused = dry_run(&server, &objects);
        assert!(
            refused.is_empty(),
            "{backend} {extra:?}:\n{}",
            refused.join("\n")
        );
        checked += objects.len();
    }
    assert!(checked > 60, "only {checked} objects");

    // The server does enforce: a pod that may escalate privileges is refused.
    let dir = tmp.path().join("escalating");
    kneo()
        .args([
            "init",
            "--target",
            "kubernetes",
            "--backend",
            "jaeger",
            "--dir",
        ])
        .arg(&dir)
        .assert()
        .success();
    let mut objects = built_objects(&dir).unwrap();
    for object in objects.iter_mut().filter(|o| o["kind"] == "Deployment") {
        object["spec"]["template"]["spec"]["containers"][0]["securityContext"]["allowPrivilegeEscalation"] =
            json!(true);
    }
    let refused = dry_run(&server, &objects);
    assert!(
        refused
            .iter()
            .any(|r| r.contains("Pod") && r.contains("403") && r.contains("violates PodSecurity")),
        "{refused:?}"
    );
}
