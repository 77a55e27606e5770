//! The write step, crash-consistent: every new file is first written to a temp file in the
//! folder's state folder `.kneo-otel/` (git-ignored by its own `.gitignore`), then a journal
//! naming every rename and removal is committed with one rename, then the renames and
//! removals run, the manifest last. A run killed or failing after the journal's commit is
//! finished by the next run ([`recover`], called under the folder lock); one killed before
//! it changed nothing and leaves only temp files, which the next run deletes.

use std::fs;
use std::io::Write;
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
struct Journal {
    entries: Vec<Entry>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
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
    let manifest_full = plan.folder.resolve(MANIFEST_FILE, Reach::Folder)?;
    let manifest_same = fs::read_to_string(&manifest_full).is_ok_and(|t| t == manifest_text);
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

/// Applies `changes` all-or-nothing (see the module documentation). Every path is resolved
/// (and refused) before anything is written.
pub fn commit(folder: &Folder, changes: &[Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    for change in changes {
        folder.resolve(&change.path, change.reach)?;
    }
    let state = state_dir(folder)?;
    let mut entries = Vec::new();
    let result = (|| -> Result<()> {
        for (n, change) in changes.iter().enumerate() {
            match &change.op {
                Op::Write { bytes, mode } => {
                    let temp = format!("{TEMP_PREFIX}{n}");
                    write_new(&state.join(&temp), bytes, *mode)?;
                    entries.push(Entry {
                        path: change.path.clone(),
                        reach: change.reach,
                        temp: Some(temp),
                        sha256: sha256_hex(bytes),
                    });
                }
                Op::Remove { sha256 } => entries.push(Entry {
                    path: change.path.clone(),
                    reach: change.reach,
                    temp: None,
                    sha256: sha256.clone(),
                }),
            }
        }
        let text = serde_json::to_vec_pretty(&Journal { entries })?;
        let pending = state.join(format!("{TEMP_PREFIX}{JOURNAL}"));
        write_new(&pending, &text, None)?;
        // The commit point: from here on the next run finishes what this one started.
        fs::rename(&pending, state.join(JOURNAL))
            .with_context(|| format!("cannot write {}", state.join(JOURNAL).display()))?;
        sync_dir(&state);
        Ok(())
    })();
    if let Err(error) = result {
        clean_temps(&state);
        return Err(error);
    }
    replay(folder, &state)
}

/// Finishes a run that was interrupted after its journal was committed, and deletes temp
/// files of one interrupted before. Returns how many files it finished. Call under the lock.
pub fn recover(folder: &Folder) -> Result<usize> {
    let state = folder.state("")?;
    if !state.is_dir() {
        return Ok(0);
    }
    let journal = state.join(JOURNAL);
    let finished = if journal.exists() {
        let count = read_journal(&journal)?.entries.len();
        replay(folder, &state)?;
        count
    } else {
        0
    };
    clean_temps(&state);
    for (_, path) in old_temps(folder) {
        let _ = fs::remove_file(path);
    }
    Ok(finished)
}

/// What an interrupted run left in the folder (journal, temp files, and the
/// `.<name>.kneo-otel-<pid>.tmp` files of kneo-otel versions before the journal), for `check`.
pub fn leftovers(folder: &Folder) -> Result<Vec<String>> {
    let state = folder.state("")?;
    let mut found = Vec::new();
    if let Ok(entries) = fs::read_dir(&state) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name == JOURNAL || name.starts_with(TEMP_PREFIX) {
                found.push(format!("{STATE_DIR}/{name}"));
            }
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
        let Ok(entries) = fs::read_dir(&at) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let is_file = entry.file_type().is_ok_and(|k| k.is_file());
            if is_file
                && name.starts_with('.')
                && name.contains(".kneo-otel-")
                && name.ends_with(".tmp")
            {
                let rel = if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                };
                found.push((rel, entry.path()));
            }
        }
    }
    found
}

/// Runs the committed journal's renames and removals (each one idempotent), then deletes it.
fn replay(folder: &Folder, state: &Path) -> Result<()> {
    let journal_file = state.join(JOURNAL);
    let journal = read_journal(&journal_file)?;
    for entry in &journal.entries {
        let full = folder.resolve(&entry.path, entry.reach)?;
        match &entry.temp {
            Some(temp) => {
                if !temp.starts_with(TEMP_PREFIX) || temp.contains(['/', '\\']) {
                    bail!(
                        "{}: temp file name {temp:?} is not kneo-otel's: delete {} and re-run",
                        journal_file.display(),
                        state.display()
                    );
                }
                let from = state.join(temp);
                if !from.exists() {
                    // Renamed before the interruption.
                    continue;
                }
                folder.create_parents(&full)?;
                fs::rename(&from, &full)
                    .with_context(|| format!("cannot write {}", full.display()))?;
            }
            None => {
                let still_ours = fs::symlink_metadata(&full).is_ok_and(|m| m.is_file())
                    && fs::read(&full).is_ok_and(|bytes| sha256_hex(&bytes) == entry.sha256);
                if still_ours {
                    fs::remove_file(&full)
                        .with_context(|| format!("cannot remove {}", full.display()))?;
                    remove_empty_parents(folder, &full);
                }
            }
        }
    }
    fs::remove_file(&journal_file)
        .with_context(|| format!("cannot remove {}", journal_file.display()))?;
    sync_dir(state);
    clean_temps(state);
    Ok(())
}

fn read_journal(path: &Path) -> Result<Journal> {
    let file = fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(file, MAX_JOURNAL_BYTES),
        &mut bytes,
    )?;
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a kneo-otel journal: delete it and re-run",
            path.display()
        )
    })
}

/// The state folder, created (with its own `.gitignore`) if needed.
pub fn state_dir(folder: &Folder) -> Result<PathBuf> {
    let ignore = folder.state(".gitignore")?;
    folder.create_parents(&ignore)?;
    const IGNORE_ALL: &[u8] =
        b"# kneo-otel's lock, journal and temp files: never commit them.\n*\n";
    // Written again when missing or cut short (a run killed while writing it).
    if fs::read(&ignore).ok().as_deref() != Some(IGNORE_ALL) {
        write_new(&ignore, IGNORE_ALL, None)
            .or_else(|e| if ignore.exists() { Ok(()) } else { Err(e) })?;
    }
    Ok(ignore
        .parent()
        .expect("inside the state folder")
        .to_path_buf())
}

fn clean_temps(state: &Path) {
    if let Ok(entries) = fs::read_dir(state) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Creates `path` (which must not exist yet; a stale one is replaced) with `bytes`, synced.
fn write_new(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    if fs::symlink_metadata(path).is_ok() {
        fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))?;
    }
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode.unwrap_or(0o644));
    }
    let mut out = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    out.write_all(bytes)
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    if let Some(mode) = mode {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

fn sync_dir(dir: &Path) {
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
}

/// Writes `rel` inside `folder` through a temp file next to it and a rename; for files
/// outside a stack folder (a smoke crate or script, man pages), which keep no journal.
pub fn write_atomically(folder: &Folder, rel: &str, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let full = folder.resolve(rel, Reach::Folder)?;
    folder.create_parents(&full)?;
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let parent = full.parent().expect("a resolved path has a parent");
    let temp = parent.join(format!(".{name}.kneo-otel-{}.tmp", std::process::id()));
    let result = write_new(&temp, bytes, mode).and_then(|()| {
        fs::rename(&temp, &full).with_context(|| format!("cannot write {}", full.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
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
        if fs::remove_dir(&current).is_err() {
            break;
        }
    }
}
