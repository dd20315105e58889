//! `Settings`: the one plan every front end produces (`resolve.rs` from the command line, the
//! wizard from its answers), each value with where it came from, and the defaults behind them
//! (the home the config dir is looked for in, the bundle's default name). No clap here: the
//! flow below the front ends reads plain values.

use std::path::PathBuf;

pub(crate) use crate::model::{Located, Source};
use chrono::{DateTime, Utc};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// `-o -`: the zip streams to stdout.
    Stdout,
    File(PathBuf),
}

#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) config_dir: Located<PathBuf>,
    /// The `ORG-ENV` stem to collect; `None` means every pair found.
    pub(crate) pair: Option<String>,
    /// A log dir given by flag or env; otherwise discovery reads the EMG config.
    pub(crate) log_dir: Option<Located<PathBuf>>,
    pub(crate) since: Option<DateTime<Utc>>,
    pub(crate) until: Option<DateTime<Utc>>,
    pub(crate) max_log_bytes: Option<u64>,
    /// The bundle never exceeds this; newest logs first.
    pub(crate) max_bundle_bytes: Option<u64>,
    /// Wall-clock budget for reading logs.
    pub(crate) max_seconds: Option<u64>,
    pub(crate) rules: Vec<PathBuf>,
    pub(crate) case_id: Option<String>,
    /// `--pseudonymize`: `Some(keep_map_values)`.
    pub(crate) pseudonymize: Option<bool>,
    pub(crate) output: Output,
    pub(crate) force: bool,
    pub(crate) json: bool,
    pub(crate) quiet: bool,
    pub(crate) host: String,
    pub(crate) started: DateTime<Utc>,
    /// Switch `edgemicro.logging.level` to this while collecting (restored afterwards).
    pub(crate) log_level: Option<crate::model::LogLevel>,
    pub(crate) reproduce_seconds: u64,
    /// A bounded tcpdump while reproducing (`--capture-seconds` or `--capture-host`).
    pub(crate) capture: Option<crate::capture::CaptureSpec>,
    /// Read `EDGEMICRO_CONFIG` from this process's environment instead of ours.
    pub(crate) from_pid: Option<u32>,
    /// A log piped into stdin, collected as `logs/NAME`.
    pub(crate) stdin_log: Option<String>,
    /// `--journal`: which systemd units' journal to read (default: those named like edgemicro).
    pub(crate) journal: crate::model::JournalChoice,
    /// `--journal-dir`: read journal files from this dir (a copied /var/log/journal).
    pub(crate) journal_dir: Option<std::path::PathBuf>,
    /// Read logs that are hard links in dirs other users can write (skipped by default).
    pub(crate) follow_hardlinks: bool,
    /// `--dry-run`: plan and preview, write nothing.
    pub(crate) dry_run: bool,
    /// `--reload`: `edgemicro reload` after the switch and after the restore.
    pub(crate) reload: bool,
    /// `--low-priority`: nice 19 and the idle I/O class for the whole run.
    pub(crate) low_priority: bool,
    /// What flags and the environment answered, in command-line order: the wizard asks only
    /// the rest and shows these with where they came from.
    pub(crate) given: Vec<Given>,
}

/// One setting answered by a flag or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Given {
    /// The clap id (`case_id`, `log_dir`, …).
    pub(crate) id: String,
    /// `--case` or `$EDGEMICRO_DIAG_CASE`.
    pub(crate) by: String,
    pub(crate) value: String,
}

/// EMG's default config dir is `$HOME/.edgemicro` (config/locations.js).
pub(crate) const DEFAULT_CONFIG_SUBDIR: &str = ".edgemicro";

impl Settings {
    /// The defaults: every pair, the log dir from the EMG config, all of the logs, a bundle named
    /// after the host and time in the current dir. The wizard starts from here too.
    pub(crate) fn new(config_dir: Located<PathBuf>, host: String, now: DateTime<Utc>) -> Settings {
        Settings {
            config_dir,
            pair: None,
            log_dir: None,
            since: None,
            until: None,
            max_log_bytes: None,
            max_bundle_bytes: None,
            max_seconds: None,
            rules: Vec::new(),
            case_id: None,
            pseudonymize: None,
            output: Output::File(PathBuf::from(default_bundle_name(&host, None, now))),
            force: false,
            json: false,
            quiet: false,
            host,
            started: now,
            log_level: None,
            reproduce_seconds: 0,
            capture: None,
            from_pid: None,
            stdin_log: None,
            journal: crate::model::JournalChoice::Auto,
            journal_dir: None,
            follow_hardlinks: false,
            dry_run: false,
            reload: false,
            low_priority: false,
            given: Vec::new(),
        }
    }
}

/// The home whose `.edgemicro` is the default config dir, and where it came from. Under `sudo`
/// (needed for a capture) that is the invoking user's (`SUDO_USER`), when they have an
/// `.edgemicro`, not root's: the operator who types `sudo` means their gateway's config.
#[derive(Clone, Debug)]
pub(crate) struct Home {
    pub(crate) path: Option<PathBuf>,
    pub(crate) source: Source,
    /// The config dir itself, when it is not `path/.edgemicro` (a running edgemicro's `-c`).
    pub(crate) config_dir: Option<PathBuf>,
}

impl Home {
    /// `$HOME`, or under sudo the invoking user's home when it holds `.edgemicro`.
    pub(crate) fn of_this_process() -> Home {
        let own = std::env::var_os("HOME").map(PathBuf::from);
        let sudo = std::env::var("SUDO_USER")
            .ok()
            .filter(|u| !u.is_empty() && u != "root" && nix::unistd::geteuid().is_root())
            .and_then(|user| {
                let entry = nix::unistd::User::from_name(&user).ok()??;
                entry
                    .dir
                    .join(DEFAULT_CONFIG_SUBDIR)
                    .is_dir()
                    .then_some((user, entry.dir))
            });
        if let Some((user, dir)) = sudo {
            return Home {
                path: Some(dir),
                source: Source::SudoUser(user),
                config_dir: None,
            };
        }
        if let Some((dir, source)) = running_config_dir() {
            return Home {
                path: own,
                source,
                config_dir: Some(dir),
            };
        }
        Home {
            path: own,
            source: Source::Default,
            config_dir: None,
        }
    }

    /// The config dir it gives: a running edgemicro's own, or `.edgemicro` in an absolute home.
    pub(crate) fn config_dir(self) -> Option<(PathBuf, Source)> {
        let dir = self.config_dir.or_else(|| {
            self.path
                .filter(|h| !h.as_os_str().is_empty() && h.is_absolute())
                .map(|h| h.join(DEFAULT_CONFIG_SUBDIR))
        })?;
        Some((dir, self.source))
    }

    /// A home given as is (tests, `$HOME`).
    #[cfg(test)]
    pub(crate) fn plain(path: Option<PathBuf>) -> Home {
        Home {
            path,
            source: Source::Default,
            config_dir: None,
        }
    }
}

/// The one config dir the running edgemicro reads, when this process may read it: as root
/// (a root shell, cron, a bot) any user's, otherwise only our own user's. Several gateways
/// with different dirs are not guessed between.
fn running_config_dir() -> Option<(PathBuf, Source)> {
    let euid = nix::unistd::geteuid();
    let mut dirs: Vec<(PathBuf, Source)> = crate::running::edgemicro()
        .into_iter()
        .filter(|p| euid.is_root() || p.uid == euid.as_raw())
        .filter_map(|p| {
            let (dir, how) = p.config_dir()?;
            let how = match how {
                crate::running::How::Flag => "its -c",
                crate::running::How::Home => "its $HOME",
                crate::running::How::UserHome => "its user's home",
            };
            Some((dir, Source::Running { pid: p.pid, how }))
        })
        .collect();
    dirs.sort_by(|a, b| a.0.cmp(&b.0)); // stable: the lowest pid (the master) stays first
    dirs.dedup_by(|a, b| a.0 == b.0);
    match dirs.len() {
        1 => dirs.pop(),
        _ => None,
    }
}

/// A path as given, made absolute against the working dir (symlinks left alone): paths are
/// printed, recorded in the manifest and pasted into commands run from elsewhere.
pub(crate) fn absolute(path: PathBuf) -> PathBuf {
    std::path::absolute(&path).unwrap_or(path)
}

/// `edgemicro-diag-<host>-<YYYYMMDDTHHMMSSZ>.zip` (DESIGN §4); the host is made file-name safe.
/// `edgemicro-diag-HOST[-CASE]-UTCSTAMP.zip`: host and case id kept to characters every shell,
/// `sha256sum -c` and mail client take as they are.
pub(crate) fn default_bundle_name(host: &str, case: Option<&str>, now: DateTime<Utc>) -> String {
    let plain = |text: &str| -> String {
        text.chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let case = case
        .map(plain)
        .filter(|c| !c.is_empty())
        .map(|c| format!("-{c}"))
        .unwrap_or_default();
    format!(
        "edgemicro-diag-{}{case}-{}.zip",
        plain(host),
        now.format("%Y%m%dT%H%M%SZ")
    )
}
