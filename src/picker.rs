//! The interactive backend picker a bare `kneo-otel init` shows in a terminal.

use std::io::IsTerminal;

use anyhow::{Result, bail};
use dialoguer::Select;
use dialoguer::theme::ColorfulTheme;

use crate::catalog::Catalog;

/// Whether a person can answer: stdin and stderr are terminals and `CI` is not set.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal()
        && std::io::stderr().is_terminal()
        && std::env::var_os("CI").is_none()
}

/// Asks for a backend; refuses at once where nobody can answer.
pub fn pick_backend(catalog: &Catalog) -> Result<String> {
    if !can_ask() {
        bail!(
            "no backend chosen and no terminal to ask in: pass --backend with one of {}",
            catalog.ids().join(", ")
        );
    }
    // Ctrl-C as a signal (outside the picker's raw mode): same exit as below.
    let _ = ctrlc::set_handler(|| interrupted());
    // One short line a backend (fits 80 columns: no wrapped fragments left on screen); the
    // details come after the choice.
    let items: Vec<String> = catalog
        .backends
        .iter()
        .map(|b| format!("{:<10} {:<33} {}", b.id, b.view, b.footprint))
        .collect();
    let start = catalog
        .backends
        .iter()
        .position(|b| b.picker_default)
        .unwrap_or(0);
    let choice = Select::with_theme(&ColorfulTheme::default())
        .with_prompt("Which tracing backend? (↑/↓, Enter; Esc cancels)")
        .items(&items)
        .default(start)
        .report(false)
        .interact_opt();
    if let Ok(Some(index)) = choice {
        let b = &catalog.backends[index];
        eprintln!("backend: {} ({}, {})", b.id, b.title, b.footprint);
    }
    match choice {
        Ok(Some(index)) => Ok(catalog.backends[index].id.clone()),
        Ok(None) => bail!("cancelled: nothing was written"),
        // In raw mode Ctrl-C arrives as an interrupted read, not a signal.
        Err(_) => interrupted(),
    }
}

/// Asks for the snippet's language, `why` saying why the repository did not tell; refuses
/// at once where nobody can answer.
pub fn pick_lang(why: &str) -> Result<crate::domain::Lang> {
    use crate::domain::Lang;
    if !can_ask() {
        bail!("{why}, and no terminal to ask in: pass --lang python|rust");
    }
    let _ = ctrlc::set_handler(|| interrupted());
    eprintln!("{why}");
    let langs = [Lang::Python, Lang::Rust];
    let choice = Select::with_theme(&ColorfulTheme::default())
        .with_prompt("Which language is the app? (↑/↓, Enter; Esc cancels)")
        .items([
            "python   OpenTelemetry SDK for Python",
            "rust     opentelemetry crates",
        ])
        .default(0)
        .report(false)
        .interact_opt();
    match choice {
        Ok(Some(index)) => {
            eprintln!(
                "language: {} (--lang {0} skips this question)",
                langs[index].name()
            );
            Ok(langs[index])
        }
        Ok(None) => bail!("cancelled: nothing was written"),
        Err(_) => interrupted(),
    }
}

/// Puts the cursor back (the picker hides it) and leaves with 130, having written nothing.
fn interrupted() -> ! {
    let _ = console::Term::stderr().show_cursor();
    crate::errln!("\ninterrupted: nothing was written");
    std::process::exit(130);
}
