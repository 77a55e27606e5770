//! The `kneo-otel` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    restore_default_sigpipe();
    let cli = kneo_otel::cli::Cli::parse();
    match kneo_otel::run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// `kneo-otel backends | head` must end quietly when the reader goes away, like any Unix
/// tool, instead of panicking on a broken pipe (Rust ignores SIGPIPE by default).
#[cfg(unix)]
fn restore_default_sigpipe() {
    // SAFETY: called first thing in main, before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(not(unix))]
fn restore_default_sigpipe() {}
