//! The one rule for every path kneo-otel reads, writes or removes, whether it comes from a
//! flag, a render or the manifest: a [`Folder`] resolves it against the real (canonical)
//! folder and refuses it unless it stays inside — CI workflows and snippet modules may reach
//! up to the git repository that holds the folder ([`Reach::Repository`]) — and refuses a
//! symlink at any component between that root and the file, existing or not yet.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

/// The folder's state folder (lock, journal, temp files): kneo-otel's own, never a path from
/// a flag, a render or the manifest.
pub const STATE_DIR: &str = ".kneo-otel";

/// How far above its folder a path may land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reach {
    /// Inside the folder (every generated file, the manifest, a crate or man page folder).
    Folder,
    /// Inside the git repository that holds the folder: CI workflows and snippet modules.
    Repository,
}

/// A folder kneo-otel works in, resolved once.
#[derive(Debug, Clone)]
pub struct Folder {
    /// As the user gave it, for messages.
    shown: PathBuf,
    /// Absolute, with every existing component's symlinks resolved.
    root: PathBuf,
    /// The canonical root of the git repository holding `root`, if any.
    repository: Option<PathBuf>,
}

impl Folder {
    /// Resolves `dir` (which may not exist yet). A `dir` that is itself a symlink is refused:
    /// kneo-otel never writes through one.
    pub fn new(dir: &Path) -> Result<Folder> {
        if std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink()) {
            bail!(
                "{} is a symlink; kneo-otel never writes through symlinks (replace it with a real file or folder)",
                dir.display()
            );
        }
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        let root = canonical(&cwd.join(dir))?;
        let repository = root
            .ancestors()
            .find(|a| a.join(".git").exists())
            .map(Path::to_path_buf);
        Ok(Folder {
            shown: dir.to_path_buf(),
            root,
            repository,
        })
    }

    /// The folder as the user named it.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// The canonical folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The canonical root of the git repository holding the folder.
    pub fn repository(&self) -> Option<&Path> {
        self.repository.as_deref()
    }

    /// `rel` (`/`-separated, relative to the folder) as an absolute path, refused unless it
    /// stays inside the folder (or, with [`Reach::Repository`], inside its git repository)
    /// and no component below that root is a symlink.
    pub fn resolve(&self, rel: &str, reach: Reach) -> Result<PathBuf> {
        if rel.is_empty()
            || rel.starts_with('/')
            || rel.contains(['\\', '\0'])
            || rel.chars().any(char::is_control)
            || Path::new(rel).has_root()
        {
            bail!(
                "path {rel:?} is not relative to {}: kneo-otel never reads or writes outside its folder (fix or remove that path)",
                self.shown.display()
            );
        }
        if rel.split('/').any(|part| part.eq_ignore_ascii_case(".git")) {
            bail!(
                "path {rel:?} goes into a .git folder: kneo-otel never reads or writes git's own files (fix or remove that path)"
            );
        }
        let full = normalise(&self.root.join(rel));
        if full.starts_with(self.root.join(STATE_DIR)) {
            bail!(
                "path {rel:?} is inside {STATE_DIR}/, kneo-otel's lock and journal folder: fix or remove that path"
            );
        }
        self.checked(rel, full, reach)
    }

    /// `name` inside the state folder ([`STATE_DIR`]; the folder itself for `""`).
    pub fn state(&self, name: &str) -> Result<PathBuf> {
        let full = if name.is_empty() {
            self.root.join(STATE_DIR)
        } else {
            self.root.join(STATE_DIR).join(name)
        };
        self.checked(STATE_DIR, full, Reach::Folder)
    }

    /// `full` (normalised) checked against the folder, or with [`Reach::Repository`] its
    /// repository, and for symlinks below that root.
    fn checked(&self, rel: &str, full: PathBuf, reach: Reach) -> Result<PathBuf> {
        let base = if full.starts_with(&self.root) && full != self.root {
            &self.root
        } else {
            let outside = || {
                anyhow!(
                    "path {rel:?} resolves to {}, outside {}: kneo-otel never reads or writes outside its folder (fix or remove that path)",
                    full.display(),
                    self.root.display()
                )
            };
            match (reach, &self.repository) {
                (Reach::Folder, _) => return Err(outside()),
                (Reach::Repository, None) => bail!(
                    "path {rel:?} resolves to {}, outside {}, which is in no git repository: files outside the folder may only land inside the git repository that holds it",
                    full.display(),
                    self.root.display()
                ),
                (Reach::Repository, Some(repo)) if full.starts_with(repo) && full != *repo => repo,
                (Reach::Repository, Some(repo)) => bail!(
                    "path {rel:?} resolves to {}, outside the git repository {}: kneo-otel never reads or writes there (fix or remove that path)",
                    full.display(),
                    repo.display()
                ),
            }
        };
        refuse_symlinks_below(base, &full)?;
        Ok(full)
    }

    /// Creates the folder itself (and missing parents), refusing symlinks on the way.
    pub fn create(&self) -> Result<()> {
        let existing = self
            .root
            .ancestors()
            .find(|a| a.exists())
            .unwrap_or(Path::new("/"))
            .to_path_buf();
        create_dirs_below(&existing, &self.root)
    }

    /// Creates the missing folders between the folder (or repository) root and `full`'s
    /// parent, one at a time, refusing a symlink at any of them.
    pub fn create_parents(&self, full: &Path) -> Result<()> {
        let parent = full.parent().unwrap_or(&self.root);
        let base = if full.starts_with(&self.root) {
            &self.root
        } else {
            self.repository
                .as_deref()
                .filter(|repo| full.starts_with(repo))
                .ok_or_else(|| anyhow!("{} is outside {}", full.display(), self.root.display()))?
        };
        if !base.exists() {
            self.create()?;
        }
        create_dirs_below(base, parent)
    }
}

/// Refuses a symlink (or a non-folder where a folder must be) at any component of `full`
/// below `base`; components that do not exist yet end the walk.
fn refuse_symlinks_below(base: &Path, full: &Path) -> Result<()> {
    let rest = full.strip_prefix(base).expect("full is below base");
    let mut at = base.to_path_buf();
    let count = rest.components().count();
    for (i, part) in rest.components().enumerate() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", at.display())),
            Ok(meta) if meta.file_type().is_symlink() => bail!(
                "{} is a symlink; kneo-otel never writes through symlinks (replace it with a real file or folder)",
                at.display()
            ),
            Ok(meta) if i + 1 < count && !meta.is_dir() => {
                bail!("{} is not a folder; move it away and re-run", at.display())
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// `mkdir` each missing component of `target` below `base`, never following a symlink.
fn create_dirs_below(base: &Path, target: &Path) -> Result<()> {
    let Ok(rest) = target.strip_prefix(base) else {
        bail!("{} is outside {}", target.display(), base.display());
    };
    let mut at = base.to_path_buf();
    for part in rest.components() {
        at.push(part);
        match std::fs::symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => bail!(
                "{} is a symlink; kneo-otel never writes through symlinks (replace it with a real file or folder)",
                at.display()
            ),
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => bail!("{} is not a folder; move it away and re-run", at.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", at.display())),
        }
        match std::fs::create_dir(&at) {
            Ok(()) => {}
            // Someone else made it meanwhile: check what it is.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let meta = std::fs::symlink_metadata(&at)?;
                if !meta.is_dir() {
                    bail!(
                        "{} appeared as something other than a folder; re-run",
                        at.display()
                    );
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", at.display())),
        }
    }
    Ok(())
}

/// `path` (absolute) with the symlinks of its existing components resolved, and the rest
/// (which does not exist yet) appended lexically.
pub fn canonical(path: &Path) -> Result<PathBuf> {
    let mut out = PathBuf::new();
    let mut exists = true;
    for component in path.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => out.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(part) => {
                out.push(part);
                if exists {
                    match std::fs::canonicalize(&out) {
                        Ok(real) => out = real,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => exists = false,
                        Err(e) => {
                            return Err(e)
                                .with_context(|| format!("cannot resolve {}", out.display()));
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// `a/./b/../c` → `a/c`: drops `.` and resolves `..` lexically (no symlink resolution).
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_are_resolved_lexically() {
        assert_eq!(normalise(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalise(Path::new("/a/..")), PathBuf::from("/"));
    }

    #[test]
    fn paths_stay_inside_the_folder_or_its_repository() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        let folder = Folder::new(&repo.join("obs/new")).unwrap();
        let root = folder.root().to_path_buf();
        assert_eq!(
            folder.resolve("a/../b.yml", Reach::Folder).unwrap(),
            root.join("b.yml")
        );
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "..",
            ".",
            "",
            "a/.git/config",
            ".kneo-otel/lock",
            "a/../.kneo-otel",
        ] {
            assert!(folder.resolve(bad, Reach::Folder).is_err(), "{bad}");
        }
        let ci = folder
            .resolve("../../.github/workflows/x.yml", Reach::Repository)
            .unwrap();
        assert!(ci.ends_with("repo/.github/workflows/x.yml"), "{ci:?}");
        assert!(folder.resolve("../../../x.rs", Reach::Repository).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_below_the_root_are_refused_even_before_the_file_exists() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("obs")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), tmp.path().join("obs/link")).unwrap();
        let folder = Folder::new(&tmp.path().join("obs")).unwrap();
        let error = folder.resolve("link/new/file", Reach::Folder).unwrap_err();
        assert!(error.to_string().contains("symlink"), "{error}");
    }
}
