//! What git tracks, asked of git itself (`git ls-files`): a file of the folder that git
//! tracks came with a clone or a pull request, so it is never local state (the journal) and
//! never a secret kneo-otel made (a seed). No git, or no repository: nothing is tracked.

use std::path::Path;
use std::process::{Command, Stdio};

/// Those of `paths` (relative to `root`, `/`-separated) that git tracks in the repository
/// holding `root`.
pub fn tracked(root: &Path, paths: &[&str]) -> Vec<String> {
    if paths.is_empty() {
        return Vec::new();
    }
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        // Only the index is read: no hook, no fsmonitor, no pager.
        .args(["-c", "core.fsmonitor=false", "ls-files", "-z", "--"])
        .args(paths)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match output {
        Ok(out) if out.status.success() => out
            .stdout
            .split(|b| *b == 0)
            .filter(|name| !name.is_empty())
            .map(|name| String::from_utf8_lossy(name).into_owned())
            .collect(),
        _ => Vec::new(),
    }
}
