//! Integration tests: every user-visible behaviour, through the real binary.

mod errors;
mod lifecycle;
mod picker;
mod stacks;
mod support;
