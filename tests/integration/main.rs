//! Integration tests: every user-visible behaviour, through the real binary.

mod errors;
mod first_hour;
mod genai;
mod lifecycle;
mod otlp_receiver;
mod picker;
mod release;
mod snippet;
mod snippet_python;
mod snippet_smoke;
mod stacks;
mod support;
mod toolchain;
mod verify;
