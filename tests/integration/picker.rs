//! The interactive picker, in a real pseudo-terminal.

use crate::support::BACKENDS;

fn spawn_in(dir: &std::path::Path) -> rexpect::session::PtySession {
    let bin = assert_cmd::cargo::cargo_bin!("kneo-otel");
    let mut command = std::process::Command::new(bin);
    command
        .args(["init", "--dir"])
        .arg(dir)
        .env_remove("CI")
        .env("TERM", "xterm");
    rexpect::session::spawn_command(command, Some(10_000)).unwrap()
}

/// Waits until the whole list is drawn and the picker reads keys in raw mode.
fn wait_for_list(session: &mut rexpect::session::PtySession) -> String {
    session.exp_string("Which tracing backend?").unwrap();
    // The last backend in the catalog: the list is drawn up to it (and it is the match).
    let last = BACKENDS.last().unwrap();
    let (listing, _) = session.exp_regex(&format!("{last}[^\\n]*")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    listing
}

#[cfg(unix)]
#[test]
fn picker_lists_every_backend_and_enter_writes_the_choice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let mut session = spawn_in(&dir);
    let listing = wait_for_list(&mut session);
    for id in BACKENDS {
        assert!(
            listing.contains(id) || id == BACKENDS.last().unwrap(),
            "{id} not shown:\n{listing}"
        );
    }
    // Each row says what the backend is for.
    for hint in [
        "no UI",
        "plain trace UI",
        "Grafana dashboards",
        "metrics and logs",
    ] {
        assert!(listing.contains(hint), "{hint} not shown:\n{listing}");
    }
    // It starts on jaeger (a trace UI), not on the collector (no UI): Enter picks it.
    session.send("\r").unwrap();
    session.flush().unwrap();
    session.exp_string("docker compose up -d").unwrap();
    session.exp_eof().unwrap();
    let manifest = std::fs::read_to_string(dir.join("kneo-otel.yaml")).unwrap();
    assert!(manifest.contains("backend: jaeger"), "{manifest}");
}

#[cfg(unix)]
#[test]
fn quitting_the_picker_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let mut session = spawn_in(&dir);
    wait_for_list(&mut session);
    session.send("q").unwrap();
    session.flush().unwrap();
    session.exp_string("nothing was written").unwrap();
    session.exp_eof().unwrap();
    assert!(!dir.exists());
}

#[cfg(unix)]
#[test]
fn ctrl_c_in_the_picker_writes_nothing_and_restores_the_cursor() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("obs");
    let mut session = spawn_in(&dir);
    wait_for_list(&mut session);
    session.send_control('c').unwrap();
    // console's show_cursor writes ESC [ ? 25 h.
    session.exp_string("\x1b[?25h").unwrap();
    session.exp_eof().unwrap();
    assert!(!dir.exists());
}

/// tmux, for the picker at a fixed 80×24; with `CI` set a missing tmux fails.
fn tmux() -> Option<std::path::PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("tmux"))
        .find(|p| p.exists());
    if found.is_none() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing under CI");
        eprintln!("note: tmux not found, the 80-column picker test is skipped");
    }
    found
}

/// A picker in a detached 80×24 tmux session on its own server socket.
struct Screen {
    tmux: std::path::PathBuf,
    socket: std::path::PathBuf,
}

impl Screen {
    fn start(tmux: std::path::PathBuf, tmp: &std::path::Path, dir: &std::path::Path) -> Screen {
        let bin = assert_cmd::cargo::cargo_bin!("kneo-otel");
        let screen = Screen {
            tmux,
            socket: tmp.join("tmux.sock"),
        };
        let command = format!(
            "env -u CI -u NO_COLOR {} init --dir {}; echo EXITED; sleep 60",
            bin.display(),
            dir.display()
        );
        screen.run(&["new-session", "-d", "-x", "80", "-y", "24", &command]);
        screen.wait_for(BACKENDS.last().unwrap());
        std::thread::sleep(std::time::Duration::from_millis(300));
        screen
    }

    fn run(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(&self.tmux)
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "tmux {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn pane(&self) -> String {
        self.run(&["capture-pane", "-p", "-S", "-"])
    }

    fn wait_for(&self, needle: &str) -> String {
        let start = std::time::Instant::now();
        loop {
            let pane = self.pane();
            if pane.contains(needle) {
                return pane;
            }
            assert!(
                start.elapsed().as_secs() < 10,
                "{needle:?} never shown:\n{pane}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = std::process::Command::new(&self.tmux)
            .arg("-S")
            .arg(&self.socket)
            .arg("kill-server")
            .output();
    }
}

#[cfg(unix)]
#[test]
fn picker_fits_80_columns_and_leaves_nothing_behind() {
    let Some(tmux) = tmux() else { return };
    for (keys, after) in [
        (&["Down", "Enter"][..], "backend: tempo"),
        (&["Escape"], "cancelled"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("obs");
        let screen = Screen::start(tmux.clone(), tmp.path(), &dir);
        // One unwrapped line a backend: every line is the prompt or starts with an id.
        let pane = screen.pane();
        let lines: Vec<&str> = pane.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1 + BACKENDS.len(), "wrapped lines:\n{pane}");
        for line in &lines[1..] {
            let item = line.trim_start_matches(|c: char| !c.is_ascii_alphanumeric());
            assert!(
                BACKENDS
                    .iter()
                    .any(|id| item.starts_with(&format!("{id} "))),
                "a fragment, not an item: {line:?}\n{pane}"
            );
        }
        let title_repeated = lines.iter().any(|l| l.contains("Jaeger v2 — Jaeger v2"));
        assert!(!title_repeated, "{pane}");
        let mut args = vec!["send-keys"];
        args.extend(keys);
        screen.run(&args);
        let pane = screen.wait_for("EXITED");
        assert!(pane.contains(after), "{pane}");
        // Nothing of the list is left on screen.
        for title in [
            "prints spans to its log",
            "Grafana dashboards",
            "metrics and logs",
            "Which tracing",
        ] {
            assert!(!pane.contains(title), "{title:?} left on screen:\n{pane}");
        }
    }
}
