//! `kneo-otel init`: resolve the answers (manifest, flags, `--set`, picker), render, plan
//! against the folder, then write — or only report, with `--dry-run`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Result, bail};

use crate::catalog::Catalog;
use crate::cli::InitArgs;
use crate::lock::Lock;
use crate::manifest::Manifest;
use crate::options::Options;
use crate::paths::{Folder, Reach};
use crate::plan::{Plan, plan};
use crate::render::Render;
use crate::{ci, picker, report, set, snippet, write};

pub fn run(args: InitArgs) -> Result<ExitCode> {
    let catalog = Catalog::load()?;
    refuse_file_as_dir(&args.dir)?;
    let folder = Folder::new(&args.dir)?;
    // Everything is resolved, rendered and planned before anything is touched, so bad input
    // and refused paths leave the disk as it was.
    let Prepared {
        render,
        plan,
        had_manifest,
        dropped,
        ejected_changed,
    } = prepare(&args, &folder, &catalog)?;
    for path in &ejected_changed {
        crate::errln!(
            "warning: {} is ejected (yours), so this change is not written into it, while the README, the next steps and `verify` follow the new answers: edit {} to match",
            crate::report::terminal_safe(path),
            crate::report::terminal_safe(path)
        );
    }
    let options = &plan.manifest.options;
    if !dropped.is_empty() {
        crate::errln!(
            "note: {} has no such setting, so these recorded overrides were dropped: {} (the others carried over)",
            options.backend,
            dropped
                .iter()
                .map(|d| format!("--set {d}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let upgrades = crate::upgrade::changes(&catalog, &plan, &render.context.images);
    for change in &upgrades {
        crate::errln!(
            "{}: {}",
            if args.dry_run {
                "would upgrade"
            } else {
                "upgrade"
            },
            crate::report::terminal_safe(&change.line())
        );
    }
    if options.expose {
        let how = if args.expose {
            "--expose"
        } else {
            "expose=true (from --set or kneo-otel.yaml)"
        };
        crate::errln!(
            "note: {how} publishes OTLP on all interfaces with TLS and a bearer token (secrets/ca.crt, secrets/token: give both to remote apps; never commit them)"
        );
    }
    if options.expose_ui {
        let how = if args.expose_ui {
            "--expose-ui"
        } else {
            "expose.ui=true (from --set or kneo-otel.yaml)"
        };
        crate::errln!(
            "warning: {how} publishes the UIs and APIs on all interfaces over plain HTTP: passwords and traces cross the network in clear, and those without a login let anyone who can reach this machine read every trace; put them behind a TLS proxy"
        );
    }
    if args.dry_run {
        if let Some(why) = &plan.partial_group {
            bail!("{why}");
        }
        let conflicts = plan.conflicts().count();
        let manifest = report::manifest_action(&plan)?;
        report::print_plan(
            &plan,
            &render.context,
            args.format,
            args.diff,
            true,
            manifest,
            &upgrades,
        )?;
        return Ok(if conflicts == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        });
    }
    // A folder kneo-otel never wrote is refused here, untouched. One with a state folder may
    // be half way through another run (or an interrupted one, finished under the lock): its
    // conflicts are decided under the lock.
    let state = folder.state("")?;
    if !state.exists() {
        refuse_conflicts(&args, &plan)?;
    }
    let _lock = Lock::exclusive(&folder)?;
    // Planned again under the lock: another run may have changed the folder meanwhile. The
    // backend picked interactively above is not asked again.
    let mut args = args;
    if !had_manifest && args.backend.is_none() {
        args.backend = Some(plan.manifest.options.backend.clone());
    }
    let Prepared { render, plan, .. } = prepare(&args, &folder, &catalog)?;
    refuse_conflicts(&args, &plan)?;
    let manifest = report::manifest_action(&plan)?;
    // From the plan made under the lock: what is written is what is reported.
    let upgrades = crate::upgrade::changes(&catalog, &plan, &render.context.images);
    write::apply(&plan)?;
    report::print_plan(
        &plan,
        &render.context,
        args.format,
        args.diff,
        false,
        manifest,
        &upgrades,
    )?;
    warn_taken_ports(&plan, &render);
    Ok(ExitCode::SUCCESS)
}

/// What [`prepare`] found.
struct Prepared {
    render: Render,
    plan: Plan,
    had_manifest: bool,
    /// `--set` overrides a backend switch dropped (`ports.ui=16690`): the new backend has no
    /// such key.
    dropped: Vec<String>,
    /// Ejected files whose render this run's answers change: the file on disk does not get
    /// the change, while the README, next steps and `verify` follow it.
    ejected_changed: Vec<String>,
}

/// The answers, the render and the plan against the folder as it is now.
fn prepare(args: &InitArgs, folder: &Folder, catalog: &Catalog) -> Result<Prepared> {
    let mut previous = Manifest::load(folder)?;
    let had_manifest = previous.is_some();
    let mut dropped = Vec::new();
    let options = resolve_options(args, folder, previous.as_ref(), catalog, &mut dropped)?;
    // `--ci` placing the workflow again after the folder moved: the old records name it
    // relative to where the folder was, so they are forgotten, never followed.
    if let Some(manifest) = previous.as_mut()
        && args.ci.is_some()
        && manifest.options.ci.is_some()
        && manifest.options.ci != options.ci
    {
        let old: Vec<String> = manifest
            .files
            .iter()
            .filter(|r| manifest.reach(catalog, &r.path) == Reach::Repository)
            .filter(|r| !manifest.snippets.iter().any(|s| s.path == r.path))
            .map(|r| r.path.clone())
            .collect();
        manifest.files.retain(|r| !old.contains(&r.path));
    }
    let mut render = crate::lint::render_checked(catalog, &options)?;
    let ejected_changed = previous
        .as_ref()
        .filter(|p| p.options != options)
        .map(|p| ejected_changes(catalog, p, &render))
        .unwrap_or_default();
    if let Some(previous) = &previous {
        render.files.extend(snippet::render_recorded(
            catalog,
            &options,
            &previous.snippets,
            &|record| crate::commands::snippet::recorded_stack_dir(folder, record),
        )?);
    }
    let plan = plan(
        catalog,
        folder,
        &render,
        &options,
        previous.as_ref(),
        args.force,
    )?;
    Ok(Prepared {
        render,
        plan,
        had_manifest,
        dropped,
        ejected_changed,
    })
}

/// The ejected files of `previous` that render differently under the new answers.
fn ejected_changes(catalog: &Catalog, previous: &Manifest, now: &Render) -> Vec<String> {
    let Ok(before) = crate::lint::render_checked(catalog, &previous.options) else {
        return Vec::new();
    };
    previous
        .files
        .iter()
        .filter(|r| r.kind == crate::manifest::Ownership::Ejected)
        .filter(|r| {
            before.file(&r.path).map(|f| &f.content) != now.file(&r.path).map(|f| &f.content)
        })
        .map(|r| r.path.clone())
        .collect()
}

/// Says which host ports the compose file publishes are already taken on this machine, and
/// by which Compose project (and folder) when Docker can tell: after a write that publishes
/// ports the folder's compose file did not publish before (a new folder, a changed port).
fn warn_taken_ports(plan: &Plan, render: &Render) {
    let Some(compose) = render.file(crate::lint::COMPOSE_FILE) else {
        return;
    };
    let wanted = crate::project::published(&compose.content);
    let running = plan
        .files
        .iter()
        .find(|f| f.path == crate::lint::COMPOSE_FILE)
        .and_then(|f| f.current.as_deref())
        .map(crate::project::published)
        .unwrap_or_default();
    if !wanted
        .iter()
        .any(|w| !running.iter().any(|r| r.port == w.port))
    {
        return;
    }
    let taken = crate::project::taken(&wanted, &running, &render.context.project);
    let keys: Vec<(u16, String)> = render
        .context
        .ports
        .iter()
        .map(|(key, port)| (port.host, key.clone()))
        .collect();
    for line in crate::project::describe(&taken, &keys) {
        crate::errln!("{line}");
    }
}

fn refuse_conflicts(args: &InitArgs, plan: &Plan) -> Result<()> {
    if let Some(why) = &plan.partial_group {
        bail!("{why}; nothing was written");
    }
    let conflicts: Vec<_> = plan.conflicts().collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    let lines: Vec<String> = conflicts
        .iter()
        .map(|c| format!("  {} ({})", c.path, c.reason.unwrap_or("conflict")))
        .collect();
    bail!(
        "refusing to overwrite {} file(s) in {}; nothing was written:\n{}\nmove them away, run `kneo-otel eject <file>`, or re-run with --force to overwrite managed files",
        conflicts.len(),
        args.dir.display(),
        lines.join("\n")
    );
}

fn refuse_file_as_dir(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!(
            "--dir {} is a file, not a folder: choose another --dir",
            dir.display()
        );
    }
    Ok(())
}

/// The answers for this run: the manifest's, then flags, then `--set`, then the picker.
fn resolve_options(
    args: &InitArgs,
    folder: &Folder,
    previous: Option<&Manifest>,
    catalog: &Catalog,
    dropped: &mut Vec<String>,
) -> Result<Options> {
    let mut backend = args.backend.clone();
    for assignment in &args.set {
        if let Some(("backend", value)) = assignment.split_once('=') {
            backend = Some(value.to_ascii_lowercase());
        }
    }
    let target = args.target.unwrap_or_default();
    let mut options = match (previous, backend) {
        (Some(manifest), None) => manifest.options.clone(),
        (Some(manifest), Some(backend)) if manifest.options.backend == backend => {
            manifest.options.clone()
        }
        (Some(manifest), Some(backend)) => {
            // Ports and images carry over where the new backend has the same key (the
            // gateway's, say); the rest carries over (the gateway only where the new backend
            // can have one).
            let mut options = Options::new(&backend);
            if let Ok(new) = catalog.backend(&backend) {
                let valid = set::keys(catalog, new);
                let recorded = manifest
                    .options
                    .ports
                    .iter()
                    .map(|(k, v)| ("ports", k, v.to_string()))
                    .chain(
                        manifest
                            .options
                            .images
                            .iter()
                            .map(|(k, v)| ("images", k, v.clone())),
                    );
                for (kind, key, value) in recorded {
                    let full = format!("{kind}.{key}");
                    if !valid.contains(&full) {
                        dropped.push(format!("{full}={value}"));
                    } else if kind == "ports" {
                        options
                            .ports
                            .insert(key.clone(), manifest.options.ports[key]);
                    } else {
                        options.images.insert(key.clone(), value);
                    }
                }
            }
            options.project = manifest.options.project.clone();
            options.target = manifest.options.target;
            options.replicas = manifest.options.replicas.clone();
            options.service_name = manifest.options.service_name.clone();
            options.expose = manifest.options.expose;
            options.expose_ui = manifest.options.expose_ui;
            options.expose_hosts = manifest.options.expose_hosts.clone();
            options.redact = manifest.options.redact;
            options.redact_keep = manifest.options.redact_keep.clone();
            options.ci = manifest.options.ci.clone();
            options.gateway =
                manifest.options.gateway && catalog.backend(&backend).is_ok_and(|b| b.gateway);
            options.also = manifest.options.also.clone().filter(|also| {
                *also != backend && catalog.backend(&backend).is_ok_and(|b| b.gateway)
            });
            options
        }
        (None, Some(backend)) => Options::for_target(&backend, target, catalog),
        (None, None) => Options::for_target(&picker::pick_backend(catalog)?, target, catalog),
    };
    catalog.backend(&options.backend)?;
    // `--target` on a folder rendered for another: the new target's defaults (its gateway),
    // replica counts only where they apply.
    if let Some(target) = args.target
        && target != options.target
    {
        options.target = target;
        if catalog.target(target).gateway && catalog.backend(&options.backend)?.gateway {
            options.gateway = true;
        }
        if target != crate::catalog::Target::Kubernetes {
            options.replicas.clear();
        }
    }
    if let Some(name) = &args.service_name {
        options.service_name = name.clone();
    }
    if args.expose {
        options.expose = true;
    }
    if args.expose_ui {
        options.expose_ui = true;
    }
    if args.gateway {
        options.gateway = true;
    }
    if args.redact {
        options.redact = true;
    }
    options.redact_keep.extend(args.redact_keep.iter().cloned());
    if let Some(also) = &args.also {
        options.also = (also != "none").then(|| also.to_ascii_lowercase());
    }
    match (&args.ci, &options.ci) {
        (Some(provider), _) => options.ci = ci::locate(provider, folder)?,
        // The workflow's place and its `check --dir` are relative: a moved folder would
        // write them wrong.
        (None, Some(recorded)) => {
            let here = ci::locate(&recorded.provider, folder)?;
            if here.as_ref() != Some(recorded) {
                bail!(
                    "{} moved inside its repository since `--ci {}` was set (recorded dir {:?}): re-run with --ci {} --force to place the workflow again",
                    args.dir.display(),
                    recorded.provider,
                    recorded.dir,
                    recorded.provider
                );
            }
        }
        (None, None) => {}
    }
    for assignment in &args.set {
        set::apply(&mut options, catalog, assignment)?;
    }
    // Attributes kept from redaction recorded earlier go away with redaction.
    if !options.redact {
        options
            .redact_keep
            .retain(|key| args.redact_keep.contains(key));
    }
    // Overrides of the gateway's own ports and image recorded earlier go away with the
    // gateway when this run switches it off; one given in this run still meets validation
    // (and its error), and so does one recorded without the gateway (as `check` refuses it).
    let recorded_gateway = previous.is_some_and(|m| {
        catalog
            .backend(&m.options.backend)
            .is_ok_and(|b| m.options.uses_gateway(b))
    });
    if recorded_gateway && !options.uses_gateway(catalog.backend(&options.backend)?) {
        let given_now = |kind: &str, key: &str| {
            let prefix = format!("{kind}.{key}=");
            args.set.iter().any(|a| a.starts_with(&prefix))
        };
        for key in catalog.gateway.ports.keys() {
            if !given_now("ports", key) {
                options.ports.remove(key);
            }
        }
        for key in catalog.gateway.images.keys() {
            if !given_now("images", key) {
                options.images.remove(key);
            }
        }
        for service in &catalog.gateway.services {
            if !given_now("replicas", &service.name) {
                options.replicas.remove(&service.name);
            }
        }
    }
    if options.project.is_none() {
        options.project = Some(crate::project::default_for(folder));
    }
    Ok(options)
}
