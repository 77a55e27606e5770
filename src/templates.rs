//! The template files embedded in the binary and the minijinja environment that renders them.
//!
//! Layout of `templates/`: `catalog.yaml`; `common/` (rendered for every backend);
//! `backends/<id>/` (one folder a backend); `partials/` (macros, imported, never output).
//! A file ending in `.j2` is rendered and loses the suffix; any other file is copied verbatim.
//! A file whose name starts with `_` is a partial of its folder (included, never output).

use anyhow::{Context, Result, anyhow};
use include_dir::{Dir, DirEntry, include_dir};
use minijinja::syntax::SyntaxConfig;
use minijinja::{AutoEscape, Environment, Error, ErrorKind, State, UndefinedBehavior};

static TEMPLATES: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates");

const JINJA_SUFFIX: &str = ".j2";

/// One template file found under a folder, with the output path it renders to.
pub struct Source {
    /// Path inside `templates/`, e.g. `backends/tempo/tempo.yaml.j2`.
    pub template: String,
    /// Path inside the output folder, e.g. `tempo.yaml`.
    pub output: String,
    pub is_jinja: bool,
}

/// Every file below `templates/<folder>/`, sorted by output path.
pub fn sources(folder: &str) -> Result<Vec<Source>> {
    let dir = TEMPLATES
        .get_dir(folder)
        .ok_or_else(|| anyhow!("templates/{folder} is missing from the binary"))?;
    let mut found = Vec::new();
    collect(dir, folder, &mut found);
    found.sort_by(|a, b| a.output.cmp(&b.output));
    Ok(found)
}

fn collect(dir: &Dir<'_>, root: &str, out: &mut Vec<Source>) {
    for entry in dir.entries() {
        match entry {
            DirEntry::Dir(sub) => collect(sub, root, out),
            DirEntry::File(file) if is_partial(file.path()) => {}
            DirEntry::File(file) => {
                let template = file.path().to_string_lossy().replace('\\', "/");
                let relative = template[root.len()..].trim_start_matches('/').to_string();
                let (output, is_jinja) = match relative.strip_suffix(JINJA_SUFFIX) {
                    Some(stripped) => (stripped.to_string(), true),
                    None => (relative, false),
                };
                out.push(Source {
                    template,
                    output,
                    is_jinja,
                });
            }
        }
    }
}

/// A folder's own partial: included by its templates, never an output file.
fn is_partial(path: &std::path::Path) -> bool {
    path.file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with('_'))
}

/// Renders embedded templates; strict, so an unknown variable is an error, never "".
pub struct Renderer {
    env: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("static syntax config is valid"),
        );
        env.set_loader(|name| {
            Ok(TEMPLATES
                .get_file(name)
                .and_then(|f| f.contents_utf8())
                .map(str::to_string))
        });
        env.add_function("version_at_least", version_at_least);
        env.add_function("random_secret", random_secret);
        env.add_filter("k8s_quantity", k8s_quantity);
        env.add_filter("k8s_name", k8s_name);
        Renderer { env }
    }
}

impl Renderer {
    /// The text of one source: rendered with `context` if it is a template, else verbatim.
    pub fn render(&self, source: &Source, context: minijinja::Value) -> Result<String> {
        if !source.is_jinja {
            return TEMPLATES
                .get_file(&source.template)
                .and_then(|f| f.contents_utf8())
                .map(str::to_string)
                .ok_or_else(|| anyhow!("templates/{} is not UTF-8 text", source.template));
        }
        let template = self
            .env
            .get_template(&source.template)
            .with_context(|| format!("cannot load template {}", source.template))?;
        template
            .render(context)
            .map_err(|e| anyhow!("{e:#}"))
            .with_context(|| format!("cannot render template {}", source.template))
    }
}

/// Template function: a fresh random alphanumeric secret of `length` characters. Only seed
/// files may call it, so managed files stay deterministic.
fn random_secret(state: &State, length: usize) -> Result<String, Error> {
    let kind = state.lookup("file_kind");
    if kind.as_ref().and_then(|k| k.as_str()) != Some("seed") {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "random_secret() may only be used in seed files (kind: seed in the catalog)",
        ));
    }
    use rand::RngExt;
    use rand::distr::Alphanumeric;
    Ok(rand::rng()
        .sample_iter(Alphanumeric)
        .take(length.clamp(16, 128))
        .map(char::from)
        .collect())
}

/// Template filter: a compose memory size (`512M`, `1G`: binary units, as Docker reads them)
/// as a Kubernetes quantity (`512Mi`, `1Gi`), so both targets give a service the same memory.
fn k8s_quantity(size: &str) -> Result<String, Error> {
    let (number, unit) = size.split_at(size.trim_end_matches(char::is_alphabetic).len());
    let unit = match unit {
        "K" | "k" => "Ki",
        "M" | "m" => "Mi",
        "G" | "g" => "Gi",
        _ => "",
    };
    if number.is_empty() || unit.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("memory size {size:?} is not <digits><K|M|G>"),
        ));
    }
    Ok(format!("{number}{unit}"))
}

/// Template filter: a catalog key (`otlp_grpc`) as a Kubernetes port or object name
/// (`otlp-grpc`: lowercase letters, digits and `-`).
pub(crate) fn k8s_name(key: &str) -> String {
    key.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// Template function: does `version` (e.g. `0.159.0` or `v2.20.0`) reach `minimum`?
/// Unparsable versions (custom builds) count as new.
fn version_at_least(version: &str, minimum: &str) -> bool {
    fn parts(v: &str) -> Option<Vec<u64>> {
        let core = v.trim_start_matches('v').split(['-', '+']).next()?;
        core.split('.').map(|p| p.parse().ok()).collect()
    }
    match (parts(version), parts(minimum)) {
        (Some(have), Some(want)) => have >= want,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(version_at_least("0.159.0", "0.144.0"));
        assert!(version_at_least("v0.144.0", "0.144.0"));
        assert!(!version_at_least("0.99.0", "0.144.0"));
        assert!(version_at_least("custom", "0.144.0"));
    }

    #[test]
    fn compose_sizes_become_kubernetes_quantities() {
        assert_eq!(k8s_quantity("512M").unwrap(), "512Mi");
        assert_eq!(k8s_quantity("1G").unwrap(), "1Gi");
        for bad in ["", "M", "1.5G", "512", "1T"] {
            assert!(k8s_quantity(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(k8s_name("gateway_health"), "gateway-health");
    }

    #[test]
    fn undefined_variables_are_errors() {
        let renderer = Renderer::default();
        let env = &renderer.env;
        let err = env.render_str(
            "port: {{ ports.otlp_grcp }}",
            minijinja::context! { ports => minijinja::context! {} },
        );
        assert!(err.is_err(), "a typo rendered as {:?}", err);
    }

    #[test]
    fn random_secret_is_only_for_seed_files() {
        let renderer = Renderer::default();
        let env = &renderer.env;
        let seed = env
            .render_str(
                "{{ random_secret(32) }}",
                minijinja::context! { file_kind => "seed" },
            )
            .unwrap();
        assert_eq!(seed.len(), 32);
        assert!(seed.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(
            env.render_str(
                "{{ random_secret(32) }}",
                minijinja::context! { file_kind => "managed" }
            )
            .is_err()
        );
    }

    #[test]
    fn every_backend_folder_has_files() {
        for dir in TEMPLATES.get_dir("backends").unwrap().dirs() {
            let name = dir.path().file_name().unwrap().to_string_lossy();
            assert!(!sources(&format!("backends/{name}")).unwrap().is_empty());
        }
    }
}
