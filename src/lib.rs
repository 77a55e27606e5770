//! kneo-otel: renders self-hosted tracing deployments (docker compose + configs) from an
//! embedded catalog and templates, and keeps them in step with a manifest.
//!
//! Pipeline: [`options`] → [`render`] (through [`templates`] and [`context`]) → [`lint`] →
//! [`plan`] against the disk and the [`manifest`] → [`write`], or a diff for `check`.
//! [`verify`] checks a running stack from the same catalog and manifest.

/// `println!` that returns a write error (e.g. a closed pipe) to the caller instead of
/// panicking; `main` ends quietly on a broken pipe.
#[macro_export]
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?
    }};
}

/// `print!` counterpart of [`outln!`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?
    }};
}

/// `eprintln!` that never panics: a full or closed stderr loses the message, nothing else.
#[macro_export]
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod catalog;
pub mod ci;
pub mod cli;
pub mod commands;
pub mod context;
pub mod domain;
pub mod folder;
pub mod git;
pub mod lang;
pub mod lint;
pub mod lock;
pub mod manifest;
pub mod options;
pub mod paths;
pub mod picker;
pub mod plan;
pub mod process;
pub mod project;
pub mod render;
pub mod report;
pub mod secrets;
pub mod seed_check;
pub mod set;
pub mod snippet;
pub mod templates;
pub mod terminal;
pub mod upgrade;
pub mod verify;
pub mod write;
pub mod yaml;

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

/// Runs one command; `Err` means exit code 2.
pub fn run(mut cli: Cli) -> Result<ExitCode> {
    if let Some(dir) = cli.command.dir_mut() {
        folder::refuse_file_on_path(dir)?;
    }
    match cli.command {
        Command::Init(args) => commands::init::run(args),
        Command::Backends(args) => commands::backends::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Eject(args) => commands::eject::run(args),
        Command::Completions(args) => commands::completions::run(args),
        Command::Man(args) => commands::man::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Snippet(args) => commands::snippet::run(args),
    }
}
