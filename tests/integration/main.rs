//! Integration tests: every user-visible behaviour, through the real binary.

mod errors;
mod stacks;
mod support;
