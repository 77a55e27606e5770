//! Any bytes as `kneo-otel.yaml`: parsing either yields a manifest or an error, never a panic,
//! and stays within libFuzzer's time and memory limits (alias bombs, deep nesting).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let shown = std::path::Path::new("kneo-otel.yaml");
        if let Ok(manifest) = kneo_otel::manifest::Manifest::parse(text, shown) {
            // What parsed is plain data: it serialises back without a panic.
            let _ = serde_yaml::to_string(&manifest);
        }
    }
});
