//! The rules of the compose target, run on small hand-made files through [`super::lint_files`].

use super::*;

const GOOD_SERVICE: &str = r#"
    image: example/app:1.2.3
    read_only: true
    security_opt: ["no-new-privileges:true"]
    cap_drop: [ALL]
    deploy: {resources: {limits: {memory: 256M, cpus: "0.5"}}}
    ports: ["127.0.0.1:4318:4318"]
    volumes: ["./app.yaml:/etc/app.yaml:ro"]
"#;

fn compose(service: &str) -> String {
    format!("services:\n  app:{service}")
}

fn rules(files: &[(&str, &str)], expose: bool) -> Vec<&'static str> {
    rules_with(
        files,
        Policy {
            expose,
            ..Policy::default()
        },
    )
}

fn rules_with(files: &[(&str, &str)], policy: Policy) -> Vec<&'static str> {
    let map: BTreeMap<&str, &str> = files.iter().copied().collect();
    lint_files(&map, &policy)
        .into_iter()
        .map(|v| v.rule)
        .collect()
}

fn with_compose(service: &str) -> Vec<&'static str> {
    let compose = compose(service);
    rules(&[(COMPOSE_FILE, &compose), ("app.yaml", "a: 1\n")], false)
}

#[test]
fn redaction_must_fail_closed() {
    let open = "processors:\n  transform/redact_genai:\n    error_mode: ignore\n";
    let closed = "processors:\n  transform/redact_genai:\n    error_mode: propagate\n";
    let unset = "processors:\n  transform/redact_genai: {}\n";
    assert_eq!(config_rules(open), vec!["redaction-fails-closed"]);
    assert_eq!(config_rules(unset), vec!["redaction-fails-closed"]);
    assert_eq!(config_rules(closed), Vec::<&str>::new());
}

const GATEWAY: &str = "receivers:\n  otlp:\n    protocols:\n      grpc: {endpoint: 0.0.0.0:4317, max_recv_msg_size_mib: 16}\n      http: {endpoint: 0.0.0.0:4318, max_request_body_size: 16777216}\nexporters:\n  otlp_grpc/b:\n    sending_queue:\n      batch: {sizer: bytes, max_size: 16777216}\n";

fn hop_rules(gateway: &str, backend_mib: &str) -> Vec<&'static str> {
    let backend = format!(
        "receivers:\n  otlp:\n    protocols:\n      grpc: {{endpoint: 0.0.0.0:4317{backend_mib}}}\n"
    );
    let compose = compose(GOOD_SERVICE);
    rules(
        &[
            (COMPOSE_FILE, &compose),
            ("app.yaml", "a: 1\n"),
            ("gateway.yaml", gateway),
            ("backend.yaml", &backend),
        ],
        false,
    )
}

#[test]
fn every_hop_takes_what_the_previous_one_sends() {
    assert_eq!(
        hop_rules(GATEWAY, ", max_recv_msg_size_mib: 20"),
        Vec::<&str>::new()
    );
    // The backend keeps gRPC's 4 MiB default: a full batch is refused for good.
    assert_eq!(hop_rules(GATEWAY, ""), vec!["hop-message-sizes"]);
    // Batches without a byte cap.
    let uncapped = GATEWAY.replace("{sizer: bytes, max_size: 16777216}", "{}");
    assert_eq!(
        hop_rules(&uncapped, ", max_recv_msg_size_mib: 20"),
        vec!["hop-message-sizes"]
    );
    // The gateway accepts requests larger than its batches: the span would be dropped.
    let lax = GATEWAY.replace("max_recv_msg_size_mib: 16", "max_recv_msg_size_mib: 32");
    assert_eq!(
        hop_rules(&lax, ", max_recv_msg_size_mib: 40"),
        vec!["hop-message-sizes"]
    );
}

#[test]
fn a_receiver_with_a_fixed_limit_gets_batches_it_takes() {
    // Phoenix's gRPC server keeps gRPC's 4 MiB; its HTTP receiver has no limit.
    let compose = format!(
        "x-otlp-receive-limits:\n  phoenix: {{grpc_mib: 4}}\n{}",
        compose(GOOD_SERVICE)
    );
    let over = |kind: &str, endpoint: &str| {
        let gateway = GATEWAY.replace(
            "otlp_grpc/b:",
            &format!("{kind}/phoenix:\n    endpoint: {endpoint}"),
        );
        rules(
            &[
                (COMPOSE_FILE, &compose),
                ("app.yaml", "a: 1\n"),
                ("gateway.yaml", &gateway),
            ],
            false,
        )
    };
    assert_eq!(over("otlp_grpc", "phoenix:4317"), vec!["hop-message-sizes"]);
    assert_eq!(over("otlp", "phoenix:4317"), vec!["hop-message-sizes"]);
    assert!(over("otlp_http", "http://phoenix:6006").is_empty());
    assert!(over("otlp_grpc", "jaeger:4317").is_empty());
}

#[test]
fn good_compose_passes() {
    assert_eq!(with_compose(GOOD_SERVICE), Vec::<&str>::new());
}

#[test]
fn yaml_must_parse() {
    let compose = compose(GOOD_SERVICE);
    let found = rules(&[(COMPOSE_FILE, &compose), ("app.yaml", "a: [1\n")], false);
    assert_eq!(found, vec!["yaml-parses"]);
}

#[test]
fn latest_and_untagged_images_are_refused() {
    for image in [
        "example/app:latest",
        "example/app:nightly",
        "example/app",
        "localhost:5000/app",
    ] {
        let service = GOOD_SERVICE.replace("example/app:1.2.3", image);
        assert_eq!(with_compose(&service), vec!["pinned-image"], "{image}");
    }
    let digest = GOOD_SERVICE.replace(":1.2.3", "@sha256:abcd");
    assert!(with_compose(&digest).is_empty());
}

#[test]
fn ports_must_be_loopback_unless_exposed() {
    let service = GOOD_SERVICE.replace("127.0.0.1:4318:4318", "4318:4318");
    assert_eq!(with_compose(&service), vec!["loopback-ports"]);
    let compose = compose(&service);
    let files = [(COMPOSE_FILE, compose.as_str()), ("app.yaml", "a: 1\n")];
    // Exposed, but 4318 is no OTLP receiver with TLS: only --expose-ui allows it.
    assert_eq!(rules(&files, true), vec!["exposed-ui-opt-in"]);
    let ui = Policy {
        expose: true,
        expose_ui: true,
        ..Policy::default()
    };
    assert!(rules_with(&files, ui).is_empty());
}

const SECURED: &str = r#"extensions:
  bearertokenauth/otlp: {scheme: Bearer, token: "${env:KNEO_OTLP_TOKEN}"}
receivers:
  otlp:
    protocols:
      http:
        endpoint: 0.0.0.0:4318
        tls: {cert_pem: "${env:KNEO_TLS_CERT}", key_pem: "${env:KNEO_TLS_KEY}"}
        auth: {authenticator: bearertokenauth/otlp}
service:
  extensions: [bearertokenauth/otlp]
"#;

#[test]
fn an_exposed_otlp_port_needs_tls_and_a_token() {
    let service = GOOD_SERVICE.replace("127.0.0.1:4318:4318", "0.0.0.0:4318:4318");
    let compose = compose(&service);
    let exposed = |config: &str| {
        let files = [(COMPOSE_FILE, compose.as_str()), ("app.yaml", config)];
        rules(&files, true)
    };
    assert_eq!(exposed(SECURED), Vec::<&str>::new());
    let no_tls = SECURED.replace(
        r#"tls: {cert_pem: "${env:KNEO_TLS_CERT}", key_pem: "${env:KNEO_TLS_KEY}"}"#,
        "tls: {min_version: \"1.2\"}",
    );
    assert_eq!(exposed(&no_tls), vec!["exposed-otlp-secured"]);
    let no_auth = SECURED.replace("        auth: {authenticator: bearertokenauth/otlp}\n", "");
    assert_eq!(exposed(&no_auth), vec!["exposed-otlp-secured"]);
    let not_enabled = SECURED.replace("[bearertokenauth/otlp]", "[]");
    assert_eq!(exposed(&not_enabled), vec!["exposed-otlp-secured"]);
    // On loopback the same plain receiver is fine.
    let files = [
        (COMPOSE_FILE, compose.as_str()),
        ("app.yaml", no_tls.as_str()),
    ];
    let loopback = compose.replace("0.0.0.0:4318", "127.0.0.1:4318");
    let files_loopback = [(COMPOSE_FILE, loopback.as_str()), files[1]];
    assert!(rules(&files_loopback, true).is_empty());
}

#[test]
fn a_host_port_is_published_once() {
    let service = GOOD_SERVICE.replace(
        r#"["127.0.0.1:4318:4318"]"#,
        r#"["127.0.0.1:4318:4318", {target: 4000, published: "4318", host_ip: 127.0.0.1}]"#,
    );
    assert_eq!(with_compose(&service), vec!["host-port-once"]);
}

#[test]
fn mounted_files_must_be_rendered() {
    let compose = compose(GOOD_SERVICE);
    assert_eq!(
        rules(&[(COMPOSE_FILE, &compose)], false),
        vec!["mounts-rendered"]
    );
    let service = GOOD_SERVICE.replace("./app.yaml", "/etc/passwd");
    assert_eq!(with_compose(&service), vec!["mounts-rendered"]);
    let service = format!("{GOOD_SERVICE}    env_file: [.env]\n");
    assert_eq!(with_compose(&service), vec!["mounts-rendered"]);
}

#[test]
fn every_service_is_hardened() {
    for line in [
        "    read_only: true\n",
        "    security_opt: [\"no-new-privileges:true\"]\n",
        "    cap_drop: [ALL]\n",
        "    deploy: {resources: {limits: {memory: 256M, cpus: \"0.5\"}}}\n",
    ] {
        let service = GOOD_SERVICE.replace(line, "");
        assert_eq!(with_compose(&service), vec!["hardening"], "without {line}");
    }
}

fn config_rules(config: &str) -> Vec<&'static str> {
    let compose = compose(GOOD_SERVICE);
    rules(&[(COMPOSE_FILE, &compose), ("app.yaml", config)], false)
}

#[test]
fn receivers_bind_all_interfaces() {
    let good = "receivers:\n  otlp:\n    protocols:\n      grpc:\n        endpoint: 0.0.0.0:4317\n";
    assert!(config_rules(good).is_empty());
    let empty = "receivers:\n  otlp:\n    protocols:\n      grpc:\n      http:\n";
    assert_eq!(config_rules(empty), vec!["bind-all-interfaces"; 2]);
    let local = good.replace("0.0.0.0", "localhost");
    assert_eq!(config_rules(&local), vec!["bind-all-interfaces"]);
}

#[test]
fn health_endpoints_bind_all_interfaces() {
    assert!(config_rules("extensions:\n  health_check:\n    endpoint: 0.0.0.0:13133\n").is_empty());
    assert_eq!(
        config_rules("extensions:\n  health_check: {}\n"),
        vec!["bind-all-interfaces"]
    );
    assert_eq!(
        config_rules("extensions:\n  healthcheckv2:\n    http:\n      endpoint: localhost:13133\n"),
        vec!["bind-all-interfaces"]
    );
}

/// A compose file with ClickHouse Keeper as the SigNoz stack runs it: the image's
/// entrypoint replaced, data on a named volume recorded as owned by 101:101.
fn keeper_compose(extra: &str) -> String {
    let keeper = GOOD_SERVICE.replace(
        "[\"./app.yaml:/etc/app.yaml:ro\"]",
        "[\"keeper-data:/var/lib/clickhouse-keeper\", \"./app.yaml:/etc/app.yaml:ro\"]",
    );
    format!(
        "x-volume-owners:\n  keeper-data: \"101:101\"\nservices:\n  keeper:{keeper}    entrypoint: [/usr/bin/clickhouse-keeper]\n{extra}"
    )
}

fn compose_rules(compose: &str) -> Vec<&'static str> {
    rules(&[(COMPOSE_FILE, compose), ("app.yaml", "a: 1\n")], false)
}

#[test]
fn a_service_with_its_own_entrypoint_runs_as_its_volume_owner() {
    // As root (no user:), Keeper refuses the data the image seeded with uid 101.
    assert_eq!(compose_rules(&keeper_compose("")), vec!["volume-owner"]);
    assert!(compose_rules(&keeper_compose("    user: \"101:101\"\n")).is_empty());
    assert!(compose_rules(&keeper_compose("    user: \"101\"\n")).is_empty());
    assert_eq!(
        compose_rules(&keeper_compose("    user: \"0:0\"\n")),
        vec!["volume-owner"]
    );
    assert_eq!(
        compose_rules(&keeper_compose("    user: \"101:0\"\n")),
        vec!["volume-owner"]
    );
    // An owner nobody recorded is refused too.
    let unrecorded = keeper_compose("    user: \"101:101\"\n").replace("keeper-data: ", "other: ");
    assert_eq!(compose_rules(&unrecorded), vec!["volume-owner"]);
    // Read-only mounts are not written; the long syntax counts like the short one.
    let read_only = keeper_compose("").replace("clickhouse-keeper\"", "clickhouse-keeper:ro\"");
    assert!(compose_rules(&read_only).is_empty());
    let long = keeper_compose("").replace(
        "\"keeper-data:/var/lib/clickhouse-keeper\"",
        "{type: volume, source: keeper-data, target: /var/lib/clickhouse-keeper}",
    );
    assert_eq!(compose_rules(&long), vec!["volume-owner"]);
}

#[test]
fn a_service_keeping_its_image_entrypoint_and_user_is_not_judged() {
    // Its image's entrypoint (chown, then drop privileges) or USER decides.
    let kept = keeper_compose("").replace("    entrypoint: [/usr/bin/clickhouse-keeper]\n", "");
    assert!(compose_rules(&kept).is_empty());
}

#[test]
fn a_service_keeping_cap_chown_hands_its_volume_to_the_recorded_owner() {
    let job = |command: &str| {
        keeper_compose(&format!(
            "    user: \"0:0\"\n    cap_add: [CHOWN]\n    command: {command}\n"
        ))
        .replace(", \"./app.yaml:/etc/app.yaml:ro\"", "")
    };
    assert!(compose_rules(&job("[chown, \"101:101\", /var/lib/clickhouse-keeper]")).is_empty());
    // Another owner, another folder, or something else than chown: refused.
    for bad in [
        "[chown, \"0:0\", /var/lib/clickhouse-keeper]",
        "[chown, \"101:101\", /]",
        "[sh, -c, \"chown -R 101:101 /\"]",
    ] {
        assert!(compose_rules(&job(bad)).contains(&"volume-owner"), "{bad}");
    }
    // A volume whose owner nobody recorded.
    let unrecorded =
        job("[chown, \"101:101\", /var/lib/clickhouse-keeper]").replace("keeper-data: ", "other: ");
    assert!(compose_rules(&unrecorded).contains(&"volume-owner"));
}

fn two_services(tempo_extra: &str, grafana_depends: &str) -> String {
    let grafana = GOOD_SERVICE.replace("4318:4318", "3000:3000");
    format!(
        "services:\n  tempo:{GOOD_SERVICE}{tempo_extra}  grafana:{grafana}    depends_on: {grafana_depends}\n"
    )
}

#[test]
fn waiting_for_a_checked_service_waits_until_it_is_healthy() {
    let check = "    healthcheck: {test: [CMD, /tempo, -health]}\n";
    let healthy = "{tempo: {condition: service_healthy}}";
    assert!(compose_rules(&two_services(check, healthy)).is_empty());
    assert_eq!(
        compose_rules(&two_services(check, "[tempo]")),
        vec!["depends-on-healthy"]
    );
    assert_eq!(
        compose_rules(&two_services(
            check,
            "{tempo: {condition: service_started}}"
        )),
        vec!["depends-on-healthy"]
    );
    // Without a healthcheck there is nothing better to wait for.
    assert!(compose_rules(&two_services("", "[tempo]")).is_empty());
}

#[test]
fn redaction_forbids_detailed_debug_output() {
    let compose = compose(GOOD_SERVICE);
    let config = "exporters:\n  debug/all:\n    verbosity: detailed\n";
    let files = [(COMPOSE_FILE, compose.as_str()), ("app.yaml", config)];
    assert!(rules(&files, false).is_empty());
    let redact = || Policy {
        redact: true,
        ..Policy::default()
    };
    assert_eq!(
        rules_with(&files, redact()),
        vec!["redact-no-detailed-debug"]
    );
    let normal = config.replace("detailed", "normal");
    let files = [
        (COMPOSE_FILE, compose.as_str()),
        ("app.yaml", normal.as_str()),
    ];
    assert!(rules_with(&files, redact()).is_empty());
}
