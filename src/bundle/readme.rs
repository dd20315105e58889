//! README.txt, the bundle's first page in any unzip listing: who made it, where and when, the
//! run's summary, and what each part of the bundle holds and how to check it. The layout it
//! describes is the one this module's parent writes.

use crate::settings::Settings;

/// The text of README.txt around `summary` (the run's key figures, rendered by collect).
pub(crate) fn readme(settings: &Settings, summary: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every top-level entry the README describes is one the bundle can hold.
    #[test]
    fn the_readme_names_the_bundles_parts() {
        let settings = Settings::new(
            crate::model::Located {
                value: "/home/emg/.edgemicro".into(),
                source: crate::model::Source::Default,
            },
            "gw-1".into(),
            chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap(),
        );
        let text = readme(&settings, "  502 / 504         3 / 0\n");
        assert!(text.contains("on gw-1 at 2023-11-14T22:13:20Z"));
        assert!(text.contains("Case: (none given)"));
        assert!(text.contains("  502 / 504         3 / 0\n"));
        for part in [
            "report.html",
            "findings.json",
            "config/",
            "logs/",
            "system/facts.json",
            "redaction-report.json",
            super::super::MANIFEST,
        ] {
            assert!(text.contains(part), "{part}");
        }
    }
}
