//! edgemicro-diag: the diagnostic bundle for an Apigee Edge Microgateway 502/ECONNRESET case.
//! Reads top to bottom: parse, run, exit with one of the codes in `exit.rs`.

mod analyze;
mod app;
mod bundle;
mod capture;
mod child;
mod cli;
mod collect;
mod container;
mod discover;
mod exit;
mod facts;
mod lines;
mod loglevel;
mod preview;
mod progress;
mod redact;
mod report;
mod safe_fs;
mod settings;
mod signals;
mod units;
mod window;
mod wizard;
mod yaml;

use clap::{CommandFactory, FromArgMatches};

fn main() -> std::process::ExitCode {
    let matches = cli::Cli::command().get_matches();
    let cli = cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    std::process::ExitCode::from(app::run(cli, &matches).code())
}
