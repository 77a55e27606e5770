//! `kneo-otel check`: re-render from the manifest in memory and compare with the disk.
//! Never writes; exit 0 when nothing drifted, 1 when anything did, 2 on errors.

use std::process::ExitCode;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::catalog::Catalog;
use crate::cli::{CheckArgs, Format};
use crate::lock::Lock;
use crate::manifest::{Manifest, Ownership, sha256_hex};
use crate::paths::Folder;
use crate::plan::read_existing;
use crate::render::render;
use crate::report::{JSON_SCHEMA_VERSION, drift_diff};

/// How one file compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    /// Changed on disk since kneo-otel wrote it.
    Edited,
    Missing,
    /// Untouched, but this kneo-otel (or the manifest's options) renders it differently.
    OutdatedRender,
    /// On disk where a managed file belongs, but the manifest does not own it.
    Unowned,
    /// Handed to the user with `eject`: not compared.
    Ejected,
    /// The journal or temp files of an interrupted `init`: the next `init` finishes it.
    Interrupted,
}

impl Status {
    fn drifted(self) -> bool {
        !matches!(self, Status::Ok | Status::Ejected)
    }
}

#[derive(Serialize)]
struct FileStatus {
    path: String,
    kind: Ownership,
    status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

#[derive(Serialize)]
struct CheckJson<'a> {
    schema_version: u32,
    dir: String,
    drifted: bool,
    files: &'a [FileStatus],
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<String>,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let dir = &args.dir;
    let folder = Folder::new(dir)?;
    let _lock = Lock::shared(&folder)?;
    let manifest = Manifest::load(&folder)?.ok_or_else(|| {
        anyhow!(
            "no kneo-otel.yaml in {}: run `kneo-otel init --dir {}` first",
            dir.display(),
            dir.display()
        )
    })?;
    let catalog = Catalog::load()?;
    let mut render = render(&catalog, &manifest.options)?;
    render.files.extend(crate::snippet::render_recorded(
        &catalog,
        &manifest.options,
        &manifest.snippets,
    )?);

    let mut files = Vec::new();
    for file in &render.files {
        let record = manifest.record(&file.path);
        let kind = record.map(|r| r.kind).unwrap_or(match file.kind {
            crate::catalog::FileKind::Seed => Ownership::Seed,
            crate::catalog::FileKind::Managed => Ownership::Managed,
        });
        let current = read_existing(&folder, &file.path, file.reach)?;
        let status = match (kind, &current) {
            (Ownership::Ejected, _) => Status::Ejected,
            (_, None) => Status::Missing,
            (Ownership::Seed, Some(_)) => Status::Ok,
            (_, Some(text)) if *text == file.content => Status::Ok,
            (_, Some(_)) if record.is_none() => Status::Unowned,
            (_, Some(text)) if record.is_some_and(|r| r.sha256 == sha256_hex(text.as_bytes())) => {
                Status::OutdatedRender
            }
            (_, Some(_)) => Status::Edited,
        };
        let diff = (status.drifted() && kind == Ownership::Managed).then(|| {
            drift_diff(
                &file.path,
                current.as_deref().unwrap_or_default(),
                &file.content,
            )
        });
        files.push(FileStatus {
            path: file.path.clone(),
            kind,
            status,
            diff,
        });
    }
    for record in &manifest.files {
        // Read (through the path rule) even when not compared: a path outside is refused.
        let current = read_existing(
            &folder,
            &record.path,
            manifest.reach(&catalog, &record.path),
        )?;
        // Seed files a re-render no longer produces stay, recorded, never deleted.
        if render.file(&record.path).is_none()
            && !matches!(record.kind, Ownership::Ejected | Ownership::Seed)
        {
            files.push(FileStatus {
                path: record.path.clone(),
                kind: record.kind,
                status: Status::OutdatedRender,
                diff: current.map(|c| drift_diff(&record.path, &c, "")),
            });
        }
    }
    for leftover in crate::write::leftovers(&folder)? {
        files.push(FileStatus {
            path: leftover,
            kind: Ownership::Managed,
            status: Status::Interrupted,
            diff: None,
        });
    }

    let drifted: Vec<&FileStatus> = files.iter().filter(|f| f.status.drifted()).collect();
    let edited = drifted
        .iter()
        .any(|f| matches!(f.status, Status::Edited | Status::Unowned));
    let fix = (!drifted.is_empty()).then(|| {
        let force = if edited { " --force" } else { "" };
        format!("kneo-otel init --dir {}{force}", dir.display())
    });
    match args.format {
        Format::Json => {
            let json = CheckJson {
                schema_version: JSON_SCHEMA_VERSION,
                dir: dir.display().to_string(),
                drifted: !drifted.is_empty(),
                files: &files,
                fix: fix.clone(),
            };
            crate::outln!("{}", serde_json::to_string_pretty(&json)?);
        }
        Format::Text if args.quiet => {
            for file in &drifted {
                crate::outln!("{}", file.path);
            }
        }
        Format::Text => {
            for file in &files {
                match file.status {
                    Status::Ok => {}
                    Status::Ejected => crate::outln!("skipped (ejected)  {}", file.path),
                    status => {
                        let label = serde_json::to_value(status)?;
                        crate::outln!("{}  {}", label.as_str().unwrap_or_default(), file.path);
                        if let Some(diff) = &file.diff {
                            crate::out!("{diff}");
                        }
                    }
                }
            }
            match &fix {
                None => crate::outln!(
                    "{} files match the render of {}",
                    files.iter().filter(|f| f.status == Status::Ok).count(),
                    dir.join(crate::manifest::MANIFEST_FILE).display()
                ),
                Some(fix) => {
                    crate::outln!("{} of {} files drifted", drifted.len(), files.len());
                    let note = if edited {
                        " (--force discards your edits; `kneo-otel eject <file>` keeps them instead)"
                    } else {
                        ""
                    };
                    crate::outln!("fix: {fix}{note}");
                }
            }
        }
    }
    Ok(if drifted.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
