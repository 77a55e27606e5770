//! `kneo-otel eject <file>`: hand one generated file to the user. The manifest marks it
//! ejected; `init` no longer writes it and `check` skips it, saying so.

use std::process::ExitCode;

use anyhow::{Result, anyhow, bail};

use crate::cli::EjectArgs;
use crate::lock::Lock;
use crate::manifest::{MANIFEST_FILE, Manifest, Ownership};
use crate::paths::{Folder, Reach};
use crate::write::{self, Change, Op};

pub fn run(args: EjectArgs) -> Result<ExitCode> {
    let dir = &args.dir;
    let folder = Folder::new(dir)?;
    let path = args.file.trim_start_matches("./").to_string();
    // Checked before the lock, so a refusal touches nothing; read again under it.
    refuse(&folder, &path)?;
    let _lock = Lock::exclusive(&folder)?;
    let mut manifest = refuse(&folder, &path)?;
    let record = manifest
        .files
        .iter_mut()
        .find(|f| f.path == path)
        .expect("refuse found it");
    if record.kind == Ownership::Ejected {
        crate::outln!("{path} is already yours");
        return Ok(ExitCode::SUCCESS);
    }
    record.kind = Ownership::Ejected;
    write::commit(
        &folder,
        &[Change {
            path: MANIFEST_FILE.to_string(),
            reach: Reach::Folder,
            op: Op::Write {
                bytes: manifest.to_text()?.into_bytes(),
                mode: None,
            },
        }],
    )?;
    crate::outln!("{path} is yours now: kneo-otel will no longer write or check it");
    Ok(ExitCode::SUCCESS)
}

/// The manifest, if it records `path` at a place the one path rule allows.
fn refuse(folder: &Folder, path: &str) -> Result<Manifest> {
    let dir = folder.shown();
    let manifest = Manifest::load(folder)?.ok_or_else(|| {
        anyhow!(
            "no kneo-otel.yaml in {}: nothing to eject; {}",
            dir.display(),
            where_to_eject(dir, path)
        )
    })?;
    if manifest.record(path).is_none() {
        let known: Vec<&str> = manifest.files.iter().map(|f| f.path.as_str()).collect();
        bail!(
            "{path} is not a file kneo-otel wrote in {}: use one of {}",
            dir.display(),
            known.join(", ")
        );
    }
    // The one path rule: a record outside the folder is refused, not handed over.
    let catalog = crate::catalog::Catalog::load()?;
    folder.resolve(path, manifest.reach(&catalog, path))?;
    Ok(manifest)
}

/// The `eject` to run instead when `dir` holds no manifest: the folder `path` names (`obs/x`),
/// or one below the current folder that is a kneo-otel folder.
fn where_to_eject(dir: &std::path::Path, path: &str) -> String {
    let is_stack = |d: &std::path::Path| d.join(MANIFEST_FILE).is_file();
    if let Some((parent, file)) = path.rsplit_once('/') {
        for candidate in [dir.join(parent), std::path::PathBuf::from(parent)] {
            if is_stack(&candidate) {
                return format!(
                    "run `kneo-otel eject {} --dir {}`",
                    crate::report::terminal_safe(file),
                    crate::report::terminal_safe(&candidate.display().to_string())
                );
            }
        }
    }
    let mut found: Vec<String> = std::fs::read_dir(".")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| is_stack(p))
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    found.sort();
    match found.first() {
        Some(stack) => format!(
            "run `kneo-otel eject {} --dir {}` (or cd there first)",
            crate::report::terminal_safe(path),
            crate::report::terminal_safe(stack)
        ),
        None => {
            "run it in the folder kneo-otel init wrote, or pass --dir <that folder>".to_string()
        }
    }
}
