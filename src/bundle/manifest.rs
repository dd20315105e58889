//! manifest.json, typed both ways: `Manifest` is what `collect` writes, `ManifestView` what
//! `verify` and `analyze` read back from a bundle (untrusted input: only the fields they use,
//! each with a default). The file's keys come out sorted, as they always have.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::FileEntry;
use crate::model::PathSource;
use crate::model::Skipped;

/// Everything a bundle says about itself.
#[derive(Debug, Serialize)]
pub(crate) struct Manifest<'a> {
    pub(crate) tool: &'static str,
    pub(crate) version: &'static str,
    pub(crate) schema_version: u32,
    pub(crate) created_at: String,
    pub(crate) host: &'a str,
    pub(crate) case: Option<&'a str>,
    pub(crate) pairs: &'a [String],
    pub(crate) config_dir: PathSource,
    pub(crate) log_dirs: Vec<PathSource>,
    pub(crate) settings: SettingsUsed,
    pub(crate) files: &'a [FileEntry],
    pub(crate) skipped: &'a [Skipped],
    pub(crate) redaction: Redaction<'a>,
    pub(crate) capture: Option<&'a crate::capture::CaptureRecord>,
    pub(crate) log_level: Option<&'a crate::model::LevelRecord>,
    pub(crate) warnings: &'a [String],
    pub(crate) logs_newest_first: Vec<LogListed>,
}

/// The limits the bundle was made under.
#[derive(Debug, Serialize)]
pub(crate) struct SettingsUsed {
    pub(crate) since: Option<String>,
    pub(crate) until: Option<String>,
    pub(crate) max_log_bytes: Option<u64>,
    pub(crate) output: String,
}

/// The rules that ran and what they replaced.
#[derive(Debug, Serialize)]
pub(crate) struct Redaction<'a> {
    pub(crate) rules_sha256: &'a str,
    pub(crate) rule_files: &'a [String],
    pub(crate) total: u64,
    pub(crate) by_rule: &'a BTreeMap<String, u64>,
    pub(crate) pseudonymized: bool,
}

/// A log as it was found, newest first.
#[derive(Debug, Serialize)]
pub(crate) struct LogListed {
    pub(crate) name: String,
    pub(crate) bytes: u64,
    /// Last written, UTC RFC 3339.
    pub(crate) modified: Option<String>,
    /// How it was found (an EMG name, the docker image's console, a running edgemicro's stdout).
    pub(crate) found_as: String,
}

impl Manifest<'_> {
    /// The JSON text: pretty, keys sorted at every level.
    pub(crate) fn render(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec_pretty(&serde_json::to_value(self)?)
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
        let files = vec![FileEntry {
            path: "logs/a.log".into(),
            source: "/var/tmp/a.log".into(),
            bytes: 10,
            sha256: "00".repeat(32),
            redactions: 2,
            truncated: false,
        }];
        let skipped = vec![Skipped {
            source: "/var/tmp/b.log".into(),
            reason: "permission denied".into(),
        }];
        let by_rule = BTreeMap::from([("password".to_string(), 2)]);
        let capture = crate::capture::CaptureRecord {
            target_ports: vec![8080, 443],
            ..Default::default()
        };
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
            log_dirs: Vec::new(),
            settings: SettingsUsed {
                since: None,
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
            log_level: None,
            warnings: &[],
            logs_newest_first: Vec::new(),
        };
        let text = manifest.render().unwrap();
        let at = |key: &str| {
            let text = String::from_utf8_lossy(&text).to_string();
            text.find(&format!("\n  \"{key}\"")).unwrap()
        };
        // Sorted as the file always was, not in the struct's order.
        assert!(at("capture") < at("case") && at("case") < at("tool"));
        let view: ManifestView = serde_json::from_slice(&text).unwrap();
        assert_eq!(view.files[0].path, "logs/a.log");
        assert_eq!(view.skipped[0].reason, "permission denied");
        assert_eq!(view.redaction.by_rule["password"], 2);
        assert_eq!(view.capture.unwrap().target_ports, vec![8080, 443]);
    }
}
