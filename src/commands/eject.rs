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
    if Manifest::load(&folder)?.is_none() {
        bail!("no kneo-otel.yaml in {}: nothing to eject", dir.display());
    }
    let _lock = Lock::exclusive(&folder)?;
    let mut manifest = Manifest::load(&folder)?
        .ok_or_else(|| anyhow!("no kneo-otel.yaml in {}: nothing to eject", dir.display()))?;
    let path = args.file.trim_start_matches("./").to_string();
    let known: Vec<String> = manifest.files.iter().map(|f| f.path.clone()).collect();
    let Some(record) = manifest.files.iter_mut().find(|f| f.path == path) else {
        bail!(
            "{path} is not a file kneo-otel wrote in {}: use one of {}",
            dir.display(),
            known.join(", ")
        );
    };
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
