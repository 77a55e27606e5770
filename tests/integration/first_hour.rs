//! A new user's first hour (issue 13): what got in the way, one test a point, each through
//! the real binary as the user met it.

use std::path::{Path, PathBuf};
use std::process::Output;

use crate::otlp_receiver::free_port;
use crate::support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `init` that must fail with exit 2; returns stderr.
fn refused(args: &[&str]) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let out = kneo()
        .arg("init")
        .args(args)
        .arg("--dir")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
    assert!(!dir.exists(), "{args:?} wrote {}", dir.display());
    stderr(&out)
}

/// A jaeger stack in `dir` with every host port moved to a free one (nothing listens).
fn jaeger_on_free_ports(dir: &Path) {
    let sets: Vec<String> = ["otlp_grpc", "otlp_http", "ui", "health"]
        .iter()
        .flat_map(|k| ["--set".to_string(), format!("ports.{k}={}", free_port())])
        .collect();
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    init(dir, "jaeger", &sets);
}

// 1. The README's main command writes ./observability into the clone: git ignores it.
#[test]
fn the_readme_main_command_leaves_git_status_clean() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(
            "cargo run -- init --backend jaeger   # the main job: writes ./observability"
        )
    );
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(root())
        .args(["check-ignore", "-q", "observability/docker-compose.yml"])
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "observability/ is not ignored in the clone"
    );
}

// 3. Backend ids: any case, and a typo gets clap's suggestion.
#[test]
fn backend_ids_take_any_case_and_a_typo_gets_a_suggestion() {
    for spelling in ["Jaeger", "JAEGER"] {
        let tmp = tempfile::tempdir().unwrap();
        init(tmp.path(), spelling, &[]);
        let manifest = std::fs::read_to_string(tmp.path().join("kneo-otel.yaml")).unwrap();
        assert!(manifest.contains("backend: jaeger"), "{manifest}");
    }
    let error = refused(&["--backend", "jagger"]);
    assert!(
        error.contains("a similar value exists: 'jaeger'"),
        "{error}"
    );
    let error = refused(&["--set", "backend=jagger"]);
    assert!(error.contains("did you mean `jaeger`?"), "{error}");
    let tmp = tempfile::tempdir().unwrap();
    init(tmp.path(), "collector", &["--set", "backend=Tempo"]);
    let manifest = std::fs::read_to_string(tmp.path().join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("backend: tempo"), "{manifest}");
}

// 5. A port clash names the two port keys.
#[test]
fn a_host_port_clash_names_both_port_keys() {
    let error = refused(&["--backend", "jaeger", "--set", "ports.ui=4317"]);
    assert!(
        error.contains("ports.ui") && error.contains("ports.otlp_grpc"),
        "{error}"
    );
    assert!(!error.contains("jaeger and jaeger"), "{error}");
    assert_eq!(error.lines().count(), 1, "{error}");
}

// 6. --set: the key first, suggestions from this backend's keys.
#[test]
fn set_checks_the_key_before_the_value_with_this_backends_keys() {
    let error = refused(&["--backend", "jaeger", "--set", "ports.grafana=abc"]);
    assert!(error.contains("unknown key `ports.grafana`"), "{error}");
    assert!(!error.contains("port number"), "{error}");
    let error = refused(&["--backend", "jaeger", "--set", "ports.ui"]);
    assert!(error.contains("--set ports.ui=<port>"), "{error}");
    assert!(!error.contains("grafana"), "{error}");
    let error = refused(&["--backend", "jaeger", "--set", "ports.uii=16687"]);
    assert!(error.contains("did you mean `ports.ui`?"), "{error}");
    assert!(!error.contains("grafana"), "{error}");
}

// 7. A bad boolean says so once.
#[test]
fn a_bad_boolean_is_one_plain_sentence() {
    let error = refused(&["--backend", "jaeger", "--set", "expose=maybe"]);
    assert_eq!(error, "error: --set expose=\"maybe\": use true or false\n");
}

// 8. --dir through a file: one line naming the file, for every command with --dir.
#[test]
fn a_dir_through_a_file_names_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("afile"), "x").unwrap();
    for args in [
        &["init", "--backend", "jaeger"][..],
        &["check"],
        &["verify"],
        &["eject", "docker-compose.yml"],
        &["snippet"],
    ] {
        let out = kneo()
            .args(args)
            .args(["--dir", "afile/sub"])
            .current_dir(tmp.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let error = stderr(&out);
        assert_eq!(
            error, "error: --dir afile/sub: afile is a file, not a folder: choose another --dir\n",
            "{args:?}"
        );
    }
}

// 9. Inside the generated folder, commands use its kneo-otel.yaml.
#[test]
fn commands_inside_the_generated_folder_use_its_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("observability");
    init(&dir, "jaeger", &[]);
    let run = |args: &[&str]| kneo().args(args).current_dir(&dir).output().unwrap();

    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["init"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("files unchanged"), "{}", stdout(&out));
    std::fs::write(dir.join("jaeger-config.yaml"), "# mine\n").unwrap();
    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        !stdout(&out).contains("--dir observability"),
        "{}",
        stdout(&out)
    );
    let out = run(&["eject", "jaeger-config.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = run(&["snippet", "--lang", "rust"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.join("observability").exists(), "wrote a nested folder");
    // Elsewhere the default stays ./observability.
    let out = kneo()
        .arg("check")
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

// 10. check's diff: labelled sides, the user's edit reads as their change.
#[test]
fn check_diff_labels_its_sides_and_shows_the_edit_as_added() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    init(&dir, "jaeger", &[]);
    let compose = dir.join("docker-compose.yml");
    let mut text = std::fs::read_to_string(&compose).unwrap();
    text.push_str("# my edit\n");
    std::fs::write(&compose, text).unwrap();
    let out = kneo().arg("check").arg("--dir").arg(&dir).output().unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("--- docker-compose.yml  (what kneo-otel would write)\n+++ docker-compose.yml  (on disk)\n"),
        "{text}"
    );
    assert!(text.contains("\n+# my edit\n"), "{text}");
    assert!(!text.contains("a/docker-compose.yml"), "{text}");
    // init --diff shows what init would do: from disk to the render.
    let out = kneo()
        .args(["init", "--dry-run", "--diff", "--force", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&out);
    assert!(
        text.contains("--- docker-compose.yml  (on disk)\n+++ docker-compose.yml  (what kneo-otel would write)\n"),
        "{text}"
    );
    assert!(text.contains("\n-# my edit\n"), "{text}");
}

// 11. --format json: an error is one JSON object on stdout too.
#[test]
fn json_errors_are_one_json_object_on_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [
        &["init", "--backend", "nope", "--format", "json"][..],
        &[
            "init",
            "--backend",
            "jaeger",
            "--set",
            "ports.ui=0",
            "--format=json",
        ],
        &["check", "--dir", "missing", "--format", "json"],
        &["backends", "--format", "json", "--bogus"],
        &["verify", "--format", "json", "--timeout", "30x"],
    ] {
        let out = kneo().args(args).current_dir(tmp.path()).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: stdout is not one JSON object ({e}): {}",
                stdout(&out)
            )
        });
        assert_eq!(json["schema_version"], 1, "{args:?}");
        assert_eq!(json["error"]["exit_code"], 2, "{args:?}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && !message.starts_with("error:"),
            "{args:?}: {message}"
        );
        assert!(
            stderr(&out).starts_with("error: "),
            "{args:?}: text stays on stderr"
        );
    }
    // Text mode keeps stdout empty on errors.
    let out = kneo()
        .args(["check", "--dir", "missing"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.stdout.is_empty());
}

// 13. Next steps and the generated README: verify, snippet, stopping, backend switches.
#[test]
fn next_steps_and_readme_cover_verify_snippet_and_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&out);
    let d = dir.display();
    for needle in [
        format!("kneo-otel verify --dir {d}"),
        format!("kneo-otel snippet --dir {d}"),
        format!("cd {d} && docker compose down"),
    ] {
        assert!(text.contains(&needle), "{needle:?} not in {text}");
    }
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    for needle in [
        "kneo-otel verify",
        "kneo-otel snippet",
        "docker compose down",
    ] {
        assert!(readme.contains(needle), "{needle} not in the README");
    }
    let out = kneo()
        .args(["init", "--backend", "tempo", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&out);
    // Same project, other services: the old backend's containers are orphans holding ports.
    assert!(
        text.contains("docker compose up -d --remove-orphans")
            && text.contains("# also removes the old services' containers (jaeger)"),
        "{text}"
    );
    // A re-run without a switch says nothing about an old stack.
    let out = kneo().args(["init", "--dir"]).arg(&dir).output().unwrap();
    assert!(
        !stdout(&out).contains("docker compose -p") && !stdout(&out).contains("--remove-orphans"),
        "{}",
        stdout(&out)
    );
    // A new project name: the old project's containers are stopped first.
    let old = std::fs::read_to_string(dir.join("docker-compose.yml")).unwrap();
    let old = old
        .lines()
        .find_map(|l| l.strip_prefix("name: "))
        .unwrap()
        .to_string();
    let out = kneo()
        .args(["init", "--set", "project=renamed", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let text = stdout(&out);
    let stop = text
        .find(&format!("docker compose -p {old} down"))
        .expect(&text);
    assert!(
        text.contains("# the compose project is now renamed"),
        "{text}"
    );
    assert!(stop < text.find("docker compose up -d").unwrap(), "{text}");
}

fn exports(init_stdout: &str) -> Vec<String> {
    init_stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("export "))
        .map(str::to_string)
        .collect()
}

// 14. The environment lines agree: init, the README example, verify's checklist.
#[test]
fn environment_lines_agree_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--dry-run", "--dir"])
        .arg(tmp.path().join("default"))
        .output()
        .unwrap();
    assert!(out.status.success());
    // --dry-run prints no next steps; the real run does.
    let dir = tmp.path().join("obs");
    let out = kneo()
        .args(["init", "--backend", "jaeger", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let lines = exports(&stdout(&out));
    assert!(
        lines.contains(&"OTEL_METRICS_EXPORTER=none".to_string()),
        "{lines:?}"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    for line in &lines {
        assert!(
            readme.contains(&format!("export {line}\n")),
            "README lacks {line}"
        );
    }

    let dir = tmp.path().join("free");
    jaeger_on_free_ports(&dir);
    let out = kneo().args(["init", "--dir"]).arg(&dir).output().unwrap();
    let lines = exports(&stdout(&out));
    let out = kneo()
        .args(["verify", "--timeout", "3s", "--dir"])
        .arg(&dir)
        .output()
        .unwrap();
    let checklist = stdout(&out);
    for line in &lines {
        assert!(
            checklist.contains(&format!("        {line}\n")),
            "{line} not in {checklist}"
        );
    }
}

// 16. verify says "start the stack" once, and no `cd .` inside the folder.
#[test]
fn verify_says_start_the_stack_once_and_never_cd_dot() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    jaeger_on_free_ports(&dir);
    let out = kneo()
        .args(["verify", "--timeout", "3s"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert_eq!(text.matches("docker compose up -d").count(), 1, "{text}");
    assert!(text.matches("fix: as above").count() >= 3, "{text}");
    assert!(!text.contains("cd ."), "{text}");
    assert!(!text.contains("--dir ."), "{text}");
    // JSON keeps each check's whole fix.
    let out = kneo()
        .args(["verify", "--timeout", "3s", "--format", "json"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fixes = json["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["fix"]
                .as_str()
                .is_some_and(|f| f.contains("docker compose up -d"))
        })
        .count();
    assert!(fixes >= 4, "{json}");
}

// 15. The small things.
#[test]
fn init_lists_the_manifest_it_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kneo()
        .args(["init", "--backend", "collector", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("  create     kneo-otel.yaml\n"),
        "{}",
        stdout(&out)
    );
    let out = kneo()
        .args(["init", "--dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(
        stdout(&out).contains("  unchanged  kneo-otel.yaml\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn man_pages_list_no_missing_page_and_carry_the_version() {
    let version = env!("CARGO_PKG_VERSION");
    let out = kneo().arg("man").output().unwrap();
    assert!(
        !stdout(&out).contains("kneo-otel-help"),
        "lists a page --out-dir does not write"
    );
    let out = kneo().args(["man", "init"]).output().unwrap();
    assert!(
        stdout(&out).contains(&format!(
            ".TH kneo-otel-init 1  \"kneo-otel-init {version}\""
        )),
        "{}",
        stdout(&out)
    );
    let tmp = tempfile::tempdir().unwrap();
    kneo()
        .args(["man", "--out-dir"])
        .arg(tmp.path())
        .assert()
        .success();
    for entry in std::fs::read_dir(tmp.path()).unwrap() {
        let page = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        let title = page.lines().find(|l| l.starts_with(".TH")).unwrap();
        assert!(title.contains(version), "{title}");
    }
}

#[test]
fn every_option_has_help_text() {
    for command in [
        "init",
        "backends",
        "check",
        "eject",
        "verify",
        "snippet",
        "man",
        "completions",
    ] {
        let out = kneo().args([command, "-h"]).output().unwrap();
        let text = stdout(&out);
        let lines: Vec<&str> = text.lines().collect();
        for (at, line) in lines.iter().enumerate() {
            if !line.trim_start().starts_with('-') {
                continue;
            }
            let (flag, rest) = line.trim().split_once("  ").unwrap_or((line.trim(), ""));
            // Short help: on the same line, or on the next when the flag is long.
            let help = match rest.trim() {
                "" => lines.get(at + 1).map(|l| l.trim()).unwrap_or_default(),
                rest => rest,
            };
            assert!(
                !help.is_empty() && !help.starts_with('[') && !help.starts_with('-'),
                "{command}: {flag} has no help text"
            );
        }
    }
}

#[test]
fn snippet_without_a_manifest_says_so_and_claims_no_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let out = kneo()
        .args(["snippet", "--lang", "python"])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("no kneo-otel.yaml in observability"),
        "{}",
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("--dir observability"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn readme_install_says_the_tests_need_python_venv() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let install = readme.split("## Working on kneo-otel").nth(1).unwrap();
    let install = install.split("\n## ").next().unwrap();
    assert!(
        install.contains("python3") && install.contains("venv"),
        "{install}"
    );
}

/// What bash completion offers after `words` (the last one being completed).
fn bash_completes(words: &[&str]) -> Vec<String> {
    let tmp = tempfile::tempdir().unwrap();
    bash_completes_in(tmp.path(), words)
}

/// [`bash_completes`] in `dir`, with this kneo-otel first on PATH (the script asks it for the
/// `--set` keys of the folder's backend).
fn bash_completes_in(dir: &std::path::Path, words: &[&str]) -> Vec<String> {
    let out = kneo().args(["completions", "bash"]).output().unwrap();
    let tmp = tempfile::TempDir::new_in(dir).unwrap();
    std::fs::write(tmp.path().join("script.bash"), &out.stdout).unwrap();
    // A file in the folder: file-name completion would offer it.
    std::fs::write(dir.join("somefile"), "").unwrap();
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let script = format!(
        "source ./script.bash\nCOMP_WORDS=({})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\ncomplete_fn=$(complete -p kneo-otel | sed -E 's/.*-F ([^ ]+).*/\\1/')\n\"$complete_fn\" kneo-otel '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        quoted.join(" "),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let binary = assert_cmd::cargo::cargo_bin!("kneo-otel");
    let path = std::env::join_paths(
        std::iter::once(binary.parent().unwrap().to_path_buf()).chain(std::env::split_paths(
            &std::env::var_os("PATH").unwrap_or_default(),
        )),
    )
    .unwrap();
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script.replace(
            "source ./script.bash",
            &format!("source {}", tmp.path().join("script.bash").display()),
        ))
        .current_dir(dir)
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(str::to_string).collect()
}

// 9 (issue 22). In a folder, `--set` completes that backend's keys, not every backend's.
#[test]
fn set_completion_offers_the_folders_backend_keys() {
    let tmp = tempfile::tempdir().unwrap();
    init(&tmp.path().join("observability"), "jaeger", &[]);
    init(&tmp.path().join("grafana-stack"), "tempo", &[]);
    let keys = bash_completes_in(tmp.path(), &["kneo-otel", "init", "--set", "ports."]);
    assert!(keys.contains(&"ports.ui=".to_string()), "{keys:?}");
    assert!(!keys.contains(&"ports.grafana=".to_string()), "{keys:?}");
    let keys = bash_completes_in(
        tmp.path(),
        &[
            "kneo-otel",
            "init",
            "--dir",
            "grafana-stack",
            "--set",
            "ports.",
        ],
    );
    assert!(keys.contains(&"ports.grafana=".to_string()), "{keys:?}");
    assert!(!keys.contains(&"ports.ui=".to_string()), "{keys:?}");
}

// 4. Completion offers the backend ids (and --set keys), not file names.
#[test]
fn completion_offers_backend_ids_and_set_keys() {
    assert_eq!(
        bash_completes(&["kneo-otel", "init", "--backend", ""]),
        BACKENDS.iter().map(|b| b.to_string()).collect::<Vec<_>>()
    );
    assert_eq!(
        bash_completes(&["kneo-otel", "init", "-b", "j"]),
        vec!["jaeger"]
    );
    let keys = bash_completes(&["kneo-otel", "init", "--set", "ports."]);
    for key in ["ports.ui=", "ports.grafana=", "ports.otlp_http="] {
        assert!(
            keys.contains(&key.to_string()),
            "{key} not offered: {keys:?}"
        );
    }
    assert!(keys.iter().all(|k| k.starts_with("ports.")), "{keys:?}");
    let out = kneo().args(["completions", "zsh"]).output().unwrap();
    let zsh = stdout(&out);
    let backend = zsh.lines().find(|l| l.starts_with("'--backend=")).unwrap();
    assert!(
        backend.contains(&format!(":BACKEND:({})'", BACKENDS.join(" "))),
        "{backend}"
    );
    assert!(zsh.contains("ports.otlp_grpc="), "zsh: no --set keys");
    let out = kneo().args(["completions", "fish"]).output().unwrap();
    let fish = stdout(&out);
    let backend = &fish[fish.find("-l backend").unwrap()..];
    let backend = &backend[..backend.find("complete -c").unwrap()];
    for id in BACKENDS {
        assert!(
            backend.contains(&format!("{id}\\t")),
            "fish: {id} not in {backend}"
        );
    }
    assert!(fish.contains("ports.otlp_grpc="), "fish: no --set keys");
    // Still any value: the key is checked against the chosen backend, not the list.
    let out = kneo()
        .args([
            "init",
            "--backend",
            "jaeger",
            "--dry-run",
            "--set",
            "ports.ui=16687",
            "--dir",
        ])
        .arg(tempfile::tempdir().unwrap().path().join("x"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

// 12. The backends table fits 80 columns and has the memory the README table has.
#[test]
fn backends_table_fits_80_columns_and_shows_memory() {
    let out = kneo().arg("backends").output().unwrap();
    let table = stdout(&out);
    for line in table.lines() {
        assert!(
            line.chars().count() <= 80,
            "{} columns: {line}",
            line.chars().count()
        );
    }
    let header = table.lines().next().unwrap();
    assert!(
        header.contains("MEMORY") && header.contains("SIGNALS"),
        "{table}"
    );
    // Columns line up: every row's memory starts where the header's MEMORY does.
    let column = header.find("MEMORY").unwrap();
    for row in table
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .skip(1)
    {
        if row.starts_with("services") {
            continue;
        }
        assert_eq!(row.as_bytes()[column - 1], b' ', "{row}");
        assert_ne!(row.as_bytes()[column], b' ', "misaligned: {row}\n{table}");
    }
    assert!(table.contains("traces, metrics, logs"), "{table}");
    let out = kneo()
        .args(["backends", "--format", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for backend in json["backends"].as_array().unwrap() {
        let id = backend["id"].as_str().unwrap();
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("{id} ")))
            .unwrap_or_else(|| panic!("no row for {id}"));
        assert!(
            row.contains(backend["footprint"].as_str().unwrap()),
            "{row}"
        );
        for url in backend["ui"].as_array().unwrap() {
            assert!(table.contains(url.as_str().unwrap()), "{url} missing");
        }
    }
}
