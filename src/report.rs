//! What commands print: per-file plan lines, unified diffs, next steps, and their JSON shapes.
//! Results go to stdout; warnings go to stderr.

use anyhow::Result;
use serde::Serialize;
use similar::TextDiff;

use crate::cli::Format;
use crate::context::RenderContext;
use crate::plan::{Action, Plan};

/// Version of every JSON document kneo-otel prints.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A unified diff from `old` (on disk) to `new` (rendered), labelled with the path.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

/// What a diff of a seed file shows: that it changes, never its content (it holds secrets).
pub fn secret_diff(path: &str) -> String {
    format!("--- a/{path}\n+++ b/{path}\n(seed file with generated secrets: contents not shown)\n")
}

#[derive(Serialize)]
struct InitJson<'a> {
    schema_version: u32,
    backend: &'a str,
    dir: String,
    dry_run: bool,
    files: Vec<InitFileJson<'a>>,
    next_steps: Vec<String>,
}

#[derive(Serialize)]
struct InitFileJson<'a> {
    path: &'a str,
    kind: crate::manifest::Ownership,
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    diff: Option<String>,
}

/// Prints what `init` did (or, with `dry_run`, would do).
pub fn print_plan(
    plan: &Plan,
    context: &RenderContext,
    format: Format,
    with_diff: bool,
    dry_run: bool,
) -> Result<()> {
    let diff_of = |file: &crate::plan::FilePlan| -> Option<String> {
        if !with_diff
            || !matches!(
                file.action,
                Action::Update | Action::Conflict | Action::Create | Action::Remove
            )
        {
            return None;
        }
        if file.kind == crate::manifest::Ownership::Seed {
            return Some(secret_diff(&file.path));
        }
        Some(unified_diff(
            &file.path,
            file.current.as_deref().unwrap_or_default(),
            file.wanted.as_deref().unwrap_or_default(),
        ))
    };
    let steps = if dry_run {
        Vec::new()
    } else {
        next_steps(plan, context)
    };
    if format == Format::Json {
        let json = InitJson {
            schema_version: JSON_SCHEMA_VERSION,
            backend: &context.backend.id,
            dir: plan.dir.display().to_string(),
            dry_run,
            files: plan
                .files
                .iter()
                .map(|f| InitFileJson {
                    path: &f.path,
                    kind: f.kind,
                    action: f.action.label(),
                    reason: f.reason,
                    diff: diff_of(f),
                })
                .collect(),
            next_steps: steps,
        };
        crate::outln!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let heading = if dry_run { "would render" } else { "rendered" };
    crate::outln!(
        "{heading} {} into {}/",
        context.backend.title,
        plan.dir.display()
    );
    let mut unchanged = 0;
    for file in &plan.files {
        if file.action == Action::Unchanged {
            unchanged += 1;
        }
        let reason = file.reason.map(|r| format!(" ({r})")).unwrap_or_default();
        crate::outln!("  {:<10} {}{reason}", file.action.label(), file.path);
        if let Some(diff) = diff_of(file) {
            crate::out!("{diff}");
        }
    }
    let changed = plan.files.iter().filter(|f| f.action.writes()).count();
    if changed == 0 {
        crate::outln!("{unchanged} files unchanged");
    } else {
        let verb = if dry_run { "would change" } else { "changed" };
        crate::outln!("{changed} files {verb}, {unchanged} unchanged");
    }
    if !steps.is_empty() {
        crate::outln!("\nNext steps:");
        for step in &steps {
            crate::outln!("  {step}");
        }
    }
    Ok(())
}

/// The true next steps after writing: start, open, point the app at it.
pub fn next_steps(plan: &Plan, context: &RenderContext) -> Vec<String> {
    let mut steps = vec![format!(
        "start it:  cd {} && docker compose up -d",
        plan.dir.display()
    )];
    for link in &context.ui {
        steps.push(format!("open:      {}  {}", link.name, link.url));
    }
    steps.push("point your app at it (the app's environment):".to_string());
    steps.extend(
        context
            .app_env
            .iter()
            .map(|line| format!("  export {line}")),
    );
    steps.extend(context.next_steps.iter().cloned());
    steps
}
