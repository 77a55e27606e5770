//! The `kneo-otel` binary: parse the command line, run it, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = kneo_otel::cli::Cli::parse();
    match kneo_otel::run(cli) {
        Ok(code) => code,
        // The reader of stdout went away (`kneo-otel backends | head`): end quietly, with the
        // status a shell gives a command killed by SIGPIPE, so a pipeline never turns a
        // failed `check` into a success.
        Err(error) if is_broken_pipe(&error) => ExitCode::from(141),
        Err(error) => {
            kneo_otel::errln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
