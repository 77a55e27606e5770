//! Redaction rules (`--redact`): what a redacting stack may not print or forward.
//!
//! - `redact-no-detailed-debug`: no `debug` exporter prints attribute values in full.
//! - `redaction-fails-closed`: a redaction step whose statement errors refuses the data.

use serde_yaml::Value;

use super::{Violation, violation};

/// `redact-no-detailed-debug`: with `--redact`, no `debug` exporter may print every attribute
/// value (`verbosity: detailed`) to the container log.
pub(super) fn lint_redacted_output(path: &str, doc: &Value, out: &mut Vec<Violation>) {
    let Some(exporters) = doc.get("exporters").and_then(Value::as_mapping) else {
        return;
    };
    for (name, config) in exporters {
        let name = name.as_str().unwrap_or_default();
        let is_debug = name == "debug" || name.starts_with("debug/");
        let verbosity = config.get("verbosity").and_then(Value::as_str);
        if is_debug && verbosity == Some("detailed") {
            out.push(violation(
                path,
                "redact-no-detailed-debug",
                format!("exporter {name} prints full attribute values although --redact is on; use verbosity: normal"),
            ));
        }
    }
}

/// `redaction-fails-closed`: a redaction step whose statement errors must refuse the data
/// (`error_mode: propagate`); `ignore` would forward the content it failed to delete.
pub(super) fn lint_redaction_fails_closed(path: &str, doc: &Value, out: &mut Vec<Violation>) {
    let Some(processors) = doc.get("processors").and_then(Value::as_mapping) else {
        return;
    };
    for (name, config) in processors {
        let name = name.as_str().unwrap_or_default();
        if !name.starts_with("transform/redact") {
            continue;
        }
        let mode = config
            .get("error_mode")
            .and_then(Value::as_str)
            .unwrap_or("ignore");
        if mode != "propagate" {
            out.push(violation(
                path,
                "redaction-fails-closed",
                format!("processor {name} has error_mode {mode}, which forwards unredacted data when a statement fails; use propagate"),
            ));
        }
    }
}
