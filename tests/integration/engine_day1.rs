//! What only an engine shows (#23 point 4): an app in a container on the same host, and the
//! hardening every service runs with, as `docker inspect` reports it.

use std::fs;
use std::path::Path;

use std::time::Duration;

use serde_json::Value;

use crate::engine::{self, COMMAND_TIMEOUT, Stack, run_bounded};
use crate::engine_stacks::with_engine_stack;
use crate::real_backends::{assert_arrived, printed_trace_id};

/// The Phoenix stand-in image: the image here that has Python 3.13 and the OpenTelemetry SDK
/// for Python (1.45.2, with both OTLP exporters: `arize-phoenix` depends on them), so it
/// serves as "an app in a container" without building one.
fn app_image() -> String {
    let catalog =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/catalog.yaml"))
            .unwrap();
    let catalog: serde_yaml::Value = serde_yaml::from_str(&catalog).unwrap();
    let index = catalog["backends"]
        .as_sequence()
        .unwrap()
        .iter()
        .position(|b| b["id"].as_str() == Some("phoenix"))
        .unwrap()
        .to_string();
    engine::catalog_image(&["backends", &index, "images", "phoenix"])
}

/// Runs the Python smoke script `kneo-otel snippet --script` writes in the app image, with
/// `docker_args` (network, environment) before the image; its output.
fn smoke_in_container(docker_args: &[&str]) -> std::process::Output {
    let tmp = tempfile::tempdir().unwrap();
    let script = crate::snippet_python::write_script(tmp.path(), "http");
    // The container runs as the image's user (65532): make the script readable to it.
    let app = tmp.path().join("app");
    fs::create_dir(&app).unwrap();
    fs::copy(&script, app.join("smoke.py")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&app, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(app.join("smoke.py"), fs::Permissions::from_mode(0o644)).unwrap();
    let mount = format!("{}:/app:ro", app.display());
    let image = app_image();
    let mut args = vec!["run", "--rm", "--pull", "never", "-v", &mount];
    args.extend_from_slice(docker_args);
    args.extend_from_slice(&[image.as_str(), "/app/smoke.py"]);
    run_bounded(
        std::process::Command::new("docker").args(&args),
        COMMAND_TIMEOUT,
    )
}

/// The generated README's Linux line: `docker run --network <net> -e OTEL_EXPORTER_OTLP_ENDPOINT=<url> ...`.
fn readme_linux_line(dir: &Path) -> (String, String) {
    let readme = fs::read_to_string(dir.join("README.md")).unwrap();
    let line = readme
        .lines()
        .find(|l| l.contains("docker run --network "))
        .unwrap_or_else(|| panic!("the README names no `docker run --network`:\n{readme}"));
    let after = |key: &str| {
        line.split(key)
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .to_string()
    };
    (after("--network "), after("OTEL_EXPORTER_OTLP_ENDPOINT="))
}

/// An app in a container on the same Linux host, as the generated README says: on the stack's
/// network, sending to the front door by service name. Its trace arrives. The name the next
/// steps used to suggest, `host.docker.internal` (the bridge's gateway, with
/// `--add-host=host.docker.internal:host-gateway`), does not reach the ports published on
/// 127.0.0.1.
#[test]
fn engine_app_in_a_container_on_the_stack_network_delivers() {
    for (backend, extra) in [("jaeger", &["--gateway"][..]), ("collector", &[][..])] {
        with_engine_stack(backend, extra, |dir, stack| {
            let (network, endpoint) = readme_linux_line(dir);
            assert_eq!(network, format!("{}_default", stack.project));
            let env = format!("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}");
            let out = smoke_in_container(&[
                "--network",
                &network,
                "-e",
                &env,
                "-e",
                "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
            ]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{backend}: the smoke script in a container failed:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_arrived(
                stack,
                backend,
                "python in a container",
                &printed_trace_id(&stdout),
            );

            // What does not work on Linux: the host's published 127.0.0.1 port through the
            // bridge gateway.
            let port = endpoint.rsplit(':').next().unwrap();
            let unreachable = smoke_in_container(&[
                "--add-host=host.docker.internal:host-gateway",
                "-e",
                &format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://host.docker.internal:{port}"),
                "-e",
                "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
                "-e",
                "OTEL_EXPORTER_OTLP_TIMEOUT=3000",
            ]);
            assert!(
                !unreachable.status.success(),
                "{backend}: host.docker.internal:{port} reached a port published on 127.0.0.1:\n{}",
                String::from_utf8_lossy(&unreachable.stdout)
            );
        });
    }
}

/// `docker inspect` of every container of `stack`.
fn inspect_all(stack: &Stack) -> Vec<(String, Value)> {
    stack
        .services()
        .into_iter()
        .map(|service| {
            let id = stack
                .container(&service)
                .unwrap_or_else(|| panic!("no container for {service}"));
            let out = run_bounded(
                std::process::Command::new("docker").args(["inspect", &id]),
                COMMAND_TIMEOUT,
            );
            assert!(out.status.success());
            let value: Value = serde_json::from_slice(&out.stdout).unwrap();
            (service, value[0].clone())
        })
        .collect()
}

/// The `USER` an image runs as.
fn image_user(image: &str) -> String {
    let out = run_bounded(
        std::process::Command::new("docker").args([
            "image",
            "inspect",
            "-f",
            "{{.Config.User}}",
            image,
        ]),
        COMMAND_TIMEOUT,
    );
    assert!(out.status.success(), "docker image inspect {image}");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Every service of each runnable stack runs with the `read_only`, `cap_drop`, `cap_add`,
/// `user` and `no-new-privileges` its compose file renders (as the engine reports them), and
/// every one renders a read-only root, no capabilities but those it names, and
/// no-new-privileges: nothing is relaxed for the tests.
#[test]
fn engine_every_service_runs_hardened_as_rendered() {
    for (backend, extra) in [
        ("collector", &[][..]),
        ("jaeger", &["--gateway"][..]),
        ("phoenix", &[][..]),
    ] {
        with_engine_stack(backend, extra, |dir, stack| {
            let config = engine::compose_config(dir, &stack.project);
            for (service, inspect) in inspect_all(stack) {
                let rendered = &config["services"][&service];
                let what = format!("{backend} {extra:?} {service}");
                assert_eq!(rendered["read_only"], Value::Bool(true), "{what}: rendered");
                assert_eq!(
                    inspect["HostConfig"]["ReadonlyRootfs"],
                    Value::Bool(true),
                    "{what}: root not read-only under the engine"
                );
                let rendered_drop = rendered["cap_drop"].clone();
                assert_eq!(
                    rendered_drop,
                    serde_json::json!(["ALL"]),
                    "{what}: rendered"
                );
                assert_eq!(
                    inspect["HostConfig"]["CapDrop"], rendered_drop,
                    "{what}: cap_drop"
                );
                let rendered_add = if rendered["cap_add"].is_null() {
                    Value::Null
                } else {
                    rendered["cap_add"].clone()
                };
                // The engine names them with their CAP_ prefix.
                let engine_add = match &inspect["HostConfig"]["CapAdd"] {
                    Value::Array(a) if !a.is_empty() => a
                        .iter()
                        .map(|c| {
                            let c = c.as_str().unwrap();
                            Value::from(c.strip_prefix("CAP_").unwrap_or(c))
                        })
                        .collect(),
                    _ => Value::Null,
                };
                assert_eq!(engine_add, rendered_add, "{what}: cap_add");
                // Not rendered: the image's own user (the upstream images' non-root ones).
                let user = match rendered["user"].as_str() {
                    Some(user) => user.to_string(),
                    None => image_user(rendered["image"].as_str().unwrap()),
                };
                assert_eq!(
                    inspect["Config"]["User"].as_str().unwrap(),
                    user,
                    "{what}: user"
                );
                let rendered_opts = rendered["security_opt"].clone();
                assert!(
                    rendered_opts
                        .as_array()
                        .is_some_and(|o| o.iter().any(|v| v == "no-new-privileges:true")),
                    "{what}: rendered security_opt {rendered_opts}"
                );
                assert_eq!(
                    inspect["HostConfig"]["SecurityOpt"], rendered_opts,
                    "{what}: security_opt"
                );
            }
        });
    }
}

/// Sends the Python smoke trace from a container on the stack's network to the endpoint the
/// folder's README names; its trace id (the gateway acknowledged it: the script exits 0).
fn send_from_container(dir: &Path) -> String {
    let (network, endpoint) = readme_linux_line(dir);
    let env = format!("OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}");
    let out = smoke_in_container(&[
        "--network",
        &network,
        "-e",
        &env,
        "-e",
        "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the smoke script in a container failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    printed_trace_id(&stdout)
}

/// Service → container id.
fn container_ids(stack: &Stack) -> std::collections::BTreeMap<String, String> {
    stack
        .services()
        .into_iter()
        .filter_map(|s| stack.container(&s).map(|id| (s, id)))
        .collect()
}

/// `init` again with a changed option on a running `jaeger --gateway` stack (`--redact`, which
/// changes only the gateway's config file), then `docker compose up -d` as the next steps
/// say: Compose recreates the gateway (its config changed) and nothing else, and a trace the
/// gateway acknowledged while Jaeger was stopped is delivered by the new gateway.
#[test]
fn engine_reinit_with_changed_options_recreates_only_what_changed() {
    with_engine_stack("jaeger", &["--gateway"], |dir, stack| {
        let before = container_ids(stack);
        stack.stop("jaeger", Duration::from_secs(10));
        let queued = send_from_container(dir);
        let config_before = fs::read_to_string(dir.join("gateway-config.yaml")).unwrap();
        let project = format!("project={}", stack.project);
        crate::support::init(dir, "jaeger", &["--set", &project, "--gateway", "--redact"]);
        assert_ne!(
            fs::read_to_string(dir.join("gateway-config.yaml")).unwrap(),
            config_before,
            "--redact changes the gateway's config"
        );
        stack.compose_ok(&["up", "-d", "--wait", "--pull", "never"]);
        let after = container_ids(stack);
        let recreated: Vec<&String> = before
            .keys()
            .filter(|s| after.get(*s) != before.get(*s))
            .collect();
        assert_eq!(
            recreated,
            vec!["gateway"],
            "recreated by `docker compose up -d` after init --redact"
        );
        let redacted = fs::read_to_string(dir.join("gateway-config.yaml")).unwrap();
        assert!(redacted.contains("transform"), "{redacted}");
        assert_arrived(stack, "jaeger", "queued before the re-init", &queued);
        let after_reinit = send_from_container(dir);
        assert_arrived(stack, "jaeger", "sent after the re-init", &after_reinit);
    });
}

/// How many spans of `trace_id` Phoenix has now (one query, no waiting).
fn phoenix_span_count(trace_id: &str) -> usize {
    let url = format!(
        "{}/v1/projects/default/spans?trace_id={trace_id}",
        crate::real_phoenix::PHOENIX
    );
    let mut reply = ureq::get(&url).call().expect("Phoenix answers");
    let body: Value = serde_json::from_str(&reply.body_mut().read_to_string().unwrap()).unwrap();
    body["data"].as_array().map_or(0, Vec::len)
}

/// `docker compose up -d --wait` again (after `restart`, `down`), bounded.
fn up_again(stack: &Stack) {
    stack.compose_ok(&[
        "up",
        "-d",
        "--wait",
        "--wait-timeout",
        "180",
        "--pull",
        "never",
    ]);
}

/// The phoenix stack (gateway with its disk queue, Phoenix with its data volume):
/// `docker compose restart` and `down` then `up` keep what Phoenix stored and what the gateway
/// acknowledged but had not delivered; `down -v` deletes both.
#[test]
fn engine_restart_and_down_up_keep_data_down_v_deletes_it() {
    with_engine_stack("phoenix", &[], |dir, stack| {
        let stored = send_from_container(dir);
        crate::real_phoenix::phoenix_spans(&stored, 3, stack);

        stack.compose_ok(&["restart"]);
        up_again(stack);
        assert_eq!(
            phoenix_span_count(&stored),
            3,
            "after docker compose restart"
        );

        // Acknowledged while Phoenix is down: on the gateway's disk queue only.
        stack.stop("phoenix", Duration::from_secs(10));
        let queued = send_from_container(dir);
        stack.compose_ok(&["down", "--timeout", "10"]);
        up_again(stack);
        assert_eq!(phoenix_span_count(&stored), 3, "after down and up");
        crate::real_phoenix::phoenix_spans(&queued, 3, stack);

        // down -v: the volumes go, with Phoenix's data and the gateway's queue.
        stack.stop("phoenix", Duration::from_secs(10));
        let lost = send_from_container(dir);
        stack.compose_ok(&["down", "-v", "--timeout", "10"]);
        up_again(stack);
        assert_eq!(phoenix_span_count(&stored), 0, "after down -v");
        assert_eq!(phoenix_span_count(&queued), 0, "after down -v");
        std::thread::sleep(Duration::from_secs(10));
        assert_eq!(
            phoenix_span_count(&lost),
            0,
            "a trace queued before down -v was delivered after it"
        );
    });
}

/// An upgrade as a new release brings it (#26 point 3): a Phoenix stack rendered with an older
/// pin (the `phoenix-upgrade-from` image `scripts/images` builds) stores traces; `init` with the
/// catalog's pin says what the change does to stored data and rewrites the compose file;
/// `docker compose up -d` recreates Phoenix on the new image, which migrates the database
/// forward; the traces stored before are read back through the new version's API.
#[test]
fn phoenix_upgraded_by_init_keeps_the_traces_it_stored() {
    let (_, old_image) = crate::backends::stand_in_images()
        .into_iter()
        .find(|(name, _)| name == "phoenix-upgrade-from")
        .expect("scripts/images lists the older Phoenix");
    let old_tag = old_image.split_once(':').unwrap().1.to_string();
    let new_image = app_image();
    let set_old = format!("images.phoenix={old_tag}");
    with_engine_stack("phoenix", &["--set", &set_old], |dir, stack| {
        assert_eq!(running_image(stack, "phoenix"), old_image);
        let before = send_from_container(dir);
        crate::real_phoenix::phoenix_spans(&before, 3, stack);

        crate::upgrade::drop_image_override(dir, "phoenix", &old_tag);
        let out = crate::support::kneo()
            .args(["init", "--dir"])
            .arg(dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let new_tag = new_image.split_once(':').unwrap().1;
        assert!(
            stderr.contains(&format!(
                "upgrade: phoenix {old_tag} → {new_tag}: Phoenix migrates its database"
            )),
            "{stderr}"
        );
        up_again(stack);
        assert_eq!(running_image(stack, "phoenix"), new_image);
        assert_eq!(
            phoenix_span_count(&before),
            3,
            "the trace stored by Phoenix {old_tag} after the upgrade to {new_tag}:\n{}",
            stack.logs("phoenix")
        );
        // And the upgraded Phoenix keeps ingesting.
        let after = send_from_container(dir);
        crate::real_phoenix::phoenix_spans(&after, 3, stack);
    });
}

/// The image the service's container runs, as `docker inspect` names it.
fn running_image(stack: &Stack, service: &str) -> String {
    let id = stack.container(service).expect("a container");
    let out = run_bounded(
        std::process::Command::new("docker").args(["inspect", "-f", "{{.Config.Image}}", &id]),
        COMMAND_TIMEOUT,
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
