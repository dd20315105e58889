//! The report of a run: the human summary on stderr and the one JSON object for bots
//! (`--json`, DESIGN §3). The JSON field names are a contract; `schema_version` changes with them.

use std::collections::BTreeMap;
use std::io::Write;

use serde::Serialize;

use crate::bundle::FileEntry;
use crate::exit::Exit;
use crate::model::PathSource;
use crate::model::Skipped;
use crate::spill::Spill;

#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Redactions {
    pub(crate) by_rule: BTreeMap<String, u64>,
    pub(crate) total: u64,
}

/// Serialized as collect's JSON fields (the envelope adds the status, the exit code, the error
/// and the hint). Streamed into the envelope (the file list may be long), so the fields are
/// declared in name order: the object reads as it did when it went through a sorted map.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    #[serde(skip)]
    pub(crate) exit: Exit,
    pub(crate) bundle: Option<String>,
    pub(crate) bytes: Option<u64>,
    pub(crate) capture: Option<crate::capture::CaptureRecord>,
    pub(crate) config_dir: Option<PathSource>,
    pub(crate) duration_ms: u64,
    pub(crate) files: Spill<FileEntry>,
    /// From the capture today; an empty list means "nothing concluded", not "healthy".
    pub(crate) findings: Vec<crate::analyze::Finding>,
    pub(crate) log_dirs: Vec<PathSource>,
    /// `{file, before, during, restored}` when `--log-level` switched it.
    pub(crate) log_level: Option<crate::model::LevelRecord>,
    /// `--pseudonymize`: the token map beside the bundle.
    pub(crate) map: Option<String>,
    pub(crate) pairs: Vec<String>,
    pub(crate) redactions: Redactions,
    pub(crate) sha256: Option<String>,
    pub(crate) skipped: Spill<Skipped>,
    /// EMG, microgateway-core and Node versions, each with its source (system/facts.json).
    pub(crate) versions: BTreeMap<String, crate::facts::Version>,
    pub(crate) warnings: Vec<String>,
    #[serde(skip)]
    pub(crate) error: Option<String>,
    #[serde(skip)]
    pub(crate) hint: Option<String>,
}

impl Report {
    pub(crate) fn failed(
        exit: Exit,
        error: String,
        hint: Option<String>,
        duration_ms: u64,
    ) -> Report {
        Report {
            exit,
            bundle: None,
            sha256: None,
            bytes: None,
            map: None,
            config_dir: None,
            log_dirs: Vec::new(),
            pairs: Vec::new(),
            files: Spill::default(),
            skipped: Spill::default(),
            redactions: Redactions::default(),
            warnings: Vec::new(),
            log_level: None,
            capture: None,
            findings: Vec::new(),
            versions: BTreeMap::new(),
            duration_ms,
            error: Some(error),
            hint,
        }
    }

    /// What an operator reads at 3 a.m.: where things came from, what was left out and why,
    /// what was redacted, and what to do next.
    pub(crate) fn print_human(&self, err: &mut impl Write) -> std::io::Result<()> {
        if let Some(dir) = &self.config_dir {
            writeln!(err, "config dir  {} (from {})", dir.path, dir.source)?;
        }
        if !self.pairs.is_empty() {
            writeln!(err, "org-env     {}", self.pairs.join(", "))?;
        }
        for dir in &self.log_dirs {
            writeln!(err, "log dir     {} (from {})", dir.path, dir.source)?;
        }
        self.print_collected(err)?;
        if let Some(l) = self.log_level.as_ref().filter(|l| l.restored) {
            writeln!(
                err,
                "log level   {} during the run, restored to {} in {} (byte for byte)",
                l.during,
                l.before.as_deref().unwrap_or("unset"),
                l.file.display()
            )?;
            match &l.reloaded {
                Some(said) => writeln!(err, "            edgemicro reload: {said}")?,
                None => writeln!(err, "            edgemicro picks the restored file up on reload, run where it was started:\n            {}", l.reload_command)?,
            }
        }
        for w in &self.warnings {
            writeln!(err, "warning: {w}")?;
        }
        if let Some(c) = self
            .capture
            .as_ref()
            .filter(|c| c.status == crate::model::CaptureStatus::Captured)
        {
            let packets = c.packets_captured.map_or("?".into(), |n| n.to_string());
            writeln!(
                err,
                "capture     {packets} packets, {} bytes, stopped by {} ({})",
                c.bytes,
                c.stopped_by.unwrap_or("?"),
                c.filter
            )?;
        }
        for f in &self.findings {
            writeln!(err, "finding     {} ({}): {}", f.id, f.severity, f.summary)?;
            writeln!(err, "            next: {}", f.next_step)?;
        }
        self.print_bundle(err)?;
        if self.exit == Exit::Partial {
            writeln!(err, "status      partial (exit 3): the bundle is usable; the lines above say what is missing")?;
        }
        Ok(())
    }

    /// What went into the bundle, what was cut or skipped, and what was redacted.
    fn print_collected(&self, err: &mut impl Write) -> std::io::Result<()> {
        let (mut configs, mut logs, mut log_bytes) = (0, 0, 0);
        for f in self.files.iter() {
            let f = f?;
            if f.path.starts_with("config/") {
                configs += 1;
            } else if f.path.starts_with("logs/") {
                logs += 1;
                log_bytes += f.bytes;
            }
        }
        writeln!(err, "collected   {configs} config file(s), {logs} log file(s) ({log_bytes} bytes after redaction)")?;
        for f in self.files.iter() {
            let f = f?;
            if f.truncated {
                writeln!(err, "truncated   {} ({})", f.path, f.source)?;
            }
        }
        for s in self.skipped.iter() {
            let s = s?;
            writeln!(err, "skipped     {}: {}", s.source, s.reason)?;
        }
        let rules: Vec<String> = self
            .redactions
            .by_rule
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        writeln!(
            err,
            "redacted    {} value(s){}",
            self.redactions.total,
            if rules.is_empty() {
                String::new()
            } else {
                format!(": {}", rules.join(", "))
            }
        )?;
        Ok(())
    }

    /// Where the bundle is, its sha256, and what to do with it (and with the pseudonym map).
    fn print_bundle(&self, err: &mut impl Write) -> std::io::Result<()> {
        if let (Some(bundle), Some(sha)) = (&self.bundle, &self.sha256) {
            if bundle == "-" {
                writeln!(err, "bundle      written to stdout, sha256 {sha}")?;
            } else {
                writeln!(err, "bundle      {bundle}\nsha256      {sha}")?;
                writeln!(
                    err,
                    "next        attach {bundle} and {bundle}.sha256 to your support case"
                )?;
                if let Some(map) = &self.map {
                    writeln!(
                        err,
                        "map         {map}: which token is which secret; keep it, never attach it"
                    )?;
                }
            }
        }
        Ok(())
    }
}
