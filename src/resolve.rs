//! From the command line to `Settings`: flags, their environment twins and the defaults, each
//! value with where it came from (precedence, highest first: flag > environment variable > EMG
//! config > default; clap applies the first two, `discover` the EMG config's log dir). A front
//! end: the only place that reads clap's matches for the flow. No I/O happens here.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::parser::ValueSource;
use clap::ArgMatches;

use crate::cli::{CollectArgs, EmgArgs};
use crate::settings::{
    absolute, default_bundle_name, Given, Home, Located, Output, Settings, Source,
};

/// `collect` and `wizard`: the settings their flags and environment give.
pub(crate) fn settings(
    args: CollectArgs,
    matches: &ArgMatches,
    home: Home,
    host: String,
    now: DateTime<Utc>,
) -> Result<Settings, crate::exit::Fail> {
    let source = |id: &str, flag: &'static str, var: &'static str| match matches.value_source(id) {
        Some(ValueSource::EnvVariable) => Source::Env(var),
        _ => Source::Flag(flag),
    };
    // In a container the config may come from EDGEMICRO_CONFIG alone: no dir is needed.
    let from_env = args.from_pid.is_some() || std::env::var_os("EDGEMICRO_CONFIG").is_some();
    let (config_dir, pair) = match emg(args.emg, matches, home) {
        Ok(found) => found,
        Err(_) if from_env => (
            Located {
                value: PathBuf::new(),
                source: Source::Default,
            },
            None,
        ),
        Err(e) => return Err(e),
    };
    let log_dir = args.log_dir.map(|dir| Located {
        value: absolute(dir),
        source: source("log_dir", "--log-dir", "EDGEMICRO_DIAG_LOG_DIR"),
    });
    let base = Settings::new(config_dir, host, now);
    let output = match args.output {
        Some(p) if p.as_os_str() == "-" => Output::Stdout,
        Some(p) => Output::File(p),
        None => Output::File(PathBuf::from(default_bundle_name(
            &base.host,
            args.case_id.as_deref(),
            now,
        ))),
    };
    Ok(Settings {
        pair,
        log_dir,
        since: args.since,
        until: args.until,
        max_log_bytes: args.max_log_bytes,
        max_bundle_bytes: args.max_bundle_bytes,
        max_seconds: args.max_seconds,
        rules: args.rules,
        case_id: args.case_id,
        pseudonymize: args.pseudonymize.then_some(args.keep_map_values),
        output,
        force: args.force,
        json: args.json,
        quiet: args.quiet || args.json,
        log_level: args.log_level,
        reproduce_seconds: args.reproduce_seconds.unwrap_or(0),
        capture: (args.capture_seconds.is_some() || !args.capture_host.is_empty()).then(|| {
            crate::capture::CaptureSpec {
                interface: args.capture_interface,
                hosts: args.capture_host,
                ports: args.capture_port,
                seconds: args.capture_seconds.unwrap_or(60),
                max_bytes: args.capture_max_bytes,
                max_packets: args.capture_max_packets,
                payload: args.capture_payload,
            }
        }),
        from_pid: args.from_pid,
        stdin_log: args.stdin_log,
        journal: args.journal,
        journal_dir: args.journal_dir,
        follow_hardlinks: args.follow_hardlinks,
        dry_run: args.dry_run,
        reload: args.reload,
        low_priority: args.low_priority,
        given: given(matches),
        ..base
    })
}

/// The config dir (flag > `EDGEMICRO_CONFIG_DIR` > `$HOME/.edgemicro`) and the `ORG-ENV` pair.
/// Without a flag and with `HOME` unset or empty there is no default: a relative `.edgemicro`
/// would be read from wherever the tool was started (exit 2, asking for `-c`).
pub(crate) fn emg(
    args: EmgArgs,
    matches: &ArgMatches,
    home: Home,
) -> Result<(Located<PathBuf>, Option<String>), crate::exit::Fail> {
    let config_dir = match args.config_dir {
        Some(dir) => {
            let source = match matches.value_source("config_dir") {
                Some(ValueSource::EnvVariable) => Source::Env("EDGEMICRO_CONFIG_DIR"),
                _ => Source::Flag("--config-dir"),
            };
            Located {
                value: absolute(dir),
                source,
            }
        }
        None => match home.config_dir() {
            Some((value, source)) => Located { value, source },
            None => {
                return Err(crate::exit::Fail::usage(
                    "HOME is not set (or not an absolute path), so there is no $HOME/.edgemicro to read",
                    "name the EMG config dir with -c DIR (or EDGEMICRO_CONFIG_DIR), e.g. -c /home/edgemicro/.edgemicro; under sudo, the invoking user's ~/.edgemicro is used when it exists, then the one a running edgemicro reads",
                ))
            }
        },
    };
    let pair = args
        .org
        .zip(args.env)
        .map(|(org, env)| format!("{org}-{env}"));
    Ok((config_dir, pair))
}

/// The settings of `matches` that a flag or the environment set, named as the user wrote them.
fn given(matches: &ArgMatches) -> Vec<Given> {
    use clap::CommandFactory;
    let cli = crate::cli::Cli::command();
    let Some(collect) = cli.find_subcommand("collect") else {
        return Vec::new();
    };
    collect
        .get_arguments()
        .filter_map(|arg| {
            let id = arg.get_id().as_str();
            let by = match matches.value_source(id)? {
                ValueSource::CommandLine => arg
                    .get_long()
                    .map(|l| format!("--{l}"))
                    .unwrap_or_else(|| id.to_string()),
                ValueSource::EnvVariable => {
                    format!("${}", arg.get_env()?.to_string_lossy())
                }
                _ => return None,
            };
            let value = matches
                .get_raw(id)
                .map(|raw| {
                    raw.map(|v| v.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default();
            Some(Given {
                id: id.to_string(),
                by,
                value,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::{CommandFactory, FromArgMatches};

    fn resolve(args: &[&str]) -> Settings {
        let matches = Cli::command().try_get_matches_from(args).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        let Some(Command::Collect(collect)) = cli.command else {
            panic!("not collect")
        };
        let sub = matches.subcommand_matches("collect").unwrap();
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        settings(
            *collect,
            sub,
            Home::plain(Some(PathBuf::from("/home/op"))),
            "gw 1".into(),
            now,
        )
        .unwrap()
    }

    // One test owns the process environment, so the env-twin cases cannot race each other.
    #[test]
    fn precedence_flag_over_env_over_default() {
        std::env::remove_var("EDGEMICRO_CONFIG_DIR");
        std::env::remove_var("EDGEMICRO_DIAG_LOG_DIR");
        let s = resolve(&["edgemicro-diag", "collect"]);
        assert_eq!(s.config_dir.value, PathBuf::from("/home/op/.edgemicro"));
        assert_eq!(s.config_dir.source, Source::Default);
        assert!(
            s.log_dir.is_none(),
            "no flag or env: the EMG config decides"
        );
        assert_eq!(
            s.output,
            Output::File("edgemicro-diag-gw_1-20260102T030405Z.zip".into())
        );

        std::env::set_var("EDGEMICRO_CONFIG_DIR", "/from/env");
        std::env::set_var("EDGEMICRO_DIAG_LOG_DIR", "/logs/env");
        let s = resolve(&["edgemicro-diag", "collect"]);
        assert_eq!(s.config_dir.value, PathBuf::from("/from/env"));
        assert_eq!(s.config_dir.source, Source::Env("EDGEMICRO_CONFIG_DIR"));
        assert_eq!(
            s.log_dir.as_ref().unwrap().source,
            Source::Env("EDGEMICRO_DIAG_LOG_DIR")
        );

        let s = resolve(&[
            "edgemicro-diag",
            "collect",
            "-c",
            "/from/flag",
            "--log-dir",
            "/l",
            "-o",
            "-",
            "--org",
            "o",
            "--env",
            "e",
        ]);
        std::env::remove_var("EDGEMICRO_CONFIG_DIR");
        std::env::remove_var("EDGEMICRO_DIAG_LOG_DIR");
        assert_eq!(s.config_dir.value, PathBuf::from("/from/flag"));
        assert_eq!(s.config_dir.source, Source::Flag("--config-dir"));
        assert_eq!(s.log_dir.unwrap().source, Source::Flag("--log-dir"));
        assert_eq!(s.output, Output::Stdout);
        assert_eq!(s.pair.as_deref(), Some("o-e"));
    }
}
