//! `kneo-otel verify`: checks a running stack end to end, from the catalog and the manifest.
//!
//! Steps: [`target`] resolves what to check (ports, health probes, OTLP endpoint, query API);
//! [`probe`] checks ports and health endpoints; [`net`] makes every connection, bounded by one
//! [`deadline`]; [`trace`] builds the test trace
//! that [`export`] sends; [`lookup`] polls the backend until [`response`] finds it; [`report`]
//! prints the checks and the troubleshooting list. Nothing is sent beyond the stack's endpoints.

pub mod deadline;
pub mod export;
pub mod lookup;
pub mod net;
pub mod probe;
pub mod progress;
pub mod report;
pub mod response;
pub mod target;
pub mod trace;
