//! Message-size rules: every hop of a stack takes what the hop before it sends, so a large
//! span is carried whole or refused to the app, never dropped between two collectors.
//!
//! - `hop-message-sizes`: byte-capped batches, and receivers (including those whose program
//!   fixes its limit, recorded as `x-otlp-receive-limits`) that take a full batch plus framing.

use serde_yaml::Value;

use super::{Violation, violation, walk};

/// gRPC's default receive limit when a receiver names none.
const GRPC_DEFAULT_RECV: u64 = 4 << 20;
/// Room for protobuf framing around a batch of `max_size` bytes.
const FRAMING: u64 = 1 << 20;

/// An OTLP receiver's limits in bytes: (gRPC message, HTTP body).
fn otlp_receive_limits(doc: &Value) -> Vec<(String, u64, Option<u64>)> {
    let mut found = Vec::new();
    walk(doc, &mut Vec::new(), &mut |trail, value| {
        if trail.last().map(String::as_str) != Some("protocols") {
            return;
        }
        let grpc = value.get("grpc").map(|grpc| {
            grpc.get("max_recv_msg_size_mib")
                .and_then(Value::as_u64)
                .map_or(GRPC_DEFAULT_RECV, |mib| mib << 20)
        });
        let http = value
            .get("http")
            .and_then(|http| http.get("max_request_body_size"))
            .and_then(Value::as_u64);
        if let Some(grpc) = grpc {
            found.push((trail.join("."), grpc, http));
        }
    });
    found
}

/// The compose extension field recording OTLP receive limits a service's program fixes
/// (`service: {grpc_mib: N, http_mib: M}`; a protocol left out has no limit).
pub const OTLP_RECEIVE_LIMITS: &str = "x-otlp-receive-limits";

/// The receive limit (bytes) `fixed` records for the service an exporter sends to, in the
/// exporter's protocol.
fn fixed_limit(fixed: &Value, exporter: &str, config: &Value) -> Option<(String, u64)> {
    let kind = exporter.split('/').next().unwrap_or(exporter);
    let protocol = match kind {
        "otlp_http" | "otlphttp" => "http_mib",
        "otlp_grpc" | "otlp" => "grpc_mib",
        _ => return None,
    };
    let endpoint = config.get("endpoint").and_then(Value::as_str)?;
    let host = endpoint
        .split_once("://")
        .map_or(endpoint, |(_, rest)| rest)
        .split([':', '/'])
        .next()?;
    let mib = fixed.get(host)?.get(protocol)?.as_u64()?;
    Some((host.to_string(), mib << 20))
}

/// `hop-message-sizes`: a request is either carried whole or refused to the app. Where a
/// collector batches for the next hop (`sending_queue.batch`), the batch is cut by bytes, every
/// request it accepts fits one batch, and every other OTLP receiver of the stack takes a full
/// batch plus framing (the gRPC exporter does not retry RESOURCE_EXHAUSTED), including a
/// receiver whose program fixes its limit (`x-otlp-receive-limits` in the compose file).
pub(super) fn lint_hop_sizes(configs: &[(&str, Value)], fixed: &Value, out: &mut Vec<Violation>) {
    for (path, doc) in configs {
        let Some(exporters) = doc.get("exporters").and_then(Value::as_mapping) else {
            continue;
        };
        for (name, exporter) in exporters {
            let name = name.as_str().unwrap_or_default();
            let Some(batch) = exporter.get("sending_queue").and_then(|q| q.get("batch")) else {
                continue;
            };
            let sizer = batch
                .get("sizer")
                .and_then(Value::as_str)
                .unwrap_or("items");
            let max = batch.get("max_size").and_then(Value::as_u64).unwrap_or(0);
            if sizer != "bytes" || max == 0 {
                out.push(violation(
                    path,
                    "hop-message-sizes",
                    format!("exporter {name} batches without a byte cap (sizer: bytes, max_size); a batch of large spans can pass the next hop's limit and is dropped"),
                ));
                continue;
            }
            for (at, grpc, http) in otlp_receive_limits(doc) {
                let largest = grpc.max(http.unwrap_or(20 << 20));
                if largest > max {
                    out.push(violation(
                        path,
                        "hop-message-sizes",
                        format!("{at} accepts requests of {largest} bytes, more than exporter {name}'s batches of {max}: a larger span would be dropped"),
                    ));
                }
            }
            if let Some((service, limit)) = fixed_limit(fixed, name, exporter)
                && limit < max + FRAMING
            {
                out.push(violation(
                    path,
                    "hop-message-sizes",
                    format!("exporter {name} sends batches of {max} bytes to {service}, whose program takes {limit} bytes in that protocol ({OTLP_RECEIVE_LIMITS}); forward in a protocol it takes a full batch in"),
                ));
            }
            for (other, other_doc) in configs.iter().filter(|(p, _)| p != path) {
                for (at, grpc, _) in otlp_receive_limits(other_doc) {
                    if grpc < max + FRAMING {
                        out.push(violation(
                            other,
                            "hop-message-sizes",
                            format!("{at} takes gRPC messages up to {grpc} bytes, less than a full batch of {max} bytes from {path} plus framing; raise max_recv_msg_size_mib"),
                        ));
                    }
                }
            }
        }
    }
}
