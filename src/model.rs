//! The model at the bottom: plain types every layer shares (where a value came from, the files
//! found, what was skipped, EMG's log levels). It depends on nothing in the crate but the YAML
//! tree, so any module can use it without pulling in the flow above.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::yaml::Yaml;

/// The levels EMG's logger knows (core/lib/logging.js); `none` silences it.
pub const LEVELS: &[&str] = &["error", "warn", "info", "debug", "trace", "none"];

/// Where a setting came from, shown in the summary, the JSON and the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag(&'static str),
    Env(&'static str),
    /// `sudo edgemicro-diag …`: the home of the user who ran sudo, not root's.
    SudoUser(String),
    /// The config dir a running edgemicro reads (`how`: its -c, its $HOME, its user's home).
    Running {
        pid: u32,
        how: &'static str,
    },
    Config {
        file: PathBuf,
        key: &'static str,
    },
    /// Typed by the operator in the wizard.
    Wizard,
    Default,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Flag(flag) => write!(f, "{flag}"),
            Source::Env(var) => write!(f, "${var}"),
            Source::SudoUser(user) => write!(f, "the home of {user}, who ran sudo"),
            Source::Running { pid, how } => write!(f, "the running edgemicro (pid {pid}, {how})"),
            Source::Config { file, key } => write!(f, "{key} in {}", file.display()),
            Source::Wizard => f.write_str("entered in the wizard"),
            Source::Default => f.write_str("default"),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Located<T> {
    pub value: T,
    pub source: Source,
}

#[derive(Debug)]
pub struct ConfigFile {
    pub path: PathBuf,
    /// File name, also its name under `config/` in the bundle.
    pub name: String,
    pub text: String,
    pub yaml: Yaml,
}

#[derive(Debug)]
pub struct LogFile {
    pub path: PathBuf,
    /// Name under `logs/` in the bundle.
    pub name: String,
    pub size: u64,
    pub modified: SystemTime,
    /// Why this file was taken as a log (listed in the manifest).
    pub found_as: &'static str,
    /// A gzip-compressed rotation: decompressed while it is read.
    pub gz: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub source: String,
    pub reason: String,
}
