//! Polls the backend's trace-by-id API until the test trace comes back or the deadline passes,
//! with a progress line on a terminal. Stacks without a query API get the log command instead.

use std::time::Duration;

use crate::verify::deadline::{Deadline, STEP_CAP};
use crate::verify::net::{self, Failure};
use crate::verify::progress::Progress;
use crate::verify::report::{Check, Status};
use crate::verify::response::count_spans;
use crate::verify::target::{Query, Stack, Target};
use crate::verify::trace::TestTrace;

const NAME: &str = "lookup";

/// Time between two lookups.
const POLL: Duration = Duration::from_millis(300);

/// Why no secret may go to the query API's port, if so: one of that port's health checks
/// did not pass (another program may hold it) or none checks it. `checks`: the run so far.
fn unproven(stack: &Stack, query: &Query, checks: &[Check]) -> Option<String> {
    let mut probes = stack
        .health
        .iter()
        .filter(|p| p.port == query.port)
        .peekable();
    if probes.peek().is_none() {
        return Some(format!(
            "no health check shows what listens on port {}",
            query.port
        ));
    }
    probes.find_map(|probe| {
        let name = format!("health {}", probe.name);
        match checks.iter().find(|c| c.name == name) {
            Some(check) if check.status == Status::Ok => None,
            Some(_) => Some(format!(
                "`{name}` did not pass on port {}, so another program may hold it",
                query.port
            )),
            None => Some(format!("`{name}` did not run")),
        }
    })
}

/// Looks the exported trace up by its id. `checks`: the checks run before it, whose health
/// results decide whether a secret may go to the query API.
pub fn lookup(
    target: &Target,
    trace: &TestTrace,
    api_key: Option<&str>,
    checks: &[Check],
    deadline: &Deadline,
) -> Check {
    let id = trace.trace_id_hex();
    let dir = target.dir.display();
    let Some(stack) = &target.stack else {
        return Check::skip(
            NAME,
            format!(
                "no kneo-otel.yaml in {dir}: the backend is unknown, so trace {id} is not looked up"
            ),
        );
    };
    let Some(query) = &stack.query else {
        return Check::ok(
            NAME,
            format!(
                "{} has no query API; the export was accepted, see the spans in its log: {} | grep {id}",
                stack.title,
                target.logs(&stack.otlp_service)
            ),
        );
    };
    let mut headers = vec![("Accept", "application/json")];
    let authorization = query
        .bearer
        .as_ref()
        .map(|b| format!("Bearer {}", b.secret));
    if let Some(value) = &authorization {
        headers.push(("Authorization", value));
    }
    let mut secret = query.bearer.as_ref().map(|b| b.source.clone());
    if let Some(spec) = &query.api_key {
        match api_key {
            Some(key) => {
                headers.push((spec.header.as_str(), key));
                secret = Some(format!("the {} header", spec.header));
            }
            None => {
                return Check::skip(
                    NAME,
                    format!(
                        "{}'s query API needs an API key: trace {id} was not looked up",
                        stack.title
                    ),
                )
                .with_fix(format!("pass {}; {}", spec.pass, spec.create));
            }
        }
    }
    // The query API is plain HTTP on 127.0.0.1 (loopback only; the program serves no TLS):
    // its secret goes only to a port the health checks showed to be the stack's own.
    if let Some(secret) = secret
        && let Some(why) = unproven(stack, query, checks)
    {
        return Check::skip(
            NAME,
            format!(
                "trace {id} was not looked up: {}'s query API takes a secret ({secret}), not sent because {why}",
                stack.title
            ),
        )
        .with_fix(format!(
            "see the failed health check: free port {} or move the stack with {}, then re-run verify",
            query.port,
            target.init_set(&format!("ports.{}=<free port>", query.port_key))
        ));
    }
    let url = query.url.replace("{id}", &id);
    let wanted = trace.span_ids.len();
    let mut progress = Progress::new(format!("waiting for trace {id} in {}", stack.title));
    let mut last = String::new();
    loop {
        progress.tick();
        match net::get(&url, &headers, deadline.step(STEP_CAP)) {
            Ok(reply) if (200..300).contains(&reply.status) => {
                match count_spans(query.kind, &reply.body, &trace.trace_id) {
                    Ok(found) if found >= wanted => {
                        return Check::ok(
                            NAME,
                            format!(
                                "{} returned trace {id} with its {wanted} spans ({url})",
                                stack.title
                            ),
                        );
                    }
                    Ok(found) => last = format!("{found} of {wanted} spans so far"),
                    Err(error) => {
                        last = format!("unexpected answer ({error:#}): {}", reply.snippet())
                    }
                }
            }
            Ok(reply) if matches!(reply.status, 401 | 403) => {
                let fix = match &query.api_key {
                    Some(spec) => format!(
                        "the API key was refused: pass a valid one ({}); {}",
                        spec.pass, spec.create
                    ),
                    None => target.logs(&query.service),
                };
                return Check::fail(
                    NAME,
                    format!("GET {url} answered {}: {}", reply.status, reply.snippet()),
                    fix,
                );
            }
            Ok(reply) if reply.status == 404 => last = "not found yet (404)".to_string(),
            Ok(reply) => last = format!("answered {}: {}", reply.status, reply.snippet()),
            // A request the deadline cut short says less than the answer before it.
            Err(Failure::Timeout) if deadline.expired() && !last.is_empty() => {}
            Err(failure) => last = failure.describe(),
        }
        let left = deadline.remaining();
        if left.is_zero() {
            break;
        }
        std::thread::sleep(POLL.min(left));
    }
    progress.finish();
    Check::fail(
        NAME,
        format!("trace {id} did not come back from GET {url} before the timeout: {last}"),
        format!(
            "the receiver accepted it but {} does not return it yet: re-run with a longer --timeout (e.g. 60s); if it never shows, {}",
            stack.title,
            target.logs(&query.service)
        ),
    )
}
