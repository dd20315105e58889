//! manifest.json, typed both ways: `Manifest` is what `collect` writes, `ManifestView` what
//! `verify` and `analyze` read back from a bundle (untrusted input: only the fields they use,
//! each with a default). The file's keys come out sorted, as they always have: every struct
//! written here lists its fields in name order, so the manifest streams straight into its
//! entry (a tree of `serde_json::Value`s for 20 000 files took 25 MB, the text 17 MB more).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::FileEntry;
use crate::model::PathSource;
use crate::model::Skipped;
use crate::spill::Spill;

/// Everything a bundle says about itself.
#[derive(Debug, Serialize)]
pub(crate) struct Manifest<'a> {
    pub(crate) capture: Option<&'a crate::capture::CaptureRecord>,
    pub(crate) case: Option<&'a str>,
    pub(crate) config_dir: PathSource,
    pub(crate) created_at: String,
    pub(crate) files: &'a Spill<FileEntry>,
    pub(crate) host: &'a str,
    pub(crate) log_dirs: Vec<PathSource>,
    pub(crate) log_level: Option<&'a crate::model::LevelRecord>,
    pub(crate) logs_newest_first: &'a Spill<LogListed>,
    pub(crate) pairs: &'a [String],
    pub(crate) redaction: Redaction<'a>,
    pub(crate) schema_version: u32,
    pub(crate) settings: SettingsUsed,
    pub(crate) skipped: &'a Spill<Skipped>,
    pub(crate) tool: &'static str,
    pub(crate) version: &'static str,
    pub(crate) warnings: &'a [String],
}

/// The limits the bundle was made under.
#[derive(Debug, Serialize)]
pub(crate) struct SettingsUsed {
    pub(crate) max_log_bytes: Option<u64>,
    pub(crate) output: String,
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
}

/// The rules that ran and what they replaced.
#[derive(Debug, Serialize)]
pub(crate) struct Redaction<'a> {
    pub(crate) by_rule: &'a BTreeMap<String, u64>,
    pub(crate) pseudonymized: bool,
    pub(crate) rule_files: &'a [String],
    pub(crate) rules_sha256: &'a str,
    pub(crate) total: u64,
}

/// A log as it was found, newest first.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LogListed {
    pub(crate) bytes: u64,
    /// How it was found (an EMG name, the docker image's console, a running edgemicro's stdout).
    pub(crate) found_as: String,
    /// Last written, UTC RFC 3339.
    pub(crate) modified: Option<String>,
    pub(crate) name: String,
}

impl LogListed {
    pub(crate) fn of(log: &crate::model::LogFile) -> LogListed {
        let modified = log
            .modified
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        LogListed {
            name: log.name.clone(),
            bytes: log.size,
            modified: chrono::DateTime::from_timestamp(modified as i64, 0)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            found_as: log.found_as.to_string(),
        }
    }
}

impl Manifest<'_> {
    /// The JSON text, pretty, into `out` as it is made.
    pub(crate) fn write(&self, out: impl std::io::Write) -> serde_json::Result<()> {
        serde_json::to_writer_pretty(out, self)
    }
}

/// What readers take from a bundle's manifest.
#[derive(Debug, Deserialize)]
pub(crate) struct ManifestView {
    pub(crate) files: Vec<FileEntry>,
    #[serde(default)]
    pub(crate) skipped: Vec<Skipped>,
    #[serde(default)]
    pub(crate) redaction: RedactionView,
    #[serde(default)]
    pub(crate) capture: Option<CaptureView>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RedactionView {
    #[serde(default)]
    pub(crate) by_rule: BTreeMap<String, u64>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CaptureView {
    /// The server side of the captured connections.
    #[serde(default)]
    pub(crate) target_ports: Vec<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A manifest written is one read back: files, skips, counts and ports survive.
    #[test]
    fn what_collect_writes_the_readers_read() {
        let mut files = Spill::new(None);
        files.push(FileEntry {
            path: "logs/a.log".into(),
            source: "/var/tmp/a.log".into(),
            bytes: 10,
            sha256: "00".repeat(32),
            redactions: 2,
            truncated: false,
        });
        let skipped: Spill<Skipped> = [Skipped {
            source: "/var/tmp/b.log".into(),
            reason: "permission denied".into(),
        }]
        .into_iter()
        .collect();
        let by_rule = BTreeMap::from([("password".to_string(), 2)]);
        let capture = crate::capture::CaptureRecord {
            target_ports: vec![8080, 443],
            targets: vec![crate::targets::Target {
                host: "10.0.0.1".parse().unwrap(),
                port: 8080,
                source: "default.yaml".into(),
                tls: false,
            }],
            stopped_by: Some("time"),
            ..Default::default()
        };
        let level = crate::model::LevelRecord {
            before: Some("error".into()),
            during: crate::model::LogLevel::Info,
            file: "/c/o-e-config.yaml".into(),
            reload_command: "edgemicro reload".into(),
            reloaded: Some("ok".into()),
            restored: true,
        };
        let mut logs = Spill::new(None);
        logs.push(LogListed::of(&crate::model::LogFile {
            path: "/l/a.log".into(),
            name: "a.log".into(),
            size: 10,
            modified: std::time::UNIX_EPOCH,
            found_as: "an EMG log".into(),
            gz: false,
            id: (1, 2),
        }));
        let manifest = Manifest {
            tool: "edgemicro-diag",
            version: "0",
            schema_version: 1,
            created_at: "2026-01-01T00:00:00Z".into(),
            host: "gw1",
            case: None,
            pairs: &[],
            config_dir: PathSource {
                path: "/c".into(),
                source: "default".into(),
            },
            log_dirs: vec![PathSource {
                path: "/l".into(),
                source: "--log-dir".into(),
            }],
            settings: SettingsUsed {
                since: Some("2026-01-01T00:00:00Z".into()),
                until: None,
                max_log_bytes: None,
                output: "-".into(),
            },
            files: &files,
            skipped: &skipped,
            redaction: Redaction {
                rules_sha256: "",
                rule_files: &[],
                total: 2,
                by_rule: &by_rule,
                pseudonymized: false,
            },
            capture: Some(&capture),
            log_level: Some(&level),
            warnings: &[],
            logs_newest_first: &logs,
        };
        let mut text = Vec::new();
        manifest.write(&mut text).unwrap();
        // Streamed in the structs' order, the text is the sorted one: every level (the
        // capture's targets, the log level, files, skips) lists its fields in name order.
        let sorted = serde_json::to_vec_pretty(&serde_json::to_value(&manifest).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8_lossy(&text),
            String::from_utf8_lossy(&sorted)
        );
        let at = |key: &str| {
            let text = String::from_utf8_lossy(&text).to_string();
            text.find(&format!("\n  \"{key}\"")).unwrap()
        };
        // Sorted, as the file always was.
        assert!(at("capture") < at("case") && at("case") < at("tool"));
        let view: ManifestView = serde_json::from_slice(&text).unwrap();
        assert_eq!(view.files[0].path, "logs/a.log");
        assert_eq!(view.skipped[0].reason, "permission denied");
        assert_eq!(view.redaction.by_rule["password"], 2);
        assert_eq!(view.capture.unwrap().target_ports, vec![8080, 443]);
    }
}
