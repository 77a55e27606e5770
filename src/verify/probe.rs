//! The reachability checks of `verify`: every published port accepts TCP on 127.0.0.1, every
//! health endpoint of the catalog answers 2xx with the body the catalog expects, and an `--endpoint` outside the stack accepts TCP.

use crate::verify::deadline::{Deadline, STEP_CAP};
use crate::verify::net::{self, Failure};
use crate::verify::report::Check;
use crate::verify::target::{Probe, PublishedPort, Target};

pub fn port(target: &Target, port: &PublishedPort, deadline: &Deadline) -> Check {
    let name = format!("port {}", port.key);
    let at = format!("127.0.0.1:{}", port.port);
    let what = format!("{at} ({}: {})", port.service, port.purpose);
    match net::tcp_connect("127.0.0.1", port.port, deadline.step(STEP_CAP)) {
        Ok(()) => Check::ok(name, format!("{what} accepts connections")),
        Err(failure) => Check::fail(
            name,
            format!("{what}: {}", failure.describe()),
            target.start_fix(),
        ),
    }
}

pub fn health(target: &Target, name: &str, probe: &Probe, deadline: &Deadline) -> Check {
    let (url, service) = (&probe.url, &probe.service);
    let logs = target.logs(service);
    let clash = format!(
        "another program may hold port {port} (`{}` shows it): move this stack with {}",
        super::target::port_owner_command(probe.port),
        target.init_set(&format!("ports.{}=<free port>", probe.port_key)),
        port = probe.port,
    );
    match net::get(url, &[], deadline.step(STEP_CAP)) {
        Ok(reply) if (200..300).contains(&reply.status) => match probe.expect.check(&reply.body) {
            Ok(said) => Check::ok(
                name,
                format!("GET {url} answered {} ({said})", reply.status),
            ),
            Err(why) => Check::fail(
                name,
                format!(
                    "GET {url} answered {} but {why}: {}",
                    reply.status,
                    reply.snippet()
                ),
                format!("this is not {service}'s health endpoint: {clash}"),
            ),
        },
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
            target.start_fix(),
        ),
        Err(failure) => Check::fail(
            name,
            format!("GET {url}: {}", failure.describe()),
            format!("{service} does not answer as expected: {logs}; or {clash}"),
        ),
    }
}

/// TCP check of an `--endpoint` that is not one of the stack's ports.
pub fn endpoint(target: &Target, deadline: &Deadline) -> Check {
    let name = "port endpoint";
    let at = target.otlp.authority();
    match net::tcp_connect(&target.otlp.host, target.otlp.port, deadline.step(STEP_CAP)) {
        Ok(()) => Check::ok(name, format!("{at} accepts connections")),
        Err(failure) => Check::fail(
            name,
            format!("{at}: {}", failure.describe()),
            match &target.stack {
                Some(_) => target.start_fix(),
                None => format!("start the OTLP receiver at {at}, or fix --endpoint"),
            },
        ),
    }
}
