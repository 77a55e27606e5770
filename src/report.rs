//! What commands print: per-file plan lines, unified diffs, next steps, and their JSON shapes.
//! Results go to stdout; warnings go to stderr.

use anyhow::Result;
use serde::Serialize;
use similar::TextDiff;

use crate::context::RenderContext;
use crate::domain::Format;
use crate::plan::{Action, Plan};

/// Version of every JSON document kneo-otel prints.
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Diff label of the side that is the folder as it is now.
pub const ON_DISK: &str = "on disk";
/// Diff label of the side that is a fresh render.
pub const RENDERED: &str = "what kneo-otel would write";

/// What `init` would do to a file: from what is on disk (`-`) to the render (`+`).
pub fn unified_diff(path: &str, on_disk: &str, rendered: &str) -> String {
    labelled_diff(path, (ON_DISK, on_disk), (RENDERED, rendered))
}

/// How a folder drifted: from the render (`-`) to what is on disk (`+`), so an edit made
/// by hand reads as the user's change.
pub fn drift_diff(path: &str, on_disk: &str, rendered: &str) -> String {
    labelled_diff(path, (RENDERED, rendered), (ON_DISK, on_disk))
}

/// Both sides pass [`terminal_safe`]: a file of the folder may hold escape sequences (cursor
/// moves, erased lines, OSC 52 clipboard writes, window titles) meant for the reader's
/// terminal.
fn labelled_diff(path: &str, old: (&str, &str), new: (&str, &str)) -> String {
    let (old_text, new_text) = (terminal_safe(old.1), terminal_safe(new.1));
    TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{path}  ({})", old.0),
            &format!("{path}  ({})", new.0),
        )
        .to_string()
}

pub use crate::terminal::terminal_safe;

/// What a diff of a seed file shows: that it changes, never its content (it holds secrets).
pub fn secret_diff(path: &str) -> String {
    format!("--- a/{path}\n+++ b/{path}\n(seed file with generated secrets: contents not shown)\n")
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    schema_version: u32,
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    message: &'a str,
    exit_code: i32,
}

/// The JSON object a command asked for `--format json` prints when it fails:
/// `{schema_version, error: {message, exit_code}}`.
pub fn error_json(message: &str, exit_code: i32) -> String {
    let value = ErrorJson {
        schema_version: JSON_SCHEMA_VERSION,
        error: ErrorDetail { message, exit_code },
    };
    serde_json::to_string_pretty(&value).unwrap_or_default()
}

#[derive(Serialize)]
struct InitJson<'a> {
    schema_version: u32,
    backend: &'a str,
    dir: String,
    dry_run: bool,
    files: Vec<InitFileJson<'a>>,
    /// Pinned images this run changes, each with what it does to stored data.
    upgrades: &'a [crate::upgrade::ImageChange],
    /// The next steps as printed.
    next_steps: Vec<String>,
    /// The same steps as fields: what a step is, what to type (or open), and why.
    steps: Vec<Step>,
}

/// One next step, split into its parts: `label:  command   # comment`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// `start it`, `open`, `check it`, …; none for an environment line or a note.
    pub label: Option<String>,
    /// What to type or open (`docker compose up -d`, `export OTEL_…=…`, a URL); none for a
    /// note in words.
    pub command: Option<String>,
    /// Why, after the command's `#`.
    pub comment: Option<String>,
}

impl Step {
    /// Splits a printed step. A line of words (no label, not indented, not `export`) is a
    /// note: its text is the comment.
    pub fn parse(line: &str) -> Step {
        let (body, comment) = match line.split_once("   # ") {
            Some((body, comment)) => (body, Some(comment.trim().to_string())),
            None => (line, None),
        };
        let command_like = |text: &str| {
            let text = text.trim();
            text.starts_with("export ") || text.starts_with("kneo-otel ")
        };
        match body.split_once(":  ") {
            Some((label, rest)) if !label.contains('`') && !label.starts_with(' ') => Step {
                label: Some(label.trim().to_string()),
                command: Some(rest.trim().to_string()),
                comment,
            },
            _ if command_like(body) || body.starts_with("  ") => Step {
                label: None,
                command: Some(body.trim().to_string()),
                comment,
            },
            _ => Step {
                label: None,
                command: None,
                comment: Some(line.trim().to_string()),
            },
        }
    }
}

/// A step as printed under "Next steps:" (two spaces in): within `width` columns, the
/// comment moves to a line of its own, under the command, when the line would be wider.
fn step_lines(step: &str, width: usize) -> Vec<String> {
    let line = format!("  {step}");
    if line.chars().count() <= width {
        return vec![line];
    }
    let Some((body, comment)) = line.split_once("   # ") else {
        // A command stays whole (it is copied); a note in words wraps at spaces, the rest
        // two columns further in.
        if Step::parse(step).command.is_some() {
            return vec![line];
        }
        let indent = line.len() - line.trim_start().len();
        let mut lines: Vec<String> = Vec::new();
        let mut current = " ".repeat(indent);
        for word in line.split_whitespace() {
            let fresh = current.trim().is_empty();
            if !fresh && current.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::replace(&mut current, " ".repeat(indent + 2)));
            } else if !fresh {
                current.push(' ');
            }
            current.push_str(word);
        }
        lines.push(current);
        return lines;
    };
    let at = body
        .find(":  ")
        .map(|i| i + 3 + body[i + 3..].chars().take_while(|c| *c == ' ').count())
        .unwrap_or_else(|| body.len() - body.trim_start().len());
    vec![body.to_string(), format!("{}# {comment}", " ".repeat(at))]
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

/// What happens to the manifest itself when `plan` is written: compare before writing.
pub fn manifest_action(plan: &Plan) -> Result<Action> {
    let path = plan
        .folder
        .resolve(crate::manifest::MANIFEST_FILE, crate::paths::Reach::Folder)?;
    Ok(match std::fs::read_to_string(path) {
        Err(_) => Action::Create,
        Ok(text) if text == plan.manifest.to_text()? => Action::Unchanged,
        Ok(_) => Action::Update,
    })
}

/// Prints what `init` did (or, with `dry_run`, would do); `manifest` is what happened to
/// `kneo-otel.yaml` (listed in text, after the files it records).
pub fn print_plan(
    plan: &Plan,
    context: &RenderContext,
    format: Format,
    with_diff: bool,
    dry_run: bool,
    manifest: Action,
    upgrades: &[crate::upgrade::ImageChange],
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
        // Not a file kneo-otel wrote: never its content.
        if file.reason == Some(crate::plan::NOT_GENERATED) {
            let sha256 =
                crate::manifest::sha256_hex(file.current.as_deref().unwrap_or_default().as_bytes());
            return Some(format!(
                "--- a/{path}\n(on disk: sha256 {sha256}; not a module kneo-otel generated: contents not shown)\n",
                path = file.path
            ));
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
            upgrades,
            steps: steps.iter().map(|s| Step::parse(s)).collect(),
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
    crate::outln!(
        "  {:<10} {}",
        manifest.label(),
        crate::manifest::MANIFEST_FILE
    );
    if manifest == Action::Unchanged {
        unchanged += 1;
    }
    let changed =
        plan.files.iter().filter(|f| f.action.writes()).count() + usize::from(manifest.writes());
    if changed == 0 {
        crate::outln!("{unchanged} files unchanged");
    } else {
        let verb = if dry_run { "would change" } else { "changed" };
        crate::outln!("{changed} files {verb}, {unchanged} unchanged");
    }
    if !steps.is_empty() {
        crate::outln!("\nNext steps:");
        for step in &steps {
            for line in step_lines(step, 80) {
                crate::outln!("{line}");
            }
        }
    }
    Ok(())
}

/// The true next steps after writing: stop a stack the write renamed, start, open, point
/// the app at it, verify, wire the app, stop.
pub fn next_steps(plan: &Plan, context: &RenderContext) -> Vec<String> {
    let here = plan.dir.as_os_str().is_empty() || plan.dir == std::path::Path::new(".");
    let in_dir = |command: &str| {
        if here {
            command.to_string()
        } else {
            format!("cd {} && {command}", plan.dir.display())
        }
    };
    let dir_flag = if here {
        String::new()
    } else {
        format!(" --dir {}", plan.dir.display())
    };
    if context.target == crate::catalog::Target::Kubernetes {
        return kubernetes_steps(plan, context, &dir_flag);
    }
    let mut steps = Vec::new();
    if let Some((old, new)) = renamed_project(plan) {
        steps.push(format!(
            "first stop the old stack: docker compose -p {old} down   # the compose project is now {new}; the old containers would keep their ports (e.g. 4317/4318)"
        ));
    }
    let orphans = dropped_services(plan);
    if orphans.is_empty() {
        steps.push(format!("start it:  {}", in_dir("docker compose up -d")));
    } else {
        steps.push(format!(
            "start it:  {}   # also removes the old services' containers ({}), which would keep their ports",
            in_dir("docker compose up -d --remove-orphans"),
            orphans.join(", ")
        ));
    }
    for link in &context.ui {
        steps.push(format!("open:      {}  {}", link.name, link.url));
    }
    steps.push("point your app at it (the app's environment):".to_string());
    steps.extend(
        context
            .app_env
            .iter()
            .map(|line| format!("  export {}", crate::context::app_env_from(line, &plan.dir))),
    );
    if context.redact {
        steps.push(
            "with --redact the stack's collector deletes message content before it is stored, whatever the app captures"
                .to_string(),
        );
    }
    if let Some(endpoint) = &context.otlp_in_network {
        // 127.0.0.1 inside a container is the container; on Linux host.docker.internal (with
        // --add-host=host.docker.internal:host-gateway) is the bridge gateway, where ports
        // published on 127.0.0.1 are not reachable. Joining the stack's network works everywhere.
        steps.push(format!(
            "from a container:  docker run --network {}_default ...   # on the stack network",
            context.project
        ));
        steps.push(format!(
            "  ... -e OTEL_EXPORTER_OTLP_ENDPOINT={endpoint} <your image>"
        ));
        if let Some(host) = context.otlp.http.as_ref().or(context.otlp.grpc.as_ref()) {
            steps.push(format!(
                "or with Docker Desktop (macOS, Windows):  {}",
                host.replace("127.0.0.1", "host.docker.internal")
            ));
        }
    }
    steps.extend(context.next_steps.iter().cloned());
    steps.push(format!(
        "check it:  kneo-otel verify{dir_flag}   # ports, health, a test trace in and back out"
    ));
    steps.push(snippet_step(plan, &dir_flag));
    steps.push(format!(
        "stop it:   {}   # -v also deletes the stored data",
        in_dir("docker compose down")
    ));
    steps
}

/// The `snippet` step, in the language `snippet` would choose (the repository around the
/// folder, `crate::lang`), saying why; both or neither: `--lang` named, Python first.
fn snippet_step(plan: &Plan, dir_flag: &str) -> String {
    let guess = crate::paths::Folder::new(&plan.dir)
        .map(|folder| crate::lang::guess(&folder))
        .unwrap_or(crate::lang::Guess::Neither);
    match guess {
        crate::lang::Guess::One(lang, marker) => {
            let other = match lang {
                crate::domain::Lang::Python => crate::domain::Lang::Rust,
                crate::domain::Lang::Rust => crate::domain::Lang::Python,
            };
            let marker = marker
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!(
                "wire your app:  kneo-otel snippet{dir_flag}   # {} exporter setup ({marker}; --lang {} for {})",
                lang.title(),
                other.name(),
                other.title()
            )
        }
        _ => format!(
            "wire your app:  kneo-otel snippet{dir_flag} --lang python   # or --lang rust: exporter setup"
        ),
    }
}

/// Next steps of `--target kubernetes`: apply, port-forward to the same local ports the compose
/// target publishes (so `verify` checks the forwarded stack unchanged), point apps, remove.
fn kubernetes_steps(plan: &Plan, context: &RenderContext, dir_flag: &str) -> Vec<String> {
    let dir = plan.dir.display();
    let ns = &context.kube_namespace;
    let mut steps = Vec::new();
    // What ran from this folder before keeps running unless it is stopped first.
    if let Some(compose) = plan
        .files
        .iter()
        .find(|f| f.path == crate::lint::COMPOSE_FILE && f.action == Action::Remove)
        && let Some(project) = compose.current.as_deref().and_then(compose_name)
    {
        steps.push(format!(
            "first stop the compose stack: docker compose -p {project} down   # this folder is for Kubernetes now"
        ));
    }
    if let Some(namespace) = plan.files.iter().find(|f| f.path == "namespace.yaml")
        && let Some(old) = namespace.current.as_deref().and_then(namespace_name)
        && &old != ns
    {
        steps.push(format!(
            "first remove the old stack: kubectl delete namespace {old}   # the namespace is now {ns}"
        ));
    } else if plan
        .files
        .iter()
        .any(|f| f.path == "namespace.yaml" && f.current.is_some())
        && let Some(old) = &plan.previous_backend
        && *old != context.backend.id
    {
        steps.push(format!(
            "first remove the old stack: kubectl delete namespace {ns}   # the backend is now {}; {old}'s objects would keep running (this deletes its data)",
            context.backend.id
        ));
    }
    steps.push(format!("apply it:  kubectl apply -k {dir}"));
    for name in context.services.keys() {
        let forwards: Vec<String> = context
            .ports
            .values()
            .filter(|p| &p.service == name)
            .map(|p| format!("{}:{}", p.host, p.container))
            .collect();
        if !forwards.is_empty() {
            steps.push(format!(
                "forward:   kubectl -n {ns} port-forward svc/{name} {}",
                forwards.join(" ")
            ));
        }
    }
    for link in &context.ui {
        steps.push(format!("open:      {}  {}", link.name, link.url));
    }
    steps.push(
        "let an app namespace send:  kubectl label namespace <app namespace> kneo-otel/otlp=true"
            .to_string(),
    );
    steps.push("point apps in the cluster at it (their environment):".to_string());
    for port in context
        .ports
        .values()
        .filter(|p| p.otlp.as_deref() == Some("http"))
    {
        steps.push(format!(
            "  export OTEL_EXPORTER_OTLP_ENDPOINT=http://{}.{ns}.svc.cluster.local:{}",
            port.service, port.container
        ));
        // The endpoint is the HTTP port: an SDK defaulting to gRPC would send to it wrongly.
        steps.push("  export OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf".to_string());
    }
    steps.extend(
        context
            .app_env
            .iter()
            .filter(|line| !line.starts_with("OTEL_EXPORTER_OTLP_"))
            .map(|line| format!("  export {line}")),
    );
    steps.extend(
        context
            .next_steps
            .iter()
            .filter(|step| !step.contains("docker compose"))
            .cloned(),
    );
    steps.push(format!(
        "check it (with the port-forwards running):  kneo-otel verify{dir_flag}"
    ));
    steps.push(format!(
        "remove it: kubectl delete -k {dir}   # deletes the namespace and its data"
    ));
    steps
}

/// The compose project name (`name:`) of the file on disk and of the render, when a backend
/// switch changes it: the old project's containers are not stopped by the new file.
fn renamed_project(plan: &Plan) -> Option<(String, String)> {
    let compose = plan
        .files
        .iter()
        .find(|f| f.path == crate::lint::COMPOSE_FILE && f.action.writes())?;
    let old = compose_name(compose.current.as_deref()?)?;
    let new = compose_name(compose.wanted.as_deref()?)?;
    (old != new).then_some((old, new))
}

/// Services the compose file on disk runs that the new one drops (a backend switch): their
/// containers stay up, ports and all, unless removed as orphans.
fn dropped_services(plan: &Plan) -> Vec<String> {
    let services = |text: &str| -> Vec<String> {
        crate::yaml::from_str_bounded::<serde_yaml::Value>(text, crate::yaml::ON_DISK)
            .ok()
            .and_then(|doc| {
                doc.get("services")?.as_mapping().map(|m| {
                    m.keys()
                        .filter_map(|k| k.as_str().map(terminal_safe))
                        .collect()
                })
            })
            .unwrap_or_default()
    };
    let Some(compose) = plan
        .files
        .iter()
        .find(|f| f.path == crate::lint::COMPOSE_FILE && f.action.writes())
    else {
        return Vec::new();
    };
    let (Some(old), Some(new)) = (compose.current.as_deref(), compose.wanted.as_deref()) else {
        return Vec::new();
    };
    let new = services(new);
    services(old)
        .into_iter()
        .filter(|s| !new.contains(s))
        .collect()
}

/// The project name (`name:`) of a compose file (on disk: read within bounds).
fn compose_name(text: &str) -> Option<String> {
    let doc: serde_yaml::Value = crate::yaml::from_str_bounded(text, crate::yaml::ON_DISK).ok()?;
    doc.get("name")?.as_str().map(str::to_string)
}

/// The namespace a `namespace.yaml` creates (on disk: read within bounds).
fn namespace_name(text: &str) -> Option<String> {
    let doc: serde_yaml::Value = crate::yaml::from_str_bounded(text, crate::yaml::ON_DISK).ok()?;
    doc.get("metadata")?
        .get("name")?
        .as_str()
        .map(str::to_string)
}
