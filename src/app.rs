//! Dispatch: from parsed arguments to a report and an exit code. Errors are printed once, here,
//! as `edgemicro-diag: error: …` plus a `hint:` line (or as the JSON object with `--json`).

use std::time::Instant;

use clap::{ArgMatches, CommandFactory};

use anyhow::Context;

use crate::cli::{Cli, Command, LogLevelCommand};

use crate::answer::{self, emit, Answer};
use crate::exit::{hint_of, Exit, Fail};
use crate::report::Report;
use crate::settings::{Output, Settings};
use crate::signals::Interrupt;
use crate::{bundle, collect, facts, loglevel};

/// The whole program: parse the command line (usage errors as JSON when asked, or naming the
/// environment variable at fault), run, and give the exit code.
pub fn main() -> std::process::ExitCode {
    use clap::FromArgMatches;
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        // A bot that asked for JSON gets its one object for a usage error too.
        Err(err) => match (usage_error_json(&err), env_usage_error(&err)) {
            (Some(code), _) => return std::process::ExitCode::from(code),
            (None, Some(message)) => {
                let hint = "set it to a valid value or unset it; `edgemicro-diag help` lists every variable";
                let exit = emit("", false, Err(Fail::usage(message, hint).into()));
                return std::process::ExitCode::from(exit.code());
            }
            (None, None) => err.exit(),
        },
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    std::process::ExitCode::from(run(cli, &matches).code())
}

fn run(cli: Cli, matches: &ArgMatches) -> Exit {
    match cli.command {
        None => run_bare(),
        Some(Command::Wizard(_)) if !crate::wizard::has_terminal() => {
            let fail = Fail::usage(
                "the wizard needs a terminal to ask questions",
                "run `edgemicro-diag collect --yes` (add --json for bots)",
            );
            emit("wizard", false, Err(fail.into()))
        }
        Some(Command::Wizard(args)) => {
            let sub = matches
                .subcommand_matches("wizard")
                .expect("wizard was parsed");
            run_wizard(*args, sub)
        }
        Some(Command::Collect(args)) => {
            let sub = matches
                .subcommand_matches("collect")
                .expect("collect was parsed");
            resolve_and_collect(*args, sub)
        }
        Some(Command::Analyze(args)) => {
            let sub = matches
                .subcommand_matches("analyze")
                .expect("analyze was parsed");
            run_analyze(*args, sub)
        }
        Some(Command::Redact(args)) => run_redact(&args),
        Some(Command::LogLevel(command)) => {
            let sub = matches
                .subcommand_matches("log-level")
                .and_then(|m| m.subcommand())
                .map(|(_, m)| m)
                .expect("log-level was parsed");
            run_log_level(command, sub)
        }
        Some(Command::Rules(crate::cli::RulesCommand::List(args))) => run_rules_list(&args),
        Some(Command::ExecTied(args)) => {
            // Returns only when the exec failed or the parent was gone.
            std::process::exit(crate::child::exec_tied(
                args.parent,
                args.alarm_seconds,
                &args.argv,
            ))
        }
        Some(Command::Verify(args)) => run_verify(&args.bundles, args.json),
    }
}

/// A bare `edgemicro-diag`: the wizard at a terminal (the same EDGEMICRO_DIAG_* apply as to
/// `edgemicro-diag wizard`), else usage on stderr and exit 2.
fn run_bare() -> Exit {
    if !crate::wizard::has_terminal() {
        let _ = Cli::command().write_help(&mut std::io::stderr());
        eprintln!("\nhint: no terminal: run `edgemicro-diag collect --yes` (add --json for bots)");
        return Exit::Usage;
    }
    match Cli::command().try_get_matches_from(["edgemicro-diag", "wizard"]) {
        Ok(matches) => match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
            Ok(Cli {
                command: Some(Command::Wizard(args)),
            }) => run_wizard(
                *args,
                matches.subcommand_matches("wizard").expect("wizard parsed"),
            ),
            _ => Exit::Usage,
        },
        Err(err) => {
            let _ = err.print();
            Exit::Usage
        }
    }
}

/// `collect`: settings from flags, environment and defaults, then the plan (`--dry-run`) or the
/// bundle; a settings error is a usage error, as JSON with `--json`.
fn resolve_and_collect(args: crate::cli::CollectArgs, sub: &ArgMatches) -> Exit {
    let home = crate::settings::Home::of_this_process();
    let json = args.json;
    match crate::resolve::settings(args, sub, home, facts::hostname(), chrono::Utc::now()) {
        Ok(settings) if settings.dry_run => emit("collect", settings.json, run_dry(&settings)),
        Ok(settings) => emit("collect", settings.json, Ok(run_collect(&settings))),
        Err(fail) => {
            let report = Report::failed(Exit::Usage, fail.message, fail.hint, 0);
            emit(
                "collect",
                json,
                Ok(answer::of_report(report, json, false, false)),
            )
        }
    }
}

/// `redact PATH…`: each redacted line on stdout as it is made, then the count on stderr (or
/// one JSON object).
fn run_redact(args: &crate::cli::RedactArgs) -> Exit {
    let mut stdout = std::io::stdout().lock();
    let outcome = crate::preview::command(&args.paths, &args.rules, args.json, &mut stdout);
    drop(stdout);
    let answer = outcome.map(|preview| match preview.json {
        Some(fields) => Answer::ok(fields),
        None => Answer::ok(serde_json::Value::Null).note(format!(
            "{} value(s) would be redacted; nothing was written",
            preview.total
        )),
    });
    emit("redact", args.json, answer)
}

/// `rules list`: every rule in effect with its kind, id, reason and file.
fn run_rules_list(args: &crate::cli::RulesListArgs) -> Exit {
    let answer = crate::redact::RuleSet::load(&args.rules).map(|rules| {
        let lines = rules
            .catalogue
            .iter()
            .map(|r| format!("{:<8} {:<22} {}  [{}]", r.kind, r.id, r.why, r.file))
            .collect();
        let mut answer = Answer::ok(serde_json::json!({"rules": rules.catalogue}));
        answer.stdout = lines;
        answer
    });
    emit("rules list", args.json, answer)
}

/// Each bundle checked on its own; the exit code is the worst of them.
fn run_verify(bundles: &[std::path::PathBuf], json: bool) -> Exit {
    let mut answer = Answer::ok(serde_json::Value::Null);
    let mut results = Vec::new();
    for path in bundles {
        match bundle::verify(path) {
            Ok(v) => {
                let sidecar = match v.sidecar {
                    Some(_) => ", sidecar sha256 matches",
                    None => ", no .sha256 sidecar beside it",
                };
                answer.stdout.push(format!(
                    "ok: {}: {} entries, every sha256 matches the manifest{sidecar}",
                    path.display(),
                    v.entries
                ));
                results.push(serde_json::json!({"bundle": path, "status": "ok", "entries": v.entries, "bytes": v.bytes, "sidecar_checked": v.sidecar.is_some(), "error": null}));
            }
            Err(err) => {
                let exit = answer.failed_part(&err);
                results.push(serde_json::json!({"bundle": path, "status": "failed", "exit_code": exit.code(), "error": format!("{err:#}"), "hint": hint_of(&err)}));
            }
        }
    }
    answer.fields = serde_json::json!({ "bundles": results });
    emit("verify", json, Ok(answer))
}

/// `collect --dry-run`: the plan on stdout (one JSON object with --json); nothing written.
fn run_dry(settings: &Settings) -> anyhow::Result<Answer> {
    let planned = crate::dry_run::plan(settings)?;
    answer::of_value(settings.json, &planned, |p, out| p.print(out))
}

/// `collect`: the bundle, or the report of why there is none.
fn run_collect(settings: &Settings) -> Answer {
    let started = Instant::now();
    let report = Interrupt::install()
        .map_err(anyhow::Error::from)
        .and_then(|interrupt| collect::run(settings, &interrupt, &Flags { settings }))
        .unwrap_or_else(|err| {
            Report::failed(
                Exit::of_error(&err),
                format!("{err:#}"),
                hint_of(&err).map(str::to_string),
                started.elapsed().as_millis() as u64,
            )
        });
    answer::of_report(
        report,
        settings.json,
        settings.quiet,
        matches!(settings.output, Output::Stdout),
    )
}

/// A usage error (bad flag or value) when `--json` or `EDGEMICRO_DIAG_JSON` asked for JSON:
/// the one JSON object on stdout, and the exit code to use. `None`: let clap print it (help and
/// version requests are not errors).
fn usage_error_json(err: &clap::Error) -> Option<u8> {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        return None;
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let env_json = std::env::var("EDGEMICRO_DIAG_JSON")
        .is_ok_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"));
    if !env_json && !args.iter().any(|a| a == "--json") {
        return None;
    }
    let names: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    let command = match args.iter().position(|a| names.contains(a)) {
        Some(at) if matches!(args[at].as_str(), "log-level" | "rules") => args
            .get(at + 1)
            .filter(|next| !next.starts_with('-'))
            .map_or(args[at].clone(), |next| format!("{} {next}", args[at])),
        Some(at) => args[at].clone(),
        None => String::new(),
    };
    let rendered = err.render().to_string();
    let message = env_usage_error(err).unwrap_or_else(|| {
        rendered
            .lines()
            .next()
            .unwrap_or("usage error")
            .trim_start_matches("error: ")
            .to_string()
    });
    let hint = format!("see `edgemicro-diag {command} --help`").replace("  ", " ");
    Some(emit(&command, true, Err(Fail::usage(message, hint).into())).code())
}

/// A bad value that came from an environment twin (`EDGEMICRO_DIAG_YES=maybe`), not from the
/// command line: the message names the variable the user set, which clap's names the flag.
fn env_usage_error(err: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if !matches!(
        err.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return None;
    }
    let Some(ContextValue::String(arg)) = err.get(ContextKind::InvalidArg) else {
        return None;
    };
    let flag = arg.split([' ', '=']).next()?.to_string();
    let long = flag.strip_prefix("--")?;
    let typed = std::env::args()
        .skip(1)
        .any(|a| a == flag || a.starts_with(&format!("{flag}=")));
    if typed {
        return None;
    }
    let command = Cli::command();
    let env = std::iter::once(&command)
        .chain(command.get_subcommands())
        .flat_map(|c| c.get_arguments())
        .find(|a| a.get_long() == Some(long))
        .and_then(|a| a.get_env())?
        .to_string_lossy()
        .into_owned();
    let value = std::env::var_os(&env)?;
    let value = value.to_string_lossy().into_owned();
    let shown = crate::safe_fs::shown(&value);
    // clap's reason after `for '--flag': ` (not a boolean, not a unit name, the valid values).
    let rendered = err.render().to_string();
    let reason = rendered
        .lines()
        .next()
        .and_then(|l| l.split_once("': ").map(|(_, why)| why.to_string()))
        .map(|why| match why.contains("not a boolean") {
            true => format!(": {why} (1/0, true/false, yes/no, on/off)"),
            false => format!(": {why}"),
        })
        .unwrap_or_default();
    Some(format!(
        "invalid value '{shown}' in the environment variable {env} (the twin of {flag}){reason}"
    ))
}

fn run_log_level(command: LogLevelCommand, matches: &ArgMatches) -> Exit {
    enum Action {
        Show,
        Set(crate::model::LogLevel),
        Restore,
    }
    let (action, args) = match command {
        LogLevelCommand::Show(args) => (Action::Show, args),
        LogLevelCommand::Set { level, args } => (Action::Set(level), args),
        LogLevelCommand::Restore(args) => (Action::Restore, args),
    };
    let home = crate::settings::Home::of_this_process();
    let outcome = crate::resolve::emg(args.emg, matches, home)
        .map_err(anyhow::Error::from)
        .and_then(|(config_dir, pair)| loglevel::Target::find(&config_dir, pair))
        .and_then(|target| {
        if args.reload && !matches!(action, Action::Show) {
            loglevel::check_reload()?;
        }
        let (mut answer, mut lines) = (Vec::new(), Vec::new());
        let mut json = match &action {
            Action::Show => show_level(&target, &mut answer)?,
            Action::Restore => {
                let before = loglevel::restore(&target)?;
                answer.push(format!(
                    "edgemicro.logging.level: back to {} in {} (byte-identical to before `set`)",
                    before.as_deref().unwrap_or("unset"),
                    target.file.display()
                ));
                serde_json::json!({"pair": target.pair, "file": target.file, "restored": true, "level": before})
            }
            Action::Set(level) => {
                let before = loglevel::set(&target, *level)?;
                answer.push(format!("edgemicro.logging.level: {} -> {level} in {}", before.as_deref().unwrap_or("unset"), target.file.display()));
                if let Some(warning) = loglevel::header_warning(*level) {
                    lines.push(format!("warning: {warning}"));
                }
                lines.push("restore with: edgemicro-diag log-level restore".into());
                serde_json::json!({"pair": target.pair, "file": target.file, "before": before, "level": level})
            }
        };
        let changed = !matches!(action, Action::Show);
        if args.reload && changed {
            let said = loglevel::reload(&target)?;
            answer.push(format!("edgemicro reload: {said}"));
            json["reload"] = said.into();
        } else if changed {
            lines.push(target.pickup_hint());
            json["reload_command"] = target.reload_command().into();
        }
        Ok((answer, lines, json))
    });
    let command = match action {
        Action::Show => "log-level show",
        Action::Set(_) => "log-level set",
        Action::Restore => "log-level restore",
    };
    // The answer on stdout; hints and warnings on stderr.
    let answer = outcome.map(|(answer, lines, json)| {
        let mut out = Answer::ok(json);
        (out.stdout, out.stderr) = (answer, lines);
        out
    });
    emit(command, args.json, answer)
}

/// `log-level show`: the level in effect and its file, the cache config's when it differs, and
/// a switch still pending from an earlier run.
fn show_level(
    target: &loglevel::Target,
    answer: &mut Vec<String>,
) -> anyhow::Result<serde_json::Value> {
    let shown = loglevel::show(target)?;
    match (&shown.level, &shown.file) {
        (Some(l), Some(f)) => answer.push(format!(
            "edgemicro.logging.level: {l} (from {})",
            f.display()
        )),
        _ => answer
            .push("edgemicro.logging.level: not set in default.yaml or the ORG-ENV config".into()),
    }
    if let Some(c) = &shown.cache_level {
        answer.push(format!(
            "cache config: {c} ({}); running workers use it until `edgemicro reload`",
            target.cache.display()
        ));
    }
    if let Some(p) = &shown.pending {
        answer.push(format!("pending: set to {} at {} by edgemicro-diag; `edgemicro-diag log-level restore` puts it back", p.level, p.at));
    }
    Ok(serde_json::to_value(&shown)?)
}

/// The flag front end: no prompts; the reproduction is a fixed wait.
struct Flags<'a> {
    settings: &'a Settings,
}

impl collect::FrontEnd for Flags<'_> {
    fn say(&self, line: &str) {
        if !self.settings.quiet {
            eprintln!("{}", crate::safe_fs::shown(line));
        }
    }

    fn reproduce(
        &self,
        _switch: Option<&loglevel::Switch>,
        interrupt: &Interrupt,
    ) -> anyhow::Result<()> {
        let seconds = self.settings.reproduce_seconds;
        if seconds > 0 {
            self.say(&format!("reproduce the problem now; collecting in {seconds} s (Ctrl-C restores the level and stops)"));
        }
        let until = Instant::now() + std::time::Duration::from_secs(seconds);
        while Instant::now() < until {
            interrupt.check()?;
            std::thread::sleep(
                std::time::Duration::from_millis(100)
                    .min(until.saturating_duration_since(Instant::now())),
            );
        }
        Ok(())
    }

    /// A bot's capture runs to its own bound (--capture-seconds), whatever the reproduce wait.
    fn reproduction_ends_capture(&self) -> bool {
        false
    }

    fn progress(&self, total: u64) -> indicatif::ProgressBar {
        crate::progress::log_bar(!self.settings.quiet, total)
    }
}

fn run_wizard(args: crate::cli::CollectArgs, matches: &ArgMatches) -> Exit {
    let home = crate::settings::Home::of_this_process();
    let now = chrono::Utc::now();
    let outcome = crate::resolve::settings(args, matches, home, facts::hostname(), now)
        .map_err(anyhow::Error::from)
        .and_then(|settings| {
            let interrupt = Interrupt::install()?;
            crate::wizard::answer(crate::wizard::run(settings, &interrupt))
        });
    emit("wizard", false, outcome)
}

fn run_analyze(args: crate::cli::AnalyzeArgs, matches: &ArgMatches) -> Exit {
    let json = args.json;
    emit("analyze", json, analyze(args, matches))
}

fn analyze(args: crate::cli::AnalyzeArgs, matches: &ArgMatches) -> anyhow::Result<Answer> {
    let json = args.json;
    let home = crate::settings::Home::of_this_process();
    let (config_dir, pair) = crate::resolve::emg(args.emg, matches, home)?;
    let mut settings = Settings::new(config_dir, facts::hostname(), chrono::Utc::now());
    settings.pair = pair;
    settings.log_dir = args.log_dir.map(|value| crate::settings::Located {
        value: crate::settings::absolute(value),
        source: crate::settings::Source::Flag("--log-dir"),
    });
    let request = crate::analysis::Request {
        bundles: args.bundles,
        settings,
        probes: args.probes,
        probe_targets: args.probe_targets,
        probe_max: std::time::Duration::from_secs(args.probe_max_seconds),
        probe_insecure: args.probe_insecure,
        lb_idle_timeout_s: args.lb_idle_timeout,
    };
    let analysis = crate::analysis::run(request)?;
    if let Some(path) = &args.html {
        crate::bundle::write_new_file(path, analysis.html().as_bytes())
            .with_context(|| format!("cannot write the report page `{}`", path.display()))?;
    }
    answer::of_value(json, &analysis, crate::analysis::print)
}
