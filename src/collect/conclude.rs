//! The conclusion of `collect`: findings from the triage and the capture, the host facts (with
//! the versions and the targets' DNS), the redaction report, report.html and README.txt, all
//! through the same redaction as the logs before they are written.

use super::*;

/// What the conclusion hands to the seal and the report.
pub(super) struct Concluded {
    pub(super) findings: Vec<crate::analyze::Finding>,
    pub(super) redactions: Redactions,
    pub(super) versions: BTreeMap<String, facts::Version>,
}

/// Entries rendered and redacted, not yet written: (name, source, bytes, redactions in it).
type Entries = Vec<(&'static str, &'static str, Vec<u8>, u64)>;

/// The first trailing entries (findings, facts) and what the rest needs.
struct Early {
    entries: Entries,
    /// system/facts.json's redaction report: with the logs' and configs' ones, what the page
    /// and the redaction report count (pushed with them once written).
    facts_entry: (String, FileReport),
    findings: Vec<crate::analyze::Finding>,
    keepalive: crate::analyze::keepalive::KeepAlive,
}

/// Renders findings and facts from what the run knows now. Pure: the same render measures the
/// room the trailing entries need (`trailing_bytes`) and is written.
fn early(
    triage: &crate::analyze::logs::Triage,
    found: &Discovery,
    facts: &facts::Facts,
    engine: &TextEngine,
    capture_findings: Vec<crate::analyze::Finding>,
) -> Result<Early> {
    let keepalive = crate::analyze::keepalive::from_configs(
        found.configs.iter().map(|c| (c.name.as_str(), &c.yaml)),
        crate::analyze::keepalive::os_keepalive(),
    );
    let findings = crate::analyze::conclude(crate::analyze::Evidence {
        node: triage.versions.get("nodejs").map(String::as_str),
        triage,
        keepalive: &keepalive,
        probes: &[],
        lb_idle_timeout_s: None,
        capture: capture_findings,
    });
    // Process command lines (`sh -c "edgemicro start … -k KEY -s SECRET"`), versions and paths:
    // through the same rules as every log line before it is written.
    let mut facts_redactor = engine.file();
    let mut facts_json = Vec::new();
    facts_redactor.lines(&serde_json::to_vec_pretty(facts)?, false, &mut facts_json);
    let facts_report = facts_redactor.report;
    let facts_entry = ("system/facts.json".to_string(), facts_report);
    let entries = vec![
        (
            "findings.json",
            "edgemicro-diag",
            serde_json::to_vec_pretty(&findings)?,
            0,
        ),
        (
            "findings.md",
            "edgemicro-diag",
            crate::analyze::markdown(&findings).into_bytes(),
            0,
        ),
        (
            "system/facts.json",
            "this host",
            facts_json,
            facts_entry.1.total,
        ),
    ];
    Ok(Early {
        entries,
        facts_entry,
        findings,
        keepalive,
    })
}

/// report.html (which lists the entries written before it) and README.txt, and the redaction
/// counts of the whole bundle.
#[allow(clippy::too_many_arguments)]
fn late(
    settings: &Settings,
    triage: &crate::analyze::logs::Triage,
    found: &Discovery,
    facts: &facts::Facts,
    engine: &TextEngine,
    files: &Spill<FileEntry>,
    reports: &Reports,
    early: &Early,
    reproduced: bool,
) -> (Entries, Redactions) {
    let redactions = reports.redactions(&early.facts_entry.1);
    let page = report_page(
        settings,
        triage,
        &early.findings,
        &early.keepalive,
        files,
        &found.skipped,
        &redactions,
        reports.by_file(&early.facts_entry),
        reproduced,
    );
    // Last before the manifest: the summary knows everything the run found.
    let summary = summary(
        triage,
        &early.keepalive,
        &facts.versions,
        &found.skipped,
        &early.findings,
    );
    let text = crate::bundle::readme(settings, &summary);
    let mut shown = Vec::new();
    let mut readme_redactor = engine.file();
    readme_redactor.lines(text.as_bytes(), false, &mut shown);
    let entries = vec![
        ("report.html", "edgemicro-diag", page.into_bytes(), 0),
        (
            "README.txt",
            "edgemicro-diag",
            shown,
            readme_redactor.report.total,
        ),
    ];
    (entries, redactions)
}

/// What the entries written after the logs take in the zip if the run ended now, plus room
/// for their growth: findings, facts, report.html and README.txt as rendered and deflated now,
/// the redaction report's rows as they are kept (compact JSON: more than they deflate to),
/// then per file still to come its manifest line, its zip directory record and its redaction
/// report (`--max-bundle-bytes` keeps this much free; measured again as `Remeasure` says).
#[allow(clippy::too_many_arguments)]
pub(super) fn trailing_bytes(
    settings: &Settings,
    triage: &crate::analyze::logs::Triage,
    found: &Discovery,
    facts: &facts::Facts,
    engine: &TextEngine,
    files: &Spill<FileEntry>,
    reports: &Reports,
    files_to_come: usize,
    next_log_bytes: u64,
) -> u64 {
    use std::io::Write as _;
    let Ok(first) = early(triage, found, facts, engine, Vec::new()) else {
        return u64::MAX;
    };
    let (rest, _) = late(
        settings, triage, found, facts, engine, files, reports, &first, false,
    );
    let deflated: u64 = first
        .entries
        .iter()
        .chain(&rest)
        .map(|(name, _, bytes, _)| {
            let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(5));
            let _ = z.write_all(bytes);
            let size = z.finish().map_or(bytes.len(), |z| z.len());
            // local header, data descriptor and directory record (zip64 included)
            size as u64 + 2 * name.len() as u64 + 160
        })
        .sum::<u64>()
        + reports.bytes();
    // The manifest: about 150 bytes deflated per file; then a growth margin for what the next
    // log adds to the findings and the page (samples, targets, the timeline) before the next
    // measure: as much again plus 16 KiB (on the 1 GB bench corpus the trailing entries go
    // from 10 KiB before the first log to 40 KiB), and never more than the log itself.
    let files_now = files.len() + files_to_come + 8;
    let growth = (deflated + (16 << 10)).min(next_log_bytes);
    deflated + growth + 2048 + 256 * files_now as u64
}

#[allow(clippy::too_many_arguments)]
pub(super) fn conclude(
    settings: &Settings,
    triage: &crate::analyze::logs::Triage,
    found: &mut Discovery,
    mut facts: facts::Facts,
    engine: &TextEngine,
    writer: &mut BundleWriter,
    reports: &mut Reports,
    capture_findings: Vec<crate::analyze::Finding>,
    reproduced: bool,
    newest: Option<&LogFile>,
    interrupt: &Interrupt,
) -> Result<Concluded> {
    facts.versions_from_logs = triage.versions.clone();
    facts.settle_versions();
    // What support asks next on resets: does the target's name resolve, and to what, here.
    for target in crate::targets::discover(&found.configs, newest).targets {
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
    interrupt.check()?;
    // Paths of skipped files and warnings name host files: through the rules too.
    found.skipped = found
        .skipped
        .rewritten(|skipped| Skipped {
            source: redacted_name(engine, &skipped.source),
            reason: redacted_name(engine, &skipped.reason),
        })
        .context("cannot read back the list of skipped files")?;
    for warning in &mut found.warnings {
        *warning = redacted_name(engine, warning);
    }
    let first = early(triage, found, &facts, engine, capture_findings)?;
    for (name, source, bytes, redactions) in &first.entries {
        writer.small(name, source, bytes, *redactions)?;
    }
    // Streamed from the kept reports: one row per rule and file, however many files.
    let mut entry = writer.entry("redaction-report.json")?;
    serde_json::to_writer_pretty(&mut entry, &reports.report(&first.facts_entry))
        .map_err(std::io::Error::from)?;
    entry.finish("edgemicro-diag", 0, false)?;
    let (rest, redactions) = late(
        settings,
        triage,
        found,
        &facts,
        engine,
        writer.files(),
        reports,
        &first,
        reproduced,
    );
    for (name, source, bytes, redactions) in &rest {
        writer.small(name, source, bytes, *redactions)?;
    }
    let (path, report) = first.facts_entry;
    reports.push(path, report);
    Ok(Concluded {
        redactions,
        findings: first.findings,
        versions: facts.versions,
    })
}
