//! What a re-`init` does to pinned images: the compose file on disk (the previous render,
//! whatever release wrote it) against the new render, image by image, each change with what
//! it means for stored data (`upgrade` on the catalog's image). Said before anything is
//! written, in `--dry-run` too, and carried in `--format json`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Catalog;
use crate::plan::Plan;

/// One pinned image whose tag this run changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageChange {
    /// The catalog image key (`jaeger`), or the repository where the catalog has none.
    pub image: String,
    pub from: String,
    pub to: String,
    /// What the new tag does to stored data, from the catalog.
    pub stored_data: String,
}

impl ImageChange {
    /// `jaeger 2.20.0 → 2.21.0: Jaeger's memory store starts empty`.
    pub fn line(&self) -> String {
        format!(
            "{} {} → {}: {}",
            self.image, self.from, self.to, self.stored_data
        )
    }
}

/// The image changes between the compose file on disk and the one the plan writes.
/// `rendered` is the render's image key → `repository:tag`, which names each image.
pub fn changes(
    catalog: &Catalog,
    plan: &Plan,
    rendered: &BTreeMap<String, String>,
) -> Vec<ImageChange> {
    let Some(file) = plan
        .files
        .iter()
        .find(|f| f.path == crate::lint::COMPOSE_FILE)
    else {
        return Vec::new();
    };
    let (Some(current), Some(wanted)) = (&file.current, &file.wanted) else {
        return Vec::new();
    };
    let before = images(current);
    let after = images(wanted);
    let mut changes: Vec<ImageChange> = Vec::new();
    for (repository, to) in &after {
        let Some(from) = before.iter().find(|(r, _)| r == repository).map(|(_, t)| t) else {
            continue;
        };
        if from == to || changes.iter().any(|c| c.from == *from && c.to == *to) {
            continue;
        }
        let key = rendered
            .iter()
            .find(|(_, i)| i.rsplit_once(':').is_some_and(|(r, _)| r == repository))
            .map(|(k, _)| k.as_str());
        let (image, note) = describe(catalog, key, repository);
        changes.push(ImageChange {
            image,
            from: from.clone(),
            to: to.clone(),
            stored_data: note,
        });
    }
    changes
}

/// `repository:tag` of every service of a compose file (unparsable or past the on-disk
/// bounds, e.g. an alias bomb: none; the file on disk is untrusted and only read here).
fn images(compose: &str) -> Vec<(String, String)> {
    let Ok(value) =
        crate::yaml::from_str_bounded::<serde_yaml::Value>(compose, crate::yaml::ON_DISK)
    else {
        return Vec::new();
    };
    let Some(services) = value.get("services").and_then(|s| s.as_mapping()) else {
        return Vec::new();
    };
    let mut out: Vec<(String, String)> = services
        .values()
        .filter_map(|s| s.get("image")?.as_str())
        .filter_map(|i| i.rsplit_once(':'))
        .map(|(r, t)| (r.to_string(), t.to_string()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The catalog's key and stored-data note for an image of the render.
fn describe(catalog: &Catalog, key: Option<&str>, repository: &str) -> (String, String) {
    let all = catalog
        .backends
        .iter()
        .flat_map(|b| &b.images)
        .chain(&catalog.gateway.images);
    for (k, image) in all {
        if Some(k.as_str()) == key && image.repository == repository {
            return (k.clone(), image.upgrade.clone());
        }
    }
    (
        repository.to_string(),
        "not in the catalog: read its release notes".to_string(),
    )
}
