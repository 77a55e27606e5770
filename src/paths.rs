//! The one rule for every path kneo-otel reads, writes or removes, whether it comes from a
//! flag, a render or the manifest: a [`Folder`] resolves it against the real (canonical)
//! folder and refuses it unless it stays inside — CI workflows and snippet modules may reach
//! up to the git repository that holds the folder ([`Reach::Repository`]) — and refuses a
//! symlink at any component between that root and the file, existing or not yet. Every read,
//! write, rename and removal then goes through a `cap_std` handle on that root (`openat`
//! beneath it), so nothing — not a symlink swapped in meanwhile, nor `..` — can take it
//! outside; reads refuse hard links, non-regular files and files over a size bound, and the
//! modes of what is created are set explicitly, whatever the umask.

use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use cap_fs_ext::{FollowSymlinks, MetadataExt, OpenOptionsFollowExt};
use cap_std::fs::{Dir, OpenOptions};
use serde::{Deserialize, Serialize};

/// The folder's state folder (lock, journal, temp files): kneo-otel's own, never a path from
/// a flag, a render or the manifest.
pub const STATE_DIR: &str = ".kneo-otel";

/// The largest file kneo-otel reads from a folder: ten times its largest render (a Grafana
/// dashboard of a few dozen KiB). A larger one is not a file kneo-otel wrote.
pub const MAX_READ: u64 = 4 << 20;

/// Mode of the folders that hold private files (`secrets/`) and of the state folder.
const PRIVATE_DIR: u32 = 0o700;
/// Mode of every other folder kneo-otel creates.
const PUBLIC_DIR: u32 = 0o755;
/// Mode of a file written without one of its own.
const PUBLIC_FILE: u32 = 0o644;

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
        refuse_symlinked_parents(&cwd, dir)?;
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
        let Ok(rest) = self.root.strip_prefix(&existing) else {
            bail!("{} is outside {}", self.root.display(), existing.display());
        };
        create_dirs_below(&existing, rest, false)
    }

    /// Creates the missing folders between the folder (or repository) root and `full`'s
    /// parent, one at a time through the root's handle, refusing a symlink at any of them;
    /// each created one gets mode 0755, and with `private` the parent itself 0700 (also when
    /// it exists).
    pub fn create_parents(&self, full: &Path, private: bool) -> Result<()> {
        let in_folder = full.starts_with(&self.root);
        if in_folder && !self.root.exists() {
            self.create()?;
        }
        let base = if in_folder {
            &self.root
        } else {
            self.repository
                .as_deref()
                .filter(|repo| full.starts_with(repo))
                .ok_or_else(|| anyhow!("{} is outside {}", full.display(), self.root.display()))?
        };
        let parent = full.parent().unwrap_or(base);
        let rest = parent.strip_prefix(base).expect("full is below base");
        create_dirs_below(base, rest, private)
    }
}

/// Sets a folder's mode exactly (the umask applied at `mkdir` is not what we asked for).
#[cfg(unix)]
fn set_dir_mode(dir: &Dir, at: &Path, mode: u32, shown: &str) -> Result<()> {
    use cap_std::fs::PermissionsExt as _;
    dir.set_permissions(at, cap_std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the mode of {shown}"))
}

#[cfg(not(unix))]
fn set_dir_mode(_: &Dir, _: &Path, _: u32, _: &str) -> Result<()> {
    Ok(())
}

impl Folder {
    /// The handle a checked absolute path is reached through — the folder's, or for a path
    /// outside it its repository's — and the path relative to it; `None` when that root does
    /// not exist yet.
    fn handle(&self, full: &Path) -> Result<Option<(Dir, PathBuf)>> {
        let base = if full.starts_with(&self.root) && full != self.root {
            &self.root
        } else {
            self.repository
                .as_deref()
                .filter(|repo| full.starts_with(repo) && full != *repo)
                .ok_or_else(|| anyhow!("{} is outside {}", full.display(), self.root.display()))?
        };
        let rel = full
            .strip_prefix(base)
            .expect("full is below base")
            .to_path_buf();
        match Dir::open_ambient_dir(base, cap_std::ambient_authority()) {
            Ok(dir) => Ok(Some((dir, rel))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot open {}", base.display())),
        }
    }

    /// The bytes of `rel` (through [`Folder::resolve`]), `None` when it does not exist. Refused:
    /// a symlink, anything but a regular file, a file with more than one hard link (its other
    /// name may be outside), and one larger than [`MAX_READ`].
    pub fn read(&self, rel: &str, reach: Reach) -> Result<Option<Vec<u8>>> {
        let full = self.resolve(rel, reach)?;
        self.read_at(&full, MAX_READ)
    }

    /// Like [`Folder::read`], for a path already resolved, with its own size bound.
    pub fn read_at(&self, full: &Path, max: u64) -> Result<Option<Vec<u8>>> {
        let Some((dir, rel)) = self.handle(full)? else {
            return Ok(None);
        };
        let mut options = OpenOptions::new();
        options.read(true).follow(FollowSymlinks::No);
        // A FIFO or device opens without waiting for a writer; it is refused below.
        #[cfg(unix)]
        cap_std::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
        let file = match dir.open_with(&rel, &options) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e)
                if dir
                    .symlink_metadata(&rel)
                    .is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                return Err(e).with_context(|| {
                    format!(
                        "{} is a symlink; kneo-otel never reads through symlinks (replace it with a real file)",
                        full.display()
                    )
                });
            }
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", full.display())),
        };
        let meta = file
            .metadata()
            .with_context(|| format!("cannot inspect {}", full.display()))?;
        if !meta.is_file() {
            bail!(
                "{} is not a regular file; move it away and re-run",
                full.display()
            );
        }
        if meta.nlink() > 1 {
            bail!(
                "{} has {} hard links; kneo-otel never reads a file that may also live outside its folder (replace it with a copy: `cp --remove-destination`)",
                full.display(),
                meta.nlink()
            );
        }
        if meta.len() > max {
            bail!(
                "{} is {} bytes, larger than any file kneo-otel writes ({max}): restore it from git or delete it",
                full.display(),
                meta.len()
            );
        }
        let mut bytes = Vec::new();
        file.into_std()
            .take(max + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", full.display()))?;
        if bytes.len() as u64 > max {
            bail!("{} grew past {max} bytes while read", full.display());
        }
        Ok(Some(bytes))
    }

    /// The lock file `full` (resolved) opened for locking — created with `create` — never
    /// through a symlink and never a FIFO or device (which would block); `None` when it is
    /// missing and not created.
    pub fn open_lock(&self, full: &Path, create: bool) -> Result<Option<std::fs::File>> {
        let Some((dir, rel)) = self.handle(full)? else {
            return Ok(None);
        };
        let mut options = OpenOptions::new();
        options
            .read(true)
            .write(create)
            .create(create)
            .follow(FollowSymlinks::No);
        #[cfg(unix)]
        {
            cap_std::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
            cap_std::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        let file = match dir.open_with(&rel, &options) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(None),
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot open the lock file {} (a symlink there is refused)",
                        full.display()
                    )
                });
            }
        };
        let meta = file
            .metadata()
            .with_context(|| format!("cannot inspect {}", full.display()))?;
        if !meta.is_file() {
            bail!(
                "{} is not a regular file; delete it and re-run (kneo-otel makes its own lock file)",
                full.display()
            );
        }
        Ok(Some(file.into_std()))
    }

    /// Creates `full` (a resolved path; a stale one is replaced) with `bytes` and exactly
    /// `mode` (default 0644), synced.
    pub fn write_new(&self, full: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
        let (dir, rel) = self
            .handle(full)?
            .ok_or_else(|| anyhow!("cannot create {}: its folder is missing", full.display()))?;
        if dir.symlink_metadata(&rel).is_ok() {
            dir.remove_file(&rel)
                .with_context(|| format!("cannot remove {}", full.display()))?;
        }
        let mode = mode.unwrap_or(PUBLIC_FILE);
        let mut options = OpenOptions::new();
        options
            .write(true)
            .create_new(true)
            .follow(FollowSymlinks::No);
        #[cfg(unix)]
        cap_std::fs::OpenOptionsExt::mode(&mut options, mode);
        let mut out = dir
            .open_with(&rel, &options)
            .with_context(|| format!("cannot create {}", full.display()))?;
        out.write_all(bytes)
            .and_then(|()| out.sync_all())
            .with_context(|| format!("cannot write {}", full.display()))?;
        // Explicitly: the mode asked for at creation went through the umask.
        #[cfg(unix)]
        {
            use cap_std::fs::PermissionsExt as _;
            out.set_permissions(cap_std::fs::Permissions::from_mode(mode))
                .with_context(|| format!("cannot set the mode of {}", full.display()))?;
        }
        Ok(())
    }

    /// Renames `from` onto `to` (both resolved, under the same root).
    pub fn rename(&self, from: &Path, to: &Path) -> Result<()> {
        let (from_dir, from_rel) = self
            .handle(from)?
            .ok_or_else(|| anyhow!("{} is missing", from.display()))?;
        let (to_dir, to_rel) = self
            .handle(to)?
            .ok_or_else(|| anyhow!("the folder of {} is missing", to.display()))?;
        from_dir
            .rename(&from_rel, &to_dir, &to_rel)
            .with_context(|| format!("cannot write {}", to.display()))
    }

    /// Removes the file `full` (resolved); never a folder.
    pub fn remove(&self, full: &Path) -> Result<()> {
        let (dir, rel) = self
            .handle(full)?
            .ok_or_else(|| anyhow!("{} is missing", full.display()))?;
        dir.remove_file(&rel)
            .with_context(|| format!("cannot remove {}", full.display()))
    }

    /// Removes the folder `full` if it is empty; whether it did.
    pub fn remove_empty_dir(&self, full: &Path) -> bool {
        matches!(self.handle(full), Ok(Some((dir, rel))) if dir.remove_dir(&rel).is_ok())
    }

    /// What `full` (resolved) is, without following a symlink: `None` when it is missing.
    pub fn kind_at(&self, full: &Path) -> Result<Option<cap_std::fs::FileType>> {
        let Some((dir, rel)) = self.handle(full)? else {
            return Ok(None);
        };
        match dir.symlink_metadata(&rel) {
            Ok(meta) => Ok(Some(meta.file_type())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot inspect {}", full.display())),
        }
    }

    /// The names of the regular files in the folder `full` (resolved); none when it is missing.
    pub fn files_in(&self, full: &Path) -> Vec<String> {
        let Ok(Some((dir, rel))) = self.handle(full) else {
            return Vec::new();
        };
        let listing = if rel.as_os_str().is_empty() {
            dir.entries()
        } else {
            dir.read_dir(&rel)
        };
        let Ok(entries) = listing else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|k| k.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    }

    /// Syncs the folder `full` (resolved), so the renames in it are durable.
    pub fn sync_dir(&self, full: &Path) {
        if let Ok(Some((dir, rel))) = self.handle(full) {
            let opened = if rel.as_os_str().is_empty() {
                Ok(dir)
            } else {
                dir.open_dir(&rel)
            };
            if let Ok(opened) = opened {
                let _ = opened.into_std_file().sync_all();
            }
        }
    }
}

/// Refuses `dir` (as the user gave it) when one of its existing components below the
/// current folder is a symlink: a symlinked parent would take the folder somewhere else.
fn refuse_symlinked_parents(cwd: &Path, dir: &Path) -> Result<()> {
    let mut at = if dir.is_absolute() {
        PathBuf::new()
    } else {
        cwd.to_path_buf()
    };
    for component in dir.components() {
        match component {
            Component::Prefix(_) | Component::RootDir => at.push(component),
            Component::CurDir => {}
            Component::ParentDir => {
                at.pop();
            }
            Component::Normal(part) => {
                at.push(part);
                // The current folder and its parents are where the user stands.
                if cwd.starts_with(&at) {
                    continue;
                }
                match std::fs::symlink_metadata(&at) {
                    Ok(meta) if meta.file_type().is_symlink() => bail!(
                        "{} is a symlink; kneo-otel never writes through symlinks (give --dir the real path, {})",
                        at.display(),
                        std::fs::canonicalize(&at)
                            .map_or_else(|_| "its target".to_string(), |t| t.display().to_string())
                    ),
                    Ok(_) => {}
                    Err(_) => return Ok(()),
                }
            }
        }
    }
    Ok(())
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

/// Creates each missing folder of `rest` below `base`, one at a time through a handle on
/// `base` (so nothing resolves outside it), refusing a symlink or a file at any of them; each
/// created one gets mode 0755, and with `private` the last one 0700 (also when it exists).
fn create_dirs_below(base: &Path, rest: &Path, private: bool) -> Result<()> {
    let dir = Dir::open_ambient_dir(base, cap_std::ambient_authority())
        .with_context(|| format!("cannot open {}", base.display()))?;
    let count = rest.components().count();
    let mut at = PathBuf::new();
    for (i, part) in rest.components().enumerate() {
        at.push(part);
        let mode = if private && i + 1 == count {
            PRIVATE_DIR
        } else {
            PUBLIC_DIR
        };
        let shown = || base.join(&at).display().to_string();
        match dir.symlink_metadata(&at) {
            Ok(meta) if meta.file_type().is_symlink() => bail!(
                "{} is a symlink; kneo-otel never writes through symlinks (replace it with a real file or folder)",
                shown()
            ),
            Ok(meta) if meta.is_dir() => {
                if mode == PRIVATE_DIR {
                    set_dir_mode(&dir, &at, mode, &shown())?;
                }
                continue;
            }
            Ok(_) => bail!("{} is not a folder; move it away and re-run", shown()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", shown())),
        }
        match dir.create_dir(&at) {
            Ok(()) => {}
            // Someone else made it meanwhile: check what it is.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if !dir.symlink_metadata(&at).is_ok_and(|m| m.is_dir()) {
                    bail!(
                        "{} appeared as something other than a folder; re-run",
                        shown()
                    );
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", shown())),
        }
        set_dir_mode(&dir, &at, mode, &shown())?;
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
