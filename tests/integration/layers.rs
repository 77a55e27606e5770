//! The house's layer order (ARCHITECTURE.md, "Layers"): each module of `src/` uses only the
//! modules below it, so there are no import circles. A `use crate::x` that points up fails
//! here, naming both modules.

use std::path::Path;

/// Bottom first. A new module gets its place here (and in ARCHITECTURE.md).
const LAYERS: &[&str] = &[
    "terminal",
    "process",
    "yaml",
    "templates",
    "domain",
    "catalog",
    "secrets",
    "paths",
    "git",
    "lang",
    "project",
    "options",
    "set",
    "manifest",
    "context",
    "render",
    "lint",
    "snippet",
    "seed_check",
    "plan",
    "write",
    "lock",
    "upgrade",
    "report",
    "ci",
    "picker",
    "folder",
    "cli",
    "verify",
    "commands",
];

/// The `crate::<module>` names a source file uses outside its tests and comments.
fn uses(text: &str) -> Vec<String> {
    let code = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(block) = rest.strip_prefix('{') {
            let inner = &block[..block.find('}').unwrap_or(block.len())];
            found.extend(
                inner
                    .split(',')
                    .map(|p| p.trim().split("::").next().unwrap_or("").to_string()),
            );
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            found.push(name);
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut upward = Vec::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            // The top-level module a file belongs to (`lint/kubernetes.rs` → `lint`).
            let module = relative
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            let own = rank(&module)
                .unwrap_or_else(|| panic!("src/{} has no place in LAYERS", relative.display()));
            for used in uses(&std::fs::read_to_string(&path).unwrap()) {
                if let Some(theirs) = rank(&used)
                    && theirs > own
                {
                    upward.push(format!("src/{} uses {used}", relative.display()));
                }
            }
        }
    }
    upward.sort();
    upward.dedup();
    assert!(
        upward.is_empty(),
        "modules that use a layer above their own:\n{}",
        upward.join("\n")
    );
}
