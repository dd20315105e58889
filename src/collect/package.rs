//! What `collect` writes last: the summary README.txt opens with, report.html, the redaction
//! report and the manifest.

use super::*;

/// The summary block of README.txt: what a support engineer wants before opening anything.
pub(super) fn summary(
    triage: &crate::analyze::logs::Triage,
    keepalive: &crate::analyze::keepalive::KeepAlive,
    versions: &std::collections::BTreeMap<String, facts::Version>,
    skipped: &Spill<Skipped>,
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
    // The first ones: a dir of old rotations under --since skips thousands, each in the manifest.
    for s in skipped.first(SUMMARY_SKIPS) {
        out.push_str(&format!("  Skipped           {}: {}\n", s.source, s.reason));
    }
    if skipped.len() > SUMMARY_SKIPS {
        out.push_str(&format!(
            "  Skipped           … and {} more, each in manifest.json with the reason\n",
            skipped.len() - SUMMARY_SKIPS
        ));
    }
    out
}

/// Skips README.txt's summary names one by one.
const SUMMARY_SKIPS: usize = 20;

/// `report.html`, from the same findings and triage as findings.json and the entries written so
/// far (manifest.json and README.txt come after it; the page says so).
#[allow(clippy::too_many_arguments)]
pub(super) fn report_page(
    settings: &Settings,
    triage: &crate::analyze::logs::Triage,
    findings: &[crate::analyze::Finding],
    keepalive: &crate::analyze::keepalive::KeepAlive,
    files: &Spill<FileEntry>,
    skipped: &Spill<Skipped>,
    redactions: &Redactions,
    by_file: crate::html::Rows<(String, u64)>,
    reproduced: bool,
) -> String {
    let hops = crate::analyze::hops::chain(
        keepalive,
        None,
        &[],
        &triage.idle.estimates(),
        findings,
        triage.versions.get("nodejs").map(String::as_str),
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
        files: crate::html::Rows::first_of(files),
        skipped: crate::html::Rows::first_of(skipped),
        by_rule: redactions
            .by_rule
            .iter()
            .map(|(rule, n)| (rule.clone(), *n))
            .collect(),
        by_file,
    })
}

#[allow(clippy::too_many_arguments)]
pub(super) fn manifest<'a>(
    settings: &'a Settings,
    output: &Output,
    found: &'a Discovery,
    files: &'a Spill<FileEntry>,
    listing: &'a Spill<crate::bundle::LogListed>,
    rules: &'a RuleSet,
    redactions: &'a Redactions,
    log_level: Option<&'a crate::model::LevelRecord>,
    capture: Option<&'a crate::capture::CaptureRecord>,
) -> crate::bundle::Manifest<'a> {
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    };
    crate::bundle::Manifest {
        tool: "edgemicro-diag",
        version: env!("CARGO_PKG_VERSION"),
        schema_version: crate::envelope::SCHEMA_VERSION,
        created_at: settings
            .started
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        host: &settings.host,
        case: settings.case_id.as_deref(),
        pairs: &found.pairs,
        config_dir: PathSource::of(&found.config_dir),
        log_dirs: found.log_dirs.iter().map(PathSource::of).collect(),
        settings: crate::bundle::SettingsUsed {
            since: time(settings.since),
            until: time(settings.until),
            max_log_bytes: settings.max_log_bytes,
            output: match output {
                Output::Stdout => "-".to_string(),
                Output::File(p) => p.display().to_string(),
            },
        },
        files,
        skipped: &found.skipped,
        redaction: crate::bundle::Redaction {
            rules_sha256: &rules.sha256,
            rule_files: &rules.files,
            total: redactions.total,
            by_rule: &redactions.by_rule,
            pseudonymized: settings.pseudonymize.is_some(),
        },
        capture,
        log_level,
        warnings: &found.warnings,
        logs_newest_first: listing,
    }
}
