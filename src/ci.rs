//! `--ci <provider>`: where CI files go. A workflow must sit at the root of the git repository,
//! while every other file lives in the output folder, so the root is found once (the nearest
//! folder above `--dir` holding `.git`) and stored in the manifest as relative paths.

use anyhow::{Result, bail};

use crate::options::CiOptions;
use crate::paths::Folder;

/// The CI answer for `--ci <provider>` with output folder `folder`; `none` removes it.
pub fn locate(provider: &str, folder: &Folder) -> Result<Option<CiOptions>> {
    if provider == "none" {
        return Ok(None);
    }
    let Some(root) = folder.repository() else {
        bail!(
            "--ci {provider}: {} is not inside a git repository (no .git above it): run it from your repository or git init first",
            folder.shown().display()
        );
    };
    let inside: Vec<String> = folder
        .root()
        .strip_prefix(root)
        .expect("an ancestor is a prefix")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    let (root, dir) = if inside.is_empty() {
        (".".to_string(), ".".to_string())
    } else {
        (vec![".."; inside.len()].join("/"), inside.join("/"))
    };
    Ok(Some(CiOptions {
        provider: provider.to_string(),
        root,
        dir,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_relative_to_the_repository_root() {
        let repo = tempfile::tempdir().unwrap();
        std::fs::create_dir(repo.path().join(".git")).unwrap();
        let ci = locate(
            "github",
            &Folder::new(&repo.path().join("ops/./tracing/../obs")).unwrap(),
        )
        .unwrap()
        .unwrap();
        assert_eq!((ci.root.as_str(), ci.dir.as_str()), ("../..", "ops/obs"));
        let ci = locate("github", &Folder::new(repo.path()).unwrap())
            .unwrap()
            .unwrap();
        assert_eq!((ci.root.as_str(), ci.dir.as_str()), (".", "."));
        assert!(
            locate("none", &Folder::new(repo.path()).unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn outside_a_repository_is_an_error() {
        let lonely = tempfile::tempdir().unwrap();
        let error =
            locate("github", &Folder::new(&lonely.path().join("obs")).unwrap()).unwrap_err();
        assert!(error.to_string().contains("not inside a git repository"));
    }
}
