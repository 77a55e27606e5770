//! `kneo-otel verify`: checks a running stack (ports, health, a test trace in and out) and
//! prints one line a check with its fix. Exit 0 all passed, 1 a check failed, 2 usage error.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Format, VerifyArgs};
use crate::verify::deadline::{Deadline, STEP_CAP, parse_timeout};
use crate::verify::net::{self, Failure};
use crate::verify::report::{self, Check, Status, checklist_line};
use crate::verify::target::{self, Probe, PublishedPort, Target};
use crate::verify::{export, lookup, trace};

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
    let mut emit = |check: Check| {
        if text {
            println!("{}", check.line());
        }
        checks.push(check);
    };

    if let Some(stack) = &target.stack {
        let mut refused = Vec::new();
        for port in &stack.ports {
            let check = port_check(&target, port, &deadline);
            if check.status == Status::Fail {
                refused.push(port.port);
            }
            emit(check);
        }
        for probe in &stack.health {
            let name = format!("health {}", probe.name);
            if refused.contains(&probe.port) {
                emit(Check::skip(
                    name,
                    format!("{}: its port is down", probe.url),
                ));
                continue;
            }
            emit(health_check(&target, &name, probe, &deadline));
        }
    }
    let stack_port = target.stack.as_ref().is_some_and(|s| {
        target.otlp.is_loopback() && s.ports.iter().any(|p| p.port == target.otlp.port)
    });
    if !stack_port {
        emit(endpoint_check(&target, &deadline));
    }

    let test_trace = trace::build(&target.service_name);
    let export = export::send(&target, &test_trace, &deadline);
    let exported = export.status == Status::Ok;
    emit(export);
    if exported {
        emit(lookup::lookup(
            &target,
            &test_trace,
            api_key.as_deref(),
            &deadline,
        ));
    } else {
        emit(Check::skip(
            "lookup",
            "no trace was accepted, so none is looked up",
        ));
    }

    let passed = report::all_passed(&checks);
    if text {
        print_summary(&checks);
        print_checklist(&target, &checks);
    } else {
        println!("{}", report::json(&checks)?);
    }
    Ok(if passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn start_fix(target: &Target) -> String {
    format!(
        "start the stack: cd {} && docker compose up -d",
        target.dir.display()
    )
}

fn port_check(target: &Target, port: &PublishedPort, deadline: &Deadline) -> Check {
    let name = format!("port {}", port.key);
    let at = format!("127.0.0.1:{}", port.port);
    let what = format!("{at} ({}: {})", port.service, port.purpose);
    match net::tcp_connect("127.0.0.1", port.port, deadline.step(STEP_CAP)) {
        Ok(()) => Check::ok(name, format!("{what} accepts connections")),
        Err(failure) => Check::fail(
            name,
            format!("{what}: {}", failure.describe()),
            format!(
                "{}; if `up` says port {} is already allocated, another program holds it: kneo-otel init --dir {} --set ports.{}=<free port>",
                start_fix(target),
                port.port,
                target.dir.display(),
                port.key
            ),
        ),
    }
}

fn health_check(target: &Target, name: &str, probe: &Probe, deadline: &Deadline) -> Check {
    let (url, service) = (&probe.url, &probe.service);
    let logs = format!(
        "cd {} && docker compose logs {service}",
        target.dir.display()
    );
    let clash = format!(
        "another program may hold port {port} (`ss -ltnp 'sport = :{port}'` shows it): move this stack with kneo-otel init --dir {} --set ports.{}=<free port>",
        target.dir.display(),
        probe.port_key,
        port = probe.port,
    );
    match net::get(url, &[], deadline.step(STEP_CAP)) {
        Ok(reply) if (200..300).contains(&reply.status) => {
            Check::ok(name, format!("GET {url} answered {}", reply.status))
        }
        Ok(reply) if reply.status == 404 => Check::fail(
            name,
            format!("GET {url} answered 404: {}", reply.snippet()),
            format!("{service} would serve this path: {clash}"),
        ),
        Ok(reply) => Check::fail(
            name,
            format!("GET {url} answered {}: {}", reply.status, reply.snippet()),
            format!("{service} is not ready: wait a few seconds and re-run; if it stays, {logs}"),
        ),
        Err(Failure::Refused) => Check::fail(
            name,
            format!("GET {url}: connection refused"),
            start_fix(target),
        ),
        Err(failure) => Check::fail(
            name,
            format!("GET {url}: {}", failure.describe()),
            format!("{service} does not answer as expected: {logs}; or {clash}"),
        ),
    }
}

/// TCP check of an `--endpoint` that is not one of the stack's ports.
fn endpoint_check(target: &Target, deadline: &Deadline) -> Check {
    let name = "port endpoint";
    let at = target.otlp.authority();
    match net::tcp_connect(&target.otlp.host, target.otlp.port, deadline.step(STEP_CAP)) {
        Ok(()) => Check::ok(name, format!("{at} accepts connections")),
        Err(failure) => Check::fail(
            name,
            format!("{at}: {}", failure.describe()),
            match &target.stack {
                Some(_) => start_fix(target),
                None => format!("start the OTLP receiver at {at}, or fix --endpoint"),
            },
        ),
    }
}

fn print_summary(checks: &[Check]) {
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    let skipped = checks.iter().filter(|c| c.status == Status::Skip).count();
    let skipped = if skipped > 0 {
        format!(", {skipped} skipped")
    } else {
        String::new()
    };
    if failed == 0 {
        println!("\nall checks passed ({} run{skipped})", checks.len());
    } else {
        println!("\n{failed} of {} checks failed{skipped}", checks.len());
    }
}

/// The troubleshooting list for "my app sends nothing", with what this run proved ticked.
fn print_checklist(target: &Target, checks: &[Check]) {
    let passed = |name: &str| {
        checks
            .iter()
            .any(|c| c.name == name && c.status == Status::Ok)
    };
    let endpoint = target.otlp.url();
    let protocol = target.protocol.env_value();
    println!("\nIf your app's spans still do not show up:");
    println!(
        "{}",
        checklist_line(
            passed("export"),
            &format!("the stack accepts OTLP {protocol} at {endpoint}")
        )
    );
    if let Some(stack) = &target.stack {
        println!(
            "{}",
            checklist_line(
                passed("lookup"),
                &format!("a trace sent there comes back from {}", stack.title)
            )
        );
    }
    println!(
        "{}",
        checklist_line(false, "the app's environment (set before it starts):")
    );
    println!("        OTEL_EXPORTER_OTLP_ENDPOINT={endpoint}");
    println!("        OTEL_EXPORTER_OTLP_PROTOCOL={protocol}");
    println!("        OTEL_SERVICE_NAME={}", target.service_name);
    for line in [
        "the tracer provider with its OTLP exporter is installed before the first span or client is created (earlier spans go to a no-op tracer)",
        "the app shuts the tracer provider down (flushes) before it exits; batch exporters drop what is still queued",
        "run the app once with OTEL_LOG_LEVEL=debug: the SDK then logs every failed export",
        "an app in a container reaches the host via host.docker.internal, not 127.0.0.1",
    ] {
        println!("{}", checklist_line(false, line));
    }
}
