//! Dispatch: from parsed arguments to a report and an exit code. Errors are printed once, here,
//! as `edgemicro-diag: error: …` plus a `hint:` line (or as the JSON object with `--json`).

use std::io::{IsTerminal, Write};
use std::time::Instant;

use clap::{ArgMatches, CommandFactory};

use crate::cli::{Cli, Command};
use crate::exit::{hint_of, Exit};
use crate::report::Report;
use crate::settings::{Output, Settings};
use crate::signals::Interrupt;
use crate::{bundle, collect, facts};

pub fn run(cli: Cli, matches: &ArgMatches) -> Exit {
    match cli.command {
        None => {
            // The wizard is for a person at a terminal; without one, print usage (exit 2).
            let _ = Cli::command().write_help(&mut std::io::stderr());
            if std::io::stdin().is_terminal() {
                eprintln!("\nhint: run `edgemicro-diag collect --yes` to build a bundle");
            } else {
                eprintln!(
                    "\nhint: no terminal: run `edgemicro-diag collect --yes` (add --json for bots)"
                );
            }
            Exit::Usage
        }
        Some(Command::Collect(args)) => {
            let sub = matches
                .subcommand_matches("collect")
                .expect("collect was parsed");
            let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
            let settings =
                Settings::resolve(args, sub, home, facts::hostname(), chrono::Utc::now());
            run_collect(&settings)
        }
        Some(Command::Verify(args)) => match bundle::verify(&args.bundle) {
            Ok(v) => {
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"status": "ok", "exit_code": 0, "bundle": args.bundle, "entries": v.entries, "bytes": v.bytes, "sidecar_checked": v.sidecar.is_some()})
                    );
                } else {
                    let sidecar = if v.sidecar.is_some() {
                        ", sidecar sha256 matches"
                    } else {
                        ", no .sha256 sidecar beside it"
                    };
                    eprintln!(
                        "ok: {} entries, every sha256 matches the manifest{sidecar}",
                        v.entries
                    );
                }
                Exit::Ok
            }
            Err(err) => {
                let exit = Exit::of_error(&err);
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"status": "failed", "exit_code": exit.code(), "bundle": args.bundle, "error": format!("{err:#}")})
                    );
                }
                print_error(&err);
                exit
            }
        },
    }
}

fn run_collect(settings: &Settings) -> Exit {
    let started = Instant::now();
    let report = Interrupt::install()
        .map_err(anyhow::Error::from)
        .and_then(|interrupt| collect::run(settings, &interrupt))
        .unwrap_or_else(|err| {
            // With --json the error and hint are in the one JSON object, not a second format.
            if !settings.json {
                print_error(&err);
            }
            Report::failed(
                Exit::of_error(&err),
                format!("{err:#}"),
                hint_of(&err).map(str::to_string),
                started.elapsed().as_millis() as u64,
            )
        });
    let mut stderr = std::io::stderr().lock();
    if settings.json {
        let text = report.to_json().to_string();
        // With `-o -` stdout carries the zip, so the one JSON object goes to stderr.
        let _ = match settings.output {
            Output::Stdout => writeln!(stderr, "{text}"),
            Output::File(_) => writeln!(std::io::stdout(), "{text}"),
        };
    } else if report.error.is_none() {
        if !settings.quiet {
            let _ = report.print_human(&mut stderr);
        }
        if let (Output::File(_), Some(bundle)) = (&settings.output, &report.bundle) {
            println!("{bundle}");
        }
    }
    report.exit
}

fn print_error(err: &anyhow::Error) {
    eprintln!("edgemicro-diag: error: {err:#}");
    if let Some(hint) = hint_of(err) {
        eprintln!("hint: {hint}");
    }
}
