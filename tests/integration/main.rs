//! Integration tests: every user-visible behaviour, through the real binary.

mod errors;
mod lifecycle;
mod otlp_receiver;
mod picker;
mod snippet;
mod snippet_smoke;
mod stacks;
mod support;
