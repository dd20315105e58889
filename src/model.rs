//! The model at the bottom: plain types every layer shares (where a value came from, the files
//! found, what was skipped, EMG's log levels). It depends on nothing in the crate but the YAML
//! tree, so any module can use it without pulling in the flow above.

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use crate::yaml::Yaml;

/// The levels EMG's logger knows (core/lib/logging.js); `none` silences it. clap parses it
/// (`--log-level`, `log-level set`) and serde writes it, both in lowercase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub(crate) enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
    None,
}

impl LogLevel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
            LogLevel::None => "none",
        }
    }

    /// At debug and trace EMG dumps request headers (authorization, cookie) into its logs.
    pub(crate) fn writes_headers(self) -> bool {
        matches!(self, LogLevel::Debug | LogLevel::Trace)
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a setting came from, shown in the summary, the JSON and the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Source {
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
    /// A place the official docker image writes to, found because it exists.
    Image,
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
            Source::Image => f.write_str(
                "the official docker image's log dir (its entrypoint tees edgemicro's console into edgemicro.log)",
            ),
            Source::Default => f.write_str("default"),
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Located<T> {
    pub(crate) value: T,
    pub(crate) source: Source,
}

/// What became of a log-level switch (`collect --log-level`, the wizard): the manifest's and
/// the JSON report's `log_level`.
#[derive(Debug, Clone, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub(crate) struct LevelRecord {
    /// The level before the switch (null: the key was not set).
    pub(crate) before: Option<String>,
    pub(crate) during: LogLevel,
    pub(crate) file: PathBuf,
    /// The command that makes edgemicro read the restored file.
    pub(crate) reload_command: String,
    /// What `edgemicro reload` said, with `--reload`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reloaded: Option<String>,
    /// Put back byte for byte.
    pub(crate) restored: bool,
}

/// A path and where it came from, as the JSON and the manifest show it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct PathSource {
    pub(crate) path: String,
    pub(crate) source: String,
}

impl PathSource {
    pub(crate) fn of(located: &Located<std::path::PathBuf>) -> Self {
        PathSource {
            path: located.value.display().to_string(),
            source: located.source.to_string(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct ConfigFile {
    pub(crate) path: PathBuf,
    /// File name, also its name under `config/` in the bundle.
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) yaml: Yaml,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LogFile {
    pub(crate) path: PathBuf,
    /// Name under `logs/` in the bundle.
    pub(crate) name: String,
    pub(crate) size: u64,
    pub(crate) modified: SystemTime,
    /// Why this file was taken as a log (listed in the manifest): one of a few texts, shared.
    pub(crate) found_as: std::borrow::Cow<'static, str>,
    /// A gzip-compressed rotation: decompressed while it is read.
    pub(crate) gz: bool,
    /// Device and inode when listed: another name for a listed file is not listed again.
    pub(crate) id: (u64, u64),
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct Skipped {
    pub(crate) reason: String,
    pub(crate) source: String,
}

/// A finding's stable id: the contract (`findings.json`, `--json`, the JSON Schema) spells it
/// in kebab-case; code compares the enum, never the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FindingId {
    KeepaliveRace,
    NoKeepAlive,
    TargetHangup,
    ClientAbort,
    Timeout,
    Refused,
    Dns,
    Tls,
    HeaderOverflow,
    TargetAbortedResponse,
    LbKeepaliveOrder,
    // Nothing found (a plain comment: a doc comment would split the schema's enum).
    #[serde(rename = "none")]
    Nothing,
}

impl FindingId {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            FindingId::KeepaliveRace => "keepalive-race",
            FindingId::NoKeepAlive => "no-keep-alive",
            FindingId::TargetHangup => "target-hangup",
            FindingId::ClientAbort => "client-abort",
            FindingId::Timeout => "timeout",
            FindingId::Refused => "refused",
            FindingId::Dns => "dns",
            FindingId::Tls => "tls",
            FindingId::HeaderOverflow => "header-overflow",
            FindingId::TargetAbortedResponse => "target-aborted-response",
            FindingId::LbKeepaliveOrder => "lb-keepalive-order",
            FindingId::Nothing => "none",
        }
    }
}

impl fmt::Display for FindingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much a finding matters: `high` explains 502s seen, `medium` is a condition that
/// produces them, `info` is context.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub(crate) enum Severity {
    High,
    Medium,
    Info,
}

impl Severity {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod finding_tests {
    use super::*;

    /// The enum and the text of the contract agree (serde's spelling is what the JSON carries).
    #[test]
    fn ids_and_severities_serialize_as_their_text() {
        use FindingId::*;
        for id in [
            KeepaliveRace,
            NoKeepAlive,
            TargetHangup,
            ClientAbort,
            Timeout,
            Refused,
            Dns,
            Tls,
            HeaderOverflow,
            TargetAbortedResponse,
            LbKeepaliveOrder,
            Nothing,
        ] {
            assert_eq!(serde_json::to_value(id).unwrap(), id.as_str());
        }
        for s in [Severity::High, Severity::Medium, Severity::Info] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}

/// What became of a requested capture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub(crate) enum CaptureStatus {
    /// tcpdump ran and its pcap is in the bundle.
    Captured,
    /// It could not run (no tcpdump, no permission, nothing to capture): a warning says why.
    #[default]
    Skipped,
}

/// `--journal`: which units to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum JournalChoice {
    /// Every unit named like edgemicro the journal knows (the default).
    Auto,
    /// Never read the journal.
    Off,
    /// This unit.
    Unit(String),
}

impl std::str::FromStr for JournalChoice {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(JournalChoice::Auto),
            "off" | "no" | "none" => Ok(JournalChoice::Off),
            unit => unit_name(unit).map(JournalChoice::Unit).ok_or_else(|| {
                format!("`{unit}` is not a systemd unit name (letters, digits, @ . _ : -; e.g. edgemicro.service)")
            }),
        }
    }
}

/// A plain unit name (`edgemicro`, `edgemicro@prod.service`), `.service` added when it has no
/// suffix; anything else (an option, a path, spaces, a glob) is refused.
pub(crate) fn unit_name(name: &str) -> Option<String> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._:-".contains(&b));
    ok.then(|| match name.rsplit_once('.') {
        Some((_, suffix)) if ["service", "scope", "socket"].contains(&suffix) => name.to_string(),
        _ => format!("{name}.service"),
    })
}

#[cfg(test)]
mod journal_tests {
    use super::*;

    #[test]
    fn only_plain_unit_names_reach_journalctl() {
        assert_eq!(unit_name("edgemicro").as_deref(), Some("edgemicro.service"));
        assert_eq!(
            unit_name("edgemicro@prod.service").as_deref(),
            Some("edgemicro@prod.service")
        );
        assert_eq!(
            unit_name("emg-edgemicro.v3").as_deref(),
            Some("emg-edgemicro.v3.service")
        );
        for bad in [
            "",
            "-f",
            "--directory=/",
            "a b",
            "edgemicro;id",
            "../x",
            "/etc/x",
            "edge*",
            "$(id)",
            "a\nb",
        ] {
            assert_eq!(unit_name(bad), None, "{bad:?}");
        }
    }
}
