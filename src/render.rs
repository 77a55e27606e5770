//! The render step of the pipeline: options → files in memory, deterministic, then linted.
//!
//! Nothing here touches the disk; `write`, `check` and `--dry-run` all start from a [`Render`].

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use minijinja::value::Serde;
use minijinja::{Value, context};

use crate::catalog::{Backend, Catalog, FileKind, FileSpec, Target};
use crate::context::{RenderContext, Upstream};
use crate::lint;
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
    /// With the gateway: the backend's own OTLP receivers, where the gateway forwards.
    pub upstream: Option<Upstream>,
}

/// The deployment `options` ask for, after checking every answer against it.
pub fn deployment(catalog: &Catalog, options: &Options) -> Result<Deployment> {
    let chosen = catalog.backend(&options.backend)?;
    let deployment = if options.uses_gateway(chosen) {
        Deployment {
            backend: chosen.with_addon(&catalog.gateway),
            upstream: Some(Upstream::of(chosen)),
        }
    } else {
        Deployment {
            backend: chosen.clone(),
            upstream: None,
        }
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
        deployment.upstream.clone(),
        &catalog.redaction,
        catalog.otlp_limits,
    );
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

/// Renders and lints the deployment `options` describe.
pub fn render(catalog: &Catalog, options: &Options) -> Result<Render> {
    let deployment = deployment(catalog, options)?;
    let gateway = deployment.upstream.is_some();
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
    let base = Value::from(Serde(&context));
    let renderer = Renderer::default();
    let mut files = Vec::with_capacity(sources.len());
    for source in &sources {
        let spec = &specs[&source.output];
        let kind = spec.kind;
        let kind_name = match kind {
            FileKind::Managed => "managed",
            FileKind::Seed => "seed",
        };
        let file_context = context! { file_kind => kind_name, ..base.clone() };
        let content = normalise(renderer.render(source, file_context)?);
        files.push(RenderedFile {
            path: source.output.clone(),
            content,
            kind,
            mode: spec.mode,
            reach: if in_repository.contains(&source.output) {
                Reach::Repository
            } else {
                Reach::Folder
            },
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let render = Render { context, files };
    lint::check(&render)?;
    Ok(render)
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
