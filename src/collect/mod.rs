//! `collect`: the non-interactive data flow, discover → plan → collect → redact → package.
//! The wizard (when it exists) builds the same `Settings` and calls the same `run`.
//!
//! Order matters: the output is created first (a bad `-o` fails before any work), configs are
//! parsed before logs (their secrets become literals for every later file), and the manifest is
//! written last. Nothing unredacted is ever written, not even to a temp file.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Instant;

use anyhow::{Context, Result};

use crate::bundle::{BundleWriter, FileEntry};
use crate::discover::{discover, Discovery};
use crate::exit::Exit;
use crate::lines::{Block, Blocks, Piece};
use crate::model::PathSource;
use crate::model::{LogFile, Skipped};
use crate::redact::{self, FileReport, KnownSecret, RuleSet, TextEngine};
use crate::report::{Redactions, Report};
use crate::safe_fs::{io_reason, open_in_dir};
use crate::settings::{Output, Settings};
use crate::signals::Interrupt;
use crate::spill::Spill;
use crate::window::TimeWindow;
use crate::{facts, loglevel};

mod capture;
mod conclude;
mod journal;
mod logs;
mod package;
mod reports;
mod reproduce;
mod seal;

use capture::*;
use conclude::*;
use journal::collect_journal;
pub(crate) use journal::{journal_units, JournalSource};
use logs::*;
use package::*;
use reports::Reports;
use reproduce::*;
use seal::{seal, Sealing};

/// Everything known before the first byte is written: the rules, what is on the host, and every
/// secret value (from the configs, argv, the environment) with its encodings.
pub(crate) struct Plan {
    pub(crate) rules: RuleSet,
    pub(crate) found: Discovery,
    pub(crate) facts: facts::Facts,
    pub(crate) known: Vec<KnownSecret>,
}

impl Plan {
    pub(crate) fn build(settings: &Settings, mut rules: RuleSet) -> Result<Plan> {
        let mut found = discover(settings)?;
        let headers: Vec<String> = found
            .configs
            .iter()
            .flat_map(|c| c.yaml.leaves())
            .filter(|(path, _)| {
                path.rsplit('.')
                    .next()
                    .is_some_and(|k| redact::rules::normalize_key(k) == "api_key_header")
            })
            .map(|(_, value)| value)
            .collect();
        rules.add_api_key_headers(&headers)?;
        let (facts, argv_secrets) = facts::gather();
        let mut known: Vec<KnownSecret> = found
            .configs
            .iter()
            .flat_map(|c| redact::config_secrets(&rules, &c.yaml, &c.text))
            .collect();
        known.extend(argv_secrets);
        known.extend(found.secrets.iter().cloned());
        let mut ignored: BTreeMap<String, usize> = BTreeMap::new();
        known.retain(|k| {
            let keep = redact::literal_verdict(&String::from_utf8_lossy(&k.value)).is_ok();
            if !keep {
                *ignored.entry(k.rule.clone()).or_default() += 1;
            }
            keep
        });
        if !ignored.is_empty() {
            let list: Vec<String> = ignored.iter().map(|(r, n)| format!("{r} {n}")).collect();
            found.warnings.push(format!(
                "known secret values not searched for across the bundle (too short, ordinary words, numbers or paths; replaced where they stand): {}",
                list.join(", ")
            ));
        }
        Ok(Plan {
            rules,
            found,
            facts,
            known: redact::with_encodings(known),
        })
    }

    pub(crate) fn engine(&self) -> TextEngine<'_> {
        TextEngine::new(&self.rules, &self.known)
    }

    pub(crate) fn log_bytes(&self) -> u64 {
        self.found.logs.bytes()
    }
}

/// What differs between the wizard and the flags; the engine calls these and nothing else.
pub(crate) trait FrontEnd {
    /// A status line for the operator (the capture filter, what happens next).
    fn say(&self, line: &str);
    /// The level was switched and/or a capture runs: wait for the reproduction.
    fn reproduce(&self, switch: Option<&loglevel::Switch>, interrupt: &Interrupt) -> Result<()>;
    /// Whether the end of the reproduction also ends the capture (an operator said "done").
    fn reproduction_ends_capture(&self) -> bool;
    /// A progress bar over `total` log bytes; hidden unless a person watches a terminal.
    fn progress(&self, total: u64) -> indicatif::ProgressBar;
}

pub(crate) fn run(
    settings: &Settings,
    interrupt: &Interrupt,
    front: &dyn FrontEnd,
) -> Result<Report> {
    collect(settings, interrupt, front).map_err(crate::bundle::disk_full_to_fail)
}

/// The flow, stage by stage; each stage lives in its own file under `collect/`.
fn collect(settings: &Settings, interrupt: &Interrupt, front: &dyn FrontEnd) -> Result<Report> {
    let started = Instant::now();
    // Before the bundle's workers start: they inherit it.
    let lowered = settings.low_priority.then(crate::priority::lower);
    let rules = RuleSet::load(&settings.rules)?;
    let Opened {
        output,
        mut writer,
        pseudonyms,
    } = open(settings)?;
    // Dropping the switch on any error or signal below restores the level.
    let reproduced = reproduce(settings, front, interrupt)?;
    // Discovery after the reproduction: logs written during it are in.
    interrupt.stage("discover")?;
    let Plan {
        rules,
        mut found,
        facts,
        known,
    } = Plan::build(settings, rules)?;
    interrupt.check()?;
    let notes = lowered.and_then(|l| l.note);
    let switched = reproduced.switch.is_some();
    warn_about_the_run(
        settings,
        &mut found,
        reproduced.capture_warnings,
        notes,
        switched,
        &output,
    );
    let engine = engine(&rules, &known, pseudonyms.as_ref(), &mut writer);
    let empty_window = empty_window(settings);
    found.warnings.extend(empty_window.clone());
    let along = Along::new(settings, started, &found, front);
    let mut reports = Reports::new(writer.spill_dir());
    let kept = stream_sources(
        settings,
        &rules,
        &along.stream(&engine, interrupt),
        &facts,
        &mut found,
        &mut writer,
        &mut reports,
    )?;
    along.progress.finish_and_clear();
    let (capture, capture_findings) =
        capture_stage(reproduced.capture, &mut found, &mut writer, &along.limits)?;
    let triage = along.triage;
    let concluded = conclude(
        settings,
        &triage.borrow(),
        &mut found,
        facts,
        &engine,
        &mut writer,
        &mut reports,
        capture_findings,
        reproduced.switch.is_some() || capture.is_some(),
        kept.newest.as_ref(),
        interrupt,
    )?;
    seal(Sealing {
        settings,
        interrupt,
        started,
        output: &output,
        writer,
        found,
        rules: &rules,
        reports: &reports,
        listing: &kept.listing,
        pseudonyms: pseudonyms.as_ref(),
        switch: reproduced.switch,
        capture,
        concluded,
        empty_window,
    })
}

/// What goes along with the streaming: the time window, the limits, the progress bar and the
/// triage that reads every redacted line on its way to the zip.
struct Along {
    window: TimeWindow,
    limits: Limits,
    progress: indicatif::ProgressBar,
    triage: std::cell::RefCell<crate::analyze::logs::Triage>,
}

impl Along {
    fn new(
        settings: &Settings,
        started: Instant,
        found: &Discovery,
        front: &dyn FrontEnd,
    ) -> Along {
        Along {
            window: TimeWindow::new(settings.since, settings.until),
            limits: Limits::new(settings, started, found.logs.len() + found.configs.len()),
            progress: front.progress(found.logs.bytes()),
            triage: std::cell::RefCell::new(crate::analyze::logs::Triage::default()),
        }
    }

    fn stream<'a>(&'a self, engine: &'a TextEngine<'a>, interrupt: &'a Interrupt) -> Stream<'a> {
        Stream {
            engine,
            window: &self.window,
            limits: &self.limits,
            interrupt,
            progress: &self.progress,
            triage: &self.triage,
        }
    }
}

/// What the operator must know about this run before the logs: the capture's warnings, what
/// `--low-priority` could not do, a switch an earlier run left in place, an output dir others
/// can write to.
fn warn_about_the_run(
    settings: &Settings,
    found: &mut Discovery,
    capture_warnings: Vec<String>,
    low_priority: Option<String>,
    switched: bool,
    output: &Output,
) {
    found.warnings.extend(capture_warnings);
    found
        .warnings
        .extend(low_priority.map(|n| format!("--low-priority: {n}")));
    if !switched {
        found
            .warnings
            .extend(pending_switches(settings, &found.pairs));
    }
    found.warnings.extend(world_writable_output(output));
}

/// The bundle's output, opened first (a bad `-o` fails before any work), and the pseudonym key.
struct Opened {
    output: Output,
    writer: BundleWriter,
    pseudonyms: Option<redact::pseudonym::Pseudonyms>,
}

fn open(settings: &Settings) -> Result<Opened> {
    if settings.pseudonymize.is_some() && settings.output == Output::Stdout {
        return Err(crate::exit::Fail::usage(
            "--pseudonymize writes its token map beside the bundle, and -o - has no \"beside\"",
            "write the bundle to a file with -o PATH, or leave out --pseudonymize",
        )
        .into());
    }
    let pseudonyms = settings
        .pseudonymize
        .map(redact::pseudonym::Pseudonyms::random)
        .transpose()?;
    let output = crate::bundle::resolve_output(settings)?;
    let mut writer = BundleWriter::create(&output, settings.force, settings.started)?;
    writer.limit(settings.max_bundle_bytes);
    Ok(Opened {
        output,
        writer,
        pseudonyms,
    })
}

/// The redaction engine, and the values the bundle's self-check refuses anywhere.
fn engine<'r>(
    rules: &'r RuleSet,
    known: &[KnownSecret],
    pseudonyms: Option<&'r redact::pseudonym::Pseudonyms>,
    writer: &mut BundleWriter,
) -> TextEngine<'r> {
    let engine = TextEngine::new(rules, known);
    match pseudonyms {
        Some(p) => {
            // The key in any form is a secret: the self-check refuses it anywhere in the bundle.
            writer.set_known(&[known, &p.guarded()].concat());
            engine.pseudonymize(p)
        }
        None => {
            writer.set_known(known);
            engine
        }
    }
}

/// A window that holds no time at all keeps no log line: say so, and call the bundle partial.
fn empty_window(settings: &Settings) -> Option<String> {
    let at =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    match (settings.since, settings.until) {
        (Some(since), Some(until)) if since >= until => Some(format!(
            "--since ({}) is not before --until ({}): the window is empty, so no log line was kept",
            at(since),
            at(until)
        )),
        (Some(since), _) if since > settings.started => Some(format!(
            "--since ({}) is in the future: the window is empty, so no log line was kept",
            at(since)
        )),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
/// A `log-level set` of an earlier run that is still in force: the logs are at that level, and
/// someone should restore it.
fn pending_switches(settings: &Settings, pairs: &[String]) -> Vec<String> {
    pairs
        .iter()
        .filter_map(|pair| {
            let target = loglevel::Target::find(&settings.config_dir, Some(pair.clone())).ok()?;
            let state = target.pending_in_force().ok()??;
            let (org, env) = target.org_env();
            Some(format!(
                "edgemicro.logging.level in {} is still switched to {} by edgemicro-diag (since {}); put it back with `edgemicro-diag log-level restore -c {} --org {org} --env {env}`",
                target.file.display(),
                state.level,
                state.at,
                settings.config_dir.value.display()
            ))
        })
        .collect()
}

/// Others could replace or read a bundle in a world-writable dir without the sticky bit
/// (the bundle itself is 0600 from creation).
fn world_writable_output(output: &Output) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let Output::File(path) = output else {
        return None;
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mode = std::fs::metadata(dir).ok()?.permissions().mode();
    (mode & 0o002 != 0 && mode & 0o1000 == 0)
        .then(|| format!("the output dir `{}` is world-writable (mode {:o}): others can replace the bundle; move it somewhere private", dir.display(), mode & 0o7777))
}

pub(super) const OVER_BUNDLE: &str = "over --max-bundle-bytes (newest logs are taken first)";
pub(super) const PAST_DEADLINE: &str = "over --max-seconds (newest logs are taken first)";

/// Room under `--max-bundle-bytes` too small to start (or go on with) a log in.
pub(super) const MIN_ROOM: u64 = 4096;

/// `--max-bundle-bytes` and `--max-seconds`: checked before each log and each chunk.
pub(crate) struct Limits {
    pub(crate) deadline: Option<Instant>,
    pub(crate) max_bundle: Option<u64>,
    /// Room kept for what is written after the logs: findings, facts, the redaction report, the
    /// manifest, the zip directory. Measured from a render of those entries before the logs
    /// and again whenever a log would not fit (`conclude::trailing_bytes`).
    pub(crate) reserve: std::cell::Cell<u64>,
}

impl Limits {
    fn new(settings: &Settings, started: Instant, files: usize) -> Limits {
        Limits {
            // A budget past what a clock can hold is no budget.
            deadline: settings
                .max_seconds
                .and_then(|s| started.checked_add(std::time::Duration::from_secs(s))),
            max_bundle: settings.max_bundle_bytes,
            // Until measured; the seal refuses a finished bundle over the limit rather than
            // exceed it.
            reserve: std::cell::Cell::new((256 << 10) + 2048 * files as u64),
        }
    }

    /// Whether a bundle limit is set (then the reserve is worth measuring).
    pub(super) fn bounded(&self) -> bool {
        self.max_bundle.is_some()
    }

    /// Which limit the bundle has reached, as the reason a log was cut or skipped.
    pub(super) fn reached(&self, bundle_bytes: u64) -> Option<&'static str> {
        if self.over_bundle(bundle_bytes) {
            return Some(OVER_BUNDLE);
        }
        if self.past_deadline() {
            return Some(PAST_DEADLINE);
        }
        None
    }

    /// Whether `bundle_bytes` leaves less than `MIN_ROOM` under the limit after the reserve.
    pub(super) fn over_bundle(&self, bundle_bytes: u64) -> bool {
        self.max_bundle
            .is_some_and(|max| bundle_bytes + self.reserve.get() + MIN_ROOM > max)
    }

    pub(super) fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// How much of a capture still fits.
    pub(super) fn room(&self, bundle_bytes: u64) -> u64 {
        self.max_bundle.map_or(u64::MAX, |max| {
            max.saturating_sub(bundle_bytes + self.reserve.get())
        })
    }
}
