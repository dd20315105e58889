//! EMG run as a systemd service logs to the journal: `journalctl --unit=UNIT` is a log source
//! like a file, streamed through the same redaction, time window and limits into
//! `logs/journal-UNIT.log`.
//!
//! Units are the ones named with `--journal UNIT`, or (by default) every unit whose name holds
//! `edgemicro` that the journal knows (`journalctl -F _SYSTEMD_UNIT`). A unit name read from the
//! journal is text from a file: it reaches journalctl only as one `--unit=` argument, and only
//! when it is a plain unit name. Nothing here changes the host.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Result;

use super::logs::{copy_pipe, Stream};
use super::Reports;
use crate::bundle::BundleWriter;
use crate::discover::Discovery;
use crate::model::{unit_name, JournalChoice, Skipped};
use crate::settings::Settings;

fn journalctl(settings: &Settings) -> Command {
    let mut cmd = Command::new("journalctl");
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LC_ALL", "C")
        .env("SYSTEMD_PAGER", "")
        .arg("--no-pager")
        .arg("--quiet")
        .stdin(Stdio::null());
    if let Some(dir) = &settings.journal_dir {
        cmd.arg("--directory").arg(dir);
    }
    cmd
}

/// One systemd unit whose journal is a log source, and why it is read.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct JournalSource {
    pub(crate) unit: String,
    /// The entry it becomes in the bundle.
    pub(crate) path: String,
    pub(crate) why: &'static str,
}

/// The units to read, and why; empty when journalctl is missing or knows no EMG unit.
pub(crate) fn journal_units(settings: &Settings) -> Vec<JournalSource> {
    let units: Vec<(String, &'static str)> = match &settings.journal {
        JournalChoice::Off => Vec::new(),
        JournalChoice::Unit(unit) => vec![(unit.clone(), "named with --journal")],
        JournalChoice::Auto => {
            let mut cmd = journalctl(settings);
            cmd.args(["-F", "_SYSTEMD_UNIT"]);
            let Ok(Some(listed)) = crate::child::run_bounded(&mut cmd, Duration::from_secs(10))
            else {
                return Vec::new();
            };
            let mut units: Vec<(String, &'static str)> = listed
                .output
                .lines()
                .filter(|u| u.to_ascii_lowercase().contains("edgemicro"))
                .filter_map(unit_name)
                .map(|u| (u, "a unit named like edgemicro in the journal"))
                .collect();
            units.sort();
            units.dedup();
            units.truncate(8);
            units
        }
    };
    units
        .into_iter()
        .map(|(unit, why)| JournalSource {
            path: format!("logs/journal-{unit}.log"),
            unit,
            why,
        })
        .collect()
}

/// Streams each unit's journal into `logs/journal-UNIT.log`.
pub(super) fn collect_journal(
    settings: &Settings,
    stream: &Stream,
    writer: &mut BundleWriter,
    reports: &mut Reports,
    found: &mut Discovery,
) -> Result<()> {
    for JournalSource { unit, path, why } in journal_units(settings) {
        let mut cmd = journalctl(settings);
        cmd.arg(format!("--unit={unit}"))
            .args(["-o", "short-iso-precise"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(since) = settings.since {
            cmd.arg(format!("--since=@{}", since.timestamp()));
        }
        if let Some(until) = settings.until {
            cmd.arg(format!("--until=@{}", until.timestamp() + 1));
        }
        let source = format!("journalctl --unit={unit} ({why})");
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => {
                if settings.journal != JournalChoice::Auto {
                    found.skipped.push(Skipped {
                        source,
                        reason: format!("journalctl did not run: {e}"),
                    });
                }
                continue;
            }
        };
        let (Some(mut stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            continue;
        };
        // journalctl's complaints, bounded, read beside the log so neither pipe fills.
        let errors = crate::child::drain(stderr, 4096);
        let mut entry = writer.entry(&path)?;
        let copied = copy_pipe(
            &mut stdout,
            &path,
            "the journal",
            &source,
            settings,
            stream,
            &mut entry,
            found,
        );
        let _ = child.kill();
        let status = child.wait();
        let errors = String::from_utf8_lossy(&errors.join().unwrap_or_default()).into_owned();
        let copied = copied?;
        if !copied.truncated && status.is_ok_and(|s| !s.success()) {
            let first = errors.lines().next().unwrap_or("no message");
            found.warnings.push(format!(
                "journalctl --unit={unit} failed: {}",
                first.chars().take(200).collect::<String>()
            ));
        }
        entry.finish(&source, copied.report.total, copied.truncated)?;
        reports.push(path, copied.report);
    }
    Ok(())
}
