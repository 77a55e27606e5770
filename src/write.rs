//! The write step: applies a [`Plan`] all-or-nothing — each file goes to a temp file in its
//! own folder and is renamed into place, the manifest last. Unchanged files are not touched.

use std::fs;
use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::plan::{Action, Plan, manifest_path, refuse_symlinks};

/// What a write changed.
#[derive(Debug, Default)]
pub struct Written {
    pub changed: usize,
    pub unchanged: usize,
}

/// Writes the plan's files and manifest. Callers must have refused conflicts already.
pub fn apply(plan: &Plan) -> Result<Written> {
    let manifest_text = plan.manifest.to_text()?;
    let manifest_file = manifest_path(&plan.dir);
    refuse_symlinks(&plan.dir, crate::manifest::MANIFEST_FILE)?;
    let manifest_same = fs::read_to_string(&manifest_file).is_ok_and(|t| t == manifest_text);
    let mut written = Written::default();
    for file in &plan.files {
        match file.action {
            Action::Create | Action::Update => {
                let content = file.wanted.as_deref().unwrap_or_default();
                write_atomically(&plan.dir, &file.path, content.as_bytes(), file.mode)?;
                written.changed += 1;
            }
            Action::Remove => {
                refuse_symlinks(&plan.dir, &file.path)?;
                let full = plan.dir.join(&file.path);
                fs::remove_file(&full)
                    .with_context(|| format!("cannot remove {}", full.display()))?;
                remove_empty_parents(&plan.dir, &file.path);
                written.changed += 1;
            }
            _ => written.unchanged += 1,
        }
    }
    if !manifest_same {
        write_atomically(
            &plan.dir,
            crate::manifest::MANIFEST_FILE,
            manifest_text.as_bytes(),
            None,
        )?;
    }
    Ok(written)
}

/// Writes `dir/path` through a temp file in the same folder and a rename.
pub fn write_atomically(dir: &Path, path: &str, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let full = dir.join(path);
    let parent = full.parent().unwrap_or(dir);
    // Before creating folders: create_dir_all would follow a symlinked component.
    refuse_symlinks(dir, path)?;
    fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
    let name = full
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let temp = parent.join(format!(".{name}.kneo-otel-{}.tmp", std::process::id()));
    let result = (|| -> Result<()> {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode.unwrap_or(0o644));
        }
        let mut out = options
            .open(&temp)
            .with_context(|| format!("cannot create {}", temp.display()))?;
        out.write_all(bytes)?;
        out.sync_all()?;
        #[cfg(unix)]
        if let Some(mode) = mode {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&temp, fs::Permissions::from_mode(mode))?;
        }
        fs::rename(&temp, &full).with_context(|| format!("cannot write {}", full.display()))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

fn remove_empty_parents(dir: &Path, path: &str) {
    let mut current = dir.join(path);
    while current.pop() && current != dir {
        if fs::remove_dir(&current).is_err() {
            break;
        }
    }
}
