//! Integration tests: every user-visible behaviour, through the real binary.

mod errors;
mod genai;
mod lifecycle;
mod picker;
mod stacks;
mod support;
mod toolchain;
