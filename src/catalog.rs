//! The backend catalog: the data (`templates/catalog.yaml`) that names every backend, its
//! services, pinned images, ports, files and next steps. The types and checks are in
//! [`model`]; `build.rs` runs those checks on the YAML and embeds the checked catalog as JSON,
//! so a command only deserializes data that is known to be consistent.

mod model;

use std::sync::OnceLock;

use anyhow::{Context, Result};

pub use model::*;

/// The checked catalog `build.rs` wrote (JSON of [`Catalog::from_yaml`]'s result).
const CHECKED: &str = include_str!(concat!(env!("OUT_DIR"), "/catalog.json"));

impl Catalog {
    /// The catalog embedded in the binary, checked when it was built. Deserialized once a
    /// process (the command-line definition needs it too); each caller gets its own copy.
    pub fn load() -> Result<Self> {
        static PARSED: OnceLock<std::result::Result<Catalog, String>> = OnceLock::new();
        PARSED
            .get_or_init(|| {
                serde_json::from_str(CHECKED)
                    .context("the catalog embedded at build time does not deserialize")
                    .map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(anyhow::Error::msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the binary embeds is exactly what parsing and checking the YAML gives.
    #[test]
    fn the_embedded_catalog_is_the_checked_yaml() {
        let yaml = Catalog::from_yaml(include_str!("../templates/catalog.yaml")).unwrap();
        let embedded = Catalog::load().unwrap();
        assert_eq!(
            serde_json::to_value(&embedded).unwrap(),
            serde_json::to_value(&yaml).unwrap()
        );
        assert_eq!(serde_json::to_string(&yaml).unwrap(), CHECKED);
    }
}
