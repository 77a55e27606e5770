//! The render step of the pipeline: options → files in memory, deterministic (linted next,
//! by [`crate::lint::render_checked`]).
//!
//! Nothing here touches the disk; `write`, `check` and `--dry-run` all start from a [`Render`].

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use minijinja::value::Serde;
use minijinja::{Value, context};

use crate::catalog::{Backend, Catalog, FileKind, FileSpec, Target};
use crate::context::{RenderContext, Upstream};
use crate::options::Options;
use crate::paths::Reach;
use crate::templates::{self, Renderer, Source};

/// One generated file, in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Relative to the output folder, `/`-separated.
    pub path: String,
    pub content: String,
    pub kind: FileKind,
    pub mode: Option<u32>,
    /// Seed files made together ([`FileSpec::group`]).
    pub group: Option<String>,
    /// How far above the output folder it may land ([`crate::paths::Folder::resolve`]).
    pub reach: Reach,
}

/// Every file of one backend's deployment, sorted by path.
#[derive(Debug)]
pub struct Render {
    pub context: RenderContext,
    pub files: Vec<RenderedFile>,
}

impl Render {
    pub fn file(&self, path: &str) -> Option<&RenderedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// The catalog entry `options` deploy, with any add-on they ask for merged in.
pub struct Deployment {
    pub backend: Backend,
    /// With the gateway: the backends' own OTLP receivers, where the gateway forwards (the
    /// chosen backend first, then the `--also` one).
    pub destinations: Vec<Upstream>,
    /// The `--also` backend, whose template folder is rendered too.
    pub also: Option<Backend>,
}

/// The deployment `options` ask for, after checking every answer against it.
pub fn deployment(catalog: &Catalog, options: &Options) -> Result<Deployment> {
    let chosen = catalog.backend(&options.backend)?;
    let also = options.also_backend(catalog)?;
    let mut backend = chosen.clone();
    let mut destinations = Vec::new();
    if options.uses_gateway(chosen) {
        destinations.push(Upstream::of(chosen, options.redact, options.expose));
        if let Some(also) = also {
            backend = backend.with_also(also);
            destinations.push(Upstream::of(also, false, options.expose));
        }
        backend = backend.with_addon(&catalog.gateway);
    }
    let deployment = Deployment {
        backend,
        destinations,
        also: also.cloned(),
    };
    options.validate(catalog, &deployment.backend)?;
    Ok(deployment)
}

/// What templates (and `verify`, `snippet`) see of a deployment: ports with overrides, images,
/// links.
pub fn context_for(
    catalog: &Catalog,
    options: &Options,
    deployment: &Deployment,
    files: BTreeMap<String, FileSpec>,
) -> RenderContext {
    let mut context = RenderContext::new(
        &deployment.backend,
        options,
        files,
        deployment.destinations.clone(),
        deployment.also.as_ref(),
        &catalog.redaction,
        catalog.otlp_limits,
    );
    let days = crate::options::retention_days(catalog, options);
    context.retention_days = days;
    context.stores = catalog
        .retention
        .stores
        .iter()
        .chain(&deployment.backend.stores)
        .filter(|s| s.on(options.target))
        .map(|s| s.with_days(days))
        .collect();
    // Files every target renders (README.md, .gitignore) are no config a pod mounts.
    context
        .config_files
        .retain(|f| !catalog.common_files.contains_key(&f.path));
    context.kubernetes_version = catalog
        .target(Target::Kubernetes)
        .version
        .clone()
        .unwrap_or_default();
    context
}

/// Renders the deployment `options` describe; [`crate::lint::render_checked`] also lints it,
/// the pipeline's next step.
pub fn render(catalog: &Catalog, options: &Options) -> Result<Render> {
    render_passes(catalog, options, SecondPass::ComposeFiles)
}

/// What the second pass (after the mounted files' hashes are known) renders again.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SecondPass {
    /// Only the compose files, the one place the hashes go (`config_hashes` in
    /// `partials/compose.j2`); every other file is the first pass's.
    ComposeFiles,
    /// Every file (what the unit test compares with).
    #[cfg(test)]
    EveryFile,
}

fn render_passes(catalog: &Catalog, options: &Options, second: SecondPass) -> Result<Render> {
    let deployment = deployment(catalog, options)?;
    let gateway = !deployment.destinations.is_empty();
    let backend = &deployment.backend;

    let target = options.target;
    let target_spec = catalog.target(target);
    let mut sources = Vec::new();
    let mut specs: BTreeMap<String, FileSpec> = BTreeMap::new();
    let chosen = catalog.backend(&backend.id)?;
    let mut folders: Vec<(String, &BTreeMap<String, FileSpec>, String)> = vec![
        (
            "common".into(),
            &catalog.common_files,
            "common files".into(),
        ),
        (
            format!("backends/{}", backend.id),
            &chosen.files,
            format!("files for {}", backend.id),
        ),
    ];
    if gateway {
        folders.push((
            catalog.gateway.templates.clone(),
            &catalog.gateway.files,
            "gateway files".into(),
        ));
    }
    if options.expose {
        folders.push((
            catalog.expose.templates.clone(),
            &catalog.expose.files,
            "--expose files".into(),
        ));
    }
    if let Some(folder) = &target_spec.templates {
        folders.push((
            folder.clone(),
            &target_spec.files,
            format!("{} target files", target.as_str()),
        ));
    }
    for (folder, files, what) in folders {
        add_folder(&folder, files, &what, target, &mut sources, &mut specs)?;
    }
    // The --also backend's files, apart from its compose file: this backend's compose file
    // takes its services in (`_services.yml.j2`); a file both render (the seed `.env`) gets
    // the --also part appended.
    let mut also_sources = Vec::new();
    if let Some(also) = &deployment.also {
        for source in templates::sources(&format!("backends/{}", also.id))? {
            if source.output == crate::catalog::COMPOSE_FILE {
                continue;
            }
            if specs.contains_key(&source.output) {
                also_sources.push(source);
                continue;
            }
            let Some(spec) = also.files.get(&source.output) else {
                bail!(
                    "template {} renders `{}`, which the catalog's files for {} do not describe",
                    source.template,
                    source.output,
                    also.id
                );
            };
            specs.insert(source.output.clone(), spec.clone());
            sources.push(source);
        }
    }
    let mut in_repository = Vec::new();
    if let Some(ci) = &options.ci {
        let provider = &catalog.ci[&ci.provider];
        for mut source in templates::sources(&provider.templates)? {
            let Some(spec) = provider.files.get(&source.output) else {
                bail!(
                    "template {} renders `{}`, which the catalog's ci files do not describe",
                    source.template,
                    source.output
                );
            };
            source.output = ci.from_dir(&source.output);
            in_repository.push(source.output.clone());
            specs.insert(source.output.clone(), spec.clone());
            sources.push(source);
        }
    }

    let mut context = context_for(catalog, options, &deployment, specs.clone());
    // CI files live in the repository, not in a pod.
    context
        .config_files
        .retain(|f| !in_repository.contains(&f.path));
    let renderer = Renderer::default();
    // Made fresh for every render; only seed files see them, and a seed file on disk is never
    // rewritten, so what a folder holds stays what it first got.
    let secrets = if options.expose {
        let hosts: Vec<String> = options.expose_hosts.iter().cloned().collect();
        Some(crate::secrets::generate(&hosts)?)
    } else {
        None
    };
    // Renders into `files`, in `sources` order: the first pass (an empty `files`) pushes every
    // source, a later pass replaces the ones `again` picks.
    let render_into = |context: &RenderContext,
                       files: &mut Vec<RenderedFile>,
                       again: &dyn Fn(&Source) -> bool|
     -> Result<()> {
        let base = Value::from(Serde(context));
        let first = files.is_empty();
        for (index, source) in sources.iter().enumerate() {
            if !first && !again(source) {
                continue;
            }
            let spec = &specs[&source.output];
            let kind = spec.kind;
            let kind_name = match kind {
                FileKind::Managed => "managed",
                FileKind::Seed => "seed",
            };
            let file_context = match (&secrets, kind) {
                (Some(secrets), FileKind::Seed) => {
                    context! { file_kind => kind_name, secrets => Value::from(Serde(secrets)), ..base.clone() }
                }
                _ => context! { file_kind => kind_name, ..base.clone() },
            };
            let mut content = renderer.render(source, file_context.clone())?;
            // A file the --also backend renders as well (the seed `.env`): its part follows.
            for extra in also_sources.iter().filter(|s| s.output == source.output) {
                content = format!(
                    "{}\n{}",
                    content.trim_end_matches('\n'),
                    renderer.render(extra, file_context.clone())?
                );
            }
            let content = normalise(content);
            let file = RenderedFile {
                path: source.output.clone(),
                content,
                kind,
                mode: spec.mode,
                group: spec.group.clone(),
                reach: if in_repository.contains(&source.output) {
                    Reach::Repository
                } else {
                    Reach::Folder
                },
            };
            if first {
                files.push(file);
            } else {
                files[index] = file;
            }
        }
        Ok(())
    };
    let mut files = Vec::with_capacity(sources.len());
    render_into(&context, &mut files, &|_| true)?;
    // Compose recreates a service on `up -d` only when its definition changes, not when a file
    // it mounts does: each service that mounts rendered files is labelled with their hash, so a
    // re-run of `init` that changes them makes `docker compose up -d` recreate that service.
    let hashes = mounted_file_hashes(&files);
    if !hashes.is_empty() {
        context.config_hashes = hashes;
        render_into(&context, &mut files, &|source| match second {
            SecondPass::ComposeFiles => is_compose_file(&source.output),
            #[cfg(test)]
            SecondPass::EveryFile => true,
        })?;
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Render { context, files })
}

/// Adds the templates of one folder whose catalog files (`files`, described as `what`) this
/// target renders; each template and each catalog entry must have the other.
fn add_folder(
    folder: &str,
    files: &BTreeMap<String, FileSpec>,
    what: &str,
    target: Target,
    sources: &mut Vec<Source>,
    specs: &mut BTreeMap<String, FileSpec>,
) -> Result<()> {
    let found = templates::sources(folder)?;
    for source in &found {
        if !files.contains_key(&source.output) {
            bail!(
                "template {} renders `{}`, which the catalog's {what} do not describe",
                source.template,
                source.output
            );
        }
    }
    for (path, spec) in files {
        if !found.iter().any(|s| &s.output == path) {
            bail!("catalog lists `{path}` in its {what} but no template renders it");
        }
        if spec.target.is_some_and(|t| t != target) {
            continue;
        }
        if specs.insert(path.clone(), spec.clone()).is_some() {
            bail!(
                "catalog: `{path}` is rendered twice for target {}",
                target.as_str()
            );
        }
    }
    sources.extend(
        found
            .into_iter()
            .filter(|s| files[&s.output].target.is_none_or(|t| t == target)),
    );
    Ok(())
}

/// Unix newlines and exactly one trailing newline, so output is byte-stable.
fn normalise(text: String) -> String {
    let text = text.replace("\r\n", "\n");
    format!("{}\n", text.trim_end_matches('\n'))
}

/// A compose file, by its name (the hashes go into its services' labels).
fn is_compose_file(path: &str) -> bool {
    path.ends_with("docker-compose.yml")
}

/// Service → sha256 (16 hex digits) of the managed files a compose service bind-mounts from
/// the folder (`./<path>` sources; a folder stands for every file below it). Seed files are
/// left out: they are written once, and a fresh render's secrets never reach the disk.
fn mounted_file_hashes(files: &[RenderedFile]) -> BTreeMap<String, String> {
    use sha2::{Digest, Sha256};
    let mut hashes = BTreeMap::new();
    // Only each service's `volumes` is read: everything else is skipped unparsed into values.
    #[derive(serde::Deserialize)]
    struct Compose {
        #[serde(default)]
        services: BTreeMap<String, Service>,
    }
    #[derive(serde::Deserialize)]
    struct Service {
        #[serde(default)]
        volumes: Vec<serde_yaml::Value>,
    }
    for compose in files.iter().filter(|f| is_compose_file(&f.path)) {
        let Ok(doc) = serde_yaml::from_str::<Compose>(&compose.content) else {
            continue;
        };
        for (name, service) in doc.services {
            let mut hasher = Sha256::new();
            let mut any = false;
            for volume in &service.volumes {
                let Some(source) = volume
                    .as_str()
                    .and_then(|v| v.split(':').next())
                    .and_then(|v| v.strip_prefix("./"))
                else {
                    continue;
                };
                let source = source.trim_end_matches('/');
                for file in files.iter().filter(|f| {
                    f.kind == FileKind::Managed
                        && (f.path == source || f.path.starts_with(&format!("{source}/")))
                }) {
                    hasher.update(file.path.as_bytes());
                    hasher.update([0]);
                    hasher.update(file.content.as_bytes());
                    hasher.update([0]);
                    any = true;
                }
            }
            if any {
                let digest = hasher.finalize();
                let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
                hashes.insert(name, hex);
            }
        }
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Target;

    /// The second pass renders only the compose files again: for every backend, target and
    /// add-on, that gives the same files as rendering every file again would, so no other
    /// template reads the hashes.
    #[test]
    fn rendering_only_the_compose_files_again_changes_nothing() {
        let catalog = Catalog::load().unwrap();
        for backend in &catalog.backends {
            for target in [Target::Compose, Target::Kubernetes] {
                for (gateway, redact) in [(false, false), (true, false), (true, true)] {
                    let mut options = Options::for_target(&backend.id, target, &catalog);
                    options.gateway |= gateway && backend.gateway;
                    options.redact = redact && backend.gateway;
                    let Ok(every) = render_passes(&catalog, &options, SecondPass::EveryFile) else {
                        continue;
                    };
                    let compose =
                        render_passes(&catalog, &options, SecondPass::ComposeFiles).unwrap();
                    // Seed files draw fresh secrets on every render: their paths must agree.
                    let comparable = |render: &Render| -> Vec<(String, Option<String>)> {
                        render
                            .files
                            .iter()
                            .map(|f| {
                                (
                                    f.path.clone(),
                                    (f.kind == FileKind::Managed).then(|| f.content.clone()),
                                )
                            })
                            .collect()
                    };
                    assert_eq!(
                        comparable(&compose),
                        comparable(&every),
                        "{} {target:?} gateway={gateway} redact={redact}",
                        backend.id
                    );
                }
            }
        }
    }
}
