//! GenAI extras: `--gateway`, `--redact` and the Tempo "Agent runs" dashboard. Every variant
//! is validated like a plain stack, and the generated redaction statements are executed.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde_yaml::Value;

use crate::stacks::check_stack;
use crate::support::*;

/// The backends `--gateway` applies to (every one that is not a collector itself).
const GATEWAY_BACKENDS: &[&str] = &["jaeger", "tempo", "signoz"];

pub fn yaml(dir: &Path, path: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(dir.join(path)).unwrap()).unwrap()
}

pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .unwrap_or_else(|| panic!("not a list: {value:?}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The gateway is the only service publishing the OTLP ports; it forwards in plaintext over
/// the compose network to a port the backend's own config listens on.
pub fn assert_gateway_topology(dir: &Path) {
    let compose = compose(dir);
    for (service, _, host, _) in published_ports(&compose) {
        if host == 4317 || host == 4318 {
            assert_eq!(service, "gateway", "{service} publishes OTLP port {host}");
        }
    }
    let config = yaml(dir, "gateway-config.yaml");
    let (name, exporter) = config["exporters"]
        .as_mapping()
        .unwrap()
        .iter()
        .next()
        .unwrap();
    let name = name.as_str().unwrap();
    assert!(
        name.starts_with("otlp_grpc/") || name.starts_with("otlp_http/"),
        "{name}: 0.159 exporter name"
    );
    assert_eq!(
        exporter["tls"]["insecure"], true,
        "plaintext inside the network"
    );
    assert!(
        exporter["sending_queue"]["batch"].is_mapping(),
        "exporter batching"
    );
    let endpoint = exporter["endpoint"].as_str().unwrap();
    let endpoint = endpoint.strip_prefix("http://").unwrap_or(endpoint);
    let (upstream, port) = endpoint.split_once(':').unwrap();
    // After the backend (healthy where it has a healthcheck: tempo) and the one-shot that
    // hands it the queue volume.
    let depends = compose["services"]["gateway"]["depends_on"]
        .as_mapping()
        .unwrap();
    let conditions: Vec<(String, String)> = depends
        .iter()
        .map(|(dep, spec)| {
            let dep = dep.as_str().unwrap().to_string();
            (dep, spec["condition"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(conditions.len(), 2, "{conditions:?}");
    assert_eq!(conditions[0].0, upstream);
    assert!(["service_started", "service_healthy"].contains(&conditions[0].1.as_str()));
    assert_eq!(
        conditions[1],
        (
            "gateway-queue-owner".to_string(),
            "service_completed_successfully".to_string()
        )
    );
    // The queue is persistent: its storage extension is enabled and writes to the folder
    // the gateway-queue volume is mounted on, which the one-shot gives to the gateway's user.
    let storage = exporter["sending_queue"]["storage"].as_str().unwrap();
    assert!(strings(&config["service"]["extensions"]).contains(&storage.to_string()));
    let directory = config["extensions"][storage]["directory"].as_str().unwrap();
    assert!(
        strings(&compose["services"]["gateway"]["volumes"])
            .contains(&format!("gateway-queue:{directory}")),
        "the queue directory {directory} is not on the gateway-queue volume"
    );
    assert_eq!(
        strings(&compose["services"]["gateway-queue-owner"]["command"]),
        ["chown", "10001:10001", directory]
    );
    assert!(
        compose["services"][upstream].is_mapping(),
        "{upstream} is a service"
    );
    let others: String = read_tree(dir)
        .into_iter()
        .filter(|(p, _)| p != "gateway-config.yaml" && p.ends_with(".yaml"))
        .map(|(_, c)| c)
        .collect();
    // A backend configured by its environment (Phoenix) names the port there.
    let environment = serde_yaml::to_string(&compose["services"][upstream]["environment"]).unwrap();
    assert!(
        others.contains(&format!("0.0.0.0:{port}")) || environment.contains(&format!("'{port}'")),
        "no backend config listens on {port}"
    );
    for (signal, pipeline) in config["service"]["pipelines"].as_mapping().unwrap() {
        let processors = strings(&pipeline["processors"]);
        assert_eq!(processors[0], "memory_limiter", "{signal:?}");
        assert_eq!(strings(&pipeline["exporters"]), vec![name.to_string()]);
    }
}

/// SigNoz's collector prices LLM spans: the span mapper, then the pricer (which reads what
/// the mapper writes), between the span metrics and the batch, in every SigNoz variant.
#[test]
fn signoz_ingester_maps_and_prices_llm_spans() {
    for extra in [&[][..], &["--gateway"], &["--redact"]] {
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path(), "signoz", extra);
        let config = yaml(tmp.path(), "ingester/ingester.yaml");
        let processors = strings(&config["service"]["pipelines"]["traces"]["processors"]);
        assert_eq!(
            processors,
            [
                "memory_limiter",
                "signozspanmetrics/delta",
                "signozspanmapper",
                "transform/genai_usage_names",
                "signozllmpricing",
                "batch"
            ],
            "{extra:?}"
        );
        let pricing = &config["processors"]["signozllmpricing"];
        // The keys the processor refuses to start without, and SigNoz's token attributes.
        assert_eq!(pricing["attrs"]["model"], "gen_ai.request.model");
        assert_eq!(pricing["attrs"]["in"], "gen_ai.usage.input_tokens");
        assert_eq!(pricing["attrs"]["out"], "gen_ai.usage.output_tokens");
        assert!(
            pricing["output_attrs"]["total"]
                .as_str()
                .is_some_and(|t| !t.is_empty())
        );
        assert!(config["processors"]["signozspanmapper"]["groups"].is_sequence());
        for other in ["metrics", "logs"] {
            let processors = strings(&config["service"]["pipelines"][other]["processors"]);
            assert!(
                !processors.iter().any(|p| p.starts_with("signozllm")),
                "{other}"
            );
        }
    }
}

#[test]
fn gateway_variants_are_valid_stacks() {
    for backend in GATEWAY_BACKENDS {
        let tmp = check_stack(backend, &["--gateway"]);
        let dir = tmp.path().join("observability");
        assert_gateway_topology(&dir);
        let config = std::fs::read_to_string(dir.join("gateway-config.yaml")).unwrap();
        assert!(
            !config.contains("redact"),
            "{backend}: no redaction unless asked"
        );
        assert_snapshot(
            &format!("{backend}-gateway"),
            snapshot_text(&read_tree(&dir)),
        );
    }
}

#[test]
fn redact_variants_are_valid_stacks() {
    for backend in BACKENDS {
        let tmp = check_stack(backend, &["--redact"]);
        let dir = tmp.path().join("observability");
        let config_path = redaction_config(&dir);
        if config_path == "gateway-config.yaml" {
            assert_gateway_topology(&dir);
        }
        let config = yaml(&dir, config_path);
        for (name, exporter) in config["exporters"].as_mapping().unwrap() {
            assert_ne!(
                exporter["verbosity"].as_str(),
                Some("detailed"),
                "{backend}: {name:?} prints full attribute values"
            );
        }
        for signal in ["traces", "logs"] {
            let pipeline = &config["service"]["pipelines"][signal];
            if pipeline.is_mapping() {
                let processors = strings(&pipeline["processors"]);
                assert_eq!(processors[0], "memory_limiter");
                assert!(
                    processors.contains(&"transform/redact_genai".to_string()),
                    "{backend}: {signal} pipeline does not redact"
                );
            }
        }
        assert_snapshot(
            &format!("{backend}-redact"),
            snapshot_text(&read_tree(&dir)),
        );
    }
}

/// The collector config that carries the redaction step of a generated folder.
fn redaction_config(dir: &Path) -> &'static str {
    if dir.join("gateway-config.yaml").exists() {
        "gateway-config.yaml"
    } else {
        "otel-config.yaml"
    }
}

/// Every GenAI content attribute (current and deprecated, also in indexed form): what
/// `--redact` must drop.
const DROPPED: &[&str] = &[
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.call.arguments",
    "gen_ai.tool.call.result",
    "gen_ai.prompt",
    "gen_ai.prompt.0.content",
    "gen_ai.completion",
    "gen_ai.completion.0.content",
    // Content the conventions added since (or will add): fail closed.
    "gen_ai.retrieval.query.text",
    "gen_ai.retrieval.documents",
    "gen_ai.memory.query.text",
    "gen_ai.memory.records",
    "gen_ai.tool.definitions",
    "gen_ai.evaluation.explanation",
    "gen_ai.some_future.content",
    // Other conventions' content keys.
    "input.value",
    "output.value",
    "llm.input_messages.0.message.content",
    "llm.output_messages.0.message.content",
    "retrieval.documents.0.document.content",
    "tool.parameters",
    "traceloop.entity.input",
    "traceloop.entity.output",
    "ai.prompt",
    "ai.prompt.messages",
    "ai.response.text",
    "ai.toolCall.args",
    "ai.toolCall.result",
];

/// What it must keep, including a key that only looks like a deprecated one.
const KEPT: &[&str] = &[
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.output_tokens",
    "gen_ai.operation.name",
    "gen_ai.agent.name",
    "gen_ai.tool.name",
    "gen_ai.request.model",
    "gen_ai.response.model",
    "gen_ai.provider.name",
    "gen_ai.system",
    "gen_ai.prompt.name",
    "gen_ai.prompt.version",
    "gen_ai.conversation.id",
    "gen_ai.usage.cache_read.input_tokens",
    // Not content, and no convention's content key.
    "http.request.method",
    "ai.model.id",
];

/// Attributes as an SDK would send them: all of the above.
fn genai_attributes() -> BTreeMap<String, String> {
    DROPPED
        .iter()
        .chain(KEPT)
        .map(|k| (k.to_string(), "value".to_string()))
        .collect()
}

/// Executes the generated OTTL statements of one context on the attributes of an item that
/// is not a GenAI event (the real Collector runs them in tests/integration/redaction.rs).
/// Only the functions kneo-otel generates are understood; anything else fails the test.
fn apply_statements(
    statements: &[String],
    context: &str,
    attributes: &mut BTreeMap<String, String>,
) {
    let merge = Regex::new(
        r#"^merge_maps\((\w+)\.(cache|attributes), (\w+)\.(cache|attributes), "upsert"\)$"#,
    )
    .unwrap();
    let keep = Regex::new(r#"^keep_matching_keys\((\w+)\.cache, ?"([^"]+)"\)$"#).unwrap();
    let delete_matching =
        Regex::new(r#"^delete_matching_keys\((\w+)\.attributes, ?"([^"]+)"\)( where .*)?$"#)
            .unwrap();
    let body = Regex::new(r#"^set\(log\.body, ""\) where "#).unwrap();
    let mut cache = BTreeMap::new();
    for statement in statements {
        if let Some(c) = merge.captures(statement) {
            assert!(
                &c[1] == context && &c[3] == context,
                "{statement} in {context}"
            );
            if &c[2] == "cache" {
                cache.extend(attributes.clone());
            } else {
                attributes.extend(cache.clone());
            }
        } else if let Some(c) = keep.captures(statement) {
            assert_eq!(&c[1], context, "{statement} in the {context} group");
            let pattern = Regex::new(&c[2]).unwrap();
            cache.retain(|key: &String, _| pattern.is_match(key));
        } else if let Some(c) = delete_matching.captures(statement) {
            assert_eq!(&c[1], context, "{statement} in the {context} group");
            // Only for GenAI events: this item is not one.
            if c.get(3).is_some() {
                continue;
            }
            // OTTL regexes are Go RE2; the generated ones use only syntax both engines share.
            let pattern = Regex::new(&c[2]).unwrap();
            attributes.retain(|key, _| !pattern.is_match(key));
        } else if body.is_match(statement) {
        } else {
            panic!("unexpected statement: {statement}");
        }
    }
}

/// `context` → statements of the generated `transform/redact_genai` processor.
fn redaction_groups(dir: &Path) -> BTreeMap<String, Vec<String>> {
    let config = yaml(dir, redaction_config(dir));
    let processor = &config["processors"]["transform/redact_genai"];
    // Fail closed: a statement that errors refuses the data instead of forwarding it.
    assert_eq!(processor["error_mode"], "propagate");
    let mut groups = BTreeMap::new();
    for key in ["trace_statements", "log_statements"] {
        for group in processor[key].as_sequence().into_iter().flatten() {
            let context = group["context"].as_str().unwrap().to_string();
            groups.insert(context, strings(&group["statements"]));
        }
    }
    groups
}

#[test]
fn generated_redaction_drops_content_and_keeps_the_rest() {
    for backend in BACKENDS {
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path(), backend, &["--redact"]);
        let groups = redaction_groups(tmp.path());
        for context in ["span", "spanevent"] {
            let statements = groups
                .get(context)
                .unwrap_or_else(|| panic!("{backend}: no {context} statements"));
            let mut attributes = genai_attributes();
            apply_statements(statements, context, &mut attributes);
            for key in DROPPED {
                assert!(
                    !attributes.contains_key(*key),
                    "{backend}/{context}: {key} survives"
                );
            }
            let mut expected: Vec<String> = KEPT.iter().map(|k| k.to_string()).collect();
            expected.sort();
            assert_eq!(
                attributes.into_keys().collect::<Vec<_>>(),
                expected,
                "{backend}/{context}"
            );
        }
    }
}

#[test]
fn redact_keep_keeps_one_more_attribute() {
    let tmp = tempfile::tempdir().unwrap();
    init(
        tmp.path(),
        "jaeger",
        &["--redact", "--redact-keep", "gen_ai.tool.call.arguments"],
    );
    for (context, statements) in redaction_groups(tmp.path()) {
        let mut attributes = genai_attributes();
        apply_statements(&statements, &context, &mut attributes);
        assert!(attributes.contains_key("gen_ai.tool.call.arguments"));
        assert!(!attributes.contains_key("gen_ai.tool.call.result"));
    }
    // The manifest remembers the answers: a bare re-run changes nothing.
    let out = kneo()
        .args(["init", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("unchanged"), "{stdout}");
    assert!(!stdout.contains("update"), "{stdout}");
    let manifest = yaml(tmp.path(), "kneo-otel.yaml");
    assert_eq!(manifest["options"]["redact"], true);
    assert_eq!(
        strings(&manifest["options"]["redact_keep"]),
        vec!["gen_ai.tool.call.arguments"]
    );
}

#[test]
fn gateway_can_be_switched_off_again() {
    let tmp = tempfile::tempdir().unwrap();
    init(
        tmp.path(),
        "tempo",
        &["--gateway", "--set", "ports.gateway_health=13999"],
    );
    assert!(tmp.path().join("gateway-config.yaml").exists());
    init(tmp.path(), "tempo", &["--set", "gateway=false"]);
    assert!(
        !tmp.path().join("gateway-config.yaml").exists(),
        "unmodified gateway config removed"
    );
    let ports = published_ports(&compose(tmp.path()));
    assert!(ports.iter().any(|(s, _, h, _)| s == "tempo" && *h == 4317));
    // The gateway's port override went with it; naming it now is an error again.
    let manifest = yaml(tmp.path(), "kneo-otel.yaml");
    assert!(manifest["options"]["ports"].get("gateway_health").is_none());
    let out = kneo()
        .args(["init", "--set", "ports.gateway_health=13999", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    validate_with_real_tools(tmp.path());
}

#[test]
fn bad_genai_options_are_refused_with_one_line() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["--backend", "collector", "--gateway"],
            "--gateway does not apply to backend collector",
        ),
        (
            &[
                "--backend",
                "jaeger",
                "--redact-keep",
                "gen_ai.input.messages",
            ],
            "needs --redact",
        ),
        (
            &[
                "--backend",
                "jaeger",
                "--redact",
                "--redact-keep",
                "gen_ai.usage.input_tokens",
            ],
            "is not an attribute --redact deletes",
        ),
        (
            &["--backend", "jaeger", "--set", "redact=maybe"],
            "use true or false",
        ),
    ];
    for (args, message) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("out");
        let out = kneo()
            .arg("init")
            .args(*args)
            .arg("--dir")
            .arg(&dir)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(!dir.exists(), "{args:?} wrote something");
    }
}

#[test]
fn agent_runs_dashboard_is_provisioned_with_traceql_panels() {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "tempo", &[]);
    let dir = tmp.path();
    let text = std::fs::read_to_string(dir.join("grafana/dashboards/agent-runs.json")).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(dashboard["title"], "Agent runs");
    let datasource = yaml(dir, "grafana/provisioning/datasources/tempo.yaml");
    let uid = datasource["datasources"][0]["uid"].as_str().unwrap();

    let panels = dashboard["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Runs per agent",
        "Model calls by model",
        "Tool calls by tool, with errors",
        "Latency p50 / p95 by operation",
        "Input and output tokens",
        "Latest runs",
        "Tokens per model",
        "Cache and reasoning tokens",
        "Model calls by provider",
        "Latest conversations",
    ] {
        assert!(
            titles.contains(&wanted),
            "panel {wanted:?} missing: {titles:?}"
        );
    }
    // Every token kind and the GenAI context a run is found by have a query.
    for attribute in [
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_write.input_tokens",
        "gen_ai.usage.cache_creation.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.provider.name",
        "gen_ai.conversation.id",
        "by (span.gen_ai.request.model)",
    ] {
        assert!(text.contains(attribute), "no panel queries {attribute}");
    }
    for panel in panels {
        assert_eq!(panel["datasource"]["uid"], uid, "{}", panel["title"]);
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty());
        for target in targets {
            assert_eq!(target["datasource"]["uid"], uid);
            assert_eq!(target["queryType"], "traceql");
            let query = target["query"].as_str().unwrap();
            assert!(query.starts_with("{ ") && query.contains('}'), "{query}");
            assert_eq!(
                query.matches('{').count(),
                query.matches('}').count(),
                "{query}"
            );
            if panel["type"] == "timeseries" {
                assert!(
                    query.contains(" | "),
                    "a graph needs a metrics query: {query}"
                );
            }
        }
    }
    let queries: String = panels
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap())
        .map(|t| t["query"].as_str().unwrap().to_string())
        .collect();
    for attribute in [
        "gen_ai.agent.name",
        "gen_ai.request.model",
        "gen_ai.tool.name",
        "gen_ai.operation.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "status = error",
        "quantile_over_time(duration, .5, .95)",
    ] {
        assert!(queries.contains(attribute), "no panel queries {attribute}");
    }

    // The provider loads the folder the compose file mounts the dashboard into.
    let provider = yaml(dir, "grafana/provisioning/dashboards/kneo-otel.yaml");
    let path = provider["providers"][0]["options"]["path"]
        .as_str()
        .unwrap();
    let mounts = strings(&compose(dir)["services"]["grafana"]["volumes"]);
    assert!(
        mounts
            .iter()
            .any(|m| m.ends_with(&format!("{path}/agent-runs.json:ro"))),
        "{mounts:?}"
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for attribute in [
        "gen_ai.provider.name",
        "gen_ai.system",
        "gen_ai.operation.name",
        "gen_ai.agent.name",
        "gen_ai.tool.name",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
    ] {
        assert!(
            readme.contains(attribute),
            "README has no query for {attribute}"
        );
    }
}

#[test]
fn turning_redaction_off_drops_its_kept_attributes() {
    let tmp = tempfile::tempdir().unwrap();
    init(
        tmp.path(),
        "jaeger",
        &["--redact", "--redact-keep", "gen_ai.tool.call.result"],
    );
    init(tmp.path(), "jaeger", &["--set", "redact=false"]);
    let manifest = yaml(tmp.path(), "kneo-otel.yaml");
    assert!(manifest["options"].get("redact").is_none());
    assert!(manifest["options"].get("redact_keep").is_none());
    assert!(!tmp.path().join("gateway-config.yaml").exists());
}

/// The "Agent runs" dashboard type-checks against the dashboard schema of the Grafana the
/// catalog pins: `@grafana/schema` of that version (npm; types generated from Grafana's own
/// schema), with `tsc --strict`. A dashboard with a wrongly typed field fails the same check.
#[test]
fn the_agent_runs_dashboard_type_checks_against_the_pinned_grafana_schema() {
    let in_ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "tempo", &[]);
    let compose = compose(tmp.path());
    let image = compose["services"]["grafana"]["image"].as_str().unwrap();
    let tag = image.rsplit_once(':').unwrap().1;
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .unwrap();
    let cache = home.join(format!(".cache/kneo-otel/grafana-schema-{tag}"));
    let tsc = cache.join("node_modules/typescript/bin/tsc");
    if !tsc.exists() {
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("package.json"), "{\"private\": true}\n").unwrap();
        let installed = std::process::Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund"])
            .arg(format!("@grafana/schema@{tag}"))
            .arg("typescript@5.9")
            .current_dir(&cache)
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            assert!(!in_ci, "CI: npm cannot install @grafana/schema@{tag}");
            eprintln!("note: npm not usable here, dashboard schema check skipped");
            return;
        }
    }
    let check = |dashboard: &str| {
        let dir = tempfile::TempDir::new_in(&cache).unwrap();
        std::fs::write(dir.path().join("dashboard.json"), dashboard).unwrap();
        std::fs::write(
            dir.path().join("check.ts"),
            "import type { Dashboard } from '@grafana/schema';\nimport dashboard from './dashboard.json';\nexport const checked: Dashboard = dashboard;\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("tsconfig.json"),
            r#"{"compilerOptions":{"strict":true,"noEmit":true,"resolveJsonModule":true,"esModuleInterop":true,"module":"commonjs","moduleResolution":"node","skipLibCheck":true,"target":"es2020"},"files":["check.ts"]}"#,
        )
        .unwrap();
        std::process::Command::new("node")
            .arg(&tsc)
            .args(["-p", "."])
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let text =
        std::fs::read_to_string(tmp.path().join("grafana/dashboards/agent-runs.json")).unwrap();
    let out = check(&text);
    assert!(
        out.status.success(),
        "the dashboard does not match @grafana/schema {tag}:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut broken: serde_json::Value = serde_json::from_str(&text).unwrap();
    broken["panels"][0]["gridPos"]["h"] = "eight".into();
    let out = check(&broken.to_string());
    assert!(!out.status.success(), "a mistyped gridPos passed the check");
}
