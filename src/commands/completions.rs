//! `kneo-otel completions <shell>`: a completion script generated from the clap definition.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // Into a buffer first: clap_complete panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name.clone(), &mut script);
    if args.shell == clap_complete::Shell::Bash {
        script = fix_bash_dispatch(&script, &name);
    }
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// clap_complete's bash script spells the state of a hyphenated binary's subcommands two ways
/// (`kneo__otel__subcmd__init` in its dispatch loop, `kneo__subcmd__otel__subcmd__init` in the
/// case arms; clap-rs/clap#6421), so nothing after a subcommand ever completed. The arms are
/// respelled the way the loop builds the state; a fixed clap_complete leaves nothing to replace.
fn fix_bash_dispatch(script: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = format!("{}__subcmd__", name.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", name.replace('-', "__"));
    text.replace(&wrong, &right).into_bytes()
}
