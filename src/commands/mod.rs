//! One module a subcommand.

pub mod backends;
pub mod check;
pub mod eject;
pub mod init;
pub mod snippet;
