//! What `verify` prints: one line a check (`ok`, `FAIL` with its fix, `skip`), the checked
//! troubleshooting list, and the JSON document `{schema_version, checks, ok}`.

use serde::Serialize;

use crate::report::JSON_SCHEMA_VERSION;

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

impl Check {
    pub fn ok(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Ok,
            detail: detail.into(),
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
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    pub fn skip(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            status: Status::Skip,
            detail: detail.into(),
            fix: None,
        }
    }

    pub fn with_fix(mut self, fix: impl Into<String>) -> Check {
        self.fix = Some(fix.into());
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
