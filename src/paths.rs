//! Lexical path helpers: folders that may not exist yet are compared without touching the disk.

use std::path::{Component, Path, PathBuf};

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
}
