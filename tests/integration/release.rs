//! Release artifacts: the release workflow, cargo-binstall metadata, scripts/install.sh and the
//! install step of the workflow `init --ci github` writes all name the same archives; both
//! workflows pass zizmor; the install step and the script install a checksum-verified binary
//! (or fall back / refuse) against a fake release on disk. Real releases cannot be built or
//! downloaded here, so the download itself is faked below `curl`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn release_workflow() -> serde_yaml::Value {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

fn release_targets() -> Vec<String> {
    release_workflow()["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|entry| entry["target"].as_str().unwrap().to_string())
        .collect()
}

/// The workflow `init --ci github` writes, in a fresh repository.
fn generated_workflow(repo: &Path) -> PathBuf {
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    init(&repo.join("obs"), "jaeger", &["--ci", "github"]);
    repo.join(".github/workflows/kneo-otel-check.yml")
}

#[test]
fn release_binstall_install_script_and_generated_workflow_name_the_same_archives() {
    let targets = release_targets();
    for target in [
        "x86_64-unknown-linux-gnu",
        "aarch64-unknown-linux-gnu",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(
            targets.contains(&target.to_string()),
            "{target} not released"
        );
    }
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    assert!(text.contains(r#"name="kneo-otel-${TAG#v}-${TARGET}""#));
    assert!(text.contains(r#"tar -czf "$name.tar.gz" "$name""#));
    assert!(text.contains("sha256sum -- *.tar.gz > sha256sums.txt"));

    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains(
            "[package.metadata.binstall]\n\
             pkg-url = \"{ repo }/releases/download/v{ version }/{ name }-{ version }-{ target }.tar.gz\"\n\
             bin-dir = \"{ name }-{ version }-{ target }/{ bin }{ binary-ext }\"\n\
             pkg-fmt = \"tgz\"\n"
        ),
        "binstall metadata does not name the release archives"
    );

    let script = std::fs::read_to_string(root().join("scripts/install.sh")).unwrap();
    assert!(
        script.contains(&format!("version=\"${{1:-{VERSION}}}\"")),
        "install.sh pins another version"
    );
    for target in &targets {
        assert!(
            script.contains(&format!("target={target} ")),
            "install.sh lacks {target}"
        );
    }
    assert!(script.contains(r#"name="kneo-otel-$version-$target""#));

    let repo = tempfile::tempdir().unwrap();
    let workflow: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(generated_workflow(repo.path())).unwrap())
            .unwrap();
    let job = &workflow["jobs"]["check"];
    assert_eq!(
        job["runs-on"], "ubuntu-24.04",
        "the step installs the x86_64 Linux archive"
    );
    let step = install_step(&workflow);
    assert_eq!(
        step["env"]["KNEO_OTEL_VERSION"], VERSION,
        "pinned to this version"
    );
    assert_eq!(
        step["env"]["KNEO_OTEL_RELEASES"].as_str().unwrap(),
        format!("{}/releases/download", env!("CARGO_PKG_REPOSITORY"))
    );
    let run = step["run"].as_str().unwrap();
    assert!(
        run.contains(r#"archive="kneo-otel-${KNEO_OTEL_VERSION}-x86_64-unknown-linux-gnu.tar.gz""#)
    );
    assert!(targets.contains(&"x86_64-unknown-linux-gnu".to_string()));
    assert!(run.contains("sha256sum --check --strict"));
    assert!(run.contains("--proto '=https'"));
}

fn install_step(workflow: &serde_yaml::Value) -> serde_yaml::Value {
    workflow["jobs"]["check"]["steps"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|s| {
            s["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("Install kneo-otel"))
        })
        .expect("an install step")
        .clone()
}

#[test]
fn workflows_pass_zizmor_with_no_findings() {
    let Some(zizmor) = validator("zizmor") else {
        return;
    };
    let repo = tempfile::tempdir().unwrap();
    for workflow in [
        root().join(".github/workflows/release.yml"),
        generated_workflow(repo.path()),
    ] {
        let out = Command::new(&zizmor)
            .args(["--offline", "--no-progress"])
            .arg(&workflow)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.contains("No findings"),
            "{}: {stdout}{}",
            workflow.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A release on disk: `<dir>/v<VERSION>/<archive>` with a fake binary, and sha256sums.txt.
fn fake_release(dir: &Path, target: &str) -> PathBuf {
    let name = format!("kneo-otel-{VERSION}-{target}");
    let tag = dir.join(format!("v{VERSION}"));
    std::fs::create_dir_all(tag.join(&name)).unwrap();
    std::fs::write(
        tag.join(&name).join("kneo-otel"),
        "#!/bin/sh\necho prebuilt\n",
    )
    .unwrap();
    let ok = |cmd: &mut Command| assert!(cmd.current_dir(&tag).status().unwrap().success());
    ok(Command::new("tar").args(["-czf", &format!("{name}.tar.gz"), &name]));
    ok(Command::new("sh").args(["-c", "sha256sum -- *.tar.gz > sha256sums.txt"]));
    std::fs::remove_dir_all(tag.join(&name)).unwrap();
    tag.join(format!("{name}.tar.gz"))
}

fn write_executable(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// What one run of the generated install step did.
struct Attempt {
    ok: bool,
    output: String,
    /// Every curl and cargo command line it ran.
    log: String,
    installed: Option<String>,
}

#[cfg(unix)]
#[test]
fn the_generated_install_step_fails_closed_and_builds_only_from_the_release_tag() {
    let repo = tempfile::tempdir().unwrap();
    let workflow: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(generated_workflow(repo.path())).unwrap())
            .unwrap();
    let step = install_step(&workflow);
    let run = step["run"].as_str().unwrap().to_string();

    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    let archive = fake_release(&releases, "x86_64-unknown-linux-gnu");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // curl: serves URLs below .../releases/download/ from the fake release into the file of
    // `-o` (or `-O`: the URL's last part); 404 for a missing file, FAKE_STATUS forces a status.
    // With `-w` it prints the statuses and succeeds, else it fails (22, like `-f`) on any but
    // 200. It logs its arguments.
    write_executable(
        &bin.join("curl"),
        r#"#!/bin/sh
echo "curl $*" >> "$FAKE_LOG"
out=; prev=; codes=; failed=0
for a in "$@"; do
  [ "$prev" = -o ] && out="$a"
  case "$a" in https://*)
    dest="${out:-${a##*/}}"; out=
    f="$FAKE_RELEASES/${a#*/releases/download/}"
    if [ -n "${FAKE_STATUS:-}" ]; then code="$FAKE_STATUS"; printf 'error page' > "$dest"
    elif [ -f "$f" ]; then code=200; cp "$f" "$dest"
    else code=404; printf 'Not Found' > "$dest"; fi
    codes="$codes$code"
    [ "$code" = 200 ] || failed=1 ;;
  esac
  prev="$a"
done
case " $* " in *" -w "*) printf '%s' "$codes"; exit 0 ;; esac
exit $((failed * 22))
"#,
    );
    write_executable(
        &bin.join("cargo"),
        "#!/bin/sh\necho \"cargo $*\" >> \"$FAKE_LOG\"\n",
    );
    let attempt = |label: &str, status: Option<&str>| -> Attempt {
        let home = tmp.path().join(format!("home-{label}"));
        let runner = tmp.path().join(format!("runner-{label}"));
        std::fs::create_dir_all(&runner).unwrap();
        let log = tmp.path().join(format!("{label}.log"));
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg(&run)
            .env(
                "PATH",
                format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
            )
            .env("HOME", &home)
            .env("RUNNER_TEMP", &runner)
            .env("FAKE_RELEASES", &releases)
            .env("FAKE_LOG", &log)
            .env_remove("FAKE_STATUS");
        for (key, value) in step["env"].as_mapping().unwrap() {
            command.env(key.as_str().unwrap(), value.as_str().unwrap());
        }
        if let Some(status) = status {
            command.env("FAKE_STATUS", status);
        }
        let out = command.output().unwrap();
        Attempt {
            ok: out.status.success(),
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
            log: std::fs::read_to_string(&log).unwrap_or_default(),
            installed: std::fs::read_to_string(home.join(".cargo/bin/kneo-otel")).ok(),
        }
    };

    let verified = attempt("verified", None);
    assert!(verified.ok, "{}", verified.output);
    assert_eq!(
        verified.installed.as_deref(),
        Some("#!/bin/sh\necho prebuilt\n")
    );
    assert!(!verified.log.contains("cargo"), "{}", verified.log);
    assert!(verified.log.contains("--proto =https"), "{}", verified.log);

    // A server error is not a missing release: nothing is installed, nothing built.
    let broken = attempt("server-error", Some("500"));
    assert!(!broken.ok, "an HTTP 500 passed: {}", broken.output);
    assert!(broken.output.contains("::error::"), "{}", broken.output);
    assert!(!broken.log.contains("cargo"), "{}", broken.log);
    assert_eq!(broken.installed, None);

    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    let tampered = attempt("tampered", None);
    assert!(
        !tampered.ok,
        "a tampered archive passed: {}",
        tampered.output
    );
    assert!(
        tampered.output.contains("::error::") && tampered.output.contains("sha256sums.txt"),
        "{}",
        tampered.output
    );
    assert!(
        !tampered.log.contains("cargo"),
        "a checksum mismatch fell back to cargo: {}",
        tampered.log
    );
    assert_eq!(tampered.installed, None, "a tampered archive was installed");

    // No release archive for this version: built from the same tag of the project's own
    // repository, never from a crates.io name.
    std::fs::remove_dir_all(&releases).unwrap();
    let missing = attempt("missing", None);
    assert!(missing.ok, "{}", missing.output);
    assert_eq!(missing.installed, None);
    let repository = env!("CARGO_PKG_REPOSITORY");
    assert!(
        missing.log.contains(&format!(
            "cargo install --locked --git {repository} --tag v{VERSION} kneo-otel"
        )),
        "{}",
        missing.log
    );
    assert!(!missing.log.contains("--version"), "{}", missing.log);
}

#[cfg(all(unix, target_os = "linux"))]
#[test]
fn the_install_script_installs_only_a_verified_binary() {
    let target = match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-gnu",
        "aarch64" => "aarch64-unknown-linux-gnu",
        other => panic!("no release target for {other}"),
    };
    let tmp = tempfile::tempdir().unwrap();
    let releases = tmp.path().join("releases");
    let archive = fake_release(&releases, target);
    let run = |into: &Path| {
        Command::new("sh")
            .arg(root().join("scripts/install.sh"))
            .env(
                "KNEO_OTEL_RELEASES",
                format!("file://{}", releases.display()),
            )
            .env("KNEO_OTEL_INSTALL_DIR", into)
            .output()
            .unwrap()
    };
    let good = tmp.path().join("good");
    let out = run(&good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(good.join("kneo-otel")).unwrap(),
        "#!/bin/sh\necho prebuilt\n"
    );
    let mut bytes = std::fs::read(&archive).unwrap();
    bytes.push(0);
    std::fs::write(&archive, bytes).unwrap();
    let bad = tmp.path().join("bad");
    let out = run(&bad);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("does not match sha256sums.txt"), "{stderr}");
    assert!(
        stderr
            .contains("cargo install --locked --git https://github.com/kneo-ai/kneo-otel --tag v"),
        "{stderr}"
    );
    assert!(!bad.join("kneo-otel").exists());
}
