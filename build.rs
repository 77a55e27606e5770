//! Build step: checks `templates/catalog.yaml` with the catalog's own types and checks
//! (`src/catalog/model.rs`, compiled here too) and writes the result as JSON to
//! `$OUT_DIR/catalog.json`, which the binary embeds; an inconsistent catalog fails the build
//! with the message a command would have printed. Rebuilds when anything under templates/
//! changes (include_dir embeds it at compile time).

#[allow(dead_code)]
#[path = "src/catalog/model.rs"]
mod model;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    println!("cargo:rerun-if-changed=templates");
    println!("cargo:rerun-if-changed=src/catalog/model.rs");
    let text = match std::fs::read_to_string("templates/catalog.yaml") {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: read templates/catalog.yaml: {e}");
            return ExitCode::FAILURE;
        }
    };
    let catalog = match model::Catalog::from_yaml(&text) {
        Ok(catalog) => catalog,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let json = serde_json::to_string(&catalog).expect("the catalog serializes");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    if let Err(e) = std::fs::write(out.join("catalog.json"), json) {
        eprintln!("error: write {}: {e}", out.join("catalog.json").display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
