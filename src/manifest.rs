//! `kneo-otel.yaml`: the record `init` leaves in the output folder — the options a deployment
//! was rendered from and the sha256 of every file written — and the input of re-runs and `check`.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::domain::{Flavor, Lang, Protocol};
use crate::options::Options;
use crate::paths::{Folder, Reach};

pub use crate::catalog::MANIFEST_FILE;

/// The largest manifest read (a real one is a few KiB).
pub const MAX_BYTES: u64 = 1 << 20;

/// The deepest nesting read: indentation levels, `- `/`? ` indicators and `[`/`{` together
/// (a real manifest nests 5 deep). Checked before parsing, so a hostile one is refused in
/// milliseconds.
pub const MAX_DEPTH: usize = 32;

/// What a manifest may expand to, aliases replayed (the manifest written has none): as much
/// as fits in [`MAX_BYTES`] without them.
pub const LIMITS: crate::yaml::Limits = crate::yaml::Limits {
    nodes: 100_000,
    bytes: MAX_BYTES,
};

/// The answers a snippet was rendered from; `None` means "from the stack", so a re-render
/// follows `init --set` changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnippetOptions {
    #[serde(default, skip_serializing_if = "Lang::is_rust")]
    pub lang: Lang,
    pub protocol: Protocol,
    pub flavor: Flavor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    /// The CA certificate the exporter trusts: relative to the stack folder (`/`-separated,
    /// an exposed stack's `secrets/ca.crt`), or absolute as `--ca-file` named it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    /// An exposed stack's bearer token file, relative to the stack folder: always
    /// `secrets/token` (see `validate_recorded_token`), read at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
}

/// A module written with `--out`, as the manifest records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnippetRecord {
    /// Relative to the manifest's folder, `/`-separated (may start with `../`).
    pub path: String,
    pub options: SnippetOptions,
}

/// This kneo-otel's version, recorded as `written_by`.
pub const THIS_VERSION: &str = env!("CARGO_PKG_VERSION");

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
    /// The kneo-otel version that wrote it: an older binary refuses a newer folder rather
    /// than render its older templates (and images) over it. Absent in manifests before 0.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_by: Option<String>,
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

impl Ownership {
    /// Who owns a rendered file of this catalog kind: the user once it was ejected (its
    /// record says so), otherwise what the catalog says, whatever else the record claims.
    pub fn of(record: Option<&FileRecord>, kind: crate::catalog::FileKind) -> Ownership {
        match (record.map(|r| r.kind), kind) {
            (Some(Ownership::Ejected), _) => Ownership::Ejected,
            (_, crate::catalog::FileKind::Seed) => Ownership::Seed,
            (_, crate::catalog::FileKind::Managed) => Ownership::Managed,
        }
    }
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

    /// Reads `<folder>/kneo-otel.yaml`; `Ok(None)` when there is none. Refuses one that is
    /// too large or too deep before parsing it.
    pub fn load(folder: &Folder) -> Result<Option<Manifest>> {
        let path = folder.resolve(MANIFEST_FILE, Reach::Folder)?;
        let Some(bytes) = folder.read_at(&path, MAX_BYTES)? else {
            return Ok(None);
        };
        let text = String::from_utf8(bytes)
            .with_context(|| format!("{}: not UTF-8 text", path.display()))?;
        Manifest::parse(&text, &path).map(Some)
    }

    /// Parses a manifest's text (`shown` names it in errors): refuses one nested too deep,
    /// one whose aliases expand it past [`LIMITS`], one naming a key twice, and one of
    /// another schema version.
    pub fn parse(text: &str, shown: &std::path::Path) -> Result<Manifest> {
        if let Some(line) = too_deep(text) {
            bail!(
                "{}:{line}: nested deeper than {MAX_DEPTH} levels, not a kneo-otel manifest: restore it from git or re-run kneo-otel init",
                shown.display()
            );
        }
        let manifest: Manifest = crate::yaml::from_str_bounded(text, LIMITS).map_err(|e| {
            anyhow::anyhow!(
                "{}{}: unreadable manifest: {e}; restore it from git or re-run kneo-otel init",
                shown.display(),
                e.location()
            )
        })?;
        if manifest.schema_version != SCHEMA_VERSION {
            bail!(
                "{}: schema_version {} is not supported by this kneo-otel (it reads {SCHEMA_VERSION}); upgrade kneo-otel",
                shown.display(),
                manifest.schema_version
            );
        }
        if let Some(version) = &manifest.written_by {
            let plain = !version.is_empty()
                && version.len() <= 32
                && version
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !plain {
                bail!(
                    "{}: written_by is not a kneo-otel version: restore it from git or re-run kneo-otel init",
                    shown.display()
                );
            }
            if !crate::catalog::version_matches(version, &format!("<={THIS_VERSION}"))
                .unwrap_or(false)
            {
                bail!(
                    "{}: written by kneo-otel {version}, newer than this kneo-otel {THIS_VERSION}: upgrade kneo-otel (cargo install --locked --git {} --tag v{version}); this one would render its older templates and images over the folder",
                    shown.display(),
                    env!("CARGO_PKG_REPOSITORY")
                );
            }
        }
        Ok(manifest)
    }

    /// How far a recorded path may reach: snippet modules and the CI provider's files (at
    /// the recorded repository root) up to the git repository, everything else the folder.
    pub fn reach(&self, catalog: &Catalog, path: &str) -> Reach {
        let snippet = self.snippets.iter().any(|s| s.path == path);
        let ci = self.options.ci.as_ref().is_some_and(|ci| {
            catalog
                .ci
                .get(&ci.provider)
                .is_some_and(|provider| provider.files.keys().any(|f| ci.from_dir(f) == path))
        });
        if snippet || ci {
            Reach::Repository
        } else {
            Reach::Folder
        }
    }

    /// The manifest as written to disk, byte-stable for the same content.
    pub fn to_text(&self) -> Result<String> {
        Ok(format!("{HEADER}{}", serde_yaml::to_string(self)?))
    }
}

/// The 1-based line where `text` nests deeper than [`MAX_DEPTH`], if it does: a
/// conservative count of indentation, block indicators and open flow brackets.
fn too_deep(text: &str) -> Option<usize> {
    let mut flow = 0usize;
    for (n, line) in text.lines().enumerate() {
        let bytes = line.as_bytes();
        let mut i = bytes.iter().take_while(|b| **b == b' ').count();
        let mut depth = i / 2;
        while i < bytes.len() && matches!(bytes[i], b'-' | b'?' | b':') {
            if bytes.get(i + 1).is_some_and(|b| *b != b' ') {
                break;
            }
            depth += 1;
            i += 1;
            while bytes.get(i) == Some(&b' ') {
                i += 1;
            }
        }
        let mut quote = None;
        for (at, b) in bytes.iter().enumerate().skip(i) {
            match (quote, *b) {
                (Some(q), b) if b == q => quote = None,
                (Some(_), _) => {}
                (None, b'\'' | b'"') => quote = Some(*b),
                (None, b'#') if at == 0 || bytes[at - 1] == b' ' => break,
                (None, b'[' | b'{') => {
                    flow += 1;
                    if depth + flow > MAX_DEPTH {
                        return Some(n + 1);
                    }
                }
                (None, b']' | b'}') => flow = flow.saturating_sub(1),
                _ => {}
            }
        }
        if depth + flow > MAX_DEPTH {
            return Some(n + 1);
        }
    }
    None
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
            written_by: Some(THIS_VERSION.into()),
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
        assert!(too_deep(&text).is_none());
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn deep_nesting_is_found_without_parsing() {
        assert_eq!(too_deep(&"[".repeat(100_000)), Some(1));
        assert_eq!(too_deep(&"- ".repeat(40)), Some(1));
        assert_eq!(
            too_deep("a: '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['\n"),
            None
        );
    }
}
