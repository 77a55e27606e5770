//! Sends the test trace over OTLP the way an app would (HTTP/protobuf with ureq, or gRPC with
//! tonic on a current-thread runtime) and turns every failure into a concrete fix.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message;

use crate::domain::Protocol;
use crate::verify::deadline::{Deadline, STEP_CAP};
use crate::verify::net::{self, Failure};
use crate::verify::report::Check;
use crate::verify::target::Target;
use crate::verify::trace::TestTrace;

const NAME: &str = "export";

/// Sends `trace` to the target's OTLP endpoint; `ok` when the receiver accepted every span.
pub fn send(target: &Target, trace: &TestTrace, deadline: &Deadline) -> Check {
    let result = match target.protocol {
        Protocol::HttpProtobuf => send_http(target, trace, deadline),
        Protocol::Grpc => send_grpc(target, trace, deadline),
    };
    match result {
        Ok(check) => check,
        Err(failure) => failed(target, &failure, deadline),
    }
}

fn accepted(
    target: &Target,
    trace: &TestTrace,
    partial: Option<ExportTracePartialSuccess>,
) -> Check {
    let spans = trace.span_ids.len();
    let at = match target.protocol {
        Protocol::HttpProtobuf => target.otlp.traces_url(),
        Protocol::Grpc => target.otlp.base(),
    };
    if let Some(partial) = partial.filter(|p| p.rejected_spans > 0) {
        return Check::fail(
            NAME,
            format!(
                "{at} rejected {} of {spans} spans: {}",
                partial.rejected_spans, partial.error_message
            ),
            logs_fix(target),
        );
    }
    Check::ok(
        NAME,
        format!(
            "OTLP {} to {at} accepted trace {} ({spans} spans, service.name={})",
            target.protocol.env_value(),
            trace.trace_id_hex(),
            target.service_name
        ),
    )
}

fn send_http(target: &Target, trace: &TestTrace, deadline: &Deadline) -> Result<Check, Failure> {
    let url = target.otlp.traces_url();
    let body = trace.request.encode_to_vec();
    let reply = net::post(
        &url,
        "application/x-protobuf",
        &body,
        deadline.step(STEP_CAP),
        target.front_door.as_ref(),
    )?;
    Ok(match reply.status {
        // Accepted only with a parsed ExportTraceServiceResponse (an empty body is the empty
        // message): a 2xx with anything else is not an OTLP receiver.
        200..=299 => match ExportTraceServiceResponse::decode(reply.body.as_slice()) {
            Ok(response) => accepted(target, trace, response.partial_success),
            Err(_) => Check::fail(
                NAME,
                format!(
                    "POST {url} answered {} but not with an OTLP ExportTraceServiceResponse: {}",
                    reply.status,
                    reply.snippet()
                ),
                format!(
                    "this is not an OTLP/HTTP receiver; {}",
                    front_door_hint(target)
                ),
            ),
        },
        404 => Check::fail(
            NAME,
            format!("POST {url} answered 404 Not Found"),
            not_found_fix(target),
        ),
        401 => Check::fail(
            NAME,
            format!("POST {url} answered 401 Unauthorized: {}", reply.snippet()),
            token_fix(target),
        ),
        415 => Check::fail(
            NAME,
            format!("POST {url} answered 415: it does not take application/x-protobuf"),
            format!(
                "this is not an OTLP/HTTP receiver; {}",
                front_door_hint(target)
            ),
        ),
        status => Check::fail(
            NAME,
            format!("POST {url} answered {status}: {}", reply.snippet()),
            logs_fix(target),
        ),
    })
}

fn send_grpc(target: &Target, trace: &TestTrace, deadline: &Deadline) -> Result<Check, Failure> {
    if target.otlp.scheme == "https" && target.front_door.is_none() {
        return Ok(Check::fail(
            NAME,
            format!("{} asks for gRPC over TLS", target.otlp.url()),
            format!(
                "kneo-otel stacks take OTLP without TLS on 127.0.0.1: use http://{} (verify sends gRPC in plaintext only)",
                target.otlp.authority()
            ),
        ));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Other(format!("cannot start the gRPC runtime: {e}")))?;
    let step = deadline.step(STEP_CAP);
    let uri = format!("{}://{}", target.otlp.scheme, target.otlp.authority());
    let mut request = tonic::Request::new(trace.request.clone());
    if let Some(front_door) = &target.front_door {
        let value = format!("Bearer {}", front_door.token)
            .parse()
            .map_err(|_| Failure::Other("the token is not a valid header value".into()))?;
        request.metadata_mut().insert("authorization", value);
    }
    let tls = target.front_door.as_ref().map(|front_door| {
        tonic::transport::ClientTlsConfig::new()
            .ca_certificate(tonic::transport::Certificate::from_pem(&front_door.ca_pem))
            .domain_name(target.otlp.host.clone())
    });
    runtime.block_on(async move {
        let mut endpoint = tonic::transport::Endpoint::from_shared(uri)
            .map_err(|e| Failure::Other(e.to_string()))?
            .connect_timeout(step)
            .timeout(step);
        if let Some(tls) = tls {
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| Failure::Other(e.to_string()))?;
        }
        let channel = match tokio::time::timeout(step, endpoint.connect()).await {
            Err(_) => return Err(Failure::Timeout),
            Ok(Err(error)) => return Err(transport_failure(&error)),
            Ok(Ok(channel)) => channel,
        };
        let mut client = TraceServiceClient::new(channel);
        // The connect used part of the budget: what is left bounds the export.
        let step = deadline.step(STEP_CAP);
        match tokio::time::timeout(step, client.export(request)).await {
            Err(_) => Err(Failure::Timeout),
            Ok(Ok(response)) => Ok(accepted(
                target,
                trace,
                response.into_inner().partial_success,
            )),
            Ok(Err(status)) => status_check(target, &status),
        }
    })
}

/// The io error deepest in a transport error's chain, classified.
fn transport_failure(error: &(dyn std::error::Error + 'static)) -> Failure {
    let mut source = Some(error);
    while let Some(e) = source {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return net::tls_failure(tls);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return net::tls_failure(tls);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => return Failure::Refused,
                std::io::ErrorKind::TimedOut => return Failure::Timeout,
                _ => {}
            }
        }
        source = e.source();
    }
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        message = format!("{message}: {e}");
        source = e.source();
    }
    if message.contains("timed out") {
        Failure::Timeout
    } else {
        Failure::NotHttp(message)
    }
}

fn status_check(target: &Target, status: &tonic::Status) -> Result<Check, Failure> {
    use tonic::Code;
    let message = status.message();
    match status.code() {
        Code::DeadlineExceeded | Code::Cancelled => Err(Failure::Timeout),
        Code::Unauthenticated => Ok(Check::fail(
            NAME,
            format!(
                "{} refused the export: UNAUTHENTICATED: {message}",
                target.otlp.authority()
            ),
            token_fix(target),
        )),
        Code::Unimplemented => Ok(Check::fail(
            NAME,
            format!(
                "{} is a gRPC server without the OTLP TraceService ({message})",
                target.otlp.authority()
            ),
            format!(
                "send OTLP to the collector's OTLP port; {}",
                front_door_hint(target)
            ),
        )),
        Code::Unavailable | Code::Unknown | Code::Internal
            if message.contains("transport")
                || message.contains("h2")
                || message.contains("protocol") =>
        {
            let mut text = message.to_string();
            if let Some(source) = std::error::Error::source(status) {
                text = format!("{text}: {source}");
            }
            Err(Failure::NotHttp(text))
        }
        code => Ok(Check::fail(
            NAME,
            format!(
                "{} refused the export: {code:?}: {message}",
                target.otlp.authority()
            ),
            logs_fix(target),
        )),
    }
}

fn start_fix(target: &Target) -> String {
    match &target.stack {
        Some(_) => target.start_fix(),
        None => format!(
            "start the OTLP receiver at {}, or point --endpoint at a running one",
            target.otlp.base()
        ),
    }
}

/// The front door wants a token this run did not have, or not this one.
fn token_fix(target: &Target) -> String {
    match &target.front_door {
        Some(_) => format!(
            "the front door does not take the token in {}: the stack runs with other secrets than this folder holds (made anew while it ran?); restart it so it reads secrets/front-door.env: {}",
            target.dir.join(crate::context::TOKEN_FILE).display(),
            target.in_dir("docker compose up -d --force-recreate")
        ),
        None => format!(
            "the receiver wants a bearer token: give the app OTEL_EXPORTER_OTLP_HEADERS=Authorization=Bearer%20<token>; {}",
            logs_fix(target)
        ),
    }
}

fn logs_fix(target: &Target) -> String {
    match &target.stack {
        Some(stack) => format!("see why: {}", target.logs(&stack.otlp_service)),
        None => format!("see the logs of the receiver at {}", target.otlp.base()),
    }
}

/// `kneo-otel init --set ports.<key>=…` for the stack port this endpoint uses.
fn move_port_fix(target: &Target) -> Option<String> {
    let stack = target.stack.as_ref()?;
    let port = stack.ports.iter().find(|p| p.port == target.otlp.port)?;
    Some(format!(
        "if another program holds port {} (`{}` shows it), move this stack: {} and restart it",
        port.port,
        super::target::port_owner_command(port.port),
        target.init_set(&format!("ports.{}=<free port>", port.key))
    ))
}

/// Where the stack takes OTLP for each protocol.
fn front_door_hint(target: &Target) -> String {
    match &target.stack {
        Some(stack) => {
            let doors: Vec<String> = stack
                .otlp_endpoints
                .iter()
                .map(|(marker, url)| {
                    let name = if marker == "grpc" {
                        "grpc"
                    } else {
                        "http/protobuf"
                    };
                    format!("{name} → {url}")
                })
                .collect();
            format!("this stack takes OTLP at {}", doors.join(", "))
        }
        None => "OTLP/HTTP receivers listen on 4318 and OTLP/gRPC on 4317 by default".to_string(),
    }
}

fn not_found_fix(target: &Target) -> String {
    let base = target.otlp.base();
    if target.otlp.path.is_empty() {
        format!(
            "this port answers HTTP but has no /v1/traces, so it is not an OTLP/HTTP receiver; {}",
            front_door_hint(target)
        )
    } else {
        format!(
            "`{}` is not an OTLP path: set OTEL_EXPORTER_OTLP_ENDPOINT={base} (the SDK appends /v1/traces), or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={base}/v1/traces (the full URL, /v1/traces included)",
            target.otlp.path
        )
    }
}

/// The other protocol's port, when the endpoint points at it.
fn wrong_door(target: &Target) -> Option<String> {
    let stack = target.stack.as_ref()?;
    let port = stack.ports.iter().find(|p| p.port == target.otlp.port)?;
    let marker = port.otlp.as_deref()?;
    if marker == target.protocol.name() {
        return None;
    }
    let (other, flag) = if marker == "grpc" {
        ("OTLP/gRPC", "grpc")
    } else {
        ("OTLP/HTTP", "http/protobuf")
    };
    Some(format!(
        "port {} is the stack's {other} port: use --protocol {flag} (OTEL_EXPORTER_OTLP_PROTOCOL={flag}), or {}",
        port.port,
        front_door_hint(target)
    ))
}

fn failed(target: &Target, failure: &Failure, deadline: &Deadline) -> Check {
    let authority = target.otlp.authority();
    let what = format!(
        "OTLP {} to {}",
        target.protocol.env_value(),
        match target.protocol {
            Protocol::HttpProtobuf => target.otlp.traces_url(),
            Protocol::Grpc => target.otlp.base(),
        }
    );
    let detail = format!("{what}: {}", failure.describe());
    match failure {
        Failure::Refused => Check::fail(NAME, detail, start_fix(target)),
        Failure::Timeout => {
            let mut fix = format!(
                "{authority} accepts connections but does not answer: {}",
                logs_fix(target)
            );
            if let Some(moved) = move_port_fix(target) {
                fix = format!("{fix}; {moved}");
            }
            Check::fail(NAME, detail, fix)
        }
        Failure::Tls {
            certificate: true, ..
        } if target.front_door.is_some() => {
            let ca = target
                .front_door
                .as_ref()
                .map(|f| f.ca_file.display().to_string());
            Check::fail(
                NAME,
                detail,
                format!(
                    "the front door at {authority} presents a certificate that {} did not sign (or not for {}): the stack runs with other secrets than this folder holds; restart it so it reads secrets/front-door.env ({}), and give apps this folder's ca.crt; for a new host name add it with `--set expose.hosts=...`, delete secrets/ and re-run init",
                    ca.unwrap_or_default(),
                    target.otlp.host,
                    target.in_dir("docker compose up -d --force-recreate")
                ),
            )
        }
        Failure::Tls {
            certificate: true, ..
        } => Check::fail(
            NAME,
            detail,
            format!(
                "the TLS certificate of {authority} is not trusted: kneo-otel stacks speak plain http on 127.0.0.1, so use http://{authority}; for your own TLS endpoint give the app OTEL_EXPORTER_OTLP_CERTIFICATE=<ca.pem>"
            ),
        ),
        Failure::Tls { .. } if target.front_door.is_some() => Check::fail(
            NAME,
            detail,
            format!(
                "{authority} does not complete a TLS handshake: the stack may still run its configuration from before --expose; restart it: {}",
                target.in_dir("docker compose up -d --force-recreate")
            ),
        ),
        Failure::Tls { .. } if target.otlp.scheme == "https" => Check::fail(
            NAME,
            detail,
            format!(
                "{authority} does not speak TLS: use http://{authority}{} (kneo-otel stacks take OTLP without TLS on 127.0.0.1)",
                target.otlp.path
            ),
        ),
        _ => {
            let probe = deadline.step(Duration::from_secs(2));
            if target.otlp.scheme == "http" && net::speaks_tls(&authority, probe) {
                let mut fix = format!(
                    "{authority} expects TLS: use https://{authority}{} and, for a self-signed certificate, give the app OTEL_EXPORTER_OTLP_CERTIFICATE=<ca.pem>; kneo-otel stacks never use TLS, so another program may hold this port",
                    target.otlp.path
                );
                if let Some(moved) = move_port_fix(target) {
                    fix = format!("{fix}; {moved}");
                }
                Check::fail(NAME, format!("{detail} (it answers with TLS)"), fix)
            } else if let Some(hint) = wrong_door(target) {
                Check::fail(NAME, detail, hint)
            } else {
                let kind = match target.protocol {
                    Protocol::HttpProtobuf => "OTLP/HTTP",
                    Protocol::Grpc => "OTLP/gRPC",
                };
                let mut fix = format!(
                    "{authority} is not an {kind} receiver; {}",
                    front_door_hint(target)
                );
                if let Some(moved) = move_port_fix(target) {
                    fix = format!("{fix}; {moved}");
                }
                Check::fail(NAME, detail, fix)
            }
        }
    }
}
