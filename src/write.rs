//! The write step, crash-consistent: every new file is first written to a temp file in the
//! folder's state folder `.kneo-otel/` (git-ignored by its own `.gitignore`), then a journal
//! naming every rename and removal is committed with one rename, then the renames and
//! removals run, the manifest last. A run killed or failing after the journal's commit is
//! finished by the next run ([`recover`], called under the folder lock); one killed before
//! it changed nothing and leaves only temp files, which the next run deletes.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::manifest::{MANIFEST_FILE, sha256_hex};
use crate::paths::{Folder, Reach};
use crate::plan::{Action, Plan};

pub use crate::paths::STATE_DIR;
/// The committed journal inside [`STATE_DIR`].
pub const JOURNAL: &str = "journal";
/// Temp files inside [`STATE_DIR`] start with this.
const TEMP_PREFIX: &str = "tmp-";
/// The largest journal read back.
const MAX_JOURNAL_BYTES: u64 = 1 << 20;

/// What a write changed.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: usize,
    pub unchanged: usize,
}

/// One change to the disk.
#[derive(Debug, Clone)]
pub struct Change {
    /// Relative to the folder, `/`-separated.
    pub path: String,
    pub reach: Reach,
    pub op: Op,
}

#[derive(Debug, Clone)]
pub enum Op {
    Write {
        bytes: Vec<u8>,
        mode: Option<u32>,
    },
    /// Removes the file if it still has this sha256.
    Remove {
        sha256: String,
    },
}

/// The committed intent: every rename and removal, in order.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    /// A file no one but its owner may read (`secrets/token`): its folder is made 0700.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    private: bool,
    path: String,
    reach: Reach,
    /// The temp file (in the state folder) renamed onto `path`; none for a removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    temp: Option<String>,
    /// The content's sha256 (a write) or the sha256 the file must still have (a removal).
    sha256: String,
}

/// Writes the plan's files and manifest. Callers must hold the folder lock and have refused
/// conflicts already.
pub fn apply(plan: &Plan) -> Result<Written> {
    let manifest_text = plan.manifest.to_text()?;
    let manifest_same = plan
        .folder
        .read(MANIFEST_FILE, Reach::Folder)
        .ok()
        .flatten()
        .is_some_and(|t| t == manifest_text.as_bytes());
    let mut written = Written::default();
    let mut changes = Vec::new();
    for file in &plan.files {
        match file.action {
            Action::Create | Action::Update => {
                let content = file.wanted.as_deref().unwrap_or_default();
                changes.push(Change {
                    path: file.path.clone(),
                    reach: file.reach,
                    op: Op::Write {
                        bytes: content.as_bytes().to_vec(),
                        mode: file.mode,
                    },
                });
                written.changed += 1;
            }
            Action::Remove => {
                let current = file.current.as_deref().unwrap_or_default();
                changes.push(Change {
                    path: file.path.clone(),
                    reach: file.reach,
                    op: Op::Remove {
                        sha256: sha256_hex(current.as_bytes()),
                    },
                });
                written.changed += 1;
            }
            _ => written.unchanged += 1,
        }
    }
    if !manifest_same {
        changes.push(Change {
            path: MANIFEST_FILE.to_string(),
            reach: Reach::Folder,
            op: Op::Write {
                bytes: manifest_text.into_bytes(),
                mode: None,
            },
        });
    }
    commit(&plan.folder, &changes)?;
    Ok(written)
}

/// Applies `changes` (see the module documentation). Every path is resolved (and refused)
/// before anything is written. The files inside the folder are all-or-nothing through the
/// journal; those the repository holds outside it (a CI workflow, a snippet module) are each
/// written atomically first and removed last, never through the journal, which names only
/// paths inside the folder.
pub fn commit(folder: &Folder, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut inside = Vec::new();
    let mut outside = Vec::new();
    for change in changes {
        let full = folder.resolve(&change.path, change.reach)?;
        if full.starts_with(folder.root()) {
            inside.push(change);
        } else {
            outside.push((change, full));
        }
    }
    for (change, full) in &outside {
        if let Op::Write { bytes, mode } = &change.op {
            write_beside(folder, full, bytes, *mode)?;
        }
    }
    if !inside.is_empty() {
        let state = state_dir(folder)?;
        let mut entries = Vec::new();
        let result = (|| -> Result<()> {
            for (n, change) in inside.iter().enumerate() {
                match &change.op {
                    Op::Write { bytes, mode } => {
                        let temp = format!("{TEMP_PREFIX}{n}");
                        folder.write_new(&state.join(&temp), bytes, *mode)?;
                        entries.push(Entry {
                            private: mode.is_some_and(|m| m & 0o077 == 0),
                            path: change.path.clone(),
                            reach: Reach::Folder,
                            temp: Some(temp),
                            sha256: sha256_hex(bytes),
                        });
                    }
                    Op::Remove { sha256 } => entries.push(Entry {
                        private: false,
                        path: change.path.clone(),
                        reach: Reach::Folder,
                        temp: None,
                        sha256: sha256.clone(),
                    }),
                }
            }
            let text = serde_json::to_vec_pretty(&Journal { entries })?;
            let pending = state.join(format!("{TEMP_PREFIX}{JOURNAL}"));
            folder.write_new(&pending, &text, Some(0o600))?;
            // The commit point: from here on the next run finishes what this one started.
            folder.rename(&pending, &state.join(JOURNAL))?;
            folder.sync_dir(&state);
            Ok(())
        })();
        if let Err(error) = result {
            clean_temps(folder, &state);
            return Err(error);
        }
        replay(folder, &state)?;
    }
    for (change, full) in &outside {
        if let Op::Remove { sha256 } = &change.op {
            remove_if_still(folder, full, sha256)?;
        }
    }
    Ok(())
}

/// Finishes a run that was interrupted after its journal was committed, and deletes temp
/// files of one interrupted before. Returns how many files it finished. Call under the lock.
pub fn recover(folder: &Folder) -> Result<usize> {
    let state = folder.state("")?;
    if !folder.kind_at(&state)?.is_some_and(|k| k.is_dir()) {
        return Ok(0);
    }
    let journal = state.join(JOURNAL);
    let finished = if folder.kind_at(&journal)?.is_some() {
        let count = read_journal(folder, &journal)?.entries.len();
        replay(folder, &state)?;
        count
    } else {
        0
    };
    clean_temps(folder, &state);
    for (_, path) in old_temps(folder) {
        let _ = folder.remove(&path);
    }
    Ok(finished)
}

/// What an interrupted run left in the folder (journal, temp files, and the
/// `.<name>.kneo-otel-<pid>.tmp` files of kneo-otel versions before the journal), for `check`.
pub fn leftovers(folder: &Folder) -> Result<Vec<String>> {
    let state = folder.state("")?;
    let mut found = Vec::new();
    for name in folder.files_in(&state) {
        if name == JOURNAL || name.starts_with(TEMP_PREFIX) {
            found.push(format!("{STATE_DIR}/{name}"));
        }
    }
    found.extend(old_temps(folder).into_iter().map(|(rel, _)| rel));
    found.sort();
    Ok(found)
}

/// Temp files of earlier kneo-otel versions (which wrote them next to each file) in the
/// folders that hold recorded files — never a walk of the whole folder, which may be a
/// repository root.
fn old_temps(folder: &Folder) -> Vec<(String, PathBuf)> {
    let mut dirs = std::collections::BTreeSet::from([String::new()]);
    if let Ok(Some(manifest)) = crate::manifest::Manifest::load(folder) {
        for record in &manifest.files {
            let mut parent = record.path.as_str();
            while let Some((up, _)) = parent.rsplit_once('/') {
                dirs.insert(up.to_string());
                parent = up;
            }
        }
    }
    let mut found = Vec::new();
    for dir in dirs {
        let at = if dir.is_empty() {
            folder.root().to_path_buf()
        } else {
            match folder.resolve(&dir, Reach::Folder) {
                Ok(at) => at,
                Err(_) => continue,
            }
        };
        for name in folder.files_in(&at) {
            if name.starts_with('.') && name.contains(".kneo-otel-") && name.ends_with(".tmp") {
                let rel = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                found.push((rel, at.join(name)));
            }
        }
    }
    found
}

/// Refuses a journal this run must not follow, before anything is renamed or removed: one
/// that git tracks (it came with a clone or a pull request, not from an interrupted run
/// here), one naming a path outside the folder, a temp name that is not kneo-otel's, or a
/// temp file whose content is not the one its entry records.
fn refuse_foreign_journal(folder: &Folder, state: &Path, journal: &Journal) -> Result<()> {
    let journal_file = state.join(JOURNAL);
    let delete = || {
        format!(
            "delete {} and re-run (a journal is kneo-otel's local state, never a file from git)",
            folder.shown().join(STATE_DIR).join(JOURNAL).display()
        )
    };
    let tracked = crate::git::tracked(folder.root(), &[&format!("{STATE_DIR}/{JOURNAL}")]);
    if !tracked.is_empty() {
        bail!(
            "{} is tracked by git: kneo-otel never follows a journal that came with a clone or a pull request; `git rm --cached` it, then {}",
            journal_file.display(),
            delete()
        );
    }
    for entry in &journal.entries {
        if entry.reach != Reach::Folder || folder.resolve(&entry.path, Reach::Folder).is_err() {
            bail!(
                "{}: entry {:?} is outside the folder, which no journal of kneo-otel's names: {}",
                journal_file.display(),
                entry.path,
                delete()
            );
        }
        let Some(temp) = &entry.temp else {
            continue;
        };
        if !temp.starts_with(TEMP_PREFIX) || temp.contains(['/', '\\']) || temp == JOURNAL {
            bail!(
                "{}: temp file name {temp:?} is not kneo-otel's: {}",
                journal_file.display(),
                delete()
            );
        }
        if let Some(bytes) = folder.read_at(&state.join(temp), crate::paths::MAX_READ)?
            && sha256_hex(&bytes) != entry.sha256
        {
            bail!(
                "{}: {temp} does not hold what the entry for {:?} records: {}",
                journal_file.display(),
                entry.path,
                delete()
            );
        }
    }
    Ok(())
}

/// Runs the committed journal's renames and removals (each one idempotent), then deletes it.
fn replay(folder: &Folder, state: &Path) -> Result<()> {
    let journal_file = state.join(JOURNAL);
    let journal = read_journal(folder, &journal_file)?;
    refuse_foreign_journal(folder, state, &journal)?;
    let private = private_dirs(&journal);
    for entry in &journal.entries {
        let full = folder.resolve(&entry.path, Reach::Folder)?;
        match &entry.temp {
            Some(temp) => {
                let from = state.join(temp);
                if folder.kind_at(&from)?.is_none() {
                    // Renamed before the interruption.
                    continue;
                }
                let parent = entry.path.rsplit_once('/').map(|(dir, _)| dir);
                folder.create_parents(&full, parent.is_some_and(|p| private.contains(p)))?;
                folder.rename(&from, &full)?;
            }
            None => {
                remove_if_still(folder, &full, &entry.sha256)?;
            }
        }
    }
    folder.remove(&journal_file)?;
    folder.sync_dir(state);
    clean_temps(folder, state);
    Ok(())
}

/// The folders of a journal's private files (mode without group or other bits: `secrets/`):
/// they are made 0700.
fn private_dirs(journal: &Journal) -> std::collections::BTreeSet<String> {
    journal
        .entries
        .iter()
        .filter(|e| e.private)
        .filter_map(|e| e.path.rsplit_once('/').map(|(dir, _)| dir.to_string()))
        .collect()
}

/// Removes `full` if it is still a regular file with this sha256, then the folders that
/// emptied.
fn remove_if_still(folder: &Folder, full: &Path, sha256: &str) -> Result<()> {
    let still_ours = folder
        .read_at(full, crate::paths::MAX_READ)
        .ok()
        .flatten()
        .is_some_and(|bytes| sha256_hex(&bytes) == sha256);
    if still_ours {
        folder.remove(full)?;
        remove_empty_parents(folder, full);
    }
    Ok(())
}

/// Parses a journal's bytes (as `recover` reads them), refusing anything not of its shape.
pub fn parse_journal(bytes: &[u8]) -> Result<Journal> {
    Ok(serde_json::from_slice(bytes)?)
}

fn read_journal(folder: &Folder, path: &Path) -> Result<Journal> {
    let bytes = folder
        .read_at(path, MAX_JOURNAL_BYTES)?
        .ok_or_else(|| anyhow::anyhow!("{} vanished", path.display()))?;
    parse_journal(&bytes).with_context(|| {
        format!(
            "{} is not a kneo-otel journal: delete it and re-run",
            path.display()
        )
    })
}

/// The state folder (mode 0700), created (with its own `.gitignore`) if needed.
pub fn state_dir(folder: &Folder) -> Result<PathBuf> {
    let ignore = folder.state(".gitignore")?;
    folder.create_parents(&ignore, true)?;
    const IGNORE_ALL: &[u8] =
        b"# kneo-otel's lock, journal and temp files: never commit them.\n*\n";
    // Written again when missing or cut short (a run killed while writing it).
    if folder.read_at(&ignore, 1024).ok().flatten().as_deref() != Some(IGNORE_ALL) {
        folder
            .write_new(&ignore, IGNORE_ALL, None)
            .or_else(|e| match folder.kind_at(&ignore) {
                Ok(Some(_)) => Ok(()),
                _ => Err(e),
            })?;
    }
    Ok(ignore
        .parent()
        .expect("inside the state folder")
        .to_path_buf())
}

fn clean_temps(folder: &Folder, state: &Path) {
    for name in folder.files_in(state) {
        if name.starts_with(TEMP_PREFIX) {
            let _ = folder.remove(&state.join(name));
        }
    }
}

/// Writes `full` (resolved) through a temp file next to it and a rename.
fn write_beside(folder: &Folder, full: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    folder.create_parents(full, false)?;
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let parent = full.parent().expect("a resolved path has a parent");
    let temp = parent.join(format!(".{name}.kneo-otel-{}.tmp", std::process::id()));
    let result = folder
        .write_new(&temp, bytes, mode)
        .and_then(|()| folder.rename(&temp, full));
    if result.is_err() {
        let _ = folder.remove(&temp);
    }
    result
}

/// Writes `rel` inside `folder` through a temp file next to it and a rename; for files
/// outside a stack folder (a smoke crate or script, man pages), which keep no journal.
pub fn write_atomically(folder: &Folder, rel: &str, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let full = folder.resolve(rel, Reach::Folder)?;
    write_beside(folder, &full, bytes, mode)
}

/// Removes the folders a removal emptied, up to (never including) the folder, or for a file
/// outside it the repository root.
fn remove_empty_parents(folder: &Folder, full: &Path) {
    let base = if full.starts_with(folder.root()) {
        folder.root()
    } else {
        match folder.repository() {
            Some(repo) => repo,
            None => return,
        }
    };
    let mut current = full.to_path_buf();
    while current.pop() && current.starts_with(base) && current != base {
        if !folder.remove_empty_dir(&current) {
            break;
        }
    }
}
