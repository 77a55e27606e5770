//! Integration tests: every user-visible behaviour, through the real binary.

mod errors;
mod exposed;
mod first_hour;
mod genai;
mod genai_traffic;
mod harness;
mod kubernetes;
mod kubernetes_dry_run;
mod lifecycle;
mod otlp_receiver;
mod phoenix;
mod picker;
mod real_backends;
mod real_configs;
mod real_fixtures;
mod real_phoenix;
mod release;
mod safety;
mod snippet;
mod snippet_python;
mod snippet_smoke;
mod stacks;
mod support;
mod toolchain;
mod untrusted;
mod verify;
