//! edgemicro-diag: the diagnostic bundle for an Apigee Edge Microgateway 502/ECONNRESET case.
//! Reads top to bottom: parse, run, exit with one of the codes in `exit.rs`.

use clap::{CommandFactory, FromArgMatches};
use edgemicro_diag::{app, cli};

fn main() -> std::process::ExitCode {
    let matches = match cli::Cli::command().try_get_matches() {
        Ok(matches) => matches,
        // A bot that asked for JSON gets its one object for a usage error too.
        Err(err) => match (app::usage_error_json(&err), app::env_usage_error(&err)) {
            (Some(code), _) => return std::process::ExitCode::from(code),
            (None, Some(message)) => {
                eprintln!("edgemicro-diag: error: {message}");
                eprintln!("hint: set it to a valid value or unset it; `edgemicro-diag help` lists every variable");
                return std::process::ExitCode::from(edgemicro_diag::exit::Exit::Usage.code());
            }
            (None, None) => err.exit(),
        },
    };
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    std::process::ExitCode::from(app::run(cli, &matches).code())
}
