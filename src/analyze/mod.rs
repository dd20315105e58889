//! Findings: what the evidence says about the 502s, in the seed's terms, with the evidence
//! (counts, packet numbers, times) and the next step. `pcap` reads captures; the log triage and
//! the keep-alive comparison add their findings here too.
//!
//! Finding ids are stable (bots branch on them): `keepalive-race`, `target-hangup`, `timeout`,
//! `lb-keepalive-order`, `refused`, `none`.

pub mod pcap;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    /// `high`: explains 502s seen; `medium`: a condition that produces them; `info`: context.
    pub severity: &'static str,
    pub summary: String,
    pub evidence: serde_json::Value,
    pub next_step: String,
}

/// `findings.md`: the same findings for a person reading the bundle.
pub fn markdown(findings: &[Finding]) -> String {
    let mut out = String::from("# Findings\n\n");
    if findings.is_empty() {
        out.push_str("Nothing conclusive in the collected evidence.\n");
    }
    for f in findings {
        out.push_str(&format!(
            "## {} ({})\n\n{}\n\n**Next step:** {}\n\n```json\n{}\n```\n\n",
            f.id,
            f.severity,
            f.summary,
            f.next_step,
            serde_json::to_string_pretty(&f.evidence).unwrap_or_default()
        ));
    }
    out
}
