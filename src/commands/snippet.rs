//! `kneo-otel snippet`: render the Rust module that wires an app to the stack, then print it,
//! write it with `--out` (owned and recorded like `init`'s files) or write a standalone smoke
//! crate around it with `--crate`.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, anyhow, bail};

use crate::catalog::Catalog;
use crate::cli::{Flavor, Lang, SnippetArgs};
use crate::lock::Lock;
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::paths::{Folder, Reach};
use crate::plan::{Action, plan_file};
use crate::render::RenderedFile;
use crate::snippet::{self, Defaults, SnippetOptions, SnippetRecord};
use crate::write::{Change, Op, write_atomically};

pub fn run(args: SnippetArgs) -> Result<ExitCode> {
    let catalog = Catalog::load()?;
    let folder = Folder::new(&args.dir)?;
    let has_manifest = args.dir.is_dir() && Manifest::load(&folder)?.is_some();
    // `--out` writes the module and the manifest: under the folder lock, read after it.
    let _lock = if args.out.is_some() && has_manifest {
        Some(Lock::exclusive(&folder)?)
    } else {
        None
    };
    let manifest = if has_manifest {
        Manifest::load(&folder)?
    } else {
        None
    };
    let out = match &args.out {
        Some(out) => {
            let cwd = std::env::current_dir().context("cannot read the current folder")?;
            // Lexical below the real current folder: a symlink on the way is refused later,
            // not followed.
            let cwd = crate::paths::canonical(&cwd)?;
            Some(relative_to(folder.root(), &cwd.join(out))?)
        }
        None => None,
    };
    let recorded = manifest.as_ref().and_then(|m| {
        let out = out.as_deref()?;
        m.snippets
            .iter()
            .find(|s| s.path == out)
            .map(|s| &s.options)
    });
    let defaults = Defaults::new(&catalog, manifest.as_ref().map(|m| &m.options))?;
    // An exposed stack: its CA and token, from the folder, unless given or recorded.
    let exposed = manifest.as_ref().is_some_and(|m| m.options.expose);
    let secrets = exposed.then(|| folder.root().to_path_buf());
    // Typed values first: a bad one fails before the language is asked for.
    if let Some(endpoint) = &args.endpoint {
        snippet::validate_endpoint(endpoint)?;
    }
    if let Some(name) = &args.service_name {
        crate::options::validate_service_name(name)?;
    }
    let options = resolve_options(&args, recorded, &defaults, secrets.as_deref())?;
    snippet::validate(&options)?;
    let dir_text = args.dir.display().to_string();
    // The header's command line names --dir only when a stack's manifest gave the defaults.
    let header_dir = if manifest.is_some() {
        dir_text.clone()
    } else {
        eprintln!(
            "note: no {} in {dir_text}: the module defaults to the standard OTLP ports on 127.0.0.1 and service name {}; pass --dir <folder of your stack> to use its settings",
            MANIFEST_FILE, defaults.service_name
        );
        String::new()
    };

    if let Some(script) = &args.script {
        return write_script(
            &catalog,
            &defaults,
            &options,
            &folder,
            script,
            &header_dir,
            args.force,
        );
    }
    if let Some(crate_dir) = &args.crate_dir {
        return write_crate(
            &catalog,
            &defaults,
            &options,
            &folder,
            crate_dir,
            &header_dir,
            args.force,
        );
    }
    let Some(out) = out else {
        let command = snippet::command_line(&options, &header_dir, false);
        // Printed: as if saved in the current folder.
        let here = crate::paths::canonical(
            &std::env::current_dir().context("cannot read the current folder")?,
        )?;
        let stack_dir = stack_dir(&folder, &options, || {
            let module = here.join("telemetry");
            Ok(crate::lang::module_base(
                &module,
                options.lang,
                folder.repository(),
            ))
        })?;
        let module = snippet::render_module(
            &catalog,
            &defaults,
            &options,
            &stack_dir,
            "telemetry.rs",
            &command,
            false,
        )?;
        crate::out!("{}", module.content);
        return Ok(ExitCode::SUCCESS);
    };
    let mut manifest = manifest.ok_or_else(|| {
        anyhow!(
            "--out records the module in {}, which does not exist: run `kneo-otel init --dir {dir_text}` first, or leave out --out to print the module",
            args.dir.join(MANIFEST_FILE).display()
        )
    })?;
    let stack = crate::lint::render_checked(&catalog, &manifest.options)?;
    if stack.file(&out).is_some()
        || out == MANIFEST_FILE
        || out.split('/').next() == Some(crate::write::STATE_DIR)
    {
        bail!("--out {out} is a file of the generated stack in {dir_text}: choose another path");
    }
    refuse_claimed_elsewhere(&folder, &out)?;
    let command = snippet::command_line(&options, snippet::STACK_FOLDER, true);
    let stack_dir = recorded_stack_dir(
        &folder,
        &SnippetRecord {
            path: out.clone(),
            options: options.clone(),
        },
    )?;
    let module = snippet::render_module(
        &catalog, &defaults, &options, &stack_dir, &out, &command, true,
    )?;
    let (plan, record) = plan_file(&folder, &module, Some(&manifest), args.force)?;
    match plan.action {
        Action::Conflict => bail!(
            "refusing to overwrite {} ({}); nothing was written: move it away or re-run with --force",
            args.dir.join(&out).display(),
            plan.reason.unwrap_or("conflict")
        ),
        Action::SkipEjected => bail!(
            "{} is ejected (yours): kneo-otel no longer writes it",
            args.dir.join(&out).display()
        ),
        _ => {}
    }
    let mut changes = Vec::new();
    if matches!(plan.action, Action::Create | Action::Update) {
        changes.push(Change {
            path: out.clone(),
            reach: module.reach,
            op: Op::Write {
                bytes: module.content.clone().into_bytes(),
                mode: None,
            },
        });
    }
    manifest.files.retain(|f| f.path != out);
    manifest.files.extend(record);
    manifest.files.sort_by(|a, b| a.path.cmp(&b.path));
    manifest.snippets.retain(|s| s.path != out);
    manifest.snippets.push(SnippetRecord {
        path: out.clone(),
        options,
    });
    manifest.snippets.sort_by(|a, b| a.path.cmp(&b.path));
    let text = manifest.to_text()?;
    let manifest_file = args.dir.join(MANIFEST_FILE);
    if std::fs::read_to_string(folder.resolve(MANIFEST_FILE, Reach::Folder)?)
        .ok()
        .as_deref()
        != Some(text.as_str())
    {
        changes.push(Change {
            path: MANIFEST_FILE.to_string(),
            reach: Reach::Folder,
            op: Op::Write {
                bytes: text.into_bytes(),
                mode: None,
            },
        });
    }
    crate::write::commit(&folder, &changes)?;
    crate::outln!(
        "{:<10} {} (recorded in {}; `kneo-otel check --dir {dir_text}` covers it)",
        plan.action.label(),
        args.out.as_deref().unwrap_or(Path::new(&out)).display(),
        manifest_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Flags first, then what the manifest recorded for the same `--out`, then the stack.
fn resolve_options(
    args: &SnippetArgs,
    recorded: Option<&SnippetOptions>,
    defaults: &Defaults,
    exposed_folder: Option<&Path>,
) -> Result<SnippetOptions> {
    // The stack's own secrets, by their path relative to the stack folder (never this
    // machine's absolute path): the module resolves it at run time.
    let from_stack = |file: &str| -> Result<String> {
        let folder = exposed_folder.expect("only called for an exposed stack");
        let path = folder.join(file);
        if !path.is_file() {
            bail!(
                "{} is missing, and the stack takes OTLP only with TLS and a token (--expose): run kneo-otel init --dir {} first",
                args.dir.join(file).display(),
                args.dir.display()
            );
        }
        Ok(file.to_string())
    };
    let ca_file = match (&args.ca_file, recorded.and_then(|r| r.ca_file.clone())) {
        (Some(path), _) => Some(ca_file(path)?),
        (None, Some(recorded)) => Some(recorded),
        (None, None) if exposed_folder.is_some() => {
            let file = from_stack(crate::context::CA_FILE)?;
            ca_file(&exposed_folder.expect("exposed").join(&file))?;
            Some(file)
        }
        (None, None) => None,
    };
    let token_file = match recorded.and_then(|r| r.token_file.clone()) {
        Some(recorded) => Some(recorded),
        None if exposed_folder.is_some() => Some(from_stack(crate::context::TOKEN_FILE)?),
        None => None,
    };
    let lang = match (args.lang, &args.script) {
        (Some(Lang::Rust), Some(_)) => bail!(
            "--script writes a Python smoke check: drop --lang rust, or use --crate DIR for Rust"
        ),
        (Some(lang), _) => lang,
        (None, Some(_)) => Lang::Python,
        (None, None) if args.crate_dir.is_some() => Lang::Rust,
        (None, None) => match recorded {
            Some(recorded) => recorded.lang,
            None => choose_lang(args)?,
        },
    };
    if lang == Lang::Python && args.crate_dir.is_some() {
        bail!("--crate writes a Rust crate: with --lang python use --script FILE");
    }
    Ok(SnippetOptions {
        lang,
        protocol: args
            .protocol
            .or(recorded.map(|r| r.protocol))
            .unwrap_or(defaults.protocol),
        flavor: args
            .flavor
            .or(recorded.map(|r| r.flavor))
            .unwrap_or(Flavor::Sdk),
        endpoint: args
            .endpoint
            .clone()
            .or_else(|| recorded.and_then(|r| r.endpoint.clone())),
        service_name: args
            .service_name
            .clone()
            .or_else(|| recorded.and_then(|r| r.service_name.clone())),
        ca_file,
        token_file,
    })
}

/// No `--lang`: the `--out` file's extension, else the repository around the folder
/// (`crate::lang`), else a question in a terminal. Says which and why; never a silent default.
fn choose_lang(args: &SnippetArgs) -> Result<Lang> {
    let extension = args
        .out
        .as_deref()
        .and_then(Path::extension)
        .and_then(|e| e.to_str());
    let (lang, why) = match extension {
        Some("py") => (Lang::Python, "--out names a .py file".to_string()),
        Some("rs") => (Lang::Rust, "--out names a .rs file".to_string()),
        _ => match crate::lang::guess(&Folder::new(&args.dir)?) {
            crate::lang::Guess::One(lang, marker) => {
                (lang, format!("found {}", crate::lang::shown(&marker)))
            }
            crate::lang::Guess::Both { python, rust } => {
                let why = format!(
                    "cannot tell the app's language: found both {} and {}",
                    crate::lang::shown(&python),
                    crate::lang::shown(&rust)
                );
                return crate::picker::pick_lang(&why);
            }
            crate::lang::Guess::Neither => {
                let why = format!(
                    "cannot tell the app's language: no {} around {}",
                    crate::lang::MARKERS,
                    args.dir.display()
                );
                return crate::picker::pick_lang(&why);
            }
        },
    };
    let other = match lang {
        Lang::Python => Lang::Rust,
        Lang::Rust => Lang::Python,
    };
    eprintln!(
        "note: writing the {} module ({why}); pass --lang {} for {}",
        lang.title(),
        other.name(),
        other.title()
    );
    Ok(lang)
}

/// The CA file must exist and hold a PEM certificate; the module reads it at run time from
/// its absolute path.
fn ca_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("--ca-file {}: cannot read it", path.display()))?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        bail!(
            "--ca-file {}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)",
            path.display()
        );
    }
    let absolute = std::fs::canonicalize(path)
        .with_context(|| format!("--ca-file {}: cannot resolve it", path.display()))?;
    absolute
        .to_str()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("--ca-file {}: the path is not UTF-8", path.display()))
}

/// `--crate DIR`: Cargo.toml, src/main.rs and src/telemetry.rs; refuses to replace files that
/// differ unless `--force`.
fn write_crate(
    catalog: &Catalog,
    defaults: &Defaults,
    options: &SnippetOptions,
    stack: &Folder,
    crate_dir: &Path,
    dir_text: &str,
    force: bool,
) -> Result<ExitCode> {
    if crate_dir.exists() && !crate_dir.is_dir() {
        bail!(
            "--crate {} is a file, not a folder: choose another path",
            crate_dir.display()
        );
    }
    let folder = crate_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let command = snippet::command_line(options, dir_text, false);
    let stack_dir = stack_dir(stack, options, || {
        crate::paths::canonical(&std::env::current_dir()?.join(crate_dir))
    })?;
    let files = snippet::render_crate(
        catalog,
        defaults,
        options,
        &stack_dir,
        &snippet::crate_name(&folder),
        &command,
    )?;
    let folder = Folder::new(crate_dir)?;
    let differing: Vec<&RenderedFile> = files
        .iter()
        .filter(|f| {
            crate::plan::read_existing(&folder, &f.path, Reach::Folder)
                .ok()
                .flatten()
                .is_some_and(|current| current != f.content)
        })
        .collect();
    if !differing.is_empty() && !force {
        let names: Vec<String> = differing
            .iter()
            .map(|f| crate_dir.join(&f.path).display().to_string())
            .collect();
        bail!(
            "refusing to overwrite {} (it differs from the render); nothing was written: move it away or re-run with --force",
            names.join(", ")
        );
    }
    for file in &files {
        if crate::plan::read_existing(&folder, &file.path, Reach::Folder)?.as_deref()
            != Some(&file.content)
        {
            write_atomically(&folder, &file.path, file.content.as_bytes(), None)?;
        }
    }
    let manifest = crate_dir.join("Cargo.toml");
    crate::outln!(
        "wrote a smoke-test crate into {}/\nrun it:  cargo run --manifest-path {}",
        crate_dir.display(),
        manifest.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `--script FILE`: the Python smoke check, executable; refuses to replace a file that differs
/// unless `--force`.
fn write_script(
    catalog: &Catalog,
    defaults: &Defaults,
    options: &SnippetOptions,
    stack: &Folder,
    script: &Path,
    dir_text: &str,
    force: bool,
) -> Result<ExitCode> {
    let (Some(name), parent) = (script.file_name(), script.parent()) else {
        bail!("--script {}: name a file", script.display());
    };
    let name = name
        .to_str()
        .ok_or_else(|| anyhow!("--script {}: the name is not UTF-8", script.display()))?;
    let folder = match parent {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if script.is_dir() {
        bail!("--script {} is a folder: name a file", script.display());
    }
    let command = snippet::command_line(options, dir_text, false).replace(
        "kneo-otel snippet",
        "kneo-otel snippet --script <this file>",
    );
    let stack_dir = stack_dir(stack, options, || {
        crate::paths::canonical(&std::env::current_dir()?.join(&folder))
    })?;
    let file = snippet::render_script(catalog, defaults, options, &stack_dir, name, &command)?;
    let folder = Folder::new(&folder)?;
    let current = crate::plan::read_existing(&folder, name, Reach::Folder)?;
    if current.as_ref().is_some_and(|c| *c != file.content) && !force {
        bail!(
            "refusing to overwrite {} (it differs from the render); nothing was written: move it away or re-run with --force",
            script.display()
        );
    }
    if current.as_deref() != Some(&file.content) {
        write_atomically(&folder, name, file.content.as_bytes(), Some(0o755))?;
    }
    crate::outln!(
        "wrote a Python smoke check to {}
run it:  {}
         python3 {}",
        script.display(),
        snippet::pip_install(catalog),
        script.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The way from a module's base (`base`, asked only when the module names a file of the
/// stack folder) to the stack folder.
fn stack_dir(
    folder: &Folder,
    options: &SnippetOptions,
    base: impl FnOnce() -> Result<PathBuf>,
) -> Result<Vec<String>> {
    let stack_relative = options.token_file.is_some()
        || options
            .ca_file
            .as_deref()
            .is_some_and(|ca| !snippet::is_absolute(ca));
    if !stack_relative {
        return Ok(Vec::new());
    }
    crate::lang::relative_parts(&base()?, folder.root())
}

/// The way from a recorded module's base to the stack folder, from its path in the manifest:
/// the same in every clone of the repository, so `check` re-renders the same bytes.
pub(crate) fn recorded_stack_dir(folder: &Folder, record: &SnippetRecord) -> Result<Vec<String>> {
    stack_dir(folder, &record.options, || {
        let module = crate::paths::normalise(&folder.root().join(&record.path));
        Ok(crate::lang::module_base(
            &module,
            record.options.lang,
            folder.repository(),
        ))
    })
}

/// `file` relative to `dir`, `/`-separated, computed on absolute lexical paths (no symlink
/// resolution), e.g. `../src/telemetry.rs` for `--dir observability --out src/telemetry.rs`.
fn relative_to(dir: &Path, file: &Path) -> Result<String> {
    let cwd = std::env::current_dir().context("cannot read the current folder")?;
    let dir = crate::paths::normalise(&cwd.join(dir));
    let file = crate::paths::normalise(&cwd.join(file));
    if file.file_name().is_none() || file == dir {
        bail!("--out {}: name a file", file.display());
    }
    let dir_parts: Vec<Component> = dir.components().collect();
    let file_parts: Vec<Component> = file.components().collect();
    let common = dir_parts
        .iter()
        .zip(&file_parts)
        .take_while(|(a, b)| a == b)
        .count();
    let mut parts: Vec<String> = vec!["..".to_string(); dir_parts.len() - common];
    for part in &file_parts[common..] {
        let text = part
            .as_os_str()
            .to_str()
            .ok_or_else(|| anyhow!("--out {}: the path is not UTF-8", file.display()))?;
        parts.push(text.to_string());
    }
    Ok(parts.join("/"))
}

/// Refuses `--out` when another kneo-otel folder of the repository already records the same
/// module: both would re-render it, and `check` would pass in one and fail in the other.
fn refuse_claimed_elsewhere(folder: &Folder, out: &str) -> Result<()> {
    let Some(repository) = folder.repository() else {
        return Ok(());
    };
    let wanted = lexical(&folder.root().join(out));
    for other in stack_folders(repository) {
        if other == folder.root() {
            continue;
        }
        let Ok(other_folder) = Folder::new(&other) else {
            continue;
        };
        let Ok(Some(manifest)) = Manifest::load(&other_folder) else {
            continue;
        };
        if manifest
            .snippets
            .iter()
            .any(|s| lexical(&other.join(&s.path)) == wanted)
        {
            let shown = other.strip_prefix(repository).unwrap_or(&other);
            bail!(
                "--out {out} is already recorded in {}: one module belongs to one stack; choose another --out, or remove its record there first",
                crate::report::terminal_safe(&shown.join(MANIFEST_FILE).display().to_string())
            );
        }
    }
    Ok(())
}

/// The folders below `repository` (four levels at most; hidden folders, `target` and
/// `node_modules` skipped, symlinks never followed) that hold a `kneo-otel.yaml`.
fn stack_folders(repository: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![(repository.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        if dir.join(MANIFEST_FILE).is_file() {
            found.push(dir.clone());
        }
        if depth == 4 {
            continue;
        }
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let skip = name.starts_with('.') || name == "target" || name == "node_modules";
            if !skip && entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((entry.path(), depth + 1));
            }
        }
    }
    found
}

/// `path` with `.` and `..` components resolved by name (no file system access).
fn lexical(path: &std::path::Path) -> std::path::PathBuf {
    let mut out = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_relative_to_the_folder() {
        let rel = |d: &str, f: &str| relative_to(Path::new(d), Path::new(f)).unwrap();
        assert_eq!(
            rel("observability", "src/telemetry.rs"),
            "../src/telemetry.rs"
        );
        assert_eq!(rel("a/b", "a/b/c.rs"), "c.rs");
        assert_eq!(rel("/x/y", "/x/z/t.rs"), "../z/t.rs");
        assert_eq!(rel("./obs/", "./obs/../m.rs"), "../m.rs");
    }
}
