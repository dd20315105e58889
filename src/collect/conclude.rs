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

#[allow(clippy::too_many_arguments)]
pub(super) fn conclude(
    settings: &Settings,
    triage: &crate::analyze::logs::Triage,
    found: &mut Discovery,
    mut facts: facts::Facts,
    engine: &TextEngine,
    writer: &mut BundleWriter,
    reports: &mut Vec<(String, FileReport)>,
    capture_findings: Vec<crate::analyze::Finding>,
    reproduced: bool,
    interrupt: &Interrupt,
) -> Result<Concluded> {
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

    facts.versions_from_logs = triage.versions.clone();
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
    let redactions = Redactions::sum(reports);
    let report_json = redaction_report(reports);
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
        skipped.source = redacted_name(engine, &skipped.source);
        skipped.reason = redacted_name(engine, &skipped.reason);
    }
    for warning in &mut found.warnings {
        *warning = redacted_name(engine, warning);
    }
    let page = report_page(
        settings,
        triage,
        &findings,
        &keepalive,
        writer.files(),
        &found.skipped,
        &redactions,
        reports,
        reproduced,
    );
    writer
        .small("report.html", "edgemicro-diag", page.as_bytes(), 0)
        .map_err(leak_to_fail)?;
    // Last before the manifest: the summary knows everything the run found.
    let summary = summary(
        triage,
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
    Ok(Concluded {
        findings,
        redactions,
        versions: facts.versions,
    })
}
