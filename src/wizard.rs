//! The wizard: an operator at a terminal at 3 a.m. types `edgemicro-diag`. It shows what was
//! found, lets each value be corrected, offers the log-level switch, previews the redaction, and
//! then runs the very `collect::run` the flags run, with the `Settings` it built; nothing
//! downstream knows which front end ran.
//!
//! Prompts go to stderr (dialoguer); stdout stays the result (the bundle path). It never prompts
//! without a terminal. Ctrl-C at a prompt: console raises SIGINT, the flag in `signals` is set,
//! the prompt returns an error, and the usual unwinding restores the cursor and the log level and
//! removes the `.partial`; exit 130.
//!
//! Choice: the plan and the redaction preview are confirmed *before* the log level is switched,
//! so that after the reproduction ("press Enter") nothing more is asked and collection starts.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Result;
use chrono::Utc;
use console::Term;
use dialoguer::theme::ColorfulTheme;
use dialoguer::{Confirm, Input, Select};

use crate::collect::{self, FrontEnd, Plan};
use crate::discover::{discover, Discovery};
use crate::exit::{Exit, Fail};
use crate::loglevel::{self, Switch};
use crate::redact::RuleSet;
use crate::report::Report;
use crate::settings::{Located, Output, Settings, Source};
use crate::signals::Interrupt;

/// How much of the logs the preview reads: enough for counts and samples in seconds.
const PREVIEW_BYTES: u64 = 32 << 20;
const SAMPLES: usize = 4;

/// True when a person can answer: stdin and stderr are terminals.
pub(crate) fn has_terminal() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Runs the wizard; `Ok(None)` when the operator cancelled (nothing was written).
pub(crate) fn run(settings: Settings, interrupt: &Interrupt) -> Result<Option<Report>> {
    let term = Term::stderr();
    let result = guided(&term, settings, interrupt);
    let _ = term.show_cursor();
    result
}

/// The prompts, on one terminal, each stopped by the same interrupt.
struct Asker<'a> {
    term: &'a Term,
    theme: ColorfulTheme,
    interrupt: &'a Interrupt,
}

fn guided(term: &Term, mut settings: Settings, interrupt: &Interrupt) -> Result<Option<Report>> {
    let asker = Asker {
        term,
        theme: ColorfulTheme::default(),
        interrupt,
    };
    term.write_line(
        "edgemicro-diag: the diagnostic bundle for an Edge Microgateway 502 / ECONNRESET case",
    )?;
    term.write_line(
        "Enter accepts the value shown in (parentheses); Ctrl-C stops and changes nothing.\n",
    )?;
    show_given(term, &settings)?;
    // The first round asks only what flags and the environment left open; "Change something"
    // asks everything, starting from the current answers.
    let mut all = false;
    loop {
        let given = settings.given.clone();
        let ask = |id: &str| all || !given.iter().any(|g| g.id == id);
        let found = if ask("config_dir") {
            asker.config_dir(&mut settings)?
        } else {
            discover(&settings)?
        };
        show_found(term, &settings, &found)?;
        if ask("org") {
            asker.pair(&mut settings, &found)?;
        }
        // One pair picked: its own log dir is what to confirm, not the union of all pairs'.
        let found = if settings.pair.is_some() {
            discover(&settings)?
        } else {
            found
        };
        if ask("log_dir") {
            asker.log_dir(&mut settings, &found)?;
        }
        if ask("since") && ask("until") {
            asker.window(&mut settings)?;
        }
        if ask("case_id") {
            let output_given = given.iter().any(|g| g.id == "output");
            asker.case_id(&mut settings, output_given)?;
        }
        if ask("log_level") {
            asker.level(&mut settings)?;
        }
        if ask("capture_seconds") && ask("capture_host") {
            asker.capture(&mut settings, &found)?;
        }
        if ask("output") {
            asker.output(&mut settings)?;
        }
        all = true;

        let plan = Plan::build(&settings, RuleSet::load(&settings.rules)?)?;
        show_plan(term, &settings, &plan)?;
        let choices = [
            "Write the bundle",
            "Change something",
            "Cancel (nothing is written)",
        ];
        match asker.select("Write the bundle?", &choices)? {
            0 => break,
            1 => continue,
            _ => return Ok(None),
        }
    }
    let report = collect::run(&settings, interrupt, &Wizard { asker: &asker })?;
    Ok(Some(report))
}

impl Asker<'_> {
    /// The support case id (optional); the default bundle name carries it unless `-o` was given.
    fn case_id(&self, settings: &mut Settings, output_given: bool) -> Result<()> {
        let mut input = Input::with_theme(&self.theme)
            .with_prompt("Support case id (optional)")
            .allow_empty(true);
        if let Some(case) = &settings.case_id {
            input = input.default(case.clone());
        }
        let case = self.text(input)?;
        settings.case_id = Some(case.trim().to_string()).filter(|c| !c.is_empty());
        if !output_given {
            settings.output = Output::File(PathBuf::from(crate::settings::default_bundle_name(
                &settings.host,
                settings.case_id.as_deref(),
                settings.started,
            )));
        }
        Ok(())
    }

    /// A dialoguer answer, or the interrupt that stopped it (console raised SIGINT for Ctrl-C).
    fn answer<T>(&self, answer: dialoguer::Result<T>) -> Result<T> {
        self.interrupt.check()?;
        answer.map_err(|e| match e {
            dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
                Fail::interrupted(libc::SIGINT).into()
            }
            other => anyhow::Error::from(other),
        })
    }

    fn text(&self, input: Input<'_, String>) -> Result<String> {
        self.answer(input.interact_text_on(self.term))
    }

    fn select(&self, prompt: &str, items: &[&str]) -> Result<usize> {
        self.answer(
            Select::with_theme(&self.theme)
                .with_prompt(prompt)
                .items(items)
                .default(0)
                .interact_on(self.term),
        )
    }

    /// A path with a default; `Some(typed)` when the operator changed it.
    fn path(
        &self,
        prompt: &str,
        shown: &str,
        check: impl Fn(&Path) -> Result<(), String>,
    ) -> Result<Option<PathBuf>> {
        let typed = self.text(
            Input::with_theme(&self.theme)
                .with_prompt(prompt)
                .default(shown.to_string())
                .validate_with(move |s: &String| check(Path::new(s.trim()))),
        )?;
        Ok((typed.trim() != shown).then(|| PathBuf::from(typed.trim())))
    }

    fn config_dir(&self, settings: &mut Settings) -> Result<Discovery> {
        let shown = settings.config_dir.value.display().to_string();
        let typed = self.path("EMG config dir", &shown, |dir| {
            let has_config = std::fs::read_dir(dir)
                .map_err(|e| {
                    format!(
                        "cannot read `{}`: {}",
                        dir.display(),
                        crate::safe_fs::io_reason(&e)
                    )
                })?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .any(|n| n == "default.yaml" || n.ends_with("-config.yaml"));
            has_config
                .then_some(())
                .ok_or_else(|| "no default.yaml or ORG-ENV-config.yaml there".to_string())
        })?;
        // Another dir: its pairs and log dir are found anew.
        if let Some(dir) = typed {
            settings.config_dir = Located {
                value: dir,
                source: Source::Wizard,
            };
            settings.pair = None;
            settings.log_dir = None;
        }
        discover(settings)
    }

    fn pair(&self, settings: &mut Settings, found: &Discovery) -> Result<()> {
        if found.pairs.len() < 2 {
            return Ok(());
        }
        let mut items = vec!["all pairs"];
        items.extend(found.pairs.iter().map(String::as_str));
        let pick = self.select("Which org-env pair has the 502s?", &items)?;
        settings.pair = (pick > 0).then(|| found.pairs[pick - 1].clone());
        Ok(())
    }

    fn log_dir(&self, settings: &mut Settings, found: &Discovery) -> Result<()> {
        // With one discovered dir it can be corrected; several (config vs cache config) are kept.
        let [only] = found.log_dirs.as_slice() else {
            return Ok(());
        };
        let typed = self.path("Log dir", &only.value.display().to_string(), |dir| {
            dir.is_dir()
                .then_some(())
                .ok_or_else(|| format!("`{}` is not a directory", dir.display()))
        })?;
        if let Some(dir) = typed {
            settings.log_dir = Some(Located {
                value: dir,
                source: Source::Wizard,
            });
        }
        Ok(())
    }

    fn window(&self, settings: &mut Settings) -> Result<()> {
        let items = [
            "all of the logs",
            "the last hour",
            "the last 24 hours",
            "the last 7 days",
            "custom (since …)",
        ];
        let hours = [0, 1, 24, 24 * 7];
        settings.since = match self.select("Which time window?", &items)? {
            0 => None,
            pick @ 1..=3 => Some(Utc::now() - chrono::Duration::hours(hours[pick])),
            _ => {
                let typed = self.text(
                    Input::with_theme(&self.theme)
                        .with_prompt(
                            "Since (RFC 3339 like 2026-01-01T10:00:00Z, or an age like 90m)",
                        )
                        .validate_with(|s: &String| crate::units::parse_time(s).map(|_| ())),
                )?;
                Some(crate::units::parse_time(&typed).map_err(anyhow::Error::msg)?)
            }
        };
        Ok(())
    }

    fn level(&self, settings: &mut Settings) -> Result<()> {
        settings.log_level = None;
        let Ok(target) = loglevel::Target::find(&settings.config_dir, settings.pair.clone()) else {
            self.term.write_line(
                "  (the log-level switch needs one org-env pair; pick one to get the offer)",
            )?;
            return Ok(());
        };
        let current = loglevel::show(&target)?
            .level
            .unwrap_or_else(|| "unset".into());
        if matches!(current.as_str(), "info" | "debug" | "trace") {
            self.term.write_line(&format!(
                "  edgemicro.logging.level is already {current}: the logs have what support needs"
            ))?;
            return Ok(());
        }
        let prompt = format!(
            "edgemicro logs at `{current}`; support needs `info`. Switch {} to info while you reproduce the 502s (restored afterwards)?",
            target.file.display()
        );
        if self.answer(
            Confirm::with_theme(&self.theme)
                .with_prompt(prompt)
                .default(false)
                .interact_on(self.term),
        )? {
            settings.log_level = Some(crate::model::LogLevel::Info);
        }
        Ok(())
    }

    /// A bounded, header-only tcpdump toward the discovered targets while reproducing.
    fn capture(&self, settings: &mut Settings, found: &Discovery) -> Result<()> {
        settings.capture = None;
        let targets = crate::targets::discover(&found.configs, found.logs.newest()).targets;
        let mut hosts: Vec<String> = targets.iter().map(|t| t.host.to_string()).collect();
        hosts.dedup();
        let prefill = hosts.join(",");
        let known = if targets.is_empty() {
            "no target found in the configs or logs".to_string()
        } else {
            format!(
                "targets: {}",
                targets
                    .iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        let prompt = format!("Capture traffic to the targets with tcpdump while you reproduce (headers only, bounded; {known})?");
        if !self.answer(
            Confirm::with_theme(&self.theme)
                .with_prompt(prompt)
                .default(false)
                .interact_on(self.term),
        )? {
            return Ok(());
        }
        let seconds = self.text(
            Input::with_theme(&self.theme)
                .with_prompt("Capture for how many seconds (at most 3600)")
                .default("60".into())
                .validate_with(|s: &String| match s.trim().parse::<u64>() {
                    Ok(n) if (1..=3600).contains(&n) => Ok(()),
                    _ => Err("a number of seconds from 1 to 3600".to_string()),
                }),
        )?;
        let typed = self.text(
            Input::with_theme(&self.theme)
                .with_prompt("Target hosts (comma-separated)")
                .default(prefill.clone())
                .validate_with(|s: &String| {
                    if s.trim().is_empty() {
                        return Err("name at least one host".to_string());
                    }
                    s.split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .try_for_each(|h| h.parse::<crate::targets::Host>().map(|_| ()))
                }),
        )?;
        let payload = self.answer(
            Confirm::with_theme(&self.theme)
                .with_prompt("Capture whole packets? WARNING: the payload (API keys, tokens, bodies) is NOT redacted in the pcap")
                .default(false)
                .interact_on(self.term),
        )?;
        // Unchanged hosts keep the discovered host:port pairs; typed hosts are captured on any port.
        let hosts = if typed.trim() == prefill {
            Vec::new()
        } else {
            typed
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .filter_map(|h| h.parse().ok())
                .collect()
        };
        settings.capture = Some(crate::capture::CaptureSpec {
            interface: "any".into(),
            hosts,
            ports: Vec::new(),
            seconds: seconds.trim().parse().unwrap_or(60),
            max_bytes: 50 << 20,
            max_packets: 200_000,
            payload,
        });
        Ok(())
    }

    fn output(&self, settings: &mut Settings) -> Result<()> {
        let shown = match &settings.output {
            Output::File(p) => p.display().to_string(),
            Output::Stdout => String::new(),
        };
        let typed = self.path("Bundle path", &shown, |path| {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if !dir.is_dir() {
                return Err(format!("`{}` does not exist", dir.display()));
            }
            if path.exists() {
                return Err("that file exists; choose another name".into());
            }
            Ok(())
        })?;
        if let Some(path) = typed {
            settings.output = Output::File(path);
        }
        Ok(())
    }
}

/// What flags and the environment already answered, each with where it came from.
fn show_given(term: &Term, settings: &Settings) -> Result<()> {
    if settings.given.is_empty() {
        return Ok(());
    }
    term.write_line("Already answered (not asked again):")?;
    for given in &settings.given {
        term.write_line(&format!(
            "  {} = {}  (from {})",
            given.id.replace('_', " "),
            crate::safe_fs::shown(&given.value),
            given.by
        ))?;
    }
    term.write_line("")?;
    Ok(())
}

fn show_found(term: &Term, settings: &Settings, found: &Discovery) -> Result<()> {
    let why = match settings.config_dir.source {
        Source::Default => "$HOME/.edgemicro, edgemicro's default".to_string(),
        ref other => other.to_string(),
    };
    term.write_line(&format!(
        "  config dir     {} ({why})",
        settings.config_dir.value.display()
    ))?;
    let pairs = if found.pairs.is_empty() {
        "none (edgemicro configure has not run?)".into()
    } else {
        found.pairs.join(", ")
    };
    term.write_line(&format!("  org-env pairs  {pairs}"))?;
    for dir in &found.log_dirs {
        term.write_line(&format!(
            "  log dir        {} ({})",
            dir.value.display(),
            dir.source
        ))?;
    }
    let bytes: u64 = found.logs.bytes();
    let span = |t: std::time::SystemTime| {
        chrono::DateTime::<Utc>::from(t)
            .format("%Y-%m-%d %H:%M UTC")
            .to_string()
    };
    let times = match (found.logs.oldest(), found.logs.newest()) {
        (Some(oldest), Some(newest)) => format!(
            ", written {} … {}",
            span(oldest.modified),
            span(newest.modified)
        ),
        _ => String::new(),
    };
    term.write_line(&format!(
        "  logs           {} file(s), {}{times}",
        found.logs.len(),
        human_bytes(bytes)
    ))?;
    let mut secrets = Vec::new();
    let processes = crate::facts::edgemicro_processes(&mut secrets);
    let running = match processes.as_slice() {
        [] => "not running (or not visible to this user)".to_string(),
        list => list
            .iter()
            .map(|p| format!("pid {} (cwd {})", p.pid, p.cwd.as_deref().unwrap_or("?")))
            .collect::<Vec<_>>()
            .join(", "),
    };
    term.write_line(&format!("  edgemicro      {running}"))?;
    for warning in &found.warnings {
        term.write_line(&format!("  warning: {warning}"))?;
    }
    Ok(())
}

fn show_plan(term: &Term, settings: &Settings, plan: &Plan) -> Result<()> {
    let config_bytes: u64 = plan.found.configs.iter().map(|c| c.text.len() as u64).sum();
    let log_bytes = plan.log_bytes();
    let output = match &settings.output {
        Output::File(p) => p.display().to_string(),
        Output::Stdout => "-".into(),
    };
    term.write_line("")?;
    term.write_line(&format!(
        "Plan: {} config file(s), {} log file(s) ({}), system facts → about {} at {output}",
        plan.found.configs.len(),
        plan.found.logs.len(),
        human_bytes(log_bytes),
        human_bytes(crate::dry_run::estimated_bundle_bytes(
            config_bytes,
            log_bytes
        )),
    ))?;
    for j in crate::collect::journal_units(settings) {
        term.write_line(&format!(
            "  will read the journal of {} into {} ({})",
            j.unit, j.path, j.why
        ))?;
    }
    for skipped in plan.found.skipped.first(20) {
        term.write_line(&format!(
            "  will skip {}: {}",
            skipped.source, skipped.reason
        ))?;
    }
    if plan.found.skipped.len() > 20 {
        term.write_line(&format!(
            "  will skip {} more (each listed in the bundle's manifest)",
            plan.found.skipped.len() - 20
        ))?;
    }
    if let Some(level) = &settings.log_level {
        term.write_line(&format!("  then: switch the log level to {level}, wait for your reproduction, collect, switch back"))?;
    }
    if let Some(capture) = &settings.capture {
        let what = if capture.payload {
            "whole packets, payload NOT redacted"
        } else {
            "headers only"
        };
        term.write_line(&format!(
            "  then: capture traffic to the targets for up to {} s ({what}) while you reproduce",
            capture.seconds
        ))?;
    }

    preview_redactions(term, plan)
}

/// What redaction will replace, per file (values never shown), and a few sample lines: every
/// config, then the logs until `PREVIEW_BYTES` of them were read.
fn preview_redactions(term: &Term, plan: &Plan) -> Result<()> {
    term.write_line("Redaction preview (what will be replaced; values are never shown):")?;
    let engine = plan.engine();
    let mut samples = Vec::new();
    let mut keep = |hit: crate::preview::Hit, name: &str| {
        if samples.len() < SAMPLES && !samples.iter().any(|(n, _): &(String, _)| n == name) {
            samples.push((name.to_string(), hit));
        }
    };
    for config in &plan.found.configs {
        let p = crate::preview::config(
            &config.name,
            &config.text,
            &config.yaml,
            &plan.rules,
            &engine,
            &mut |h| keep(h, &config.name),
        )?;
        term.write_line(&format!(
            "  config/{:<40} {}",
            config.name,
            rule_counts(&p.by_rule)
        ))?;
    }
    let mut budget = PREVIEW_BYTES;
    for log in plan.found.logs.newest_first() {
        let log = log?;
        let dir = log.path.parent().unwrap_or(Path::new("/"));
        let Ok(opened) = crate::safe_fs::open_in_dir(dir, log.path.file_name().unwrap_or_default())
        else {
            continue;
        };
        let p = crate::preview::log(&log.name, opened.file, &engine, budget, &mut |h| {
            keep(h, &log.name)
        })?;
        budget = budget.saturating_sub(p.scanned);
        let partly = if p.complete {
            String::new()
        } else {
            format!(" (first {} read for the preview)", human_bytes(p.scanned))
        };
        term.write_line(&format!(
            "  logs/{:<42} {}{partly}",
            log.name,
            rule_counts(&p.by_rule)
        ))?;
        if budget == 0 {
            term.write_line(
                "  (more logs: the preview stops here; every byte is redacted when collecting)",
            )?;
            break;
        }
    }
    let width = (term.size().1 as usize).max(60);
    for (name, hit) in &samples {
        term.write_line(&sample_line(name, hit, width))?;
    }
    Ok(())
}

/// `    file:line text`, cut to the terminal width around the first replacement, so the sample
/// shows what was redacted rather than the start of a long log line.
fn sample_line(name: &str, hit: &crate::preview::Hit, width: usize) -> String {
    let head = format!("    {name}:{} ", hit.line);
    let room = width.saturating_sub(head.chars().count() + 2).max(20);
    let text: Vec<char> = hit.text.trim().chars().collect();
    if text.len() <= room {
        return head + &text.iter().collect::<String>();
    }
    let at = hit
        .text
        .trim()
        .find("REDACTED_")
        .map_or(0, |b| hit.text.trim()[..b].chars().count());
    let start = at.saturating_sub(room / 3).min(text.len() - room);
    let mut line = head;
    line.push_str(if start > 0 { "…" } else { "" });
    line.extend(&text[start..start + room]);
    line.push('…');
    line
}

fn rule_counts(by_rule: &std::collections::BTreeMap<String, u64>) -> String {
    if by_rule.is_empty() {
        return "nothing to redact".into();
    }
    by_rule
        .iter()
        .map(|(r, n)| format!("{r} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

/// The wizard front end: the reproduction ends when the operator presses Enter.
struct Wizard<'a> {
    asker: &'a Asker<'a>,
}

impl FrontEnd for Wizard<'_> {
    fn say(&self, line: &str) {
        let _ = self.asker.term.write_line(line);
    }

    fn reproduce(&self, _switch: Option<&Switch>, _interrupt: &Interrupt) -> Result<()> {
        self.asker.text(
            Input::with_theme(&self.asker.theme)
                .with_prompt("Reproduce the problem now, then press Enter to collect (Ctrl-C restores the level and stops)")
                .allow_empty(true),
        )?;
        Ok(())
    }

    /// The operator pressed Enter: the reproduction is over, so is the capture.
    fn reproduction_ends_capture(&self) -> bool {
        true
    }

    fn progress(&self, total: u64) -> indicatif::ProgressBar {
        crate::progress::log_bar(true, total)
    }
}

/// Exit code and output of a wizard run, printed the way `collect` prints.
pub(crate) fn answer(result: Result<Option<Report>>) -> Result<crate::answer::Answer> {
    Ok(match result? {
        Some(report) => crate::answer::of_report(report, false, false, false),
        None => {
            let mut cancelled = crate::answer::Answer::ok(serde_json::Value::Null)
                .note("cancelled; nothing was written and nothing was changed");
            cancelled.exit = Exit::Failure;
            cancelled
        }
    })
}
