//! The last stage of `collect`: the log level restored, the manifest written, the bundle sealed
//! (self-check, sha256 sidecar, pseudonym map), and the run's report.

use super::*;

/// What sealing needs from the stages before it.
pub(super) struct Sealing<'a> {
    pub(super) settings: &'a Settings,
    pub(super) interrupt: &'a Interrupt,
    pub(super) started: Instant,
    pub(super) output: &'a Output,
    pub(super) writer: BundleWriter,
    pub(super) found: Discovery,
    pub(super) rules: &'a RuleSet,
    pub(super) reports: &'a Reports,
    pub(super) listing: &'a Spill<crate::bundle::LogListed>,
    pub(super) pseudonyms: Option<&'a redact::pseudonym::Pseudonyms>,
    pub(super) switch: Option<loglevel::Switch>,
    pub(super) capture: Option<crate::capture::CaptureRecord>,
    pub(super) concluded: Concluded,
    pub(super) empty_window: Option<String>,
}

pub(super) fn seal(s: Sealing) -> Result<Report> {
    let Sealing {
        settings,
        interrupt,
        started,
        output,
        mut writer,
        mut found,
        rules,
        reports,
        listing,
        pseudonyms,
        switch,
        capture,
        concluded:
            Concluded {
                findings,
                redactions,
                versions,
            },
        empty_window,
    } = s;
    let files = writer.take_files();
    let truncated = files.iter().any(|f| f.is_ok_and(|f| f.truncated));
    // Restored before sealing, so the manifest records the outcome.
    let log_level = switch.map(|switch| restore(switch, settings, &mut found.warnings));
    let restored = log_level.as_ref().is_none_or(|l| l.restored);
    let complete = found.skipped.is_empty()
        && empty_window.is_none()
        && !truncated
        && (!listing.is_empty() || settings.stdin_log.is_some())
        && restored;
    let exit = if complete { Exit::Ok } else { Exit::Partial };
    let manifest = manifest(
        settings,
        output,
        &found,
        &files,
        listing,
        rules,
        &redactions,
        log_level.as_ref(),
        capture.as_ref(),
    );
    let sealed = seal_bundle(writer, &manifest, pseudonyms, reports, interrupt)?;
    let map = pseudonyms.and(sealed.path.as_ref()).map(|p| {
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
        versions,
        duration_ms: started.elapsed().as_millis() as u64,
        error: None,
        hint: None,
    })
}

/// The manifest written last and the bundle put in place, with the pseudonym map beside it
/// when there is one (a leak the self-check finds is exit 4).
fn seal_bundle(
    writer: BundleWriter,
    manifest: &crate::bundle::Manifest,
    pseudonyms: Option<&crate::redact::pseudonym::Pseudonyms>,
    reports: &Reports,
    interrupt: &Interrupt,
) -> Result<crate::bundle::Sealed> {
    match pseudonyms {
        Some(p) => {
            let map =
                |bundle: &str, sha256: &str| reports.map().json(bundle, sha256, p.keep_values);
            writer.seal_with(manifest, Some((crate::bundle::MAP_SUFFIX, &map)), interrupt)
        }
        None => writer.seal(manifest, interrupt),
    }
}
