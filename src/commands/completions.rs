//! `kneo-otel completions <shell>`: a completion script generated from the clap definition.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::catalog::Catalog;
use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: CompletionsArgs) -> Result<ExitCode> {
    let Some(shell) = args.shell.filter(|_| !args.set_keys) else {
        return set_keys(args.dir);
    };
    let mut command = Cli::command();
    let name = command.get_name().to_string();
    // Into a buffer first: clap_complete panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name.clone(), &mut script);
    if shell == clap_complete::Shell::Bash {
        script = fix_bash_dispatch(&script, &name);
        script = ask_for_set_keys(&script, &name);
    }
    std::io::stdout().write_all(&script)?;
    Ok(ExitCode::SUCCESS)
}

/// `kneo-otel completions --set-keys`: the `--set` keys of the folder's backend (every backend's when
/// the folder has no readable manifest), for the completion script to offer.
fn set_keys(dir: Option<std::path::PathBuf>) -> Result<ExitCode> {
    let catalog = Catalog::load()?;
    let dir = dir.unwrap_or_else(|| {
        if std::path::Path::new(crate::manifest::MANIFEST_FILE).is_file() {
            ".".into()
        } else {
            "observability".into()
        }
    });
    let backend = crate::paths::Folder::new(&dir)
        .ok()
        .and_then(|folder| crate::manifest::Manifest::load(&folder).ok().flatten())
        .and_then(|manifest| catalog.backend(&manifest.options.backend).ok().cloned());
    let keys = match &backend {
        Some(backend) => crate::set::completions(&catalog, std::iter::once(backend)),
        None => crate::set::completions(&catalog, catalog.backends.iter()),
    };
    for key in keys {
        crate::outln!("{key}");
    }
    Ok(ExitCode::SUCCESS)
}

/// In bash, `--set` asks `kneo-otel completions --set-keys` (with the line's `--dir`) for the keys of the
/// folder's backend, falling back to the script's own list of every backend's keys.
fn ask_for_set_keys(script: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script).into_owned();
    let mut out = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("--set)\n") {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        let Some(start) = after.find("COMPREPLY=($(compgen -W \"") else {
            out.push_str(after);
            return out.into_bytes();
        };
        let list_start = start + "COMPREPLY=($(compgen -W \"".len();
        let Some(list_len) = after[list_start..].find('"') else {
            out.push_str(after);
            return out.into_bytes();
        };
        let list = &after[list_start..list_start + list_len];
        let indent = " ".repeat(20);
        out.push_str(&after[..start]);
        out.push_str(&format!(
            "local __kneo_dir=() __kneo_i\n{indent}for ((__kneo_i = 1; __kneo_i < ${{#COMP_WORDS[@]}} - 1; __kneo_i++)); do\n{indent}    case \"${{COMP_WORDS[__kneo_i]}}\" in --dir|-d) __kneo_dir=(--dir \"${{COMP_WORDS[__kneo_i+1]}}\") ;; esac\n{indent}done\n{indent}COMPREPLY=($(compgen -W \"$({name} completions --set-keys \"${{__kneo_dir[@]}}\" 2>/dev/null || echo '{list}')\" -- \"${{cur}}\"))"
        ));
        rest = &after[list_start + list_len + "\" -- \"${cur}\"))".len()..];
    }
    out.push_str(rest);
    out.into_bytes()
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
