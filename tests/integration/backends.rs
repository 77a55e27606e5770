//! The real programs `scripts/backends` builds (Collector, Jaeger) or installs (Phoenix), for
//! the tests that run them directly (`otelcol validate`, `jaeger validate`); stacks run them as
//! the images `scripts/images` makes of them, on the engine (engine.rs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The built backends, by key (`otelcol`, `jaeger`, `phoenix`, …).
pub struct Binaries(pub BTreeMap<String, PathBuf>);

fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
}

/// Builds (or finds cached) backends once per test process. `None`: skip, with the reason
/// printed (no Go toolchain); under CI that panics instead.
pub fn binaries() -> Option<&'static Binaries> {
    static BINARIES: OnceLock<Option<Binaries>> = OnceLock::new();
    BINARIES
        .get_or_init(|| {
            let go = Command::new("sh")
                .args(["-c", "command -v go"])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !go {
                assert!(
                    !in_ci(),
                    "real-backend tests cannot run under CI: no `go` on PATH"
                );
                eprintln!("skipping real-backend tests: no `go` on PATH");
                return None;
            }
            let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/backends"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/backends");
            assert!(
                out.status.success(),
                "scripts/backends failed (see its output above)"
            );
            let map = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .filter_map(|line| line.split_once('='))
                .map(|(k, v)| (k.to_string(), PathBuf::from(v)))
                .collect();
            Some(Binaries(map))
        })
        .as_ref()
}

/// `scripts/images list`: (name as in `scripts/backends versions`, image it builds).
pub fn stand_in_images() -> Vec<(String, String)> {
    let out = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/images"))
        .arg("list")
        .output()
        .unwrap();
    assert!(out.status.success(), "scripts/images list failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            let mut parts = line.split_whitespace().map(String::from);
            (parts.next().unwrap(), parts.next().unwrap())
        })
        .collect()
}
