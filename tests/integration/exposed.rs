//! `--expose` on the real binaries: the front door takes OTLP only over TLS with the generated
//! CA and only with the bearer token; `verify` (reading both from the folder) delivers, and
//! explains a CA that does not match.

use std::path::Path;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;

use crate::engine::Stack;
use crate::real_backends::with_stack;
use crate::support::kneo;

/// `POST /v1/traces` over TLS trusting `ca` only, with an optional token; the status code.
fn post_traces(url: &str, ca: &[u8], token: Option<&str>) -> Result<u16, String> {
    post_request(url, ca, token, &[])
}

/// `POST` of an OTLP/HTTP body over TLS trusting `ca` only, with an optional token; the
/// status code.
pub fn post_request(url: &str, ca: &[u8], token: Option<&str>, body: &[u8]) -> Result<u16, String> {
    let cert = ureq::tls::Certificate::from_pem(ca).map_err(|e| e.to_string())?;
    let tls = ureq::tls::TlsConfig::builder()
        .root_certs(ureq::tls::RootCerts::Specific(Arc::new(vec![cert])))
        .build();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .tls_config(tls)
        .timeout_global(Some(std::time::Duration::from_secs(10)))
        .build()
        .into();
    let mut request = agent
        .post(url)
        .header("Content-Type", "application/x-protobuf");
    if let Some(token) = token {
        request = request.header("Authorization", format!("Bearer {token}"));
    }
    request
        .send(body)
        .map(|r| r.status().as_u16())
        .map_err(|e| e.to_string())
}

/// An OTLP/gRPC export over TLS trusting `ca`, with an optional token; the status code.
fn grpc_export(ca: &[u8], token: Option<&str>) -> Result<tonic::Code, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let tls = tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(ca))
            .domain_name("127.0.0.1");
        let channel = tonic::transport::Endpoint::from_static("https://127.0.0.1:4317")
            .tls_config(tls)
            .map_err(|e| e.to_string())?
            .connect()
            .await
            .map_err(|e| format!("{e:?}"))?;
        let mut request = tonic::Request::new(ExportTraceServiceRequest::default());
        if let Some(token) = token {
            request
                .metadata_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
        }
        match TraceServiceClient::new(channel).export(request).await {
            Ok(_) => Ok(tonic::Code::Ok),
            Err(status) => Ok(status.code()),
        }
    })
}

fn verify(dir: &Path, extra: &[&str]) -> (bool, String) {
    let out = kneo()
        .args(["verify", "--timeout", "30s", "--dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn logs(stack: &Stack, service: &str) -> String {
    format!("--- {service} ---\n{}", stack.logs(service))
}

/// A CA that did not sign the front door's certificate.
fn other_ca() -> String {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn exposed_collector_takes_otlp_only_with_tls_and_the_token() {
    with_stack("collector", &["--expose"], |dir, stack| {
        let ca = std::fs::read(dir.join("secrets/ca.crt")).unwrap();
        let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
        let token = token.trim();
        let url = "https://127.0.0.1:4318/v1/traces";

        // No token, or a wrong one: refused before anything is read.
        assert_eq!(
            post_traces(url, &ca, None),
            Ok(401),
            "{}",
            logs(stack, "collector")
        );
        assert_eq!(post_traces(url, &ca, Some("not-the-token")), Ok(401));
        assert_eq!(grpc_export(&ca, None), Ok(tonic::Code::Unauthenticated));
        // With it: accepted over both protocols.
        assert_eq!(post_traces(url, &ca, Some(token)), Ok(200));
        assert_eq!(grpc_export(&ca, Some(token)), Ok(tonic::Code::Ok));
        // Plain HTTP gets no OTLP answer at all.
        let plain = ureq::Agent::config_builder()
            .proxy(None)
            .http_status_as_error(false)
            .build()
            .new_agent()
            .post("http://127.0.0.1:4318/v1/traces")
            .header("Authorization", format!("Bearer {token}"))
            .send(&[][..]);
        assert!(
            plain.as_ref().map_or(true, |r| r.status() == 400),
            "plain HTTP was answered: {plain:?}"
        );
        // Another CA: the TLS handshake fails.
        let other = other_ca();
        let refused = post_traces(url, other.as_bytes(), Some(token)).unwrap_err();
        assert!(refused.to_lowercase().contains("certificate"), "{refused}");

        // verify reads the CA and the token from the folder: HTTP and gRPC both deliver.
        let (ok, text) = verify(dir, &[]);
        assert!(ok, "{text}\n{}", logs(stack, "collector"));
        assert!(
            text.contains("https://127.0.0.1:4318/v1/traces accepted"),
            "{text}"
        );
        let (ok, text) = verify(dir, &["--protocol", "grpc"]);
        assert!(ok, "{text}\n{}", logs(stack, "collector"));

        // A folder whose CA is not the one the running stack uses: a clear hint.
        std::fs::write(dir.join("secrets/ca.crt"), &other).unwrap();
        for protocol in ["http/protobuf", "grpc"] {
            let (ok, text) = verify(dir, &["--protocol", protocol]);
            assert!(!ok, "{protocol}: verify passed with the wrong CA:\n{text}");
            assert!(
                text.contains("did not sign") && text.contains("secrets/front-door.env"),
                "{protocol}: no hint about the CA:\n{text}"
            );
        }
        std::fs::write(dir.join("secrets/ca.crt"), &ca).unwrap();

        // A token the stack does not know: 401, and the hint says why.
        std::fs::write(dir.join("secrets/token"), "stale\n").unwrap();
        let (ok, text) = verify(dir, &[]);
        assert!(!ok && text.contains("401"), "{text}");
        assert!(text.contains("does not take the token"), "{text}");
    });
}

#[test]
fn exposed_jaeger_delivers_through_the_gateway_and_keeps_its_ui_on_loopback() {
    with_stack("jaeger", &["--expose"], |dir, stack| {
        // Jaeger's own receivers are not published: the gateway is the only front door.
        let published: Vec<(u16, String)> = stack
            .published
            .iter()
            .map(|(port, (service, _))| (*port, service.clone()))
            .collect();
        assert!(
            published.contains(&(4318, "gateway".to_string()))
                && published.contains(&(4317, "gateway".to_string())),
            "{published:?}"
        );
        let (ok, text) = verify(dir, &[]);
        assert!(
            ok,
            "{text}\n{}\n{}",
            logs(stack, "gateway"),
            logs(stack, "jaeger")
        );
        let ca = std::fs::read(dir.join("secrets/ca.crt")).unwrap();
        assert_eq!(
            post_traces("https://127.0.0.1:4318/v1/traces", &ca, None),
            Ok(401)
        );
    });
}

// ---------------------------------------------------------------------------------------------
// The renders (no stack needed).

use std::os::unix::fs::PermissionsExt;

use proptest::prelude::*;
use serde_yaml::Value;

use crate::support::{
    BACKENDS, assert_snapshot, compose, published_ports, read_tree, snapshot_text,
    validate_with_real_tools,
};

const SEEDS: [(&str, u32); 3] = [
    ("secrets/ca.crt", 0o644),
    ("secrets/token", 0o600),
    ("secrets/front-door.env", 0o600),
];

fn init_exposed(dir: &Path, backend: &str, extra: &[&str]) -> std::process::Output {
    kneo()
        .args(["init", "--backend", backend, "--expose", "--dir"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// The service that takes OTLP: the collector itself, or the gateway `--expose` implies.
fn front_door(backend: &str) -> &'static str {
    if backend == "collector" {
        "collector"
    } else {
        "gateway"
    }
}

/// Ports: OTLP (4317/4318) on the front door only, on 0.0.0.0 (TLS and the token);
/// everything else, Grafana's plain-HTTP login included, on 127.0.0.1, unless `expose_ui`.
fn assert_exposure(dir: &Path, backend: &str, expose_ui: bool) {
    for (service, ip, host, container) in published_ports(&compose(dir)) {
        let otlp = matches!(container, 4317 | 4318);
        if otlp {
            assert_eq!(
                service,
                front_door(backend),
                "{backend}: {service} publishes {host}"
            );
        }
        let public = otlp || expose_ui;
        let want = if public { "0.0.0.0" } else { "127.0.0.1" };
        assert_eq!(ip, want, "{backend}: {service} publishes {host} on {ip}");
    }
}

/// The front door's OTLP receivers take TLS from the seed file and check the token.
fn assert_front_door_secured(dir: &Path, backend: &str) {
    let config = if backend == "collector" {
        "otel-config.yaml"
    } else {
        "gateway-config.yaml"
    };
    let doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(dir.join(config)).unwrap()).unwrap();
    for protocol in ["grpc", "http"] {
        let block = &doc["receivers"]["otlp"]["protocols"][protocol];
        assert_eq!(
            block["tls"]["cert_pem"], "${env:KNEO_TLS_CERT}",
            "{backend}"
        );
        assert_eq!(block["tls"]["key_pem"], "${env:KNEO_TLS_KEY}", "{backend}");
        assert_eq!(block["auth"]["authenticator"], "bearertokenauth/otlp");
    }
    assert_eq!(
        doc["extensions"]["bearertokenauth/otlp"]["token"],
        "${env:KNEO_OTLP_TOKEN}"
    );
    let enabled = doc["service"]["extensions"].as_sequence().unwrap();
    assert!(enabled.iter().any(|e| e == "bearertokenauth/otlp"));
    let service = &compose(dir)["services"][front_door(backend)];
    assert_eq!(
        service["env_file"][0], "secrets/front-door.env",
        "{backend}"
    );
}

/// Seed modes, git-ignored, and the token in no other file.
fn assert_seeds(dir: &Path) {
    for (path, mode) in SEEDS {
        let meta = std::fs::metadata(dir.join(path)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, mode, "{path}");
    }
    let gitignore = std::fs::read_to_string(dir.join(".gitignore")).unwrap();
    assert!(gitignore.lines().any(|l| l == "secrets/"), "{gitignore}");
    let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
    let token = token.trim();
    assert!(token.len() >= 40 && token.chars().all(|c| c.is_ascii_alphanumeric()));
    for (path, content) in read_tree(dir) {
        if path != "secrets/token" && path != "secrets/front-door.env" {
            assert!(!content.contains(token), "the token leaked into {path}");
            assert!(!content.contains("PRIVATE KEY"), "a key leaked into {path}");
        }
    }
}

#[test]
fn exposed_stacks_take_otlp_with_tls_and_a_token_and_keep_uis_on_loopback() {
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("obs");
        let out = init_exposed(&dir, backend, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{backend}: {stderr}");
        assert!(
            stderr
                .contains("--expose publishes OTLP on all interfaces with TLS and a bearer token"),
            "{stderr}"
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        // --dir is absolute here: so are the secrets' paths (they work from anywhere).
        for line in [
            "export OTEL_EXPORTER_OTLP_ENDPOINT=https://127.0.0.1:4318".to_string(),
            format!(
                "export OTEL_EXPORTER_OTLP_CERTIFICATE=\"{}/secrets/ca.crt\"",
                dir.display()
            ),
            format!(
                "export OTEL_EXPORTER_OTLP_HEADERS=\"Authorization=Bearer%20$(cat {}/secrets/token)\"",
                dir.display()
            ),
        ] {
            assert!(
                stdout.contains(&line),
                "{backend}: no `{line}` in\n{stdout}"
            );
        }
        assert_exposure(&dir, backend, false);
        assert_front_door_secured(&dir, backend);
        assert_seeds(&dir);
        validate_with_real_tools(&dir);
        if matches!(*backend, "collector" | "tempo") {
            assert_snapshot(
                &format!("{backend}-expose"),
                snapshot_text(&read_tree(&dir)),
            );
        }
    }
}

#[test]
fn expose_ui_publishes_the_rest_with_a_warning_and_needs_expose() {
    let tmp = tempfile::tempdir().unwrap();
    for backend in ["jaeger", "tempo"] {
        let dir = tmp.path().join(backend);
        let out = init_exposed(&dir, backend, &["--expose-ui"]);
        assert!(out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warning = stderr
            .lines()
            .find(|l| l.starts_with("warning: --expose-ui"))
            .unwrap_or_else(|| panic!("no --expose-ui warning in {stderr}"));
        for needle in [
            "on all interfaces over plain HTTP",
            "without a login",
            "behind a TLS proxy",
        ] {
            assert!(warning.contains(needle), "{needle:?} not in {warning}");
        }
        assert_exposure(&dir, backend, true);
        validate_with_real_tools(&dir);
    }

    let alone = tmp.path().join("alone");
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--expose-ui", "--dir"])
        .arg(&alone)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: --expose-ui needs --expose (or --set expose=true)\n"
    );
    assert!(!alone.exists());
}

#[test]
fn seed_secrets_are_written_once_and_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    // Before anything exists: the dry run's diff and JSON show no key, certificate or token.
    for format in [&["--diff"][..], &["--format", "json"]] {
        let out = init_exposed(&dir, "tempo", &[&["--dry-run"][..], format].concat());
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("secrets/front-door.env"), "{text}");
        for secret in ["BEGIN", "KNEO_OTLP_TOKEN=", "KNEO_TLS_KEY="] {
            assert!(!text.contains(secret), "{format:?} shows {secret}:\n{text}");
        }
    }
    assert!(init_exposed(&dir, "tempo", &[]).status.success());
    let before: Vec<Vec<u8>> = SEEDS
        .iter()
        .map(|(p, _)| std::fs::read(dir.join(p)).unwrap())
        .collect();
    let token = String::from_utf8(before[1].clone()).unwrap();
    // Re-rendered (also with a new host): the seeds stay as they are, and are never shown.
    for extra in [
        &[][..],
        &["--set", "expose.hosts=otel.example.com", "--diff"],
    ] {
        let out = init_exposed(&dir, "tempo", extra);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains(token.trim()));
    }
    for args in [
        &["check"][..],
        &["check", "--format", "json"],
        &["init", "--dry-run", "--diff"],
    ] {
        let out = kneo().args(args).arg("--dir").arg(&dir).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            !text.contains(token.trim()) && !text.contains("BEGIN"),
            "{args:?}:\n{text}"
        );
    }
    let after: Vec<Vec<u8>> = SEEDS
        .iter()
        .map(|(p, _)| std::fs::read(dir.join(p)).unwrap())
        .collect();
    assert_eq!(before, after, "a seed file was rewritten");

    // One of the set missing: refused, nothing written (a new key would not match the CA).
    std::fs::remove_file(dir.join("secrets/token")).unwrap();
    let out = init_exposed(&dir, "tempo", &[]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secrets/token is missing")
            && stderr.contains("delete secrets/ and re-run"),
        "{stderr}"
    );
    assert!(!dir.join("secrets/token").exists());
    assert_eq!(
        std::fs::read(dir.join("secrets/ca.crt")).unwrap(),
        before[0]
    );
    // As told: a new set.
    std::fs::remove_dir_all(dir.join("secrets")).unwrap();
    assert!(init_exposed(&dir, "tempo", &[]).status.success());
    assert_ne!(
        std::fs::read(dir.join("secrets/ca.crt")).unwrap(),
        before[0]
    );
}

/// The DER of the first PEM block of `kind` in `text`.
fn pem_der(text: &str, kind: &str) -> Vec<u8> {
    use base64::Engine as _;
    let begin = format!("-----BEGIN {kind}-----");
    let start = text.find(&begin).unwrap() + begin.len();
    let end = start + text[start..].find("-----END").unwrap();
    let body: String = text[start..end].split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn the_certificate_names_loopback_this_machine_and_the_given_hosts() {
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let out = init_exposed(
        &dir,
        "collector",
        &["--set", "expose.hosts=otel.example.com,192.0.2.10"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ca = pem_der(
        &std::fs::read_to_string(dir.join("secrets/ca.crt")).unwrap(),
        "CERTIFICATE",
    );
    let server = pem_der(
        &std::fs::read_to_string(dir.join("secrets/front-door.env")).unwrap(),
        "CERTIFICATE",
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca)).unwrap();
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        Arc::new(rustls::crypto::ring::default_provider()),
    )
    .build()
    .unwrap();
    let hostname = gethostname::gethostname().to_string_lossy().into_owned();
    let check = |name: &str| {
        verifier.verify_server_cert(
            &CertificateDer::from(server.clone()),
            &[],
            &ServerName::try_from(name.to_string()).unwrap(),
            &[],
            UnixTime::now(),
        )
    };
    for name in [
        "localhost",
        "127.0.0.1",
        "otel.example.com",
        "192.0.2.10",
        &hostname,
    ] {
        assert!(check(name).is_ok(), "{name}: {:?}", check(name));
    }
    assert!(check("other.example.com").is_err());
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("expose_hosts:"), "{manifest}");

    let out = init_exposed(
        &tmp.path().join("bad"),
        "collector",
        &["--set", "expose.hosts=ok.example,bad_host"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("\"bad_host\" is not a host name or IP address"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(16),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Whatever else is asked for, an exposed render publishes OTLP only from the front door,
    /// only with TLS and the token, and nothing without a login beyond loopback unless
    /// `--expose-ui`.
    #[test]
    fn every_exposed_render_keeps_the_door_shut(
        backend in prop::sample::select(BACKENDS.to_vec()),
        expose_ui in any::<bool>(),
        gateway in any::<bool>(),
        redact in any::<bool>(),
        hosts in prop::sample::subsequence(vec!["otel.example.com", "10.0.0.7", "box-2"], 0..3),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("obs");
        let mut extra: Vec<String> = Vec::new();
        if expose_ui { extra.push("--expose-ui".into()); }
        if gateway && backend != "collector" { extra.push("--gateway".into()); }
        if redact { extra.push("--redact".into()); }
        if !hosts.is_empty() {
            extra.push("--set".into());
            extra.push(format!("expose.hosts={}", hosts.join(",")));
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = init_exposed(&dir, backend, &extra);
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_exposure(&dir, backend, expose_ui);
        assert_front_door_secured(&dir, backend);
        assert_seeds(&dir);
    }
}

/// What `snippet` writes for an exposed stack runs with no environment at all: the Rust smoke
/// crate (HTTP and gRPC) and the Python script (both) find the CA and the token in the stack's
/// folder and deliver. The environment `init` prints works as well (the SDKs read
/// `OTEL_EXPORTER_OTLP_HEADERS` themselves), and a wrong token there is refused.
#[test]
#[ignore = "builds the generated crate against the real opentelemetry crates"]
fn snippet_programs_deliver_to_an_exposed_collector_without_any_setup() {
    let binaries: Vec<(&str, std::path::PathBuf)> = ["http", "grpc"]
        .into_iter()
        .map(|p| {
            let project = format!("{p}-exposed");
            (p, crate::snippet_smoke::binary(&project, "smoke-sdk"))
        })
        .collect();
    let dir = crate::snippet_smoke::exposed_stack();
    let python = crate::snippet_python::python();
    let _one = crate::engine::exclusive();
    let Some(stack) = crate::engine::running_stack(&dir, "collector", &["--expose"]) else {
        return;
    };
    let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
    let delivered = |what: String, out: std::process::Output| {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{what}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            logs(&stack, "collector")
        );
        let id = crate::real_backends::printed_trace_id(&stdout);
        crate::real_backends::assert_arrived(&stack, "collector", &what, &id);
    };
    let headers = |token: &str| {
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            format!("Authorization=Bearer%20{}", token.trim()),
        )
    };
    for (protocol, binary) in &binaries {
        let (out, _) = crate::snippet_smoke::run(binary, &[], &[]);
        delivered(format!("rust {protocol}, no environment"), out);
        let (out, _) = crate::snippet_smoke::run(binary, &[], &[headers(&token)]);
        delivered(format!("rust {protocol}, OTEL_EXPORTER_OTLP_HEADERS"), out);
        let (out, _) = crate::snippet_smoke::run(binary, &[], &[headers("wrong")]);
        assert!(
            !out.status.success(),
            "rust {protocol}: a wrong token was accepted"
        );
    }
    let Some(python) = python else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for protocol in ["http", "grpc"] {
        let script = tmp.path().join(format!("smoke_{protocol}.py"));
        kneo()
            .args(["snippet", "--lang", "python", "--dir"])
            .arg(&dir)
            .args([
                "--protocol",
                protocol,
                "--service-name",
                "smoke_agent",
                "--script",
            ])
            .arg(&script)
            .assert()
            .success();
        let out = crate::snippet_python::run_script(&python, &script, &[]);
        delivered(format!("python {protocol}, no environment"), out);
        let out = crate::snippet_python::run_script(&python, &script, &[headers("wrong")]);
        assert!(
            !out.status.success(),
            "python {protocol}: a wrong token was accepted"
        );
    }
}

#[test]
fn snippet_for_an_exposed_stack_names_its_ca_and_token_never_the_token_itself() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    assert!(init_exposed(&dir, "tempo", &[]).status.success());
    let folder = std::fs::canonicalize(&dir).unwrap();
    let token = std::fs::read_to_string(dir.join("secrets/token")).unwrap();
    for (lang, protocol) in [
        ("rust", "http"),
        ("rust", "grpc"),
        ("python", "http"),
        ("python", "grpc"),
    ] {
        let out = kneo()
            .args(["snippet", "--lang", lang, "--protocol", protocol, "--dir"])
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let module = String::from_utf8_lossy(&out.stdout);
        for wanted in [
            "\"secrets\", \"ca.crt\"",
            "\"secrets\", \"token\"",
            "https://127.0.0.1:",
        ] {
            assert!(module.contains(wanted), "{lang} {protocol}: no {wanted}");
        }
        // (The header's command line names --dir as given, here an absolute path.)
        assert!(
            !module.contains(&format!("{}/secrets", folder.display())),
            "{lang} {protocol}: an absolute path"
        );
        assert!(
            !module.contains(token.trim()),
            "{lang} {protocol}: the token itself"
        );
    }
    // Written with --out: recorded with both paths, and `check` re-renders it identically.
    let out = kneo()
        .current_dir(&dir)
        .args(["snippet", "--out", "telemetry.rs"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("token_file:"), "{manifest}");
    kneo()
        .arg("check")
        .arg("--dir")
        .arg(&dir)
        .assert()
        .success();
    // Without its secrets, snippet says how to make them.
    std::fs::remove_dir_all(dir.join("secrets")).unwrap();
    let out = kneo()
        .args(["snippet", "--protocol", "grpc", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("secrets/ca.crt is missing") && stderr.contains("kneo-otel init --dir"),
        "{stderr}"
    );
}

/// `--expose` snippets name the stack's secrets relative to the repository, never by this
/// machine's absolute path: the module (found from its own file: Python `__file__`, Rust
/// `CARGO_MANIFEST_DIR`) and the manifest's record are the same in every clone, `check`
/// passes in a copy of the repository elsewhere, the Python module finds the files from any
/// current folder (or in `KNEO_OTEL_DIR`), and `init` prints lines that work where it ran.
#[test]
fn exposed_snippets_name_the_secrets_relative_to_the_repository() {
    let tmp = crate::support::repo_tempdir();
    let repo = std::fs::canonicalize(tmp.path()).unwrap();
    std::fs::create_dir_all(repo.join("app/src")).unwrap();
    std::fs::write(repo.join("app/Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
    let out = kneo()
        .args(["init", "--backend", "collector", "--expose", "--dir", "obs"])
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The printed lines work from where init ran (the repository), not only inside obs/.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let exports: Vec<&str> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| {
            l.starts_with("export OTEL_EXPORTER_OTLP_CERTIFICATE=")
                || l.starts_with("export OTEL_EXPORTER_OTLP_HEADERS=")
        })
        .collect();
    assert_eq!(exports.len(), 2, "{stdout}");
    let token = std::fs::read_to_string(repo.join("obs/secrets/token")).unwrap();
    let shell = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{}\n{}\ntest -f \"$OTEL_EXPORTER_OTLP_CERTIFICATE\" && printf %s \"$OTEL_EXPORTER_OTLP_HEADERS\"",
            exports[0], exports[1]
        ))
        .current_dir(&repo)
        .output()
        .unwrap();
    assert!(
        shell.status.success(),
        "{exports:?}: {}",
        String::from_utf8_lossy(&shell.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&shell.stdout),
        format!("Authorization=Bearer%20{}", token.trim())
    );

    for (lang, module) in [
        ("python", "app/telemetry.py"),
        ("rust", "app/src/telemetry.rs"),
    ] {
        let out = kneo()
            .args(["snippet", "--dir", "obs", "--lang", lang, "--out", module])
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{lang}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let manifest = std::fs::read_to_string(repo.join("obs/kneo-otel.yaml")).unwrap();
    let python = std::fs::read_to_string(repo.join("app/telemetry.py")).unwrap();
    let rust = std::fs::read_to_string(repo.join("app/src/telemetry.rs")).unwrap();
    for (name, text) in [
        ("manifest", &manifest),
        ("python", &python),
        ("rust", &rust),
    ] {
        for absolute in [repo.display().to_string(), tmp.path().display().to_string()] {
            assert!(
                !text.contains(&absolute),
                "{name} names {absolute}:\n{text}"
            );
        }
    }
    assert!(manifest.contains("ca_file: secrets/ca.crt"), "{manifest}");
    assert!(manifest.contains("token_file: secrets/token"), "{manifest}");
    assert!(python.contains("STACK_DIR = [\"..\", \"obs\"]"), "{python}");
    assert!(
        rust.contains("const STACK_DIR: &[&str] = &[\"..\", \"obs\"];"),
        "{rust}"
    );

    // The Python module finds the secrets from its own file, whatever the current folder.
    if let Some(python_bin) = crate::snippet_python::python() {
        let elsewhere = tempfile::tempdir().unwrap();
        let probe = "import os, sys; sys.path.insert(0, sys.argv[1]); import telemetry; print(os.path.realpath(telemetry.DEFAULT_CA_FILE)); print(os.path.realpath(telemetry.DEFAULT_TOKEN_FILE))";
        for (kneo_dir, expected) in [
            (None, repo.join("obs")),
            (Some(repo.join("obs")), repo.join("obs")),
        ] {
            let mut command = std::process::Command::new(&python_bin);
            command
                .args(["-c", probe])
                .arg(repo.join("app"))
                .current_dir(elsewhere.path());
            match &kneo_dir {
                Some(dir) => command.env("KNEO_OTEL_DIR", dir),
                None => command.env_remove("KNEO_OTEL_DIR"),
            };
            let out = command.output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let expected = std::fs::canonicalize(&expected).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!(
                    "{}\n{}\n",
                    expected.join("secrets/ca.crt").display(),
                    expected.join("secrets/token").display()
                ),
                "KNEO_OTEL_DIR {kneo_dir:?}"
            );
        }
    }

    // The same repository elsewhere (a clone on another machine): check still passes.
    kneo()
        .args(["check", "--dir"])
        .arg(repo.join("obs"))
        .assert()
        .success();
    let other = tempfile::tempdir().unwrap();
    let copy = other.path().join("elsewhere");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&repo)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let out = kneo()
        .args(["check", "--dir"])
        .arg(copy.join("obs"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
