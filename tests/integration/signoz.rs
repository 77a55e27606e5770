//! SigNoz rests on facts read in upstream source (it cannot run here): the pins that run
//! together, the checked download, the ClickHouse system log TTLs, the migrator's budget,
//! the ingester keys and the read-only roots.

use std::path::Path;
use std::process::Command;

use serde_yaml::Value;

use crate::support::*;

fn rendered(extra: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "signoz", extra);
    tmp
}

fn yaml(dir: &Path, file: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap()
}

/// `--set` on one of the pins that hold each other is refused in one line naming the value
/// and the tag that goes with the others (Foundry's compat.go: collector > 0.144.5 needs
/// ClickHouse 25.12.5; Keeper is the server's release).
#[test]
fn signoz_compat_rules_refuse_one_pin_moved_alone() {
    for (set, named, fix) in [
        (
            "images.clickhouse=25.5.6",
            "images.clickhouse=25.5.6",
            "use images.clickhouse=25.12.5",
        ),
        (
            "images.keeper=25.12.6",
            "images.keeper=25.12.6",
            "use images.keeper=25.12.5",
        ),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let out = kneo()
            .args(["init", "--backend", "signoz", "--set", set, "--dir"])
            .arg(tmp.path())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{set} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains(named) && stderr.contains(fix),
            "{set}: {stderr}"
        );
        assert!(!tmp.path().join("docker-compose.yml").exists());
    }
    // The pins as the catalog has them.
    let tmp = rendered(&[]);
    let compose = compose(tmp.path());
    let image = |service: &str| {
        compose["services"][service]["image"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(image("clickhouse"), "clickhouse/clickhouse-server:25.12.5");
    assert_eq!(image("keeper"), "clickhouse/clickhouse-keeper:25.12.5");
    assert_eq!(image("ingester"), "signoz/signoz-otel-collector:v0.144.15");
    assert_eq!(image("migrator"), image("ingester"));
}

/// The user-scripts step as compose runs it (`$$` is compose's `$`), with the download
/// replaced by a local archive: it installs the binary when the archive's sha256 is the
/// recorded one, and fails closed — non-zero, nothing installed — when it is not.
#[test]
fn signoz_user_scripts_step_fails_closed_on_a_tampered_checksum() {
    let tmp = rendered(&[]);
    let compose = compose(tmp.path());
    let service = &compose["services"]["clickhouse-user-scripts"];
    assert_eq!(service["entrypoint"][0], "bash");
    let script = service["command"][0].as_str().unwrap().replace("$$", "$");
    let recorded: Vec<String> = ["amd64", "arm64"]
        .iter()
        .map(|arch| {
            let line = script
                .lines()
                .find(|l| l.trim_start().starts_with(&format!("{arch}) sha256=")))
                .unwrap_or_else(|| panic!("no sha256 for {arch}:\n{script}"));
            line.split('=')
                .nth(1)
                .unwrap()
                .split_whitespace()
                .next()
                .unwrap()
                .to_string()
        })
        .collect();

    // A stand-in archive with the binary at its root, as the release has it.
    let work = tempfile::tempdir().unwrap();
    let stage = work.path().join("stage");
    std::fs::create_dir(&stage).unwrap();
    std::fs::write(stage.join("histogram-quantile"), "#!/bin/sh\necho 0.5\n").unwrap();
    let archive = work.path().join("archive.tar.gz");
    let tar = Command::new("tar")
        .arg("-czf")
        .arg(&archive)
        .arg("-C")
        .arg(&stage)
        .arg("histogram-quantile")
        .status()
        .unwrap();
    assert!(tar.success());
    let digest = String::from_utf8(
        Command::new("sha256sum")
            .arg(&archive)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap()
    .split_whitespace()
    .next()
    .unwrap()
    .to_string();
    // `wget -q -O <file> <url>` copies the archive instead.
    let bin = work.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let wget = bin.join("wget");
    std::fs::write(
        &wget,
        format!(
            "#!/bin/sh\n[ \"$1\" = -q ] && [ \"$2\" = -O ] || exit 9\ncp '{}' \"$3\"\n",
            archive.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wget, std::fs::Permissions::from_mode(0o755)).unwrap();

    let run = |digest_for_all: &str, case: &str| {
        let root = work.path().join(case);
        let scratch = root.join("tmp");
        let volume = root.join("volume");
        std::fs::create_dir_all(&scratch).unwrap();
        std::fs::create_dir_all(&volume).unwrap();
        let mut local = script
            .replace("cd /tmp", &format!("cd '{}'", scratch.display()))
            .replace("/var/lib/clickhouse/", &format!("{}/", volume.display()));
        for sha in &recorded {
            local = local.replace(sha.as_str(), digest_for_all);
        }
        assert!(!local.contains("/var/lib/clickhouse") && !local.contains("/tmp\n"));
        let out = Command::new("bash")
            .arg("-c")
            .arg(&local)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .output()
            .unwrap();
        (out, volume.join("histogramQuantile"))
    };

    // The check can pass: with the stand-in's digest recorded, the binary is installed.
    let (out, installed) = run(&digest, "matching");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&installed).unwrap(),
        "#!/bin/sh\necho 0.5\n"
    );

    // One digit changed: refused, nothing installed.
    let mut tampered = digest.clone().into_bytes();
    tampered[0] = if tampered[0] == b'0' { b'1' } else { b'0' };
    let (out, installed) = run(&String::from_utf8(tampered).unwrap(), "tampered");
    assert!(!out.status.success(), "a tampered checksum was accepted");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("sha256 mismatch; not installed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!installed.exists(), "installed despite the mismatch");

    // The catalog's digests are the release's, not the stand-in's.
    assert_ne!(recorded[0], digest);
    // It runs as ClickHouse's user with no capability, on a read-only root.
    assert_eq!(service["user"], "101:101");
    assert_eq!(
        compose["x-volume-owners"]["clickhouse-user-scripts"],
        "101:101"
    );
    assert_eq!(service["cap_drop"][0], "ALL");
    assert!(service["cap_add"].is_null());
    assert_eq!(service["read_only"], true);
    assert_eq!(
        service["volumes"][0],
        "clickhouse-user-scripts:/var/lib/clickhouse"
    );
}

/// Every system log table ClickHouse's config.xml enables (25.x: read at the commit whose
/// Dockerfile.ubuntu builds 25.4.4.25; Foundry's 25.12.5 template sets TTLs on the same
/// names) is declared with a one-day TTL, and no other `*_log` table is switched on.
#[test]
fn signoz_clickhouse_system_logs_each_have_a_ttl() {
    let tmp = rendered(&[]);
    let config = yaml(tmp.path(), "clickhouse/config.yaml");
    let mut declared: Vec<&str> = config
        .as_mapping()
        .unwrap()
        .keys()
        .filter_map(Value::as_str)
        .filter(|k| k.ends_with("_log"))
        .collect();
    declared.sort_unstable();
    let mut upstream = vec![
        "query_log",
        "trace_log",
        "query_thread_log",
        "query_views_log",
        "part_log",
        "text_log",
        "metric_log",
        "latency_log",
        "error_log",
        "query_metric_log",
        "asynchronous_metric_log",
        "opentelemetry_span_log",
        "crash_log",
        "processors_profile_log",
        "asynchronous_insert_log",
        "backup_log",
        "s3queue_log",
        "blob_storage_log",
    ];
    upstream.sort_unstable();
    assert_eq!(declared, upstream);
    for table in upstream {
        let section = &config[table];
        let ttl = match section["ttl"].as_str() {
            Some(ttl) => ttl.to_string(),
            None => section["engine"].as_str().unwrap_or_default().to_string(),
        };
        assert!(
            ttl.contains("+ INTERVAL 1 DAY DELETE"),
            "{table} keeps its rows: {section:?}"
        );
    }
    // opentelemetry_span_log has no event_date: its TTL is on finish_date, in the engine.
    let spans = config["opentelemetry_span_log"]["engine"].as_str().unwrap();
    assert!(
        spans.contains("TTL finish_date + INTERVAL 1 DAY DELETE"),
        "{spans}"
    );
    assert!(config["opentelemetry_span_log"]["ttl"].is_null());
}

/// The migrator's retry budget is Foundry's (SIGNOZ_OTEL_COLLECTOR_TIMEOUT=10m; the
/// collector's own default is 10 s a step); the ingester keeps Foundry's template keys.
#[test]
fn signoz_migrator_and_ingester_follow_foundry() {
    let tmp = rendered(&[]);
    let compose = compose(tmp.path());
    let migrator = &compose["services"]["migrator"];
    assert_eq!(
        migrator["environment"]["SIGNOZ_OTEL_COLLECTOR_TIMEOUT"],
        "10m"
    );
    let ingester = yaml(tmp.path(), "ingester/ingester.yaml");
    assert_eq!(ingester["exporters"]["metadataexporter"]["timeout"], "45s");
    assert_eq!(ingester["processors"]["batch/meter"]["timeout"], "5s");
    assert!(ingester["extensions"]["pprof"].is_null());
    let traces = &ingester["service"]["pipelines"]["traces"]["processors"];
    assert_eq!(traces[0], "memory_limiter");
    let functions = yaml(tmp.path(), "clickhouse/functions.yaml");
    assert_eq!(functions["functions"]["argument"][2]["type"], "Float64");
}

/// Read-only roots where the images allow; SigNoz says why not on the same line.
#[test]
fn signoz_roots_are_read_only_or_say_why() {
    let tmp = rendered(&[]);
    let compose = compose(tmp.path());
    for service in compose["services"].as_mapping().unwrap().keys() {
        let name = service.as_str().unwrap();
        let read_only = compose["services"][name]["read_only"].as_bool().unwrap();
        assert_eq!(read_only, name != "signoz", "{name}");
        if read_only {
            let tmpfs = &compose["services"][name]["tmpfs"];
            assert!(
                tmpfs
                    .as_sequence()
                    .is_some_and(|t| t.contains(&Value::from("/tmp"))),
                "{name} has a read-only root and no /tmp"
            );
        }
    }
    let text = std::fs::read_to_string(tmp.path().join("docker-compose.yml")).unwrap();
    assert!(
        text.lines().any(|l| l
            .trim()
            .starts_with("read_only: false  # PromQL engine mmaps queries.active")),
        "signoz's writable root has no reason"
    );
}
