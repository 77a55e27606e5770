//! The `kneo-otel` binary: parse the command line, run it, map the outcome to an exit code.
//! With `--format json` every error is a JSON object on stdout too (text stays on stderr).

use std::process::ExitCode;

use kneo_otel::cli::Format;
use kneo_otel::report::error_json;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let json = kneo_otel::cli::wants_json(&args);
    let cli = match kneo_otel::cli::parse_from(args) {
        Ok(cli) => cli,
        // Help and version are not errors; refused usage is (exit 2).
        Err(error) if json && error.use_stderr() => {
            let text = error.render().to_string();
            let message = text.trim().trim_start_matches("error: ");
            let message = message.split("\n\nUsage:").next().unwrap_or(message);
            let message = message
                .split("\n\nFor more information")
                .next()
                .unwrap_or(message);
            print_json_error(message, error.exit_code());
            let _ = error.print();
            return ExitCode::from(error.exit_code().clamp(0, 255) as u8);
        }
        Err(error) => error.exit(),
    };
    let json = cli.command.format() == Format::Json;
    match kneo_otel::run(cli) {
        Ok(code) => code,
        // The reader of stdout went away (`kneo-otel backends | head`): end quietly, with the
        // status a shell gives a command killed by SIGPIPE, so a pipeline never turns a
        // failed `check` into a success.
        Err(error) if is_broken_pipe(&error) => ExitCode::from(141),
        Err(error) => {
            if json {
                print_json_error(&format!("{error:#}"), 2);
            }
            kneo_otel::errln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// The error as the one JSON object stdout carries; a closed stdout is ignored here, the
/// exit code still tells.
fn print_json_error(message: &str, exit_code: i32) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stdout(), "{}", error_json(message, exit_code));
}

fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
