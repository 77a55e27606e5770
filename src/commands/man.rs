//! `kneo-otel man`: roff man pages generated from the clap definition, so they never drift
//! from `--help`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow};
use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::paths::{Folder, Reach};
use crate::write::write_atomically;

pub fn run(args: ManArgs) -> Result<ExitCode> {
    // As `generate_to` does: no `help` subcommand (it gets no page, so no page may list
    // it), and built, so every subcommand carries the version.
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    if let Some(dir) = &args.out_dir {
        // Rendered in memory, then written through the shared writer (no symlinks followed).
        let folder = Folder::new(dir)?;
        let mut command = command.disable_help_subcommand(true);
        command.build();
        let mut pages = Vec::new();
        collect_pages(command, &mut pages)?;
        for (name, _) in &pages {
            folder.resolve(name, Reach::Folder)?;
        }
        for (name, bytes) in &pages {
            write_atomically(&folder, name, bytes, None)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
        }
        crate::errln!("wrote man pages into {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let page = match &args.subcommand {
        None => command,
        Some(name) => {
            let names: Vec<String> = command
                .get_subcommands()
                .map(|c| c.get_name().to_string())
                .collect();
            let sub = command.find_subcommand(name).cloned().ok_or_else(|| {
                anyhow!("no subcommand {name:?}: use one of {}", names.join(", "))
            })?;
            // The page is named and titled like the file generate_to writes.
            let full = format!("{}-{}", command.get_name(), sub.get_name());
            sub.name(full.clone()).bin_name(full)
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page).render(&mut out)?;
    std::io::stdout().write_all(&out)?;
    Ok(ExitCode::SUCCESS)
}

/// The pages `clap_mangen::generate_to` would write (file name, roff), subcommands first.
fn collect_pages(command: clap::Command, pages: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
    for sub in command
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .cloned()
    {
        collect_pages(sub, pages)?;
    }
    let man = clap_mangen::Man::new(command);
    let mut bytes = Vec::new();
    man.render(&mut bytes)?;
    pages.push((man.get_filename(), bytes));
    Ok(())
}
