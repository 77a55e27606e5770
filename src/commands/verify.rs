//! `kneo-otel verify`: checks a running stack (ports, health, a test trace in and out) and
//! prints one line a check with its fix. Exit 0 all passed, 1 a check failed, 2 usage error.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Format, VerifyArgs};
use crate::verify::deadline::{Deadline, parse_timeout};
use crate::verify::report::{self, Check, Status};
use crate::verify::{export, lookup, probe, target, trace};

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let timeout = parse_timeout(&args.timeout)?;
    let target = target::resolve(&args.dir, args.endpoint.as_deref(), args.protocol)?;
    let api_key = args
        .signoz_api_key
        .or_else(|| std::env::var("SIGNOZ_API_KEY").ok())
        .filter(|key| !key.trim().is_empty());
    let deadline = Deadline::after(timeout);
    let text = args.format == Format::Text;
    let mut checks: Vec<Check> = Vec::new();
    let mut fixes_shown: Vec<String> = Vec::new();
    let mut emit = |checks: &mut Vec<Check>, check: Check| {
        if text {
            // The same fix (start the stack) for several checks is spelled out once.
            let mut shown = check.clone();
            if let Some(fix) = &check.fix {
                if fixes_shown.contains(fix) {
                    shown.fix = Some("as above".to_string());
                } else {
                    fixes_shown.push(fix.clone());
                }
            }
            // A closed stdout must not stop the checks; main ends quietly afterwards.
            use std::io::Write as _;
            let _ = writeln!(std::io::stdout(), "{}", shown.line());
        }
        checks.push(check);
    };

    if let Some(stack) = &target.stack {
        let mut refused = Vec::new();
        for port in &stack.ports {
            if deadline.expired() {
                emit(
                    &mut checks,
                    Check::out_of_time(format!("port {}", port.key)),
                );
                continue;
            }
            let check = probe::port(&target, port, &deadline);
            if check.status == Status::Fail {
                refused.push(port.port);
            }
            emit(&mut checks, check);
        }
        for probe in &stack.health {
            let name = format!("health {}", probe.name);
            if refused.contains(&probe.port) {
                emit(
                    &mut checks,
                    Check::skip(name, format!("{}: its port is down", probe.url)),
                );
                continue;
            }
            if deadline.expired() {
                emit(&mut checks, Check::out_of_time(name));
                continue;
            }
            emit(&mut checks, probe::health(&target, &name, probe, &deadline));
        }
    }
    let stack_port = target.stack.as_ref().is_some_and(|s| {
        target.otlp.is_loopback() && s.ports.iter().any(|p| p.port == target.otlp.port)
    });
    if !stack_port {
        emit(&mut checks, probe::endpoint(&target, &deadline));
    }

    let test_trace = trace::build(&target.service_name);
    let export = if deadline.expired() {
        Check::out_of_time("export")
    } else {
        export::send(&target, &test_trace, &deadline)
    };
    let exported = export.status == Status::Ok;
    emit(&mut checks, export);
    if exported && deadline.expired() {
        emit(&mut checks, Check::out_of_time("lookup"));
    } else if exported {
        let check = lookup::lookup(&target, &test_trace, api_key.as_deref(), &checks, &deadline);
        emit(&mut checks, check);
    } else {
        emit(
            &mut checks,
            Check::skip("lookup", "no trace was accepted, so none is looked up"),
        );
    }

    let passed = report::all_passed(&checks);
    if text {
        report::print_summary(&checks)?;
        report::print_checklist(&target, &checks)?;
    } else {
        crate::outln!("{}", report::json(&checks)?);
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
