//! The app around a stack folder: where a module finds the stack from, and which language
//! the app is written in, for `snippet` and `init`'s next steps: the marker files (`pyproject.toml`, `setup.py`, `requirements*.txt` for
//! Python; `Cargo.toml` for Rust) of the nearest folder that has any, from the stack folder
//! up to its git repository's root (without a repository: the folder and its parent).
//! Looks at file names only, never at their contents; never guesses a default.

use std::path::{Path, PathBuf};

use crate::domain::Lang;
use crate::paths::Folder;

/// What the repository says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guess {
    /// One language's markers, nearest first: the file that decided it.
    One(Lang, PathBuf),
    /// Both languages' markers in the same folder.
    Both { python: PathBuf, rust: PathBuf },
    /// No marker anywhere on the way.
    Neither,
}

/// The marker files, as the messages list them.
pub const MARKERS: &str = "pyproject.toml, setup.py, requirements*.txt or Cargo.toml";

/// Looks from `folder` upwards; see the module doc.
pub fn guess(folder: &Folder) -> Guess {
    let root = folder.root();
    let top = folder
        .repository()
        .or_else(|| root.parent())
        .unwrap_or(root);
    for dir in root.ancestors() {
        let python = python_marker(dir);
        let rust = Some(dir.join("Cargo.toml")).filter(|p| p.is_file());
        match (python, rust) {
            (Some(python), Some(rust)) => return Guess::Both { python, rust },
            (Some(python), None) => return Guess::One(Lang::Python, python),
            (None, Some(rust)) => return Guess::One(Lang::Rust, rust),
            (None, None) => {}
        }
        if dir == top {
            break;
        }
    }
    Guess::Neither
}

/// `pyproject.toml`, `setup.py` or the first `requirements*.txt` (by name) in `dir`.
fn python_marker(dir: &Path) -> Option<PathBuf> {
    for name in ["pyproject.toml", "setup.py"] {
        let path = dir.join(name);
        if path.is_file() {
            return Some(path);
        }
    }
    let mut requirements: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("requirements") && n.ends_with(".txt"))
                && path.is_file()
        })
        .collect();
    requirements.sort();
    requirements.into_iter().next()
}

/// Where a module finds the stack folder from: a Python module from its own folder
/// (`__file__`), a Rust module from its crate's folder (`CARGO_MANIFEST_DIR`: the nearest
/// folder from the module's up to `top` that holds a `Cargo.toml`, else the module's own).
/// `module` is absolute and lexical.
pub fn module_base(module: &Path, lang: Lang, top: Option<&Path>) -> PathBuf {
    let dir = module.parent().unwrap_or(module);
    if lang == Lang::Python {
        return dir.to_path_buf();
    }
    for candidate in dir.ancestors() {
        if candidate.join("Cargo.toml").is_file() {
            return candidate.to_path_buf();
        }
        if Some(candidate) == top {
            break;
        }
    }
    dir.to_path_buf()
}

/// The way from folder `from` to `to` (both absolute and lexical) as components:
/// `["..", "observability"]`. Refused across drives (Windows), where no relative way exists.
pub fn relative_parts(from: &Path, to: &Path) -> anyhow::Result<Vec<String>> {
    use std::path::Component;
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to.components().collect();
    if from.first() != to.first() {
        anyhow::bail!(
            "{} and {} are on different drives: the module cannot name the stack folder relative to itself; set KNEO_OTEL_DIR for the app instead",
            from.iter().collect::<PathBuf>().display(),
            to.iter().collect::<PathBuf>().display()
        );
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts = vec!["..".to_string(); from.len() - common];
    for part in &to[common..] {
        let text = part.as_os_str().to_str().ok_or_else(|| {
            anyhow::anyhow!(
                "{}: the path is not UTF-8",
                to.iter().collect::<PathBuf>().display()
            )
        })?;
        parts.push(text.to_string());
    }
    Ok(parts)
}

/// `path` for a message: relative to the current folder when it is below it.
pub fn shown(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| crate::paths::canonical(&cwd).ok())
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder_in(repo: &Path, markers: &[&str]) -> Folder {
        std::fs::create_dir_all(repo.join(".git")).unwrap();
        for marker in markers {
            let path = repo.join(marker);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        Folder::new(&repo.join("observability")).unwrap()
    }

    #[test]
    fn the_nearest_markers_decide() {
        let tmp = tempfile::tempdir().unwrap();
        let repo = tmp.path().join("a");
        let folder = folder_in(&repo, &["requirements-dev.txt"]);
        assert!(
            matches!(guess(&folder), Guess::One(Lang::Python, p) if p.ends_with("requirements-dev.txt"))
        );
        let repo = tmp.path().join("b");
        let folder = folder_in(&repo, &["Cargo.toml"]);
        assert!(matches!(guess(&folder), Guess::One(Lang::Rust, _)));
        let repo = tmp.path().join("c");
        let folder = folder_in(&repo, &["Cargo.toml", "pyproject.toml"]);
        assert!(matches!(guess(&folder), Guess::Both { .. }));
        let repo = tmp.path().join("d");
        let folder = folder_in(&repo, &["requirements.txt.bak", "src/Cargo.toml"]);
        assert_eq!(guess(&folder), Guess::Neither);
    }

    #[test]
    fn ways_between_folders() {
        let parts = |a: &str, b: &str| relative_parts(Path::new(a), Path::new(b)).unwrap();
        assert_eq!(parts("/r/app", "/r/observability"), ["..", "observability"]);
        assert_eq!(
            parts("/r/observability", "/r/observability"),
            Vec::<String>::new()
        );
        assert_eq!(parts("/r", "/r/deploy/obs"), ["deploy", "obs"]);
        assert_eq!(parts("/r/a/b", "/r/c"), ["..", "..", "c"]);
    }

    #[test]
    fn never_above_the_repository() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Cargo.toml"), "").unwrap();
        let folder = folder_in(&tmp.path().join("repo"), &[]);
        assert_eq!(guess(&folder), Guess::Neither);
    }
}
