//! One module a subcommand.

pub mod backends;
pub mod check;
pub mod completions;
pub mod eject;
pub mod init;
pub mod man;
pub mod snippet;
pub mod verify;
