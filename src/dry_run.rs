//! `collect --dry-run`: the plan and what redaction would replace, computed exactly as `collect`
//! would (same discovery, same rules, same engine), with nothing written and nothing switched.

use std::collections::BTreeMap;

use anyhow::Result;
use serde::Serialize;

use crate::collect::Plan;
use crate::settings::{Output, Settings};

/// Logs compress about 10:1 (bench: 209.8 MB of EMG logs → 20.2 MiB bundle).
const LOG_RATIO: u64 = 10;

/// The bundle size to expect from configs and logs of these sizes (the wizard's plan and
/// `--dry-run` say the same number).
pub(crate) fn estimated_bundle_bytes(config_bytes: u64, log_bytes: u64) -> u64 {
    config_bytes + log_bytes / LOG_RATIO + 4096
}

#[derive(Debug, Serialize)]
pub(crate) struct Planned {
    pub(crate) dry_run: bool,
    pub(crate) bundle: Option<String>,
    /// Every file that would be read: entry name, source path, bytes, and redactions.
    pub(crate) files: Vec<PlannedFile>,
    pub(crate) skipped: Vec<crate::model::Skipped>,
    /// systemd units whose journal would be read (`journalctl --unit=UNIT`), and why.
    pub(crate) journal: Vec<crate::collect::JournalSource>,
    pub(crate) warnings: Vec<String>,
    /// Configs and logs to read, and a bundle-size estimate (logs compress about 10:1).
    pub(crate) bytes_to_read: u64,
    pub(crate) estimated_bundle_bytes: u64,
    pub(crate) redactions: crate::report::Redactions,
    /// What would happen around the collection.
    pub(crate) log_level_switch: Option<crate::model::LogLevel>,
    pub(crate) capture_seconds: Option<u64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct PlannedFile {
    pub(crate) path: String,
    pub(crate) source: String,
    pub(crate) bytes: u64,
    pub(crate) redactions: u64,
    pub(crate) by_rule: BTreeMap<String, u64>,
}

pub(crate) fn plan(settings: &Settings) -> Result<Planned> {
    let plan = Plan::build(settings, crate::redact::RuleSet::load(&settings.rules)?)?;
    let engine = plan.engine();
    let mut files = Vec::new();
    let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
    for config in &plan.found.configs {
        let p = crate::preview::config(
            &config.name,
            &config.text,
            &config.yaml,
            &plan.rules,
            &engine,
            &mut |_| {},
        )?;
        files.push(planned(
            format!("config/{}", config.name),
            &config.path,
            config.text.len() as u64,
            &p,
        ));
    }
    for log in plan.found.logs.newest_first() {
        let log = log?;
        let dir = log.path.parent().unwrap_or(std::path::Path::new("/"));
        let Ok(opened) = crate::safe_fs::open_in_dir(dir, log.path.file_name().unwrap_or_default())
        else {
            continue;
        };
        let p = if log.gz {
            let inflated = flate2::read::MultiGzDecoder::new(opened.file);
            crate::preview::log(&log.name, inflated, &engine, u64::MAX, &mut |_| {})?
        } else {
            crate::preview::log(&log.name, opened.file, &engine, log.size, &mut |_| {})?
        };
        files.push(planned(
            format!("logs/{}", log.name),
            &log.path,
            log.size,
            &p,
        ));
    }
    for f in &files {
        for (rule, n) in &f.by_rule {
            *by_rule.entry(rule.clone()).or_default() += n;
        }
    }
    let config_bytes: u64 = plan.found.configs.iter().map(|c| c.text.len() as u64).sum();
    let log_bytes = plan.log_bytes();
    Ok(Planned {
        dry_run: true,
        bundle: match &settings.output {
            Output::File(p) => Some(p.display().to_string()),
            Output::Stdout => None,
        },
        skipped: plan.found.skipped.iter().collect::<std::io::Result<_>>()?,
        journal: crate::collect::journal_units(settings),
        warnings: plan.found.warnings.clone(),
        bytes_to_read: config_bytes + log_bytes,
        estimated_bundle_bytes: estimated_bundle_bytes(config_bytes, log_bytes),
        redactions: crate::report::Redactions {
            total: by_rule.values().sum(),
            by_rule,
        },
        files,
        log_level_switch: settings.log_level,
        capture_seconds: settings.capture.as_ref().map(|c| c.seconds),
    })
}

fn planned(
    path: String,
    source: &std::path::Path,
    bytes: u64,
    p: &crate::preview::FilePreview,
) -> PlannedFile {
    PlannedFile {
        path,
        source: source.display().to_string(),
        bytes,
        redactions: p.total,
        by_rule: p.by_rule.clone(),
    }
}

impl Planned {
    /// The plan as an operator reads it; values are never shown, only counts.
    pub(crate) fn print(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        writeln!(
            out,
            "dry run: nothing is written, nothing is switched; about {} byte(s) to read, a bundle of about {} byte(s){}",
            self.bytes_to_read,
            self.estimated_bundle_bytes,
            self.bundle.as_deref().map(|b| format!(" at {b}")).unwrap_or_default()
        )?;
        for f in &self.files {
            let rules: Vec<String> = f.by_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
            writeln!(
                out,
                "  {:<48} {:>12} bytes  {}",
                f.path,
                f.bytes,
                if rules.is_empty() {
                    "nothing to redact".into()
                } else {
                    rules.join(", ")
                }
            )?;
        }
        for j in &self.journal {
            writeln!(
                out,
                "  {:<48} from journalctl --unit={} ({})",
                j.path, j.unit, j.why
            )?;
        }
        for s in &self.skipped {
            writeln!(out, "  skip {}: {}", s.source, s.reason)?;
        }
        if let Some(level) = &self.log_level_switch {
            writeln!(out, "  would switch edgemicro.logging.level to {level} while collecting, then restore it")?;
        }
        if let Some(seconds) = self.capture_seconds {
            writeln!(
                out,
                "  would capture traffic to the targets for up to {seconds} s"
            )?;
        }
        writeln!(out, "{} value(s) would be redacted", self.redactions.total)
    }
}
