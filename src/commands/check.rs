//! `kneo-otel check`: re-render from the manifest in memory and compare with the disk.
//! Never writes; exit 0 when nothing drifted, 1 when anything did, 2 on errors.
//!
//! The folder is untrusted (a pull request may change any of it), so `check` also fails on
//! what would make `docker compose up` run something it did not compare — a file or a
//! variable the target's tool reads by itself — on a seed of the wrong shape or tracked by
//! git, and on an ejected file that opens the stack to the network; it prints no content it
//! did not render itself (a seed never, a file it does not render as a hash), and every
//! byte of the folder's that it prints passes the terminal filter.

use std::collections::BTreeMap;
use std::process::ExitCode;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::catalog::{Catalog, FileKind};
use crate::cli::{CheckArgs, Format};
use crate::lock::Lock;
use crate::manifest::{Manifest, Ownership, sha256_hex};
use crate::paths::{Folder, Reach};
use crate::plan::{read_existing, refuse_untrusted_records};
use crate::render::Render;
use crate::report::{JSON_SCHEMA_VERSION, drift_diff, terminal_safe};

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
    /// Handed to the user with `eject`: not compared (but held to the exposure rules).
    Ejected,
    /// A seed file not on disk: expected in a fresh clone (seeds are git-ignored and made by
    /// the first `init` on a machine that runs the stack). Not drift.
    SeedAbsent,
    /// A seed file of the wrong shape, tracked by git, or missing from its group.
    BadSeed,
    /// A file or variable the target's tool reads by itself that kneo-otel did not write.
    Foreign,
    /// An ejected file that breaks an exposure rule.
    Exposed,
    /// The journal or temp files of an interrupted `init`: the next `init` finishes it.
    Interrupted,
}

impl Status {
    fn drifted(self) -> bool {
        !matches!(self, Status::Ok | Status::Ejected | Status::SeedAbsent)
    }
}

#[derive(Serialize)]
struct FileStatus {
    path: String,
    kind: Ownership,
    status: Status,
    /// Why, in one line (never a seed's value).
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

impl FileStatus {
    fn new(path: &str, kind: Ownership, status: Status) -> FileStatus {
        FileStatus {
            path: path.to_string(),
            kind,
            status,
            reason: None,
            diff: None,
        }
    }

    fn because(mut self, reason: impl Into<String>) -> FileStatus {
        self.reason = Some(reason.into());
        self
    }
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

const SEED_ABSENT: &str = "seed file, git-ignored by design: the first `kneo-otel init` on a machine that runs the stack generates it";

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
    let mut render = crate::lint::render_checked(&catalog, &manifest.options)?;
    render.files.extend(crate::snippet::render_recorded(
        &catalog,
        &manifest.options,
        &manifest.snippets,
        &|record| crate::commands::snippet::recorded_stack_dir(&folder, record),
    )?);
    refuse_untrusted_records(&catalog, &folder, &manifest, &render)?;

    let mut files = rendered_files(&folder, &manifest, &render)?;
    for record in &manifest.files {
        // Read (through the path rule) even when not compared: a path outside is refused.
        let current = read_existing(
            &folder,
            &record.path,
            manifest.reach(&catalog, &record.path),
        )?;
        // Seed files a re-render no longer produces stay, recorded, never deleted.
        if render.file(&record.path).is_none()
            && current.is_some()
            && !matches!(record.kind, Ownership::Ejected | Ownership::Seed)
        {
            files.push(
                FileStatus::new(&record.path, record.kind, Status::OutdatedRender).because(
                    "no longer rendered with these options: the next `kneo-otel init` removes it",
                ),
            );
        }
    }
    files.extend(seed_problems(&folder, &render, &files));
    files.extend(ejected_exposure(&folder, &manifest, &render)?);
    files.extend(foreign_reads(&folder, &catalog, &render)?);
    for leftover in crate::write::leftovers(&folder)? {
        files.push(FileStatus::new(
            &leftover,
            Ownership::Managed,
            Status::Interrupted,
        ));
    }
    report(&args, files)
}

/// Each rendered file against the disk.
fn rendered_files(
    folder: &Folder,
    manifest: &Manifest,
    render: &Render,
) -> Result<Vec<FileStatus>> {
    let mut files = Vec::new();
    for file in &render.files {
        let record = manifest.record(&file.path);
        let kind = Ownership::of(record, file.kind);
        let current = read_existing(folder, &file.path, file.reach)?;
        let status = match (kind, &current) {
            (Ownership::Ejected, _) => Status::Ejected,
            (Ownership::Seed, None) => Status::SeedAbsent,
            (_, None) => Status::Missing,
            // Judged in seed_problems.
            (Ownership::Seed, Some(_)) => Status::Ok,
            (_, Some(text)) if *text == file.content => Status::Ok,
            (_, Some(_)) if record.is_none() => Status::Unowned,
            (_, Some(text)) if record.is_some_and(|r| r.sha256 == sha256_hex(text.as_bytes())) => {
                Status::OutdatedRender
            }
            (_, Some(_)) => Status::Edited,
        };
        let mut entry = FileStatus::new(&file.path, kind, status);
        if status == Status::SeedAbsent {
            entry = entry.because(SEED_ABSENT);
        }
        let module = manifest.snippets.iter().any(|s| s.path == file.path);
        if status.drifted() && kind == Ownership::Managed {
            match current.as_deref() {
                // A snippet record may name any file of the repository: one kneo-otel did
                // not generate is shown as a hash, never its content.
                Some(text) if module && !crate::snippet::is_generated(text) => {
                    entry = entry.because(format!(
                        "not a module kneo-otel generated (sha256 {}): contents not shown, never overwritten",
                        sha256_hex(text.as_bytes())
                    ));
                }
                current => {
                    entry.diff = Some(drift_diff(
                        &file.path,
                        current.unwrap_or_default(),
                        &file.content,
                    ));
                }
            }
        }
        files.push(entry);
    }
    Ok(files)
}

/// Seeds on disk of the wrong shape (against a fresh render of the same file), tracked by
/// git, or absent while another of their group is there. Replaces their `ok` status.
fn seed_problems(folder: &Folder, render: &Render, files: &[FileStatus]) -> Vec<FileStatus> {
    let seeds: Vec<_> = render
        .files
        .iter()
        .filter(|f| f.kind == FileKind::Seed)
        .filter(|f| {
            files
                .iter()
                .any(|s| s.path == f.path && s.kind == Ownership::Seed)
        })
        .collect();
    let present = |path: &str| {
        files
            .iter()
            .any(|s| s.path == path && s.status == Status::Ok)
    };
    let tracked = crate::git::tracked(
        folder.root(),
        &seeds
            .iter()
            .filter(|f| f.reach == Reach::Folder)
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>(),
    );
    let mut out = Vec::new();
    for seed in &seeds {
        let problem = if tracked.contains(&seed.path) {
            Some(format!(
                "is tracked by git, so its secret is known to everyone with the repository: `git rm --cached {}`, delete it, re-run `kneo-otel init`, and give apps the new one",
                seed.path
            ))
        } else if present(&seed.path) {
            read_existing(folder, &seed.path, seed.reach)
                .ok()
                .flatten()
                .and_then(|text| crate::seed_check::problem(&seed.content, &text))
                .map(|why| format!("{why}: delete it and re-run `kneo-otel init` to generate it"))
        } else {
            let partners: Vec<&str> = seed
                .group
                .iter()
                .flat_map(|group| {
                    seeds
                        .iter()
                        .filter(move |s| s.group.as_ref() == Some(group))
                        .map(|s| s.path.as_str())
                })
                .filter(|p| present(p))
                .collect();
            (!partners.is_empty()).then(|| {
                format!(
                    "is absent but {} is there: they are made together; delete them and re-run `kneo-otel init`",
                    partners.join(", ")
                )
            })
        };
        if let Some(problem) = problem {
            out.push(
                FileStatus::new(&seed.path, Ownership::Seed, Status::BadSeed).because(problem),
            );
        }
    }
    out
}

/// Ejected files as they are on disk, held to the exposure rules.
fn ejected_exposure(
    folder: &Folder,
    manifest: &Manifest,
    render: &Render,
) -> Result<Vec<FileStatus>> {
    let mut ejected = BTreeMap::new();
    for file in &render.files {
        if manifest
            .record(&file.path)
            .is_some_and(|r| r.kind == Ownership::Ejected)
            && let Some(text) = read_existing(folder, &file.path, file.reach)?
        {
            ejected.insert(file.path.clone(), text);
        }
    }
    if ejected.is_empty() {
        return Ok(Vec::new());
    }
    Ok(crate::lint::ejected_exposure(render, &ejected)
        .into_iter()
        .map(|v| {
            FileStatus::new(&v.file, Ownership::Ejected, Status::Exposed).because(format!(
                "[{}] {} (an ejected file may change anything but what the stack opens to the network)",
                v.rule, v.message
            ))
        })
        .collect())
}

/// Files and env keys the target's tool reads in the folder by itself that kneo-otel did
/// not render.
fn foreign_reads(folder: &Folder, catalog: &Catalog, render: &Render) -> Result<Vec<FileStatus>> {
    let reads = &catalog.target(render.context.target).reads;
    let mut out = Vec::new();
    for (name, why) in &reads.files {
        if render.file(name).is_none() && folder.read(name, Reach::Folder)?.is_some() {
            out.push(
                FileStatus::new(name, Ownership::Managed, Status::Foreign).because(format!(
                    "not written by kneo-otel, and {why}: delete it (keep changes in a file kneo-otel renders, with `kneo-otel eject <file>`)"
                )),
            );
        }
    }
    if let Some(env_file) = &reads.env_file
        && render.file(env_file).is_none()
        && let Some(bytes) = folder.read(env_file, Reach::Folder)?
    {
        let text = String::from_utf8_lossy(&bytes);
        let keys: Vec<&str> = text
            .lines()
            .filter_map(|line| line.trim().split_once('='))
            .map(|(key, _)| key.trim().trim_start_matches("export ").trim())
            .filter(|key| {
                reads
                    .env_prefixes
                    .iter()
                    .any(|p| key.starts_with(p.as_str()))
            })
            .collect();
        if !keys.is_empty() {
            out.push(
                FileStatus::new(env_file, Ownership::Managed, Status::Foreign).because(format!(
                    "sets {}, which change what docker compose runs here and which kneo-otel did not write: remove them from {env_file}",
                    terminal_safe(&keys.join(", "))
                )),
            );
        }
    }
    Ok(out)
}

fn report(args: &CheckArgs, mut files: Vec<FileStatus>) -> Result<ExitCode> {
    let dir = &args.dir;
    // A later verdict on a path (a seed's shape, an ejected file's exposure) replaces the
    // first one's `ok` or `ejected`.
    let judged: Vec<(String, Status)> = files
        .iter()
        .filter(|f| matches!(f.status, Status::BadSeed | Status::Exposed))
        .map(|f| (f.path.clone(), f.status))
        .collect();
    files.retain(|f| {
        !(matches!(f.status, Status::Ok | Status::Ejected | Status::SeedAbsent)
            && judged.iter().any(|(p, _)| *p == f.path))
    });
    let drifted: Vec<&FileStatus> = files.iter().filter(|f| f.status.drifted()).collect();
    let edited = drifted
        .iter()
        .any(|f| matches!(f.status, Status::Edited | Status::Unowned));
    let only_init_fixes = drifted.iter().all(|f| {
        matches!(
            f.status,
            Status::Edited
                | Status::Unowned
                | Status::Missing
                | Status::OutdatedRender
                | Status::Interrupted
        )
    });
    let fix = (!drifted.is_empty() && only_init_fixes).then(|| {
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
                let reason = file
                    .reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default();
                match file.status {
                    Status::Ok => {}
                    Status::Ejected => crate::outln!("skipped (ejected)  {}", file.path),
                    Status::SeedAbsent => crate::outln!("absent (seed)  {}{reason}", file.path),
                    status => {
                        let label = serde_json::to_value(status)?;
                        crate::outln!(
                            "{}  {}{reason}",
                            label.as_str().unwrap_or_default(),
                            file.path
                        );
                        if let Some(diff) = &file.diff {
                            crate::out!("{diff}");
                        }
                    }
                }
            }
            let matching = files.iter().filter(|f| f.status == Status::Ok).count();
            if drifted.is_empty() {
                crate::outln!(
                    "{matching} files match the render of {}",
                    dir.join(crate::manifest::MANIFEST_FILE).display()
                );
            } else {
                crate::outln!("{} of {} files drifted", drifted.len(), files.len());
                match &fix {
                    Some(fix) => {
                        let note = if edited {
                            " (--force discards your edits; `kneo-otel eject <file>` keeps them instead)"
                        } else {
                            ""
                        };
                        crate::outln!("fix: {fix}{note}");
                    }
                    None => crate::outln!("fix: as each line above says"),
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
