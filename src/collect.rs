//! `collect`: the non-interactive data flow, discover → plan → collect → redact → package.
//! The wizard (when it exists) builds the same `Settings` and calls the same `run`.
//!
//! Order matters: the output is created first (a bad `-o` fails before any work), configs are
//! parsed before logs (their secrets become literals for every later file), and the manifest is
//! written last. Nothing unredacted is ever written, not even to a temp file.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::time::{Instant, UNIX_EPOCH};

use anyhow::Result;
use serde_json::json;

use crate::bundle::{leak_to_fail, BundleWriter, FileEntry};
use crate::discover::{discover, Discovery};
use crate::exit::Exit;
use crate::lines::{Block, Blocks, Piece};
use crate::model::{LogFile, Skipped};
use crate::redact::{self, FileReport, KnownSecret, RuleSet, TextEngine};
use crate::report::{PathSource, Redactions, Report};
use crate::safe_fs::{io_reason, open_in_dir};
use crate::settings::{Output, Settings};
use crate::signals::Interrupt;
use crate::window::TimeWindow;
use crate::{facts, loglevel};

/// Redacted bytes are handed to the zip in chunks of this size.
const CHUNK: usize = 256 << 10;
/// Whole lines read and redacted per automaton pass.
const BLOCK: usize = 256 << 10;
/// Chunks between the two stages: bounds memory at about IN_FLIGHT × CHUNK.
const IN_FLIGHT: usize = 4;

/// Everything known before the first byte is written: the rules, what is on the host, and every
/// secret value (from the configs, argv, the environment) with its encodings.
pub struct Plan {
    pub rules: RuleSet,
    pub found: Discovery,
    pub facts: facts::Facts,
    pub known: Vec<KnownSecret>,
}

impl Plan {
    pub fn build(settings: &Settings, mut rules: RuleSet) -> Result<Plan> {
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

    pub fn engine(&self) -> TextEngine<'_> {
        TextEngine::new(&self.rules, &self.known)
    }

    pub fn log_bytes(&self) -> u64 {
        self.found.logs.iter().map(|l| l.size).sum()
    }
}

/// What differs between the wizard and the flags; the engine calls these and nothing else.
pub trait FrontEnd {
    /// A status line for the operator (the capture filter, what happens next).
    fn say(&self, line: &str);
    /// The level was switched and/or a capture runs: wait for the reproduction.
    fn reproduce(&self, switch: Option<&loglevel::Switch>, interrupt: &Interrupt) -> Result<()>;
    /// Whether the end of the reproduction also ends the capture (an operator said "done").
    fn reproduction_ends_capture(&self) -> bool;
    /// A progress bar over `total` log bytes; hidden unless a person watches a terminal.
    fn progress(&self, total: u64) -> indicatif::ProgressBar;
}

pub fn run(settings: &Settings, interrupt: &Interrupt, front: &dyn FrontEnd) -> Result<Report> {
    collect(settings, interrupt, front).map_err(crate::bundle::disk_full_to_fail)
}

fn collect(settings: &Settings, interrupt: &Interrupt, front: &dyn FrontEnd) -> Result<Report> {
    let started = Instant::now();
    let rules = RuleSet::load(&settings.rules)?;
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
    // Dropping the switch on any error or signal below restores the level.
    let switch = match &settings.log_level {
        Some(level) => {
            let target = loglevel::Target::find(&settings.config_dir, settings.pair.clone())?;
            // --reload needs the key, the secret and edgemicro: checked before anything changes.
            if settings.reload {
                loglevel::check_reload()?;
            }
            Some(loglevel::Switch::set(target, level)?)
        }
        None => None,
    };
    let mut capture_warnings = Vec::new();
    let capture = match &settings.capture {
        Some(spec) => Some(start_capture(settings, spec, front, &mut capture_warnings)?),
        None => None,
    };
    if let Some(switch) = &switch {
        let before = switch.before.as_deref().unwrap_or("unset");
        front.say(&format!(
            "edgemicro.logging.level: {before} -> {} in {}",
            switch.during,
            switch.target().file.display()
        ));
        if settings.reload {
            let said = loglevel::reload(switch.target())?;
            front.say(&format!("edgemicro reload: {said}"));
        } else {
            front.say(&switch.target().pickup_hint());
        }
        if let Some(warning) = loglevel::header_warning(&switch.during) {
            front.say(&format!("warning: {warning}"));
        }
    }
    if switch.is_some() || capture.is_some() {
        front.reproduce(switch.as_ref(), interrupt)?;
    }
    let capture = match capture {
        Some(Ok(running)) => Some(
            running
                .finish(front.reproduction_ends_capture(), interrupt)
                .map(|(file, record)| (Some(file), record))?,
        ),
        Some(Err(record)) => Some((None, *record)),
        None => None,
    };
    // Discovery after the reproduction: logs written during it are in.
    interrupt.stage("discover")?;
    let Plan {
        rules,
        mut found,
        mut facts,
        known,
    } = Plan::build(settings, rules)?;
    interrupt.check()?;
    found.warnings.extend(capture_warnings);
    if switch.is_none() {
        found
            .warnings
            .extend(pending_switches(settings, &found.pairs));
    }
    if let Some(warning) = world_writable_output(&output) {
        found.warnings.push(warning);
    }
    let mut engine = TextEngine::new(&rules, &known);
    match &pseudonyms {
        Some(p) => {
            engine = engine.pseudonymize(p);
            // The key in any form is a secret: the self-check refuses it anywhere in the bundle.
            writer.set_known(&[known.as_slice(), &p.guarded()].concat());
        }
        None => writer.set_known(&known),
    }
    let window = TimeWindow::new(settings.since, settings.until);
    // A window that holds no time at all keeps no log line: say so, and call the bundle partial.
    let empty_window = match (settings.since, settings.until) {
        (Some(since), Some(until)) if since >= until => Some(format!(
            "--since ({}) is not before --until ({}): the window is empty, so no log line was kept",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        (Some(since), _) if since > settings.started => Some(format!(
            "--since ({}) is in the future: the window is empty, so no log line was kept",
            since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        )),
        _ => None,
    };
    found.warnings.extend(empty_window.clone());
    let progress = front.progress(found.logs.iter().map(|l| l.size).sum());
    let triage = std::cell::RefCell::new(crate::analyze::logs::Triage::default());
    let limits = Limits::new(settings, started, found.logs.len() + found.configs.len());
    let stream = Stream {
        window: &window,
        limits: &limits,
        interrupt,
        progress: &progress,
        triage: &triage,
    };

    let mut reports: Vec<(String, FileReport)> = Vec::new();
    collect_configs(&found, &rules, &engine, &mut writer, &mut reports).map_err(leak_to_fail)?;
    collect_logs(
        settings,
        &mut found,
        &engine,
        &stream,
        &mut writer,
        &mut reports,
    )
    .map_err(|e| {
        // The whole bundle holds about what is in it before the logs plus every log byte.
        let before_logs: u64 = writer
            .files()
            .iter()
            .filter(|f| !f.path.starts_with("logs/"))
            .map(|f| f.bytes)
            .sum();
        let total = before_logs + progress.length().unwrap_or(0);
        crate::bundle::disk_full_estimated(leak_to_fail(e), Some((writer.plain_bytes(), total)))
    })?;
    if let Some(name) = &settings.stdin_log {
        collect_stdin_log(
            name,
            settings,
            &engine,
            &stream,
            &mut writer,
            &mut reports,
            &mut found,
        )
        .map_err(leak_to_fail)?;
    }
    progress.finish_and_clear();

    let mut capture_findings = Vec::new();
    let capture = match capture {
        Some((Some(file), mut record)) => {
            capture_findings.extend(
                package_capture(file, &mut record, &mut writer, &limits).map_err(leak_to_fail)?,
            );
            Some(record)
        }
        Some((None, record)) => {
            let reason = record.reason.clone().unwrap_or_default();
            found.skipped.push(Skipped {
                source: "capture".into(),
                reason: reason.clone(),
            });
            found.warnings.push(format!(
                "capture: {reason}; {}",
                record.hint.as_deref().unwrap_or("see the manifest")
            ));
            Some(record)
        }
        None => None,
    };
    let keepalive = crate::analyze::keepalive::from_configs(
        found.configs.iter().map(|c| (c.name.as_str(), &c.yaml)),
        crate::analyze::keepalive::os_keepalive(),
    );
    let findings = crate::analyze::conclude(crate::analyze::Evidence {
        triage: &triage.borrow(),
        keepalive: &keepalive,
        probes: &[],
        lb_idle_timeout_s: None,
        capture: capture_findings,
    });
    writer
        .small(
            "findings.json",
            "edgemicro-diag",
            &serde_json::to_vec_pretty(&findings)?,
            0,
        )
        .map_err(leak_to_fail)?;
    writer
        .small(
            "findings.md",
            "edgemicro-diag",
            crate::analyze::markdown(&findings).as_bytes(),
            0,
        )
        .map_err(leak_to_fail)?;

    facts.versions_from_logs = triage.borrow().versions.clone();
    facts.settle_versions();
    // What support asks next on resets: does the target's name resolve, and to what, here.
    for target in crate::targets::discover(&found.configs, &found.logs).targets {
        if let crate::targets::Host::Name(name) = &target.host {
            let answer = match crate::targets::addresses(&target.host) {
                Ok(ips) => ips
                    .iter()
                    .map(|ip| ip.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                Err(e) => e,
            };
            facts.target_dns.insert(name.clone(), answer);
        }
    }
    // Process command lines (`sh -c "edgemicro start … -k KEY -s SECRET"`), versions and paths:
    // through the same rules as every log line before it is written.
    let mut facts_redactor = engine.file();
    let mut facts_json = Vec::new();
    facts_redactor.lines(&serde_json::to_vec_pretty(&facts)?, false, &mut facts_json);
    writer
        .small(
            "system/facts.json",
            "this host",
            &facts_json,
            facts_redactor.report.total,
        )
        .map_err(leak_to_fail)?;
    reports.push(("system/facts.json".into(), facts_redactor.report));
    let redactions = Redactions::sum(&reports);
    let report_json = redaction_report(&reports);
    writer
        .small(
            "redaction-report.json",
            "edgemicro-diag",
            &serde_json::to_vec_pretty(&report_json)?,
            0,
        )
        .map_err(leak_to_fail)?;
    interrupt.check()?;

    // Paths of skipped files and warnings name host files: through the rules too.
    for skipped in &mut found.skipped {
        skipped.source = redacted_name(&engine, &skipped.source);
        skipped.reason = redacted_name(&engine, &skipped.reason);
    }
    for warning in &mut found.warnings {
        *warning = redacted_name(&engine, warning);
    }
    let page = report_page(
        settings,
        &triage.borrow(),
        &findings,
        &keepalive,
        writer.files(),
        &found.skipped,
        &redactions,
        &reports,
        switch.is_some() || capture.is_some(),
    );
    writer
        .small("report.html", "edgemicro-diag", page.as_bytes(), 0)
        .map_err(leak_to_fail)?;
    // Last before the manifest: the summary knows everything the run found.
    let summary = summary(
        &triage.borrow(),
        &keepalive,
        &facts.versions,
        &found.skipped,
        &findings,
    );
    let text = readme(settings, &summary);
    let mut shown = Vec::new();
    let mut readme_redactor = engine.file();
    readme_redactor.lines(text.as_bytes(), false, &mut shown);
    writer
        .small(
            "README.txt",
            "edgemicro-diag",
            &shown,
            readme_redactor.report.total,
        )
        .map_err(leak_to_fail)?;
    let files: Vec<FileEntry> = writer.files().to_vec();
    let truncated = files.iter().any(|f| f.truncated);
    // Restored before sealing, so the manifest records the outcome.
    let log_level = switch.map(|switch| {
        let target = switch.target().clone();
        let mut record = json!({"file": target.file, "before": switch.before, "during": switch.during, "reload_command": target.reload_command()});
        match switch.restore() {
            Ok(()) => {
                record["restored"] = true.into();
                if settings.reload {
                    match loglevel::reload(&target) {
                        Ok(said) => record["reloaded"] = said.into(),
                        Err(e) => found.warnings.push(format!("the level was restored in the file, but `edgemicro reload` failed ({e:#}); run: {}", target.reload_command())),
                    }
                }
            }
            Err(e) => {
                record["restored"] = false.into();
                found.warnings.push(format!("the log level was NOT restored ({e:#}); run `edgemicro-diag log-level restore`"));
            }
        }
        record
    });
    let restored = log_level.as_ref().is_none_or(|l| l["restored"] == true);
    let complete = found.skipped.is_empty()
        && empty_window.is_none()
        && !truncated
        && (!found.logs.is_empty() || settings.stdin_log.is_some())
        && restored;
    let exit = if complete { Exit::Ok } else { Exit::Partial };
    let manifest = manifest(
        settings,
        &output,
        &found,
        &files,
        &rules,
        &redactions,
        log_level.clone(),
        capture.as_ref(),
    );
    let sealed = match &pseudonyms {
        Some(p) => {
            let map = |bundle: &str, sha256: &str| {
                redact::pseudonym::map_json(&reports, bundle, sha256, p.keep_values)
            };
            writer.seal_with(
                &manifest,
                Some((crate::bundle::MAP_SUFFIX, &map)),
                interrupt,
            )
        }
        None => writer.seal(&manifest, interrupt),
    }
    .map_err(leak_to_fail)?;
    let map = pseudonyms.as_ref().and(sealed.path.as_ref()).map(|p| {
        crate::bundle::companion_path(p, crate::bundle::MAP_SUFFIX)
            .display()
            .to_string()
    });
    Ok(Report {
        exit,
        bundle: sealed
            .path
            .map(|p| p.display().to_string())
            .or_else(|| Some("-".into())),
        sha256: Some(sealed.sha256),
        bytes: Some(sealed.bytes),
        map,
        config_dir: Some(PathSource::of(&found.config_dir)),
        log_dirs: found.log_dirs.iter().map(PathSource::of).collect(),
        pairs: found.pairs,
        files,
        skipped: found.skipped,
        redactions,
        warnings: found.warnings,
        log_level,
        capture,
        findings,
        versions: facts.versions.clone(),
        duration_ms: started.elapsed().as_millis() as u64,
        error: None,
        hint: None,
    })
}

fn collect_configs(
    found: &Discovery,
    rules: &RuleSet,
    engine: &TextEngine,
    writer: &mut BundleWriter,
    reports: &mut Vec<(String, FileReport)>,
) -> Result<()> {
    for config in &found.configs {
        let path = format!("config/{}", config.name);
        let (bytes, report) =
            redact::redact_config(rules, engine, &config.name, &config.text, &config.yaml)?;
        writer.small(
            &path,
            &config.path.display().to_string(),
            &bytes,
            report.total,
        )?;
        reports.push((path, report));
    }
    Ok(())
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

/// Finds the targets, builds the filter, shows it, starts tcpdump. `Ok(Err(record))`: the
/// capture could not run (no target, no tcpdump, no permission); the bundle goes on without it.
fn start_capture(
    settings: &Settings,
    spec: &crate::capture::CaptureSpec,
    front: &dyn FrontEnd,
    warnings: &mut Vec<String>,
) -> Result<std::result::Result<crate::capture::Running, Box<crate::capture::CaptureRecord>>> {
    let discovered = discover(settings)?;
    let found = crate::targets::discover(&discovered.configs, &discovered.logs);
    warnings.extend(found.warnings);
    let filter = crate::capture::filter(spec, &found.targets, warnings);
    for warning in warnings.iter() {
        front.say(&format!("warning: {warning}"));
    }
    if filter.is_none() && !spec.hosts.is_empty() {
        return Err(crate::exit::Fail::usage(
            format!("--capture-host: no address for {}", warnings.join("; ")),
            "name the target by its IP address, or a name this host resolves",
        )
        .into());
    }
    let Some((filter, used)) = filter else {
        return Ok(Err(Box::new(crate::capture::CaptureRecord {
            status: "skipped",
            reason: Some("no target known: the configs have no proxies[].url, the logs no targetRequest errors with a valid host:port, or no name resolved".into()),
            hint: Some("name it with --capture-host HOST [--capture-port PORT]".into()),
            ..Default::default()
        })));
    };
    let payload = if spec.payload {
        "whole packets, payload NOT redacted"
    } else {
        "headers only"
    };
    let ports = crate::capture::target_ports(spec, &found.targets);
    front.say(&format!(
        "capturing on {} for at most {} s / {} bytes ({payload}): tcpdump '{filter}'",
        spec.interface, spec.seconds, spec.max_bytes
    ));
    Ok(crate::capture::start(spec, filter)
        .map(|mut running| {
            running.record.target_ports = ports;
            running.record.targets = used.clone();
            running
        })
        .map_err(|mut record| {
            record.targets = used;
            record
        }))
}

/// The pcap into `capture/targets.pcap` (whole packets, within the byte bound), and what the
/// connections in it show.
fn package_capture(
    mut file: std::fs::File,
    record: &mut crate::capture::CaptureRecord,
    writer: &mut BundleWriter,
    limits: &Limits,
) -> Result<Vec<crate::analyze::Finding>> {
    const PATH: &str = "capture/targets.pcap";
    // pcaps hardly compress: what is left under --max-bundle-bytes bounds the copy too.
    let max = record.max_bytes.min(limits.room(writer.bytes_written()));
    let mut entry = writer.entry(PATH, max)?;
    let written = crate::capture::copy_bounded(&mut file, &mut entry, max)?;
    entry.finish("tcpdump", 0, false)?;
    record.file = Some(PATH.into());
    record.bytes = written;
    file.rewind()?;
    let segments = crate::analyze::pcap::segments(file.take(written))?;
    let conns = crate::analyze::pcap::connections(&segments, &record.target_ports);
    Ok(crate::analyze::pcap::findings(&conns, PATH))
}

/// `--max-bundle-bytes` and `--max-seconds`: checked before each log and after each chunk.
pub struct Limits {
    pub deadline: Option<Instant>,
    pub max_bundle: Option<u64>,
    /// Room kept for what is written after the logs: findings, facts, the redaction report, the
    /// manifest, the zip directory, and deflate output still buffered.
    pub reserve: u64,
}

impl Limits {
    fn new(settings: &Settings, started: Instant, files: usize) -> Limits {
        Limits {
            // A budget past what a clock can hold is no budget.
            deadline: settings
                .max_seconds
                .and_then(|s| started.checked_add(std::time::Duration::from_secs(s))),
            max_bundle: settings.max_bundle_bytes,
            reserve: (256 << 10) + 2048 * files as u64,
        }
    }

    /// Which limit the bundle has reached, as the reason a log was cut or skipped.
    fn reached(&self, bundle_bytes: u64) -> Option<&'static str> {
        if self
            .max_bundle
            .is_some_and(|max| bundle_bytes + self.reserve >= max)
        {
            return Some("over --max-bundle-bytes (newest logs are taken first)");
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some("over --max-seconds (newest logs are taken first)");
        }
        None
    }

    /// How much of a capture still fits.
    fn room(&self, bundle_bytes: u64) -> u64 {
        self.max_bundle.map_or(u64::MAX, |max| {
            max.saturating_sub(bundle_bytes + self.reserve)
        })
    }
}

/// How a log copy ended.
enum Copied {
    Whole,
    /// A read error ended the file early (the entry keeps what was read).
    ReadError(std::io::Error),
    /// A limit was reached while copying: the entry holds the first part.
    Limited(&'static str),
}

/// How logs are streamed: the time window, the interrupt flag, the progress bar, the triage.
/// The triage reads every redacted line on its way to the zip (one pass over the logs).
struct Stream<'a> {
    window: &'a TimeWindow,
    limits: &'a Limits,
    interrupt: &'a Interrupt,
    progress: &'a indicatif::ProgressBar,
    triage: &'a std::cell::RefCell<crate::analyze::logs::Triage>,
}

fn collect_logs(
    settings: &Settings,
    found: &mut Discovery,
    engine: &TextEngine,
    stream: &Stream,
    writer: &mut BundleWriter,
    reports: &mut Vec<(String, FileReport)>,
) -> Result<()> {
    let mut budget = settings.max_log_bytes.unwrap_or(u64::MAX);
    let mut kept = Vec::new();
    for mut log in std::mem::take(&mut found.logs) {
        // A secret in a file name (a key pasted into a rotated log's name) must not reach the
        // entry name, the manifest or the JSON.
        log.name = redacted_name(engine, &log.name);
        let source = redacted_name(engine, &log.path.display().to_string());
        if stream.window.older_than_since(log.modified) {
            found.skipped.push(Skipped {
                source,
                reason: "last written before --since".into(),
            });
            continue;
        }
        if budget == 0 {
            found.skipped.push(Skipped {
                source,
                reason: "over --max-log-bytes (newest logs are taken first)".into(),
            });
            continue;
        }
        if let Some(reason) = stream.limits.reached(writer.bytes_written()) {
            found.skipped.push(Skipped {
                source,
                reason: reason.into(),
            });
            continue;
        }
        let dir = log.path.parent().unwrap_or(std::path::Path::new("/"));
        let opened = match open_in_dir(dir, log.path.file_name().unwrap_or_default()) {
            Ok(o) => o,
            Err(reason) => {
                found.skipped.push(Skipped { source, reason });
                continue;
            }
        };
        if let Some(reason) = utf16_reason(&opened.file) {
            found.skipped.push(Skipped { source, reason });
            continue;
        }
        // Checked again on what was opened: a file swapped for a link after the listing.
        if let Some(reason) = crate::safe_fs::hardlink_reason(dir, &opened.meta)
            .filter(|_| !settings.follow_hardlinks)
        {
            found.skipped.push(Skipped { source, reason });
            continue;
        }
        if log.gz {
            let outcome = copy_gz_log(&log, opened.file, &source, budget, engine, stream, writer)?;
            budget -= outcome.bytes.min(budget);
            found.skipped.extend(outcome.skipped);
            found.warnings.extend(outcome.warning);
            reports.push(outcome.report);
            kept.push(log);
            continue;
        }
        // Copy up to the size seen now: a log that grows while being read ends here.
        let size = opened.meta.len();
        let take = size.min(budget);
        let path = format!("logs/{}", log.name);
        let mut file = opened.file;
        let mut entry = writer.entry(&path, take)?;
        let mut redactor = engine.file();
        let start = size - take;
        let mut limited = (&mut file).take(take);
        let outcome = match limited.get_mut().seek(SeekFrom::Start(start)) {
            Ok(_) => copy_log(&mut limited, start > 0, &mut redactor, stream, &mut entry),
            Err(e) => Ok(Copied::ReadError(e)),
        };
        // A live log changes under us: copy what it held at open, and say what happened.
        let read = take - limited.limit();
        let now = file.metadata().map(|m| m.len()).unwrap_or(size);
        let completed = matches!(outcome, Ok(Copied::Whole));
        if completed && read < take {
            found.warnings.push(format!("{}: shrank while being read (truncated or rotated?): {read} of {size} bytes copied", log.name));
        } else if now > size {
            found.warnings.push(format!(
                "{}: grew while being read; the {size} bytes it had when opened were copied",
                log.name
            ));
        }
        // Skipped bytes of a truncated file count as done for the bar.
        stream.progress.inc(size - take);
        budget -= take.min(budget);
        let truncated = match outcome? {
            Copied::Whole => take < size,
            Copied::ReadError(read_error) => {
                found.skipped.push(Skipped {
                    source: source.clone(),
                    reason: format!("read stopped: {}", io_reason(&read_error)),
                });
                true
            }
            Copied::Limited(reason) => {
                found
                    .warnings
                    .push(format!("{}: cut short, {reason}", log.name));
                true
            }
        };
        if take < size {
            found.warnings.push(format!(
                "{}: only the newest {} of {} bytes (--max-log-bytes)",
                log.name, take, size
            ));
        }
        if redactor.open_block() {
            found.warnings.push(format!(
                "{}: a private key block had no END line; redacted to the end of its key material",
                log.name
            ));
        }
        entry.finish(&source, redactor.report.total, truncated)?;
        reports.push((path, redactor.report));
        kept.push(log);
    }
    found.logs = kept;
    Ok(())
}

/// A UTF-16 log (a PowerShell redirect, some Windows log shippers): the rules read UTF-8 and
/// ASCII, so it would pass unredacted. It is skipped with the way to convert it.
fn utf16_reason(file: &std::fs::File) -> Option<String> {
    use std::os::unix::fs::FileExt;
    let mut head = [0u8; 64];
    let n = file.read_at(&mut head, 0).ok()?;
    let head = &head[..n];
    let bom = head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]);
    let pairs = head.len() / 2;
    let nul_odd = head
        .chunks_exact(2)
        .filter(|p| p[1] == 0 && p[0] != 0)
        .count();
    let nul_even = head
        .chunks_exact(2)
        .filter(|p| p[0] == 0 && p[1] != 0)
        .count();
    let patterned = pairs >= 4 && (nul_odd * 4 >= pairs * 3 || nul_even * 4 >= pairs * 3);
    (bom || patterned).then(|| {
        "UTF-16 text (a PowerShell redirect?): not collected, since the redaction rules read UTF-8; convert it (iconv -f UTF-16LE -t UTF-8 FILE) and pass it with --stdin-log".into()
    })
}

/// A file name through the text rules (known secrets, tokens, keys): the name as an entry.
fn redacted_name(engine: &TextEngine, name: &str) -> String {
    let mut out = Vec::with_capacity(name.len());
    engine.file().line(name.as_bytes(), false, &mut out);
    String::from_utf8(out).unwrap_or_else(|_| name.to_string())
}

/// What copying a compressed log did.
struct GzCopied {
    bytes: u64,
    report: (String, FileReport),
    skipped: Option<Skipped>,
    warning: Option<String>,
}

/// A gzip-compressed rotation, decompressed while read, through the same redaction and limits:
/// at most `budget` decompressed bytes (its first ones: a gzip stream cannot be read from the
/// end), so a small file that inflates without end is cut, never held.
fn copy_gz_log(
    log: &LogFile,
    file: std::fs::File,
    source: &str,
    budget: u64,
    engine: &TextEngine,
    stream: &Stream,
    writer: &mut BundleWriter,
) -> Result<GzCopied> {
    let name = log.name.strip_suffix(".gz").unwrap_or(&log.name);
    let path = format!("logs/{name}");
    let limit = budget.min(MAX_GZ_INFLATED);
    let mut entry = writer.entry(&path, limit)?;
    let mut redactor = engine.file();
    let mut limited = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file)).take(limit);
    let outcome = copy_log(&mut limited, false, &mut redactor, stream, &mut entry)?;
    let read = limit - limited.limit();
    let more = limited.limit() == 0 && limited.into_inner().read(&mut [0u8; 1]).unwrap_or(0) > 0;
    let (mut skipped, mut warning, mut truncated) = (None, None, more);
    match outcome {
        Copied::Whole => {}
        Copied::ReadError(e) => {
            truncated = true;
            skipped = Some(Skipped {
                source: source.to_string(),
                reason: format!("gzip stream stopped: {}", io_reason(&e)),
            });
        }
        Copied::Limited(reason) => {
            truncated = true;
            warning = Some(format!("{name}: cut short, {reason}"));
        }
    }
    if more {
        warning = Some(format!(
            "{name}: only the first {read} decompressed bytes (--max-log-bytes, or {MAX_GZ_INFLATED} for one compressed log)"
        ));
    }
    entry.finish(source, redactor.report.total, truncated)?;
    Ok(GzCopied {
        bytes: read,
        report: (path, redactor.report),
        skipped,
        warning,
    })
}

/// The most one compressed log may inflate to (a gzip bomb is cut here).
const MAX_GZ_INFLATED: u64 = 8 << 30;

/// `--stdin-log NAME`: a log piped in (`docker logs`, `kubectl logs`), redacted and bounded by
/// `--max-log-bytes` (the first bytes: pipe `--since`/`--tail` output to choose the newest).
fn collect_stdin_log(
    name: &str,
    settings: &Settings,
    engine: &TextEngine,
    stream: &Stream,
    writer: &mut BundleWriter,
    reports: &mut Vec<(String, FileReport)>,
    found: &mut Discovery,
) -> Result<()> {
    use std::io::IsTerminal;
    crate::container::check_log_name(name)?;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(crate::exit::Fail::usage(
            "--stdin-log: stdin is a terminal",
            "pipe the log in: docker logs gw1 2>&1 | edgemicro-diag collect -y --stdin-log gw1.log",
        )
        .into());
    }
    let path = format!("logs/{name}");
    if writer.files().iter().any(|f| f.path == path) {
        return Err(crate::exit::Fail::usage(
            format!("--stdin-log: `{name}` is also a log file name"),
            "choose another name",
        )
        .into());
    }
    let limit = settings.max_log_bytes.unwrap_or(u64::MAX);
    // `Stdin` (not its lock, which is tied to this thread) goes to the reader stage.
    let mut input = stdin;
    let mut entry = writer.entry(&path, limit)?;
    let mut redactor = engine.file();
    // A pipe that stalls (`docker logs -f`) must not hang the run: reads wait in slices and
    // give up at --max-seconds or on a signal.
    let polled = Polled {
        inner: &mut input,
        deadline: stream.limits.deadline,
        interrupt: stream.interrupt,
    };
    let mut limited = polled.take(limit);
    let outcome = copy_log(&mut limited, false, &mut redactor, stream, &mut entry)?;
    let mut more = [0u8; 1];
    let mut truncated = limited.limit() == 0 && input.read(&mut more).unwrap_or(0) > 0;
    match outcome {
        Copied::Whole => {}
        Copied::ReadError(e) => found.skipped.push(Skipped {
            source: "stdin".into(),
            reason: format!("read stopped: {}", io_reason(&e)),
        }),
        Copied::Limited(reason) => {
            truncated = true;
            found.warnings.push(format!("{name}: cut short, {reason}"));
        }
    }
    if truncated {
        found.warnings.push(format!(
            "{name}: only the first {limit} bytes of stdin (--max-log-bytes)"
        ));
    }
    entry.finish("stdin", redactor.report.total, truncated)?;
    reports.push((path, redactor.report));
    Ok(())
}

/// Reads stdin without blocking past a deadline or a signal: poll in 200 ms slices, then read.
struct Polled<'a, R> {
    inner: &'a mut R,
    deadline: Option<Instant>,
    interrupt: &'a Interrupt,
}

impl<R: Read + std::os::fd::AsFd> Read for Polled<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        loop {
            if self.interrupt.check().is_err() || self.deadline.is_some_and(|d| Instant::now() >= d)
            {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "stopped waiting for stdin",
                ));
            }
            let mut fds = [PollFd::new(self.inner.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::from(200u16)) {
                Ok(0) => continue,
                Ok(_) => return self.inner.read(buf),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Streams one log: the newest `take` bytes of the first `size`, line by line, filtered by the
/// time window and redacted, into the bundle entry. A read error ends the file early and is
/// returned as `Ok(Some(_))` (the entry keeps what was read); write errors and signals are `Err`.
fn copy_log(
    reader: impl Read + Send,
    skip_partial_line: bool,
    redactor: &mut redact::text::FileRedactor,
    stream: &Stream,
    entry: &mut crate::bundle::Entry,
) -> Result<Copied> {
    let mut triage = stream.triage.borrow_mut();
    triage.start_file();
    let triage: &mut crate::analyze::logs::Triage = &mut triage;
    // Two stages on two cores: this thread hashes, self-checks and deflates what the producer
    // reads, redacts and triages. The bounded channel keeps memory flat whatever the file size.
    std::thread::scope(|scope| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
        let (window, interrupt, progress) = (stream.window, stream.interrupt, stream.progress);
        let producer = scope.spawn(move || {
            produce(
                reader,
                skip_partial_line,
                redactor,
                window,
                interrupt,
                progress,
                triage,
                tx,
            )
        });
        let mut written = Ok(());
        let mut limited = None;
        for chunk in &rx {
            if let Err(e) = entry.write_all(&chunk) {
                written = Err(e);
                break;
            }
            if let Some(reason) = stream.limits.reached(entry.bundle_bytes()) {
                limited = Some(reason);
                break;
            }
        }
        drop(rx); // a producer still sending sees the consumer gone and stops
        let produced = producer.join().expect("the log reader does not panic");
        written?;
        match (limited, produced?) {
            (Some(reason), _) => Ok(Copied::Limited(reason)),
            (None, Some(e)) => Ok(Copied::ReadError(e)),
            (None, None) => Ok(Copied::Whole),
        }
    })
}

/// The producer stage: whole-line blocks, each redacted in one automaton pass when every line
/// is kept; with `--since/--until` the lines of a block are decided and redacted one by one.
#[allow(clippy::too_many_arguments)]
fn produce(
    reader: impl Read,
    skip_partial_line: bool,
    redactor: &mut redact::text::FileRedactor,
    window: &TimeWindow,
    interrupt: &Interrupt,
    progress: &indicatif::ProgressBar,
    triage: &mut crate::analyze::logs::Triage,
    tx: std::sync::mpsc::SyncSender<Vec<u8>>,
) -> Result<Option<std::io::Error>> {
    let mut out = Vec::with_capacity(CHUNK + BLOCK);
    let mut buf = Vec::with_capacity(BLOCK);
    let mut continues = false;
    let mut keep = true;
    let flush = |out: &mut Vec<u8>, last: bool| -> bool {
        if out.len() < CHUNK && !last {
            return true;
        }
        tx.send(std::mem::replace(out, Vec::with_capacity(CHUNK + BLOCK)))
            .is_ok()
    };
    let mut blocks = Blocks::new(reader, BLOCK);
    // Mid-line after a seek to the newest bytes: start at the next whole line.
    if skip_partial_line {
        if let Err(e) = blocks.skip_line() {
            return Ok(Some(e));
        }
    }
    loop {
        let kind = match blocks.next_into(&mut buf) {
            Ok(Some(kind)) => kind,
            Ok(None) => break,
            Err(e) => {
                flush(&mut out, true);
                return Ok(Some(e));
            }
        };
        progress.inc(buf.len() as u64);
        let at = out.len();
        match kind {
            _ if !window.is_open() => {
                for (i, line) in buf.split_inclusive(|b| *b == b'\n').enumerate() {
                    let rest_of_cut = continues && i == 0;
                    if !rest_of_cut {
                        // Lines without a timestamp (stack traces) follow their record.
                        keep = window.keeps(line).unwrap_or(keep);
                    }
                    if keep {
                        redactor.line(line, rest_of_cut, &mut out);
                    }
                }
            }
            Block::Lines => redactor.lines(&buf, continues, &mut out),
            Block::Piece(_) => redactor.line(&buf, continues, &mut out),
        }
        triage.block(&out[at..]);
        continues = kind == Block::Piece(Piece::Cut);
        if !flush(&mut out, false) {
            return Ok(None); // the writer stopped; its error is the one to report
        }
        interrupt.check()?;
    }
    flush(&mut out, true);
    interrupt.check()?;
    Ok(None)
}

/// The summary block of README.txt: what a support engineer wants before opening anything.
fn summary(
    triage: &crate::analyze::logs::Triage,
    keepalive: &crate::analyze::keepalive::KeepAlive,
    versions: &std::collections::BTreeMap<String, facts::Version>,
    skipped: &[Skipped],
    findings: &[crate::analyze::Finding],
) -> String {
    let mut out = String::new();
    let span = match triage.span() {
        Some((first, last)) => format!("{first} … {last} (from the records themselves)"),
        None => "no timed records in the logs".to_string(),
    };
    out.push_str(&format!(
        "  Log span          {span}; {} line(s) in {} file(s)\n",
        triage.lines, triage.files
    ));
    out.push_str(&format!(
        "  502 / 504         {} / {}\n",
        triage.totals.status_502, triage.totals.status_504
    ));
    for what in ["edgemicro", "microgateway-core", "nodejs"] {
        let shown = versions.get(what).map_or("unknown".to_string(), |v| {
            format!("{} (from {})", v.version, v.source)
        });
        out.push_str(&format!("  {what:<17} {shown}\n"));
    }
    out.push_str(&format!(
        "  keep_alive_timeout {} ms{}; request_timeout {}\n",
        keepalive.keep_alive_timeout_ms,
        if keepalive.keep_alive_timeout_set {
            ""
        } else {
            " (not set: Node's default)"
        },
        keepalive
            .request_timeout_s
            .map_or("not set".to_string(), |s| format!("{s} s"))
    ));
    let ids: Vec<String> = findings
        .iter()
        .map(|f| format!("{} ({})", f.id, f.severity))
        .collect();
    out.push_str(&format!(
        "  Findings          {}\n",
        if ids.is_empty() {
            "none".into()
        } else {
            ids.join(", ")
        }
    ));
    if skipped.is_empty() {
        out.push_str("  Skipped           nothing\n");
    }
    for s in skipped {
        out.push_str(&format!("  Skipped           {}: {}\n", s.source, s.reason));
    }
    out
}

fn readme(settings: &Settings, summary: &str) -> String {
    format!(
        "Edge Microgateway diagnostic bundle, made by edgemicro-diag {version} on {host} at {at}.\n\
         Case: {case}\n\n\
         Summary\n{summary}\n\
         Open report.html first: the findings, a timeline, the idle-time picture, the chain of hops.\n\n\
         report.html             the page to open first (self-contained: no script, no network)\n\
         findings.json, .md      why the 502s happen: each finding with evidence, confidence and the next step\n\
         config/                 EMG configs (default.yaml, ORG-ENV-config.yaml, ORG-ENV-cache-config.yaml), redacted\n\
         logs/                   EMG logs (edgemicro-*.log, the console log edgemicro.log, rotated copies), newest first, redacted\n\
         capture/targets.pcap    when a capture ran: traffic toward the targets, headers only unless the manifest says unredacted\n\
         system/facts.json       OS, kernel, TCP sysctls, sockets per endpoint, proxy variables, DNS of the targets, versions, processes\n\
         redaction-report.json   what was redacted: rule, file, line numbers, count (never a value)\n\
         manifest.json           every file above with its source, size and sha256\n\n\
         Secrets are replaced by REDACTED_<RULE> tokens before anything is written.\n\n\
         To check the bundle:\n\
         \x20 sha256sum -c BUNDLE.zip.sha256     (the whole zip, with the sidecar file)\n\
         \x20 edgemicro-diag verify BUNDLE.zip    (CRCs, every file's sha256 against manifest.json)\n",
        version = env!("CARGO_PKG_VERSION"),
        host = settings.host,
        at = settings.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        case = settings.case_id.as_deref().unwrap_or("(none given)"),
    )
}

/// `report.html`, from the same findings and triage as findings.json and the entries written so
/// far (manifest.json and README.txt come after it; the page says so).
#[allow(clippy::too_many_arguments)]
fn report_page(
    settings: &Settings,
    triage: &crate::analyze::logs::Triage,
    findings: &[crate::analyze::Finding],
    keepalive: &crate::analyze::keepalive::KeepAlive,
    files: &[FileEntry],
    skipped: &[Skipped],
    redactions: &Redactions,
    reports: &[(String, FileReport)],
    reproduced: bool,
) -> String {
    let captured_close_s = findings
        .iter()
        .find(|f| f.id == "keepalive-race")
        .and_then(|f| f.evidence["target_idle_close_s_median"].as_f64());
    let hops = crate::analyze::hops::chain(
        keepalive,
        None,
        &[],
        &triage.idle.estimates(),
        captured_close_s,
    );
    let mut marks = Vec::new();
    if reproduced {
        marks.push((
            "reproduction".to_string(),
            settings.started.timestamp_millis(),
        ));
    }
    crate::html::render(&crate::html::Page {
        title: format!("edgemicro-diag report: {}", settings.host),
        subject: format!(
            "Bundle made on {} at {}{}",
            settings.host,
            settings
                .started
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            settings
                .case_id
                .as_deref()
                .map(|c| format!(", support case {c}"))
                .unwrap_or_default()
        ),
        findings,
        triage,
        hops: &hops,
        marks,
        files,
        skipped,
        by_rule: redactions
            .by_rule
            .iter()
            .map(|(rule, n)| (rule.clone(), *n))
            .collect(),
        by_file: reports
            .iter()
            .map(|(file, report)| (file.clone(), report.total))
            .collect(),
    })
}

fn redaction_report(reports: &[(String, FileReport)]) -> serde_json::Value {
    let rows: Vec<serde_json::Value> = reports
        .iter()
        .flat_map(|(file, report)| {
            report.by_rule.iter().map(move |(rule, hits)| json!({"rule": rule, "file": file, "count": hits.count, "lines": hits.lines}))
        })
        .collect();
    json!({ "note": "line numbers: the first 50 per rule and file; counts are exact; values are never recorded", "redactions": rows })
}

#[allow(clippy::too_many_arguments)]
fn manifest(
    settings: &Settings,
    output: &Output,
    found: &Discovery,
    files: &[FileEntry],
    rules: &RuleSet,
    redactions: &Redactions,
    log_level: Option<serde_json::Value>,
    capture: Option<&crate::capture::CaptureRecord>,
) -> serde_json::Value {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    json!({
        "tool": "edgemicro-diag",
        "version": env!("CARGO_PKG_VERSION"),
        "schema_version": crate::envelope::SCHEMA_VERSION,
        "created_at": settings.started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "host": settings.host,
        "case": settings.case_id,
        "pairs": found.pairs,
        "config_dir": PathSource::of(&found.config_dir),
        "log_dirs": found.log_dirs.iter().map(PathSource::of).collect::<Vec<_>>(),
        "settings": {
            "since": time(settings.since),
            "until": time(settings.until),
            "max_log_bytes": settings.max_log_bytes,
            "output": match output { Output::Stdout => "-".to_string(), Output::File(p) => p.display().to_string() },
        },
        "files": files,
        "skipped": found.skipped,
        "redaction": {
            "rules_sha256": rules.sha256,
            "rule_files": rules.files,
            "total": redactions.total,
            "by_rule": redactions.by_rule,
            "pseudonymized": settings.pseudonymize.is_some(),
        },
        "capture": capture,
        "log_level": log_level,
        "warnings": found.warnings,
        "logs_newest_first": found.logs.iter().map(log_summary).collect::<Vec<_>>(),
    })
}

fn log_summary(log: &LogFile) -> serde_json::Value {
    let modified = log
        .modified
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let at = chrono::DateTime::from_timestamp(modified as i64, 0)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    json!({"name": log.name, "bytes": log.size, "modified": at, "found_as": log.found_as})
}

impl Redactions {
    pub fn sum(reports: &[(String, FileReport)]) -> Redactions {
        let mut by_rule: BTreeMap<String, u64> = BTreeMap::new();
        for (_, report) in reports {
            for (rule, hits) in &report.by_rule {
                *by_rule.entry(rule.clone()).or_default() += hits.count;
            }
        }
        Redactions {
            total: by_rule.values().sum(),
            by_rule,
        }
    }
}
