//! The folder a command works on: `--dir` must be, or be able to become, a folder. A path
//! through a regular file (`--dir afile/sub`) is refused up front with one line naming the
//! file, instead of an OS error from whichever step first touches it.

use std::path::Path;

use anyhow::{Result, bail};

/// Errors when `dir`, or the nearest part of it that exists, is not a folder.
pub fn refuse_file_on_path(dir: &Path) -> Result<()> {
    // The deepest ancestor that exists decides: beneath a file nothing can exist.
    let Some((existing, meta)) = dir
        .ancestors()
        .filter(|at| !at.as_os_str().is_empty())
        .find_map(|at| std::fs::metadata(at).ok().map(|meta| (at, meta)))
    else {
        return Ok(());
    };
    if meta.is_dir() {
        return Ok(());
    }
    if existing == dir {
        bail!(
            "--dir {} is a file, not a folder: choose another --dir",
            dir.display()
        );
    }
    bail!(
        "--dir {}: {} is a file, not a folder: choose another --dir",
        dir.display(),
        existing.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_on_the_way_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        let error = refuse_file_on_path(&file.join("sub/deeper")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains(&format!("{} is a file", file.display())),
            "{error}"
        );
        assert!(refuse_file_on_path(&file).is_err());
        assert!(refuse_file_on_path(&tmp.path().join("new/folder")).is_ok());
        assert!(refuse_file_on_path(Path::new("relative-and-absent")).is_ok());
    }
}
