//! `kneo-otel.yaml`: the record `init` leaves in the output folder — the options a deployment
//! was rendered from and the sha256 of every file written — and the input of re-runs and `check`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::options::Options;
use crate::snippet::SnippetRecord;

/// File name of the manifest inside the output folder.
pub const MANIFEST_FILE: &str = "kneo-otel.yaml";

/// Version of the manifest's shape; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

const HEADER: &str = "---\n\
# Written by kneo-otel: the options this folder was rendered from and a
# sha256 of each file it wrote. Change an answer with
# `kneo-otel init --dir <this folder> --set key=value`; `kneo-otel check`
# reports drift.\n";

/// The manifest's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub schema_version: u32,
    pub options: Options,
    pub files: Vec<FileRecord>,
    /// Modules written by `kneo-otel snippet --out`, re-rendered by `init` and `check`
    /// (their files are also in `files`). Absent in manifests without any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub snippets: Vec<SnippetRecord>,
}

/// Who owns a recorded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ownership {
    /// kneo-otel regenerates and compares it.
    Managed,
    /// Written once, never compared or overwritten.
    Seed,
    /// Handed to the user with `eject`: never written, compared or removed.
    Ejected,
}

/// One file kneo-otel wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    pub path: String,
    pub kind: Ownership,
    pub sha256: String,
}

impl Manifest {
    pub fn record(&self, path: &str) -> Option<&FileRecord> {
        self.files.iter().find(|f| f.path == path)
    }

    /// Reads `<dir>/kneo-otel.yaml`; `Ok(None)` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let manifest: Manifest = serde_yaml::from_str(&text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            anyhow::anyhow!("{}{at}: unreadable manifest: {e}", path.display())
        })?;
        if manifest.schema_version != SCHEMA_VERSION {
            bail!(
                "{}: schema_version {} is not supported by this kneo-otel (it reads {SCHEMA_VERSION}); upgrade kneo-otel",
                path.display(),
                manifest.schema_version
            );
        }
        Ok(Some(manifest))
    }

    /// The manifest as written to disk, byte-stable for the same content.
    pub fn to_text(&self) -> Result<String> {
        Ok(format!("{HEADER}{}", serde_yaml::to_string(self)?))
    }
}

/// Lowercase hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let manifest = Manifest {
            schema_version: SCHEMA_VERSION,
            options: Options::new("jaeger"),
            files: vec![FileRecord {
                path: "docker-compose.yml".into(),
                kind: Ownership::Managed,
                sha256: sha256_hex(b"x"),
            }],
            snippets: Vec::new(),
        };
        assert!(!manifest.to_text().unwrap().contains("snippets"));
        let text = manifest.to_text().unwrap();
        let back: Manifest = serde_yaml::from_str(&text).unwrap();
        assert_eq!(back, manifest);
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
