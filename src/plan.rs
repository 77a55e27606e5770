//! The plan step: what `init` would do to each file, from a three-way comparison of the disk,
//! the manifest's recorded hash and the fresh render. No git needed, nothing written here.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::catalog::{Catalog, FileKind};
use crate::manifest::{FileRecord, Manifest, Ownership, SCHEMA_VERSION, sha256_hex};
use crate::options::Options;
use crate::paths::{Folder, Reach};
use crate::render::{Render, RenderedFile};

/// What happens to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Unchanged,
    Update,
    /// The user edited it, or it was there before and kneo-otel does not own it.
    Conflict,
    /// A file of an earlier render that is no longer rendered and was not edited.
    Remove,
    /// A seed file that already exists: never rewritten.
    SkipSeed,
    /// A file handed to the user with `eject`.
    SkipEjected,
    /// No longer rendered but edited by the user: left alone and forgotten.
    KeepEdited,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Unchanged => "unchanged",
            Action::Update => "update",
            Action::Conflict => "conflict",
            Action::Remove => "remove",
            Action::SkipSeed => "skip (seed)",
            Action::SkipEjected => "skip (ejected)",
            Action::KeepEdited => "keep (edited, no longer managed)",
        }
    }

    /// Whether the action changes the disk.
    pub fn writes(self) -> bool {
        matches!(self, Action::Create | Action::Update | Action::Remove)
    }
}

/// The plan for one path.
#[derive(Debug, Clone)]
pub struct FilePlan {
    pub path: String,
    /// How far above the folder it may land.
    pub reach: Reach,
    pub action: Action,
    pub kind: Ownership,
    /// What is on disk now, if anything (text files only).
    pub current: Option<String>,
    /// What the render wants there.
    pub wanted: Option<String>,
    pub mode: Option<u32>,
    /// Why a conflict is one.
    pub reason: Option<&'static str>,
}

/// Everything `init` would do to a folder.
#[derive(Debug)]
pub struct Plan {
    /// The folder as the user named it, for messages.
    pub dir: PathBuf,
    pub folder: Folder,
    pub files: Vec<FilePlan>,
    /// The manifest to write after the files.
    pub manifest: Manifest,
    /// Why the plan must not be written: a seed group partly on disk (see
    /// [`partial_group`]). Refused with the conflicts, after an interrupted run is finished.
    pub partial_group: Option<String>,
}

impl Plan {
    pub fn conflicts(&self) -> impl Iterator<Item = &FilePlan> {
        self.files.iter().filter(|f| f.action == Action::Conflict)
    }
}

const EDITED: &str = "edited since kneo-otel wrote it";
const UNOWNED: &str = "exists and was not written by kneo-otel";

/// Compares a render with the folder and its previous manifest.
pub fn plan(
    catalog: &Catalog,
    folder: &Folder,
    render: &Render,
    options: &Options,
    previous: Option<&Manifest>,
    force: bool,
) -> Result<Plan> {
    let mut files = Vec::new();
    let mut records = Vec::new();
    for file in &render.files {
        let (file_plan, record) = plan_file(folder, file, previous, force)?;
        files.push(file_plan);
        records.extend(record);
    }
    let partial_group = partial_group(render, &files);
    for record in previous.map(|m| m.files.as_slice()).unwrap_or_default() {
        if render.file(&record.path).is_some() {
            continue;
        }
        let reach = previous.map_or(Reach::Folder, |m| m.reach(catalog, &record.path));
        let current = read_existing(folder, &record.path, reach)?;
        // Ejected files are the user's; seed files (secrets) are never deleted by a
        // re-render: both stay recorded, so switching back finds them again.
        if record.kind == Ownership::Ejected || record.kind == Ownership::Seed {
            records.push(record.clone());
            continue;
        }
        let Some(current) = current else {
            continue;
        };
        let action = if sha256_hex(current.as_bytes()) == record.sha256 {
            Action::Remove
        } else {
            Action::KeepEdited
        };
        files.push(FilePlan {
            path: record.path.clone(),
            reach,
            action,
            kind: record.kind,
            current: Some(current),
            wanted: None,
            mode: None,
            reason: None,
        });
    }
    records.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Plan {
        dir: folder.shown().to_path_buf(),
        folder: folder.clone(),
        files,
        manifest: Manifest {
            schema_version: SCHEMA_VERSION,
            options: options.clone(),
            files: records,
            snippets: previous.map(|m| m.snippets.clone()).unwrap_or_default(),
        },
        partial_group,
    })
}

/// Seed files of one group are made together (a certificate, its key, the CA that signed it):
/// one on disk and another missing would write the missing one from a fresh, unmatched set.
pub fn partial_group(render: &Render, files: &[FilePlan]) -> Option<String> {
    let mut groups: std::collections::BTreeMap<&str, (Vec<&str>, Vec<&str>)> = Default::default();
    for file in &render.files {
        let Some(group) = file.group.as_deref() else {
            continue;
        };
        let Some(planned) = files.iter().find(|f| f.path == file.path) else {
            continue;
        };
        let entry = groups.entry(group).or_default();
        if planned.action == Action::Create {
            entry.1.push(&file.path);
        } else {
            entry.0.push(&file.path);
        }
    }
    for (present, missing) in groups.values() {
        if !present.is_empty() && !missing.is_empty() {
            let folder = missing[0].rsplit_once('/').map_or(".", |(dir, _)| dir);
            return Some(format!(
                "{} is missing but {} is there: they are made together; delete {folder}/ and re-run to make a new set (apps then need the new {folder}/ca.crt and token)",
                missing.join(", "),
                present.join(", ")
            ));
        }
    }
    None
}

/// The plan for one rendered file, and the record the manifest keeps for it (none for a
/// conflict).
pub fn plan_file(
    folder: &Folder,
    file: &RenderedFile,
    previous: Option<&Manifest>,
    force: bool,
) -> Result<(FilePlan, Option<FileRecord>)> {
    let current = read_existing(folder, &file.path, file.reach)?;
    let record = previous.and_then(|m| m.record(&file.path));
    let wanted_hash = sha256_hex(file.content.as_bytes());
    let current_hash = current.as_deref().map(|c| sha256_hex(c.as_bytes()));
    let owned_unchanged = record.is_some() && record.map(|r| &r.sha256) == current_hash.as_ref();
    let kind = match (record.map(|r| r.kind), file.kind) {
        (Some(Ownership::Ejected), _) => Ownership::Ejected,
        (_, FileKind::Seed) => Ownership::Seed,
        (_, FileKind::Managed) => Ownership::Managed,
    };
    let (action, reason) = match (kind, &current) {
        (Ownership::Ejected, _) => (Action::SkipEjected, None),
        (_, None) => (Action::Create, None),
        (Ownership::Seed, Some(_)) if record.is_some() => (Action::SkipSeed, None),
        (Ownership::Seed, Some(_)) => (Action::Conflict, Some(UNOWNED)),
        (_, Some(_)) if current_hash.as_ref() == Some(&wanted_hash) => (Action::Unchanged, None),
        (_, Some(_)) if owned_unchanged => (Action::Update, None),
        (_, Some(_)) if force => (Action::Update, None),
        (_, Some(_)) if record.is_some() => (Action::Conflict, Some(EDITED)),
        (_, Some(_)) => (Action::Conflict, Some(UNOWNED)),
    };
    let recorded_hash = match action {
        Action::SkipSeed | Action::SkipEjected => record.map(|r| r.sha256.clone()),
        Action::Conflict => None,
        _ => Some(wanted_hash),
    };
    let new_record = recorded_hash.map(|sha256| FileRecord {
        path: file.path.clone(),
        kind,
        sha256,
    });
    let file_plan = FilePlan {
        path: file.path.clone(),
        reach: file.reach,
        action,
        kind,
        current,
        wanted: Some(file.content.clone()),
        mode: file.mode,
        reason,
    };
    Ok((file_plan, new_record))
}

/// The text of `path` in `folder` if it exists, through the one path rule
/// ([`Folder::resolve`]: inside the folder or its repository, no symlink on the way). Refuses
/// anything that is not a regular file.
pub fn read_existing(folder: &Folder, path: &str, reach: Reach) -> Result<Option<String>> {
    let full = folder.resolve(path, reach)?;
    match std::fs::symlink_metadata(&full) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", full.display())),
        Ok(meta) if !meta.is_file() => {
            bail!(
                "{} is not a regular file; move it away and re-run",
                full.display()
            )
        }
        Ok(_) => {}
    }
    let text = std::fs::read(&full).with_context(|| format!("cannot read {}", full.display()))?;
    Ok(Some(String::from_utf8_lossy(&text).into_owned()))
}
