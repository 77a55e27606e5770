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
    let (listing, _) = session.exp_regex("signoz[^\\n]*").unwrap();
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
            listing.contains(id) || *id == "signoz",
            "{id} not shown:\n{listing}"
        );
    }
    // Down once: the second backend in the catalog (jaeger).
    session.send("\x1b[B").unwrap();
    session.flush().unwrap();
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
