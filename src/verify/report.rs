//! What `verify` prints: one line a check (`ok`, `FAIL` with its fix, `skip`), the checked
//! troubleshooting list, and the JSON document `{schema_version, checks, ok}`.

use serde::Serialize;

use crate::report::JSON_SCHEMA_VERSION;
use crate::verify::target::Target;

/// Outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    /// Not run, or could not be decided (the detail says why); does not fail the run.
    Skip,
}

/// One check and its result.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// `text` without control characters (each becomes `�`): details quote what servers sent,
/// which must never reach a terminal as escape sequences.
pub fn printable(text: String) -> String {
    if !text.chars().any(char::is_control) {
        return text;
    }
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            detail: printable(detail.into()),
            fix: None,
        }
    }

    pub fn fail(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
    ) -> Check {
        Check {
            name: name.into(),
            status: Status::Fail,
            detail: printable(detail.into()),
            fix: Some(printable(fix.into())),
        }
    }

    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Skip,
            detail: printable(detail.into()),
            fix: None,
        }
    }

    /// A check not run because `--timeout` ran out before it.
    pub fn out_of_time(name: impl Into<String>) -> Check {
        Check::fail(
            name,
            "not run: --timeout ran out before this check",
            "re-run with a longer --timeout, e.g. --timeout 60s",
        )
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(printable(fix.into()));
        self
    }

    /// The check as one line of text.
    pub fn line(&self) -> String {
        let label = match self.status {
            Status::Ok => "ok  ",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        match &self.fix {
            Some(fix) => format!("{label}  {}: {} — fix: {fix}", self.name, self.detail),
            None => format!("{label}  {}: {}", self.name, self.detail),
        }
    }
}

#[derive(Serialize)]
struct VerifyJson<'a> {
    schema_version: u32,
    checks: &'a [Check],
    ok: bool,
}

/// True when no check failed.
pub fn all_passed(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

/// The stable JSON document.
pub fn json(checks: &[Check]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&VerifyJson {
        schema_version: JSON_SCHEMA_VERSION,
        checks,
        ok: all_passed(checks),
    })
}

/// One line of the checklist: `[x]` when `verify` proved it, `[ ]` for the app's side.
pub fn checklist_line(done: bool, text: &str) -> String {
    format!("  [{}] {text}", if done { "x" } else { " " })
}

pub fn print_summary(checks: &[Check]) -> std::io::Result<()> {
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let skipped = checks.iter().filter(|c| c.status == Status::Skip).count();
    let skipped = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    if failed == 0 {
        crate::outln!("\nall checks passed ({} run{skipped})", checks.len());
    } else {
        crate::outln!("\n{failed} of {} checks failed{skipped}", checks.len());
    }
    Ok(())
}

/// The troubleshooting list for "my app sends nothing", with what this run proved ticked.
pub fn print_checklist(target: &Target, checks: &[Check]) -> std::io::Result<()> {
    let passed = |name: &str| {
        checks
            .iter()
            .any(|c| c.name == name && c.status == Status::Ok)
    };
    let endpoint = target.otlp.url();
    let protocol = target.protocol.env_value();
    crate::outln!("\nIf your app's spans still do not show up:");
    crate::outln!(
        "{}",
        checklist_line(
            passed("export"),
            &format!("the stack accepts OTLP {protocol} at {endpoint}")
        )
    );
    if let Some(stack) = &target.stack {
        crate::outln!(
            "{}",
            checklist_line(
                passed("lookup"),
                &format!("a trace sent there comes back from {}", stack.title)
            )
        );
    }
    crate::outln!(
        "{}",
        checklist_line(false, "the app's environment (set before it starts):")
    );
    crate::outln!("        OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}");
    crate::outln!("        OTEL_EXPORTER_OTLP_PROTOCOL={protocol}");
    crate::outln!("        OTEL_SERVICE_NAME={}", target.service_name);
    // The rest of what `init` prints, e.g. `OTEL_METRICS_EXPORTER=none` on traces-only stacks.
    let covered = [
        "OTEL_EXPORTER_OTLP_ENDPOINT=",
        "OTEL_EXPORTER_OTLP_PROTOCOL=",
        "OTEL_SERVICE_NAME=",
    ];
    for line in target.stack.iter().flat_map(|s| &s.app_env) {
        if !covered.iter().any(|c| line.starts_with(c)) {
            let line = crate::context::app_env_from(line, &target.dir);
            crate::outln!("        {line}");
        }
    }
    for line in [
        "the tracer provider with its OTLP exporter is installed before the first span or client is created (earlier spans go to a no-op tracer)",
        "the app shuts the tracer provider down (flushes) before it exits; batch exporters drop what is still queued",
        "run the app once with OTEL_LOG_LEVEL=debug: the SDK then logs every failed export",
        "an app in a container: on Linux it joins the stack's network (`docker run --network <project>_default`) and sends to the service by name; with Docker Desktop host.docker.internal works too; 127.0.0.1 is the container itself",
    ] {
        crate::outln!("{}", checklist_line(false, line));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape_is_stable() {
        let checks = vec![
            Check::ok("port otlp_http", "127.0.0.1:4318 accepts connections"),
            Check::fail("export", "connection refused", "docker compose up -d"),
            Check::skip("lookup", "no trace was accepted"),
        ];
        let value: serde_json::Value = serde_json::from_str(&json(&checks).unwrap()).unwrap();
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["ok"], false);
        assert_eq!(value["checks"][1]["status"], "fail");
        assert_eq!(value["checks"][1]["fix"], "docker compose up -d");
        assert!(value["checks"][0].get("fix").is_none());
        assert_eq!(value["checks"][2]["status"], "skip");
        assert!(all_passed(&checks[..1]));
        assert!(all_passed(&[checks[2].clone()]));
    }

    #[test]
    fn lines() {
        assert_eq!(
            Check::fail("export", "refused", "start it").line(),
            "FAIL  export: refused — fix: start it"
        );
        assert_eq!(Check::ok("a", "b").line(), "ok    a: b");
        assert_eq!(checklist_line(true, "x"), "  [x] x");
    }
}
